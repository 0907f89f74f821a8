//! Server-rendered pages. `/c/:id` is the page every payer downloads on a phone: the worker
//! fills the app's `index.html` with the payer card (payee, amount, note, QR `<img>`), so the
//! QR is visible as soon as the HTML arrives. The page carries no WebAssembly at all: it is
//! complete as HTML, a few kilobytes on a phone's network.

use shoukuan_core::collection::Kind;
use shoukuan_core::page;
use worker::{Env, Request};

use crate::collections;
use crate::error::ApiError;
use crate::http;

const APP_MOUNT: &str = r#"<div id="app"></div>"#;

/// `GET /c/:id`
pub async fn payer_page(id: &str, req: &Request, env: &Env) -> Result<worker::Response, ApiError> {
    let found = collections::find_view(id, env).await?;
    // Splits and products are interactive (sign-up, live list, countdown, poster): they are
    // served with the app bundle (`kind_pages`).
    if let Some(view) = found.as_ref().filter(|v| v.kind != Kind::Request) {
        if let Some(kind_page) = crate::kind_pages::render(view, req, env).await? {
            let html = fill(&app_shell(env).await?, &kind_page.title, &kind_page.body).replacen(
                "</head>",
                &format!("{}</head>", kind_page.head),
                1,
            );
            return http::html(200, html);
        }
    }
    // Payers get the card without the app's WebAssembly (see `page::without_app_bundle`).
    let shell = page::without_app_bundle(&app_shell(env).await?);
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
            let body = format!(r#"<div id="app">{card}</div>{share}"#);
            let title = format!("<title>{} - 收款</title>", page::escape(&view.title));
            http::html(200, fill(&shell, &title, &body))
        }
        None => {
            let body = format!(r#"<div id="app">{}</div>"#, page::not_found_card());
            http::html(404, fill(&shell, "<title>找不到这个收款</title>", &body))
        }
    }
}

/// The app's own pages (`/`, `/new`, `/dash`, …): its `index.html` as built, with the
/// Content-Security-Policy for the loader script it holds (`http::html`).
pub async fn app_page(env: &Env) -> Result<worker::Response, ApiError> {
    http::html(200, app_shell(env).await?)
}

/// The app's `index.html`, as built by Trunk, from the static assets.
async fn app_shell(env: &Env) -> Result<String, ApiError> {
    let mut resp = env
        .assets("ASSETS")?
        .fetch("http://assets.local/", None)
        .await?;
    if resp.status_code() != 200 {
        return Err(ApiError::Internal(format!(
            "index.html: status {}",
            resp.status_code()
        )));
    }
    Ok(resp.text().await?)
}

fn fill(shell: &str, title: &str, body: &str) -> String {
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
