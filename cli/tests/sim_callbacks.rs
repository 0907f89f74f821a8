//! `shoukuan sim` callbacks: TRANSACTION.SUCCESS signed and encrypted to the notify_url, WeChat's
//! retry schedule on a scaled clock, and the variants (duplicate, concurrent, stale, wrong
//! amount, SIGNTEST probe). A local receiver plays the worker and records arrival times.

mod sim_support;

use std::time::Duration;

use serde_json::{json, Value};
use shoukuan_core::wechatpay::{
    open_notification, verify_signed, NotifyError, TradeState, VerifyError, SIGNATURE_PROBE_PREFIX,
};
use sim_support::{apiv3_key, keys, now, Received, Receiver, Sim};

/// WeChat's waits between attempts, seconds.
const SCHEDULE: [f64; 15] = [
    15.0, 15.0, 30.0, 180.0, 600.0, 1200.0, 1800.0, 1800.0, 1800.0, 3600.0, 10800.0, 10800.0,
    10800.0, 21600.0, 21600.0,
];

/// Seconds from the first attempt to attempt `n` (0-based).
fn due(n: usize) -> f64 {
    SCHEDULE[..n].iter().sum()
}

fn open(
    sim: &Sim,
    r: &Received,
) -> Result<shoukuan_core::wechatpay::OpenedNotification, NotifyError> {
    open_notification(
        &r.signed_headers(),
        &r.body,
        &sim.key_set(),
        &apiv3_key(),
        now(),
    )
}

fn notification_id(r: &Received) -> String {
    serde_json::from_slice::<Value>(&r.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Prepays an order whose callbacks go to `receiver`; returns the sim's pay answer.
async fn pay(sim: &Sim, receiver: &Receiver, no: &str, extra: Value) -> Value {
    let openid = sim.payer().await;
    let body = sim.jsapi_body(no, 888, &receiver.url, &openid);
    sim.pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
        .await
        .expect(200, None);
    let mut request = json!({ "out_trade_no": no });
    for (k, v) in extra.as_object().unwrap() {
        request[k] = v.clone();
    }
    let (status, paid) = sim.post("/sim/pay", &request).await;
    assert_eq!(status, 200, "{paid}");
    paid
}

#[tokio::test]
async fn a_payment_is_notified_signed_encrypted_and_matching_the_order() {
    let sim = Sim::start(&[]);
    let receiver = Receiver::start(&[200], "").await;
    let paid = pay(&sim, &receiver, "order_cb_0001", json!({})).await;
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    let r = &got[0];
    assert_eq!(r.uri.path(), "/notify");
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        r.headers["wechatpay-signature-type"],
        "WECHATPAY2-SHA256-RSA2048"
    );
    let opened = open(&sim, r).unwrap();
    assert_eq!(opened.notification.event_type, "TRANSACTION.SUCCESS");
    assert_eq!(opened.notification.resource_type, "encrypt-resource");
    assert_eq!(opened.notification.resource.original_type, "transaction");
    let t = opened.transaction().unwrap();
    assert_eq!(t.out_trade_no, "order_cb_0001");
    assert_eq!(t.trade_state, TradeState::Success);
    assert_eq!(t.amount.total, 888);
    assert_eq!(t.mchid, keys().config.mchid);
    assert_eq!(t.appid, keys().config.appid);
    assert_eq!(t.transaction_id.as_deref(), paid["transaction_id"].as_str());
    assert_eq!(
        r.headers["wechatpay-serial"],
        keys().config.public_key_id.as_str()
    );

    let log = sim
        .wait_for(
            "/sim/deliveries?out_trade_no=order_cb_0001",
            Duration::from_secs(5),
            |d| d[0]["done"] == true,
        )
        .await;
    assert_eq!(log.as_array().unwrap().len(), 1);
    let delivery = &log[0];
    assert_eq!(delivery["delivered"], true);
    assert_eq!(delivery["event_type"], "TRANSACTION.SUCCESS");
    let attempt = &delivery["attempts"][0];
    assert_eq!(attempt["status"], 200);
    assert_eq!(attempt["verified_by_worker"], true);
    assert!(attempt["latency_ms"].is_u64() && attempt["time"].is_string());
}

/// Asserts each arrival `n` (from `first` on) came `due(n) × scale` after the first, ±10 %.
fn assert_schedule(got: &[Received], scale: f64, from: usize) {
    let start = got[0].at;
    for (n, r) in got.iter().enumerate().skip(from) {
        let expected = due(n) * scale;
        let actual = r.at.duration_since(start).as_secs_f64();
        assert!(
            (actual - expected).abs() <= expected * 0.10,
            "attempt {} came {actual:.4} s after the first, expected {expected:.4} s ± 10 %",
            n + 1
        );
    }
}

#[tokio::test]
async fn failed_callbacks_are_retried_on_wechats_schedule() {
    // 0.04: the first four attempts at 0, 600, 1200 and 2400 ms. A scale this large keeps
    // 10 % of each step (≥ 60 ms) well above scheduling jitter on a busy 2-core machine.
    let sim = Sim::start(&["--time-scale", "0.04"]);
    let receiver = Receiver::start(&[500], "").await;
    pay(&sim, &receiver, "order_cb_retry", json!({})).await;
    let got = receiver.wait_for(4, Duration::from_secs(10)).await;
    assert_schedule(&got[..4], 0.04, 1);
    let ids: Vec<String> = got.iter().map(notification_id).collect();
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "retries resend the same notification"
    );
    for r in &got {
        open(&sim, r).unwrap();
    }
    let log = sim
        .wait_for(
            "/sim/deliveries?out_trade_no=order_cb_retry",
            Duration::from_secs(2),
            |d| d[0]["attempts"].as_array().is_some_and(|a| a.len() >= 4),
        )
        .await;
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert!(attempts
        .iter()
        .all(|a| a["status"] == 500 && a["verified_by_worker"] == false));
    assert_eq!(
        log[0]["done"], false,
        "the fifth attempt is 3 minutes × 0.04 away"
    );
}

#[tokio::test]
async fn the_whole_schedule_is_15_retries_then_nothing() {
    // 0.0001: 24 h 4 m of retries in 8.7 s; checks the attempts at least 1 s out (10 % of
    // shorter steps is within a busy machine's scheduling jitter).
    let sim = Sim::start(&["--time-scale", "0.0001"]);
    let receiver = Receiver::start(&[503], "").await;
    pay(&sim, &receiver, "order_cb_whole", json!({})).await;
    let got = receiver.wait_for(16, Duration::from_secs(20)).await;
    let from = (0..16).find(|&n| due(n) * 0.0001 >= 1.0).unwrap();
    assert_schedule(&got, 0.0001, from);
    let log = sim
        .wait_for(
            "/sim/deliveries?out_trade_no=order_cb_whole",
            Duration::from_secs(2),
            |d| d[0]["done"] == true,
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        16,
        "1 attempt + 15 retries, then WeChat gives up"
    );
    assert_eq!(log[0]["delivered"], false);
    assert_eq!(log[0]["attempts"].as_array().unwrap().len(), 16);
}

#[tokio::test]
async fn a_2xx_answer_ends_the_retries() {
    let sim = Sim::start(&["--time-scale", "0.001"]);
    let receiver = Receiver::start(&[500, 404, 204], "").await;
    pay(&sim, &receiver, "order_cb_stop", json!({})).await;
    receiver.wait_for(3, Duration::from_secs(5)).await;
    let log = sim
        .wait_for(
            "/sim/deliveries?out_trade_no=order_cb_stop",
            Duration::from_secs(2),
            |d| d[0]["done"] == true,
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3);
    assert_eq!(log[0]["delivered"], true);
    let statuses: Vec<&Value> = log[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, vec![&json!(500), &json!(404), &json!(204)]);
}

#[tokio::test]
async fn duplicates_arrive_after_the_first_delivery_and_concurrently() {
    let sim = Sim::start(&[]);
    let receiver = Receiver::start(&[200], "").await;
    let paid = pay(
        &sim,
        &receiver,
        "order_cb_dup",
        json!({ "variant": "duplicate" }),
    )
    .await;
    assert_eq!(paid["deliveries"].as_array().unwrap().len(), 2);
    let got = receiver.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(notification_id(&got[0]), notification_id(&got[1]));
    assert_eq!(got[0].body, got[1].body);
    open(&sim, &got[1]).unwrap();

    let receiver = Receiver::start(&[200], "").await;
    pay(
        &sim,
        &receiver,
        "order_cb_conc",
        json!({ "variant": "concurrent", "count": 5 }),
    )
    .await;
    let got = receiver.wait_for(5, Duration::from_secs(5)).await;
    let spread = got[4].at.duration_since(got[0].at);
    assert!(
        spread < Duration::from_millis(250),
        "5 concurrent copies spread over {spread:?}"
    );
    assert!(got
        .iter()
        .all(|r| notification_id(r) == notification_id(&got[0])));
    for r in &got {
        open(&sim, r).unwrap();
    }
    // Triggering again on a paid order works too.
    let (status, again) = sim
        .post("/sim/notify", &json!({ "out_trade_no": "order_cb_conc" }))
        .await;
    assert_eq!(status, 200, "{again}");
    receiver.wait_for(6, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn stale_wrong_amount_and_signtest_variants_are_what_they_say() {
    let sim = Sim::start(&["--time-scale", "0.001"]);
    // Stale: a correct signature over a 10-minute-old timestamp, sent once.
    let receiver = Receiver::start(&[401], "").await;
    pay(
        &sim,
        &receiver,
        "order_cb_stale",
        json!({ "variant": "stale" }),
    )
    .await;
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    let ts: i64 = got[0].headers["wechatpay-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(now() - ts >= 590, "timestamp only {} s old", now() - ts);
    assert!(matches!(
        open(&sim, &got[0]),
        Err(NotifyError::Verify(VerifyError::ClockSkew { .. }))
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1, "a replay is not retried");

    // Wrong amount: properly signed and encrypted, but one fen more than the order.
    let receiver = Receiver::start(&[400], "").await;
    pay(
        &sim,
        &receiver,
        "order_cb_amount",
        json!({ "variant": "wrong_amount" }),
    )
    .await;
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    let t = open(&sim, &got[0]).unwrap().transaction().unwrap();
    assert_eq!(t.amount.total, 889);
    let query = format!(
        "/v3/pay/transactions/out-trade-no/order_cb_amount?mchid={}",
        keys().config.mchid
    );
    assert_eq!(
        sim.pay("GET", &query, None).await.expect(200, None)["amount"]["total"],
        888
    );

    // SIGNTEST: a probe the worker must reject, then the real notification.
    let receiver = Receiver::start(&[401, 200], "").await;
    pay(
        &sim,
        &receiver,
        "order_cb_probe",
        json!({ "variant": "signtest" }),
    )
    .await;
    let got = receiver.wait_for(2, Duration::from_secs(5)).await;
    let probe = got[0].signed_headers();
    assert!(probe.signature.starts_with(SIGNATURE_PROBE_PREFIX));
    assert_eq!(
        verify_signed(&probe, &got[0].body, &sim.key_set(), now()),
        Err(VerifyError::SignatureProbe)
    );
    open(&sim, &got[1]).unwrap();
    let log = sim
        .wait_for(
            "/sim/deliveries?out_trade_no=order_cb_probe",
            Duration::from_secs(2),
            |d| d[0]["done"] == true,
        )
        .await;
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["probe"], true);
    assert_eq!(attempts[0]["verified_by_worker"], false);
    assert_eq!(attempts[1]["probe"], false);
    assert_eq!(log[0]["delivered"], true);
}

#[tokio::test]
async fn migration_mode_signs_callbacks_with_either_key() {
    let sim = Sim::start(&["--sign-mode", "migration", "--time-scale", "0.001"]);
    let receiver = Receiver::start(&[200], "").await;
    pay(
        &sim,
        &receiver,
        "order_cb_mig",
        json!({ "variant": "concurrent", "count": 24 }),
    )
    .await;
    let got = receiver.wait_for(24, Duration::from_secs(10)).await;
    let serials: std::collections::HashSet<String> = got
        .iter()
        .map(|r| r.headers["wechatpay-serial"].to_str().unwrap().to_string())
        .collect();
    let k = &keys().config;
    let expected: std::collections::HashSet<String> =
        [k.public_key_id.clone(), k.platform_serial.clone()].into();
    assert_eq!(serials, expected);
    for r in &got {
        open(&sim, r).unwrap();
    }
}
