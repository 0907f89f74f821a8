//! The end-to-end suite: one binary, real workerd + D1 + Chromium.

mod api;
mod oa;
mod payments;
mod product;
mod publish;
mod split;

use serde_json::{json, Value};
use shoukuan_tests::worker::Worker;
use tokio::sync::OnceCell;

static OPEN_WORKER: OnceCell<Worker> = OnceCell::const_new();

/// A worker shared by the tests that do not care what else is stored: publishing is open.
pub async fn open_worker() -> &'static Worker {
    OPEN_WORKER
        .get_or_init(|| async { Worker::start(&[]).await.expect("wrangler dev starts") })
        .await
}

/// A receive code content unique to one test.
pub fn unique_pay_code() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("wxp://f2f0{nanos:x}e2eQRcode")
}

/// A valid publish body.
pub fn good_body(pay_code: &str) -> Value {
    json!({
        "payee_name": "张三",
        "title": "周五聚餐 AA",
        "amount": "12.34",
        "note": "请备注姓名",
        "pay_code": pay_code,
    })
}

/// Publishes through the API and returns the `Created` JSON.
pub async fn publish(worker: &Worker, body: &Value) -> Value {
    let resp = reqwest::Client::new()
        .post(worker.url("/api/collections"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "publish failed");
    resp.json().await.unwrap()
}

/// An HTTP client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Location` header of a redirect ("" when absent).
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
