//! The Official Account front door — menu jumps with OAuth ([`oauth`]), the message server
//! ([`mp`]), JS-SDK signing ([`jssdk`]) — and what payees manage from the dashboard: menu
//! routes, keyword rules and the custom menu ([`dash`]), channels ([`channels`]), their
//! account and the operator's approval ([`payees`]). Rules are `shoukuan-core`'s.

pub mod channels;
mod dash;
mod jssdk;
mod mp;
mod oauth;
mod payees;

pub use oauth::prune_used_states;

use serde::Deserialize;
use shoukuan_core::collection::CollectionView;
use shoukuan_core::page::{amount_text, escape};
use shoukuan_core::share::{share_script as script, ShareCard};
use worker::{Env, Request, Response};

use crate::error::ApiError;
use crate::http;
use crate::routes::OaRoute;

/// Answers one of the [`OaRoute`]s.
pub async fn handle(route: OaRoute, req: Request, env: &Env) -> Result<Response, ApiError> {
    match route {
        OaRoute::MenuJump(key) => oauth::menu_jump(&key, &req, env).await,
        OaRoute::OauthStart => oauth::start(&req, env).await,
        OaRoute::OauthCallback => oauth::callback(&req, env).await,
        OaRoute::MpVerify => mp::verify(&req, env),
        OaRoute::MpPush => mp::push(req, env).await,
        OaRoute::JssdkConfig => jssdk::config(&req, env).await,
        OaRoute::Me => payees::me(&req, env).await,
        OaRoute::Logout => payees::logout(&req),
        OaRoute::MyCollections => payees::my_collections(&req, env).await,
        OaRoute::Claim => payees::claim(req, env).await,
        OaRoute::ListPayees => payees::list(&req, env).await,
        OaRoute::ApprovePayee(openid) => payees::set_status(&openid, true, &req, env).await,
        OaRoute::RevokePayee(openid) => payees::set_status(&openid, false, &req, env).await,
        OaRoute::ListRoutes => dash::list_routes(&req, env).await,
        OaRoute::CreateRoute => dash::create_route(req, env).await,
        OaRoute::DeleteRoute(key) => dash::delete_route(&key, &req, env).await,
        OaRoute::ListKeywords => dash::list_keywords(&req, env).await,
        OaRoute::CreateKeyword => dash::create_keyword(req, env).await,
        OaRoute::DeleteKeyword(id) => dash::delete_keyword(&id, &req, env).await,
        OaRoute::GetMenu => dash::get_menu(&req, env).await,
        OaRoute::PutMenu => dash::put_menu(req, env).await,
        OaRoute::PublishMenu => dash::publish_menu(&req, env).await,
        OaRoute::ListChannels => channels::list(&req, env).await,
        OaRoute::CreateChannel => channels::create(req, env).await,
        OaRoute::ChannelQr(id) => channels::qr_png(&id, &req, env).await,
    }
}

/// The raw query string of a request (without `?`).
fn query(req: &Request) -> Result<String, ApiError> {
    Ok(req.url()?.query().unwrap_or_default().to_string())
}

/// A `302` to `location` (a path on this site or WeChat's authorize URL, never user input).
fn redirect(location: &str) -> Result<Response, ApiError> {
    let mut resp = Response::empty()?.with_status(302);
    resp.headers_mut().set("location", location)?;
    resp.headers_mut().set("cache-control", "no-store")?;
    Ok(resp)
}

/// A small readable page for the browser routes (`/m/…`, `/oauth/…`) when something is wrong.
fn page(status: u16, title: &str, message: &str) -> Result<Response, ApiError> {
    http::html(
        status,
        format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{t}</title></head>\
             <body style=\"font-family:system-ui,sans-serif;max-width:32em;margin:3em auto;padding:0 1.2em;color:#222\">\
             <h2 id=\"sk-error\">{t}</h2><p>{m}</p><p><a href=\"/\">返回首页</a></p></body></html>",
            t = escape(title),
            m = escape(message)
        ),
    )
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

#[derive(Deserialize)]
struct Owner {
    owner_openid: Option<String>,
}

/// Whether `manager` may point a route, rule or channel at collection `id`: the operator
/// always (if it exists), a payee only at its own collections.
async fn may_use_collection(
    env: &Env,
    manager: &crate::session::Manager,
    id: &str,
) -> Result<bool, ApiError> {
    if !shoukuan_core::collection::is_valid_id(id) {
        return Ok(false);
    }
    let row = env
        .d1("DB")?
        .prepare("SELECT owner_openid FROM collections WHERE id = ?1")
        .bind(&[id.into()])?
        .first::<Owner>(None)
        .await?;
    Ok(row.is_some_and(|r| manager.may_change(r.owner_openid.as_deref())))
}

/// The WeChat share card script for a payer page (empty without an Official Account, whose
/// JS-SDK signature it needs).
pub fn share_script(view: &CollectionView, req: &Request, env: &Env) -> String {
    if crate::wechat::OaConfig::from_env(env).is_none() {
        return String::new();
    }
    let Ok(origin) = crate::session::public_origin(req, env) else {
        return String::new();
    };
    let mut desc = format!("{} · {}", view.payee_name, amount_text(view.amount));
    if !view.note.is_empty() {
        desc.push_str(" · ");
        desc.push_str(&view.note);
    }
    script(&ShareCard {
        title: view.title.clone(),
        desc,
        link: format!("{origin}/c/{}", view.id),
        img_url: String::new(),
    })
}
