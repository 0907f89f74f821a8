//! Abuse limits, counted in D1 (`rate_counters`): one upsert per limited request adds a hit to
//! the subject's counter (rolled as `shoukuan_core::ratelimit::Limit::roll` does: the current
//! window's hits and what the window before accepted) and returns it, so concurrent requests
//! each see their own number and at most `max` pass in any interval of the window.
//!
//! Why D1 and not Cloudflare's rate-limiting binding: the binding counts per Cloudflare
//! location and converges eventually (documented as permissive), allows only 10 s or 60 s
//! periods, and is a separate mechanism under `wrangler dev`; the daily upload quota and a
//! split's sign-up cap need exact counts over long windows. D1 is one more write per limited
//! request, on routes that already write.
//!
//! Other features make a [`Guard`] for the request and call [`Guard::check`] with a limit and a
//! subject (the guard's client, or an id), e.g. [`check_order`].
//!
//! `ABUSE_LIMITS=off` switches the counting off for local runs (the end-to-end suite shares
//! one client address across hundreds of requests); it is honoured only with `LOCAL_DEV=1` and
//! on a loopback host, so never in a deployment.

mod cron;

pub use cron::scheduled;
use serde::Deserialize;
use shoukuan_core::ratelimit::{Counter, Limit, ORDER_PER_CLIENT, ORDER_PER_COLLECTION};
use shoukuan_core::session::Openid;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request};

use crate::error::ApiError;
use crate::session::now_secs;

/// Counters whose window ended longer ago than this are deleted by the cron.
const KEEP_COUNTERS_SECS: i64 = 2 * 86_400;

/// The limits as they apply to one request.
pub struct Guard {
    client: String,
    off: bool,
}

impl Guard {
    /// The guard of `req`.
    pub fn new(req: &Request, env: &Env) -> Guard {
        let off = crate::config::setting(env, "ABUSE_LIMITS").as_deref() == Some("off")
            && crate::config::local_dev(env)
            && crate::session::is_loopback(req);
        Guard {
            client: client(req, env),
            off,
        }
    }

    /// The caller as a counter subject.
    pub fn client(&self) -> &str {
        &self.client
    }

    /// Adds one hit for `subject` under `limit`; `true` while within it.
    pub async fn hit(&self, env: &Env, limit: &Limit, subject: &str) -> Result<bool, ApiError> {
        if self.off {
            return Ok(true);
        }
        hit(env, limit, subject).await
    }

    /// Like [`Guard::hit`], but over the limit is the error: 429 `RATE_LIMITED`.
    pub async fn check(&self, env: &Env, limit: &Limit, subject: &str) -> Result<(), ApiError> {
        if self.hit(env, limit, subject).await? {
            return Ok(());
        }
        Err(too_many(limit))
    }

    /// Whether `subject` has used up `limit` in this window (no hit added): for limits counted
    /// on failures only, e.g. wrong invite codes, checked before the attempt.
    pub async fn used_up(&self, env: &Env, limit: &Limit, subject: &str) -> Result<bool, ApiError> {
        if self.off {
            return Ok(false);
        }
        used_up(env, limit, subject).await
    }
}

/// Who is paying, for the daily limit's per-payer hold (`core::limits`): the payer's
/// [`crate::personal_data::openid_key`] inside WeChat, a keyed hash of the client address
/// outside (as [`Guard::client`]). Only equality is ever needed, so the clear value is not kept.
pub fn payer_key(req: &Request, env: &Env, payer: Option<&Openid>) -> String {
    match payer.map(|openid| crate::personal_data::openid_key(env, openid.as_str())) {
        Some(Ok(key)) => key,
        _ => format!("ip:{}", client(req, env)),
    }
}

/// A keyed hash of a client address in `domain` (the key: `SESSION_SECRET`), 32 hex digits
/// (openids have their own: [`crate::personal_data::openid_key`]).
fn keyed(env: &Env, domain: &str, value: &str) -> String {
    let salt = crate::config::secret_setting(env, "SESSION_SECRET")
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    crate::secrets::token_hash(&format!("{salt}|{domain}|{value}"))[..32].to_owned()
}

/// The caller, as a counter subject: a keyed hash of the client address Cloudflare reports
/// (`CF-Connecting-IP`, set by the edge, never by the client), `"unknown"` without one.
fn client(req: &Request, env: &Env) -> String {
    let ip = req
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_default();
    let ip = ip.trim();
    if ip.is_empty() {
        return "unknown".into();
    }
    keyed(env, "client", ip)
}

#[derive(Deserialize)]
struct Row {
    window_start: i64,
    hits: i64,
    carried: i64,
}

impl From<Row> for Counter {
    fn from(r: Row) -> Counter {
        Counter {
            window_start: r.window_start,
            hits: r.hits,
            carried: r.carried,
        }
    }
}

/// Adds one hit for `subject` under `limit`; `true` while it is accepted. The statement is
/// `Limit::roll` plus one hit, in SQL (SET expressions all read the stored row).
async fn hit(env: &Env, limit: &Limit, subject: &str) -> Result<bool, ApiError> {
    let now = now_secs();
    let window = limit.window_start(now);
    let row = env
        .d1("DB")?
        .prepare(
            "INSERT INTO rate_counters (bucket, window_start, hits, carried) VALUES (?1, ?2, 1, 0) \
             ON CONFLICT (bucket) DO UPDATE SET \
               carried = CASE WHEN window_start = excluded.window_start THEN carried \
                 WHEN window_start = excluded.window_start - ?3 THEN MAX(MIN(hits, ?4 - carried), 0) \
                 ELSE 0 END, \
               hits = CASE WHEN window_start = excluded.window_start THEN hits + 1 ELSE 1 END, \
               window_start = excluded.window_start \
             RETURNING window_start, hits, carried",
        )
        .bind(&[
            limit.bucket(subject).into(),
            JsValue::from_f64(window as f64),
            JsValue::from_f64(limit.window_secs as f64),
            JsValue::from_f64(limit.max as f64),
        ])?
        .first::<Row>(None)
        .await?
        .ok_or_else(|| ApiError::Internal("rate counter upsert returned nothing".into()))?;
    Ok(limit.admits(row.into()))
}

async fn used_up(env: &Env, limit: &Limit, subject: &str) -> Result<bool, ApiError> {
    let now = now_secs();
    let stored = env
        .d1("DB")?
        .prepare("SELECT window_start, hits, carried FROM rate_counters WHERE bucket = ?1")
        .bind(&[limit.bucket(subject).into()])?
        .first::<Row>(None)
        .await?;
    let mut next = limit.roll(stored.map(Counter::from), now);
    next.hits += 1;
    Ok(!limit.admits(next))
}

/// The limits on creating orders (each one reserves part of the payee's daily limit and costs a
/// prepay call): per client, and per collection. `pay::orders::create` calls this first.
pub async fn check_order(req: &Request, env: &Env, collection_id: &str) -> Result<(), ApiError> {
    let guard = Guard::new(req, env);
    guard.check(env, &ORDER_PER_CLIENT, guard.client()).await?;
    guard.check(env, &ORDER_PER_COLLECTION, collection_id).await
}

/// The 429 answer for `limit`.
pub fn too_many(limit: &Limit) -> ApiError {
    let wait = limit.retry_after(now_secs());
    let when = if wait >= 120 {
        format!("{} 分钟", (wait + 59) / 60)
    } else {
        format!("{wait} 秒")
    };
    ApiError::Pay(429, "RATE_LIMITED", format!("操作太频繁，请 {when} 后再试"))
}

/// For the cron: forget counters of long-gone windows.
pub async fn prune(env: &Env) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare("DELETE FROM rate_counters WHERE window_start < ?1")
        .bind(&[JsValue::from_f64((now_secs() - KEEP_COUNTERS_SECS) as f64)])?
        .run()
        .await?;
    Ok(())
}
