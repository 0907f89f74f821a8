//! The JSON API as a client (or an attacker) sees it.

use serde_json::{json, Value};
use shoukuan_tests::worker::Worker;

use crate::{good_body, open_worker, publish, unique_pay_code};

const INVITE: &str = "e2e-invite-7Q2";

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_a_reason_and_nothing_is_stored() {
    let worker = Worker::start(&[("PUBLISH_INVITE_CODE", INVITE)])
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let code = unique_pay_code();
    let with = |patch: Value| {
        let mut body = good_body(&code);
        body["invite_code"] = json!(INVITE);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "no invite code",
            {
                let mut b = good_body(&code);
                b.as_object_mut().unwrap().remove("invite_code");
                b
            },
            403,
            "FORBIDDEN",
        ),
        (
            "wrong invite code",
            with(json!({ "invite_code": "guess" })),
            403,
            "FORBIDDEN",
        ),
        (
            "negative amount",
            with(json!({ "amount": "-1" })),
            400,
            "INVALID_AMOUNT",
        ),
        (
            "zero amount",
            with(json!({ "amount": "0" })),
            400,
            "INVALID_AMOUNT",
        ),
        (
            "three decimals",
            with(json!({ "amount": "12.345" })),
            400,
            "INVALID_AMOUNT",
        ),
        (
            "not a number",
            with(json!({ "amount": "十二块" })),
            400,
            "INVALID_AMOUNT",
        ),
        (
            "over 50 000",
            with(json!({ "amount": "50000.01" })),
            400,
            "INVALID_AMOUNT",
        ),
        (
            "note of 31 characters",
            with(json!({ "note": "字".repeat(31) })),
            400,
            "INVALID_TEXT",
        ),
        (
            "empty payee",
            with(json!({ "payee_name": "  " })),
            400,
            "INVALID_TEXT",
        ),
        (
            "banned word in title",
            with(json!({ "title": "稳赚不赔理财" })),
            400,
            "COMPLIANCE",
        ),
        (
            "absolute term in note",
            with(json!({ "note": "全网最低价" })),
            400,
            "COMPLIANCE",
        ),
        (
            "alipay code",
            with(json!({ "pay_code": "https://qr.alipay.com/fkx1234567" })),
            400,
            "INVALID_PAY_CODE",
        ),
        (
            "not a payment code",
            with(json!({ "pay_code": "https://example.com/x" })),
            400,
            "INVALID_PAY_CODE",
        ),
        (
            "amount as a JSON number",
            with(json!({ "amount": 12.34 })),
            400,
            "BAD_JSON",
        ),
        (
            "missing title",
            {
                let mut b = with(json!({}));
                b.as_object_mut().unwrap().remove("title");
                b
            },
            400,
            "BAD_JSON",
        ),
    ];
    for (name, body, status, code) in &cases {
        let resp = client
            .post(worker.url("/api/collections"))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), *status, "{name}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["code"], *code, "{name}: {err}");
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}: {err}"
        );
    }
    // Bodies that are not JSON at all, too large, or of the wrong type.
    let raw = |body: Vec<u8>, content_type: &str| {
        client
            .post(worker.url("/api/collections"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let resp = raw(b"{\"payee_name\":".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = raw(vec![b' '; 70 * 1024], "application/json")
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "BODY_TOO_LARGE"
    );
    let resp = raw(serde_json::to_vec(&with(json!({}))).unwrap(), "text/plain")
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);

    assert_eq!(
        worker.count("collections").unwrap(),
        0,
        "a refused publish stored a row"
    );

    let created = publish(&worker, &with(json!({}))).await;
    assert_eq!(worker.count("collections").unwrap(), 1);
    let id = created["id"].as_str().unwrap();
    let view: Value = client
        .get(worker.url(&format!("/api/collections/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["amount"], json!({ "type": "fixed", "fen": 1234 }));
    assert_eq!(view["pay_code"], code);
    assert_eq!(
        client
            .get(worker.url("/api/config"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["invite_required"],
        true
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collection_survives_a_restart_of_wrangler_dev() {
    let mut worker = Worker::start(&[]).await.unwrap();
    let code = unique_pay_code();
    let created = publish(&worker, &good_body(&code)).await;
    let path = format!("/api/collections/{}", created["id"].as_str().unwrap());
    worker.restart().await.unwrap();
    let resp = reqwest::get(worker.url(&path)).await.unwrap();
    assert_eq!(resp.status(), 200, "log:\n{}", worker.log());
    let view: Value = resp.json().await.unwrap();
    assert_eq!(view["pay_code"], code);
    assert_eq!(view["title"], "周五聚餐 AA");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_manage_token_edits_and_closes_a_collection() {
    let worker = open_worker().await;
    let client = reqwest::Client::new();
    let code = unique_pay_code();
    let created = publish(worker, &good_body(&code)).await;
    let id = created["id"].as_str().unwrap();
    let token = created["manage_token"].as_str().unwrap();
    assert!(created["manage_path"]
        .as_str()
        .unwrap()
        .ends_with(&format!("#t={token}")));

    let mut edit = good_body("wxp://f2f0SomeoneElsesCode1234");
    edit["title"] = json!("改了标题");
    edit["amount"] = Value::Null;
    let put = |token: &str| {
        client
            .put(worker.url(&format!("/api/collections/{id}")))
            .bearer_auth(token)
            .json(&edit)
            .send()
    };
    assert_eq!(put("not-the-token").await.unwrap().status(), 401);
    let resp = client
        .put(worker.url(&format!("/api/collections/{id}")))
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let view: Value = put(token).await.unwrap().json().await.unwrap();
    assert_eq!(view["title"], "改了标题");
    assert_eq!(view["amount"], json!({ "type": "payer_entered" }));
    assert_eq!(
        view["pay_code"], code,
        "an edit must not change where the money goes unless asked to"
    );
    // Asked for explicitly (published without a signed-in payee, the manage link is the only
    // credential there is), the 收款码 is replaced.
    let mut replace = edit.clone();
    replace["replace_pay_code"] = json!(true);
    let view: Value = client
        .put(worker.url(&format!("/api/collections/{id}")))
        .bearer_auth(token)
        .json(&replace)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["pay_code"], "wxp://f2f0SomeoneElsesCode1234", "{view}");

    let close = |token: &str| {
        client
            .post(worker.url(&format!("/api/collections/{id}/close")))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(close("nope").await.unwrap().status(), 401);
    let view: Value = close(token).await.unwrap().json().await.unwrap();
    assert_eq!(view["status"], "closed");
    assert_eq!(put(token).await.unwrap().status(), 409);

    let page = reqwest::get(worker.url(&format!("/c/{id}")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("该收款已关闭"));
    assert!(
        !page.contains("<img class=\"qr-img\""),
        "a closed collection still shows its QR"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_payer_page_is_server_rendered_and_unknown_ids_get_a_friendly_404() {
    let worker = open_worker().await;
    let code = unique_pay_code();
    let created = publish(worker, &good_body(&code)).await;
    let resp = reqwest::get(worker.url(created["path"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("no-store"));
    let html = resp.text().await.unwrap();
    for expected in [
        "¥12.34",
        "长按识别二维码",
        "收款码不会自动填入金额",
        "张三",
        "请备注姓名",
        "data:image/png;base64,",
        "<title>周五聚餐 AA - 收款</title>",
    ] {
        assert!(html.contains(expected), "missing {expected}");
    }
    // A personal 收款码 is a transfer between people: no 微信支付 mark (issue 17).
    assert!(!html.contains(r#"aria-label="微信支付""#));
    for unknown in [
        "/c/doesNotExist42",
        "/c/..%2F..%2Fetc",
        "/api/collections/doesNotExist42",
    ] {
        let resp = reqwest::get(worker.url(unknown)).await.unwrap();
        assert_eq!(resp.status(), 404, "{unknown}");
    }
    let html = reqwest::get(worker.url("/c/doesNotExist42"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("找不到这个收款"));
}
