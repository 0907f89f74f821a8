//! The central access_token / jsapi_ticket cache in D1 (`wechat_credentials`).
//!
//! Many isolates run at once at the edge; if each fetched its own token they would invalidate
//! one another's (WeChat keeps only the newest plus a 5-minute overlap — the known failure of
//! per-process caches in WeChat SDKs). Here one request takes a lease with a conditional
//! upsert (D1 serialises writes, so exactly one wins), fetches, stores and releases; the
//! others reuse the stored value or poll until it appears. The decision rule is
//! `core::oa_api::CacheEntry::decide`.

use std::time::Duration;

use serde::Deserialize;
use shoukuan_core::oa_api::{expiry_ms, CacheDecision, CacheEntry, LEASE_MS, REFRESH_MARGIN_MS};
use worker::{D1Database, Delay, Env};

use super::{random_alnum, OaClient};
use crate::error::ApiError;
use crate::http::num;
use crate::session::now_ms;

/// How long a request waits for another one's refresh before giving up.
const WAIT_MS: i64 = LEASE_MS + 2_000;
const POLL: Duration = Duration::from_millis(40);

/// What is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The global access_token.
    AccessToken,
    /// The JS-SDK jsapi_ticket.
    JsapiTicket,
}

impl Credential {
    fn name(self) -> &'static str {
        match self {
            Credential::AccessToken => "access_token",
            Credential::JsapiTicket => "jsapi_ticket",
        }
    }
}

#[derive(Deserialize)]
struct Row {
    value: Option<String>,
    expires_at_ms: i64,
    lease_until_ms: i64,
}

#[derive(Deserialize)]
struct Lease {
    invalidated: i64,
}

async fn read(db: &D1Database, credential: Credential) -> Result<Option<Row>, ApiError> {
    Ok(db
        .prepare(
            "SELECT value, expires_at_ms, lease_until_ms FROM wechat_credentials WHERE name = ?1",
        )
        .bind(&[credential.name().into()])?
        .first::<Row>(None)
        .await?)
}

/// Takes the lease if nobody holds it and the value still needs a refresh; returns whether
/// the next fetch must force a new value (WeChat refused the cached one).
async fn try_lease(
    db: &D1Database,
    credential: Credential,
    owner: &str,
    now: i64,
) -> Result<Option<bool>, ApiError> {
    let result = db
        .prepare(
            "INSERT INTO wechat_credentials (name, lease_until_ms, lease_owner) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET lease_until_ms = excluded.lease_until_ms, lease_owner = excluded.lease_owner \
             WHERE wechat_credentials.lease_until_ms <= ?4 AND wechat_credentials.expires_at_ms - ?5 <= ?4 \
             RETURNING invalidated",
        )
        .bind(&[credential.name().into(), num(now + LEASE_MS), owner.into(), num(now), num(REFRESH_MARGIN_MS)])?
        .all()
        .await?;
    Ok(result
        .results::<Lease>()?
        .first()
        .map(|lease| lease.invalidated != 0))
}

/// Fetches a fresh value under the lease, stores it and releases the lease.
async fn refresh(
    db: &D1Database,
    client: &OaClient<'_>,
    credential: Credential,
    owner: &str,
    force: bool,
) -> Result<String, ApiError> {
    let fetched = match credential {
        Credential::AccessToken => client
            .fetch_access_token(force)
            .await
            .map(|t| (t.access_token, t.expires_in)),
        // Boxed: fetching the ticket reads the access_token through this same cache.
        Credential::JsapiTicket => Box::pin(client.fetch_jsapi_ticket())
            .await
            .map(|t| (t.ticket, t.expires_in)),
    };
    match fetched {
        Ok((value, expires_in)) => {
            let now = now_ms();
            db.prepare(
                "UPDATE wechat_credentials SET value = ?3, expires_at_ms = ?4, lease_until_ms = 0, lease_owner = NULL, \
                 invalidated = 0, refreshes = refreshes + 1, updated_at_ms = ?5 WHERE name = ?1 AND lease_owner = ?2",
            )
            .bind(&[
                credential.name().into(),
                owner.into(),
                value.as_str().into(),
                num(expiry_ms(now, expires_in)),
                num(now),
            ])?
            .run()
            .await?;
            Ok(value)
        }
        Err(e) => {
            db.prepare("UPDATE wechat_credentials SET lease_until_ms = 0, lease_owner = NULL WHERE name = ?1 AND lease_owner = ?2")
                .bind(&[credential.name().into(), owner.into()])?
                .run()
                .await?;
            Err(e)
        }
    }
}

/// The current value of `credential`, refreshed by at most one request at a time.
pub async fn get(
    env: &Env,
    client: &OaClient<'_>,
    credential: Credential,
) -> Result<String, ApiError> {
    let db = env.d1("DB")?;
    let owner = random_alnum(16)?;
    let started = now_ms();
    loop {
        let now = now_ms();
        let row = read(&db, credential).await?;
        let entry = row.as_ref().map_or(
            CacheEntry {
                expires_at_ms: 0,
                lease_until_ms: 0,
            },
            |r| CacheEntry {
                expires_at_ms: if r.value.is_some() {
                    r.expires_at_ms
                } else {
                    0
                },
                lease_until_ms: r.lease_until_ms,
            },
        );
        match entry.decide(now) {
            CacheDecision::Use => {
                if let Some(value) = row.and_then(|r| r.value) {
                    return Ok(value);
                }
            }
            CacheDecision::Refresh => {
                if let Some(force) = try_lease(&db, credential, &owner, now).await? {
                    return refresh(&db, client, credential, &owner, force).await;
                }
                // Another request took the lease between the read and the upsert: wait for it.
            }
            CacheDecision::Wait => {}
        }
        if now - started > WAIT_MS {
            return Err(ApiError::Upstream(format!(
                "{} refresh by another request did not finish",
                credential.name()
            )));
        }
        Delay::from(POLL).await;
    }
}

/// Marks `bad` as refused by WeChat so the next [`get`] refreshes (and forces a new value).
/// Only the refused value is invalidated: a fresh one stored meanwhile by another request
/// stays.
pub async fn invalidate(env: &Env, credential: Credential, bad: &str) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare("UPDATE wechat_credentials SET expires_at_ms = 0, invalidated = 1 WHERE name = ?1 AND value = ?2")
        .bind(&[credential.name().into(), bad.into()])?
        .run()
        .await?;
    Ok(())
}
