//! Sending deliveries: the cron's due ones (leased first, so two overlapping runs never send
//! the same attempt twice) and manual resends. Every attempt is logged with its status code or
//! network error; the body is never logged.

use serde::Deserialize;
use shoukuan_core::webhook;
use worker::wasm_bindgen::JsValue;
use worker::{AbortController, Env, Fetch, Headers, Method, Request, RequestInit, Response};

use super::SECRET_COLUMN;
use crate::error::ApiError;
use crate::http;
use crate::personal_data;
use crate::session::{now_secs, Manager};

/// How long one attempt may take.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Deliveries one cron run sends at most (the rest wait for the next minute).
const BATCH: usize = 20;

/// How long a leased delivery is held before another run may try it.
const LEASE_SECS: i64 = 120;

#[derive(Deserialize)]
struct Due {
    id: String,
    endpoint_id: String,
    body: String,
    attempts: i64,
    first_attempt_at: Option<i64>,
    state: String,
    url: String,
    secret_sealed: String,
    owner_openid: Option<String>,
}

const DUE_COLUMNS: &str = "d.id, d.endpoint_id, d.body, d.attempts, d.first_attempt_at, d.state, \
                           e.url, e.secret_sealed, e.owner_openid";

/// The cron's share: every due delivery, at `now`.
pub async fn scheduled(env: &Env, now: i64) {
    if let Err(e) = run(env, now).await {
        worker::console_error!("webhook deliveries: {e:?}");
    }
}

async fn run(env: &Env, now: i64) -> Result<(), ApiError> {
    if let Err(e) = super::report::queue_day_reports(env, now).await {
        worker::console_error!("webhook day reports: {e:?}");
    }
    let db = env.d1("DB")?;
    let due = db
        .prepare(format!(
            "SELECT {DUE_COLUMNS} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 AND e.disabled_at IS NULL \
             ORDER BY d.next_attempt_at LIMIT {BATCH}"
        ))
        .bind(&[JsValue::from_f64(now as f64)])?
        .all()
        .await?
        .results::<Due>()?;
    for delivery in due {
        // The lease: only the run that moves next_attempt_at sends.
        let leased = db
            .prepare(
                "UPDATE webhook_deliveries SET next_attempt_at = ?2 \
                 WHERE id = ?1 AND state = 'pending' AND next_attempt_at <= ?3 RETURNING id",
            )
            .bind(&[
                delivery.id.as_str().into(),
                JsValue::from_f64((now + LEASE_SECS) as f64),
                JsValue::from_f64(now as f64),
            ])?
            .all()
            .await?
            .results::<serde_json::Value>()?;
        if leased.is_empty() {
            continue;
        }
        let ok = attempt(env, &delivery, now, "cron").await?;
        let attempts = delivery.attempts + 1;
        let first = delivery.first_attempt_at.unwrap_or(now);
        let (state, next) = if ok {
            ("delivered", None)
        } else {
            match webhook::next_attempt_at(first, u32::try_from(attempts).unwrap_or(u32::MAX)) {
                Some(at) => ("pending", Some(at)),
                None => ("failed", None),
            }
        };
        db.prepare(
            "UPDATE webhook_deliveries SET state = ?2, attempts = ?3, first_attempt_at = ?4, next_attempt_at = ?5 \
             WHERE id = ?1",
        )
        .bind(&[
            delivery.id.as_str().into(),
            state.into(),
            JsValue::from_f64(attempts as f64),
            JsValue::from_f64(first as f64),
            next.map_or(JsValue::NULL, |n| JsValue::from_f64(n as f64)),
        ])?
        .run()
        .await?;
    }
    Ok(())
}

/// One POST of a delivery at `now`, logged; `true` on a 2xx answer.
async fn attempt(env: &Env, delivery: &Due, now: i64, trigger: &str) -> Result<bool, ApiError> {
    let key = personal_data::key(env)?;
    let secret = personal_data::open(&key, SECRET_COLUMN, &delivery.secret_sealed)?;
    let header = webhook::signature_header(&secret, now, delivery.body.as_bytes());
    let started = worker::Date::now().as_millis();
    let outcome = post(&delivery.url, &header, &delivery.body).await;
    let duration = worker::Date::now().as_millis().saturating_sub(started);
    let (status, error) = match &outcome {
        Ok(status) => (Some(*status), None),
        Err(e) => (None, Some(e.clone())),
    };
    env.d1("DB")?
        .prepare(
            "INSERT INTO webhook_attempts (delivery_id, at, trigger, status, error, duration_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&[
            delivery.id.as_str().into(),
            JsValue::from_f64(now as f64),
            trigger.into(),
            status.map_or(JsValue::NULL, |s| JsValue::from_f64(f64::from(s))),
            error.as_deref().map_or(JsValue::NULL, JsValue::from_str),
            JsValue::from_f64(duration as f64),
        ])?
        .run()
        .await?;
    worker::console_log!(
        "webhook {} to endpoint {} ({trigger}): {}",
        delivery.id,
        delivery.endpoint_id,
        status.map_or_else(|| "network error".to_string(), |s| s.to_string())
    );
    Ok(status.is_some_and(|s| (200..300).contains(&s)))
}

/// POSTs the body; the status code, or the network error (never the body).
async fn post(url: &str, signature: &str, body: &str) -> Result<u16, String> {
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value).map_err(|e| e.to_string());
    set("content-type", "application/json")?;
    set("user-agent", "shoukuan-webhooks/1")?;
    set(webhook::SIGNATURE_HEADER, signature)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(body)));
    let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let controller = AbortController::default();
    let signal = controller.signal();
    match http::within(TIMEOUT, Fetch::Request(request).send_with_signal(&signal)).await {
        Some(Ok(response)) => Ok(response.status_code()),
        Some(Err(e)) => Err(e.to_string()),
        None => {
            controller.abort();
            Err(format!("no answer in {} s", TIMEOUT.as_secs()))
        }
    }
}

/// `POST /api/dash/webhooks/deliveries/:id/resend`: one attempt now, whatever the state. A
/// success marks the delivery delivered; a failure leaves its schedule as it was.
pub async fn resend(manager: &Manager, id: &str, env: &Env) -> Result<Response, ApiError> {
    let delivery = env
        .d1("DB")?
        .prepare(format!(
            "SELECT {DUE_COLUMNS} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.id = ?1"
        ))
        .bind(&[id.into()])?
        .first::<Due>(None)
        .await?
        .ok_or(ApiError::Missing("推送记录"))?;
    if manager.owner() != delivery.owner_openid.as_deref() {
        return Err(ApiError::Missing("推送记录"));
    }
    let now = now_secs();
    let ok = attempt(env, &delivery, now, "resend").await?;
    if ok {
        env.d1("DB")?
            .prepare(
                "UPDATE webhook_deliveries SET state = 'delivered', next_attempt_at = NULL, attempts = attempts + 1, \
                 first_attempt_at = COALESCE(first_attempt_at, ?2) WHERE id = ?1",
            )
            .bind(&[id.into(), JsValue::from_f64(now as f64)])?
            .run()
            .await?;
    }
    let state = if ok {
        "delivered"
    } else {
        delivery.state.as_str()
    };
    http::json(
        200,
        &serde_json::json!({ "id": id, "delivered": ok, "state": state }),
    )
}
