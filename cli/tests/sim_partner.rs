//! `shoukuan sim` in partner mode (服务商): the service provider of sim.json prepays, queries,
//! closes and refunds for sub-merchants registered through `/sim/sub-merchants`, with WeChat's
//! field rules and error codes, and partner callbacks whose resource names `sp_appid`,
//! `sp_mchid`, `sub_mchid` and `payer.sp_openid`.

mod sim_support;

use std::time::Duration;

use serde_json::{json, Value};
use shoukuan_core::wechatpay::open_notification;
use sim_support::{apiv3_key, keys, now, Received, Receiver, Sim};

const NOTIFY: &str = "https://worker.example/wechatpay/notify";
const JSAPI: &str = "/v3/pay/partner/transactions/jsapi";

/// The decrypted resource of a callback, after verifying its signature.
fn plaintext(sim: &Sim, r: &Received) -> Value {
    let opened = open_notification(
        &r.signed_headers(),
        &r.body,
        &sim.key_set(),
        &apiv3_key(),
        now(),
    )
    .unwrap();
    serde_json::from_str(&opened.plaintext).unwrap()
}

fn query_path(kind: &str, key: &str, sp_mchid: &str, sub_mchid: &str) -> String {
    format!("/v3/pay/partner/transactions/{kind}/{key}?sp_mchid={sp_mchid}&sub_mchid={sub_mchid}")
}

#[tokio::test]
async fn a_partner_order_belongs_to_its_sub_merchant_from_prepay_to_callback() {
    let sim = Sim::start(&[]);
    let c = &keys().config;
    let receiver = Receiver::start(&[200], "").await;
    let (a, b) = (
        sim.sub_merchant(false, 0).await,
        sim.sub_merchant(false, 0).await,
    );
    let openid = sim.payer().await;
    let body = sim.partner_body("partner_0001", 1234, &receiver.url, &openid, &a);
    let prepay = sim.pay("POST", JSAPI, Some(&body)).await.expect(200, None);
    assert!(prepay["prepay_id"].as_str().unwrap().starts_with("wx"));

    // Only its own sub-merchant sees the order; the direct endpoints do not.
    let own = query_path("out-trade-no", "partner_0001", &c.mchid, &a);
    let unpaid = sim.pay("GET", &own, None).await.expect(200, None);
    assert_eq!(unpaid["trade_state"], "NOTPAY");
    assert_eq!(unpaid["sub_mchid"], a.as_str());
    assert!(unpaid.get("payer").is_none() && unpaid.get("mchid").is_none());
    let other = query_path("out-trade-no", "partner_0001", &c.mchid, &b);
    sim.pay("GET", &other, None)
        .await
        .expect(404, Some("ORDER_NOT_EXIST"));
    let direct = format!(
        "/v3/pay/transactions/out-trade-no/partner_0001?mchid={}",
        c.mchid
    );
    sim.pay("GET", &direct, None)
        .await
        .expect(404, Some("ORDER_NOT_EXIST"));

    // The sim remembers the prepay body as sent.
    let (_, order) = sim.get("/sim/orders/partner_0001").await;
    assert_eq!(order["request"], body);
    assert_eq!(order["sub_mchid"], a.as_str());

    let (status, paid) = sim
        .post("/sim/pay", &json!({ "out_trade_no": "partner_0001" }))
        .await;
    assert_eq!(status, 200, "{paid}");
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(
        got[0].headers["wechatpay-signature-type"],
        "WECHATPAY2-SHA256-RSA2048"
    );
    let resource = plaintext(&sim, &got[0]);
    assert_eq!(resource["sp_appid"], c.appid.as_str());
    assert_eq!(resource["sp_mchid"], c.mchid.as_str());
    assert_eq!(resource["sub_mchid"], a.as_str());
    assert_eq!(resource["payer"], json!({ "sp_openid": openid }));
    assert_eq!(resource["trade_type"], "JSAPI");
    assert_eq!(resource["trade_state"], "SUCCESS");
    assert_eq!(resource["amount"]["total"], 1234);
    assert_eq!(resource["transaction_id"], paid["transaction_id"]);
    assert!(resource.get("appid").is_none() && resource.get("mchid").is_none());

    let id = paid["transaction_id"].as_str().unwrap();
    let by_id = sim
        .pay("GET", &query_path("id", id, &c.mchid, &a), None)
        .await
        .expect(200, None);
    assert_eq!(by_id, resource);
    sim.pay("GET", &query_path("id", id, &c.mchid, &b), None)
        .await
        .expect(404, Some("ORDER_NOT_EXIST"));

    // Closing: a paid order cannot be closed; an unpaid one can, by its own sub-merchant.
    let close = |no: &str| format!("/v3/pay/partner/transactions/out-trade-no/{no}/close");
    let ids = |sub: &str| json!({ "sp_mchid": c.mchid, "sub_mchid": sub });
    sim.pay("POST", &close("partner_0001"), Some(&ids(&a)))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    let native = json!({
        "sp_appid": c.appid, "sp_mchid": c.mchid, "sub_mchid": b,
        "description": "扫码", "out_trade_no": "partner_0002", "notify_url": NOTIFY,
        "amount": { "total": 50 },
    });
    let code = sim
        .pay("POST", "/v3/pay/partner/transactions/native", Some(&native))
        .await
        .expect(200, None);
    assert!(code["code_url"]
        .as_str()
        .unwrap()
        .starts_with("weixin://wxpay/bizpayurl?pr="));
    sim.pay("POST", &close("partner_0002"), Some(&ids(&a)))
        .await
        .expect(404, Some("ORDER_NOT_EXIST"));
    sim.pay(
        "POST",
        &close("partner_0002"),
        Some(&json!({ "sp_mchid": c.mchid })),
    )
    .await
    .expect(400, Some("PARAM_ERROR"));
    let closed = sim
        .pay("POST", &close("partner_0002"), Some(&ids(&b)))
        .await;
    assert_eq!(closed.status, 204);
    closed.expect(204, None);
    let state = sim
        .pay(
            "GET",
            &query_path("out-trade-no", "partner_0002", &c.mchid, &b),
            None,
        )
        .await
        .expect(200, None);
    assert_eq!(state["trade_state"], "CLOSED");
}

#[tokio::test]
async fn partner_prepay_refuses_what_wechat_refuses() {
    let sim = Sim::start(&[]);
    let c = &keys().config;
    let sub = sim.sub_merchant(false, 0).await;
    let openid = sim.payer().await;
    let base = sim.partner_body("partner_rules_1", 100, NOTIFY, &openid, &sub);
    let with = |pointer: &str, value: Value| {
        let mut body = base.clone();
        match body.pointer_mut(pointer) {
            Some(slot) => *slot = value,
            None => {
                let (parent, key) = pointer.rsplit_once('/').unwrap();
                body.pointer_mut(if parent.is_empty() { "" } else { parent })
                    .unwrap()[key] = value;
            }
        }
        body
    };
    let without = |field: &str| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "sp_appid not bound to sp_mchid",
            with("/sp_appid", json!("wx0000000000000000")),
            400,
            "APPID_MCHID_NOT_MATCH",
        ),
        (
            "sp_mchid not the signer",
            with("/sp_mchid", json!("1900000001")),
            400,
            "APPID_MCHID_NOT_MATCH",
        ),
        (
            "sub_mchid missing",
            without("sub_mchid"),
            400,
            "PARAM_ERROR",
        ),
        (
            "sub_mchid unrelated",
            with("/sub_mchid", json!("1999999999")),
            403,
            "NO_AUTH",
        ),
        (
            "the service provider as its own sub-merchant",
            with("/sub_mchid", json!(c.mchid)),
            403,
            "NO_AUTH",
        ),
        ("payer missing", without("payer"), 400, "PARAM_ERROR"),
        (
            "payer without an openid",
            with("/payer", json!({})),
            400,
            "PARAM_ERROR",
        ),
        (
            "sub_openid without sub_appid",
            with("/payer", json!({ "sub_openid": "o_sub_1" })),
            400,
            "PARAM_ERROR",
        ),
        (
            "sub_appid not bound to the sub-merchant",
            with("/sub_appid", json!("wx1111111111111111")),
            400,
            "PARAM_ERROR",
        ),
        (
            "sp_openid not issued under sp_appid",
            with("/payer/sp_openid", json!("o_not_ours")),
            400,
            "PARAM_ERROR",
        ),
        (
            "payer.openid is the direct field",
            with("/payer", json!({ "openid": openid })),
            400,
            "PARAM_ERROR",
        ),
    ];
    for (name, body, status, code) in cases {
        let response = sim.pay("POST", JSAPI, Some(&body)).await;
        assert_eq!(response.code(), code, "{name}: {:?}", response.json());
        response.expect(status, Some(code));
    }
    let unrelated = sim
        .pay(
            "POST",
            JSAPI,
            Some(&with("/sub_mchid", json!("1999999999"))),
        )
        .await;
    assert_eq!(unrelated.json()["message"], "受理关系不存在");
    // The order was never created by a refused call.
    let (status, _) = sim.get("/sim/orders/partner_rules_1").await;
    assert_eq!(status, 404);

    // Queries need both ids, the signer's sp_mchid and a related sub_mchid.
    let path = |q: &str| format!("/v3/pay/partner/transactions/out-trade-no/partner_rules_1?{q}");
    for (query, status, code) in [
        (format!("sp_mchid={}", c.mchid), 400, "PARAM_ERROR"),
        (format!("sub_mchid={sub}"), 400, "PARAM_ERROR"),
        (
            format!("sp_mchid=1900000001&sub_mchid={sub}"),
            400,
            "MCH_NOT_EXISTS",
        ),
        (
            format!("sp_mchid={}&sub_mchid=1999999999", c.mchid),
            403,
            "NO_AUTH",
        ),
        (
            format!("sp_mchid={}&sub_mchid={sub}", c.mchid),
            404,
            "ORDER_NOT_EXIST",
        ),
    ] {
        sim.pay("GET", &path(&query), None)
            .await
            .expect(status, Some(code));
    }
}

#[tokio::test]
async fn partner_refunds_name_the_sub_merchant_and_are_notified_with_it() {
    let sim = Sim::start(&["--time-scale", "0.01"]);
    let c = &keys().config;
    let receiver = Receiver::start(&[200], "").await;
    let (a, b) = (
        sim.sub_merchant(false, 0).await,
        sim.sub_merchant(false, 0).await,
    );
    let openid = sim.payer().await;
    let body = sim.partner_body("partner_refund_1", 500, &receiver.url, &openid, &a);
    sim.pay("POST", JSAPI, Some(&body)).await.expect(200, None);
    let (_, paid) = sim
        .post("/sim/pay", &json!({ "out_trade_no": "partner_refund_1" }))
        .await;
    receiver.wait_for(1, Duration::from_secs(5)).await;

    let refund = |sub: Option<&str>, no: &str| {
        let mut body = json!({
            "out_trade_no": "partner_refund_1", "out_refund_no": no,
            "amount": { "refund": 200, "total": 500, "currency": "CNY" },
        });
        if let Some(sub) = sub {
            body["sub_mchid"] = json!(sub);
        }
        body
    };
    let refunds = "/v3/refund/domestic/refunds";
    let missing = sim.pay("POST", refunds, Some(&refund(None, "pr_1"))).await;
    missing.expect(400, Some("PARAM_ERROR"));
    assert!(missing.json()["message"]
        .as_str()
        .unwrap()
        .contains("sub_mchid"));
    sim.pay("POST", refunds, Some(&refund(Some(&b), "pr_1")))
        .await
        .expect(404, Some("RESOURCE_NOT_EXISTS"));
    sim.pay("POST", refunds, Some(&refund(Some("1999999999"), "pr_1")))
        .await
        .expect(403, Some("NO_AUTH"));
    let accepted = sim
        .pay("POST", refunds, Some(&refund(Some(&a), "pr_1")))
        .await
        .expect(200, None);
    assert_eq!(accepted["status"], "PROCESSING");
    assert_eq!(accepted["transaction_id"], paid["transaction_id"]);

    let got = receiver.wait_for(2, Duration::from_secs(5)).await;
    let notice = plaintext(&sim, &got[1]);
    assert_eq!(notice["sp_mchid"], c.mchid.as_str());
    assert_eq!(notice["sub_mchid"], a.as_str());
    assert!(notice.get("mchid").is_none());
    assert_eq!(notice["out_refund_no"], "pr_1");
    assert_eq!(notice["refund_status"], "SUCCESS");
    assert_eq!(notice["amount"]["refund"], 200);

    let query = |q: &str| format!("{refunds}/pr_1{q}");
    sim.pay("GET", &query(""), None)
        .await
        .expect(400, Some("PARAM_ERROR"));
    sim.pay("GET", &query(&format!("?sub_mchid={b}")), None)
        .await
        .expect(404, Some("RESOURCE_NOT_EXISTS"));
    let done = sim
        .pay("GET", &query(&format!("?sub_mchid={a}")), None)
        .await
        .expect(200, None);
    assert_eq!(done["status"], "SUCCESS");
}

#[tokio::test]
async fn a_callback_variant_can_name_another_sub_merchant() {
    let sim = Sim::start(&[]);
    let receiver = Receiver::start(&[200], "").await;
    // Two sub-merchants, so the variant has another one to name.
    let (a, _other) = (
        sim.sub_merchant(false, 0).await,
        sim.sub_merchant(false, 0).await,
    );
    let openid = sim.payer().await;
    let body = sim.partner_body("partner_swap_1", 300, &receiver.url, &openid, &a);
    sim.pay("POST", JSAPI, Some(&body)).await.expect(200, None);
    let (status, paid) = sim
        .post(
            "/sim/pay",
            &json!({ "out_trade_no": "partner_swap_1", "variant": "wrong_sub_mchid" }),
        )
        .await;
    assert_eq!(status, 200, "{paid}");
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    let resource = plaintext(&sim, &got[0]);
    assert_ne!(resource["sub_mchid"], a.as_str());
    assert!(resource["sub_mchid"].is_string());
    assert_eq!(resource["out_trade_no"], "partner_swap_1");
    // The log names the variant; the order itself keeps its sub-merchant.
    let (_, log) = sim.get("/sim/deliveries?out_trade_no=partner_swap_1").await;
    assert_eq!(log[0]["variant"], "wrong_sub_mchid");
    let (_, order) = sim.get("/sim/orders/partner_swap_1").await;
    assert_eq!(order["sub_mchid"], a.as_str());
    // Then the genuine callback, on request.
    let (status, _) = sim
        .post("/sim/notify", &json!({ "out_trade_no": "partner_swap_1" }))
        .await;
    assert_eq!(status, 200);
    let got = receiver.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(plaintext(&sim, &got[1])["sub_mchid"], a.as_str());

    // A direct order has no sub-merchant to swap.
    let direct = sim.jsapi_body("direct_swap_1", 100, &receiver.url, &openid);
    sim.pay("POST", "/v3/pay/transactions/jsapi", Some(&direct))
        .await
        .expect(200, None);
    let (status, refused) = sim
        .post(
            "/sim/pay",
            &json!({ "out_trade_no": "direct_swap_1", "variant": "wrong_sub_mchid" }),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test]
async fn the_sub_merchant_registry_validates_and_updates() {
    let sim = Sim::start(&[]);
    let c = &keys().config;
    for bad in [
        json!({ "sub_mchid": "12ab" }),
        json!({ "sub_mchid": "1234567" }),
        json!({ "sub_mchid": c.mchid }),
        json!({ "sub_mchid": "1600000001", "max_ratio": 10001 }),
        json!({ "sub_mchid": "1600000001", "name": " " }),
    ] {
        let (status, error) = sim.post("/sim/sub-merchants", &bad).await;
        assert_eq!(status, 400, "{bad} → {error}");
        assert_eq!(error["code"], "PARAM_ERROR");
    }
    let (status, created) = sim
        .post("/sim/sub-merchants", &json!({ "sub_mchid": "1600000001" }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (created["h5"].clone(), created["max_ratio"].clone()),
        (json!(false), json!(0))
    );
    let (_, updated) = sim
        .post(
            "/sim/sub-merchants",
            &json!({ "sub_mchid": "1600000001", "max_ratio": 2500, "h5": true }),
        )
        .await;
    assert_eq!(updated["max_ratio"], 2500);
    assert_eq!(updated["name"], created["name"]);
    let (_, list) = sim.get("/sim/sub-merchants").await;
    let listed: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["sub_mchid"] == "1600000001")
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["h5"], true);
}
