//! Accounting webhooks end to end: a receiver (a small local HTTP server) that answers 500
//! twice and then 200 gets the `payment.succeeded` delivery three times — driven by the cron at
//! controlled times on the documented backoff — each with a valid `Shoukuan-Signature`; the
//! delivery log shows all three attempts; a manual resend sends it once more. A refund is
//! delivered too; endpoint URLs are validated and a payee sees only its own endpoints.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use shoukuan_core::webhook::{self, RETRY_AFTER_SECS};
use shoukuan_tests::browser::Browser;

use crate::payments::{now, Pay, Payee};
use crate::receipts::{books, books_alone, paid_order};

/// What the receiver saw: (signature header, body, status it answered).
type Seen = Arc<Mutex<Vec<(String, String, u16)>>>;

pub(crate) struct Receiver {
    pub(crate) url: String,
    seen: Seen,
}

/// A local HTTP server answering `statuses` in turn (then 200) to payment and refund events;
/// other events (a daily report of a day that needs no bill) get 200 and are recorded too.
pub(crate) async fn receiver(statuses: Vec<u16>) -> Receiver {
    let seen: Seen = Arc::default();
    let script = Arc::new(Mutex::new(statuses.into_iter()));
    let state = (seen.clone(), script);
    async fn hook(
        State((seen, script)): State<(Seen, Arc<Mutex<std::vec::IntoIter<u16>>>)>,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        let scripted = body.contains(r#""type":"payment.succeeded""#)
            || body.contains(r#""type":"refund.succeeded""#);
        let status = if scripted {
            script.lock().unwrap().next().unwrap_or(200)
        } else {
            200
        };
        let signature = headers
            .get(webhook::SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        seen.lock().unwrap().push((signature, body, status));
        StatusCode::from_u16(status).unwrap()
    }
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        url: format!("http://{addr}/hook"),
        seen,
    }
}

async fn cron(p: &Pay, at: i64) {
    let resp = reqwest::Client::new()
        .post(p.worker().url("/api/test/cron"))
        .json(&json!({ "now": at }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn deliveries(p: &Pay, payee: &Payee, endpoint: &str) -> Vec<Value> {
    let (status, body) = p
        .as_payee(
            payee,
            reqwest::Method::GET,
            &format!("/api/dash/webhooks/{endpoint}/deliveries"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

/// Waits until the endpoint has a delivery of `event_id` queued.
async fn queued(p: &Pay, payee: &Payee, endpoint: &str, event_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(d) = deliveries(p, payee, endpoint)
            .await
            .into_iter()
            .find(|d| d["event_id"] == event_id)
        {
            return d;
        }
        assert!(Instant::now() < deadline, "{event_id} never queued");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) fn seen(r: &Receiver) -> Vec<(String, String, u16)> {
    r.seen.lock().unwrap().clone()
}

/// What the receiver saw of payment and refund events (the cron also sends daily reports).
fn money(r: &Receiver) -> Vec<(String, String, u16)> {
    seen(r)
        .into_iter()
        .filter(|(_, body, _)| !body.contains(r#""type":"books.day_report""#))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_fails_twice_gets_three_signed_deliveries_and_the_log_shows_them() {
    // Its own worker: the retries are timed by this test's cron runs alone (on the shared one,
    // another test's cron once sent attempt 1 before this test's first run).
    let own = books_alone().await;
    let p = &own;
    let payee = p.payee().await;
    let hook = receiver(vec![500, 500, 200]).await;

    // Endpoint URLs are validated: not https (and not loopback in this local run) is refused.
    for url in ["http://erp.example.com/hook", "erp.example.com", ""] {
        let (status, body) = p
            .as_payee(
                &payee,
                reqwest::Method::POST,
                "/api/dash/webhooks",
                Some(json!({ "url": url })),
            )
            .await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["fields"][0]["field"], "url");
    }
    let (status, created) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/webhooks",
            Some(json!({ "url": hook.url })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let endpoint = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with(webhook::SECRET_PREFIX));
    // The secret is shown once: never in the list, never in clear in D1.
    let (_, list) = p
        .as_payee(&payee, reqwest::Method::GET, "/api/dash/webhooks", None)
        .await;
    assert_eq!(list["endpoints"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret));
    let stored = p
        .worker()
        .query(&format!(
            "SELECT secret_sealed FROM webhook_endpoints WHERE id = '{endpoint}'"
        ))
        .unwrap();
    assert!(!stored[0]["secret_sealed"]
        .as_str()
        .unwrap()
        .contains(&secret[6..]));
    // Another payee neither sees nor reads it.
    let stranger = p.payee().await;
    let (_, theirs) = p
        .as_payee(&stranger, reqwest::Method::GET, "/api/dash/webhooks", None)
        .await;
    assert_eq!(theirs["endpoints"].as_array().unwrap().len(), 0);
    let (status, _) = p
        .as_payee(
            &stranger,
            reqwest::Method::GET,
            &format!("/api/dash/webhooks/{endpoint}/deliveries"),
            None,
        )
        .await;
    assert_eq!(status, 404);

    let paid = paid_order(p, &payee, "12.34").await;
    let event_id = format!("evt_pay_{}", paid.id);
    queued(p, &payee, &endpoint, &event_id).await;
    assert!(money(&hook).is_empty(), "the hook itself sends nothing");

    // The cron at t0 sends attempt 1 (500); nothing is due again until t0 + 60 s.
    let t0 = now() + 5;
    cron(p, t0).await;
    assert_eq!(money(&hook).len(), 1);
    cron(p, t0 + 30).await;
    assert_eq!(money(&hook).len(), 1, "not due yet");
    cron(p, t0 + RETRY_AFTER_SECS[0]).await;
    assert_eq!(money(&hook).len(), 2, "attempt 2 after a minute");
    cron(p, t0 + RETRY_AFTER_SECS[1] - 1).await;
    assert_eq!(money(&hook).len(), 2);
    cron(p, t0 + RETRY_AFTER_SECS[1]).await;
    assert_eq!(
        money(&hook).len(),
        3,
        "attempt 3 five minutes after the first"
    );
    cron(p, t0 + RETRY_AFTER_SECS[6] + 10).await;
    let got = money(&hook);
    assert_eq!(got.len(), 3, "delivered: never sent again");

    // Every attempt: the same body, a valid signature at the time it was sent.
    let times = [t0, t0 + RETRY_AFTER_SECS[0], t0 + RETRY_AFTER_SECS[1]];
    for ((signature, body, _), t) in got.iter().zip(times) {
        assert_eq!(
            webhook::verify_header(&secret, signature, body.as_bytes(), t),
            Ok(()),
            "{signature}"
        );
        assert!(signature.starts_with(&format!("t={t},v1=")));
        assert_eq!(
            webhook::verify_header("whsec_wrong", signature, body.as_bytes(), t),
            Err(webhook::SignatureError::Mismatch)
        );
    }
    assert!(got.iter().all(|(_, body, _)| *body == got[0].1));
    let event: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(event["id"], event_id.as_str());
    assert_eq!(event["type"], "payment.succeeded");
    assert_eq!(event["data"]["out_trade_no"], paid.out_trade_no.as_str());
    assert_eq!(
        event["data"]["transaction_id"],
        paid.transaction_id.as_str()
    );
    assert_eq!(event["data"]["amount_fen"], 1234);
    assert_eq!(event["data"]["amount"], "12.34");
    assert_eq!(event["data"]["collection"], "课程费");

    // The log: three attempts, 500, 500, 200; delivered.
    let delivery = queued(p, &payee, &endpoint, &event_id).await;
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    assert_eq!(delivery["attempts"], 3);
    let log = delivery["log"].as_array().unwrap();
    let statuses: Vec<i64> = log.iter().map(|a| a["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, [500, 500, 200]);
    let at: Vec<i64> = log.iter().map(|a| a["at"].as_i64().unwrap()).collect();
    assert_eq!(at, times);

    // A manual resend: one more signed delivery now, logged as a resend.
    let (status, resent) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            &format!(
                "/api/dash/webhooks/deliveries/{}/resend",
                delivery["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{resent}");
    assert_eq!(resent["delivered"], true);
    let got = money(&hook);
    assert_eq!(got.len(), 4);
    assert_eq!(
        webhook::verify_header(&secret, &got[3].0, got[3].1.as_bytes(), now()),
        Ok(())
    );
    let delivery = queued(p, &payee, &endpoint, &event_id).await;
    let log = delivery["log"].as_array().unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(log[3]["trigger"], "resend");

    // A refund that reaches SUCCESS is delivered too.
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            &format!("/api/dash/orders/{}/refunds", paid.id),
            Some(json!({ "amount": "1.00", "reason": "退差价" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let out_refund_no = body["refund"]["out_refund_no"]
        .as_str()
        .unwrap()
        .to_string();
    let refund_event = format!("evt_refund_{out_refund_no}");
    // REFUND.SUCCESS arrives from the simulator (a few seconds, scaled).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if deliveries(p, &payee, &endpoint)
            .await
            .iter()
            .any(|d| d["event_id"] == refund_event.as_str())
        {
            break;
        }
        assert!(Instant::now() < deadline, "refund event never queued");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let t1 = now() + 5;
    cron(p, t1).await;
    let got = money(&hook);
    assert_eq!(got.len(), 5);
    let event: Value = serde_json::from_str(&got[4].1).unwrap();
    assert_eq!(event["type"], "refund.succeeded");
    assert_eq!(event["data"]["amount_fen"], 100);
    assert_eq!(event["data"]["out_trade_no"], paid.out_trade_no.as_str());
    assert_eq!(
        webhook::verify_header(&secret, &got[4].0, got[4].1.as_bytes(), t1),
        Ok(())
    );
}

/// Waits until the text of `css` contains `needle`.
async fn wait_text(browser: &Browser, css: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(el) = browser.driver.find(thirtyfour::By::Css(css)).await {
            last = el.text().await.unwrap_or_default();
            if last.contains(needle) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{css}: expected {needle:?}, got {last:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_the_dashboard_a_payee_adds_an_endpoint_sees_deliveries_and_downloads_the_csv() {
    let p = books().await;
    let hook = receiver(vec![]).await;
    let browser = Browser::wechat().await.unwrap();
    let d = &browser.driver;
    d.goto(p.worker().url("/dash")).await.unwrap();
    browser
        .wait_for("#sign_in")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let openid = browser
        .wait_for("#openid")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resp = reqwest::Client::new()
        .post(
            p.worker()
                .url(&format!("/api/operator/payees/{openid}/approve")),
        )
        .bearer_auth(crate::payments::OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    d.refresh().await.unwrap();

    browser
        .wait_for("#webhook_url")
        .await
        .unwrap()
        .send_keys(&hook.url)
        .await
        .unwrap();
    browser
        .wait_for("#webhook_add")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let secret = browser
        .wait_for("#webhook_secret")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(secret.starts_with(webhook::SECRET_PREFIX), "{secret}");
    wait_text(&browser, "#webhooks", &hook.url).await;

    // A payment of this payee is delivered; after a reload the log says so.
    let cookie = d
        .get_all_cookies()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "sk_payee")
        .map(|c| format!("sk_payee={}", c.value))
        .expect("the payee session cookie");
    let payee = Payee { openid, cookie };
    let paid = paid_order(p, &payee, "3.21").await;
    let (_, list) = p
        .as_payee(&payee, reqwest::Method::GET, "/api/dash/webhooks", None)
        .await;
    let endpoint = list["endpoints"][0]["id"].as_str().unwrap().to_string();
    queued(p, &payee, &endpoint, &format!("evt_pay_{}", paid.id)).await;
    let t = now() + 5;
    cron(p, t).await;
    let got = money(&hook);
    assert_eq!(got.len(), 1);
    assert_eq!(
        webhook::verify_header(&secret, &got[0].0, got[0].1.as_bytes(), t),
        Ok(()),
        "the secret the page showed signs the delivery"
    );
    d.refresh().await.unwrap();
    wait_text(&browser, "#webhooks", "已送达").await;
    wait_text(&browser, "#webhooks", "HTTP 200").await;

    // The CSV link of today's payments, fetched with the page's own session.
    let csv = browser
        .eval(
            "return fetch(document.getElementById('export_payments_csv').href)\
             .then(function (r) { return r.text(); });",
        )
        .await
        .unwrap();
    let csv = csv.as_str().unwrap();
    assert!(
        csv.trim_start_matches('\u{feff}')
            .starts_with("付款时间,商户订单号"),
        "{csv}"
    );
    assert!(
        csv.contains(&paid.out_trade_no) && csv.contains(",3.21,"),
        "{csv}"
    );
    browser.quit().await.unwrap();
}
