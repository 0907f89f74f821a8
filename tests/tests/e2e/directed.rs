//! Directed requests (定向催收, issue 13) end to end: a request to three named debtors on the
//! split machinery; each personal link shows only its own slot unmasked; a 我已付款 with a
//! transfer screenshot that only the payee can see; a wrong-type upload refused with a clear
//! message and nothing stored; the payee hears of the claim once.

use serde_json::{json, Value};

use crate::notices::{delivered, notify, NOTICE_TEMPLATE};
use crate::payments::Pay;
use crate::split::wait_text;
use crate::unique_pay_code;
use shoukuan_tests::browser::Browser;

/// A tiny valid PNG (1×1).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

async fn call(
    p: &Pay,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = reqwest::Client::new().request(method, p.worker.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req
}

async fn proof_rows(p: &Pay, id: &str) -> i64 {
    p.worker
        .query(&format!(
            "SELECT COUNT(*) AS n FROM claim_proofs WHERE collection_id = '{id}'"
        ))
        .unwrap()[0]["n"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_debtors_each_see_only_their_own_slot_and_a_screenshot_is_for_the_payee_only() {
    let p = notify().await;
    let payee = p.payee().await;
    let (status, created) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/directed",
            Some(json!({
                "payee_name": "张老板",
                "title": "周六聚餐",
                "note": "",
                "pay_code": unique_pay_code(),
                "debtors": [
                    { "name": "张三丰", "amount": "120" },
                    { "name": "李四光", "amount": "80" },
                    { "name": "王五福", "amount": "45.50", "due": "2099-01-01T12:00" },
                ],
            })),
        )
        .await;
    // A due date more than a year ahead is refused, by field.
    assert_eq!(status, 400, "{created}");
    assert_eq!(created["fields"][0]["field"], "debtors.2.due", "{created}");
    let (status, created) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/directed",
            Some(json!({
                "payee_name": "张老板",
                "title": "周六聚餐",
                "note": "",
                "pay_code": unique_pay_code(),
                "debtors": [
                    { "name": "张三丰", "amount": "120" },
                    { "name": "李四光", "amount": "80" },
                    { "name": "王五福", "amount": "45.50" },
                ],
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let manage = created["manage_token"].as_str().unwrap().to_string();
    let debtors = created["debtors"].as_array().unwrap().clone();
    assert_eq!(debtors.len(), 3);
    let names = ["张三丰", "李四光", "王五福"];
    let dues = [12000, 8000, 4550];

    // The public list: every name masked, every due right, nobody else can join.
    let public: Value = reqwest::get(p.worker.url(&format!("/api/splits/{id}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<(String, i64)> = public["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_string(),
                x["due"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            ("张**".to_string(), 12000),
            ("李**".to_string(), 8000),
            ("王**".to_string(), 4550)
        ]
    );
    let dump = public.to_string();
    for name in names {
        assert!(!dump.contains(name), "{name} leaked: {dump}");
    }
    let resp = reqwest::Client::new()
        .post(p.worker.url(&format!("/api/splits/{id}/join")))
        .json(&json!({ "name": "路人甲", "picks": [{ "item": 0, "qty": 1 }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409, "a directed request takes no strangers");

    // Each personal link: one's own slot in full, and no one else's.
    for (i, debtor) in debtors.iter().enumerate() {
        let pid = debtor["participant_id"].as_str().unwrap();
        let token = debtor["token"].as_str().unwrap();
        let link = debtor["link"].as_str().unwrap();
        assert!(link.starts_with(&format!("/c/{id}#p={pid}&t=")), "{link}");
        let own: Value = call(
            p,
            reqwest::Method::GET,
            &format!("/api/splits/{id}/participants/{pid}"),
            Some(token),
        )
        .await
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(own["name"], names[i], "{own}");
        assert_eq!(own["due"], dues[i]);
        let other = &debtors[(i + 1) % 3];
        let resp = call(
            p,
            reqwest::Method::GET,
            &format!(
                "/api/splits/{id}/participants/{}",
                other["participant_id"].as_str().unwrap()
            ),
            Some(token),
        )
        .await
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), 401, "a link opens only its own slot");
    }

    // A wrong type is refused with a clear message and nothing is stored.
    let first = &debtors[0];
    let (pid, token) = (
        first["participant_id"].as_str().unwrap(),
        first["token"].as_str().unwrap(),
    );
    let proof = format!("/api/splits/{id}/participants/{pid}/proof");
    for (content_type, body) in [
        ("text/plain", b"hello".to_vec()),
        (
            "image/png",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        ),
        ("image/gif", b"GIF89a\x01\x00\x01\x00".to_vec()),
    ] {
        let resp = call(p, reqwest::Method::POST, &proof, Some(token))
            .await
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 415, "{content_type}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "INVALID_PROOF");
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains("JPG、PNG 或 WebP"));
    }
    assert_eq!(proof_rows(p, &id).await, 0);
    // Someone else's token cannot attach a screenshot to this slot.
    let resp = call(
        p,
        reqwest::Method::POST,
        &proof,
        debtors[1]["token"].as_str(),
    )
    .await
    .header("content-type", "image/png")
    .body(PNG.to_vec())
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(proof_rows(p, &id).await, 0);

    // The real screenshot, then 我已付款.
    let resp = call(p, reqwest::Method::POST, &proof, Some(token))
        .await
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(proof_rows(p, &id).await, 1);
    let resp = call(
        p,
        reqwest::Method::POST,
        &format!("/api/splits/{id}/participants/{pid}/claim"),
        Some(token),
    )
    .await
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);

    // Only the payee sees the screenshot.
    for who in [None, Some(token), debtors[2]["token"].as_str()] {
        let resp = call(p, reqwest::Method::GET, &proof, who)
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{who:?}");
    }
    let resp = call(p, reqwest::Method::GET, &proof, Some(&manage))
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.headers()["cache-control"], "private, no-store");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PNG);

    // The payee hears of the claim, with the debtor masked.
    let claims: Vec<Value> = delivered(p, &payee.openid, NOTICE_TEMPLATE)
        .await
        .into_iter()
        .filter(|m| {
            m["url"]
                .as_str()
                .unwrap_or("")
                .ends_with(&format!("/admin/{id}"))
        })
        .collect();
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert_eq!(
        claims[0]["data"]["thing3"]["value"],
        "张** 称已付款，请确认"
    );
    assert_eq!(claims[0]["data"]["amount2"]["value"], "¥120.00");
    // And confirms it like any split payment.
    let resp = call(
        p,
        reqwest::Method::POST,
        &format!("/api/splits/{id}/participants/{pid}/confirm"),
        Some(&manage),
    )
    .await
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let confirmed: Value = resp.json().await.unwrap();
    assert_eq!(confirmed["status"], "paid", "{confirmed}");

    // In WeChat, the second debtor's personal link opens their own slot, ready for 我已付款.
    let second = &debtors[1];
    let browser = Browser::wechat().await.unwrap();
    browser
        .driver
        .goto(&p.worker.url(second["link"].as_str().unwrap()))
        .await
        .unwrap();
    wait_text(&browser, "#my_entry", "¥80.00", 20).await;
    browser
        .wait_for("#claim")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&browser, "#my_status", "等待确认", 20).await;
    browser.quit().await.unwrap();
    let public: Value = reqwest::get(p.worker.url(&format!("/api/splits/{id}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["participants"][1]["status"], "claimed", "{public}");
    assert_eq!(public["participants"][2]["status"], "joined");
}

/// A directed request to two debtors; returns (id, manage token, debtors).
async fn two_debtors(p: &Pay) -> (String, String, Vec<Value>) {
    let payee = p.payee().await;
    let (status, created) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/directed",
            Some(json!({
                "payee_name": "张老板",
                "title": "周六聚餐",
                "note": "",
                "pay_code": unique_pay_code(),
                "debtors": [
                    { "name": "张三丰", "amount": "120" },
                    { "name": "李四光", "amount": "80" },
                ],
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    (
        created["id"].as_str().unwrap().to_string(),
        created["manage_token"].as_str().unwrap().to_string(),
        created["debtors"].as_array().unwrap().clone(),
    )
}

/// Chooses the file at `path` in the page's screenshot control.
async fn choose_file(browser: &Browser, path: &std::path::Path) {
    browser
        .eval("document.getElementById('proof').value=''")
        .await
        .unwrap();
    browser
        .wait_for("#proof")
        .await
        .unwrap()
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
}

async fn shot(browser: &Browser, name: &str) {
    let png = browser.full_screenshot().await.unwrap();
    std::fs::write(
        std::env::temp_dir().join(format!("shoukuan-e2e-{name}.png")),
        png,
    )
    .unwrap();
}

async fn the_payees_proof(p: &Pay, id: &str, pid: &str, manage: &str) -> (u16, Vec<u8>) {
    let resp = call(
        p,
        reqwest::Method::GET,
        &format!("/api/splits/{id}/participants/{pid}/proof"),
        Some(manage),
    )
    .await
    .send()
    .await
    .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_debtor_attaches_the_transfer_screenshot_on_their_page_and_a_fake_image_is_refused() {
    let p = notify().await;
    let (id, manage, debtors) = two_debtors(p).await;
    let pid = debtors[0]["participant_id"].as_str().unwrap();
    let dir = std::env::temp_dir().join(format!("shoukuan-e2e-proof-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("转账截图.png");
    std::fs::write(&fake, "这不是图片，只是改了扩展名的文本文件").unwrap();
    let big = dir.join("big.png");
    let mut bytes = PNG.to_vec();
    bytes.resize(1_600_000, 0);
    std::fs::write(&big, bytes).unwrap();
    let real = dir.join("real.png");
    std::fs::write(&real, PNG).unwrap();

    let browser = Browser::wechat().await.unwrap();
    browser
        .driver
        .goto(&p.worker.url(debtors[0]["link"].as_str().unwrap()))
        .await
        .unwrap();
    wait_text(&browser, "#my_entry", "¥120.00", 20).await;
    wait_text(&browser, "label[for=proof]", "转账截图", 20).await;

    // Over 1.5 MB: refused next to the control before anything is sent.
    choose_file(&browser, &big).await;
    browser
        .wait_for("#claim")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&browser, "#proof ~ #entry_error", "不能超过 1.5 MB", 10).await;
    // A text file named .png: the worker reads its first bytes and refuses it; no claim, no file.
    choose_file(&browser, &fake).await;
    browser
        .wait_for("#claim")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&browser, "#proof ~ #entry_error", "JPG、PNG 或 WebP", 20).await;
    shot(&browser, "proof-refused").await;
    assert_eq!(proof_rows(p, &id).await, 0);
    assert!(!browser
        .wait_for("#my_status")
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .contains("等待确认"));

    // A real PNG with 我已付款: claimed, and the payee has exactly that image.
    choose_file(&browser, &real).await;
    browser
        .wait_for("#claim")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&browser, "#my_status", "等待确认", 20).await;
    shot(&browser, "proof-claimed").await;
    browser.quit().await.unwrap();
    assert_eq!(proof_rows(p, &id).await, 1);
    assert_eq!(
        the_payees_proof(p, &id, pid, &manage).await,
        (200, PNG.to_vec())
    );

    // Without JavaScript the same form posts multipart/form-data: the second debtor's ticket
    // cookie, a real PNG, then a 303 back to the page; the claim and the file are stored.
    let second = debtors[1]["participant_id"].as_str().unwrap();
    let token = debtors[1]["token"].as_str().unwrap();
    let boundary = "----skproofboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"proof\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(PNG);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(p.worker.url(&format!("/c/{id}/claim")))
        .header("cookie", format!("sk_p_{id}={second}.{token}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(proof_rows(p, &id).await, 2);
    assert_eq!(
        the_payees_proof(p, &id, second, &manage).await,
        (200, PNG.to_vec())
    );
    let public: Value = reqwest::get(p.worker.url(&format!("/api/splits/{id}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["participants"][0]["status"], "claimed", "{public}");
    assert_eq!(public["participants"][1]["status"], "claimed", "{public}");
    let _ = std::fs::remove_dir_all(&dir);
}
