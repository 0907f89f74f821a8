//! `shoukuan sim` profit sharing, direct and partner (服务商分账): receivers (per sub-merchant,
//! encrypted names), the authorised ratio, the 1-minute rule, cumulative max ratio, asynchronous
//! results, unfreezing, returns, the amounts query, and the control API's tally.

mod sim_support;

use std::time::Duration;

use serde_json::{json, Value};
use sim_support::{encrypt_name, keys, Sim};

const NOTIFY: &str = "https://worker.example/wechatpay/notify";
const ADD: &str = "/v3/profitsharing/receivers/add";
const ORDERS: &str = "/v3/profitsharing/orders";
const UNFREEZE: &str = "/v3/profitsharing/orders/unfreeze";
const RETURNS: &str = "/v3/profitsharing/return-orders";

/// At `--time-scale 0.01` the 1-minute rule is 0.6 s and orders finish in 20 ms.
const SCALE: &[&str] = &["--time-scale", "0.01"];
const AFTER_A_MINUTE: Duration = Duration::from_millis(700);

fn amounts(transaction_id: &str) -> String {
    format!("/v3/profitsharing/transactions/{transaction_id}/amounts")
}

/// Pays a partner JSAPI order of `sub_mchid` (funds frozen when `profit_sharing`).
async fn paid_partner_order(
    sim: &Sim,
    no: &str,
    total: i64,
    sub_mchid: &str,
    sharing: bool,
) -> String {
    let openid = sim.payer().await;
    let mut body = sim.partner_body(no, total, NOTIFY, &openid, sub_mchid);
    body["settle_info"] = json!({ "profit_sharing": sharing });
    sim.pay("POST", "/v3/pay/partner/transactions/jsapi", Some(&body))
        .await
        .expect(200, None);
    let (status, paid) = sim.post("/sim/pay", &json!({ "out_trade_no": no })).await;
    assert_eq!(status, 200, "{paid}");
    paid["transaction_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_direct_merchant_shares_within_30_percent_after_a_minute() {
    let sim = Sim::start(SCALE);
    let appid = keys().config.appid.clone();
    let transaction_id = sim.paid_order("order_share_01", 1000, NOTIFY, true).await;
    let receiver_openid = sim.payer().await;
    let add = json!({ "appid": appid, "type": "PERSONAL_OPENID", "account": receiver_openid, "relation_type": "PARTNER" });
    let added = sim.pay("POST", ADD, Some(&add)).await.expect(200, None);
    assert_eq!(added["account"], receiver_openid.as_str());
    let mut bad = add.clone();
    bad["relation_type"] = json!("FRIEND");
    sim.pay("POST", ADD, Some(&bad))
        .await
        .expect(400, Some("PARAM_ERROR"));
    let nameless = json!({ "appid": appid, "type": "MERCHANT_ID", "account": "1900000109", "relation_type": "STORE" });
    sim.pay("POST", ADD, Some(&nameless))
        .await
        .expect(400, Some("PARAM_ERROR"));
    let mut stranger = add.clone();
    stranger["account"] = json!("o_not_issued_here");
    sim.pay("POST", ADD, Some(&stranger))
        .await
        .expect(400, Some("PARAM_ERROR"));

    let share = |no: &str, account: &str, amount: i64, unfreeze: bool| {
        json!({
            "appid": appid, "transaction_id": transaction_id, "out_order_no": no,
            "receivers": [{ "type": "PERSONAL_OPENID", "account": account, "amount": amount, "description": "分给合伙人" }],
            "unfreeze_unsplit": unfreeze,
        })
    };
    // Too early: WeChat wants a minute after payment.
    let early = sim
        .pay(
            "POST",
            ORDERS,
            Some(&share("P1", &receiver_openid, 200, false)),
        )
        .await;
    early.expect(400, Some("INVALID_REQUEST"));
    assert!(early.json()["message"]
        .as_str()
        .unwrap()
        .contains("订单处理中"));
    tokio::time::sleep(AFTER_A_MINUTE).await;

    sim.pay(
        "POST",
        ORDERS,
        Some(&share("P1", "o_not_added", 100, false)),
    )
    .await
    .expect(400, Some("INVALID_REQUEST"));
    let over = sim
        .pay(
            "POST",
            ORDERS,
            Some(&share("P1", &receiver_openid, 301, false)),
        )
        .await;
    over.expect(400, Some("INVALID_REQUEST"));
    assert!(over.json()["message"]
        .as_str()
        .unwrap()
        .contains("最大分账比例"));
    let first = sim
        .pay(
            "POST",
            ORDERS,
            Some(&share("P1", &receiver_openid, 200, false)),
        )
        .await
        .expect(200, None);
    assert_eq!(first["state"], "PROCESSING");
    assert_eq!(first["receivers"][0]["result"], "PENDING");
    // The same number with the same request is the same order; with another, refused.
    let again = sim
        .pay(
            "POST",
            ORDERS,
            Some(&share("P1", &receiver_openid, 200, false)),
        )
        .await
        .expect(200, None);
    assert_eq!(again["order_id"], first["order_id"]);
    sim.pay(
        "POST",
        ORDERS,
        Some(&share("P1", &receiver_openid, 50, false)),
    )
    .await
    .expect(400, Some("INVALID_REQUEST"));
    // The ratio is cumulative: 200 + 101 > 30 % of 1000.
    sim.pay(
        "POST",
        ORDERS,
        Some(&share("P2", &receiver_openid, 101, false)),
    )
    .await
    .expect(400, Some("INVALID_REQUEST"));
    sim.pay(
        "POST",
        ORDERS,
        Some(&share("P2", &receiver_openid, 100, false)),
    )
    .await
    .expect(200, None);
    let mut missing = share("P3", &receiver_openid, 1, false);
    missing.as_object_mut().unwrap().remove("unfreeze_unsplit");
    sim.pay("POST", ORDERS, Some(&missing))
        .await
        .expect(400, Some("PARAM_ERROR"));

    tokio::time::sleep(Duration::from_millis(200)).await;
    let query = format!("{ORDERS}/P1?transaction_id={transaction_id}");
    let finished = sim.pay("GET", &query, None).await.expect(200, None);
    assert_eq!(finished["state"], "FINISHED");
    assert_eq!(finished["receivers"][0]["result"], "SUCCESS");
    let unsplit = |v: Value| v["unsplit_amount"].clone();
    assert_eq!(
        unsplit(
            sim.pay("GET", &amounts(&transaction_id), None)
                .await
                .expect(200, None)
        ),
        700
    );
    let (_, got) = sim
        .get(&format!(
            "/sim/profitsharing/received?account={receiver_openid}"
        ))
        .await;
    assert_eq!(got[0]["received"], 300);
    assert_eq!(got[0]["from"], keys().config.mchid.as_str());

    // Unfreezing with a share's number answers that share and unfreezes nothing.
    let unfreeze = |no: &str| json!({ "transaction_id": transaction_id, "out_order_no": no, "description": "解冻全部剩余资金" });
    let reused = sim
        .pay("POST", UNFREEZE, Some(&unfreeze("P1")))
        .await
        .expect(200, None);
    assert_eq!(reused["order_id"], first["order_id"]);
    assert_eq!(
        unsplit(
            sim.pay("GET", &amounts(&transaction_id), None)
                .await
                .expect(200, None)
        ),
        700
    );
    let unfrozen = sim
        .pay("POST", UNFREEZE, Some(&unfreeze("U1")))
        .await
        .expect(200, None);
    assert_eq!(unfrozen["receivers"][0]["amount"], 700);
    assert_eq!(
        unfrozen["receivers"][0]["account"],
        keys().config.mchid.as_str()
    );
    assert_eq!(
        unsplit(
            sim.pay("GET", &amounts(&transaction_id), None)
                .await
                .expect(200, None)
        ),
        0
    );
    sim.pay("POST", UNFREEZE, Some(&unfreeze("U2")))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    sim.pay(
        "POST",
        ORDERS,
        Some(&share("P4", &receiver_openid, 1, false)),
    )
    .await
    .expect(400, Some("INVALID_REQUEST"));
    sim.pay(
        "GET",
        &format!("{ORDERS}/NOPE?transaction_id={transaction_id}"),
        None,
    )
    .await
    .expect(404, Some("RESOURCE_NOT_EXISTS"));
    let delete = json!({ "appid": appid, "type": "PERSONAL_OPENID", "account": receiver_openid });
    sim.pay("POST", "/v3/profitsharing/receivers/delete", Some(&delete))
        .await
        .expect(200, None);

    // An order prepaid without settle_info.profit_sharing is 非分账订单.
    let plain = sim.paid_order("order_share_02", 1000, NOTIFY, false).await;
    tokio::time::sleep(AFTER_A_MINUTE).await;
    sim.pay("POST", ADD, Some(&add)).await.expect(200, None);
    let mut not_shared = share("P5", &receiver_openid, 1, false);
    not_shared["transaction_id"] = json!(plain);
    for response in [
        sim.pay("POST", ORDERS, Some(&not_shared)).await,
        sim.pay("GET", &amounts(&plain), None).await,
    ] {
        response.expect(400, Some("INVALID_REQUEST"));
        assert!(response.json()["message"]
            .as_str()
            .unwrap()
            .contains("非分账订单"));
    }
}

#[tokio::test]
async fn a_service_provider_takes_its_fee_from_a_sub_merchant_within_the_authorised_ratio() {
    let sim = Sim::start(SCALE);
    let c = &keys().config;
    let sub = sim.sub_merchant(false, 1000).await;
    let other = sim.sub_merchant(false, 3000).await;
    let configs = |s: &str| format!("/v3/profitsharing/merchant-configs/{s}");
    let ratio = sim.pay("GET", &configs(&sub), None).await.expect(200, None);
    assert_eq!(ratio, json!({ "sub_mchid": sub, "max_ratio": 1000 }));
    sim.pay("GET", &configs("1999999999"), None)
        .await
        .expect(403, Some("NO_AUTH"));

    // The platform-fee receiver: the service provider itself, by its encrypted full name.
    let fee_receiver = |sub: &str, name: &str| {
        json!({
            "sub_mchid": sub, "appid": c.appid, "type": "MERCHANT_ID", "account": c.mchid,
            "name": encrypt_name(name), "relation_type": "SERVICE_PROVIDER",
        })
    };
    let right = fee_receiver(&sub, &c.merchant_name);
    sim.pay_with_serial(
        "POST",
        ADD,
        &fee_receiver(&sub, "别人家的公司"),
        &c.public_key_id,
    )
    .await
    .expect(400, Some("INVALID_REQUEST"));
    sim.pay_with_serial("POST", ADD, &right, "PUB_KEY_ID_0000")
        .await
        .expect(400, Some("PARAM_ERROR"));
    sim.pay_with_serial(
        "POST",
        ADD,
        &fee_receiver("1999999999", &c.merchant_name),
        &c.public_key_id,
    )
    .await
    .expect(403, Some("NO_AUTH"));
    let added = sim
        .pay_with_serial("POST", ADD, &right, &c.public_key_id)
        .await
        .expect(200, None);
    assert_eq!(added["sub_mchid"], sub.as_str());
    let (_, listed) = sim.get("/sim/profitsharing").await;
    let kept = &listed["receivers"][0];
    assert_eq!(kept["name"], c.merchant_name.as_str());
    assert_eq!(kept["sub_mchid"], sub.as_str());

    let transaction_id = paid_partner_order(&sim, "share_partner_1", 1000, &sub, true).await;
    tokio::time::sleep(AFTER_A_MINUTE).await;
    let fee = |no: &str, sub: Option<&str>, amount: i64| {
        let mut body = json!({
            "appid": c.appid, "transaction_id": transaction_id, "out_order_no": no,
            "receivers": [{ "type": "MERCHANT_ID", "account": c.mchid, "amount": amount, "description": "平台服务费" }],
            "unfreeze_unsplit": true,
        });
        if let Some(sub) = sub {
            body["sub_mchid"] = json!(sub);
        }
        body
    };
    sim.pay("POST", ORDERS, Some(&fee("F1", None, 10)))
        .await
        .expect(400, Some("PARAM_ERROR"));
    sim.pay("POST", ORDERS, Some(&fee("F1", Some(&other), 10)))
        .await
        .expect(404, Some("RESOURCE_NOT_EXISTS"));
    // 10 % authorised: 101 of 1000 is too much.
    sim.pay("POST", ORDERS, Some(&fee("F1", Some(&sub), 101)))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    let created = sim
        .pay("POST", ORDERS, Some(&fee("F1", Some(&sub), 10)))
        .await
        .expect(200, None);
    assert_eq!(created["sub_mchid"], sub.as_str());
    assert_eq!(created["receivers"].as_array().unwrap().len(), 1);
    assert_eq!(created["receivers"][0]["result"], "PENDING");

    tokio::time::sleep(Duration::from_millis(200)).await;
    let query = |q: &str| format!("{ORDERS}/F1?transaction_id={transaction_id}{q}");
    sim.pay("GET", &query(""), None)
        .await
        .expect(400, Some("PARAM_ERROR"));
    let done = sim
        .pay("GET", &query(&format!("&sub_mchid={sub}")), None)
        .await
        .expect(200, None);
    assert_eq!(done["state"], "FINISHED");
    let lines = done["receivers"].as_array().unwrap();
    assert_eq!(lines[0]["result"], "SUCCESS");
    assert_eq!(
        (lines[1]["account"].clone(), lines[1]["amount"].clone()),
        (json!(sub), json!(990))
    );
    assert_eq!(lines[1]["description"], "解冻给分账方");
    let left = sim
        .pay("GET", &amounts(&transaction_id), None)
        .await
        .expect(200, None);
    assert_eq!(left["unsplit_amount"], 0);
    let (_, got) = sim
        .get(&format!("/sim/profitsharing/received?account={}", c.mchid))
        .await;
    assert_eq!(got.as_array().unwrap().len(), 1);
    assert_eq!(
        (got[0]["from"].clone(), got[0]["net"].clone()),
        (json!(sub), json!(10))
    );

    // Receivers are per sub-merchant: the other one has not added the service provider.
    let elsewhere = paid_partner_order(&sim, "share_partner_2", 1000, &other, true).await;
    tokio::time::sleep(AFTER_A_MINUTE).await;
    let mut theirs = fee("F2", Some(&other), 10);
    theirs["transaction_id"] = json!(elsewhere);
    sim.pay("POST", ORDERS, Some(&theirs))
        .await
        .expect(400, Some("INVALID_REQUEST"));

    // A sub-merchant that authorised nothing: merchant-configs and shares say NO_AUTH.
    sim.post(
        "/sim/sub-merchants",
        &json!({ "sub_mchid": other, "max_ratio": 0 }),
    )
    .await;
    sim.pay("GET", &configs(&other), None)
        .await
        .expect(403, Some("NO_AUTH"));
    sim.pay_with_serial(
        "POST",
        ADD,
        &fee_receiver(&other, &c.merchant_name),
        &c.public_key_id,
    )
    .await
    .expect(200, None);
    sim.pay("POST", ORDERS, Some(&theirs))
        .await
        .expect(403, Some("NO_AUTH"));

    // Returns: from the merchant receiver, within what it got; then the order refunds in full.
    let back = |no: &str, mchid: &str, amount: i64| {
        json!({ "sub_mchid": sub, "out_order_no": "F1", "out_return_no": no,
                "return_mchid": mchid, "amount": amount, "description": "退款前回退" })
    };
    sim.pay("POST", RETURNS, Some(&back("R1", c.mchid.as_str(), 11)))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    sim.pay("POST", RETURNS, Some(&back("R1", "1900000109", 10)))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    let refund = json!({
        "sub_mchid": sub, "transaction_id": transaction_id, "out_refund_no": "RF1",
        "amount": { "refund": 1000, "total": 1000, "currency": "CNY" },
    });
    sim.pay("POST", "/v3/refund/domestic/refunds", Some(&refund))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    let returned = sim
        .pay("POST", RETURNS, Some(&back("R1", c.mchid.as_str(), 10)))
        .await
        .expect(200, None);
    assert_eq!(returned["result"], "SUCCESS");
    assert_eq!(returned["sub_mchid"], sub.as_str());
    let looked_up = sim
        .pay(
            "GET",
            &format!("{RETURNS}/R1?out_order_no=F1&sub_mchid={sub}"),
            None,
        )
        .await
        .expect(200, None);
    assert_eq!(looked_up["return_id"], returned["return_id"]);
    let (_, got) = sim
        .get(&format!("/sim/profitsharing/received?account={}", c.mchid))
        .await;
    assert_eq!(
        (got[0]["returned"].clone(), got[0]["net"].clone()),
        (json!(10), json!(0))
    );
    sim.pay("POST", "/v3/refund/domestic/refunds", Some(&refund))
        .await
        .expect(200, None);
}

#[tokio::test]
async fn the_minute_rule_holds_at_the_real_time_scale() {
    let sim = Sim::start(&[]);
    let appid = keys().config.appid.clone();
    let transaction_id = sim.paid_order("order_share_10", 1000, NOTIFY, true).await;
    let person = sim.payer().await;
    let add = json!({ "appid": appid, "type": "PERSONAL_OPENID", "account": person, "relation_type": "STAFF" });
    sim.pay("POST", ADD, Some(&add)).await.expect(200, None);
    let share = json!({
        "appid": appid, "transaction_id": transaction_id, "out_order_no": "S1",
        "receivers": [{ "type": "PERSONAL_OPENID", "account": person, "amount": 100, "description": "员工提成" }],
        "unfreeze_unsplit": false,
    });
    for (path, body) in [
        (ORDERS, share),
        (
            UNFREEZE,
            json!({ "transaction_id": transaction_id, "out_order_no": "U1", "description": "解冻" }),
        ),
    ] {
        let early = sim.pay("POST", path, Some(&body)).await;
        early.expect(400, Some("INVALID_REQUEST"));
        assert!(early.json()["message"]
            .as_str()
            .unwrap()
            .contains("稍后重试"));
    }
    // PERSONAL_SUB_OPENID needs a sub_appid the simulated merchants do not have.
    let mut sub_openid = add.clone();
    sub_openid["type"] = json!("PERSONAL_SUB_OPENID");
    sim.pay("POST", ADD, Some(&sub_openid))
        .await
        .expect(400, Some("PARAM_ERROR"));
}

#[tokio::test]
async fn only_merchant_receivers_can_be_returned_from() {
    let sim = Sim::start(SCALE);
    let appid = keys().config.appid.clone();
    let transaction_id = sim.paid_order("order_share_11", 1000, NOTIFY, true).await;
    let person = sim.payer().await;
    let add = json!({ "appid": appid, "type": "PERSONAL_OPENID", "account": person, "relation_type": "STAFF" });
    sim.pay("POST", ADD, Some(&add)).await.expect(200, None);
    tokio::time::sleep(AFTER_A_MINUTE).await;
    let share = json!({
        "appid": appid, "transaction_id": transaction_id, "out_order_no": "S1",
        "receivers": [{ "type": "PERSONAL_OPENID", "account": person, "amount": 100, "description": "员工提成" }],
        "unfreeze_unsplit": false,
    });
    sim.pay("POST", ORDERS, Some(&share))
        .await
        .expect(200, None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let back = |no: &str| json!({ "out_order_no": no, "out_return_no": "R1", "return_mchid": person, "amount": 1, "description": "回退" });
    sim.pay("POST", RETURNS, Some(&back("S1")))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    sim.pay("POST", RETURNS, Some(&back("NOPE")))
        .await
        .expect(404, Some("RESOURCE_NOT_EXISTS"));
    // The person keeps the share; the merchant can refund only the rest.
    let (_, got) = sim
        .get(&format!("/sim/profitsharing/received?account={person}"))
        .await;
    assert_eq!(
        (got[0]["received"].clone(), got[0]["net"].clone()),
        (json!(100), json!(100))
    );
    let refund = |amount: i64, no: &str| {
        json!({
            "transaction_id": transaction_id, "out_refund_no": no,
            "amount": { "refund": amount, "total": 1000, "currency": "CNY" },
        })
    };
    sim.pay(
        "POST",
        "/v3/refund/domestic/refunds",
        Some(&refund(901, "RF1")),
    )
    .await
    .expect(400, Some("INVALID_REQUEST"));
    sim.pay(
        "POST",
        "/v3/refund/domestic/refunds",
        Some(&refund(900, "RF1")),
    )
    .await
    .expect(200, None);
    // Everything refundable was refunded: sharing is over.
    let left = sim
        .pay("GET", &amounts(&transaction_id), None)
        .await
        .expect(200, None);
    assert_eq!(left["unsplit_amount"], 0);
}
