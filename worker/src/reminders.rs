//! Reminders for unpaid participants of a split: Official Account template messages, sent
//! through the one OA client (`crate::wechat`, which owns the access_token), before the
//! deadline, at most once per participant per 12 hours, never to someone who has paid.
//! Only participants who signed up with an OA session (menu jump → OAuth) can be reached; the
//! others get the group announcement the payee copies from the same page.

use shoukuan_core::split::{reminder_message, REMIND_EVERY_SECS};
use worker::{Env, Method, Request, Response};

use crate::collections;
use crate::config::setting;
use crate::error::ApiError;
use crate::http;
use crate::session::{now_secs, public_origin};
use crate::splits;
use crate::wechat::OaClient;

/// `POST /api/splits/:id/remind` (manage token): `{ "sent": n, "failed": m }`.
pub async fn remind(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    collections::authorize_manage(id, req, env).await?;
    let client = OaClient::new(env)?;
    let template_id = setting(env, "WECHAT_REMINDER_TEMPLATE_ID").ok_or(ApiError::Unavailable(
        "REMINDER_TEMPLATE_MISSING",
        "未配置提醒模板（WECHAT_REMINDER_TEMPLATE_ID），请复制群公告提醒",
    ))?;
    let (collection, deadline, over) = splits::reminder_context(id, env).await?;
    if over {
        return Err(ApiError::Conflict(
            "DEADLINE_PASSED",
            "接龙已截止，不再发送提醒",
        ));
    }
    let now = now_secs();
    // Dues as the public list shows them (the amount in the message).
    let view = splits::find_public_view(id, env)
        .await?
        .ok_or(ApiError::NotFound)?;
    let url = format!("{}/c/{id}", public_origin(req, env)?);
    let targets = splits::claim_reminders(env, id, now, REMIND_EVERY_SECS).await?;
    let db = env.d1("DB")?;
    let (mut sent, mut failed) = (0u32, 0u32);
    for (pid, openid) in targets {
        let due = view
            .participants
            .iter()
            .find(|p| p.id == pid)
            .map(|p| p.due)
            .unwrap_or_default();
        let body = reminder_message(
            &openid,
            &template_id,
            &url,
            &collection.title,
            due,
            deadline,
        );
        let outcome = match client
            .call(
                Method::Post,
                "/cgi-bin/message/template/send",
                &[],
                Some(&body),
            )
            .await
        {
            Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) if v["errcode"].as_i64() == Some(0) => Ok(v["msgid"].to_string()),
                Ok(v) => Err(format!("errcode {}", v["errcode"])),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(format!("{e:?}")),
        };
        let (label, msgid) = match &outcome {
            Ok(msgid) => {
                sent += 1;
                ("sent", Some(msgid.clone()))
            }
            Err(why) => {
                // The openid is personal data: only the participant id goes to the log.
                worker::console_error!("reminder to participant {pid} failed: {why}");
                failed += 1;
                ("failed", None)
            }
        };
        db.prepare(
            "INSERT INTO split_reminders (participant_id, collection_id, outcome, msgid, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&[
            pid.as_str().into(),
            id.into(),
            label.into(),
            msgid.map_or(worker::wasm_bindgen::JsValue::NULL, |m| m.as_str().into()),
            worker::wasm_bindgen::JsValue::from_f64(now as f64),
        ])?
        .run()
        .await?;
    }
    http::json(200, &serde_json::json!({ "sent": sent, "failed": failed }))
}
