//! Who a payer-page visitor is, for A/B assignment: the openid when the payer signed in through
//! the Official Account (stable across devices), else a first-party cookie (`sk_vid`) the worker
//! sets on the first visit. Neither is stored raw: the openid becomes a keyed hash.

use shoukuan_core::abtest::{is_visitor_id, visitor_cookie, visitor_id, VISITOR_COOKIE};
use shoukuan_core::session::{cookie_value, Role};
use worker::{Env, Request, Response};

use crate::error::ApiError;
use crate::session;

fn cookies(req: &Request) -> String {
    req.headers()
        .get("cookie")
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The visitor's key: `o` + the payer's [`crate::personal_data::openid_key`], else `v` + the cookie id.
/// `None` without either (the page then shows the first variant and counts nothing).
pub fn key(req: &Request, env: &Env) -> Option<String> {
    if let Some(openid) = session::current(req, env, Role::Payer) {
        if let Ok(key) = crate::personal_data::openid_key(env, openid.as_str()) {
            return Some(format!("o{key}"));
        }
    }
    let all = cookies(req);
    cookie_value(&all, VISITOR_COOKIE)
        .filter(|v| is_visitor_id(v))
        .map(|v| format!("v{v}"))
}

/// `GET /c/:id` with a visitor id: a first visit gets a new id, which the page's own rendering
/// already sees (a copy of the request carries it) and the answer sets as a cookie.
pub async fn payer_page(id: &str, req: Request, env: &Env) -> Result<Response, ApiError> {
    let all = cookies(&req);
    if cookie_value(&all, VISITOR_COOKIE).is_some_and(is_visitor_id) {
        return crate::pages::payer_page(id, &req, env).await;
    }
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    let new_id = visitor_id(&random);
    let mut with_id = req.clone_mut()?;
    let joined = if all.trim().is_empty() {
        format!("{VISITOR_COOKIE}={new_id}")
    } else {
        format!("{all}; {VISITOR_COOKIE}={new_id}")
    };
    with_id.headers_mut()?.set("cookie", &joined)?;
    let mut resp = crate::pages::payer_page(id, &with_id, env).await?;
    resp.headers_mut().append(
        "set-cookie",
        &visitor_cookie(&new_id, session::secure_cookies(&req)),
    )?;
    Ok(resp)
}
