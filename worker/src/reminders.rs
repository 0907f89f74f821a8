//! "Remind now" for unpaid participants of a split: Official Account template messages, sent
//! through the notices machinery (`crate::notices`: one row per message, WeChat's answer kept
//! and shown to the payee), before the deadline, at most once per participant per 12 hours,
//! never to someone who has paid. Only participants who signed up with an OA session (menu
//! jump → OAuth) can be reached; the others get the group announcement the payee copies from
//! the same page. Scheduled reminders are `crate::notices::schedule`.

use shoukuan_core::notice::NoticeKind;
use shoukuan_core::split::{reminder_data, REMIND_EVERY_SECS};
use worker::{Env, Request, Response};

use crate::collections;
use crate::error::ApiError;
use crate::http;
use crate::notices::{self, Delivered, NewNotice, REMINDER_TEMPLATE};
use crate::session::now_secs;
use crate::splits;
use crate::wechat::OaClient;

/// `POST /api/splits/:id/remind` (manage token): `{ "sent": n, "failed": m }`.
pub async fn remind(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    collections::authorize_manage(id, req, env).await?;
    let (sent, failed) = remind_among(id, None, env).await?;
    http::json(200, &serde_json::json!({ "sent": sent, "failed": failed }))
}

/// Reminds the unpaid participants of split `id` now — only those of `among` (participant
/// ids) when given: a tag's reminder (`growth::tags`, which authorizes the payee itself).
/// `(sent, failed)`.
pub async fn remind_among(
    id: &str,
    among: Option<&[String]>,
    env: &Env,
) -> Result<(u32, u32), ApiError> {
    OaClient::new(env)?;
    let template_id = notices::template(env, REMINDER_TEMPLATE).ok_or(ApiError::Unavailable(
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
    let owner = notices::owner_of(env, id).await?;
    let targets = splits::claim_reminders(env, id, among, now, REMIND_EVERY_SECS).await?;
    let (mut sent, mut failed) = (0u32, 0u32);
    for (pid, _) in targets {
        let due = view
            .participants
            .iter()
            .find(|p| p.id == pid)
            .map(|p| p.due)
            .unwrap_or_default();
        let notice = NewNotice {
            key: format!("remind:{pid}:now:{now}"),
            kind: NoticeKind::Reminder,
            payee: owner.clone(),
            collection_id: Some(id.to_string()),
            participant_id: Some(pid),
            template_id: template_id.clone(),
            data: reminder_data(&collection.title, due, deadline, now),
            path: Some(format!("/c/{id}")),
        };
        match notices::record_and_send(env, notice, now).await? {
            Delivered::Sent => sent += 1,
            Delivered::Refused | Delivered::Pending => failed += 1,
            Delivered::Duplicate | Delivered::Skipped => {}
        }
    }
    Ok((sent, failed))
}
