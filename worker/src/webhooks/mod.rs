//! Outbound webhooks for accounting systems: endpoints a payee (or the operator) configures,
//! one delivery per event and endpoint, signed `Shoukuan-Signature: t=…,v1=…`
//! (`core::webhook`), sent by the minute cron and retried on `core::webhook::RETRY_AFTER_SECS`
//! for a day, every attempt logged, and a manual resend.
//!
//! ```text
//! GET    /api/dash/webhooks                          endpoints (never their secrets)
//! POST   /api/dash/webhooks {url}                    → 201 {id, url, secret} (secret shown once)
//! DELETE /api/dash/webhooks/:id                      disable
//! GET    /api/dash/webhooks/:id/deliveries           deliveries with every attempt
//! POST   /api/dash/webhooks/deliveries/:id/resend    one attempt now
//! ```
//! Payee endpoints receive their own payments, refunds and daily reports; operator endpoints
//! receive all. A day's `books.day_report` is queued by the cron once the reconciliation of
//! yesterday is no longer waiting for WeChat's bill (`report`).

mod deliver;
mod enqueue;
mod report;

use serde::{Deserialize, Serialize};
use shoukuan_core::webhook;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Method, Request, Response};

use shoukuan_core::collection::FieldError;

use crate::error::ApiError;
use crate::http;
use crate::personal_data;
use crate::session::{self, now_secs, Manager};

pub use deliver::scheduled;
pub use enqueue::{payment_succeeded, refund_succeeded};

/// Column bound into each sealed endpoint secret.
pub(crate) const SECRET_COLUMN: &str = "webhook_endpoints.secret";

/// Endpoints one owner may have.
const MAX_ENDPOINTS: usize = 5;

/// Routes of webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookRoute {
    /// `GET /api/dash/webhooks`
    List,
    /// `POST /api/dash/webhooks`
    Create,
    /// `DELETE /api/dash/webhooks/:id`
    Disable(String),
    /// `GET /api/dash/webhooks/:id/deliveries`
    Deliveries(String),
    /// `POST /api/dash/webhooks/deliveries/:id/resend`
    Resend(String),
}

impl WebhookRoute {
    /// Matches the paths this family owns.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<WebhookRoute> {
        let s = |v: &&str| v.to_string();
        let route = match (method, segments) {
            (Method::Get, ["api", "dash", "webhooks"]) => WebhookRoute::List,
            (Method::Post, ["api", "dash", "webhooks"]) => WebhookRoute::Create,
            (Method::Delete, ["api", "dash", "webhooks", id]) => WebhookRoute::Disable(s(id)),
            (Method::Get, ["api", "dash", "webhooks", id, "deliveries"]) => {
                WebhookRoute::Deliveries(s(id))
            }
            (Method::Post, ["api", "dash", "webhooks", "deliveries", id, "resend"]) => {
                WebhookRoute::Resend(s(id))
            }
            _ => return None,
        };
        Some(route)
    }
}

/// Answers one of the [`WebhookRoute`]s.
pub async fn handle(route: WebhookRoute, req: Request, env: &Env) -> Result<Response, ApiError> {
    let manager = session::require_manager(&req, env).await?;
    match route {
        WebhookRoute::List => list(&manager, env).await,
        WebhookRoute::Create => create(&manager, req, env).await,
        WebhookRoute::Disable(id) => disable(&manager, &id, env).await,
        WebhookRoute::Deliveries(id) => deliveries(&manager, &id, env).await,
        WebhookRoute::Resend(id) => deliver::resend(&manager, &id, env).await,
    }
}

fn owner_value(manager: &Manager) -> JsValue {
    manager.owner().map_or(JsValue::NULL, JsValue::from_str)
}

/// A stored endpoint (without its secret).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Endpoint {
    id: String,
    owner_openid: Option<String>,
    url: String,
    created_at: i64,
    disabled_at: Option<i64>,
}

async fn endpoints_of(manager: &Manager, env: &Env) -> Result<Vec<Endpoint>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(
            "SELECT id, owner_openid, url, created_at, disabled_at FROM webhook_endpoints \
             WHERE owner_openid IS ?1 ORDER BY created_at",
        )
        .bind(&[owner_value(manager)])?
        .all()
        .await?
        .results::<Endpoint>()?)
}

/// The endpoint `id` when `manager` owns it (404 otherwise: others' ids are not confirmed).
async fn owned(manager: &Manager, id: &str, env: &Env) -> Result<Endpoint, ApiError> {
    let endpoint = env
        .d1("DB")?
        .prepare(
            "SELECT id, owner_openid, url, created_at, disabled_at FROM webhook_endpoints WHERE id = ?1",
        )
        .bind(&[id.into()])?
        .first::<Endpoint>(None)
        .await?
        .ok_or(ApiError::Missing("推送地址"))?;
    if manager.owner() == endpoint.owner_openid.as_deref() {
        Ok(endpoint)
    } else {
        Err(ApiError::Missing("推送地址"))
    }
}

async fn list(manager: &Manager, env: &Env) -> Result<Response, ApiError> {
    let endpoints = endpoints_of(manager, env).await?;
    http::json(
        200,
        &serde_json::json!({
            "endpoints": endpoints,
            "signature_header": webhook::SIGNATURE_HEADER,
            "retry_after_secs": webhook::RETRY_AFTER_SECS,
        }),
    )
}

#[derive(Deserialize)]
struct NewEndpoint {
    url: String,
}

async fn create(manager: &Manager, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let input: NewEndpoint = http::read_json(&mut req).await?;
    let url = webhook::validate_url(&input.url, crate::config::local_dev(env)).map_err(|e| {
        ApiError::Invalid(vec![FieldError {
            field: "url".into(),
            code: "BAD_URL".into(),
            message: e.to_string(),
        }])
    })?;
    let active = endpoints_of(manager, env)
        .await?
        .iter()
        .filter(|e| e.disabled_at.is_none())
        .count();
    if active >= MAX_ENDPOINTS {
        return Err(ApiError::Conflict(
            "TOO_MANY_ENDPOINTS",
            "最多设置 5 个推送地址，请先删除不用的地址",
        ));
    }
    let mut random = [0u8; 32];
    getrandom::getrandom(&mut random).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    let secret = webhook::new_secret(random);
    let sealed = personal_data::seal(&personal_data::key(env)?, SECRET_COLUMN, &secret)?;
    let id = format!("we_{}", crate::secrets::new_public_id()?);
    let now = now_secs();
    env.d1("DB")?
        .prepare(
            "INSERT INTO webhook_endpoints (id, owner_openid, url, secret_sealed, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&[
            id.as_str().into(),
            owner_value(manager),
            url.as_str().into(),
            sealed.into(),
            JsValue::from_f64(now as f64),
        ])?
        .run()
        .await?;
    http::json(
        201,
        &serde_json::json!({
            "id": id,
            "url": url,
            "secret": secret,
            "created_at": now,
            "message": "签名密钥只显示这一次，请立即保存到你的接收程序中",
        }),
    )
}

async fn disable(manager: &Manager, id: &str, env: &Env) -> Result<Response, ApiError> {
    owned(manager, id, env).await?;
    env.d1("DB")?
        .prepare(
            "UPDATE webhook_endpoints SET disabled_at = ?2 WHERE id = ?1 AND disabled_at IS NULL",
        )
        .bind(&[id.into(), JsValue::from_f64(now_secs() as f64)])?
        .run()
        .await?;
    http::json(200, &serde_json::json!({ "id": id, "disabled": true }))
}

#[derive(Deserialize, Serialize)]
struct DeliveryRow {
    id: String,
    event_id: String,
    event_type: String,
    state: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    created_at: i64,
}

#[derive(Deserialize, Serialize)]
struct AttemptRow {
    delivery_id: String,
    at: i64,
    trigger: String,
    status: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
}

async fn deliveries(manager: &Manager, id: &str, env: &Env) -> Result<Response, ApiError> {
    owned(manager, id, env).await?;
    let db = env.d1("DB")?;
    let rows = db
        .prepare(
            "SELECT id, event_id, event_type, state, attempts, next_attempt_at, created_at \
             FROM webhook_deliveries WHERE endpoint_id = ?1 ORDER BY created_at DESC LIMIT 100",
        )
        .bind(&[id.into()])?
        .all()
        .await?
        .results::<DeliveryRow>()?;
    let attempts = db
        .prepare(
            "SELECT a.delivery_id, a.at, a.trigger, a.status, a.error, a.duration_ms FROM webhook_attempts a \
             JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = ?1 ORDER BY a.id",
        )
        .bind(&[id.into()])?
        .all()
        .await?
        .results::<AttemptRow>()?;
    let deliveries: Vec<serde_json::Value> = rows
        .iter()
        .map(|d| {
            let mine: Vec<&AttemptRow> =
                attempts.iter().filter(|a| a.delivery_id == d.id).collect();
            let mut value = serde_json::to_value(d).unwrap_or_default();
            value["log"] = serde_json::to_value(mine).unwrap_or_default();
            value
        })
        .collect();
    http::json(200, &serde_json::json!({ "deliveries": deliveries }))
}
