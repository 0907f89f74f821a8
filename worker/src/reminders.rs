//! "Remind now" for unpaid participants of a split: Official Account template messages, sent
//! through the notices machinery (`crate::notices`: one row per message, WeChat's answer kept
//! and shown to the payee), before the deadline, at most once per participant per 12 hours,
//! never to someone who has paid. Only participants who signed up with an OA session (menu
//! jump → OAuth) can be reached; the others get the group announcement the payee copies from
//! the same page. Like scheduled reminders (`crate::notices::schedule`), "remind now" keeps
//! Beijing's quiet hours: pressed between 22:00 and 08:00 the reminders are recorded at once
//! (the 12-hour window starts then) and held until 08:00, when the notices cron sends them
//! (`core::remind_schedule::manual_remind`).

use shoukuan_core::notice::NoticeKind;
use shoukuan_core::remind_schedule::{manual_remind, ManualRemind};
use shoukuan_core::split::{reminder_data, REMIND_EVERY_SECS};
use worker::{Env, Request, Response};

use crate::collections;
use crate::error::ApiError;
use crate::http;
use crate::notices::{self, Delivered, NewNotice, REMINDER_TEMPLATE};
use crate::session::now_secs;
use crate::splits;
use crate::wechat::OaClient;

/// The time a request acts at: the clock, or — with the test hooks on (`PAY_TEST_HOOKS=1`,
/// never in production) — the `x-test-now` header's Unix seconds, so quiet hours can be tested
/// at any hour.
pub fn request_now(req: &Request, env: &Env) -> i64 {
    crate::pay::test_hooks_enabled(env)
        .ok()
        .and_then(|()| req.headers().get("x-test-now").ok().flatten())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or_else(now_secs)
}

/// `POST /api/splits/:id/remind` (manage token): `{ "sent": n, "failed": m, "held": h,
/// "held_until": t | null }` — `held` reminders wait for 08:00 (quiet hours).
pub async fn remind(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    collections::authorize_manage(id, req, env).await?;
    let outcome = remind_among(id, None, request_now(req, env), env).await?;
    http::json(200, &outcome)
}

/// What a "remind now" did: sent, refused or unreachable, and held for quiet hours (until
/// `held_until`).
#[derive(serde::Serialize)]
pub struct Reminded {
    pub sent: u32,
    pub failed: u32,
    pub held: u32,
    pub held_until: Option<i64>,
}

/// Reminds the unpaid participants of split `id` at `now` — only those of `among`
/// (participant ids) when given: a tag's reminder (`growth::tags`, which authorizes the payee
/// itself). Quiet hours hold the messages until 08:00 either way.
pub async fn remind_among(
    id: &str,
    among: Option<&[String]>,
    now: i64,
    env: &Env,
) -> Result<Reminded, ApiError> {
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
    let timing = manual_remind(now);
    // Dues as the public list shows them (the amount in the message).
    let view = splits::find_public_view(id, env)
        .await?
        .ok_or(ApiError::NotFound)?;
    let owner = notices::owner_of(env, id).await?;
    let targets = splits::claim_reminders(env, id, among, now, REMIND_EVERY_SECS).await?;
    let (mut sent, mut failed, mut held) = (0u32, 0u32, 0u32);
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
        if let ManualRemind::HeldUntil(until) = timing {
            held += u32::from(notices::record_held(env, notice, now, until).await?);
            continue;
        }
        match notices::record_and_send(env, notice, now).await? {
            Delivered::Sent => sent += 1,
            Delivered::Refused | Delivered::Pending => failed += 1,
            Delivered::Duplicate | Delivered::Skipped => {}
        }
    }
    let held_until = match timing {
        ManualRemind::HeldUntil(until) => Some(until),
        ManualRemind::Now => None,
    };
    Ok(Reminded {
        sent,
        failed,
        held,
        held_until,
    })
}
