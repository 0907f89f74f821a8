//! Receipts (电子回单) end to end: a payment verified by WeChat Pay (the simulator) gets a signed
//! receipt that verifies — on the worker and offline with the listed public key — and stops
//! verifying when its amount is changed; a payee-confirmed split payment (personal mode) gets a
//! receipt marked 收款人确认, never 微信支付确认; the 保存图片 action draws a 750-px image.
//!
//! The worker shared by `receipts`, `exports` and `webhooks` ([`books`]) runs on keys that
//! `shoukuan keys dev` made, so `RECEIPT_SIGNING_KEY` is the generated one.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use shoukuan_core::receipt::{self, KeyList, SignedReceipt};
use shoukuan_tests::browser::Browser;
use tokio::sync::OnceCell;

use crate::payments::{Pay, Payee};

/// The own-business merchant the receipts name as payee.
pub(crate) const MERCHANT_NAME: &str = "收款回单测试商店";

static BOOKS: OnceCell<Pay> = OnceCell::const_new();

/// One simulator and worker for the receipts, exports and webhooks tests.
pub(crate) async fn books() -> &'static Pay {
    BOOKS.get_or_init(books_alone).await
}

/// A simulator and worker like [`books`], for one test only: a test that steps the cron
/// through exact times must not share it (another test's cron run would do its work early).
pub(crate) async fn books_alone() -> Pay {
    Pay::start(
        "own_business",
        &[
            ("WECHATPAY_MODEL", "own_business"),
            ("WECHATPAY_MERCHANT_NAME", MERCHANT_NAME),
        ],
    )
    .await
}

/// A paid order.
pub(crate) struct Paid {
    pub(crate) id: String,
    pub(crate) out_trade_no: String,
    pub(crate) transaction_id: String,
}

/// A paid order of `amount` (yuan) on a fresh collection of `payee` (title 课程费).
pub(crate) async fn paid_order(p: &Pay, payee: &Payee, amount: &str) -> Paid {
    let collection = p.collection(payee, Some(amount)).await;
    let order = p.order(&collection, None).await;
    let id = order["id"].as_str().unwrap().to_string();
    let out_trade_no = order["out_trade_no"].as_str().unwrap().to_string();
    let paid = p.sim_pay(&out_trade_no, "normal", 1).await;
    p.wait_state(&id, "paid", 20).await;
    let transaction_id = paid["transaction_id"].as_str().unwrap().to_string();
    Paid {
        id,
        out_trade_no,
        transaction_id,
    }
}

async fn get_json(p: &Pay, path: &str) -> (u16, Value) {
    let resp = reqwest::get(p.worker().url(path)).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get_text(p: &Pay, path: &str) -> (u16, String) {
    let resp = reqwest::get(p.worker().url(path)).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The receipt id of an order (issued right after the order became paid).
async fn receipt_of_order(p: &Pay, order_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get_json(p, &format!("/api/receipts/by-order/{order_id}")).await;
        if status == 200 {
            assert!(body["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/r/{}", body["id"].as_str().unwrap())));
            return body["id"].as_str().unwrap().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no receipt for {order_id}: {status} {body}\n{}",
            p.worker().log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn verify_on_worker(p: &Pay, receipt: &Value) -> Value {
    let resp = reqwest::Client::new()
        .post(p.worker().url("/api/receipts/verify"))
        .json(receipt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn key_list(p: &Pay) -> KeyList {
    let (status, keys) = get_json(p, "/.well-known/shoukuan-receipt-keys.json").await;
    assert_eq!(status, 200, "{keys}");
    serde_json::from_value(keys).unwrap()
}

/// The QR codes in the receipt page's `<img id="sk-qr">`.
fn page_qr(html: &str) -> Vec<String> {
    let src = html
        .split(r#"id="sk-qr" src="data:image/png;base64,"#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("QR image on the page");
    let png = base64::engine::general_purpose::STANDARD
        .decode(src)
        .unwrap();
    shoukuan_tests::qr::decode_png(&png).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_verified_payment_has_a_genuine_receipt_and_a_changed_amount_fails_verification() {
    let p = books().await;
    let payee = p.payee().await;
    let paid = paid_order(p, &payee, "12.34").await;
    let (order_id, out_trade_no) = (paid.id.as_str(), paid.out_trade_no.as_str());
    let id = receipt_of_order(p, order_id).await;

    let (status, stored) = get_json(p, &format!("/api/receipts/{id}")).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["id"], id.as_str());
    assert_eq!(stored["confirmed_by"], "wechat_pay");
    assert_eq!(stored["payee"], MERCHANT_NAME, "own business: the merchant");
    assert_eq!(stored["amount_fen"], 1234);
    assert_eq!(stored["order_no"], out_trade_no);
    assert_eq!(stored["collection"], "课程费");
    // WeChat's transaction id, partly masked: its first and last four digits only.
    let transaction_id = paid.transaction_id.as_str();
    assert_eq!(
        stored["transaction_id"],
        receipt::mask_transaction_id(transaction_id).as_str()
    );
    assert!(!stored["transaction_id"]
        .as_str()
        .unwrap()
        .contains(&transaction_id[4..transaction_id.len() - 4]));

    // Genuine: on the worker, and offline with nothing but the listed public key.
    assert_eq!(verify_on_worker(p, &stored).await["valid"], true);
    let keys = key_list(p).await;
    assert_eq!(keys.keys[0].status, "current");
    assert_eq!(keys.keys[0].key_id, stored["key_id"].as_str().unwrap());
    let signed: SignedReceipt = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(receipt::verify(&signed, &keys.public_keys()), Ok(()));

    // The amount changed: refused by both.
    let mut changed = stored.clone();
    changed["amount_fen"] = json!(123_400);
    let answer = verify_on_worker(p, &changed).await;
    assert_eq!(answer["valid"], false, "{answer}");
    let forged: SignedReceipt = serde_json::from_value(changed).unwrap();
    assert_eq!(
        receipt::verify(&forged, &keys.public_keys()),
        Err(receipt::VerifyError::Mismatch)
    );

    // The page: the fields, 微信支付确认 with the brand mark, what it proves, and a QR that
    // opens the verification page, which says the receipt is genuine.
    let (status, html) = get_text(p, &format!("/r/{id}")).await;
    assert_eq!(status, 200);
    for needle in [
        "电子回单",
        "微信支付确认",
        r#"aria-label="微信支付""#,
        "¥12.34",
        MERCHANT_NAME,
        out_trade_no,
        "课程费",
        "不是微信支付出具的凭证",
        "保存图片",
    ] {
        assert!(
            html.contains(needle),
            "{needle} missing from the receipt page"
        );
    }
    let verify_url = format!("{}/verify", p.worker().url(&format!("/r/{id}")));
    assert_eq!(page_qr(&html), vec![verify_url.clone()]);
    let verification = reqwest::get(&verify_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        verification.contains(r#"data-valid="true""#),
        "{verification}"
    );
    assert!(verification.contains("回单真实有效") && verification.contains("¥12.34"));

    // At rest the receipt is sealed: neither its order number nor its payee is in clear.
    let rows = p
        .worker()
        .query(&format!(
            "SELECT sealed, confirmed_by FROM receipts WHERE id = '{id}'"
        ))
        .unwrap();
    let sealed = rows[0]["sealed"].as_str().unwrap();
    assert!(!sealed.contains(out_trade_no) && !sealed.contains("12.34"));
    assert_eq!(rows[0]["confirmed_by"], "wechat_pay");

    // One receipt per payment, whatever repeats: a duplicate callback issues nothing new.
    p.sim.send_callback(out_trade_no, "normal").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let count = p
        .worker()
        .query(&format!(
            "SELECT COUNT(*) AS n FROM receipts WHERE source = 'order:{order_id}'"
        ))
        .unwrap();
    assert_eq!(count[0]["n"], 1);

    // Unknown receipts are a JSON 404.
    let (status, body) = get_json(p, "/api/receipts/nosuchreceipt").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payee_confirmed_split_payment_gets_a_receipt_marked_payee_confirmed() {
    let p = books().await;
    let payee = p.payee().await;
    // A personal split published by the signed-in payee.
    let resp = reqwest::Client::new()
        .post(p.worker().url("/api/collections"))
        .header("cookie", &payee.cookie)
        .json(&json!({
            "kind": "split",
            "payee_name": "王五",
            "title": "周末聚餐 AA",
            "note": "",
            "pay_code": crate::unique_pay_code(),
            "split": { "mode": "equal", "total": "90", "people": "3" },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let published: Value = resp.json().await.unwrap();
    let (split, token) = (
        published["id"].as_str().unwrap(),
        published["manage_token"].as_str().unwrap(),
    );
    let joined: Value = reqwest::Client::new()
        .post(p.worker().url(&format!("/api/splits/{split}/join")))
        .json(&json!({ "name": "赵六" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pid = joined["participant"]["id"].as_str().unwrap();
    let confirm = |path: String| async move {
        reqwest::Client::new()
            .post(p.worker().url(&path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };
    let path = format!("/api/splits/{split}/participants/{pid}/confirm");
    assert_eq!(confirm(path.clone()).await, 200);
    // Confirming again issues no second receipt.
    assert_eq!(confirm(path).await, 200);

    let rows = p
        .worker()
        .query(&format!(
            "SELECT id, confirmed_by, payee_openid FROM receipts WHERE source = 'participant:{pid}'"
        ))
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["confirmed_by"], "payee");
    assert_eq!(rows[0]["payee_openid"], payee.openid.as_str());
    let id = rows[0]["id"].as_str().unwrap();

    let (_, stored) = get_json(p, &format!("/api/receipts/{id}")).await;
    assert_eq!(stored["confirmed_by"], "payee");
    assert_eq!(stored["amount_fen"], 3000);
    assert_eq!(
        stored["payee"], "王五",
        "personal mode: the name on the collection"
    );
    assert_eq!(stored["transaction_id"], "");
    assert_eq!(verify_on_worker(p, &stored).await["valid"], true);
    // Promoting it to a WeChat Pay confirmation breaks the signature.
    let mut promoted = stored.clone();
    promoted["confirmed_by"] = json!("wechat_pay");
    assert_eq!(verify_on_worker(p, &promoted).await["valid"], false);

    let (status, html) = get_text(p, &format!("/r/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("收款人确认"), "{html}");
    assert!(html.contains("由收款人确认已收到"));
    assert!(
        !html.contains("微信支付确认"),
        "never claims WeChat Pay's confirmation"
    );
    assert!(
        !html.contains(r#"aria-label="微信支付""#),
        "no WeChat Pay mark"
    );
    let (_, verification) = get_text(p, &format!("/r/{id}/verify")).await;
    assert!(verification.contains(r#"data-valid="true""#));
    assert!(verification.contains("收款人确认"));
}

#[tokio::test(flavor = "multi_thread")]
async fn save_image_draws_the_receipt_750_px_wide_in_the_phone_browser() {
    let p = books().await;
    let payee = p.payee().await;
    let paid = paid_order(p, &payee, "8.80").await;
    let id = receipt_of_order(p, &paid.id).await;
    let browser = Browser::wechat().await.unwrap();
    browser
        .driver
        .goto(&p.worker().url(&format!("/r/{id}")))
        .await
        .unwrap();
    browser
        .wait_for("#sk-save")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let size = loop {
        let size = browser
            .eval(
                "var i=document.getElementById('sk-png');\
                 return i.hidden ? null : [i.naturalWidth, i.naturalHeight, i.src.slice(0, 22)];",
            )
            .await
            .unwrap();
        if !size.is_null() && size[0].as_u64().unwrap_or(0) > 0 {
            break size;
        }
        assert!(Instant::now() < deadline, "no image drawn");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    browser.quit().await.unwrap();
    assert_eq!(size[0], 750, "{size}");
    assert!(size[1].as_u64().unwrap() > 1000, "{size}");
    assert_eq!(size[2], "data:image/png;base64,");
}
