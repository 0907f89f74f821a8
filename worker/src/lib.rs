//! The Shoukuan worker: JSON API, server-rendered payer pages, the Official Account message
//! endpoint and OAuth, WeChat Pay callbacks and the minute cron, over D1 (and R2 for images).
//! Handlers are thin: every rule lives in `shoukuan-core`.

mod abuse;
mod after;
mod books;
mod collections;
mod config;
mod contacts;
mod directed;
mod error;
mod events;
mod exports;
mod growth;
mod http;
mod jobs;
mod kind_pages;
mod notices;
mod oa;
mod pages;
mod pay;
mod payer_forms;
mod personal_data;
mod products;
mod receipts;
mod reminders;
mod routes;
mod secrets;
mod session;
mod splits;
mod webhooks;
mod wechat;

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

use crate::error::ApiError;
use crate::routes::{PayRoute, Route};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    session::remember_local_origin(&req);
    let route = Route::parse(&req.method(), &req.path());
    // A WeChat Pay callback only records the payee's notice: it is sent once the answer is out.
    let callback = matches!(
        route,
        Some(Route::Pay(
            PayRoute::NotifyTransaction | PayRoute::NotifyRefund
        ))
    );
    let outcome = match route {
        Some(route) => handle(route, req, &env).await,
        None => Err(ApiError::NotFound),
    };
    let response = match outcome {
        Ok(response) => response,
        Err(err) => err.into_response()?,
    };
    if callback {
        let env = env.clone();
        ctx.wait_until(async move { notices::send_fresh(&env, session::now_secs()).await });
    }
    if let Some(deferred) = after::take() {
        ctx.wait_until(deferred);
    }
    http::with_security_headers(response)
}

/// The minute cron (`[triggers] crons` in wrangler.toml): payments re-query and close; abuse
/// counters, used OAuth states and unused images are cleaned up.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    jobs::run_all(&env, session::now_secs()).await;
}

async fn handle(route: Route, req: Request, env: &Env) -> std::result::Result<Response, ApiError> {
    match route {
        Route::Health => http::json(200, &serde_json::json!({ "ok": true })),
        Route::Config => collections::public_config(env),
        Route::CreateCollection => collections::create(req, env).await,
        Route::GetCollection(id) => collections::get(&id, env).await,
        Route::ManageCollection(id) => collections::get_managed(&id, &req, env).await,
        Route::UpdateCollection(id) => collections::update(&id, req, env).await,
        Route::CloseCollection(id) => collections::close(&id, req, env).await,
        Route::ReopenCollection(id) => collections::reopen(&id, req, env).await,
        Route::PayerPage(id) => growth::visitor::payer_page(&id, req, env).await,
        Route::OrderPage(id) => pages::order_page(&id, &req, env).await,
        Route::PayerForm(id, action) => payer_forms::handle(&id, &action, req, env).await,
        Route::AppPage => pages::app_page(&req.path(), env).await,
        Route::Oa(route) => oa::handle(route, req, env).await,
        Route::Split(route) => splits::handle(route, req, env).await,
        Route::Product(route) => products::handle(route, req, env).await,
        Route::Contact(route) => contacts::handle(route, req, env).await,
        Route::Pay(route) => pay::handle(route, req, env).await,
        Route::Growth(route) => growth::handle(route, req, env).await,
        Route::Receipt(route) => receipts::handle(route, req, env).await,
        Route::Export(route) => exports::handle(route, req, env).await,
        Route::Webhook(route) => webhooks::handle(route, req, env).await,
        Route::Books(route) => books::handle(route, req, env).await,
        Route::Data(_) => personal_data::rotate::handle(req, env).await,
        Route::TestCron => jobs::run_at(req, env).await,
        Route::Notice(route) => notices::handle(route, req, env).await,
        Route::Directed(route) => directed::handle(route, req, env).await,
    }
}
