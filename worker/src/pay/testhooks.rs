//! Switches for the end-to-end tests and the RSA measurement, answered only when
//! `PAY_TEST_HOOKS=1` (never set in production; otherwise every route here is a 404).
//!
//! - `POST /api/test/pay/faults` `{out_trade_no, count}`: the next `count` verified callbacks
//!   of that order are answered 500, as if the worker were down.
//! - `POST /api/test/pay/age` `{order_id, seconds}`: moves an order's creation and expiry
//!   into the past (the cron's close path without waiting half an hour).
//! - `POST /api/test/pay/bench` `{n, rsa, op, headers, body_b64}`: runs the callback's CPU
//!   work `n` times in one request with one RSA back end — `op: "verify"` is verify + parse +
//!   decrypt of a real signed callback, `op: "sign"` is one merchant SHA256withRSA signature.
//!   Wall time measured from outside, minus an `n = 0` run, divided by `n`, is the CPU time
//!   per operation (workerd freezes its clocks during execution, so it cannot time itself).

use base64::Engine as _;
use serde::Deserialize;
use shoukuan_core::wechatpay::{KeySet, Notification, PendingVerification, SignedHeaders};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::certs;
use super::config::{PayConfig, RsaBackend};
use super::crypto;
use crate::error::ApiError;
use crate::http;
use crate::session::now_secs;

pub(super) fn enabled(env: &Env) -> Result<std::rc::Rc<PayConfig>, ApiError> {
    PayConfig::get(env)
        .filter(|c| c.test_hooks)
        .ok_or(ApiError::NotFound)
}

#[derive(Deserialize)]
struct Fault {
    out_trade_no: String,
    count: i64,
}

/// `POST /api/test/pay/faults`.
pub async fn faults(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    enabled(env)?;
    let body: Fault = http::read_json(&mut req).await?;
    env.d1("DB")?
        .prepare(
            "INSERT INTO pay_test_faults (out_trade_no, remaining) VALUES (?1, ?2) \
             ON CONFLICT (out_trade_no) DO UPDATE SET remaining = excluded.remaining",
        )
        .bind(&[
            body.out_trade_no.as_str().into(),
            JsValue::from_f64(body.count as f64),
        ])?
        .run()
        .await?;
    http::json(
        200,
        &serde_json::json!({ "out_trade_no": body.out_trade_no, "remaining": body.count }),
    )
}

#[derive(Deserialize)]
struct Age {
    order_id: String,
    seconds: i64,
}

/// `POST /api/test/pay/age`.
pub async fn age(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    enabled(env)?;
    let body: Age = http::read_json(&mut req).await?;
    let shift = JsValue::from_f64(body.seconds as f64);
    env.d1("DB")?
        .prepare("UPDATE orders SET created_at = created_at - ?2, expires_at = expires_at - ?2 WHERE id = ?1")
        .bind(&[body.order_id.as_str().into(), shift])?
        .run()
        .await?;
    http::json(
        200,
        &serde_json::json!({ "order_id": body.order_id, "aged_by": body.seconds }),
    )
}

#[derive(Deserialize)]
struct Bench {
    n: u32,
    rsa: String,
    op: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body_b64: String,
}

/// `POST /api/test/pay/bench`.
pub async fn bench(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let config = enabled(env)?;
    let bench: Bench = http::read_json(&mut req).await?;
    let backend = RsaBackend::parse(&bench.rsa)
        .ok_or_else(|| ApiError::BadJson("rsa: webcrypto|rust".into()))?;
    let mut ok = 0u32;
    match bench.op.as_str() {
        "verify" => {
            let body = base64::engine::general_purpose::STANDARD
                .decode(&bench.body_b64)
                .map_err(|e| ApiError::BadJson(e.to_string()))?;
            let headers = SignedHeaders::from_pairs(
                bench.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .map_err(|e| ApiError::BadJson(e.to_string()))?;
            let keys: KeySet = certs::key_set(&config, &[]);
            for _ in 0..bench.n {
                let pending = PendingVerification::prepare(&headers, &body, &keys, now_secs())
                    .map_err(|e| ApiError::BadJson(e.to_string()))?;
                if crypto::finish(backend, pending).await.is_ok() {
                    let decrypted =
                        Notification::parse(&body).and_then(|n| n.decrypt(&config.apiv3_key));
                    if decrypted.is_ok() {
                        ok += 1;
                    }
                }
            }
        }
        "sign" => {
            let config = PayConfig {
                rsa: backend,
                ..(*config).clone()
            };
            for i in 0..bench.n {
                let message = format!("GET\n/v3/certificates\n{}\nbench{i}\n\n", now_secs());
                if crypto::sign_base64(&config, message.as_bytes())
                    .await
                    .is_ok()
                {
                    ok += 1;
                }
            }
        }
        other => return Err(ApiError::BadJson(format!("op {other:?}: verify|sign"))),
    }
    http::json(
        200,
        &serde_json::json!({ "n": bench.n, "ok": ok, "rsa": backend.as_str(), "op": bench.op }),
    )
}
