//! `shoukuan sim` H5 pay (`MWEB`), direct and partner: the scene_info rules, the `h5_url` to a
//! sim checkout page that needs a Referer, lives 5 minutes (scaled), pays or cancels and then
//! returns to the merchant's URL-encoded `redirect_url`.

mod sim_support;

use std::time::Duration;

use serde_json::{json, Value};
use sim_support::{keys, Receiver, Sim};

const NOTIFY: &str = "https://worker.example/wechatpay/notify";
const RETURN: &str = "https://worker.example/o/abc?x=1&y=2";

fn h5_body(out_trade_no: &str) -> Value {
    let c = &keys().config;
    json!({
        "appid": c.appid, "mchid": c.mchid, "description": "H5测试",
        "out_trade_no": out_trade_no, "notify_url": NOTIFY,
        "amount": { "total": 1999 },
        "scene_info": { "payer_client_ip": "127.0.0.1", "h5_info": { "type": "Wap" } },
    })
}

/// Percent-encodes everything but unreserved characters.
fn encode(url: &str) -> String {
    url.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Opens the checkout page as a browser coming from the merchant's page.
async fn open(sim: &Sim, url: &str, referer: Option<&str>) -> String {
    let mut request = sim.http.get(url);
    if let Some(referer) = referer {
        request = request.header("Referer", referer);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

fn prepay_id(h5_url: &str) -> String {
    let url = reqwest::Url::parse(h5_url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "prepay_id")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// Submits the checkout form; answers the status and the Location.
async fn finish(sim: &Sim, prepay_id: &str, action: &str, redirect: &str) -> (u16, String) {
    let response = sim
        .http
        .post(format!("{}/sim/h5/checkout", sim.base))
        .form(&[
            ("prepay_id", prepay_id),
            ("redirect_url", redirect),
            ("openid", ""),
            ("action", action),
        ])
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (response.status().as_u16(), location)
}

#[tokio::test]
async fn h5_prepay_needs_the_scene_and_answers_a_short_lived_checkout_url() {
    let sim = Sim::start(&[]);
    let path = "/v3/pay/transactions/h5";
    let base = h5_body("h5_rules_0001");
    let cases: Vec<(&str, Value)> = vec![
        ("no scene_info", {
            let mut b = base.clone();
            b.as_object_mut().unwrap().remove("scene_info");
            b
        }),
        ("no payer_client_ip", {
            let mut b = base.clone();
            b["scene_info"]
                .as_object_mut()
                .unwrap()
                .remove("payer_client_ip");
            b
        }),
        ("payer_client_ip not an IP", {
            let mut b = base.clone();
            b["scene_info"]["payer_client_ip"] = json!("localhost");
            b
        }),
        ("no h5_info", {
            let mut b = base.clone();
            b["scene_info"].as_object_mut().unwrap().remove("h5_info");
            b
        }),
        ("no h5_info.type", {
            let mut b = base.clone();
            b["scene_info"]["h5_info"] = json!({ "app_name": "收款" });
            b
        }),
        ("unknown h5_info.type", {
            let mut b = base.clone();
            b["scene_info"]["h5_info"]["type"] = json!("Web");
            b
        }),
    ];
    for (name, body) in cases {
        let response = sim.pay("POST", path, Some(&body)).await;
        assert_eq!(response.status, 400, "{name}: {:?}", response.json());
        response.expect(400, Some("PARAM_ERROR"));
    }
    let mut v6 = base.clone();
    v6["scene_info"]["payer_client_ip"] = json!("2001:db8::1");
    v6["out_trade_no"] = json!("h5_rules_0002");
    sim.pay("POST", path, Some(&v6)).await.expect(200, None);

    let answer = sim.pay("POST", path, Some(&base)).await.expect(200, None);
    let h5_url = answer["h5_url"].as_str().unwrap();
    assert!(
        h5_url.starts_with(&format!("{}/sim/h5/checkout?prepay_id=wx", sim.base)),
        "{h5_url}"
    );
    let (_, order) = sim.get("/sim/orders/h5_rules_0001").await;
    assert_eq!(order["trade_type"], "MWEB");
    assert_eq!(order["request"]["scene_info"]["h5_info"]["type"], "Wap");

    // WeChat's middle page checks the Referer, and wants redirect_url encoded.
    let bare = open(&sim, h5_url, None).await;
    assert!(bare.contains("商家参数格式有误") && !bare.contains("确认支付"));
    let raw = open(
        &sim,
        &format!("{h5_url}&redirect_url={RETURN}"),
        Some(RETURN),
    )
    .await;
    assert!(raw.contains("商家参数格式有误"), "{raw}");
    let with_return = format!("{h5_url}&redirect_url={}", encode(RETURN));
    let page = open(&sim, &with_return, Some("https://worker.example/o/abc")).await;
    assert!(
        page.contains("确认支付") && page.contains("¥19.99"),
        "{page}"
    );
    assert!(page.contains("https://worker.example/o/abc?x=1&amp;y=2"));
}

#[tokio::test]
async fn paying_or_cancelling_returns_to_the_merchant_and_only_paying_pays() {
    let sim = Sim::start(&["--time-scale", "0.01"]);
    let receiver = Receiver::start(&[200], "").await;
    let mut body = h5_body("h5_pay_0001");
    body["notify_url"] = json!(receiver.url);
    let answer = sim
        .pay("POST", "/v3/pay/transactions/h5", Some(&body))
        .await
        .expect(200, None);
    let id = prepay_id(answer["h5_url"].as_str().unwrap());

    let (status, location) = finish(&sim, &id, "cancel", RETURN).await;
    assert_eq!((status, location.as_str()), (303, RETURN));
    let (_, order) = sim.get("/sim/orders/h5_pay_0001").await;
    assert_eq!(order["state"], "NOTPAY");

    let (status, location) = finish(&sim, &id, "pay", RETURN).await;
    assert_eq!((status, location.as_str()), (303, RETURN));
    let (_, order) = sim.get("/sim/orders/h5_pay_0001").await;
    assert_eq!(order["state"], "SUCCESS");
    assert!(order["openid"].is_string());
    receiver.wait_for(1, Duration::from_secs(5)).await;
    let c = &keys().config;
    let query = sim
        .pay(
            "GET",
            &format!(
                "/v3/pay/transactions/out-trade-no/h5_pay_0001?mchid={}",
                c.mchid
            ),
            None,
        )
        .await
        .expect(200, None);
    assert_eq!(query["trade_type"], "MWEB");
    assert_eq!(query["payer"]["openid"], order["openid"]);

    // A paid order's page no longer offers to pay.
    let (status, _) = finish(&sim, &id, "pay", "").await;
    assert_eq!(status, 200);

    // The URL lives 5 minutes: 3 s at this scale.
    body["out_trade_no"] = json!("h5_pay_0002");
    let answer = sim
        .pay("POST", "/v3/pay/transactions/h5", Some(&body))
        .await
        .expect(200, None);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let page = open(&sim, answer["h5_url"].as_str().unwrap(), Some(RETURN)).await;
    assert!(page.contains("支付请求已失效"), "{page}");
    let id = prepay_id(answer["h5_url"].as_str().unwrap());
    finish(&sim, &id, "pay", RETURN).await;
    let (_, order) = sim.get("/sim/orders/h5_pay_0002").await;
    assert_eq!(order["state"], "NOTPAY");
}

#[tokio::test]
async fn partner_h5_is_for_sub_merchants_allowed_to_use_it() {
    let sim = Sim::start(&[]);
    let c = &keys().config;
    let (with_h5, without) = (
        sim.sub_merchant(true, 0).await,
        sim.sub_merchant(false, 0).await,
    );
    let body = |no: &str, sub: &str| {
        json!({
            "sp_appid": c.appid, "sp_mchid": c.mchid, "sub_mchid": sub,
            "description": "H5", "out_trade_no": no, "notify_url": NOTIFY,
            "amount": { "total": 100 },
            "scene_info": { "payer_client_ip": "203.0.113.9", "h5_info": { "type": "Wap" } },
        })
    };
    let path = "/v3/pay/partner/transactions/h5";
    let refused = sim
        .pay("POST", path, Some(&body("h5_partner_1", &without)))
        .await;
    refused.expect(403, Some("NO_AUTH"));
    let answer = sim
        .pay("POST", path, Some(&body("h5_partner_2", &with_h5)))
        .await
        .expect(200, None);
    let id = prepay_id(answer["h5_url"].as_str().unwrap());
    let (status, _) = finish(&sim, &id, "pay", RETURN).await;
    assert_eq!(status, 303);
    let paid = sim
        .pay(
            "GET",
            &format!(
                "/v3/pay/partner/transactions/out-trade-no/h5_partner_2?sp_mchid={}&sub_mchid={with_h5}",
                c.mchid
            ),
            None,
        )
        .await
        .expect(200, None);
    assert_eq!(paid["trade_state"], "SUCCESS");
    assert_eq!(paid["trade_type"], "MWEB");
    assert!(paid["payer"]["sp_openid"].is_string());
}
