//! Self-service in the Official Account (issue 13) end to end: safe-mode pushes from the
//! simulator to the worker's message server; the passive reply lists the follower's own orders
//! and sign-ups and nothing of anyone else's; 退款 answers with their refunds' states.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::notices::{delivered, join, notify, owned_split, NOTICE_TEMPLATE};
use crate::payments::{Pay, OPERATOR};
use crate::wechat_session;

/// Sends `content` as `openid` in safe mode; the decrypted passive reply.
pub(crate) async fn ask(p: &Pay, openid: &str, content: &str) -> String {
    let pushed = p
        .sim
        .post(
            "/sim/mp/push",
            &json!({ "openid": openid, "kind": "text", "content": content, "safe": true }),
        )
        .await
        .unwrap();
    let attempt = &pushed["attempts"][0];
    assert_eq!(attempt["status"], 200, "{pushed}");
    attempt["reply"].as_str().unwrap_or_default().to_string()
}

/// A Native order of `collection` paid in the simulator by `openid`.
async fn paid_by(p: &Pay, collection: &str, openid: &str) -> Value {
    let order = p.order(collection, None).await;
    p.sim
        .post(
            "/sim/pay",
            &json!({ "out_trade_no": order["out_trade_no"], "openid": openid, "variant": "normal", "count": 1 }),
        )
        .await
        .unwrap();
    p.wait_state(order["id"].as_str().unwrap(), "paid", 20)
        .await;
    order
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follower_asking_for_orders_gets_exactly_their_own_two_orders_and_one_sign_up() {
    let p = notify().await;
    let payee = p.payee().await;
    let follower = p.sim.create_payer(true).await.unwrap();
    let other = p.sim.create_payer(true).await.unwrap();
    let collection = p.collection(&payee, Some("8.00")).await;
    let first = paid_by(p, &collection, &follower).await;
    let second = paid_by(p, &collection, &follower).await;
    let others = paid_by(p, &collection, &other).await;
    let (split, _) = owned_split(p, &payee, json!({ "mode": "fixed", "per_person": "12" })).await;
    let key = format!("ss{}", &split[..6]).to_lowercase();
    let resp = reqwest::Client::new()
        .post(p.worker.url("/api/dash/routes"))
        .bearer_auth(OPERATOR)
        .json(&json!({ "key": key, "target": format!("/c/{split}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let cookie = wechat_session(&p.worker, &format!("/m/{key}"), &follower, "sk_payer").await;
    join(p, &split, "陈同学", Some(&cookie)).await;

    let reply = ask(p, &follower, "订单").await;
    let listed = reply.matches("· ").count();
    assert_eq!(listed, 3, "two orders and one sign-up: {reply}");
    for order in [&first, &second] {
        assert!(
            reply.contains(&format!("/o/{}", order["id"].as_str().unwrap())),
            "{reply}"
        );
    }
    assert!(reply.contains("¥8.00 已支付"), "{reply}");
    assert!(reply.contains(&format!("/c/{split}")), "{reply}");
    assert!(reply.contains("接龙 周六聚餐 未付款"), "{reply}");
    assert!(!reply.contains(others["id"].as_str().unwrap()), "{reply}");

    // Another follower sees none of it.
    let stranger = p.sim.create_payer(true).await.unwrap();
    let reply = ask(p, &stranger, "我的付款").await;
    assert!(reply.contains("没有查到你的付款记录"), "{reply}");
    assert!(!reply.contains("/o/") && !reply.contains("/c/"), "{reply}");
    // Text nothing answers gets no reply (the default reply is off unless configured).
    let reply = ask(p, &stranger, "今天天气不错").await;
    assert!(reply.is_empty() || reply == "success", "{reply}");

    // 退款: the follower's refunds with their states; the payee hears of the refund once.
    let id = first["id"].as_str().unwrap();
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            &format!("/api/dash/orders/{id}/refunds"),
            Some(json!({ "amount": "2.00", "reason": "少发了一件" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = ask(p, &follower, "退款").await;
        if reply.contains("¥2.00 退款成功") {
            break;
        }
        assert!(Instant::now() < deadline, "refund not shown: {reply}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ask(p, &other, "退款")
        .await
        .contains("没有查到你的退款记录"));
    // Payment and refund notices go out with the next cron run (never inside the callback).
    crate::notices::cron(p, crate::payments::now()).await;
    let notices = delivered(p, &payee.openid, NOTICE_TEMPLATE).await;
    let refunds: Vec<&Value> = notices
        .iter()
        .filter(|m| {
            m["data"]["thing3"]["value"]
                .as_str()
                .unwrap_or_default()
                .starts_with("已退款")
        })
        .collect();
    assert_eq!(refunds.len(), 1, "{notices:?}");
    assert_eq!(refunds[0]["data"]["amount2"]["value"], "¥2.00");
    // Three payments, three notices to the payee.
    assert_eq!(notices.len(), 4, "{notices:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_paid_after_the_question_is_answered_later_by_customer_service_message() {
    let p = notify().await;
    let payee = p.payee().await;
    let follower = p.sim.create_payer(true).await.unwrap();
    let collection = p.collection(&payee, Some("6.60")).await;
    // Inside WeChat, through a menu jump (a payer session): a JSAPI order that names its payer
    // from the start, still pending when the follower asks.
    let key = format!("fu{}", &collection[..6]).to_lowercase();
    let resp = reqwest::Client::new()
        .post(p.worker.url("/api/dash/routes"))
        .bearer_auth(OPERATOR)
        .json(&json!({ "key": key, "target": format!("/c/{collection}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let cookie = wechat_session(&p.worker, &format!("/m/{key}"), &follower, "sk_payer").await;
    let order: Value = reqwest::Client::new()
        .post(p.worker.url("/api/orders"))
        .header("user-agent", shoukuan_tests::browser::WECHAT_IOS_UA)
        .header("cookie", &cookie)
        .json(&json!({ "collection_id": collection }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["method"], "jsapi", "{order}");
    let id = order["id"].as_str().unwrap();
    let reply = ask(p, &follower, "订单").await;
    assert!(reply.contains("等待支付"), "{reply}");
    assert!(
        reply.contains(shoukuan_core::selfservice::PENDING_NOTE),
        "{reply}"
    );
    let custom = |openid: String| async move {
        let all = p.sim.get("/sim/mp/custom-messages").await.unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .filter(|m| m["message"]["touser"] == openid.as_str())
            .cloned()
            .collect::<Vec<Value>>()
    };
    assert!(custom(follower.clone()).await.is_empty());
    p.sim
        .post(
            "/sim/pay",
            &json!({ "out_trade_no": order["out_trade_no"], "openid": follower, "variant": "duplicate", "count": 1 }),
        )
        .await
        .unwrap();
    p.wait_state(id, "paid", 20).await;
    p.deliveries_done(order["out_trade_no"].as_str().unwrap(), 2, 30)
        .await;
    let sent = custom(follower.clone()).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["message"]["msgtype"], "text");
    assert_eq!(
        sent[0]["message"]["text"]["content"],
        "你询问的订单「课程费」¥6.60 已支付成功。"
    );
    // Someone who never wrote to the account cannot be written to (WeChat's 45015).
    let silent = p.sim.create_payer(true).await.unwrap();
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
    let answer: Value = reqwest::Client::new()
        .post(p.sim.url(&format!(
            "/cgi-bin/message/custom/send?access_token={}",
            token["access_token"].as_str().unwrap()
        )))
        .json(&json!({ "touser": silent, "msgtype": "text", "text": { "content": "你好" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["errcode"], 45015, "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payee_rule_on_exactly_a_self_service_word_is_refused_and_the_operators_is_not() {
    let p = notify().await;
    let payee = p.payee().await;
    let rule = |pattern: &str, trigger: &str| json!({ "trigger": trigger, "pattern": pattern, "reply": { "type": "text", "text": "请留言，我们会尽快回复" } });
    for word in ["订单", "退款"] {
        let (status, body) = p
            .as_payee(
                &payee,
                reqwest::Method::POST,
                "/api/dash/keywords",
                Some(rule(word, "exact")),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["fields"][0]["field"], "pattern", "{body}");
        assert_eq!(body["fields"][0]["code"], "SELF_SERVICE_WORD");
        assert!(body["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("自助查询"));
    }
    let (_, listed) = p
        .as_payee(&payee, reqwest::Method::GET, "/api/dash/keywords", None)
        .await;
    assert_eq!(listed["rules"], json!([]), "nothing stored");
    // A contains rule still answers longer texts; the operator's rules come before self-service.
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/keywords",
            Some(rule("订单号", "contains")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let resp = reqwest::Client::new()
        .post(p.worker.url("/api/dash/keywords"))
        .bearer_auth(OPERATOR)
        .json(&rule("退款", "exact"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let resp = reqwest::Client::new()
        .delete(p.worker.url(&format!(
            "/api/dash/keywords/{}",
            created["id"].as_i64().unwrap()
        )))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
}
