//! Server-rendered pages. `/c/:id` is the page every payer downloads on a phone: the worker
//! fills the app's `index.html` (its styles; without the app's script and WebAssembly) with
//! the payer's page rendered from `core` — the request card, a split's list and sign-up form,
//! a price page — so the page is complete as soon as the HTML arrives. Splits and price pages
//! add a few KB of inline script (live list, countdown, posts without a reload); their forms
//! work without it (`payer_forms`).

use shoukuan_core::collection::Kind;
use shoukuan_core::page;
use worker::{Env, Request};

use crate::collections;
use crate::error::ApiError;
use crate::http;

const APP_MOUNT: &str = r#"<div id="app"></div>"#;

/// `GET /c/:id` (`?part=live`: only the live parts of a split or price page, for its script).
pub async fn payer_page(id: &str, req: &Request, env: &Env) -> Result<worker::Response, ApiError> {
    let found = collections::find_view(id, env).await?;
    if wants_live_part(req) {
        let view = found.ok_or(ApiError::NotFound)?;
        return match crate::kind_pages::live_part(&view, req, env).await? {
            Some(part) => http::html(200, part),
            None => Err(ApiError::NotFound),
        };
    }
    // Payers get the page without the app's WebAssembly (see `page::without_app_bundle`).
    let shell = page::without_app_bundle(&app_shell(env).await?);
    // Splits and products: sign-up, live list, countdown (`kind_pages`).
    if let Some(view) = found.as_ref().filter(|v| v.kind != Kind::Request) {
        if let Some(kind_page) = crate::kind_pages::render(view, req, env).await? {
            return http::html(
                200,
                with_head(
                    &fill(&shell, &kind_page.title, &kind_page.body),
                    &kind_page.head,
                ),
            );
        }
    }
    match found {
        Some(mut view) => {
            crate::growth::ab::present(&mut view, req, env).await;
            // The share card (JS-SDK) is a few lines of plain script, only acting inside WeChat.
            let share = crate::oa::share_script(&view, req, env);
            // A merchant collection gets a pay button and a small inline script instead of a
            // receive code (still no WebAssembly): see `core::checkout`.
            let card = match crate::pay::merchant_card(&view, req, env).await? {
                Some(card) => card,
                None => page::payer_card(&view),
            };
            let body = format!(
                r#"<div id="app">{card}</div>{share}<script>{}</script>"#,
                page::READY_SCRIPT
            );
            let title = format!("<title>{} - 收款</title>", page::escape(&view.title));
            http::html(200, fill(&shell, &title, &body))
        }
        None => {
            let body = format!(
                r#"<div id="app">{}</div><script>{}</script>"#,
                page::not_found_card(),
                page::READY_SCRIPT
            );
            http::html(404, fill(&shell, "<title>找不到这个收款</title>", &body))
        }
    }
}

/// `GET /o/:id` (`?part=live`: only the card, for its script): the order page, complete as
/// HTML from `core::page::order`, no app.
pub async fn order_page(id: &str, req: &Request, env: &Env) -> Result<worker::Response, ApiError> {
    use shoukuan_core::page::order::{order_body, order_card, order_not_found};
    let order = crate::pay::order_view(env, id).await?;
    if wants_live_part(req) {
        let order = order.ok_or(ApiError::Missing("订单"))?;
        return http::html(200, order_card(&order));
    }
    let shell = payer_shell(env).await?;
    match order {
        Some(order) => {
            let title = format!("<title>{}</title>", order.state.label());
            http::html(
                200,
                fill(
                    &shell,
                    &title,
                    &format!(r#"<div id="app">{}</div>"#, order_body(&order)),
                ),
            )
        }
        None => {
            let body = format!(
                r#"<div id="app">{}</div><script>{}</script>"#,
                order_not_found(came_from_collection(req).as_deref()),
                page::READY_SCRIPT
            );
            http::html(404, fill(&shell, "<title>找不到这个订单</title>", &body))
        }
    }
}

/// The collection whose page sent the payer here (`Referer: <this origin>/c/:id…`), if any.
fn came_from_collection(req: &Request) -> Option<String> {
    let referer = req.headers().get("referer").ok().flatten()?;
    let referer = worker::Url::parse(&referer).ok()?;
    let here = req.url().ok()?;
    if referer.origin() != here.origin() {
        return None;
    }
    let id = referer.path().strip_prefix("/c/")?.split('/').next()?;
    shoukuan_core::collection::is_valid_id(id).then(|| id.to_owned())
}

/// Whether the page's script asks for the live parts only (`?part=live`).
fn wants_live_part(req: &Request) -> bool {
    req.url()
        .ok()
        .and_then(|u| {
            u.query()
                .map(|q| shoukuan_core::urlenc::query_value(q, "part"))
        })
        .flatten()
        .is_some_and(|p| p == "live")
}

/// The app's own pages (`/`, `/new`, `/dash`, …): the `index.html` of the bundle that holds
/// the page ([`bundle_of`]), as built, with the Content-Security-Policy for the loader script
/// it holds (`http::html`).
pub async fn app_page(path: &str, env: &Env) -> Result<worker::Response, ApiError> {
    let index = match bundle_of(path) {
        Some(name) => format!("http://assets.local/p/{name}/"),
        None => "http://assets.local/".to_owned(),
    };
    http::html(200, fetch_index(env, &index).await?)
}

/// The page bundle (`dist/p/<name>/`, built by `cargo xtask build` from `app/src/bin/<name>.rs`)
/// that holds the app page at `path`; `None` for the main bundle (`/`, `/poster/:id`). One small
/// bundle per payee page instead of one app: `bench/FIGURES.md` has the figures.
pub fn bundle_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["new"] | ["directed"] => Some("new"),
        ["manage", _] => Some("manage"),
        ["admin", _] => Some("admin"),
        ["dash"] => Some("dash"),
        ["dash", "books"] => Some("books"),
        _ => None,
    }
}

/// The app's `index.html` without the app: the shell of every payer page.
pub async fn payer_shell(env: &Env) -> Result<String, ApiError> {
    Ok(page::without_app_bundle(&app_shell(env).await?))
}

/// The app's (main bundle's) `index.html`, as built by Trunk, from the static assets.
async fn app_shell(env: &Env) -> Result<String, ApiError> {
    fetch_index(env, "http://assets.local/").await
}

/// An `index.html` from the static assets.
async fn fetch_index(env: &Env, url: &str) -> Result<String, ApiError> {
    let mut resp = env.assets("ASSETS")?.fetch(url, None).await?;
    if resp.status_code() != 200 {
        return Err(ApiError::Internal(format!(
            "{url}: status {}",
            resp.status_code()
        )));
    }
    Ok(resp.text().await?)
}

/// `head` added at the end of the shell's `<head>`.
pub fn with_head(html: &str, head: &str) -> String {
    html.replacen("</head>", &format!("{head}</head>"), 1)
}

/// The shell with `body` in place of the app's mount point and `title` as its title.
pub fn fill(shell: &str, title: &str, body: &str) -> String {
    let with_body = shell.replacen(APP_MOUNT, body, 1);
    match (with_body.find("<title>"), with_body.find("</title>")) {
        (Some(start), Some(end)) if start < end => {
            format!(
                "{}{}{}",
                &with_body[..start],
                title,
                &with_body[end + "</title>".len()..]
            )
        }
        _ => with_body,
    }
}
