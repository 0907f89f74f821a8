//! Electronic receipts (电子回单): one per verified payment (from `events::order_paid`) and one
//! per payee-confirmed split entry (personal mode, marked 收款人确认). The signed document is
//! sealed at rest with `DATA_KEY`; the pages, the JSON and the verification all read it back
//! and check its signature (`core::receipt`).
//!
//! ```text
//! GET  /r/:id                                   receipt page (保存图片 draws the 750-px PNG)
//! GET  /r/:id/verify                            verification page (the QR points here)
//! GET  /api/receipts/:id                        the signed receipt as JSON
//! POST /api/receipts/verify                     {…receipt, signature} → {valid, reason}
//! GET  /api/receipts/by-order/:order_id         {id, url} of an order's receipt
//! GET  /api/dash/receipts                       the payee's receipts (operator: all)
//! GET  /.well-known/shoukuan-receipt-keys.json  public keys (no secret needed to verify)
//! ```

mod issue;
pub mod keys;

use serde::Deserialize;
use shoukuan_core::receipt::page::{receipt_page, verify_page};
use shoukuan_core::receipt::SignedReceipt;
use worker::{Env, Method, Request, Response};

use crate::error::ApiError;
use crate::http;
use crate::personal_data;
use crate::session::{self, Manager};

pub use issue::{order_paid, payee_confirmed, PaidOrder};

/// Path of the public key list.
pub const KEYS_PATH: &str = "/.well-known/shoukuan-receipt-keys.json";

/// Column bound into each sealed receipt.
pub(crate) const SEALED_COLUMN: &str = "receipts.sealed";

/// Routes of receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptRoute {
    /// `GET /r/:id`
    Page(String),
    /// `GET /r/:id/verify`
    VerifyPage(String),
    /// `GET /api/receipts/:id`
    Json(String),
    /// `POST /api/receipts/verify`
    Verify,
    /// `GET /api/receipts/by-order/:order_id`
    ByOrder(String),
    /// `GET /api/dash/receipts`
    List,
    /// `GET /.well-known/shoukuan-receipt-keys.json`
    Keys,
}

impl ReceiptRoute {
    /// Matches the paths this family owns.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<ReceiptRoute> {
        let s = |v: &&str| v.to_string();
        let route = match (method, segments) {
            (Method::Get | Method::Head, ["r", id]) => ReceiptRoute::Page(s(id)),
            (Method::Get | Method::Head, ["r", id, "verify"]) => ReceiptRoute::VerifyPage(s(id)),
            (Method::Post, ["api", "receipts", "verify"]) => ReceiptRoute::Verify,
            (Method::Get, ["api", "receipts", "by-order", id]) => ReceiptRoute::ByOrder(s(id)),
            (Method::Get, ["api", "receipts", id]) => ReceiptRoute::Json(s(id)),
            (Method::Get, ["api", "dash", "receipts"]) => ReceiptRoute::List,
            (Method::Get, [".well-known", "shoukuan-receipt-keys.json"]) => ReceiptRoute::Keys,
            _ => return None,
        };
        Some(route)
    }
}

/// Answers one of the [`ReceiptRoute`]s.
pub async fn handle(
    route: ReceiptRoute,
    mut req: Request,
    env: &Env,
) -> Result<Response, ApiError> {
    match route {
        ReceiptRoute::Page(id) => page(&id, &req, env).await,
        ReceiptRoute::VerifyPage(id) => verification(&id, &req, env).await,
        ReceiptRoute::Json(id) => http::json(200, &load(env, &id).await?),
        ReceiptRoute::Verify => {
            let signed: SignedReceipt = http::read_json(&mut req).await?;
            let outcome = keys::signer(env)?.verify(&signed);
            http::json(
                200,
                &serde_json::json!({
                    "valid": outcome.is_ok(),
                    "reason": outcome.err().map(|e| e.to_string()),
                }),
            )
        }
        ReceiptRoute::ByOrder(order_id) => by_order(&order_id, &req, env).await,
        ReceiptRoute::List => list(&req, env).await,
        ReceiptRoute::Keys => {
            let mut resp = http::json(200, &keys::signer(env)?.list)?;
            resp.headers_mut()
                .set("cache-control", "public, max-age=300")?;
            resp.headers_mut().set("access-control-allow-origin", "*")?;
            Ok(resp)
        }
    }
}

#[derive(Deserialize)]
struct Stored {
    sealed: String,
}

/// The stored receipt, opened (404 when there is none).
async fn load(env: &Env, id: &str) -> Result<SignedReceipt, ApiError> {
    let row = env
        .d1("DB")?
        .prepare("SELECT sealed FROM receipts WHERE id = ?1")
        .bind(&[id.into()])?
        .first::<Stored>(None)
        .await?
        .ok_or(ApiError::Missing("电子回单"))?;
    let key = personal_data::key(env)?;
    let json = personal_data::open(&key, SEALED_COLUMN, &row.sealed)?;
    serde_json::from_str(&json).map_err(|e| ApiError::Internal(format!("receipt {id}: {e}")))
}

async fn page(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let signed = load(env, id).await?;
    let verify_url = format!("{}/r/{id}/verify", session::public_origin(req, env)?);
    let qr = shoukuan_core::qr::png_data_url(&verify_url, 320)
        .map_err(|e| ApiError::Internal(format!("receipt QR: {e:?}")))?;
    http::html(200, receipt_page(&signed, &verify_url, &qr))
}

async fn verification(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let signed = load(env, id).await?;
    let outcome = keys::signer(env)?.verify(&signed);
    let keys_url = format!("{}{KEYS_PATH}", session::public_origin(req, env)?);
    http::html(200, verify_page(&signed, &outcome, &keys_url))
}

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

async fn by_order(order_id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let row = env
        .d1("DB")?
        .prepare("SELECT id FROM receipts WHERE source = ?1")
        .bind(&[format!("order:{order_id}").into()])?
        .first::<IdRow>(None)
        .await?
        .ok_or(ApiError::Missing("电子回单"))?;
    let url = format!("{}/r/{}", session::public_origin(req, env)?, row.id);
    http::json(200, &serde_json::json!({ "id": row.id, "url": url }))
}

#[derive(Deserialize, serde::Serialize)]
struct ListRow {
    id: String,
    collection_id: String,
    confirmed_by: String,
    created_at: i64,
}

async fn list(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let manager = session::require_manager(req, env).await?;
    let db = env.d1("DB")?;
    let statement = match &manager {
        Manager::Operator => db.prepare(
            "SELECT id, collection_id, confirmed_by, created_at FROM receipts ORDER BY created_at DESC LIMIT 200",
        ),
        Manager::Payee(openid) => db
            .prepare(
                "SELECT id, collection_id, confirmed_by, created_at FROM receipts WHERE payee_openid = ?1 \
                 ORDER BY created_at DESC LIMIT 200",
            )
            .bind(&[openid.as_str().into()])?,
    };
    let rows = statement.all().await?.results::<ListRow>()?;
    http::json(200, &serde_json::json!({ "receipts": rows }))
}
