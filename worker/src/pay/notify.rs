//! The callbacks `POST /wechatpay/notify/transaction` and `/wechatpay/notify/refund`.
//!
//! Order of work, and why: the raw body bytes are verified first (key by `Wechatpay-Serial`:
//! certificates and public key at once); only then is the JSON parsed and the resource
//! decrypted; then the notification id is looked up (a repeat of something already applied is
//! answered at once); then the change goes through the same transition as every query.
//!
//! Answers: 204 once a verified notification is dealt with and recorded — applied, a
//! duplicate, or one that disagrees with its order (another sub-merchant, amount, …), which is
//! kept as evidence, flagged for the payee and never applied (a retry could change nothing, so
//! WeChat Pay is told to stop). Otherwise 4xx/5xx with `{"code":"FAIL","message":…}` so WeChat
//! Pay retries: unverifiable, a `resource_type` other than `encrypt-resource`, an unknown
//! order, or not storable right now. The raw body, the plaintext resource and keys are never
//! logged: only ids, outcomes and verification errors.

use serde::Deserialize;
use shoukuan_core::refund::{check_notice, RefundState};
use shoukuan_core::wechatpay::{
    Notification, OpenedNotification, SignedHeaders, Verified, VerifyError, RESOURCE_TYPE_ENCRYPTED,
};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::apply::{self, Outcome, Source};
use super::certs::{self, VerifyFailure};
use super::config::PayConfig;
use super::refunds::{self, RefundApplied};
use crate::error::ApiError;
use crate::http::MAX_BODY;
use crate::session::now_secs;

/// Which endpoint was called (both accept either event family: the event type decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/wechatpay/notify/transaction`
    Transaction,
    /// `/wechatpay/notify/refund`
    Refund,
}

/// A refusal: the status and WeChat Pay's `{"code":"FAIL","message"}` body.
struct Fail {
    status: u16,
    message: String,
}

impl Fail {
    fn new(status: u16, message: impl Into<String>) -> Fail {
        Fail {
            status,
            message: message.into(),
        }
    }
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Self {
        worker::console_error!("callback could not be stored: {e:?}");
        Fail::new(500, "暂时无法处理，请重试")
    }
}

/// Handles one callback.
pub async fn handle(endpoint: Endpoint, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    match receive(endpoint, &mut req, env).await {
        Ok(()) => Ok(Response::empty()?.with_status(204)),
        Err(fail) => {
            let body = serde_json::json!({ "code": "FAIL", "message": fail.message });
            Ok(Response::from_json(&body)?.with_status(fail.status))
        }
    }
}

async fn receive(endpoint: Endpoint, req: &mut Request, env: &Env) -> Result<(), Fail> {
    let config = PayConfig::get(env).ok_or_else(|| Fail::new(503, "merchant not configured"))?;
    if crate::http::declares_more_than(req, MAX_BODY) {
        return Err(Fail::new(413, "body too large"));
    }
    let body = req
        .bytes()
        .await
        .map_err(|_| Fail::new(400, "body unreadable"))?;
    if body.len() > MAX_BODY {
        return Err(Fail::new(413, "body too large"));
    }
    let pairs: Vec<(String, String)> = req.headers().entries().collect();
    let headers = SignedHeaders::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| {
            worker::console_log!("callback rejected: {e}");
            match e {
                VerifyError::UnsupportedSignatureType(_) => Fail::new(401, e.to_string()),
                _ => Fail::new(401, "signature headers missing"),
            }
        })?;
    let verified = match certs::verify(env, &config, &headers, &body).await {
        Ok(verified) => verified,
        Err(VerifyFailure::Rejected(e)) => {
            worker::console_log!("callback rejected (serial {}): {e}", headers.serial);
            return Err(Fail::new(401, "signature verification failed"));
        }
        Err(VerifyFailure::Unavailable(cause)) => {
            worker::console_error!("callback not verifiable now: {cause}");
            return Err(Fail::new(503, "verification keys unavailable, retry later"));
        }
    };
    // Verified: from here on the body is WeChat Pay's.
    // Parser messages may quote the body: only the fact is logged.
    let notification = Notification::parse(&body).map_err(|_| {
        worker::console_error!("verified callback is not a notification envelope");
        Fail::new(400, "malformed notification")
    })?;
    // Every WeChat Pay notification is `encrypt-resource`; anything else is not one we know how
    // to trust the contents of.
    if notification.resource_type != RESOURCE_TYPE_ENCRYPTED {
        worker::console_error!(
            "notification {} has resource_type {:?}; refused",
            notification.id,
            notification.resource_type
        );
        return Err(Fail::new(400, "unexpected resource_type"));
    }
    let plaintext = notification.decrypt(&config.apiv3_key).map_err(|e| {
        let cause = match e {
            shoukuan_core::wechatpay::NotifyError::Decrypt(e) => {
                format!("{e} (APIv3 key likely wrong)")
            }
            _ => "the resource is not JSON".to_string(),
        };
        worker::console_error!(
            "notification {} cannot be decrypted: {cause}",
            notification.id
        );
        Fail::new(400, "resource cannot be decrypted")
    })?;
    let opened = OpenedNotification {
        verified,
        notification,
        plaintext,
    };
    // Recorded before (applied, a duplicate, or verified-but-refused and flagged): answered
    // success again, so WeChat Pay stops retrying what has been dealt with.
    if let Some(previous) = recorded_outcome(env, &opened.notification.id).await? {
        worker::console_log!(
            "notification {} already recorded ({previous})",
            opened.notification.id
        );
        return Ok(());
    }
    let event = opened.notification.event_type.clone();
    if event.starts_with("REFUND.") {
        if endpoint == Endpoint::Transaction {
            worker::console_log!(
                "refund notification {} arrived at the transaction endpoint",
                opened.notification.id
            );
        }
        on_refund(env, &config, &opened).await
    } else if event.starts_with("TRANSACTION.") {
        on_transaction(env, &config, &opened).await
    } else {
        worker::console_error!(
            "notification {} has unknown event_type {event}",
            opened.notification.id
        );
        Err(Fail::new(400, "unknown event_type"))
    }
}

#[derive(Deserialize)]
struct OutcomeRow {
    outcome: String,
}

async fn recorded_outcome(env: &Env, notification_id: &str) -> Result<Option<String>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare("SELECT outcome FROM pay_notifications WHERE id = ?1")
        .bind(&[notification_id.into()])?
        .first::<OutcomeRow>(None)
        .await?
        .map(|r| r.outcome))
}

async fn record(
    env: &Env,
    opened: &OpenedNotification,
    verified: &Verified,
    out_trade_no: Option<&str>,
    out_refund_no: Option<&str>,
    outcome: &str,
) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare(
            "INSERT INTO pay_notifications (id, event_type, out_trade_no, out_refund_no, outcome, key_serial, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome WHERE excluded.outcome = 'applied'",
        )
        .bind(&[
            opened.notification.id.as_str().into(),
            opened.notification.event_type.as_str().into(),
            out_trade_no.map_or(JsValue::NULL, Into::into),
            out_refund_no.map_or(JsValue::NULL, Into::into),
            outcome.into(),
            verified.serial.as_str().into(),
            JsValue::from_f64(now_secs() as f64),
        ])?
        .run()
        .await?;
    Ok(())
}

/// The test switch (`PAY_TEST_HOOKS=1` only): answer 500 as if the worker were down.
async fn injected_fault(
    env: &Env,
    config: &PayConfig,
    out_trade_no: &str,
) -> Result<bool, ApiError> {
    if !config.test_hooks {
        return Ok(false);
    }
    Ok(env
        .d1("DB")?
        .prepare("UPDATE pay_test_faults SET remaining = remaining - 1 WHERE out_trade_no = ?1 AND remaining > 0 RETURNING remaining")
        .bind(&[out_trade_no.into()])?
        .first::<serde_json::Value>(None)
        .await?
        .is_some())
}

async fn on_transaction(
    env: &Env,
    config: &PayConfig,
    opened: &OpenedNotification,
) -> Result<(), Fail> {
    let id = &opened.notification.id;
    let tx = opened.transaction().map_err(|_| {
        worker::console_error!("notification {id}: the resource is not a transaction");
        Fail::new(400, "malformed transaction")
    })?;
    if injected_fault(env, config, &tx.out_trade_no).await? {
        return Err(Fail::new(500, "test switch: simulated outage"));
    }
    let (outcome, _) = apply::apply_transaction(env, config, &tx, Source::Callback, id).await?;
    let label = match &outcome {
        Outcome::Applied(_) => "applied",
        Outcome::Duplicate => "duplicate",
        Outcome::Flagged(problems) => {
            let kinds: Vec<&str> = problems.iter().map(|p| p.kind()).collect();
            worker::console_log!(
                "notification {id} for {}: mismatch {kinds:?}; flagged, not applied",
                tx.out_trade_no
            );
            "flagged"
        }
        Outcome::NotYet | Outcome::Refused(_) => {
            worker::console_log!(
                "notification {id} for {}: {outcome:?}; not applied",
                tx.out_trade_no
            );
            "refused"
        }
        Outcome::UnknownOrder => {
            worker::console_error!("notification {id} for unknown order {}", tx.out_trade_no);
            // Not recorded: a retry is checked again from scratch.
            return Err(Fail::new(404, "unknown out_trade_no"));
        }
    };
    // Verified and dealt with — applied, or kept as evidence and flagged for the payee: once
    // recorded, the answer is success (a retry would change nothing). If recording fails the
    // answer is 500 and the retry goes through the same steps again.
    record(
        env,
        opened,
        &opened.verified,
        Some(tx.out_trade_no.as_str()),
        None,
        label,
    )
    .await?;
    Ok(())
}

async fn on_refund(env: &Env, config: &PayConfig, opened: &OpenedNotification) -> Result<(), Fail> {
    let id = &opened.notification.id;
    let notice = opened.refund().map_err(|_| {
        worker::console_error!("notification {id}: the resource is not a refund");
        Fail::new(400, "malformed refund")
    })?;
    let Some(stored) = refunds::refund_by_no(env, &notice.out_refund_no).await? else {
        worker::console_error!(
            "refund notification {id} for unknown refund {}",
            notice.out_refund_no
        );
        return Err(Fail::new(404, "unknown out_refund_no"));
    };
    let order = apply::order_by_id(env, &stored.order_id).await?;
    let problems = match &order {
        // Against the merchant the order was made for: its sub-merchant too (platform).
        Some(order) => check_notice(
            &stored.facts(order),
            &notice,
            &super::routing::for_order(order, config),
        ),
        None => vec!["退款对应的订单不存在".to_string()],
    };
    let nos = (
        Some(notice.out_trade_no.as_str()),
        Some(notice.out_refund_no.as_str()),
    );
    if !problems.is_empty() {
        for (i, problem) in problems.iter().enumerate() {
            apply::flag(
                env,
                &format!("{id}:{i}"),
                order.as_ref(),
                None,
                "refund_mismatch",
                problem,
            )
            .await?;
        }
        // Kept as evidence and flagged: answered success once recorded.
        record(env, opened, &opened.verified, nos.0, nos.1, "flagged").await?;
        return Ok(());
    }
    let Some(reported) = RefundState::from_wechat(notice.refund_status) else {
        record(env, opened, &opened.verified, nos.0, nos.1, "refused").await?;
        return Ok(());
    };
    match refunds::apply_refund(
        env,
        &stored,
        reported,
        Some(&notice.refund_id),
        &format!("notify:{id}"),
    )
    .await?
    {
        RefundApplied::Applied => {
            record(env, opened, &opened.verified, nos.0, nos.1, "applied").await?
        }
        RefundApplied::Unchanged => {
            record(env, opened, &opened.verified, nos.0, nos.1, "duplicate").await?
        }
        RefundApplied::Refused => {
            record(env, opened, &opened.verified, nos.0, nos.1, "refused").await?
        }
    }
    Ok(())
}
