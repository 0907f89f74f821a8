//! `POST /c/:id/<action>`: a split page's forms (`join`, `edit`, `claim`, `withdraw`), as a
//! browser without JavaScript sends them (`application/x-www-form-urlencoded`). They go through
//! the same functions as the JSON API (`splits::sign_up`, …), so the checks, the limits and
//! the messages are the same. The person's ticket (participant id and token) is a cookie on
//! the split's path. The 我已付款 form is `multipart/form-data`: it may carry the transfer
//! screenshot (`proof`), checked like `POST …/participants/:pid/proof` before the claim and
//! stored after it, so a refused file leaves neither a claim nor a file.
//!
//! Answers: without JavaScript, a `303` back to the page when it worked, or the page again
//! with the errors (the API's status); with the page's script (`X-Sk-Part: live`), the page's
//! live parts, errors included, to swap in.

use shoukuan_core::collection::FieldError;
use shoukuan_core::page::split::{clear_ticket_cookie, sign_up_from_form, ticket_cookie, Attempt};
use shoukuan_core::urlenc::{http_origin, parse_query};
use worker::{Env, FormEntry, Request, Response};

use crate::directed::Proof;
use crate::error::ApiError;
use crate::kind_pages::{split_live_parts, split_page_again, ticket_from_cookie};
use crate::{collections, http, pages, session, splits};

/// Largest form body: a name, a phone and a few picks.
const MAX_FORM_BYTES: usize = 8 * 1024;

/// A multipart claim form's boundaries and part headers, beyond the screenshot itself.
const MULTIPART_OVERHEAD: usize = 16 * 1024;

/// What a refused action shows.
enum Refusal {
    /// Next to the fields of the form (sign-up, edit).
    Form(Attempt),
    /// Above one's own entry (我已付款, 退出).
    Notice(String),
}

/// Answers one form post.
pub async fn handle(
    id: &str,
    action: &str,
    mut req: Request,
    env: &Env,
) -> Result<Response, ApiError> {
    if !matches!(action, "join" | "edit" | "claim" | "withdraw") {
        return Err(ApiError::NotFound);
    }
    same_origin(&req)?;
    let Some(view) = collections::find_view(id, env).await? else {
        return Err(ApiError::NotFound);
    };
    let multipart = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data"));
    let (pairs, proof) = if multipart {
        if action != "claim" {
            return Err(ApiError::NotFound);
        }
        (Vec::new(), proof_upload(&mut req).await)
    } else {
        let body = req.text().await?;
        if body.len() > MAX_FORM_BYTES {
            return Err(ApiError::TooLarge);
        }
        (parse_query(&body), Ok(None))
    };
    let mut ticket = ticket_from_cookie(id, &req);
    let mut set_cookie = None;
    let refused: Option<(u16, Refusal)> = match (action, ticket.clone()) {
        ("join", _) => {
            let sign_up = sign_up_from_form(&pairs);
            match splits::sign_up(id, &sign_up, &req, env).await {
                Ok(joined) => {
                    set_cookie = Some(ticket_cookie(
                        id,
                        &joined.participant.id,
                        &joined.token,
                        session::secure_cookies(&req),
                    ));
                    ticket = Some((joined.participant.id, joined.token));
                    None
                }
                Err(e) => Some(form_refusal(e, sign_up)),
            }
        }
        (_, None) => Some((
            401,
            Refusal::Notice("没有找到你的报名（可能换了手机或浏览器），请联系收款人".into()),
        )),
        ("edit", Some((pid, token))) => {
            let sign_up = sign_up_from_form(&pairs);
            match splits::edit_entry(id, &pid, &token, &sign_up, env).await {
                Ok(_) => None,
                Err(e) => Some(form_refusal(e, sign_up)),
            }
        }
        ("claim", Some((pid, token))) => match proof {
            Err(e) => Some(notice(e)),
            Ok(proof) => match splits::claim_entry(id, &pid, &token, env).await {
                Ok(_) => {
                    if let Some(proof) = proof {
                        proof.store(id, &pid, env).await?;
                    }
                    None
                }
                Err(e) => Some(notice(e)),
            },
        },
        (_, Some((pid, token))) => match splits::withdraw_entry(id, &pid, &token, env).await {
            Ok(()) => {
                set_cookie = Some(clear_ticket_cookie(id));
                ticket = None;
                None
            }
            Err(e) => Some(notice(e)),
        },
    };
    let (attempt, note, status) = match &refused {
        Some((status, Refusal::Form(a))) => (Some(a), None, *status),
        Some((status, Refusal::Notice(m))) => (None, Some(m.as_str()), *status),
        None => (None, None, 200),
    };
    let live = req
        .headers()
        .get("x-sk-part")
        .ok()
        .flatten()
        .is_some_and(|v| v == "live");
    let mut resp = if live {
        let parts = split_live_parts(id, ticket.as_ref(), attempt, note, &req, env)
            .await?
            .ok_or(ApiError::NotFound)?;
        http::html(200, parts)?
    } else if refused.is_none() {
        let mut resp = Response::empty()?.with_status(303);
        resp.headers_mut()
            .set("location", &format!("/c/{id}#my_entry"))?;
        resp
    } else {
        let page = split_page_again(&view, ticket.as_ref(), attempt, note, &req, env)
            .await?
            .ok_or(ApiError::NotFound)?;
        let shell = pages::payer_shell(env).await?;
        http::html(status, pages::fill(&shell, &page.title, &page.body))?
    };
    if let Some(cookie) = set_cookie {
        resp.headers_mut().append("set-cookie", &cookie)?;
    }
    Ok(resp)
}

/// The claim form's optional screenshot (`proof`), checked; `None` when no file was chosen.
async fn proof_upload(req: &mut Request) -> Result<Option<Proof>, ApiError> {
    Proof::check_length(req, MULTIPART_OVERHEAD)?;
    match req.form_data().await?.get("proof") {
        Some(FormEntry::File(file)) if file.size() > 0 => {
            Proof::check(&file.type_(), file.bytes().await?).map(Some)
        }
        _ => Ok(None),
    }
}

/// A refused sign-up or edit: field errors next to their fields, anything else under the form.
fn form_refusal(e: ApiError, values: shoukuan_core::split::SignUp) -> (u16, Refusal) {
    let (status, body) = e.status_and_body();
    let errors = if body.fields.is_empty() {
        vec![FieldError {
            field: "form".into(),
            code: body.code,
            message: body.message,
        }]
    } else {
        body.fields
    };
    (status, Refusal::Form(Attempt { values, errors }))
}

fn notice(e: ApiError) -> (u16, Refusal) {
    let (status, body) = e.status_and_body();
    (status, Refusal::Notice(body.message))
}

/// Refuses a post whose `Origin` names another site (the ticket cookie is `SameSite=Lax` as
/// well, so another site's form never carries it).
pub fn same_origin(req: &Request) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get("origin").ok().flatten() else {
        return Ok(());
    };
    let url = req.url()?;
    if http_origin(url.as_str()).is_some() && http_origin(url.as_str()) == http_origin(&origin) {
        Ok(())
    } else {
        Err(ApiError::Pay(
            403,
            "CROSS_SITE",
            "请在接龙页面上操作".into(),
        ))
    }
}
