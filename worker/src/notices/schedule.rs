//! Split reminders on the payee's schedule. The payee chooses slots around the deadline
//! (`PUT /api/splits/:id/reminders {"slots": ["-24h", "-2h", "+1h"]}`, manage token); the
//! minute cron sends, at each open slot (`core::remind_schedule::open_slots`: never in
//! Beijing's quiet hours 22:00–08:00, a held slot goes out at 08:00), one reminder to each
//! participant who signed up through the Official Account and has neither paid nor said
//! 我已付款 — at most one per participant per slot (the slot is in the message's event key).
//! `GET /api/splits/:id/reminders` shows the payee, per participant, every reminder (scheduled
//! or "remind now"), when, and what WeChat answered.

use serde::{Deserialize, Serialize};
use shoukuan_core::deadline::Deadline;
use shoukuan_core::notice::{explain, NoticeKind};
use shoukuan_core::remind_schedule::{
    is_quiet, label, open_slots, Slots, LATE_SECS, MAX_AFTER_SECS, MAX_BEFORE_SECS,
};
use shoukuan_core::split::reminder_data;
use worker::{Env, Request, Response};

use super::{db, num, record_and_send, record_skipped, template, NewNotice, REMINDER_TEMPLATE};
use crate::collections;
use crate::error::ApiError;
use crate::http;
use crate::session::now_secs;

#[derive(Deserialize)]
struct SlotsBody {
    slots: Vec<String>,
}

/// `PUT /api/splits/:id/reminders` (manage token): the slots, replacing any before.
pub async fn put_slots(id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    collections::authorize_manage(id, &req, env).await?;
    let body: SlotsBody = http::read_json(&mut req).await?;
    let slots = Slots::parse(&body.slots).map_err(|e| {
        ApiError::Invalid(vec![shoukuan_core::collection::FieldError {
            field: "slots".into(),
            code: "INVALID_SLOTS".into(),
            message: e.to_string(),
        }])
    })?;
    let deadline = crate::splits::reminder_context(id, env).await?.1;
    if deadline.is_none() && !slots.offsets().is_empty() {
        return Err(ApiError::Conflict(
            "NO_DEADLINE",
            "这个接龙没有截止时间，不能按截止时间定时提醒",
        ));
    }
    let offsets = serde_json::to_string(&slots).map_err(|e| ApiError::Internal(e.to_string()))?;
    db(env)?
        .prepare(
            "INSERT INTO split_reminder_slots (collection_id, offsets, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (collection_id) DO UPDATE SET offsets = excluded.offsets, updated_at = excluded.updated_at",
        )
        .bind(&[id.into(), offsets.into(), num(now_secs())])?
        .run()
        .await?;
    http::json(200, &serde_json::json!({ "slots": slots.labels() }))
}

/// One message to a participant, as the payee sees it.
#[derive(Serialize, Deserialize)]
struct Sent {
    participant_id: String,
    event_key: String,
    state: String,
    errcode: Option<i64>,
    created_at: i64,
    sent_at: Option<i64>,
}

#[derive(Serialize)]
struct SentView {
    /// `-24h` for a slot, `now` for the manual reminder.
    slot: String,
    state: String,
    errcode: Option<i64>,
    /// What WeChat's answer means (Chinese), when it refused.
    explanation: Option<&'static str>,
    at: i64,
}

/// `GET /api/splits/:id/reminders` (manage token).
pub async fn get_slots(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct Stored {
        offsets: String,
    }
    #[derive(Deserialize)]
    struct Who {
        id: String,
        seq: i64,
        name_masked: String,
        oa: i64,
        status: String,
    }
    collections::authorize_manage(id, req, env).await?;
    let db = db(env)?;
    let slots = db
        .prepare("SELECT offsets FROM split_reminder_slots WHERE collection_id = ?1")
        .bind(&[id.into()])?
        .first::<Stored>(None)
        .await?
        .map(|s| serde_json::from_str::<Slots>(&s.offsets))
        .transpose()
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .unwrap_or_default();
    let sent = db
        .prepare(
            "SELECT participant_id, event_key, state, errcode, created_at, sent_at FROM notices \
             WHERE collection_id = ?1 AND kind = 'reminder' AND state <> 'skipped' ORDER BY created_at, id LIMIT 2000",
        )
        .bind(&[id.into()])?
        .all()
        .await?
        .results::<Sent>()?;
    let people = db
        .prepare(
            "SELECT id, seq, name_masked, (openid_sealed IS NOT NULL) AS oa, status FROM participants \
             WHERE collection_id = ?1 ORDER BY seq",
        )
        .bind(&[id.into()])?
        .all()
        .await?
        .results::<Who>()?;
    let participants: Vec<serde_json::Value> = people
        .into_iter()
        .map(|p| {
            let sends: Vec<SentView> = sent
                .iter()
                .filter(|s| s.participant_id == p.id)
                .map(|s| SentView {
                    slot: slot_of(&s.event_key),
                    state: s.state.clone(),
                    errcode: s.errcode,
                    explanation: s.errcode.map(explain),
                    at: s.sent_at.unwrap_or(s.created_at),
                })
                .collect();
            serde_json::json!({
                "id": p.id, "seq": p.seq, "name": p.name_masked, "status": p.status,
                "oa_connected": p.oa != 0, "sends": sends,
            })
        })
        .collect();
    http::json(
        200,
        &serde_json::json!({
            "configured": template(env, REMINDER_TEMPLATE).is_some(),
            "slots": slots.labels(),
            "quiet_hours": "22:00–08:00",
            "participants": participants,
        }),
    )
}

/// `remind:<pid>:<offset>` → `-24h`; `remind:<pid>:now:<t>` → `now`.
fn slot_of(key: &str) -> String {
    let rest = key.rsplit(':').next().unwrap_or("");
    if key.contains(":now:") {
        return "now".into();
    }
    rest.parse::<i64>().map_or_else(|_| rest.to_string(), label)
}

/// The cron: every open slot of every split with slots around its deadline.
pub async fn send_due(env: &Env, now: i64) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Due {
        collection_id: String,
        title: String,
        owner_openid: Option<String>,
        deadline: i64,
        offsets: String,
        updated_at: i64,
    }
    if is_quiet(now) {
        return Ok(());
    }
    let Some(template_id) = template(env, REMINDER_TEMPLATE) else {
        return Ok(());
    };
    let splits = db(env)?
        .prepare(
            "SELECT s.collection_id, c.title, c.owner_openid, s.deadline, r.offsets, r.updated_at \
             FROM split_reminder_slots r JOIN splits s ON s.collection_id = r.collection_id \
             JOIN collections c ON c.id = r.collection_id \
             WHERE c.status = 'open' AND s.deadline BETWEEN ?1 AND ?2 LIMIT 100",
        )
        .bind(&[
            num(now - MAX_AFTER_SECS - LATE_SECS - 86_400),
            num(now + MAX_BEFORE_SECS),
        ])?
        .all()
        .await?
        .results::<Due>()?;
    for split in splits {
        let slots: Slots =
            serde_json::from_str(&split.offsets).map_err(|e| ApiError::Internal(e.to_string()))?;
        let open = open_slots(&slots, split.deadline, split.updated_at, now);
        let Some((&latest, earlier)) = open.split_last() else {
            continue;
        };
        let targets = targets(env, &split.collection_id, latest).await?;
        if targets.is_empty() {
            continue;
        }
        let view = crate::splits::find_public_view(&split.collection_id, env)
            .await?
            .ok_or(ApiError::NotFound)?;
        let deadline = Some(Deadline::from_unix(split.deadline));
        for pid in targets {
            let due = view
                .participants
                .iter()
                .find(|p| p.id == pid)
                .map(|p| p.due)
                .unwrap_or_default();
            let notice = |offset: i64| NewNotice {
                key: format!("remind:{pid}:{offset}"),
                kind: NoticeKind::Reminder,
                payee: split.owner_openid.clone(),
                collection_id: Some(split.collection_id.clone()),
                participant_id: Some(pid.clone()),
                template_id: template_id.clone(),
                data: reminder_data(&split.title, due, deadline, now),
                path: Some(format!("/c/{}", split.collection_id)),
            };
            // Slots that opened together: one reminder (the latest), the others passed over.
            for &offset in earlier {
                record_skipped(env, notice(offset), now).await?;
            }
            record_and_send(env, notice(latest), now).await?;
        }
    }
    Ok(())
}

/// Participants slot `offset` of split `id` still has to reach: signed up through the
/// Official Account, neither paid nor claimed, no message for this slot yet.
async fn targets(env: &Env, id: &str, offset: i64) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    struct Pid {
        id: String,
    }
    let suffix = format!(":{offset}");
    Ok(db(env)?
        .prepare(
            "SELECT p.id FROM participants p WHERE p.collection_id = ?1 AND p.status = 'joined' \
             AND p.openid_sealed IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM notices n WHERE n.event_key = 'remind:' || p.id || ?2) ORDER BY p.seq LIMIT 1000",
        )
        .bind(&[id.into(), suffix.as_str().into()])?
        .all()
        .await?
        .results::<Pid>()?
        .into_iter()
        .map(|p| p.id)
        .collect())
}
