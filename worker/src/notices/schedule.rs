//! Split reminders on the payee's schedule. The payee chooses slots around the deadline
//! (`PUT /api/splits/:id/reminders {"slots": ["-24h", "-2h", "+1h"]}`, manage token); the
//! minute cron sends, at each open slot (`core::remind_schedule::open_slots`: never in
//! Beijing's quiet hours 22:00–08:00, a held slot goes out at 08:00), one reminder to each
//! participant who signed up through the Official Account and has neither paid nor said
//! 我已付款 — at most one per participant per slot (the slot is in the message's event key).
//! A directed debtor's own due date, when they have one, is the deadline their slots count
//! from (`core::remind_schedule::deadline_of`).
//! `GET /api/splits/:id/reminders` shows the payee, per participant, every reminder (scheduled
//! or "remind now"), when, and what WeChat answered.

use serde::{Deserialize, Serialize};
use shoukuan_core::deadline::Deadline;
use shoukuan_core::notice::{explain, NoticeKind};
use shoukuan_core::remind_schedule::{
    deadline_of, is_quiet, label, manual_remind, participant_open_slots, ManualRemind, Slots,
    LATE_SECS, MAX_AFTER_SECS, MAX_BEFORE_SECS,
};
use shoukuan_core::split::{reminder_data, REMIND_EVERY_SECS};
use worker::{Env, Request, Response};

use super::{db, record_and_send, record_skipped, template, NewNotice, REMINDER_TEMPLATE};
use crate::collections;
use crate::error::ApiError;
use crate::http::{self, num};
use crate::personal_data::{self, column};
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
    if !slots.offsets().is_empty() && !has_deadline(id, env).await? {
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

/// Whether split `id` has a deadline reminders can count from: its own, or a directed
/// debtor's due date.
async fn has_deadline(id: &str, env: &Env) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct N {
        n: i64,
    }
    if crate::splits::reminder_context(id, env).await?.1.is_some() {
        return Ok(true);
    }
    Ok(db(env)?
        .prepare("SELECT COUNT(*) AS n FROM directed_debts WHERE collection_id = ?1 AND due_at IS NOT NULL")
        .bind(&[id.into()])?
        .first::<N>(None)
        .await?
        .is_some_and(|r| r.n > 0))
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
    not_before: Option<i64>,
}

#[derive(Serialize)]
struct SentView {
    /// `-24h` for a slot, `now` for the manual reminder.
    slot: String,
    /// `sent`, `failed`, `pending`, or `held` (waiting for 08:00, see `held_until`).
    state: String,
    errcode: Option<i64>,
    /// What WeChat's answer means (Chinese), when it refused.
    explanation: Option<&'static str>,
    at: i64,
    held_until: Option<i64>,
}

/// `GET /api/splits/:id/reminders` (manage token): the slots, whether reminders are
/// configured, the quiet hours and the manual window, and per participant (full name, as on
/// the payee's page) their own due date, the last "remind now", every reminder with WeChat's
/// answer, and their latest transfer screenshot's time when they attached one.
pub async fn get_slots(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct Stored {
        offsets: String,
    }
    #[derive(Deserialize)]
    struct Who {
        id: String,
        seq: i64,
        name_sealed: String,
        oa: i64,
        status: String,
        reminded_at: Option<i64>,
        due_at: Option<i64>,
        proof_at: Option<i64>,
    }
    collections::authorize_manage(id, req, env).await?;
    let now = crate::reminders::request_now(req, env);
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
            "SELECT participant_id, event_key, state, errcode, created_at, sent_at, not_before FROM notices \
             WHERE collection_id = ?1 AND kind = 'reminder' AND state <> 'skipped' ORDER BY created_at, id LIMIT 2000",
        )
        .bind(&[id.into()])?
        .all()
        .await?
        .results::<Sent>()?;
    let people = db
        .prepare(
            "SELECT p.id, p.seq, p.name_sealed, (p.openid_sealed IS NOT NULL) AS oa, p.status, p.reminded_at, \
             d.due_at, (SELECT MAX(created_at) FROM claim_proofs f WHERE f.participant_id = p.id) AS proof_at \
             FROM participants p LEFT JOIN directed_debts d ON d.participant_id = p.id \
             WHERE p.collection_id = ?1 ORDER BY p.seq",
        )
        .bind(&[id.into()])?
        .all()
        .await?
        .results::<Who>()?;
    let key = personal_data::key(env)?;
    let mut participants = Vec::new();
    for p in people {
        let sends: Vec<SentView> = sent
            .iter()
            .filter(|s| s.participant_id == p.id)
            .map(|s| {
                let held = s.state == "pending" && s.not_before.is_some_and(|t| t > now);
                SentView {
                    slot: slot_of(&s.event_key),
                    state: if held { "held".into() } else { s.state.clone() },
                    errcode: s.errcode,
                    explanation: s.errcode.map(explain),
                    at: s.sent_at.unwrap_or(s.created_at),
                    held_until: s.not_before.filter(|_| held),
                }
            })
            .collect();
        participants.push(serde_json::json!({
            "id": p.id, "seq": p.seq,
            "name": personal_data::open(&key, column::NAME, &p.name_sealed)?,
            "status": p.status, "oa_connected": p.oa != 0, "due_at": p.due_at,
            "reminded_at": p.reminded_at,
            "next_manual_at": p.reminded_at.map(|t| t + REMIND_EVERY_SECS).filter(|&t| t > now),
            "proof_at": p.proof_at, "sends": sends,
        }));
    }
    let held_until = match manual_remind(now) {
        ManualRemind::HeldUntil(until) => Some(until),
        ManualRemind::Now => None,
    };
    http::json(
        200,
        &serde_json::json!({
            "configured": template(env, REMINDER_TEMPLATE).is_some(),
            "has_deadline": has_deadline(id, env).await?,
            "slots": slots.labels(),
            "quiet_hours": "22:00–08:00",
            "now": now,
            "manual_held_until": held_until,
            "remind_every_hours": REMIND_EVERY_SECS / 3600,
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

/// The cron: every open slot of every participant of every split with slots, counted from
/// the participant's own due date (a directed debtor's) or else the split's deadline
/// (`core::remind_schedule::participant_open_slots`).
pub async fn send_due(env: &Env, now: i64) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Due {
        collection_id: String,
        title: String,
        owner_openid: Option<String>,
        deadline: Option<i64>,
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
             WHERE c.status = 'open' AND (s.deadline BETWEEN ?1 AND ?2 OR EXISTS (SELECT 1 FROM directed_debts d \
             WHERE d.collection_id = r.collection_id AND d.due_at BETWEEN ?1 AND ?2)) LIMIT 100",
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
        let mut view = None;
        for target in targets(env, &split.collection_id).await? {
            let open = participant_open_slots(
                &slots,
                split.deadline,
                target.due_at,
                split.updated_at,
                now,
            );
            let Some((&latest, earlier)) = open.split_last() else {
                continue;
            };
            if target.sent.split(',').any(|k| k == latest.to_string()) {
                continue;
            }
            if view.is_none() {
                view = crate::splits::find_public_view(&split.collection_id, env).await?;
            }
            let due = view
                .as_ref()
                .and_then(|v| v.participants.iter().find(|p| p.id == target.id))
                .map(|p| p.due)
                .unwrap_or_default();
            let deadline = deadline_of(split.deadline, target.due_at).map(Deadline::from_unix);
            let pid = &target.id;
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

/// A participant the schedule may still reach.
#[derive(Deserialize)]
struct Target {
    id: String,
    /// A directed debtor's own due date.
    due_at: Option<i64>,
    /// The slots (offsets) already recorded for them, comma-separated.
    sent: String,
}

/// Participants of split `id` the schedule may reach: signed up through the Official Account,
/// neither paid nor claimed; with their own due date and the slots they had already.
async fn targets(env: &Env, id: &str) -> Result<Vec<Target>, ApiError> {
    Ok(db(env)?
        .prepare(
            "SELECT p.id, d.due_at, COALESCE((SELECT GROUP_CONCAT(SUBSTR(n.event_key, LENGTH(p.id) + 9)) \
             FROM notices n WHERE n.participant_id = p.id AND n.event_key LIKE 'remind:%' \
             AND n.event_key NOT LIKE '%:now:%'), '') AS sent \
             FROM participants p LEFT JOIN directed_debts d ON d.participant_id = p.id \
             WHERE p.collection_id = ?1 AND p.status = 'joined' AND p.openid_sealed IS NOT NULL \
             ORDER BY p.seq LIMIT 1000",
        )
        .bind(&[id.into()])?
        .all()
        .await?
        .results::<Target>()?)
}
