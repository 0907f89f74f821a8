//! The server-rendered `/c/:id` of a split or a product. Unlike a request's page these are
//! served WITH the app bundle: a sign-up form, the live list, the countdown and the poster need
//! it. The card rendered here (masked names, price, QR) shows before the bundle arrives, and
//! the page data goes along as JSON (`#sk-split` / `#sk-product`) so the app starts without
//! another round trip. The `<head>` gets OpenGraph meta for crawlers and share cards.

use shoukuan_core::collection::{CollectionView, Kind};
use shoukuan_core::page::{escape, json_for_script};
use shoukuan_core::product::{og_meta, product_card};
use shoukuan_core::split::{mode_summary, progress_text, split_card};
use worker::{Env, Request};

use crate::error::ApiError;
use crate::session::page_origin;
use crate::{products, splits};

/// What goes into the app shell.
pub struct KindPage {
    /// The whole `<title>` element.
    pub title: String,
    /// Extra `<head>` content (meta).
    pub head: String,
    /// Replaces `<div id="app"></div>`.
    pub body: String,
}

/// The page of a split or product; `None` for requests (and a kind whose row is missing).
pub async fn render(
    view: &CollectionView,
    req: &Request,
    env: &Env,
) -> Result<Option<KindPage>, ApiError> {
    let origin = page_origin(req, env)?;
    match view.kind {
        Kind::Request => Ok(None),
        Kind::Split => {
            let Some(mut split) = splits::find_public_view(&view.id, env).await? else {
                return Ok(None);
            };
            crate::growth::ab::present(&mut split, req, env).await;
            let desc = format!(
                "{} · {}",
                mode_summary(&split.spec.mode),
                progress_text(&split.progress)
            );
            let head = format!(
                concat!(
                    r#"<meta name="description" content="{desc}">"#,
                    r#"<meta property="og:type" content="website">"#,
                    r#"<meta property="og:title" content="{title}">"#,
                    r#"<meta property="og:description" content="{desc}">"#,
                    r#"<meta property="og:url" content="{url}">"#
                ),
                desc = escape(&desc),
                title = escape(&view.title),
                url = escape(&format!("{origin}/c/{}", view.id)),
            );
            Ok(Some(KindPage {
                title: format!("<title>{} - 接龙</title>", escape(&view.title)),
                head,
                body: format!(
                    r#"<div id="app">{}</div><script id="sk-split" type="application/json">{}</script>"#,
                    split_card(&split),
                    json_for_script(&split)
                ),
            }))
        }
        Kind::Product => {
            let Some(mut product) = products::find_view(&view.id, env).await? else {
                return Ok(None);
            };
            crate::growth::ab::present(&mut product, req, env).await;
            Ok(Some(KindPage {
                title: format!("<title>{}</title>", escape(&view.title)),
                head: og_meta(&product, &origin),
                body: format!(
                    r#"<div id="app">{}</div><script id="sk-product" type="application/json">{}</script>"#,
                    product_card(&product),
                    json_for_script(&product)
                ),
            }))
        }
    }
}
