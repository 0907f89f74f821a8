//! Notices (issue 13) end to end: real workerd + D1, `shoukuan sim` as WeChat Pay and the
//! Official Account (template messages checked against WeChat's typed keyword rules), time
//! driven through `POST /api/test/cron {"now"}`.
//!
//! - the payee hears of a payment exactly once, even when WeChat Pay repeats the callback and
//!   the order is queried as well; of a 我已付款 claim exactly once, even when it is repeated;
//! - a refusal (43004: the payee does not follow) is recorded, shown in `/dash` and never
//!   retried;
//! - the 20:00 digest goes out once per day;
//! - scheduled split reminders: each slot once per unpaid follower, nothing in quiet hours
//!   (held until 08:00), nothing to the paid.

use serde_json::{json, Value};
use shoukuan_core::notice::FieldKind;
use tokio::sync::OnceCell;

use crate::payments::{Pay, Payee, OPERATOR};
use crate::{unique_pay_code, wechat_session};

pub(crate) const NOTICE_TEMPLATE: &str = "sim-notice-template";
pub(crate) const REMINDER_TEMPLATE: &str = "tpl-notify-reminder";

static NOTIFY: OnceCell<Pay> = OnceCell::const_new();

/// One simulator and worker for these tests (own-business model, both templates configured).
pub(crate) async fn notify() -> &'static Pay {
    NOTIFY
        .get_or_init(|| async {
            Pay::start(
                "own_business",
                &[
                    ("WECHATPAY_MODEL", "own_business"),
                    ("WECHATPAY_MERCHANT_NAME", "收款测试餐饮有限公司"),
                    ("WECHAT_NOTICE_TEMPLATE_ID", NOTICE_TEMPLATE),
                    ("WECHAT_REMINDER_TEMPLATE_ID", REMINDER_TEMPLATE),
                ],
            )
            .await
        })
        .await
}

/// Template messages the simulator delivered to `openid` with `template`.
pub(crate) async fn delivered(p: &Pay, openid: &str, template: &str) -> Vec<Value> {
    let all = p.sim.get("/sim/mp/templates").await.unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .map(|t| t["message"].clone())
        .filter(|m| m["touser"] == openid && m["template_id"] == template)
        .collect()
}

/// Template sends the simulator refused for `openid`.
async fn refused(p: &Pay, openid: &str) -> Vec<Value> {
    let all = p.sim.get("/sim/mp/template-refusals").await.unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .filter(|t| t["message"]["touser"] == openid)
        .cloned()
        .collect()
}

/// Every keyword value within WeChat's rule for its type.
fn assert_within_limits(message: &Value) {
    for (key, field) in message["data"].as_object().unwrap() {
        let value = field["value"].as_str().unwrap();
        let kind = FieldKind::of_key(key).unwrap_or_else(|| panic!("untyped keyword {key}"));
        assert!(kind.check(value), "{key} = {value:?} breaks its rule");
    }
}

pub(crate) async fn cron(p: &Pay, now: i64) {
    let resp = reqwest::Client::new()
        .post(p.worker.url("/api/test/cron"))
        .json(&json!({ "now": now }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
}

async fn dash_notices(p: &Pay, payee: &Payee) -> Value {
    let (status, body) = p
        .as_payee(payee, reqwest::Method::GET, "/api/dash/notices", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A merchant collection with a title longer than a `thing` keyword holds.
async fn long_titled_collection(p: &Pay, payee: &Payee) -> String {
    let (status, created) = p
        .as_payee(
            payee,
            reqwest::Method::POST,
            "/api/dash/merchant-collections",
            Some(json!({
                "payee_name": "李四商店",
                "title": "二〇二六年冬季周末少儿编程课程第二期学费及教材费",
                "amount": "10.00",
                "note": "",
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_string()
}

/// Pays a Native order of `collection` with a duplicate callback; returns the order.
async fn paid_order(p: &Pay, collection: &str) -> Value {
    let order = p.order(collection, None).await;
    let out_trade_no = order["out_trade_no"].as_str().unwrap();
    p.sim_pay(out_trade_no, "duplicate", 1).await;
    p.wait_state(order["id"].as_str().unwrap(), "paid", 20)
        .await;
    p.deliveries_done(out_trade_no, 2, 30).await;
    order
}

fn secs_now() -> i64 {
    crate::payments::now()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_with_a_duplicate_callback_sends_the_payee_one_notice_within_wechat_limits() {
    let p = notify().await;
    let payee = p.payee().await;
    let collection = long_titled_collection(p, &payee).await;
    let order = paid_order(p, &collection).await;
    let id = order["id"].as_str().unwrap();
    // The callbacks only recorded it: WeChat's Official Account API is never called while
    // WeChat Pay waits for the callback's answer.
    assert!(delivered(p, &payee.openid, NOTICE_TEMPLATE)
        .await
        .is_empty());
    assert_eq!(
        p.worker
            .query(&format!(
                "SELECT state, attempts FROM notices WHERE event_key = 'paid:{id}'"
            ))
            .unwrap(),
        vec![json!({ "state": "pending", "attempts": 0 })]
    );
    // A query after the callbacks (the page's refresh) and the cron: one message.
    let _ = reqwest::get(p.worker.url(&format!("/api/orders/{id}?refresh=1"))).await;
    cron(p, secs_now() + 120).await;

    let messages = delivered(p, &payee.openid, NOTICE_TEMPLATE).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_within_limits(message);
    let title = message["data"]["thing1"]["value"].as_str().unwrap();
    assert_eq!(title.chars().count(), 20, "{title}");
    assert!(title.ends_with('…'), "{title}");
    assert!(
        title.starts_with("二〇二六年冬季周末少儿编程课程第二"),
        "{title}"
    );
    assert_eq!(message["data"]["amount2"]["value"], "¥10.00");
    let who = message["data"]["thing3"]["value"].as_str().unwrap();
    assert!(
        who.starts_with("微信用户 *") && who.ends_with("已付款"),
        "{who}"
    );
    assert!(message["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/o/{id}")));
    assert_eq!(
        p.worker
            .query(&format!(
                "SELECT COUNT(*) AS n FROM notices WHERE event_key = 'paid:{id}' AND state = 'sent'"
            ))
            .unwrap()[0]["n"],
        1
    );
    let dash = dash_notices(p, &payee).await;
    assert_eq!(dash["configured"], true);
    let line = &dash["recent"][0];
    assert_eq!(line["kind"], "paid");
    assert_eq!(line["state"], "sent");
    assert_eq!(line["fields"]["amount2"], "¥10.00");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_is_recorded_and_shown_and_never_retried() {
    let p = notify().await;
    let payee = p.payee().await;
    // WeChat answers 43004 for this payee (as for someone who no longer follows).
    p.sim
        .post(
            "/sim/mp/template-faults",
            &json!({ "openid": payee.openid, "errcode": 43004 }),
        )
        .await
        .unwrap();
    let collection = p.collection(&payee, Some("3.00")).await;
    paid_order(p, &collection).await;
    for minutes in [2, 5, 10] {
        cron(p, secs_now() + minutes * 60).await;
    }
    assert!(delivered(p, &payee.openid, NOTICE_TEMPLATE)
        .await
        .is_empty());
    let refusals = refused(p, &payee.openid).await;
    assert_eq!(refusals.len(), 1, "asked once, never again: {refusals:?}");
    assert_eq!(refusals[0]["errcode"], 43004);
    let dash = dash_notices(p, &payee).await;
    let line = &dash["recent"][0];
    assert_eq!(line["state"], "failed", "{dash}");
    assert_eq!(line["errcode"], 43004);
    assert_eq!(line["explanation"], "对方未关注公众号，无法接收消息");
    assert_eq!(line["attempts"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_refuses_values_that_break_their_type_like_wechat() {
    let p = notify().await;
    let openid = p.sim.create_payer(true).await.unwrap();
    let token: Value = reqwest::Client::new()
        .post(p.sim.url("/cgi-bin/stable_token"))
        .json(&json!({
            "grant_type": "client_credential",
            "appid": p.sim.var("WECHAT_APPID"),
            "secret": p.sim.var("WECHAT_APPSECRET"),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let send = |data: Value| {
        let url = p.sim.url(&format!(
            "/cgi-bin/message/template/send?access_token={token}"
        ));
        let openid = openid.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&json!({ "touser": openid, "template_id": "t", "data": data }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let long =
        send(json!({ "thing1": { "value": "一二三四五六七八九十一二三四五六七八九十一" } })).await;
    assert_eq!(long["errcode"], 47003, "{long}");
    assert!(long["errmsg"]
        .as_str()
        .unwrap()
        .contains("data.thing1.value invalid"));
    let bare = send(json!({ "amount2": { "value": "3.00" } })).await;
    assert_eq!(bare["errcode"], 47003, "{bare}");
    let ok = send(json!({ "thing1": { "value": "一二三四五六七八九十一二三四五六七八九…" }, "amount2": { "value": "¥3.00" }, "time4": { "value": "2026年11月29日 18:05" } })).await;
    assert_eq!(ok["errcode"], 0, "{ok}");
}

/// Publishes a personal-mode split owned by `payee`: `(id, manage token)`.
pub(crate) async fn owned_split(p: &Pay, payee: &Payee, split: Value) -> (String, String) {
    let (status, body) = p
        .as_payee(
            payee,
            reqwest::Method::POST,
            "/api/collections",
            Some(json!({
                "kind": "split",
                "payee_name": "张三",
                "title": "周六聚餐",
                "note": "",
                "pay_code": unique_pay_code(),
                "split": split,
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_string(),
        body["manage_token"].as_str().unwrap().to_string(),
    )
}

pub(crate) async fn join(p: &Pay, id: &str, name: &str, cookie: Option<&str>) -> (String, String) {
    let mut req = reqwest::Client::new()
        .post(p.worker.url(&format!("/api/splits/{id}/join")))
        .json(&json!({ "name": name }));
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    (
        body["participant"]["id"].as_str().unwrap().to_string(),
        body["token"].as_str().unwrap().to_string(),
    )
}

async fn bearer(
    p: &Pay,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, p.worker.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claim_repeated_at_once_sends_the_payee_one_notice() {
    let p = notify().await;
    let payee = p.payee().await;
    let (id, _) = owned_split(p, &payee, json!({ "mode": "fixed", "per_person": "20" })).await;
    let (pid, token) = join(p, &id, "王小明", None).await;
    let claim = format!("/api/splits/{id}/participants/{pid}/claim");
    let claims: Vec<_> = (0..5)
        .map(|_| {
            let (claim, token) = (claim.clone(), token.clone());
            tokio::spawn(
                async move { bearer(p, reqwest::Method::POST, &claim, &token, None).await },
            )
        })
        .collect();
    for claim in claims {
        let (status, body) = claim.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let messages = delivered(p, &payee.openid, NOTICE_TEMPLATE).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_within_limits(message);
    assert_eq!(message["data"]["thing1"]["value"], "周六聚餐");
    assert_eq!(message["data"]["amount2"]["value"], "¥20.00");
    assert_eq!(message["data"]["thing3"]["value"], "王** 称已付款，请确认");
    assert!(message["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/admin/{id}")));
}

/// 20:00 of today's Asia/Shanghai day.
fn eight_pm_today() -> i64 {
    let now = secs_now();
    let day = (now + 8 * 3600).div_euclid(86_400);
    day * 86_400 - 8 * 3600 + 20 * 3600
}

#[tokio::test(flavor = "multi_thread")]
async fn the_digest_goes_out_at_eight_pm_once_to_payees_who_want_it() {
    let p = notify().await;
    let payee = p.payee().await;
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::PUT,
            "/api/dash/notices/settings",
            Some(json!({ "notices": false, "digest": true })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let collection = p.collection(&payee, Some("7.50")).await;
    paid_order(p, &collection).await;
    paid_order(p, &collection).await;
    // Notices are off for this payee: nothing per payment.
    assert!(delivered(p, &payee.openid, NOTICE_TEMPLATE)
        .await
        .is_empty());
    let eight = eight_pm_today();
    cron(p, eight - 60).await;
    assert!(delivered(p, &payee.openid, NOTICE_TEMPLATE)
        .await
        .is_empty());
    cron(p, eight).await;
    cron(p, eight + 300).await;
    let messages = delivered(p, &payee.openid, NOTICE_TEMPLATE).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_within_limits(&messages[0]);
    assert_eq!(messages[0]["data"]["thing1"]["value"], "今日收款汇总");
    assert_eq!(messages[0]["data"]["amount2"]["value"], "¥15.00");
    assert_eq!(messages[0]["data"]["thing3"]["value"], "2 笔收款");
    let dash = dash_notices(p, &payee).await;
    assert_eq!(
        dash["settings"],
        json!({ "notices": false, "digest": true })
    );
}

/// The deadline of the reminder test: 18:00 Beijing time, the day after tomorrow.
pub(crate) fn deadline_in_two_days() -> (i64, String) {
    let day = (secs_now() + 8 * 3600).div_euclid(86_400) + 2;
    let at = day * 86_400 - 8 * 3600 + 18 * 3600;
    let c = shoukuan_core::deadline::Deadline::from_unix(at).civil();
    (
        at,
        format!("{:04}-{:02}-{:02}T18:00", c.year, c.month, c.day),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_reminders_reach_each_unpaid_follower_once_per_slot_and_never_at_night() {
    let p = notify().await;
    let payee = p.payee().await;
    let (deadline, typed) = deadline_in_two_days();
    let (id, manage) = owned_split(
        p,
        &payee,
        json!({ "mode": "fixed", "per_person": "35", "deadline": typed }),
    )
    .await;
    let (status, body) = bearer(
        p,
        reqwest::Method::PUT,
        &format!("/api/splits/{id}/reminders"),
        &manage,
        Some(json!({ "slots": ["-24h", "-2h", "+5h"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["slots"], json!(["-24h", "-2h", "+5h"]));
    let (status, _) = bearer(
        p,
        reqwest::Method::PUT,
        &format!("/api/splits/{id}/reminders"),
        &manage,
        Some(json!({ "slots": ["24h"] })),
    )
    .await;
    assert_eq!(status, 400);

    // Participants who arrive through the Official Account menu (an OA session).
    let key = format!("ntf{}", &id[..6]).to_lowercase();
    let resp = reqwest::Client::new()
        .post(p.worker.url("/api/dash/routes"))
        .bearer_auth(OPERATOR)
        .json(&json!({ "key": key, "target": format!("/c/{id}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let follower = p.sim.create_payer(true).await.unwrap();
    let paid = p.sim.create_payer(true).await.unwrap();
    let stranger = p.sim.create_payer(false).await.unwrap();
    let session = |openid: String| {
        let key = key.clone();
        async move { wechat_session(&p.worker, &format!("/m/{key}"), &openid, "sk_payer").await }
    };
    let (follower_pid, _) = join(p, &id, "甲同学", Some(&session(follower.clone()).await)).await;
    let (paid_pid, _) = join(p, &id, "乙同学", Some(&session(paid.clone()).await)).await;
    let (stranger_pid, _) = join(p, &id, "丙同学", Some(&session(stranger.clone()).await)).await;
    join(p, &id, "丁同学", None).await;
    let (status, _) = bearer(
        p,
        reqwest::Method::POST,
        &format!("/api/splits/{id}/participants/{paid_pid}/confirm"),
        &manage,
        None,
    )
    .await;
    assert_eq!(status, 200);

    let reminders = |openid: String| async move { delivered(p, &openid, REMINDER_TEMPLATE).await };
    let hour = 3600;
    cron(p, deadline - 24 * hour - 60).await;
    assert!(reminders(follower.clone()).await.is_empty());
    cron(p, deadline - 24 * hour + 30).await;
    cron(p, deadline - 24 * hour + 90).await;
    let first = reminders(follower.clone()).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_within_limits(&first[0]);
    assert_eq!(first[0]["data"]["amount2"]["value"], "¥35.00");
    assert!(first[0]["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/c/{id}")));
    assert!(
        reminders(paid.clone()).await.is_empty(),
        "the paid get nothing"
    );
    // The one who does not follow: WeChat's 43004, asked once.
    assert_eq!(refused(p, &stranger).await.len(), 1);

    cron(p, deadline - 2 * hour + 10).await;
    assert_eq!(reminders(follower.clone()).await.len(), 2);
    // +5 h is 23:00 Beijing: held through the night, sent at 08:00.
    cron(p, deadline + 5 * hour).await;
    cron(p, deadline + 13 * hour + 59 * 60).await;
    assert_eq!(
        reminders(follower.clone()).await.len(),
        2,
        "nothing at night"
    );
    cron(p, deadline + 14 * hour).await;
    cron(p, deadline + 14 * hour + 60).await;
    assert_eq!(reminders(follower.clone()).await.len(), 3);
    assert!(reminders(paid.clone()).await.is_empty());
    assert_eq!(refused(p, &stranger).await.len(), 3, "one try per slot");

    // The payee sees, per participant, what was sent when and what WeChat answered.
    let (status, log) = bearer(
        p,
        reqwest::Method::GET,
        &format!("/api/splits/{id}/reminders"),
        &manage,
        None,
    )
    .await;
    assert_eq!(status, 200, "{log}");
    let of = |pid: &str| {
        log["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == pid)
            .unwrap()["sends"]
            .clone()
    };
    let sends = of(&follower_pid);
    let slots: Vec<&str> = sends
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slot"].as_str().unwrap())
        .collect();
    assert_eq!(slots, vec!["-24h", "-2h", "+5h"], "{sends}");
    assert!(sends
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["state"] == "sent"));
    assert_eq!(of(&paid_pid), json!([]));
    let stranger_sends = of(&stranger_pid);
    assert_eq!(stranger_sends[0]["errcode"], 43004, "{stranger_sends}");
    assert_eq!(stranger_sends[0]["state"], "failed");
}
