//! Merchant payments end to end: real workerd + D1, `shoukuan sim` as WeChat Pay (callbacks on
//! WeChat's retry schedule, scaled ×0.1), Chromium with WeChat's and a desktop user agent.
//!
//! What must hold whatever WeChat Pay sends: verification over the raw bytes, one transition
//! per order (the database writes one `order_events` row per state change), 204 for applied
//! and duplicates, FAIL answers for what cannot be verified or does not match, the cron's
//! query as the fallback, refunds within what was paid, and the daily limit under concurrency.

use std::time::{Duration, Instant};

use crate::{unique, wechat_session};
use base64::Engine as _;
use serde_json::{json, Value};
use shoukuan_core::wechatpay::devkeys::SimConfig;
use shoukuan_core::wechatpay::{
    paysign_message, sign_for_test, EncryptedResource, Notification, PrivateKey, PublicKey,
    SignedHeaders, RESOURCE_TYPE_ENCRYPTED,
};
use shoukuan_tests::browser::Browser;
use shoukuan_tests::sim::Sim;
use shoukuan_tests::worker::Worker;
use tokio::sync::OnceCell;

pub(crate) const OPERATOR: &str = "e2e-pay-operator-secret-0123456789";
/// The seller's name the own-business workers show on payer pages.
const MERCHANT_NAME: &str = "收款测试餐饮有限公司";

/// One simulator (delays ×0.1) and one worker with the payments test switches, shared by the
/// tests of one money model; each test uses its own payee, collections and orders.
pub(crate) struct Pay {
    pub(crate) sim: Sim,
    pub(crate) worker: Worker,
    pub(crate) keys: SimConfig,
}

static PAY: OnceCell<Pay> = OnceCell::const_new();

fn worker_vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("OPERATOR_SECRET", OPERATOR),
        ("PAY_TEST_HOOKS", "1"),
        // The cron queries every pending order at once (production: after two minutes).
        ("PAY_REQUERY_AFTER_SECS", "0"),
    ]
}

impl Pay {
    /// A simulator whose keys `shoukuan keys dev --model <model>` made, and a worker on them.
    pub(crate) async fn start(model: &str, extra: &[(&str, &str)]) -> Pay {
        let sim = Sim::start_model(model, &["--time-scale", "0.1"])
            .await
            .expect("shoukuan sim starts");
        let mut vars = worker_vars();
        vars.extend_from_slice(extra);
        let worker = sim.start_worker(&vars).await.expect("wrangler dev starts");
        let keys: SimConfig =
            serde_json::from_str(&std::fs::read_to_string(sim.dir().join("sim.json")).unwrap())
                .unwrap();
        Pay { sim, worker, keys }
    }
}

pub(crate) async fn pay() -> &'static Pay {
    PAY.get_or_init(|| async {
        Pay::start(
            "own_business",
            &[
                ("WECHATPAY_MODEL", "own_business"),
                ("WECHATPAY_MERCHANT_NAME", MERCHANT_NAME),
            ],
        )
        .await
    })
    .await
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// 12:00 Beijing time of today's Beijing day: a clock (`x-test-now`, with `PAY_TEST_HOOKS`)
/// for "remind now" outside the 22:00–08:00 quiet hours, whatever the real time.
pub(crate) fn beijing_noon() -> i64 {
    let day = (now() + 8 * 3600).div_euclid(86_400);
    day * 86_400 - 8 * 3600 + 12 * 3600
}

/// A signed-in, approved payee.
pub(crate) struct Payee {
    pub(crate) openid: String,
    pub(crate) cookie: String,
}

/// A callback as WeChat Pay would send it: headers and exact body.
pub(crate) struct Callback {
    pub(crate) headers: SignedHeaders,
    pub(crate) body: Vec<u8>,
}

impl Pay {
    pub(crate) fn worker(&self) -> &Worker {
        &self.worker
    }

    /// A new simulated WeChat user signed in to the dashboard and approved by the operator.
    pub(crate) async fn payee_on(&self, worker: &Worker) -> Payee {
        let openid = self.sim.create_payer(true).await.unwrap();
        let cookie = wechat_session(worker, "/oauth/start?next=/dash", &openid, "sk_payee").await;
        let resp = reqwest::Client::new()
            .post(worker.url(&format!("/api/operator/payees/{openid}/approve")))
            .bearer_auth(OPERATOR)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        Payee { openid, cookie }
    }

    pub(crate) async fn payee(&self) -> Payee {
        self.payee_on(&self.worker).await
    }

    pub(crate) async fn as_payee_on(
        &self,
        worker: &Worker,
        payee: &Payee,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, worker.url(path))
            .header("cookie", &payee.cookie);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let resp = request.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn as_payee(
        &self,
        payee: &Payee,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.as_payee_on(&self.worker, payee, method, path, body)
            .await
    }

    /// A merchant collection of `payee` (`amount` in yuan, `None`: the payer enters it).
    pub(crate) async fn collection_on(
        &self,
        worker: &Worker,
        payee: &Payee,
        amount: Option<&str>,
    ) -> String {
        let (status, created) = self
            .as_payee_on(
                worker,
                payee,
                reqwest::Method::POST,
                "/api/dash/merchant-collections",
                Some(json!({ "payee_name": "李四商店", "title": "课程费", "amount": amount, "note": "" })),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_string()
    }

    pub(crate) async fn collection(&self, payee: &Payee, amount: Option<&str>) -> String {
        self.collection_on(&self.worker, payee, amount).await
    }

    /// `POST /api/orders` from a desktop browser (Native).
    pub(crate) async fn try_order_on(
        &self,
        worker: &Worker,
        collection: &str,
        amount: Option<&str>,
    ) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(worker.url("/api/orders"))
            .json(&json!({ "collection_id": collection, "amount": amount }))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn order_on(
        &self,
        worker: &Worker,
        collection: &str,
        amount: Option<&str>,
    ) -> Value {
        let (status, order) = self.try_order_on(worker, collection, amount).await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["method"], "native");
        order
    }

    pub(crate) async fn order(&self, collection: &str, amount: Option<&str>) -> Value {
        self.order_on(&self.worker, collection, amount).await
    }

    /// Pays a Native order in the simulator as a new WeChat user, with a callback variant.
    pub(crate) async fn sim_pay(&self, out_trade_no: &str, variant: &str, count: usize) -> Value {
        let payer = self.sim.create_payer(false).await.unwrap();
        self.sim
            .post(
                "/sim/pay",
                &json!({ "out_trade_no": out_trade_no, "openid": payer, "variant": variant, "count": count }),
            )
            .await
            .unwrap()
    }

    pub(crate) async fn order_view_on(&self, worker: &Worker, id: &str) -> Value {
        reqwest::get(worker.url(&format!("/api/orders/{id}")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until the order is in `state` (without asking WeChat Pay: no `refresh`).
    pub(crate) async fn wait_state_on(
        &self,
        worker: &Worker,
        id: &str,
        state: &str,
        secs: u64,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let view = self.order_view_on(worker, id).await;
            if view["state"] == state {
                return view;
            }
            if Instant::now() >= deadline {
                let log = worker.log();
                let tail: String = log
                    .lines()
                    .filter(|l| !l.contains("GET /api/orders/"))
                    .collect::<Vec<_>>()
                    .join("\n");
                let tail = &tail[tail.len().saturating_sub(6000)..];
                panic!("order {id} not {state} after {secs} s: {view}\nworker log:\n{tail}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(crate) async fn wait_state(&self, id: &str, state: &str, secs: u64) -> Value {
        self.wait_state_on(&self.worker, id, state, secs).await
    }

    /// State changes of an order to `to`, as the database recorded them.
    pub(crate) fn transitions(&self, worker: &Worker, order_id: &str, to: &str) -> i64 {
        let rows = worker
            .query(&format!(
                "SELECT COUNT(*) AS n FROM order_events WHERE order_id = '{order_id}' AND to_state = '{to}'"
            ))
            .unwrap();
        rows[0]["n"].as_i64().unwrap()
    }

    /// The simulator's deliveries of an order's callbacks, once all of them are done.
    pub(crate) async fn deliveries_done(
        &self,
        out_trade_no: &str,
        expected: usize,
        secs: u64,
    ) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let all = self
                .sim
                .get(&format!("/sim/deliveries?out_trade_no={out_trade_no}"))
                .await
                .unwrap();
            let list = all.as_array().cloned().unwrap_or_default();
            if list.len() >= expected && list.iter().all(|d| d["done"] == true) {
                return list;
            }
            assert!(
                Instant::now() < deadline,
                "deliveries of {out_trade_no} not done: {all}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A `TRANSACTION.SUCCESS` for an order as WeChat Pay would send it, with `edit` applied to
    /// the transaction, signed by `signer` under `serial` at `timestamp`.
    pub(crate) fn callback(
        &self,
        order: &Value,
        edit: impl FnOnce(&mut Value),
        signer: &PrivateKey,
        serial: &str,
        timestamp: i64,
    ) -> Callback {
        let mut tx = json!({
            "appid": self.keys.appid,
            "mchid": self.keys.mchid,
            "out_trade_no": order["out_trade_no"],
            "transaction_id": format!("42000{}", now()),
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "success_time": "2026-11-27T10:00:00+08:00",
            "payer": { "openid": "oForgedPayer" },
            "amount": { "total": order["amount_fen"], "payer_total": order["amount_fen"], "currency": "CNY", "payer_currency": "CNY" },
        });
        edit(&mut tx);
        let key = self.keys.apiv3_key().unwrap();
        let resource = EncryptedResource::seal(
            &key,
            "transaction",
            "n0nce0123456",
            "transaction",
            &tx.to_string(),
        )
        .unwrap();
        let notification = Notification {
            id: unique("EV-e2e-"),
            create_time: "2026-11-27T10:00:01+08:00".into(),
            event_type: "TRANSACTION.SUCCESS".into(),
            resource_type: RESOURCE_TYPE_ENCRYPTED.into(),
            summary: "支付成功".into(),
            resource,
        };
        let body = serde_json::to_vec(&notification).unwrap();
        let headers = sign_for_test(signer, serial, timestamp, &unique("nonce"), &body).unwrap();
        Callback { headers, body }
    }

    /// The WeChat Pay public key's signer and id (what the worker trusts).
    pub(crate) fn wechat_key(&self) -> (PrivateKey, String) {
        (
            self.keys.public_key_signer().unwrap(),
            self.keys.public_key_id.clone(),
        )
    }

    pub(crate) async fn post_callback(&self, callback: &Callback) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(self.worker.url("/wechatpay/notify/transaction"))
            .header("content-type", "application/json");
        for (name, value) in callback.headers.to_pairs() {
            request = request.header(name, value);
        }
        let resp = request.body(callback.body.clone()).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn dashboard(&self, payee: &Payee) -> Value {
        let (status, body) = self
            .as_payee(payee, reqwest::Method::GET, "/api/dash/payments", None)
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

pub(crate) fn statuses(delivery: &Value) -> Vec<Option<u64>> {
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_native_order_is_paid_once_and_a_duplicate_is_answered_204() {
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("10.00")).await;
    let order = p.order(&collection, Some("0.01")).await;
    assert_eq!(
        order["amount_fen"], 1000,
        "a fixed amount ignores what the page sends"
    );
    assert!(order["code_url"]
        .as_str()
        .unwrap()
        .starts_with("weixin://wxpay/bizpayurl"));
    let time_expire = order["time_expire"].as_str().unwrap();
    assert!(time_expire.ends_with("+08:00"), "{time_expire}");
    let id = order["id"].as_str().unwrap();
    let out_trade_no = order["out_trade_no"].as_str().unwrap();
    assert_eq!(p.order_view_on(p.worker(), id).await["state"], "pending");

    let paid = p.sim_pay(out_trade_no, "duplicate", 1).await;
    let view = p.wait_state(id, "paid", 20).await;
    assert_eq!(view["transaction_id"], paid["transaction_id"]);
    let deliveries = p.deliveries_done(out_trade_no, 2, 30).await;
    for delivery in &deliveries {
        assert_eq!(statuses(delivery), vec![Some(204)], "{delivery}");
    }
    assert_eq!(
        deliveries[0]["notification_id"],
        deliveries[1]["notification_id"]
    );
    assert_eq!(p.transitions(p.worker(), id, "paid"), 1);
    let recorded = p
        .worker()
        .query(&format!("SELECT outcome, key_serial FROM pay_notifications WHERE out_trade_no = '{out_trade_no}'"))
        .unwrap();
    assert_eq!(
        recorded.len(),
        1,
        "one notification, recorded once: {recorded:?}"
    );
    assert_eq!(recorded[0]["outcome"], "applied");
    // The payee sees it.
    let dash = p.dashboard(&payee).await;
    let line = dash["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == collection.as_str())
        .unwrap();
    assert_eq!(line["paid_fen"], 1000);
    assert_eq!(line["paid_count"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_duplicates_make_one_transition_and_fifty_success_answers() {
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, None).await;
    let order = p.order(&collection, Some("66.60")).await;
    assert_eq!(order["amount_fen"], 6660);
    let (id, out_trade_no) = (
        order["id"].as_str().unwrap(),
        order["out_trade_no"].as_str().unwrap(),
    );
    p.sim_pay(out_trade_no, "concurrent", 50).await;
    let deliveries = p.deliveries_done(out_trade_no, 50, 60).await;
    assert_eq!(deliveries.len(), 50);
    for delivery in &deliveries {
        assert_eq!(delivery["delivered"], true, "{delivery}");
        assert_eq!(
            statuses(delivery)[0],
            Some(204),
            "the first (and only) attempt succeeded: {delivery}"
        );
    }
    p.wait_state(id, "paid", 5).await;
    assert_eq!(
        p.transitions(p.worker(), id, "paid"),
        1,
        "exactly one transition"
    );
    assert_eq!(
        p.worker()
            .count(&format!("order_events WHERE order_id = '{id}'"))
            .unwrap(),
        1,
        "and nothing else changed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_probe_stale_wrong_amount_and_wrong_appid_callbacks_are_rejected_without_transition()
{
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("20.00")).await;
    let order = p.order(&collection, None).await;
    let id = order["id"].as_str().unwrap();
    let (signer, serial) = p.wechat_key();

    // Forged: signed with a key that is not WeChat Pay's (the merchant's own), named as WeChat's.
    let merchant_key = PrivateKey::from_pem(&p.sim.var("WECHATPAY_MCH_PRIVATE_KEY")).unwrap();
    let forged = p.callback(&order, |_| {}, &merchant_key, &serial, now());
    let (status, body) = p.post_callback(&forged).await;
    assert_eq!((status, &body["code"]), (401, &json!("FAIL")), "{body}");
    // Tampered: WeChat's signature, but the body changed after signing.
    let mut tampered = p.callback(&order, |_| {}, &signer, &serial, now());
    tampered.body.insert(1, b' ');
    assert_eq!(p.post_callback(&tampered).await.0, 401);
    // A SIGNTEST probe.
    let mut probe = p.callback(&order, |_| {}, &signer, &serial, now());
    probe.headers.signature = format!(
        "WECHATPAY/SIGNTEST/{}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 64])
    );
    let (status, body) = p.post_callback(&probe).await;
    assert_eq!((status, &body["code"]), (401, &json!("FAIL")), "{body}");
    // Ten minutes old, correctly signed.
    let stale = p.callback(&order, |_| {}, &signer, &serial, now() - 600);
    assert_eq!(p.post_callback(&stale).await.0, 401);
    // An unknown key id.
    let unknown = p.callback(
        &order,
        |_| {},
        &signer,
        "PUB_KEY_ID_0000000000000000000000000000",
        now(),
    );
    assert_eq!(p.post_callback(&unknown).await.0, 401);
    assert_eq!(p.order_view_on(p.worker(), id).await["state"], "pending");

    // A resource that is not `encrypt-resource`: refused (WeChat Pay retries), not recorded.
    let mut odd = p.callback(&order, |_| {}, &signer, &serial, now());
    let mut envelope: Value = serde_json::from_slice(&odd.body).unwrap();
    envelope["resource_type"] = json!("plain-resource");
    odd.body = serde_json::to_vec(&envelope).unwrap();
    odd.headers = sign_for_test(&signer, &serial, now(), &unique("nonce"), &odd.body).unwrap();
    let (status, body) = p.post_callback(&odd).await;
    assert_eq!((status, &body["code"]), (400, &json!("FAIL")), "{body}");

    // Verified but disagreeing with the order: recorded and flagged, never applied — and once
    // recorded answered success, so WeChat Pay stops retrying what a retry cannot change.
    let wrong_amount = p.callback(
        &order,
        |tx| tx["amount"]["total"] = json!(1),
        &signer,
        &serial,
        now(),
    );
    let (status, body) = p.post_callback(&wrong_amount).await;
    assert_eq!(status, 204, "{body}");
    let wrong_appid = p.callback(
        &order,
        |tx| tx["appid"] = json!("wx0000000000000bad"),
        &signer,
        &serial,
        now(),
    );
    assert_eq!(p.post_callback(&wrong_appid).await.0, 204);
    let wrong_mchid = p.callback(
        &order,
        |tx| tx["mchid"] = json!("1900000999"),
        &signer,
        &serial,
        now(),
    );
    assert_eq!(p.post_callback(&wrong_mchid).await.0, 204);
    // A direct order's callback carrying a sub-merchant (a partner-shaped payment): flagged.
    let with_sub = p.callback(
        &order,
        |tx| tx["sub_mchid"] = json!("1900000109"),
        &signer,
        &serial,
        now(),
    );
    assert_eq!(p.post_callback(&with_sub).await.0, 204);
    // The same wrong-amount notification again: same answer, flagged once.
    assert_eq!(p.post_callback(&wrong_amount).await.0, 204);
    assert_eq!(p.order_view_on(p.worker(), id).await["state"], "pending");
    assert_eq!(p.transitions(p.worker(), id, "paid"), 0);
    let flags = p.dashboard(&payee).await["flags"]
        .as_array()
        .cloned()
        .unwrap();
    let kinds: Vec<&str> = flags
        .iter()
        .filter(|f| f["order_id"] == id)
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "mismatch_amount").count(),
        1,
        "{flags:?}"
    );
    assert!(
        kinds.contains(&"mismatch_appid")
            && kinds.contains(&"mismatch_mchid")
            && kinds.contains(&"mismatch_sub_mchid"),
        "{flags:?}"
    );
    let recorded = p
        .worker()
        .query(&format!(
            "SELECT outcome FROM pay_notifications WHERE out_trade_no = '{}'",
            order["out_trade_no"].as_str().unwrap()
        ))
        .unwrap();
    assert_eq!(
        recorded.len(),
        4,
        "the odd resource_type is not recorded: {recorded:?}"
    );
    assert!(recorded.iter().all(|r| r["outcome"] == "flagged"));

    // Finally the genuine notification: applied once.
    let genuine = p.callback(&order, |_| {}, &signer, &serial, now());
    assert_eq!(p.post_callback(&genuine).await.0, 204);
    assert_eq!(
        p.post_callback(&genuine).await.0,
        204,
        "a duplicate of something applied"
    );
    p.wait_state(id, "paid", 5).await;
    assert_eq!(p.transitions(p.worker(), id, "paid"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulators_probe_stale_and_wrong_amount_deliveries_are_refused_and_the_query_settles_it(
) {
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("3.00")).await;

    // SIGNTEST first, then the real notification: the probe is refused, the real one applied.
    let order = p.order(&collection, None).await;
    let (id, no) = (
        order["id"].as_str().unwrap(),
        order["out_trade_no"].as_str().unwrap(),
    );
    p.sim_pay(no, "signtest", 1).await;
    p.wait_state(id, "paid", 20).await;
    let delivery = &p.deliveries_done(no, 1, 30).await[0];
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["probe"], true);
    assert_eq!(attempts[0]["status"], 401);
    assert_eq!(attempts.last().unwrap()["status"], 204);
    assert_eq!(p.transitions(p.worker(), id, "paid"), 1);

    // A stale timestamp (refused, 401) and a wrong amount (verified: flagged and answered
    // success, never applied); the cron's query then finds the order paid at WeChat Pay and
    // applies that.
    for (variant, expected) in [("stale", 401), ("wrong_amount", 204)] {
        let order = p.order(&collection, None).await;
        let (id, no) = (
            order["id"].as_str().unwrap(),
            order["out_trade_no"].as_str().unwrap(),
        );
        p.sim_pay(no, variant, 1).await;
        let delivery = &p.deliveries_done(no, 1, 30).await[0];
        assert_eq!(
            statuses(delivery),
            vec![Some(expected)],
            "{variant}: {delivery}"
        );
        let events = p
            .worker()
            .query(&format!(
                "SELECT changed_by FROM order_events WHERE order_id = '{id}' AND to_state = 'paid'"
            ))
            .unwrap();
        assert!(
            events.iter().all(|e| e["changed_by"] != "callback"),
            "{variant}: {events:?}"
        );
        p.worker().run_cron().await.unwrap();
        let view = p.wait_state(id, "paid", 20).await;
        assert!(view["transaction_id"].as_str().is_some());
        let events = p
            .worker()
            .query(&format!(
                "SELECT changed_by FROM order_events WHERE order_id = '{id}' AND to_state = 'paid'"
            ))
            .unwrap();
        assert_eq!(events.len(), 1, "{variant}: {events:?}");
        assert_ne!(events[0]["changed_by"], "callback", "{variant}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_callbacks_are_confirmed_by_a_retry_or_by_the_cron_query() {
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("1.23")).await;
    let fault = |no: &str, count: i64| {
        let url = p.worker().url("/api/test/pay/faults");
        let body = json!({ "out_trade_no": no, "count": count });
        async move {
            let resp = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        }
    };

    // The first three attempts get a 500; WeChat's fourth (after 15 s + 15 s + 30 s, ×0.1) lands.
    let order = p.order(&collection, None).await;
    let (id, no) = (
        order["id"].as_str().unwrap(),
        order["out_trade_no"].as_str().unwrap(),
    );
    fault(no, 3).await;
    p.sim_pay(no, "normal", 1).await;
    p.wait_state(id, "paid", 30).await;
    let delivery = &p.deliveries_done(no, 1, 30).await[0];
    assert_eq!(
        statuses(delivery),
        vec![Some(500), Some(500), Some(500), Some(204)]
    );
    let events = p
        .worker()
        .query(&format!(
            "SELECT changed_by FROM order_events WHERE order_id = '{id}' AND to_state = 'paid'"
        ))
        .unwrap();
    assert_eq!(events.len(), 1);

    // Every attempt fails: the cron's query confirms the order.
    let order = p.order(&collection, None).await;
    let (id, no) = (
        order["id"].as_str().unwrap(),
        order["out_trade_no"].as_str().unwrap(),
    );
    fault(no, 1000).await;
    p.sim_pay(no, "normal", 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(p.order_view_on(p.worker(), id).await["state"], "pending");
    p.worker().run_cron().await.unwrap();
    p.wait_state(id, "paid", 20).await;
    let events = p
        .worker()
        .query(&format!(
            "SELECT changed_by FROM order_events WHERE order_id = '{id}' AND to_state = 'paid'"
        ))
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_ne!(events[0]["changed_by"], "callback");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_unpaid_order_is_closed_through_the_close_api() {
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("5.00")).await;
    let order = p.order(&collection, None).await;
    let (id, no) = (
        order["id"].as_str().unwrap(),
        order["out_trade_no"].as_str().unwrap(),
    );
    let resp = reqwest::Client::new()
        .post(p.worker().url("/api/test/pay/age"))
        .json(&json!({ "order_id": id, "seconds": 3600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    p.worker().run_cron().await.unwrap();
    p.wait_state(id, "closed", 20).await;
    let sim_orders = p.sim.get("/sim/orders").await.unwrap();
    let at_sim = sim_orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["out_trade_no"] == no)
        .unwrap();
    assert_eq!(at_sim["state"], "CLOSED", "closed at WeChat Pay too");
    // The closed order no longer counts toward the day's limit.
    let dash = p.dashboard(&payee).await;
    assert_eq!(dash["today"]["reserved_fen"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn refunds_full_and_partial_and_an_over_refund_is_refused() {
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("10.00")).await;
    let order = p.order(&collection, None).await;
    let (id, no) = (
        order["id"].as_str().unwrap(),
        order["out_trade_no"].as_str().unwrap(),
    );
    p.sim_pay(no, "normal", 1).await;
    p.wait_state(id, "paid", 20).await;
    let path = format!("/api/dash/orders/{id}/refunds");
    let (payee_ref, path_ref) = (&payee, &path);
    let refund = |body: Value| async move {
        p.as_payee(payee_ref, reqwest::Method::POST, path_ref, Some(body))
            .await
    };

    let (status, body) = refund(json!({ "amount": "3.00", "reason": "少发了一件" })).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["refund"]["amount_fen"], 300);
    // REFUND.SUCCESS arrives (after 3 s ×0.1) through the same verify-decrypt path.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let view = p.order_view_on(p.worker(), id).await;
        if view["state"] == "paid" && view["refunded_fen"] == 300 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "partial refund not settled: {view}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = refund(json!({ "amount": "7.01", "reason": "超额" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("OVER_REFUND")),
        "{body}"
    );
    let (status, body) = refund(json!({ "reason": "" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_REASON")),
        "{body}"
    );
    // The rest (no amount: everything still refundable).
    let (status, body) = refund(json!({ "reason": "全部退款" })).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["refund"]["amount_fen"], 700);
    let view = p.wait_state(id, "refunded", 20).await;
    assert_eq!(view["refunded_fen"], 1000);
    let (status, _) = refund(json!({ "amount": "0.01", "reason": "再退" })).await;
    assert_eq!(status, 409);
    // Another payee cannot refund this order.
    let stranger = p.payee().await;
    let (status, _) = p
        .as_payee(
            &stranger,
            reqwest::Method::POST,
            &format!("/api/dash/orders/{id}/refunds"),
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(status, 404);
    // WeChat Pay refunded exactly what was paid.
    let refunds = p.sim.get("/sim/refunds").await.unwrap();
    let total: i64 = refunds
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["out_trade_no"] == no)
        .map(|r| r["refund"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 1000);
    let states = p
        .worker()
        .query(&format!(
            "SELECT state FROM refunds WHERE order_id = '{id}'"
        ))
        .unwrap();
    assert!(states.iter().all(|s| s["state"] == "success"), "{states:?}");
    assert_eq!(p.transitions(p.worker(), id, "refunded"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_limit_refuses_the_order_that_would_cross_it_even_ten_at_once() {
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, None).await;
    // ¥40 000 received: the warning shows.
    let big = p.order(&collection, Some("40000")).await;
    p.sim_pay(big["out_trade_no"].as_str().unwrap(), "normal", 1)
        .await;
    p.wait_state(big["id"].as_str().unwrap(), "paid", 20).await;
    let today = &p.dashboard(&payee).await["today"];
    assert_eq!(
        (today["confirmed_fen"].as_i64(), today["warn"].as_bool()),
        (Some(4_000_000), Some(true)),
        "{today}"
    );
    assert_eq!(today["blocked"], false);

    // ¥10 000 left; ten orders of ¥2 000 at the same moment: five fit, five are refused.
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let collection = collection.clone();
            async move { p.try_order_on(p.worker(), &collection, Some("2000")).await }
        })
        .collect();
    let results = futures_join_all(attempts).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 403)
        .map(|(_, b)| b)
        .collect();
    assert_eq!((created, refused.len()), (5, 5), "{results:?}");
    for body in &refused {
        assert_eq!(body["code"], "DAILY_LIMIT");
        assert!(
            body["message"].as_str().unwrap().contains("身份验证"),
            "{body}"
        );
    }
    let today = &p.dashboard(&payee).await["today"];
    assert_eq!(
        today["confirmed_fen"].as_i64().unwrap() + today["reserved_fen"].as_i64().unwrap(),
        5_000_000
    );
    // That payer's own pending orders count in full for it; for anyone else they hold only
    // `PAYER_HOLD` (`core::limits`), so the day is not blocked.
    assert_eq!(today["held_fen"], 100_000, "{today}");
    assert_eq!(today["blocked"], false);
    let (status, body) = p.try_order_on(p.worker(), &collection, Some("0.01")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("DAILY_LIMIT")),
        "{body}"
    );

    // Identity verified by the operator: the limit no longer applies.
    let resp = reqwest::Client::new()
        .post(
            p.worker()
                .url(&format!("/api/operator/payees/{}/identity", payee.openid)),
        )
        .bearer_auth(OPERATOR)
        .json(&json!({ "verified": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, body) = p.try_order_on(p.worker(), &collection, Some("0.01")).await;
    assert_eq!(status, 201, "{body}");
}

/// Runs futures concurrently (no extra dependency).
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// One test for everything that switches the simulator's signing key, so no other test sees
/// the switch mid-way: public-key and certificate callbacks in one run, WeChat's random
/// migration mix, and a platform certificate rotated mid-run (one central refresh).
#[tokio::test(flavor = "multi_thread")]
async fn public_key_and_certificate_callbacks_mix_and_a_rotated_certificate_is_picked_up() {
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("0.50")).await;
    let refreshes = || {
        p.worker()
            .query("SELECT refreshes FROM wechatpay_certificate_refresh WHERE id = 1")
            .unwrap()[0]["refreshes"]
            .as_i64()
            .unwrap()
    };
    let mode = |mode: &'static str| async move {
        p.sim
            .post("/sim/config", &json!({ "sign_mode": mode }))
            .await
            .unwrap();
    };
    let collection = &collection;
    let paid_with = |variant: &'static str, count: usize| async move {
        let order = p.order(collection, None).await;
        let (id, no) = (
            order["id"].as_str().unwrap().to_string(),
            order["out_trade_no"].as_str().unwrap().to_string(),
        );
        p.sim_pay(&no, variant, count).await;
        p.wait_state(&id, "paid", 40).await;
        let deliveries = p.deliveries_done(&no, count, 60).await;
        assert_eq!(p.transitions(p.worker(), &id, "paid"), 1);
        (id, no, deliveries)
    };
    let serials = |no: String| {
        let rows = p
            .worker()
            .query(&format!(
                "SELECT key_serial FROM pay_notifications WHERE out_trade_no = '{no}'"
            ))
            .unwrap();
        rows.iter()
            .map(|r| r["key_serial"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };

    mode("public-key").await;
    let (_, no, _) = paid_with("normal", 1).await;
    assert_eq!(serials(no), vec![p.keys.public_key_id.clone()]);

    // Certificate mode: the worker has no certificate yet, downloads the list once.
    // Read before switching: other tests' calls may be the first to meet a certificate.
    let before = refreshes();
    mode("certificate").await;
    let (_, no, _) = paid_with("normal", 1).await;
    assert_eq!(serials(no), vec![p.keys.platform_serial.clone()]);
    assert_eq!(refreshes(), before + 1, "one download for the new serial");

    // Migration: each copy of a 20-fold concurrent delivery picks a key at random.
    mode("migration").await;
    let (_, no, deliveries) = paid_with("concurrent", 20).await;
    assert!(
        deliveries.iter().all(|d| statuses(d)[0] == Some(204)),
        "{deliveries:?}"
    );
    assert_eq!(
        serials(no).len(),
        1,
        "the notification is recorded once whichever key signed it"
    );
    assert_eq!(refreshes(), before + 1, "known keys need no download");

    // Rotation mid-run: the simulator signs with a new certificate from now on. The first
    // callback with its serial triggers one central refresh (also for 20 copies at once).
    mode("certificate").await;
    tokio::time::sleep(Duration::from_secs(11)).await; // past the minimum refresh interval
    let rotated = p
        .sim
        .post("/sim/certificates/rotate", &json!({}))
        .await
        .unwrap();
    let new_serial = rotated
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["active"] == true)
        .unwrap()["serial_no"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_serial, p.keys.platform_serial);
    let (_, no, deliveries) = paid_with("concurrent", 20).await;
    assert!(
        deliveries.iter().all(|d| d["delivered"] == true),
        "{deliveries:?}"
    );
    assert_eq!(serials(no), vec![new_serial.clone()]);
    assert_eq!(
        refreshes(),
        before + 2,
        "exactly one more download, not one per callback"
    );
    let stored = p
        .worker()
        .query("SELECT serial FROM wechatpay_certificates ORDER BY effective_at")
        .unwrap();
    assert!(
        stored.iter().any(|r| r["serial"] == new_serial.as_str()),
        "{stored:?}"
    );
    mode("public-key").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_made_before_wrangler_restarts_is_confirmed_after() {
    let p = pay().await;
    let worker = p.sim.start_worker(&worker_vars()).await.unwrap();
    let payee = p.payee_on(&worker).await;
    let collection = p.collection_on(&worker, &payee, Some("2.00")).await;
    let order = p.order_on(&worker, &collection, None).await;
    let (id, no) = (
        order["id"].as_str().unwrap().to_string(),
        order["out_trade_no"].as_str().unwrap().to_string(),
    );
    let mut worker = worker;
    worker.restart().await.unwrap();
    p.sim_pay(&no, "normal", 1).await;
    p.wait_state_on(&worker, &id, "paid", 30).await;
    assert_eq!(p.transitions(&worker, &id, "paid"), 1);
}

/// The browser flows check the page itself: no reload between pending and paid.
async fn mark_page(browser: &Browser) {
    browser
        .eval("window.__skNoReload = 42; return true")
        .await
        .unwrap();
}

async fn page_was_not_reloaded(browser: &Browser) -> bool {
    browser
        .eval("return window.__skNoReload === 42")
        .await
        .unwrap()
        == json!(true)
}

async fn wait_paid_in_page(browser: &Browser) {
    browser.wait_for("#order-state").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let state = browser
            .eval("const e = document.getElementById('order-state'); return e ? e.dataset.state : null")
            .await
            .unwrap();
        if state == json!("paid") {
            return;
        }
        assert!(Instant::now() < deadline, "order page not paid: {state}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn inside_wechat_the_jsapi_cashier_is_invoked_and_the_order_page_turns_paid() {
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("12.34")).await;
    let key = unique("pay");
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/routes",
            Some(json!({ "key": key, "target": format!("/c/{collection}") })),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let browser = Browser::wechat().await.unwrap();
    // WeChat's bridge, injected before any page script: it appears a moment after the page (as
    // in WeChat, where `WeixinJSBridgeReady` may come late) and hands the cashier's parameters
    // and callback to the test, which asks the simulator to pay.
    browser
        .driver
        .cdp()
        .send_raw(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": "setTimeout(function(){ window.WeixinJSBridge = { invoke: function(name, params, cb){ window.__skPay = { name: name, params: params }; window.__skPayCb = cb; } }; document.dispatchEvent(new Event('WeixinJSBridgeReady')); }, 1200);" }),
        )
        .await
        .unwrap();
    browser
        .driver
        .goto(p.worker().url(&format!("/m/{key}")))
        .await
        .unwrap();
    browser
        .wait_for("#sk-pay")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let invoked = loop {
        let invoked = browser.eval("return window.__skPay || null").await.unwrap();
        if !invoked.is_null() {
            break invoked;
        }
        assert!(
            Instant::now() < deadline,
            "getBrandWCPayRequest was not invoked"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(invoked["name"], "getBrandWCPayRequest");
    let params = &invoked["params"];
    assert_eq!(params["appId"], p.keys.appid.as_str());
    assert_eq!(params["signType"], "RSA");
    // paySign verifies with the merchant's public key over the four documented lines.
    let message = paysign_message(
        params["appId"].as_str().unwrap(),
        params["timeStamp"].as_str().unwrap(),
        params["nonceStr"].as_str().unwrap(),
        params["package"].as_str().unwrap(),
    );
    let signature = base64::engine::general_purpose::STANDARD
        .decode(params["paySign"].as_str().unwrap())
        .unwrap();
    assert!(PublicKey::from_pem(&p.keys.merchant_public_key_pem)
        .unwrap()
        .verify_sha256(message.as_bytes(), &signature));
    let prepay_id = params["package"]
        .as_str()
        .unwrap()
        .strip_prefix("prepay_id=")
        .unwrap()
        .to_string();
    let paid = p
        .sim
        .post("/sim/pay", &json!({ "prepay_id": prepay_id }))
        .await
        .unwrap();
    // The cashier says ok: the page goes to the order page, which waits for the confirmation.
    browser
        .eval("window.__skPayCb({ err_msg: 'get_brand_wcpay_request:ok' }); return true")
        .await
        .unwrap();
    browser.wait_for("#order-state").await.unwrap();
    assert!(browser
        .driver
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/o/"));
    mark_page(&browser).await;
    wait_paid_in_page(&browser).await;
    assert!(
        page_was_not_reloaded(&browser).await,
        "the page turned paid by itself"
    );
    let receipt = browser
        .wait_for("#receipt")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(receipt.contains("¥12.34"), "{receipt}");
    assert!(receipt.contains("李四商店"), "{receipt}");
    assert!(
        receipt.contains(paid["transaction_id"].as_str().unwrap()),
        "{receipt}"
    );
    assert!(
        receipt.contains(paid["out_trade_no"].as_str().unwrap()),
        "{receipt}"
    );
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_desktop_the_native_qr_is_shown_and_paying_it_turns_the_page_paid() {
    let p = pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("8.88")).await;
    let browser = Browser::desktop().await.unwrap();
    browser
        .driver
        .goto(p.worker().url(&format!("/c/{collection}")))
        .await
        .unwrap();
    // Own business: the page names the merchant as the seller.
    let seller = browser
        .wait_for(".seller")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(seller, format!("收款商户：{MERCHANT_NAME}"));
    browser
        .wait_for("#sk-pay")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for("#order-qr").await.unwrap();
    mark_page(&browser).await;
    let text = browser
        .eval("return document.body.innerText")
        .await
        .unwrap();
    assert!(text.as_str().unwrap().contains("扫一扫"), "{text}");
    let path = browser
        .driver
        .current_url()
        .await
        .unwrap()
        .path()
        .to_string();
    let id = path.strip_prefix("/o/").unwrap().to_string();
    let view = p.order_view_on(p.worker(), &id).await;
    let code_url = view["code_url"].as_str().unwrap().to_string();
    // The QR on screen is the simulator's code_url.
    let shot = browser.full_screenshot().await.unwrap();
    let decoded = shoukuan_tests::qr::decode_png(&shot).unwrap();
    assert_eq!(decoded, vec![code_url.clone()]);
    let sim_orders = p.sim.get("/sim/orders").await.unwrap();
    let at_sim = sim_orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["out_trade_no"] == view["out_trade_no"])
        .unwrap();
    assert_eq!(at_sim["code_url"], code_url.as_str());
    p.sim_pay(view["out_trade_no"].as_str().unwrap(), "normal", 1)
        .await;
    wait_paid_in_page(&browser).await;
    assert!(page_was_not_reloaded(&browser).await);
    let receipt = browser
        .wait_for("#receipt")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(receipt.contains("¥8.88"), "{receipt}");
    // The payer finds the order again from the collection's page ("我的订单").
    browser
        .driver
        .goto(p.worker().url(&format!("/c/{collection}")))
        .await
        .unwrap();
    let mine = browser.wait_for("#sk-my-orders").await.unwrap();
    let links = mine.find_all(thirtyfour::By::Css("a")).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        links[0].attr("href").await.unwrap().as_deref(),
        Some(format!("/o/{id}").as_str())
    );
    assert!(mine.text().await.unwrap().contains("已支付"));
    browser.quit().await.unwrap();
}

/// The RSA measurement behind `WECHATPAY_RSA`'s default (see the README): CPU time inside
/// workerd of one verified callback's work (verify + parse + decrypt) and of one merchant
/// signature, with the pure-Rust `rsa` crate and with WebCrypto. workerd freezes its clocks
/// while code runs, so the worker cannot time itself: `/api/test/pay/bench` repeats the work
/// `n` times in one request, and the wall time of `n = 200` minus that of `n = 0`, divided by
/// 200, is the time per operation (the machine is otherwise idle during the loop).
///
/// `cargo test -p shoukuan-tests --test e2e rsa_cpu -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement, not a check: run it with --ignored --nocapture"]
async fn rsa_cpu_time_per_verified_callback() {
    let p = pay().await;
    let (signer, serial) = p.wechat_key();
    let order = json!({ "out_trade_no": "SK20261127000000BENCH000000000", "amount_fen": 100 });
    let callback = p.callback(&order, |_| {}, &signer, &serial, now());
    let bench = |rsa: &'static str, op: &'static str, n: u32| {
        let body = json!({
            "n": n, "rsa": rsa, "op": op,
            "headers": callback.headers.to_pairs(),
            "body_b64": base64::engine::general_purpose::STANDARD.encode(&callback.body),
        });
        async move {
            let started = Instant::now();
            let resp = reqwest::Client::new()
                .post(p.worker().url("/api/test/pay/bench"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let elapsed = started.elapsed();
            let status = resp.status();
            let text = resp.text().await.unwrap();
            let answer: Value = serde_json::from_str(&text).unwrap_or_else(|_| {
                let log = p.worker().log();
                panic!(
                    "{status}: {text}\n{}",
                    &log[log.len().saturating_sub(3000)..]
                )
            });
            assert_eq!(answer["ok"], n, "{answer}");
            elapsed.as_secs_f64() * 1000.0
        }
    };
    const N: u32 = 200;
    for op in ["verify", "sign"] {
        for rsa in ["webcrypto", "rust"] {
            bench(rsa, op, 10).await; // warm up: compile, import keys
            let mut per_op = Vec::new();
            for _ in 0..9 {
                let base = bench(rsa, op, 0).await;
                let loaded = bench(rsa, op, N).await;
                per_op.push((loaded - base) / f64::from(N));
            }
            per_op.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!(
                "{op:>6} {rsa:>9}: median {:.3} ms per operation (min {:.3}, max {:.3}; 9 runs of {N})",
                per_op[per_op.len() / 2],
                per_op[0],
                per_op[per_op.len() - 1]
            );
        }
    }
}

/// `POST /api/orders` for participant `pid` of a split, with their token (Native).
async fn split_order(
    worker: &Worker,
    split: &str,
    pid: &str,
    token: Option<&str>,
    amount: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(worker.url("/api/orders"))
        .json(&json!({ "collection_id": split, "participant_id": pid, "amount": amount }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merchant_split_paid_through_wechat_pay_marks_exactly_that_participant() {
    let p = pay().await;
    let worker = p.worker();
    let split_body = json!({
        "kind": "split", "payee_name": "李四", "title": "周五聚餐 AA", "note": "",
        "pay_code": crate::unique_pay_code(),
        "split": { "mode": "equal", "total": "30.00", "people": "3", "pay_mode": "merchant" },
    });
    // Without an approved payee session nobody publishes a merchant split.
    let resp = reqwest::Client::new()
        .post(worker.url("/api/collections"))
        .json(&split_body)
        .send()
        .await
        .unwrap();
    assert_ne!(
        resp.status().as_u16(),
        201,
        "anonymous merchant split published"
    );

    let payee = p.payee().await;
    let (status, created) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/collections",
            Some(split_body),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let manage = created["manage_token"].as_str().unwrap().to_string();
    let stored = worker
        .query(&format!(
            "SELECT pay_mode, owner_openid FROM collections WHERE id = '{id}'"
        ))
        .unwrap();
    assert_eq!(stored[0]["pay_mode"], "merchant");
    assert_eq!(stored[0]["owner_openid"], payee.openid.as_str());

    let mut joined = Vec::new();
    for name in ["王小明", "赵小红"] {
        let resp = reqwest::Client::new()
            .post(worker.url(&format!("/api/splits/{id}/join")))
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        joined.push((
            body["participant"]["id"].as_str().unwrap().to_string(),
            body["token"].as_str().unwrap().to_string(),
        ));
    }
    let (a, a_token) = &joined[0];
    let (b, b_token) = &joined[1];

    // No paying "the split" itself, nobody else's share, nor a chosen amount.
    let (status, body) = p.try_order_on(worker, &id, Some("30.00")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "PARTICIPANT_REQUIRED", "{body}");
    let (status, body) = split_order(worker, &id, b, None, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = split_order(worker, &id, b, Some(a_token), None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = split_order(worker, &id, b, Some(b_token), Some("0.01")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "INVALID_AMOUNT", "{body}");

    let (status, order) = split_order(worker, &id, b, Some(b_token), None).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["amount_fen"], 1000, "B's due is a third of 30.00");
    assert_eq!(order["method"], "native");
    let order_id = order["id"].as_str().unwrap();
    let out_trade_no = order["out_trade_no"].as_str().unwrap();

    // Paid, and the callback delivered twice.
    p.sim_pay(out_trade_no, "duplicate", 1).await;
    p.wait_state(order_id, "paid", 20).await;
    let deliveries = p.deliveries_done(out_trade_no, 2, 30).await;
    for delivery in &deliveries {
        assert_eq!(statuses(delivery), vec![Some(204)], "{delivery}");
    }
    assert_eq!(p.transitions(worker, order_id, "paid"), 1);

    let resp = reqwest::Client::new()
        .get(worker.url(&format!("/api/splits/{id}/admin")))
        .bearer_auth(&manage)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let view: Value = resp.json().await.unwrap();
    let participants = view["participants"].as_array().unwrap();
    let find = |pid: &str| participants.iter().find(|x| x["id"] == pid).unwrap();
    assert_eq!(find(b)["status"], "paid", "{view}");
    assert_eq!(find(b)["paid_by"], "verified_payment", "{view}");
    assert_eq!(find(a)["status"], "joined", "{view}");
    assert!(find(a)["paid_by"].is_null(), "{view}");
    assert_eq!(view["progress"]["paid"], 1, "{view}");
    assert_eq!(view["progress"]["collected"], 1000, "{view}");

    // Marked once, by this order, for this amount.
    let rows = worker
        .query(&format!(
            "SELECT status, paid_by, paid_fen, out_trade_no FROM participants WHERE collection_id = '{id}' ORDER BY seq"
        ))
        .unwrap();
    assert_eq!(rows[0]["status"], "joined");
    assert!(rows[0]["out_trade_no"].is_null());
    assert_eq!(rows[1]["paid_by"], "verified_payment");
    assert_eq!(rows[1]["paid_fen"], 1000);
    assert_eq!(rows[1]["out_trade_no"], out_trade_no);

    // Paid once: a second order for B is refused; A can still pay their own share.
    let (status, body) = split_order(worker, &id, b, Some(b_token), None).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = split_order(worker, &id, a, Some(a_token), Some("10.00")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["amount_fen"], 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn own_business_approval_declares_the_payee_part_of_the_business() {
    let p = pay().await;
    let openid = p.sim.create_payer(true).await.unwrap();
    let resp = reqwest::Client::new()
        .post(
            p.worker()
                .url(&format!("/api/operator/payees/{openid}/approve")),
        )
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["model"], "own_business", "{answer}");
    let declaration = answer["declaration"].as_str().unwrap();
    assert!(
        declaration.contains("属于本商户") && declaration.contains(MERCHANT_NAME),
        "{declaration}"
    );
    let stored = p
        .worker()
        .query(&format!(
            "SELECT declared_staff_at FROM payee_merchants WHERE openid = '{openid}'"
        ))
        .unwrap();
    let declared_at = stored[0]["declared_staff_at"].as_i64().unwrap();
    assert!((declared_at - now()).abs() < 120, "{stored:?}");

    // The payee's dashboard shows the model, the seller and the declaration.
    let cookie = wechat_session(p.worker(), "/oauth/start?next=/dash", &openid, "sk_payee").await;
    let payee = Payee {
        openid: openid.clone(),
        cookie,
    };
    let money = &p.dashboard(&payee).await["money"];
    assert_eq!(money["model"], "own_business", "{money}");
    assert_eq!(money["merchant_name"], MERCHANT_NAME);
    assert_eq!(money["declared_staff_at"], declared_at);
    assert_eq!(money["merchant_mode_available"], true);

    // Revoking withdraws the declaration — and stops new orders at once, even for a
    // collection published while approved (checked in the statement that reserves the order).
    let collection = p.collection(&payee, Some("5.00")).await;
    let resp = reqwest::Client::new()
        .post(
            p.worker()
                .url(&format!("/api/operator/payees/{openid}/revoke")),
        )
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    let answer: Value = resp.json().await.unwrap();
    assert!(answer["declared_staff_at"].is_null(), "{answer}");
    let (status, body) = p.try_order_on(p.worker(), &collection, None).await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("PAYEE_NOT_APPROVED")),
        "{body}"
    );
    let made = p
        .worker()
        .query(&format!(
            "SELECT COUNT(*) AS n FROM orders WHERE collection_id = '{collection}'"
        ))
        .unwrap();
    assert_eq!(made[0]["n"], 0, "no order was reserved");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_money_model_merchant_mode_is_refused_with_what_to_configure() {
    let p = pay().await;
    // Same keys, no WECHATPAY_MODEL.
    let worker = p
        .sim
        .start_worker(&[
            ("OPERATOR_SECRET", OPERATOR),
            ("WECHATPAY_MODEL", ""),
            ("WECHATPAY_MERCHANT_NAME", ""),
        ])
        .await
        .unwrap();
    let payee = p.payee_on(&worker).await;
    let (status, body) = p
        .as_payee_on(
            &worker,
            &payee,
            reqwest::Method::POST,
            "/api/dash/merchant-collections",
            Some(json!({ "payee_name": "李四商店", "title": "课程费", "amount": "1.00", "note": "" })),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "MODEL_NOT_CONFIGURED");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("WECHATPAY_MODEL")
            && message.contains("own_business")
            && message.contains("platform"),
        "{message}"
    );
    // The dashboard says the same; personal mode still publishes.
    let (status, dash) = p
        .as_payee_on(
            &worker,
            &payee,
            reqwest::Method::GET,
            "/api/dash/payments",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(dash["merchant_configured"], false);
    assert!(dash["money"]["model"].is_null());
    assert!(dash["money"]["merchant_mode_unavailable"]
        .as_str()
        .unwrap()
        .contains("WECHATPAY_MODEL"));
    let (status, created) = p
        .as_payee_on(
            &worker,
            &payee,
            reqwest::Method::POST,
            "/api/collections",
            Some(crate::good_body(&crate::unique_pay_code())),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    // A merchant collection stored earlier (before the model was unset) cannot take orders.
    worker
        .query(&format!(
            "UPDATE collections SET pay_mode = 'merchant' WHERE id = '{}'",
            created["id"].as_str().unwrap()
        ))
        .unwrap();
    let (status, body) = p
        .try_order_on(&worker, created["id"].as_str().unwrap(), None)
        .await;
    assert_eq!(
        (status, &body["code"]),
        (503, &json!("MODEL_NOT_CONFIGURED")),
        "{body}"
    );
    let orders = worker.query("SELECT COUNT(*) AS n FROM orders").unwrap();
    assert_eq!(orders[0]["n"], 0);
}
