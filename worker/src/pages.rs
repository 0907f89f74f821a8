//! Server-rendered pages. `/c/:id` is the page every payer downloads on a phone: the worker
//! fills the app's `index.html` with the payer card (payee, amount, note, QR `<img>`), so the
//! QR is visible as soon as the HTML arrives. The page carries no WebAssembly at all: it is
//! complete as HTML, a few kilobytes on a phone's network.

use shoukuan_core::page;
use worker::Env;

use crate::collections;
use crate::error::ApiError;
use crate::http;

const APP_MOUNT: &str = r#"<div id="app"></div>"#;

/// `GET /c/:id`
pub async fn payer_page(id: &str, env: &Env) -> Result<worker::Response, ApiError> {
    // Payers get the card without the app's WebAssembly (see `page::without_app_bundle`).
    let shell = page::without_app_bundle(&app_shell(env).await?);
    match collections::find_view(id, env).await? {
        Some(view) => {
            let body = format!(r#"<div id="app">{}</div>"#, page::payer_card(&view));
            let title = format!("<title>{} - 收款</title>", page::escape(&view.title));
            http::html(200, fill(&shell, &title, &body))
        }
        None => {
            let body = format!(r#"<div id="app">{}</div>"#, page::not_found_card());
            http::html(404, fill(&shell, "<title>找不到这个收款</title>", &body))
        }
    }
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
