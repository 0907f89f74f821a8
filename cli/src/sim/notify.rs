//! Callbacks (WeChat Pay → the merchant's notify_url): `TRANSACTION.SUCCESS` and `REFUND.*`
//! envelopes encrypted with the APIv3 key and signed like responses, delivered with WeChat's
//! retry schedule (15 s, 15 s, 30 s, 3 m, 10 m, 20 m, 30 m, 30 m, 30 m, 60 m, 3 h, 3 h, 3 h,
//! 6 h, 6 h — scaled by `--time-scale`) until the receiver answers 2xx within 5 s.
//!
//! Variants on request: a duplicate after the first delivery, N concurrent duplicates, an
//! out-of-date `Wechatpay-Timestamp`, a wrong amount or (partner orders) a wrong `sub_mchid`
//! (correctly signed: the merchant must compare them with its order), and a
//! `WECHATPAY/SIGNTEST/` probe followed by the real notification.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use base64::Engine as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shoukuan_core::wechatpay::{
    EncryptedResource, Notification, SignedHeaders, EVENT_REFUND_SUCCESS,
    EVENT_TRANSACTION_SUCCESS, RESOURCE_TYPE_ENCRYPTED, SIGNATURE_PROBE_PREFIX,
};

use super::state::{Attempt, Delivery, Order, Refund};
use super::{now, now_ms, random_alnum, random_hex, rfc3339, Shared};

/// WeChat's waits between callback attempts, in seconds (15 retries, 24 h 4 m in all).
pub const RETRY_SCHEDULE_SECS: [f64; 15] = [
    15.0, 15.0, 30.0, 180.0, 600.0, 1200.0, 1800.0, 1800.0, 1800.0, 3600.0, 10800.0, 10800.0,
    10800.0, 21600.0, 21600.0,
];

/// How long WeChat waits for the merchant's answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Retries due sooner than this are signed before the wait (see `run`).
const PRESIGN_WITHIN: Duration = Duration::from_secs(5);

/// How old a "stale" callback's timestamp is (beyond the 5-minute tolerance).
const STALE_BY_SECS: i64 = 600;

/// How a callback is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Once, retried on WeChat's schedule until accepted.
    Normal,
    /// Normally, then the same notification once more after the first delivery ends.
    Duplicate,
    /// `count` copies of the same notification at the same moment.
    Concurrent,
    /// One attempt with a `Wechatpay-Timestamp` 10 minutes old (not retried).
    Stale,
    /// One correctly signed attempt whose amount is one fen more than the order's (not retried).
    WrongAmount,
    /// One correctly signed attempt of a partner order naming another `sub_mchid` than the
    /// order's (not retried): the merchant must compare it with its order.
    WrongSubMchid,
    /// A `WECHATPAY/SIGNTEST/` probe, then the real notification (retried normally).
    Signtest,
}

impl Variant {
    /// The name used in the delivery log.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Normal => "normal",
            Variant::Duplicate => "duplicate",
            Variant::Concurrent => "concurrent",
            Variant::Stale => "stale",
            Variant::WrongAmount => "wrong_amount",
            Variant::WrongSubMchid => "wrong_sub_mchid",
            Variant::Signtest => "signtest",
        }
    }
}

/// A notification ready to send: the envelope's id and its exact body.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Envelope id.
    pub notification_id: String,
    /// Event type.
    pub event_type: String,
    /// JSON body bytes (signed as sent).
    pub body: Arc<Vec<u8>>,
}

/// Where a notification goes and what it is about.
#[derive(Debug, Clone)]
pub struct Target {
    /// notify_url.
    pub url: String,
    /// The order.
    pub out_trade_no: String,
    /// The refund, for REFUND.* callbacks.
    pub out_refund_no: Option<String>,
}

fn notification_id() -> String {
    format!(
        "{}-{}-{}-{}-{}",
        random_hex(8),
        random_hex(4),
        random_hex(4),
        random_hex(4),
        random_hex(12)
    )
}

fn seal(
    sim: &Shared,
    event_type: &str,
    summary: &str,
    original_type: &str,
    plaintext: &str,
) -> anyhow::Result<Prepared> {
    let resource = EncryptedResource::seal(
        &sim.keys.apiv3_key,
        original_type,
        &random_alnum(12),
        original_type,
        plaintext,
    )?;
    let notification = Notification {
        id: notification_id(),
        create_time: rfc3339(now()),
        event_type: event_type.to_string(),
        resource_type: RESOURCE_TYPE_ENCRYPTED.to_string(),
        summary: summary.to_string(),
        resource,
    };
    Ok(Prepared {
        notification_id: notification.id.clone(),
        event_type: event_type.to_string(),
        body: Arc::new(serde_json::to_vec(&notification)?),
    })
}

/// `TRANSACTION.SUCCESS` for a paid order, altered as `variant` says: `wrong_amount` adds a fen
/// to the amounts, `wrong_sub_mchid` names another sub-merchant than the order's (`other_sub`).
pub fn transaction_success(
    sim: &Shared,
    order: &Order,
    variant: Variant,
    other_sub: Option<&str>,
) -> anyhow::Result<Prepared> {
    let mut transaction = super::pay::transaction_json(order);
    if variant == Variant::WrongAmount {
        let total = order.total + 1;
        transaction["amount"]["total"] = json!(total);
        transaction["amount"]["payer_total"] = json!(total);
    }
    if let (Variant::WrongSubMchid, Some(other)) = (variant, other_sub) {
        transaction["sub_mchid"] = json!(other);
    }
    seal(
        sim,
        EVENT_TRANSACTION_SUCCESS,
        "支付成功",
        "transaction",
        &transaction.to_string(),
    )
}

/// `REFUND.SUCCESS` for a finished refund: `mchid` (direct) or `sp_mchid` + `sub_mchid`
/// (partner), then the refund's ids, status and amounts.
pub fn refund_success(sim: &Shared, order: &Order, refund: &Refund) -> anyhow::Result<Prepared> {
    let mut notice = match &order.sub_mchid {
        Some(sub_mchid) => json!({ "sp_mchid": order.mchid, "sub_mchid": sub_mchid }),
        None => json!({ "mchid": order.mchid }),
    };
    notice["transaction_id"] = json!(refund.transaction_id);
    notice["out_trade_no"] = json!(refund.out_trade_no);
    notice["refund_id"] = json!(refund.refund_id);
    notice["out_refund_no"] = json!(refund.out_refund_no);
    notice["refund_status"] = json!("SUCCESS");
    if let Some(t) = refund.success_time {
        notice["success_time"] = json!(rfc3339(t));
    }
    notice["user_received_account"] = json!("支付用户零钱");
    notice["amount"] = json!({
        "total": refund.total,
        "refund": refund.refund,
        "payer_total": refund.total,
        "payer_refund": refund.refund,
    });
    seal(
        sim,
        EVENT_REFUND_SUCCESS,
        "退款成功",
        "refund",
        &notice.to_string(),
    )
}

/// How one delivery behaves.
#[derive(Debug, Clone, Copy)]
struct Plan {
    retries: bool,
    stale: bool,
    probe_first: bool,
}

fn open_delivery(sim: &Shared, target: &Target, prepared: &Prepared, variant: Variant) -> u64 {
    let mut state = sim.state();
    let id = state.next_id();
    state.deliveries.push(Delivery {
        id,
        notification_id: prepared.notification_id.clone(),
        event_type: prepared.event_type.clone(),
        variant: variant.as_str().to_string(),
        out_trade_no: target.out_trade_no.clone(),
        out_refund_no: target.out_refund_no.clone(),
        url: target.url.clone(),
        attempts: Vec::new(),
        done: false,
        delivered: false,
    });
    id
}

/// Starts delivering `prepared` to `target` as `variant` says; returns the delivery ids.
pub fn send(
    sim: &Shared,
    target: Target,
    prepared: Prepared,
    variant: Variant,
    count: usize,
) -> Vec<u64> {
    let normal = Plan {
        retries: true,
        stale: false,
        probe_first: false,
    };
    match variant {
        Variant::Normal
        | Variant::Signtest
        | Variant::Stale
        | Variant::WrongAmount
        | Variant::WrongSubMchid => {
            let plan = match variant {
                Variant::Signtest => Plan {
                    probe_first: true,
                    ..normal
                },
                Variant::Stale => Plan {
                    retries: false,
                    stale: true,
                    probe_first: false,
                },
                Variant::WrongAmount | Variant::WrongSubMchid => Plan {
                    retries: false,
                    ..normal
                },
                _ => normal,
            };
            let id = open_delivery(sim, &target, &prepared, variant);
            tokio::spawn(run(sim.clone(), id, target.url, prepared.body, plan, None));
            vec![id]
        }
        Variant::Duplicate => {
            let first = open_delivery(sim, &target, &prepared, variant);
            let second = open_delivery(sim, &target, &prepared, variant);
            let sim = sim.clone();
            tokio::spawn(async move {
                run(
                    sim.clone(),
                    first,
                    target.url.clone(),
                    prepared.body.clone(),
                    normal,
                    None,
                )
                .await;
                run(sim, second, target.url, prepared.body, normal, None).await;
            });
            vec![first, second]
        }
        Variant::Concurrent => {
            let count = count.clamp(1, 100);
            let barrier = Arc::new(tokio::sync::Barrier::new(count));
            (0..count)
                .map(|_| {
                    let id = open_delivery(sim, &target, &prepared, variant);
                    tokio::spawn(run(
                        sim.clone(),
                        id,
                        target.url.clone(),
                        prepared.body.clone(),
                        normal,
                        Some(barrier.clone()),
                    ));
                    id
                })
                .collect()
        }
    }
}

/// Delivers one notification: attempts until accepted or the schedule is exhausted.
async fn run(
    sim: Shared,
    id: u64,
    url: String,
    body: Arc<Vec<u8>>,
    plan: Plan,
    barrier: Option<Arc<tokio::sync::Barrier>>,
) {
    if plan.probe_first {
        attempt(&sim, id, &url, &body, Kind::Probe, None).await;
    }
    // Sign before meeting the other concurrent copies so they leave together.
    let mut presigned = None;
    if let Some(barrier) = barrier {
        presigned = sim.sign(&body, now()).ok();
        barrier.wait().await;
    }
    let kind = if plan.stale {
        Kind::Stale
    } else {
        Kind::Normal
    };
    let mut first = None;
    let mut retries = 0;
    let delivered = loop {
        let (accepted, sent) = attempt(&sim, id, &url, &body, kind, presigned.take()).await;
        // The schedule counts from when the first attempt actually left.
        let first = *first.get_or_insert(sent);
        if accepted {
            break true;
        }
        if !plan.retries || retries >= RETRY_SCHEDULE_SECS.len() {
            break false;
        }
        // Attempt n is due at the sum of the first n waits after the first attempt.
        let due: f64 = RETRY_SCHEDULE_SECS[..=retries].iter().sum();
        let at = first + sim.scaled(due);
        // On a fast clock, sign ahead so the attempt leaves on time; the timestamp is then at
        // most a few seconds early, well within the 5-minute tolerance.
        if at.saturating_duration_since(Instant::now()) < PRESIGN_WITHIN {
            presigned = sim.sign(&body, now()).ok();
        }
        tokio::time::sleep_until(at.into()).await;
        retries += 1;
    };
    let mut state = sim.state();
    if let Some(delivery) = state.deliveries.iter_mut().find(|d| d.id == id) {
        delivery.done = true;
        delivery.delivered = delivered;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Stale,
    Probe,
}

/// One POST; records it. Answers whether the receiver accepted a properly signed
/// notification, and when the request left.
async fn attempt(
    sim: &Shared,
    id: u64,
    url: &str,
    body: &Arc<Vec<u8>>,
    kind: Kind,
    presigned: Option<SignedHeaders>,
) -> (bool, Instant) {
    let timestamp = match kind {
        Kind::Stale => now() - STALE_BY_SECS,
        _ => now(),
    };
    let headers = match presigned {
        Some(headers) => Ok(headers),
        None => sim.sign(body, timestamp),
    };
    let mut headers = match headers {
        Ok(headers) => headers,
        Err(e) => {
            eprintln!("shoukuan sim: cannot sign callback #{id}: {e:#}");
            return (false, Instant::now());
        }
    };
    if kind == Kind::Probe {
        let mut noise = [0u8; 192];
        rand::rngs::OsRng.fill_bytes(&mut noise);
        headers.signature = format!(
            "{SIGNATURE_PROBE_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(noise)
        );
    }
    let sent_at_ms = now_ms();
    let started = Instant::now();
    let mut request = sim
        .http
        .post(url)
        .timeout(TIMEOUT)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, "Mozilla/4.0");
    for (name, value) in super::wechatpay_headers(&headers) {
        request = request.header(name, value);
    }
    let result = request.body(body.as_ref().clone()).send().await;
    let (status, error) = match result {
        Ok(response) => {
            let status = response.status().as_u16();
            // Drain the answer so the connection can be reused; its content does not matter.
            let _ = response.bytes().await;
            (Some(status), None)
        }
        Err(e) if e.is_timeout() => (None, Some("timeout (5 s)".to_string())),
        Err(e) => (None, Some(super::describe(&e))),
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let accepted = status.is_some_and(|s| (200..300).contains(&s));
    let record = Attempt {
        time: rfc3339(sent_at_ms / 1000),
        sent_at_ms,
        status,
        latency_ms,
        error: error.clone(),
        verified_by_worker: accepted,
        probe: kind == Kind::Probe,
        stale: kind == Kind::Stale,
        reply: None,
    };
    let mut state = sim.state();
    if let Some(delivery) = state.deliveries.iter_mut().find(|d| d.id == id) {
        let n = delivery.attempts.len() + 1;
        eprintln!(
            "shoukuan sim: callback #{id} {} {} attempt {n}{} → {}",
            delivery.event_type,
            delivery.out_trade_no,
            match kind {
                Kind::Probe => " (SIGNTEST probe)",
                Kind::Stale => " (stale timestamp)",
                Kind::Normal => "",
            },
            status
                .map(|s| format!("{s} in {latency_ms} ms"))
                .or(error)
                .unwrap_or_default()
        );
        delivery.attempts.push(record);
    }
    (accepted && kind != Kind::Probe, started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_adds_up_to_24_hours_4_minutes() {
        let total: f64 = RETRY_SCHEDULE_SECS.iter().sum();
        assert_eq!(total, 24.0 * 3600.0 + 4.0 * 60.0);
        assert_eq!(RETRY_SCHEDULE_SECS.len(), 15);
    }

    #[test]
    fn variants_have_snake_case_names() {
        let v: Variant = serde_json::from_str("\"wrong_amount\"").unwrap();
        assert_eq!(v, Variant::WrongAmount);
        assert_eq!(v.as_str(), "wrong_amount");
        let v: Variant = serde_json::from_str("\"signtest\"").unwrap();
        assert_eq!(v, Variant::Signtest);
    }
}
