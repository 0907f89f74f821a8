//! Notices (issue 13): the payee hears of every payment, refund and 我已付款 claim, gets the
//! 20:00 digest, and split participants get reminders on the payee's schedule — Official
//! Account template messages, built in `shoukuan_core::notice` (typed fields) and
//! `shoukuan_core::remind_schedule` (slots, quiet hours).
//!
//! One rule for every message: a row in `notices` keyed on the event is inserted first (a
//! repeated or racing event finds the key taken and sends nothing), then it is sent once.
//! WeChat's answer is stored on the row: a refusal (43004 not a follower, 47003 bad value, …)
//! is final and shown to the payee; only an unreachable WeChat (or `-1` system busy) leaves the
//! row pending for the cron to try again, at most [`MAX_ATTEMPTS`] times.

pub mod dash;
pub mod digest;
pub mod events;
pub mod schedule;
pub mod selfservice;

use serde::Deserialize;
use serde_json::Value;
use shoukuan_core::notice::{template_message, NoticeKind, SendOutcome, MAX_ATTEMPTS};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, Env, Method, Request};

use crate::config::setting;
use crate::error::ApiError;
use crate::http::num;
use crate::personal_data::{self, column};
use crate::routes::NoticeRoute;
use crate::wechat::{OaClient, OaConfig};

/// Answers one of the [`NoticeRoute`]s.
pub async fn handle(
    route: NoticeRoute,
    req: Request,
    env: &Env,
) -> Result<worker::Response, ApiError> {
    match route {
        NoticeRoute::Dash => dash::get(&req, env).await,
        NoticeRoute::PutSettings => dash::put_settings(req, env).await,
        NoticeRoute::GetSlots(id) => schedule::get_slots(&id, &req, env).await,
        NoticeRoute::PutSlots(id) => schedule::put_slots(&id, req, env).await,
    }
}

/// The payee-notice template (`thing1` collection, `amount2` amount, `thing3` who/what,
/// `time4` when).
pub const NOTICE_TEMPLATE: &str = "WECHAT_NOTICE_TEMPLATE_ID";
/// The reminder template (`thing1` title, `amount2` due, `time3` deadline).
pub const REMINDER_TEMPLATE: &str = "WECHAT_REMINDER_TEMPLATE_ID";

/// A template id when the Official Account is configured too; `None`: these messages are off.
pub fn template(env: &Env, name: &str) -> Option<String> {
    OaConfig::from_env(env)?;
    setting(env, name).filter(|t| !t.trim().is_empty())
}

pub(crate) fn opt(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, Into::into)
}

pub(crate) fn db(env: &Env) -> Result<D1Database, ApiError> {
    Ok(env.d1("DB")?)
}

/// The payee who owns collection `id` (`None`: published with a manage link only).
pub async fn owner_of(env: &Env, id: &str) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Owner {
        owner_openid: Option<String>,
    }
    Ok(db(env)?
        .prepare("SELECT owner_openid FROM collections WHERE id = ?1")
        .bind(&[id.into()])?
        .first::<Owner>(None)
        .await?
        .and_then(|o| o.owner_openid))
}

/// A message to record and send.
pub struct NewNotice {
    /// The event's unique key (`paid:<order id>`, …).
    pub key: String,
    /// What it is about.
    pub kind: NoticeKind,
    /// The payee whose dashboard lists it (and who receives it unless `participant_id`).
    pub payee: Option<String>,
    /// The collection.
    pub collection_id: Option<String>,
    /// Reminders: the participant it goes to.
    pub participant_id: Option<String>,
    /// The template.
    pub template_id: String,
    /// The template's data.
    pub data: Value,
    /// Where the link goes (`/o/…`, `/admin/…`, `/c/…`).
    pub path: Option<String>,
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// The event had its message already (a repeat or a racing copy).
    Duplicate,
    /// WeChat took it.
    Sent,
    /// WeChat refused it (recorded).
    Refused,
    /// WeChat could not be reached; the cron tries again.
    Pending,
    /// Nothing to send any more (the participant paid or left).
    Skipped,
}

/// Inserts the message (claiming its event) and, when this call inserted it, sends it.
pub async fn record_and_send(
    env: &Env,
    notice: NewNotice,
    now: i64,
) -> Result<Delivered, ApiError> {
    match insert(env, &notice, now, None).await? {
        Some(id) => deliver(env, id, 0, now).await,
        None => Ok(Delivered::Duplicate),
    }
}

/// Inserts the message (claiming its event) to be sent once the payment callback has answered
/// ([`send_fresh`]; a callback must not wait for WeChat's Official Account API), or else by the
/// cron's next run. `false`: the event had its message already.
pub async fn record_for_later(env: &Env, notice: NewNotice, now: i64) -> Result<bool, ApiError> {
    Ok(insert(env, &notice, now, None).await?.is_some())
}

/// Inserts the message (claiming its event) to be sent by the cron at `until` and not before
/// (a "remind now" in quiet hours). `false`: the event had its message already.
pub async fn record_held(
    env: &Env,
    notice: NewNotice,
    now: i64,
    until: i64,
) -> Result<bool, ApiError> {
    Ok(insert(env, &notice, now, Some(until)).await?.is_some())
}

/// The row's id when this call inserted it.
async fn insert(
    env: &Env,
    notice: &NewNotice,
    now: i64,
    not_before: Option<i64>,
) -> Result<Option<i64>, ApiError> {
    #[derive(Deserialize)]
    struct Id {
        id: i64,
    }
    Ok(db(env)?
        .prepare(
            "INSERT INTO notices (event_key, kind, payee_openid, collection_id, participant_id, template_id, data, path, created_at, not_before) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (event_key) DO NOTHING RETURNING id",
        )
        .bind(&row_values(notice, now, not_before))?
        .first::<Id>(None)
        .await?
        .map(|row| row.id))
}

/// The values of a `notices` row, `?1`–`?10` in the column order both inserts use.
fn row_values(notice: &NewNotice, now: i64, not_before: Option<i64>) -> [JsValue; 10] {
    [
        notice.key.as_str().into(),
        notice.kind.as_str().into(),
        opt(notice.payee.as_deref()),
        opt(notice.collection_id.as_deref()),
        opt(notice.participant_id.as_deref()),
        notice.template_id.as_str().into(),
        notice.data.to_string().into(),
        opt(notice.path.as_deref()),
        num(now),
        not_before.map_or(JsValue::NULL, num),
    ]
}

/// Records that an event needs no message (e.g. a reminder slot passed over): the key is
/// taken so nothing is sent for it later.
pub async fn record_skipped(env: &Env, notice: NewNotice, now: i64) -> Result<(), ApiError> {
    db(env)?
        .prepare(
            "INSERT INTO notices (event_key, kind, payee_openid, collection_id, participant_id, template_id, data, path, state, created_at, not_before) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'skipped', ?9, ?10) ON CONFLICT (event_key) DO NOTHING",
        )
        .bind(&row_values(&notice, now, None))?
        .run()
        .await?;
    Ok(())
}

#[derive(Deserialize)]
struct Claimed {
    kind: String,
    payee_openid: Option<String>,
    participant_id: Option<String>,
    template_id: String,
    data: String,
    path: Option<String>,
}

#[derive(Deserialize)]
struct Recipient {
    openid_sealed: Option<String>,
    status: String,
}

/// Sends message `id` once more if it is still pending after `attempts` tries (the attempt is
/// counted first, compare-and-swap, so two senders cannot both send it).
async fn deliver(env: &Env, id: i64, attempts: i64, now: i64) -> Result<Delivered, ApiError> {
    let db = db(env)?;
    let claimed = db
        .prepare(
            "UPDATE notices SET attempts = attempts + 1, tried_at = ?4 WHERE id = ?1 AND state = 'pending' \
             AND attempts = ?2 AND attempts < ?3 \
             RETURNING kind, payee_openid, participant_id, template_id, data, path",
        )
        .bind(&[num(id), num(attempts), num(MAX_ATTEMPTS), num(now)])?
        .first::<Claimed>(None)
        .await?;
    let Some(row) = claimed else {
        return Ok(Delivered::Duplicate);
    };
    let to = match (&row.participant_id, &row.payee_openid) {
        (Some(pid), _) => {
            let participant = db
                .prepare("SELECT openid_sealed, status FROM participants WHERE id = ?1")
                .bind(&[pid.as_str().into()])?
                .first::<Recipient>(None)
                .await?;
            // A reminder held or retried after the participant paid or withdrew: nothing to say.
            let reachable = participant
                .filter(|p| p.status != "paid" || row.kind != NoticeKind::Reminder.as_str());
            match reachable.and_then(|p| p.openid_sealed) {
                Some(sealed) => {
                    personal_data::open(&personal_data::key(env)?, column::OPENID, &sealed)?
                }
                None => {
                    finish(&db, id, "skipped", None, None, None, now).await?;
                    return Ok(Delivered::Skipped);
                }
            }
        }
        (None, Some(payee)) => payee.clone(),
        (None, None) => {
            finish(&db, id, "skipped", None, None, None, now).await?;
            return Ok(Delivered::Skipped);
        }
    };
    let data: Value =
        serde_json::from_str(&row.data).map_err(|e| ApiError::Internal(e.to_string()))?;
    let url = row
        .path
        .as_deref()
        .and_then(|p| crate::session::link(env, p));
    let body = template_message(
        &to,
        &row.template_id,
        url.as_deref(),
        &data,
        &format!("sk{id}"),
    );
    let answer = OaClient::new(env)?
        .call(
            Method::Post,
            "/cgi-bin/message/template/send",
            &[],
            Some(&body),
        )
        .await;
    let outcome = match answer {
        Ok(text) => SendOutcome::read(&text),
        Err(e) => SendOutcome::Retry {
            why: format!("{e:?}"),
        },
    };
    match outcome {
        SendOutcome::Sent { msgid } => {
            finish(&db, id, "sent", None, None, Some(&msgid), now).await?;
            Ok(Delivered::Sent)
        }
        SendOutcome::Refused { errcode, errmsg } => {
            // The recipient is personal data: only the notice id goes to the log.
            worker::console_error!("notice {id}: WeChat refused it, errcode {errcode}");
            finish(&db, id, "failed", Some(errcode), Some(&errmsg), None, now).await?;
            Ok(Delivered::Refused)
        }
        SendOutcome::Retry { why } => {
            worker::console_error!("notice {id}: not sent ({why}); the cron tries again");
            db.prepare("UPDATE notices SET errmsg = ?2 WHERE id = ?1")
                .bind(&[num(id), why.chars().take(200).collect::<String>().into()])?
                .run()
                .await?;
            Ok(Delivered::Pending)
        }
    }
}

async fn finish(
    db: &D1Database,
    id: i64,
    state: &str,
    errcode: Option<i64>,
    errmsg: Option<&str>,
    msgid: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    db.prepare(
        "UPDATE notices SET state = ?2, errcode = ?3, errmsg = ?4, msgid = ?5, sent_at = ?6 WHERE id = ?1",
    )
    .bind(&[
        num(id),
        state.into(),
        errcode.map_or(JsValue::NULL, num),
        opt(errmsg),
        opt(msgid),
        num(now),
    ])?
    .run()
    .await?;
    Ok(())
}

/// Which pending messages a run of [`send_pending`] picks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// The cron: messages recorded for it, messages WeChat could not take (tried again a minute
    /// apart at least), and held messages whose moment has come.
    All,
    /// Right after a payment callback has answered: only messages never tried and not held.
    Fresh,
}

/// Sends up to 20 pending messages, oldest first. Each send claims its row first
/// ([`deliver`]'s compare-and-swap), so the cron and a callback's [`send_fresh`] running at
/// once still send a message once.
async fn send_pending(env: &Env, now: i64, sweep: Sweep) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Due {
        id: i64,
        attempts: i64,
    }
    let fresh_only = i64::from(sweep == Sweep::Fresh);
    let due = db(env)?
        .prepare(
            "SELECT id, attempts FROM notices WHERE state = 'pending' AND attempts < ?1 \
             AND (attempts = 0 OR tried_at <= ?2) AND COALESCE(not_before, 0) <= ?3 \
             AND (?4 = 0 OR (attempts = 0 AND not_before IS NULL)) \
             ORDER BY created_at LIMIT 20",
        )
        .bind(&[num(MAX_ATTEMPTS), num(now - 60), num(now), num(fresh_only)])?
        .all()
        .await?
        .results::<Due>()?;
    for row in due {
        deliver(env, row.id, row.attempts, now).await?;
    }
    Ok(())
}

/// After a WeChat Pay callback has been answered (`ctx.wait_until` in `lib.rs`): the notices it
/// recorded go out within seconds instead of at the cron's next run. Errors are logged; the
/// cron sends whatever this left.
pub async fn send_fresh(env: &Env, now: i64) {
    if let Err(e) = send_pending(env, now, Sweep::Fresh).await {
        worker::console_error!("notices: sending after the callback failed: {e:?}");
    }
}

/// Every notice job at `now` (one line in `jobs::run_all`); errors are logged, never raised.
pub async fn scheduled(env: &Env, now: i64) {
    if let Err(e) = send_pending(env, now, Sweep::All).await {
        worker::console_error!("notices: retry failed: {e:?}");
    }
    if let Err(e) = schedule::send_due(env, now).await {
        worker::console_error!("notices: scheduled reminders failed: {e:?}");
    }
    if let Err(e) = digest::send_due(env, now).await {
        worker::console_error!("notices: digest failed: {e:?}");
    }
}
