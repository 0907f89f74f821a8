//! The payee's notice settings and log (`/dash`):
//! - `GET /api/dash/notices`: whether notices are configured (and why not), the payee's
//!   switches, and the latest messages with WeChat's answer for each;
//! - `PUT /api/dash/notices/settings` `{ "notices": bool, "digest": bool }`.

use serde::{Deserialize, Serialize};
use shoukuan_core::notice::explain;
use worker::{Env, Request, Response};

use super::{db, template, NOTICE_TEMPLATE, REMINDER_TEMPLATE};
use crate::error::ApiError;
use crate::http::{self, num};
use crate::session::{now_secs, require_approved_payee};

/// A payee's switches.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Settings {
    /// A message for every payment, refund and claim.
    pub notices: bool,
    /// The 20:00 digest.
    pub digest: bool,
}

async fn settings_of(env: &Env, openid: &str) -> Result<Settings, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        notices: i64,
        digest: i64,
    }
    let row = db(env)?
        .prepare("SELECT notices, digest FROM notice_settings WHERE openid = ?1")
        .bind(&[openid.into()])?
        .first::<Row>(None)
        .await?;
    Ok(row.map_or(
        Settings {
            notices: true,
            digest: false,
        },
        |r| Settings {
            notices: r.notices != 0,
            digest: r.digest != 0,
        },
    ))
}

#[derive(Deserialize)]
struct Line {
    kind: String,
    collection_id: Option<String>,
    data: String,
    path: Option<String>,
    state: String,
    errcode: Option<i64>,
    attempts: i64,
    created_at: i64,
    sent_at: Option<i64>,
}

/// `GET /api/dash/notices`
pub async fn get(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let openid = require_approved_payee(req, env).await?;
    let configured = template(env, NOTICE_TEMPLATE).is_some();
    let lines = db(env)?
        .prepare(
            "SELECT kind, collection_id, data, path, state, errcode, attempts, created_at, sent_at FROM notices \
             WHERE payee_openid = ?1 AND state <> 'skipped' ORDER BY created_at DESC, id DESC LIMIT 50",
        )
        .bind(&[openid.as_str().into()])?
        .all()
        .await?
        .results::<Line>()?;
    let recent: Vec<serde_json::Value> = lines
        .into_iter()
        .map(|l| {
            let data: serde_json::Value = serde_json::from_str(&l.data).unwrap_or_default();
            serde_json::json!({
                "kind": l.kind,
                "collection_id": l.collection_id,
                "fields": data.as_object().map(|o| {
                    o.iter().map(|(k, v)| (k.clone(), v["value"].clone())).collect::<serde_json::Map<_, _>>()
                }),
                "path": l.path,
                "state": l.state,
                "errcode": l.errcode,
                "explanation": l.errcode.map(explain),
                "attempts": l.attempts,
                "at": l.sent_at.unwrap_or(l.created_at),
            })
        })
        .collect();
    http::json(
        200,
        &serde_json::json!({
            "configured": configured,
            "reminders_configured": template(env, REMINDER_TEMPLATE).is_some(),
            "off_reason": (!configured).then_some(
                "本站未配置到账提醒模板（WECHAT_NOTICE_TEMPLATE_ID），到账提醒和每日汇总已关闭"
            ),
            "settings": settings_of(env, openid.as_str()).await?,
            "digest_time": "20:00",
            "recent": recent,
        }),
    )
}

/// `PUT /api/dash/notices/settings`
pub async fn put_settings(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let openid = require_approved_payee(&req, env).await?;
    let settings: Settings = http::read_json(&mut req).await?;
    db(env)?
        .prepare(
            "INSERT INTO notice_settings (openid, notices, digest, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (openid) DO UPDATE SET notices = excluded.notices, digest = excluded.digest, \
             updated_at = excluded.updated_at",
        )
        .bind(&[
            openid.as_str().into(),
            num(i64::from(settings.notices)),
            num(i64::from(settings.digest)),
            num(now_secs()),
        ])?
        .run()
        .await?;
    http::json(200, &settings)
}
