//! Profit sharing (分账) end to end: real workerd + D1 + `shoukuan sim` as WeChat Pay (time
//! ×0.1, so WeChat's one-minute rule is six seconds), the cron driven by `/__scheduled`.
//!
//! What must hold: an order is frozen only when it will share; the platform fee reaches the
//! service provider's own merchant number and the rest is unfrozen; a rule above the ratio is
//! refused when it is saved; a full refund returns merchant shares first and refuses what
//! went to persons; a worker restart between payment and share still shares exactly once.

use std::time::{Duration, Instant};

use crate::wechat_session;
use serde_json::{json, Value};
use shoukuan_tests::sim::Sim;
use shoukuan_tests::worker::Worker;
use tokio::sync::OnceCell;

const OPERATOR: &str = "e2e-share-operator-secret-0123456789";

/// Seconds the worker waits after payment (the simulator's scaled minute is 6 s).
const SHARE_DELAY: &str = "7";

/// The platform model's `WECHATPAY_SP_NAME` comes from `shoukuan keys dev --model platform`:
/// WeChat refuses a fee receiver whose name is not the service provider's registered name.
fn vars(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("OPERATOR_SECRET", OPERATOR),
        ("PAY_TEST_HOOKS", "1"),
        ("PAY_REQUERY_AFTER_SECS", "0"),
        ("PAY_SHARE_DELAY_SECS", SHARE_DELAY),
    ];
    v.extend_from_slice(extra);
    v
}

/// A simulator and a worker in one deployment model.
struct Setup {
    sim: Sim,
    worker: Worker,
}

impl Setup {
    async fn start(model: &str, extra: &[(&'static str, &'static str)]) -> Setup {
        let sim = Sim::start_model(model, &["--time-scale", "0.1"])
            .await
            .expect("shoukuan sim starts");
        let worker = sim
            .start_worker(&vars(extra))
            .await
            .expect("wrangler dev starts");
        Setup { sim, worker }
    }

    fn var(&self, name: &str) -> String {
        self.sim.var(name)
    }

    /// A signed-in payee approved by the operator (and, in the platform model, bound to the
    /// simulator's sub-merchant number `sub`).
    async fn payee(&self, sub: Option<&str>) -> (String, String) {
        let openid = self.sim.create_payer(true).await.unwrap();
        let cookie =
            wechat_session(&self.worker, "/oauth/start?next=/dash", &openid, "sk_payee").await;
        let client = reqwest::Client::new();
        let resp = client
            .post(
                self.worker
                    .url(&format!("/api/operator/payees/{openid}/approve")),
            )
            .bearer_auth(OPERATOR)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        if let Some(sub) = sub {
            let resp = client
                .post(
                    self.worker
                        .url(&format!("/api/operator/payees/{openid}/merchant")),
                )
                .bearer_auth(OPERATOR)
                .json(&json!({ "sub_mchid": sub }))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        }
        (openid, cookie)
    }

    async fn as_payee(
        &self,
        cookie: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, self.worker.url(path))
            .header("cookie", cookie);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let resp = request.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A merchant collection of ¥`amount`.
    async fn collection(&self, cookie: &str, amount: &str) -> String {
        let (status, created) = self
            .as_payee(
                cookie,
                reqwest::Method::POST,
                "/api/dash/merchant-collections",
                Some(json!({ "payee_name": "李四商店", "title": "课程费", "amount": amount, "note": "" })),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_string()
    }

    async fn set_rule(&self, cookie: &str, collection: &str, receivers: Value) -> (u16, Value) {
        self.as_payee(
            cookie,
            reqwest::Method::PUT,
            &format!("/api/dash/collections/{collection}/shares"),
            Some(json!({ "receivers": receivers })),
        )
        .await
    }

    /// Orders and pays (Native, in the simulator) one order; returns it once paid.
    async fn paid_order(&self, collection: &str) -> Value {
        let resp = reqwest::Client::new()
            .post(self.worker.url("/api/orders"))
            .json(&json!({ "collection_id": collection }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let order: Value = resp.json().await.unwrap();
        let payer = self.sim.create_payer(false).await.unwrap();
        self.sim
            .post(
                "/sim/pay",
                &json!({ "out_trade_no": order["out_trade_no"], "openid": payer }),
            )
            .await
            .unwrap();
        let id = order["id"].as_str().unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let view: Value = reqwest::get(self.worker.url(&format!("/api/orders/{id}?refresh=1")))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if view["state"] == "paid" {
                return order;
            }
            assert!(Instant::now() < deadline, "order {id} not paid: {view}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    fn profit_sharing_flag(&self, order_id: &str) -> i64 {
        let rows = self
            .worker
            .query(&format!(
                "SELECT profit_sharing FROM orders WHERE id = '{order_id}'"
            ))
            .unwrap();
        rows[0]["profit_sharing"].as_i64().unwrap()
    }

    /// Drives the cron until the order's sharing reaches `status` (`/api/dash/shares`).
    async fn shares_until(&self, cookie: &str, order_id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.worker.run_cron().await.unwrap();
            let (code, list) = self
                .as_payee(cookie, reqwest::Method::GET, "/api/dash/shares", None)
                .await;
            assert_eq!(code, 200, "{list}");
            let order = list["orders"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["order_id"] == order_id)
                .cloned()
                .unwrap_or(Value::Null);
            if order["status"] == status {
                return order;
            }
            assert!(
                Instant::now() < deadline,
                "order {order_id} sharing not {status}: {order}\n{}",
                tail(&self.worker.log())
            );
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    }
}

fn tail(log: &str) -> String {
    log[log.len().saturating_sub(5000)..].to_string()
}

fn sub_mchid(sim: &Sim, i: usize) -> String {
    sim.sub_merchants().unwrap()[i]["sub_mchid"]
        .as_str()
        .expect("platform keys register sub-merchants")
        .to_string()
}

/// The simulator's share (and unfreeze) orders of a transaction (`/sim/profitsharing`).
async fn sim_share_orders(sim: &Sim, transaction_id: &str) -> Vec<Value> {
    let all = sim.get("/sim/profitsharing").await.unwrap();
    all["orders"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o["transaction_id"] == transaction_id)
        .collect()
}

/// The simulator's view of the order paid for `out_trade_no` (`/sim/orders`).
async fn sim_order(sim: &Sim, out_trade_no: &Value) -> Value {
    let all = sim.get("/sim/orders").await.unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|o| &o["out_trade_no"] == out_trade_no)
        .cloned()
        .expect("the simulator knows the order")
}

fn transaction_id(worker: &Worker, order_id: &str) -> String {
    let rows = worker
        .query(&format!(
            "SELECT transaction_id FROM orders WHERE id = '{order_id}'"
        ))
        .unwrap();
    rows[0]["transaction_id"].as_str().unwrap().to_string()
}

async fn refund(s: &Setup, cookie: &str, order_id: &str, amount: Option<&str>) -> (u16, Value) {
    s.as_payee(
        cookie,
        reqwest::Method::POST,
        &format!("/api/dash/orders/{order_id}/refunds"),
        Some(json!({ "amount": amount, "reason": "活动取消" })),
    )
    .await
}

fn ten_percent_to(openid: &str) -> Value {
    json!([{ "type": "PERSONAL_OPENID", "account": openid, "name": "王五",
             "relation_type": "STAFF", "percent": "10", "description": "员工提成" }])
}

static OWN: OnceCell<Setup> = OnceCell::const_new();

/// One own-business deployment shared by the tests that do not restart it.
async fn own() -> &'static Setup {
    OWN.get_or_init(|| Setup::start("own_business", &[])).await
}

#[tokio::test]
async fn own_business_orders_without_a_rule_are_never_frozen_and_rules_above_the_ratio_are_refused()
{
    let s = own().await;
    let (_, cookie) = s.payee(None).await;
    let collection = s.collection(&cookie, "12.00").await;
    let order = s.paid_order(&collection).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(s.profit_sharing_flag(id), 0);
    assert_eq!(
        sim_order(&s.sim, &order["out_trade_no"]).await["profit_sharing"],
        false
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    s.worker.run_cron().await.unwrap();
    let jobs = s
        .worker
        .query(&format!(
            "SELECT COUNT(*) AS n FROM share_jobs WHERE order_id = '{id}'"
        ))
        .unwrap();
    assert_eq!(jobs[0]["n"], 0, "nothing to share, nothing to unfreeze");

    // 30 % is a direct merchant's default maximum: 35 % is refused when saved.
    let staff = s.sim.create_payer(false).await.unwrap();
    let (status, body) = s
        .set_rule(
            &cookie,
            &collection,
            json!([{ "type": "PERSONAL_OPENID", "account": staff, "relation_type": "STAFF", "percent": "35" }]),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "OVER_MAX_RATIO");
    assert!(body["message"].as_str().unwrap().contains("30%"), "{body}");
    // A fixed share above 30 % of the ¥12.00 collection is refused too.
    let (status, body) = s
        .set_rule(
            &cookie,
            &collection,
            json!([{ "type": "PERSONAL_OPENID", "account": staff, "relation_type": "STAFF", "amount": "3.61" }]),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "OVER_MAX_RATIO");
    // Another payee cannot touch this collection's rule.
    let (_, other) = s.payee(None).await;
    let (status, _) = s.set_rule(&other, &collection, json!([])).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn own_business_a_ten_percent_staff_share_reaches_the_openid_and_bounds_refunds() {
    let s = own().await;
    let (_, cookie) = s.payee(None).await;
    let staff = s.sim.create_payer(false).await.unwrap();
    let collection = s.collection(&cookie, "50.00").await;
    let (status, body) = s
        .set_rule(&cookie, &collection, ten_percent_to(&staff))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["max_ratio_bps"], 3000);
    assert_eq!(body["receivers"][0]["name"], "王五");
    assert_eq!(body["receivers"][0]["ratio_bps"], 1000);
    let sealed = s
        .worker
        .query(&format!(
            "SELECT name_sealed FROM share_rules WHERE collection_id = '{collection}'"
        ))
        .unwrap();
    assert!(
        !sealed[0]["name_sealed"].as_str().unwrap().contains("王五"),
        "names are sealed at rest"
    );

    let order = s.paid_order(&collection).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(
        s.profit_sharing_flag(id),
        1,
        "an order with a rule is frozen"
    );
    assert_eq!(
        sim_order(&s.sim, &order["out_trade_no"]).await["profit_sharing"],
        true
    );

    let shares = s.shares_until(&cookie, id, "shared").await;
    let receivers = shares["receivers"].as_array().unwrap();
    assert_eq!(receivers.len(), 1, "{shares}");
    assert_eq!(receivers[0]["receiver_type"], "PERSONAL_OPENID");
    assert_eq!(receivers[0]["account"], staff.as_str());
    assert_eq!(receivers[0]["amount_fen"], 500);
    assert_eq!(receivers[0]["result"], "SUCCESS");
    assert!(receivers[0]["finished_at"].as_i64().is_some());

    // At the simulator: one share of ¥5.00 that unfroze the rest.
    let tid = transaction_id(&s.worker, id);
    let at_wechat = sim_share_orders(&s.sim, &tid).await;
    assert_eq!(at_wechat.len(), 1, "{at_wechat:?}");
    assert_eq!(at_wechat[0]["state"], "FINISHED");
    assert_eq!(
        sim_order(&s.sim, &order["out_trade_no"]).await["shared"],
        500
    );

    // The ¥5.00 went to a person, whom WeChat cannot ask back: a full refund is refused with
    // what can be refunded, which then goes through. 4500 refunded + 500 shared = 5000 paid.
    let (status, body) = refund(s, &cookie, id, None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "SHARED_TO_PERSONS");
    assert!(
        body["message"].as_str().unwrap().contains("¥45.00"),
        "{body}"
    );
    let (status, body) = refund(s, &cookie, id, Some("45.00")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["refund"]["amount_fen"], 4500);
    let (status, body) = refund(s, &cookie, id, Some("0.01")).await;
    assert_eq!(status, 409, "{body}");
    let returns = s
        .worker
        .query(&format!(
            "SELECT COUNT(*) AS n FROM share_returns WHERE order_id = '{id}'"
        ))
        .unwrap();
    assert_eq!(returns[0]["n"], 0);
}

#[tokio::test]
async fn a_worker_restart_between_payment_and_share_still_shares_exactly_once() {
    let mut s = Setup::start("own_business", &[]).await;
    let (_, cookie) = s.payee(None).await;
    let staff = s.sim.create_payer(false).await.unwrap();
    let collection = s.collection(&cookie, "20.00").await;
    let (status, body) = s
        .set_rule(&cookie, &collection, ten_percent_to(&staff))
        .await;
    assert_eq!(status, 200, "{body}");
    let order = s.paid_order(&collection).await;
    let id = order["id"].as_str().unwrap().to_string();
    s.worker.restart().await.unwrap();
    let shares = s.shares_until(&cookie, &id, "shared").await;
    assert_eq!(shares["receivers"][0]["amount_fen"], 200);
    // More runs, and another restart, change nothing.
    s.worker.restart().await.unwrap();
    for _ in 0..3 {
        s.worker.run_cron().await.unwrap();
    }
    let tid = transaction_id(&s.worker, &id);
    let at_wechat = sim_share_orders(&s.sim, &tid).await;
    assert_eq!(at_wechat.len(), 1, "exactly one share: {at_wechat:?}");
    assert_eq!(s.worker.count("share_jobs").unwrap(), 1);
    assert_eq!(
        sim_order(&s.sim, &order["out_trade_no"]).await["shared"],
        200
    );
}

#[tokio::test]
async fn a_one_percent_platform_fee_reaches_the_service_provider_and_the_rest_is_unfrozen() {
    let s = Setup::start("platform", &[("WECHATPAY_PLATFORM_FEE_BPS", "100")]).await;
    let sub = sub_mchid(&s.sim, 0);
    let (_, cookie) = s.payee(Some(&sub)).await;
    let collection = s.collection(&cookie, "100.00").await;
    let order = s.paid_order(&collection).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(
        s.profit_sharing_flag(id),
        1,
        "an order with a fee is frozen"
    );
    let shares = s.shares_until(&cookie, id, "shared").await;
    let receivers = shares["receivers"].as_array().unwrap();
    assert_eq!(receivers.len(), 1, "{shares}");
    assert_eq!(receivers[0]["source"], "fee");
    assert_eq!(receivers[0]["receiver_type"], "MERCHANT_ID");
    assert_eq!(receivers[0]["account"], s.var("WECHATPAY_MCHID"));
    assert_eq!(receivers[0]["amount_fen"], 100);
    assert_eq!(receivers[0]["result"], "SUCCESS");
    let tid = transaction_id(&s.worker, id);
    let at_wechat = sim_share_orders(&s.sim, &tid).await;
    assert_eq!(at_wechat.len(), 1, "{at_wechat:?}");
    assert_eq!(at_wechat[0]["state"], "FINISHED");
    assert_eq!(at_wechat[0]["sub_mchid"], sub.as_str());
    // The rest (¥99.00) was unfrozen back to the sub-merchant by the same share order.
    let lines = at_wechat[0]["receivers"].as_array().unwrap();
    let rest: Vec<&Value> = lines
        .iter()
        .filter(|l| l["account"] == sub.as_str())
        .collect();
    assert_eq!(rest.len(), 1, "{lines:?}");
    assert_eq!(rest[0]["amount"], 9900);
    assert_eq!(rest[0]["result"], "SUCCESS");
    assert_eq!(
        sim_order(&s.sim, &order["out_trade_no"]).await["shared"],
        100
    );
    // The service provider's own merchant number received the fee from this sub-merchant.
    let got = s.sim.received(&s.var("WECHATPAY_MCHID")).await.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["from"], sub.as_str());
    assert_eq!(got[0]["net"], 100);
}

#[tokio::test]
async fn with_a_platform_fee_of_zero_orders_are_never_frozen_and_rules_above_the_authorised_ratio_are_refused(
) {
    let s = Setup::start("platform", &[("WECHATPAY_PLATFORM_FEE_BPS", "0")]).await;
    let sub = sub_mchid(&s.sim, 0);
    let (_, cookie) = s.payee(Some(&sub)).await;
    let collection = s.collection(&cookie, "12.00").await;
    let order = s.paid_order(&collection).await;
    assert_eq!(s.profit_sharing_flag(order["id"].as_str().unwrap()), 0);
    assert_eq!(
        sim_order(&s.sim, &order["out_trade_no"]).await["profit_sharing"],
        false
    );
    let max = s.sim.sub_merchants().unwrap()[0]["max_ratio"]
        .as_i64()
        .unwrap();
    let staff = s.sim.create_payer(false).await.unwrap();
    let above = format!("{}", max / 100 + 1);
    let (status, body) = s
        .set_rule(
            &cookie,
            &collection,
            json!([{ "type": "PERSONAL_OPENID", "account": staff, "relation_type": "STAFF", "percent": above }]),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "OVER_MAX_RATIO");
}

#[tokio::test]
async fn a_full_refund_returns_a_merchant_share_first_and_totals_stay_exact() {
    let s = own().await;
    let (_, cookie) = s.payee(None).await;
    let collection = s.collection(&cookie, "50.00").await;
    let (status, body) = s
        .set_rule(
            &cookie,
            &collection,
            json!([{ "type": "MERCHANT_ID", "account": "1900000888", "name": "合作伙伴科技有限公司",
                     "relation_type": "PARTNER", "percent": "10" }]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let order = s.paid_order(&collection).await;
    let id = order["id"].as_str().unwrap();
    s.shares_until(&cookie, id, "shared").await;
    let (status, body) = refund(s, &cookie, id, None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["refund"]["amount_fen"], 5000);
    let returns = s
        .worker
        .query(&format!(
            "SELECT return_mchid, amount_fen, result FROM share_returns WHERE order_id = '{id}'"
        ))
        .unwrap();
    assert_eq!(returns.len(), 1, "{returns:?}");
    assert_eq!(returns[0]["return_mchid"], "1900000888");
    assert_eq!(returns[0]["amount_fen"], 500);
    assert_eq!(returns[0]["result"], "SUCCESS");
    // At the simulator: the partner got ¥5.00 and returned it; all ¥50.00 went back.
    let got = s.sim.received("1900000888").await.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["received"], 500);
    assert_eq!(got[0]["returned"], 500);
    assert_eq!(got[0]["net"], 0);
    assert_eq!(
        sim_order(&s.sim, &order["out_trade_no"]).await["refunded"],
        5000
    );
}
