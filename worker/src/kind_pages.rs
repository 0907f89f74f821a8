//! The server-rendered `/c/:id` of a split or a product: complete HTML from `core` views
//! (`core::page::split`, `core::product`), with a few KB of inline script and no WebAssembly,
//! like the request page. The `<head>` gets OpenGraph meta for crawlers and share cards.
//!
//! Each page is built in two steps — build the view, then render it — so whatever adjusts the
//! view for one payer (one's own entry from the ticket cookie, a refused form post, an A/B
//! variant) happens between the two.

use shoukuan_core::collection::{CollectionView, Kind};
use shoukuan_core::oauth::is_wechat_browser;
use shoukuan_core::page::split::{parse_ticket, split_body, split_parts, ticket_cookie_name};
use shoukuan_core::page::split::{Attempt, SplitPage};
use shoukuan_core::page::{escape, json_for_script};
use shoukuan_core::product::{og_meta, product_body, product_card, share_description};
use shoukuan_core::session::Role;
use shoukuan_core::share::{share_script, ShareCard};
use shoukuan_core::split::{mode_summary, progress_text, ParticipantView};
use worker::{Env, Request};

use crate::error::ApiError;
use crate::session::{self, page_origin};
use crate::{products, splits};

/// What goes into the page shell.
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
    let url = format!("{origin}/c/{}", view.id);
    match view.kind {
        Kind::Request => Ok(None),
        Kind::Split => {
            // Build the view …
            let Some(mut split) = splits::find_public_view(&view.id, env).await? else {
                return Ok(None);
            };
            crate::growth::ab::present(&mut split, req, env).await;
            let ticket = ticket_from_cookie(&view.id, req);
            let (mine, remind_offer) = own_entry(&view.id, ticket.as_ref(), req, env).await?;
            // … then render it.
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
                url = escape(&url),
            );
            let page = SplitPage {
                view: &split,
                mine: mine.as_ref(),
                attempt: None,
                notice: None,
                remind_offer,
            };
            let share = share(
                &ShareCard {
                    title: view.title.clone(),
                    desc,
                    link: url,
                    img_url: String::new(),
                },
                env,
            );
            Ok(Some(KindPage {
                title: format!("<title>{} - 接龙</title>", escape(&view.title)),
                head,
                body: format!(r#"<div id="app">{}</div>{share}"#, split_body(&page)),
            }))
        }
        Kind::Product => {
            let Some(mut product) = products::find_view(&view.id, env).await? else {
                return Ok(None);
            };
            crate::growth::ab::present(&mut product, req, env).await;
            let share = share(
                &ShareCard {
                    title: view.title.clone(),
                    desc: share_description(&product),
                    link: url,
                    img_url: product
                        .product
                        .images
                        .first()
                        .map(|k| format!("{origin}{}", k.path()))
                        .unwrap_or_default(),
                },
                env,
            );
            Ok(Some(KindPage {
                title: format!("<title>{}</title>", escape(&view.title)),
                head: og_meta(&product, &origin),
                body: format!(r#"<div id="app">{}</div>{share}"#, product_body(&product)),
            }))
        }
    }
}

/// The share card: WeChat's JS-SDK script when the Official Account (whose signature it needs)
/// is configured; otherwise only the card as `window.__skShare`, and nothing is loaded.
fn share(card: &ShareCard, env: &Env) -> String {
    if crate::wechat::OaConfig::from_env(env).is_some() {
        share_script(card)
    } else {
        format!(
            "<script>window.__skShare={};</script>",
            json_for_script(card)
        )
    }
}

/// `(pid, token)` of this browser's sign-up to split `id`, from its ticket cookie.
pub fn ticket_from_cookie(id: &str, req: &Request) -> Option<(String, String)> {
    let header = req.headers().get("cookie").ok().flatten()?;
    shoukuan_core::session::cookie_value(&header, &ticket_cookie_name(id)).and_then(parse_ticket)
}

/// One's own entry (full name) for a ticket; `None` without one, or when the entry is gone or
/// the token no longer matches (a withdrawal elsewhere, the payee removed it). An entry with no
/// WeChat yet (a directed debtor, a sign-up outside WeChat) is linked to the signed-in payer
/// who came back from 用微信接收提醒 ([`splits::link_wechat`]); `.1` says whether to offer that.
pub async fn own_entry(
    id: &str,
    ticket: Option<&(String, String)>,
    req: &Request,
    env: &Env,
) -> Result<(Option<ParticipantView>, bool), ApiError> {
    let Some((pid, token)) = ticket else {
        return Ok((None, false));
    };
    let mut entry = match splits::own_entry(id, pid, token, env).await {
        Ok(entry) => entry,
        Err(ApiError::NotFound | ApiError::Missing(_) | ApiError::NotParticipant) => {
            return Ok((None, false))
        }
        Err(e) => return Err(e),
    };
    let sends = is_wechat_browser(&session::user_agent(req))
        && crate::notices::template(env, crate::notices::REMINDER_TEMPLATE).is_some();
    if sends && !entry.oa_connected {
        if let Some(openid) = session::current(req, env, Role::Payer) {
            entry.oa_connected = splits::link_wechat(env, id, pid, openid.as_str()).await?;
        }
    }
    Ok((Some(entry), sends))
}

/// The live parts of a split's page (`#sk-head`, `#sk-mine`, `#sk-list`), for the page's
/// script and its form posts; `None` when there is no such split.
pub async fn split_live_parts(
    id: &str,
    ticket: Option<&(String, String)>,
    attempt: Option<&Attempt>,
    notice: Option<&str>,
    req: &Request,
    env: &Env,
) -> Result<Option<String>, ApiError> {
    let Some(split) = splits::find_public_view(id, env).await? else {
        return Ok(None);
    };
    let (mine, remind_offer) = own_entry(id, ticket, req, env).await?;
    Ok(Some(split_parts(&SplitPage {
        view: &split,
        mine: mine.as_ref(),
        attempt,
        notice,
        remind_offer,
    })))
}

/// What `GET /c/:id?part=live` answers: a split's live parts, or a price page's card.
pub async fn live_part(
    view: &CollectionView,
    req: &Request,
    env: &Env,
) -> Result<Option<String>, ApiError> {
    match view.kind {
        Kind::Request => Ok(None),
        Kind::Split => {
            let ticket = ticket_from_cookie(&view.id, req);
            split_live_parts(&view.id, ticket.as_ref(), None, None, req, env).await
        }
        Kind::Product => Ok(products::find_view(&view.id, env)
            .await?
            .map(|p| product_card(&p))),
    }
}

/// The whole page of a split after a refused form post without JavaScript: the form again,
/// with what was typed and the errors.
pub async fn split_page_again(
    view: &CollectionView,
    ticket: Option<&(String, String)>,
    attempt: Option<&Attempt>,
    notice: Option<&str>,
    req: &Request,
    env: &Env,
) -> Result<Option<KindPage>, ApiError> {
    let Some(split) = splits::find_public_view(&view.id, env).await? else {
        return Ok(None);
    };
    let (mine, remind_offer) = own_entry(&view.id, ticket, req, env).await?;
    let page = SplitPage {
        view: &split,
        mine: mine.as_ref(),
        attempt,
        notice,
        remind_offer,
    };
    Ok(Some(KindPage {
        title: format!("<title>{} - 接龙</title>", escape(&view.title)),
        head: String::new(),
        body: format!(r#"<div id="app">{}</div>"#, split_body(&page)),
    }))
}
