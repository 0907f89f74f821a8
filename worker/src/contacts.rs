//! Buyers' contact details on a price page (`shoukuan_core::contact`):
//! `POST /c/:id/contact`, the form 「留下联系方式」 as a browser posts it without JavaScript,
//! and `GET /api/collections/:id/contacts`, the payee's list (manage token). Every detail is
//! sealed at rest, each bound to its column and its row; the public page and the public JSON never hold them.

use serde::Deserialize;
use shoukuan_core::contact::{Contact, ContactEntry, ContactForm, ContactState};
use shoukuan_core::product::{product_body_with, Offer};
use shoukuan_core::ratelimit::SIGNUP_PER_CLIENT;
use shoukuan_core::urlenc::parse_query;
use worker::{Env, Method, Request, Response};

use crate::error::ApiError;
use crate::personal_data::{self, column};
use crate::session::now_secs;
use crate::wechat::random_alnum;
use crate::{abuse, collections, http, pages, payer_forms, products};

/// Largest form body: a name, a phone, an address and a note.
const MAX_FORM_BYTES: usize = 4 * 1024;
/// Most contacts one page keeps (the list is read whole).
const MAX_PER_PAGE: i64 = 2_000;

/// The contact routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactRoute {
    /// `POST /c/:id/contact`
    Leave(String),
    /// `GET /api/collections/:id/contacts`
    List(String),
}

impl ContactRoute {
    /// Matches the path's segments.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<ContactRoute> {
        match (method, segments) {
            (Method::Post, ["c", id, "contact"]) => Some(ContactRoute::Leave(id.to_string())),
            (Method::Get, ["api", "collections", id, "contacts"]) => {
                Some(ContactRoute::List(id.to_string()))
            }
            _ => None,
        }
    }
}

/// Answers one of the [`ContactRoute`]s.
pub async fn handle(route: ContactRoute, req: Request, env: &Env) -> Result<Response, ApiError> {
    match route {
        ContactRoute::Leave(id) => leave(&id, req, env).await,
        ContactRoute::List(id) => list(&id, req, env).await,
    }
}

/// The form post: the page again with the saved notice (200) or the errors next to their
/// fields (400); nothing is stored when a field is refused.
async fn leave(id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    payer_forms::same_origin(&req)?;
    let view = products::find_view(id, env)
        .await?
        .filter(|v| v.product.contact.asks())
        .ok_or(ApiError::NotFound)?;
    if view.offer != Offer::Active {
        return Err(ApiError::Closed);
    }
    let body = req.text().await?;
    if body.len() > MAX_FORM_BYTES {
        return Err(ApiError::TooLarge);
    }
    let form = ContactForm::from_pairs(&parse_query(&body));
    let (status, state) = match form.validate(view.product.contact) {
        Err(errors) => (400, ContactState::Refused(form, errors)),
        Ok(contact) => {
            let guard = abuse::Guard::new(&req, env);
            let subject = format!("contact:{}", guard.client());
            guard.check(env, &SIGNUP_PER_CLIENT, &subject).await?;
            store(id, &contact, env).await?;
            (200, ContactState::Saved(contact))
        }
    };
    let shell = pages::payer_shell(env).await?;
    let title = format!(
        "<title>{}</title>",
        shoukuan_core::page::escape(&view.collection.title)
    );
    let body = format!(
        r#"<div id="app">{}</div>"#,
        product_body_with(&view, &state)
    );
    http::html(status, pages::fill(&shell, &title, &body))
}

async fn store(id: &str, contact: &Contact, env: &Env) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let db = env.d1("DB")?;
    let count = db
        .prepare("SELECT COUNT(*) AS n FROM product_contacts WHERE collection_id = ?1")
        .bind(&[id.into()])?
        .first::<Count>(None)
        .await?
        .map_or(0, |c| c.n);
    if count >= MAX_PER_PAGE {
        return Err(ApiError::Conflict(
            "CONTACTS_FULL",
            "这个页面收到的联系方式已达上限，请直接联系商家",
        ));
    }
    let key = personal_data::key(env)?;
    let row = random_alnum(16)?;
    let seal = |col: &str, v: &str| personal_data::seal_row(&key, col, &row, v);
    db.prepare(
        "INSERT INTO product_contacts (id, collection_id, created_at, name_sealed, phone_sealed, address_sealed, note_sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(&[
        row.as_str().into(),
        id.into(),
        (now_secs() as f64).into(),
        seal(column::CONTACT_NAME, &contact.name)?.into(),
        seal(column::CONTACT_PHONE, &contact.phone)?.into(),
        seal(column::CONTACT_ADDRESS, &contact.address)?.into(),
        seal(column::CONTACT_NOTE, &contact.note)?.into(),
    ])?
    .run()
    .await?;
    Ok(())
}

/// `GET /api/collections/:id/contacts` (manage token): `{"contacts": [...]}`, newest first.
async fn list(id: &str, req: Request, env: &Env) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        created_at: i64,
        name_sealed: String,
        phone_sealed: String,
        address_sealed: String,
        note_sealed: String,
    }
    #[derive(serde::Serialize)]
    struct List {
        contacts: Vec<ContactEntry>,
    }
    collections::authorize_manage(id, &req, env).await?;
    let rows = env
        .d1("DB")?
        .prepare("SELECT id, created_at, name_sealed, phone_sealed, address_sealed, note_sealed FROM product_contacts WHERE collection_id = ?1 ORDER BY created_at DESC, id")
        .bind(&[id.into()])?
        .all()
        .await?
        .results::<Row>()?;
    let contacts = if rows.is_empty() {
        Vec::new()
    } else {
        let key = personal_data::key(env)?;
        rows.into_iter()
            .map(|r| {
                let open = |col: &str, v: &str| personal_data::open_row(&key, col, &r.id, v);
                let contact = Contact {
                    name: open(column::CONTACT_NAME, &r.name_sealed)?,
                    phone: open(column::CONTACT_PHONE, &r.phone_sealed)?,
                    address: open(column::CONTACT_ADDRESS, &r.address_sealed)?,
                    note: open(column::CONTACT_NOTE, &r.note_sealed)?,
                };
                Ok(ContactEntry {
                    id: r.id,
                    created_at: r.created_at,
                    contact,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?
    };
    http::json(200, &List { contacts })
}
