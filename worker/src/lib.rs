//! The Shoukuan worker: JSON API, server-rendered payer pages and (later) WeChat callbacks,
//! over D1. Handlers are thin: every rule lives in `shoukuan-core`.

mod collections;
mod config;
mod error;
mod http;
mod oa;
mod pages;
mod routes;
mod secrets;
mod session;
mod wechat;

use worker::{event, Context, Env, Request, Response, Result};

use crate::error::ApiError;
use crate::routes::Route;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let route = Route::parse(&req.method(), &req.path());
    let outcome = match route {
        Some(route) => handle(route, req, &env).await,
        None => Err(ApiError::NotFound),
    };
    let response = match outcome {
        Ok(response) => response,
        Err(err) => err.into_response()?,
    };
    http::with_security_headers(response)
}

async fn handle(route: Route, req: Request, env: &Env) -> std::result::Result<Response, ApiError> {
    match route {
        Route::Health => http::json(200, &serde_json::json!({ "ok": true })),
        Route::Config => collections::public_config(env),
        Route::CreateCollection => collections::create(req, env).await,
        Route::GetCollection(id) => collections::get(&id, env).await,
        Route::UpdateCollection(id) => collections::update(&id, req, env).await,
        Route::CloseCollection(id) => collections::close(&id, req, env).await,
        Route::PayerPage(id) => pages::payer_page(&id, env).await,
        Route::Oa(route) => oa::handle(route, req, env).await,
    }
}
