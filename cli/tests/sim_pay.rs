//! `shoukuan sim` as WeChat Pay API v3, driven as the worker drives WeChat Pay: every request
//! signed with the dev merchant key, every answer verified with `core` against sim.json's keys.

mod sim_support;

use std::time::Duration;

use serde_json::{json, Value};
use sha1::{Digest as _, Sha1};
use shoukuan_core::wechatpay::{
    aead_decrypt_to_string, Authorization, Certificate, KeySet, PublicKey, VerifyError, SCHEME,
};
use sim_support::{keys, now, Receiver, Sim};

const NOTIFY: &str = "https://worker.example/wechatpay/notify";

#[tokio::test]
async fn every_request_needs_a_valid_authorization_and_every_answer_is_signed() {
    let sim = Sim::start(&[]);
    let k = keys();
    let set = sim.key_set();
    let path = format!(
        "/v3/pay/transactions/out-trade-no/nosuchorder?mchid={}",
        k.config.mchid
    );
    let sign = |method: &str, url: &str, ts: i64, body: &str, mchid: &str, serial: &str| {
        Authorization::sign(
            &k.merchant,
            mchid,
            serial,
            method,
            url,
            ts,
            "NONCE1",
            body.as_bytes(),
        )
        .unwrap()
        .header_value()
    };
    let good = sign(
        "GET",
        &path,
        now(),
        "",
        &k.config.mchid,
        &k.config.merchant_serial,
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("other scheme", Some("Bearer abc".into())),
        (
            "stale timestamp",
            Some(sign(
                "GET",
                &path,
                now() - 600,
                "",
                &k.config.mchid,
                &k.config.merchant_serial,
            )),
        ),
        (
            "other URL signed",
            Some(sign(
                "GET",
                "/v3/certificates",
                now(),
                "",
                &k.config.mchid,
                &k.config.merchant_serial,
            )),
        ),
        (
            "other method signed",
            Some(sign(
                "POST",
                &path,
                now(),
                "",
                &k.config.mchid,
                &k.config.merchant_serial,
            )),
        ),
        (
            "body signed but not sent",
            Some(sign(
                "GET",
                &path,
                now(),
                "{}",
                &k.config.mchid,
                &k.config.merchant_serial,
            )),
        ),
        (
            "wrong mchid",
            Some(sign(
                "GET",
                &path,
                now(),
                "",
                "1900000001",
                &k.config.merchant_serial,
            )),
        ),
        (
            "wrong serial",
            Some(sign(
                "GET",
                &path,
                now(),
                "",
                &k.config.mchid,
                "0123456789ABCDEF",
            )),
        ),
        (
            "tampered signature",
            Some(good.replace("signature=\"", "signature=\"AAAA")),
        ),
    ];
    for (name, auth) in cases {
        let response = sim.raw_pay("GET", &path, String::new(), auth, &set).await;
        assert_eq!(
            response.status,
            401,
            "{name}: {}",
            String::from_utf8_lossy(&response.body)
        );
        response.expect(401, Some("SIGN_ERROR"));
    }
    let response = sim
        .raw_pay("GET", &path, String::new(), Some(good.clone()), &set)
        .await;
    response.expect(404, Some("ORDER_NOT_EXIST"));
    // A request body that differs from the signed one by one byte is refused.
    let body = json!({"mchid": k.config.mchid}).to_string();
    let close = "/v3/pay/transactions/out-trade-no/nosuchorder/close";
    let auth = sign(
        "POST",
        close,
        now(),
        &body,
        &k.config.mchid,
        &k.config.merchant_serial,
    );
    let response = sim
        .raw_pay("POST", close, format!("{body} "), Some(auth), &set)
        .await;
    response.expect(401, Some("SIGN_ERROR"));
    // The scheme token is checked, not just the fields.
    let other_scheme = good.replacen(SCHEME, "WECHATPAY2-SHA256-RSA4096", 1);
    sim.raw_pay("GET", &path, String::new(), Some(other_scheme), &set)
        .await
        .expect(401, Some("SIGN_ERROR"));
}

#[tokio::test]
async fn jsapi_prepay_enforces_wechats_field_rules() {
    let sim = Sim::start(&[]);
    let openid = sim.payer().await;
    let base = sim.jsapi_body("order_rules_0001", 100, NOTIFY, &openid);
    let with = |pointer: &str, value: Value| {
        let mut body = base.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let without = |field: &str| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "out_trade_no too short",
            with("/out_trade_no", json!("12345")),
            400,
            "PARAM_ERROR",
        ),
        (
            "out_trade_no too long",
            with("/out_trade_no", json!("x".repeat(33))),
            400,
            "PARAM_ERROR",
        ),
        (
            "out_trade_no charset",
            with("/out_trade_no", json!("order#0001")),
            400,
            "PARAM_ERROR",
        ),
        (
            "out_trade_no Chinese",
            with("/out_trade_no", json!("订单000001")),
            400,
            "PARAM_ERROR",
        ),
        (
            "description too long",
            with("/description", json!("收".repeat(128))),
            400,
            "PARAM_ERROR",
        ),
        (
            "description missing",
            without("description"),
            400,
            "PARAM_ERROR",
        ),
        (
            "amount zero",
            with("/amount/total", json!(0)),
            400,
            "PARAM_ERROR",
        ),
        (
            "amount negative",
            with("/amount/total", json!(-5)),
            400,
            "PARAM_ERROR",
        ),
        (
            "amount as text",
            with("/amount/total", json!("100")),
            400,
            "PARAM_ERROR",
        ),
        (
            "currency",
            with("/amount/currency", json!("USD")),
            400,
            "PARAM_ERROR",
        ),
        (
            "time_expire not RFC 3339",
            {
                let mut b = base.clone();
                b["time_expire"] = json!("2026-11-27 12:00:00");
                b
            },
            400,
            "PARAM_ERROR",
        ),
        (
            "attach too long",
            {
                let mut b = base.clone();
                b["attach"] = json!("a".repeat(129));
                b
            },
            400,
            "PARAM_ERROR",
        ),
        (
            "notify_url plain http on the internet",
            with("/notify_url", json!("http://worker.example/notify")),
            400,
            "PARAM_ERROR",
        ),
        (
            "notify_url with a query",
            with("/notify_url", json!("https://worker.example/notify?x=1")),
            400,
            "PARAM_ERROR",
        ),
        (
            "notify_url missing",
            without("notify_url"),
            400,
            "PARAM_ERROR",
        ),
        ("JSAPI without payer", without("payer"), 400, "PARAM_ERROR"),
        (
            "unknown openid",
            with("/payer/openid", json!("o_not_a_user_of_this_app")),
            400,
            "PARAM_ERROR",
        ),
        (
            "other appid",
            with("/appid", json!("wx0000000000000000")),
            400,
            "APPID_MCHID_NOT_MATCH",
        ),
        (
            "other mchid",
            with("/mchid", json!("1900000001")),
            400,
            "APPID_MCHID_NOT_MATCH",
        ),
    ];
    for (name, body, status, code) in cases {
        let response = sim
            .pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
            .await;
        assert_eq!(
            response.status,
            status,
            "{name}: {}",
            String::from_utf8_lossy(&response.body)
        );
        response.expect(status, Some(code));
    }
    let raw = sim
        .raw_pay_signed_text("/v3/pay/transactions/jsapi", "{not json")
        .await;
    raw.expect(400, Some("PARAM_ERROR"));

    // Boundaries that are allowed.
    let mut ok = with("/description", json!("收".repeat(127)));
    ok["out_trade_no"] = json!("aZ09_-|*");
    ok["time_expire"] = json!("2099-01-01T00:00:00+08:00");
    ok["attach"] = json!("a".repeat(128));
    ok["notify_url"] = json!("http://127.0.0.1:8787/wechatpay/notify");
    let first = sim
        .pay("POST", "/v3/pay/transactions/jsapi", Some(&ok))
        .await
        .expect(200, None);
    let prepay_id = first["prepay_id"].as_str().unwrap();
    assert!(
        prepay_id.starts_with("wx") && prepay_id.len() >= 32,
        "{prepay_id}"
    );
    // The same out_trade_no with the same parameters: a fresh prepay_id.
    let again = sim
        .pay("POST", "/v3/pay/transactions/jsapi", Some(&ok))
        .await
        .expect(200, None);
    assert_ne!(again["prepay_id"], first["prepay_id"]);
    // … with different parameters: INVALID_REQUEST.
    let mut changed = ok.clone();
    changed["amount"]["total"] = json!(101);
    sim.pay("POST", "/v3/pay/transactions/jsapi", Some(&changed))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    // The order is queryable with its pipe and star escaped in the path.
    let query = format!(
        "/v3/pay/transactions/out-trade-no/aZ09_-%7C%2A?mchid={}",
        keys().config.mchid
    );
    let order = sim.pay("GET", &query, None).await.expect(200, None);
    assert_eq!(order["out_trade_no"], "aZ09_-|*");
    assert_eq!(order["trade_state"], "NOTPAY");
    assert!(
        order.get("attach").is_none(),
        "attach is returned only once paid"
    );
}

impl Sim {
    /// A POST whose body is sent (and signed) exactly as given, even when it is not JSON.
    async fn raw_pay_signed_text(&self, path: &str, body: &str) -> sim_support::PayResponse {
        let k = keys();
        let auth = Authorization::sign(
            &k.merchant,
            &k.config.mchid,
            &k.config.merchant_serial,
            "POST",
            path,
            now(),
            "NONCE2",
            body.as_bytes(),
        )
        .unwrap();
        self.raw_pay(
            "POST",
            path,
            body.to_string(),
            Some(auth.header_value()),
            &self.key_set(),
        )
        .await
    }
}

#[tokio::test]
async fn native_prepay_answers_a_code_url_and_any_payer_can_pay() {
    let sim = Sim::start(&[]);
    let mut body = sim.jsapi_body("native_0001", 250, NOTIFY, "unused");
    body.as_object_mut().unwrap().remove("payer");
    let first = sim
        .pay("POST", "/v3/pay/transactions/native", Some(&body))
        .await
        .expect(200, None);
    let code_url = first["code_url"].as_str().unwrap();
    assert!(
        code_url.starts_with("weixin://wxpay/bizpayurl?pr="),
        "{code_url}"
    );
    let second = sim
        .pay("POST", "/v3/pay/transactions/native", Some(&body))
        .await
        .expect(200, None);
    assert_ne!(second["code_url"], first["code_url"]);
    let (status, _) = sim
        .post("/sim/pay", &json!({"out_trade_no": "native_0001"}))
        .await;
    assert_eq!(status, 400, "a Native order needs a payer");
    let openid = sim.payer().await;
    let (status, paid) = sim
        .post(
            "/sim/pay",
            &json!({"out_trade_no": "native_0001", "openid": openid}),
        )
        .await;
    assert_eq!(status, 200, "{paid}");
    let query = format!(
        "/v3/pay/transactions/id/{}?mchid={}",
        paid["transaction_id"].as_str().unwrap(),
        keys().config.mchid
    );
    let order = sim.pay("GET", &query, None).await.expect(200, None);
    assert_eq!(order["trade_type"], "NATIVE");
    assert_eq!(order["payer"]["openid"], openid.as_str());
}

#[tokio::test]
async fn query_close_and_pay_follow_the_order_state_machine() {
    let sim = Sim::start(&[]);
    let mchid = &keys().config.mchid;
    let openid = sim.payer().await;
    let mut body = sim.jsapi_body("order_close_01", 100, NOTIFY, &openid);
    body["attach"] = json!("collection:42");
    sim.pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
        .await
        .expect(200, None);

    sim.pay(
        "GET",
        "/v3/pay/transactions/out-trade-no/order_close_01",
        None,
    )
    .await
    .expect(400, Some("PARAM_ERROR"));
    let close_path = "/v3/pay/transactions/out-trade-no/order_close_01/close";
    let closed = sim
        .pay("POST", close_path, Some(&json!({ "mchid": mchid })))
        .await;
    closed.expect(204, None);
    assert!(closed.body.is_empty());
    let query = format!("/v3/pay/transactions/out-trade-no/order_close_01?mchid={mchid}");
    let order = sim.pay("GET", &query, None).await.expect(200, None);
    assert_eq!(order["trade_state"], "CLOSED");
    let (status, error) = sim
        .post("/sim/pay", &json!({"out_trade_no": "order_close_01"}))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("ORDER_CLOSED"))
    );
    sim.pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
        .await
        .expect(400, Some("ORDER_CLOSED"));
    sim.pay(
        "POST",
        "/v3/pay/transactions/out-trade-no/nosuch_order/close",
        Some(&json!({ "mchid": mchid })),
    )
    .await
    .expect(404, Some("ORDER_NOT_EXIST"));

    let mut body = sim.jsapi_body("order_paid_01", 100, NOTIFY, &openid);
    body["attach"] = json!("collection:42");
    sim.pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
        .await
        .expect(200, None);
    let other = sim.payer().await;
    let (status, error) = sim
        .post(
            "/sim/pay",
            &json!({"out_trade_no": "order_paid_01", "openid": other}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("OPENID_MISMATCH"))
    );
    let (status, paid) = sim
        .post("/sim/pay", &json!({"out_trade_no": "order_paid_01"}))
        .await;
    assert_eq!(status, 200);
    let transaction_id = paid["transaction_id"].as_str().unwrap();
    assert_eq!(transaction_id.len(), 28);
    let query = format!("/v3/pay/transactions/out-trade-no/order_paid_01?mchid={mchid}");
    let order = sim.pay("GET", &query, None).await.expect(200, None);
    assert_eq!(order["trade_state"], "SUCCESS");
    assert_eq!(order["transaction_id"], transaction_id);
    assert_eq!(order["attach"], "collection:42");
    assert_eq!(order["payer"]["openid"], openid.as_str());
    assert_eq!(order["amount"]["total"], 100);
    assert_eq!(order["appid"], keys().config.appid.as_str());
    assert!(order["success_time"].as_str().unwrap().ends_with("+08:00"));
    let by_id = sim
        .pay(
            "GET",
            &format!("/v3/pay/transactions/id/{transaction_id}?mchid={mchid}"),
            None,
        )
        .await
        .expect(200, None);
    assert_eq!(by_id, order);
    let (status, error) = sim
        .post("/sim/pay", &json!({"out_trade_no": "order_paid_01"}))
        .await;
    assert_eq!((status, error["code"].as_str()), (400, Some("ORDERPAID")));
    sim.pay(
        "POST",
        "/v3/pay/transactions/out-trade-no/order_paid_01/close",
        Some(&json!({ "mchid": mchid })),
    )
    .await
    .expect(400, Some("INVALID_REQUEST"));
    sim.pay(
        "GET",
        &format!("/v3/pay/transactions/id/4200000000000000000000000000?mchid={mchid}"),
        None,
    )
    .await
    .expect(404, Some("ORDER_NOT_EXIST"));
}

fn decrypt_certificates(listing: &Value) -> Vec<Certificate> {
    let key = sim_support::apiv3_key();
    listing["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let enc = &item["encrypt_certificate"];
            assert_eq!(enc["algorithm"], "AEAD_AES_256_GCM");
            assert_eq!(enc["associated_data"], "certificate");
            let pem = aead_decrypt_to_string(
                &key,
                enc["nonce"].as_str().unwrap().as_bytes(),
                b"certificate",
                enc["ciphertext"].as_str().unwrap(),
            )
            .unwrap();
            let cert = Certificate::from_pem(&pem).unwrap();
            assert_eq!(cert.serial(), item["serial_no"].as_str().unwrap());
            assert!(item["effective_time"].as_str().unwrap().ends_with("+08:00"));
            cert
        })
        .collect()
}

#[tokio::test]
async fn certificates_decrypt_with_the_apiv3_key_and_rotate() {
    let sim = Sim::start(&["--sign-mode", "certificate"]);
    let platform_serial = keys().config.platform_serial.clone();
    // A worker that knows only the certificate from sim.json.
    let mut only_cert = KeySet::new();
    only_cert.add_certificate(&keys().config.platform_certificate().unwrap());
    let listing = sim
        .pay_with_keys("GET", "/v3/certificates", None, &only_cert)
        .await;
    assert_eq!(
        listing.headers["wechatpay-serial"],
        platform_serial.as_str()
    );
    let certs = decrypt_certificates(&listing.expect(200, None));
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].serial(), platform_serial);

    let (status, rotated) = sim.post("/sim/certificates/rotate", &json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    // Answers now come signed with a certificate the worker has not downloaded yet.
    let stale_view = sim
        .pay_with_keys("GET", "/v3/certificates", None, &only_cert)
        .await;
    assert!(
        matches!(stale_view.verified, Err(VerifyError::UnknownSerial { .. })),
        "{:?}",
        stale_view.verified
    );
    // Both certificates are listed; the new one verifies the listing itself.
    let certs = decrypt_certificates(&stale_view.json());
    assert_eq!(certs.len(), 2);
    let new = certs
        .iter()
        .find(|c| c.serial() != platform_serial)
        .unwrap();
    let mut refreshed = only_cert.clone();
    refreshed.add_certificate(new);
    let again = sim
        .pay_with_keys("GET", "/v3/certificates", None, &refreshed)
        .await;
    again.expect(200, None);
    assert_eq!(again.headers["wechatpay-serial"], new.serial());

    // A rotation announced ahead: listed now, used only later.
    let (_, _) = sim
        .post(
            "/sim/certificates/rotate",
            &json!({"switch_after_secs": 3600}),
        )
        .await;
    let ahead = sim
        .pay_with_keys("GET", "/v3/certificates", None, &refreshed)
        .await;
    ahead.expect(200, None);
    assert_eq!(ahead.headers["wechatpay-serial"], new.serial());
    assert_eq!(decrypt_certificates(&ahead.json()).len(), 3);
}

#[tokio::test]
async fn sign_modes_pick_the_public_key_the_certificate_or_either() {
    let k = keys();
    for (mode, expect_pub, expect_cert) in [
        ("public-key", true, false),
        ("certificate", false, true),
        ("migration", true, true),
    ] {
        let sim = Sim::start(&["--sign-mode", mode]);
        let (mut saw_pub, mut saw_cert) = (false, false);
        for _ in 0..40 {
            let r = sim.pay("GET", "/v3/certificates", None).await;
            r.expect(200, None);
            let serial = r.headers["wechatpay-serial"].to_str().unwrap().to_string();
            saw_pub |= serial == k.config.public_key_id;
            saw_cert |= serial == k.config.platform_serial;
            if mode != "migration" && (saw_pub || saw_cert) {
                break;
            }
        }
        assert_eq!(
            (saw_pub, saw_cert),
            (expect_pub, expect_cert),
            "mode {mode}"
        );
    }
    // The public key alone verifies public-key mode.
    let sim = Sim::start(&[]);
    let mut only_pub = KeySet::new();
    only_pub.add_public_key(
        &k.config.public_key_id,
        PublicKey::from_pem(&k.config.public_key_pem).unwrap(),
    );
    sim.pay_with_keys("GET", "/v3/certificates", None, &only_pub)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn refunds_are_partial_cumulative_and_notified() {
    let sim = Sim::start(&["--time-scale", "0.01"]);
    let receiver = Receiver::start(&[200], "").await;
    let transaction_id = sim
        .paid_order("order_refund_1", 1000, &receiver.url, false)
        .await;
    receiver.wait_for(1, Duration::from_secs(5)).await;
    let refund = |no: &str, amount: i64, total: i64| {
        json!({
            "out_trade_no": "order_refund_1", "out_refund_no": no, "reason": "退款测试",
            "notify_url": receiver.url,
            "amount": { "refund": amount, "total": total, "currency": "CNY" },
        })
    };
    let path = "/v3/refund/domestic/refunds";
    let first = sim
        .pay("POST", path, Some(&refund("refund_a", 300, 1000)))
        .await
        .expect(200, None);
    assert_eq!(first["status"], "PROCESSING");
    assert_eq!(first["transaction_id"], transaction_id.as_str());
    assert_eq!(first["amount"]["refund"], 300);
    // Repeating the same refund is idempotent.
    let repeat = sim
        .pay("POST", path, Some(&refund("refund_a", 300, 1000)))
        .await
        .expect(200, None);
    assert_eq!(repeat["refund_id"], first["refund_id"]);
    sim.pay("POST", path, Some(&refund("refund_a", 301, 1000)))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    sim.pay("POST", path, Some(&refund("refund_b", 701, 1000)))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    sim.pay("POST", path, Some(&refund("refund_b", 100, 999)))
        .await
        .expect(400, Some("PARAM_ERROR"));
    sim.pay("POST", path, Some(&refund("refund_b", 0, 1000)))
        .await
        .expect(400, Some("PARAM_ERROR"));
    sim.pay("POST", path, Some(&refund("refund b", 1, 1000)))
        .await
        .expect(400, Some("PARAM_ERROR"));
    let mut by_id = refund("refund_b", 700, 1000);
    by_id.as_object_mut().unwrap().remove("out_trade_no");
    by_id["transaction_id"] = json!(transaction_id);
    sim.pay("POST", path, Some(&by_id)).await.expect(200, None);
    sim.pay("POST", path, Some(&refund("refund_c", 1, 1000)))
        .await
        .expect(400, Some("INVALID_REQUEST"));
    let mut unknown = refund("refund_d", 1, 1000);
    unknown["out_trade_no"] = json!("no_such_order");
    sim.pay("POST", path, Some(&unknown))
        .await
        .expect(404, Some("RESOURCE_NOT_EXISTS"));
    sim.pay("GET", "/v3/refund/domestic/refunds/nosuchrefund", None)
        .await
        .expect(404, Some("RESOURCE_NOT_EXISTS"));

    // Both refunds finish and each is notified with REFUND.SUCCESS.
    let got = receiver.wait_for(3, Duration::from_secs(5)).await;
    let key = sim_support::apiv3_key();
    let mut refunded = Vec::new();
    for r in &got[1..] {
        let opened = shoukuan_core::wechatpay::open_notification(
            &r.signed_headers(),
            &r.body,
            &sim.key_set(),
            &key,
            now(),
        )
        .unwrap();
        assert_eq!(opened.notification.event_type, "REFUND.SUCCESS");
        let notice = opened.refund().unwrap();
        assert_eq!(notice.out_trade_no, "order_refund_1");
        assert_eq!(notice.amount.total, 1000);
        refunded.push(notice.amount.refund);
    }
    refunded.sort();
    assert_eq!(refunded, vec![300, 700]);
    let done = sim
        .pay("GET", "/v3/refund/domestic/refunds/refund_a", None)
        .await
        .expect(200, None);
    assert_eq!(done["status"], "SUCCESS");
    assert!(done["success_time"].is_string());
    let query = format!(
        "/v3/pay/transactions/out-trade-no/order_refund_1?mchid={}",
        keys().config.mchid
    );
    assert_eq!(
        sim.pay("GET", &query, None).await.expect(200, None)["trade_state"],
        "REFUND"
    );

    // An unpaid order cannot be refunded.
    let openid = sim.payer().await;
    let body = sim.jsapi_body("order_unpaid_1", 100, NOTIFY, &openid);
    sim.pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
        .await
        .expect(200, None);
    let mut unpaid = refund("refund_e", 1, 100);
    unpaid["out_trade_no"] = json!("order_unpaid_1");
    sim.pay("POST", path, Some(&unpaid))
        .await
        .expect(400, Some("INVALID_REQUEST"));
}

fn china_date(days_ago: i64) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap();
    let date =
        (time::OffsetDateTime::now_utc().to_offset(offset) - time::Duration::days(days_ago)).date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Bills are ready from 10:00 China time: before that, the bill clock is moved to 10:01 today.
async fn after_ten(sim: &Sim) {
    let into_day = (now() + 8 * 3600).rem_euclid(86_400);
    let offset = (10 * 3600 + 60 - into_day).max(0);
    let (status, _) = sim
        .post("/sim/bills", &json!({ "clock_offset_secs": offset }))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn trade_bills_download_as_wechat_csv() {
    let sim = Sim::start(&[]);
    after_ten(&sim).await;
    let yesterday = china_date(1);
    let openid = sim.payer().await;
    let mut body = sim.jsapi_body("order_bill_01", 1234, NOTIFY, &openid);
    body["attach"] = json!("bill");
    sim.pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
        .await
        .expect(200, None);
    let (status, _) = sim
        .post("/sim/pay", &json!({"out_trade_no": "order_bill_01", "success_time": format!("{yesterday}T10:00:00+08:00")}))
        .await;
    assert_eq!(status, 200);

    let bill = sim
        .pay(
            "GET",
            &format!("/v3/bill/tradebill?bill_date={yesterday}&bill_type=ALL"),
            None,
        )
        .await
        .expect(200, None);
    assert_eq!(bill["hash_type"], "SHA1");
    let url = bill["download_url"].as_str().unwrap();
    let path = &url[url.find("/v3/").unwrap()..];
    let file = sim.pay("GET", path, None).await;
    assert_eq!(file.status, 200);
    assert_eq!(
        hex::encode(Sha1::digest(&file.body)),
        bill["hash_value"].as_str().unwrap()
    );
    let csv = String::from_utf8(file.body).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[0].starts_with("交易时间,公众账号ID,商户号,"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0].split(',').count(), lines[1].split(',').count());
    assert!(
        lines[1].starts_with(&format!("`{yesterday} 10:00:00,`{}", keys().config.appid)),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("`order_bill_01,")
            && lines[1].contains("`12.34,")
            && lines[1].contains("`bill,")
    );
    assert!(lines[2].starts_with("总交易单数"));
    assert!(lines[3].starts_with("`1,`12.34,"), "{}", lines[3]);

    sim.pay(
        "GET",
        &format!("/v3/bill/tradebill?bill_date={}", china_date(0)),
        None,
    )
    .await
    .expect(400, Some("STATEMENT_CREATING"));
    sim.pay(
        "GET",
        &format!("/v3/bill/tradebill?bill_date={}", china_date(2)),
        None,
    )
    .await
    .expect(400, Some("NO_STATEMENT_EXIST"));
    sim.pay("GET", "/v3/bill/tradebill?bill_date=20261101", None)
        .await
        .expect(400, Some("PARAM_ERROR"));
    sim.pay(
        "GET",
        &format!("/v3/bill/tradebill?bill_date={yesterday}&bill_type=BOGUS"),
        None,
    )
    .await
    .expect(400, Some("PARAM_ERROR"));
    sim.pay("GET", "/v3/billdownload/file?token=nosuchtoken", None)
        .await
        .expect(400, Some("INVALID_REQUEST"));
}

#[tokio::test]
async fn gzip_bills_fund_flow_and_the_bill_switches() {
    let sim = Sim::start(&[]);
    after_ten(&sim).await;
    let yesterday = china_date(1);
    let openid = sim.payer().await;
    for (no, fen) in [("order_gz_01", 1000), ("order_gz_02", 250)] {
        let body = sim.jsapi_body(no, fen, NOTIFY, &openid);
        sim.pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
            .await
            .expect(200, None);
        let (status, _) = sim
            .post("/sim/pay", &json!({"out_trade_no": no, "no_callback": true, "success_time": format!("{yesterday}T09:00:00+08:00")}))
            .await;
        assert_eq!(status, 200);
    }
    let (status, _) = sim
        .post("/sim/bills", &json!({"amounts": {"order_gz_02": 251}}))
        .await;
    assert_eq!(status, 200);
    // Downloads a bill and checks the SHA-1 of the uncompressed file.
    let fetch = |apply: String| {
        let sim = &sim;
        async move {
            let answer = sim.pay("GET", &apply, None).await.expect(200, None);
            let url = answer["download_url"].as_str().unwrap().to_string();
            assert!(url.ends_with("&tartype=gzip"), "{url}");
            let file = sim
                .pay("GET", &url[url.find("/v3/").unwrap()..], None)
                .await;
            assert_eq!(file.status, 200);
            let text = shoukuan_core::bill::gzip::gunzip(&file.body).unwrap();
            let matches =
                hex::encode(Sha1::digest(&text)) == answer["hash_value"].as_str().unwrap();
            (String::from_utf8(text).unwrap(), matches)
        }
    };
    let (text, hash_ok) = fetch(format!(
        "/v3/bill/tradebill?bill_date={yesterday}&bill_type=ALL&tar_type=GZIP"
    ))
    .await;
    assert!(hash_ok);
    let bill = shoukuan_core::bill::trade::TradeBill::parse(&text).unwrap();
    let shown: Vec<(String, i64)> = bill
        .rows
        .iter()
        .map(|r| (r.out_trade_no.clone(), r.total.get()))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("order_gz_01".to_string(), 1000),
            ("order_gz_02".to_string(), 251)
        ]
    );
    let (text, hash_ok) = fetch(format!(
        "/v3/bill/fundflowbill?bill_date={yesterday}&account_type=BASIC&tar_type=GZIP"
    ))
    .await;
    assert!(hash_ok);
    let fund = shoukuan_core::bill::fund::FundBill::parse(&text).unwrap();
    assert_eq!(fund.totals().income.get(), 1250);
    // A tampered download no longer matches its hash_value.
    let (status, _) = sim.post("/sim/bills", &json!({"tamper": true})).await;
    assert_eq!(status, 200);
    let (_, hash_ok) = fetch(format!(
        "/v3/bill/tradebill?bill_date={yesterday}&tar_type=GZIP"
    ))
    .await;
    assert!(!hash_ok);
    // An unrelated sub_mchid is not this merchant's to ask about.
    sim.pay(
        "GET",
        &format!("/v3/bill/tradebill?bill_date={yesterday}&sub_mchid=1999999999"),
        None,
    )
    .await
    .expect(403, Some("NO_AUTH"));
    sim.pay(
        "GET",
        &format!("/v3/bill/fundflowbill?bill_date={yesterday}&account_type=NOPE"),
        None,
    )
    .await
    .expect(400, Some("PARAM_ERROR"));
}

#[tokio::test]
async fn the_state_survives_a_restart_through_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("sim-state.json");
    let openid = {
        let sim = Sim::start_with(&[], Some(&snapshot));
        let openid = sim.payer().await;
        let body = sim.jsapi_body("order_snap_01", 100, NOTIFY, &openid);
        sim.pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
            .await
            .expect(200, None);
        let (status, saved) = sim.post("/sim/snapshot", &json!({})).await;
        assert_eq!(status, 200, "{saved}");
        openid
    };
    let sim = Sim::start_with(&[], Some(&snapshot));
    let (_, payers) = sim.get("/sim/payers").await;
    assert_eq!(payers[0]["openid"], openid.as_str());
    let query = format!(
        "/v3/pay/transactions/out-trade-no/order_snap_01?mchid={}",
        keys().config.mchid
    );
    assert_eq!(
        sim.pay("GET", &query, None).await.expect(200, None)["trade_state"],
        "NOTPAY"
    );
}

#[tokio::test]
async fn the_payer_page_and_the_order_list_show_pending_orders() {
    let sim = Sim::start(&[]);
    let page = sim
        .http
        .get(format!("{}/sim/", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/sim/orders") && html.contains("/sim/pay"),
        "the page drives the control API"
    );
    let root = sim.http.get(&sim.base).send().await.unwrap();
    assert_eq!(root.status(), 303);
    let openid = sim.payer().await;
    let body = sim.jsapi_body("order_page_01", 990, NOTIFY, &openid);
    let prepay = sim
        .pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
        .await
        .expect(200, None);
    let (_, orders) = sim.get("/sim/orders").await;
    assert_eq!(orders[0]["out_trade_no"], "order_page_01");
    assert_eq!(orders[0]["state"], "NOTPAY");
    assert_eq!(orders[0]["prepay_id"], prepay["prepay_id"]);
    // Paying by prepay_id, as the payer page of the app knows it.
    let (status, paid) = sim
        .post("/sim/pay", &json!({ "prepay_id": prepay["prepay_id"] }))
        .await;
    assert_eq!(status, 200, "{paid}");
    let (_, orders) = sim.get("/sim/orders").await;
    assert_eq!(orders[0]["state"], "SUCCESS");
}
