//! The end-to-end suite: one binary, real workerd + D1 + Chromium.

mod api;
mod atrest;
mod backlog;
mod books;
mod contact;
mod contract;
mod directed;
mod exports;
mod growth;
mod growth_approval;
mod growth_expiry;
mod growth_points;
mod growth_tags;
mod journeys;
mod journeys2;
mod notices;
mod oa;
mod payments;
mod platform;
mod product;
mod publish;
mod receipts;
mod reminders;
mod security;
mod selfservice;
mod sharing;
mod split;
mod webhooks;

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

// Shared with the benchmark (`src/bin/bench`): signing in through the simulated OAuth.
pub use shoukuan_tests::oauth::{location, no_redirects, wechat_session};

/// `prefix` plus a time-derived suffix, unique within a test run.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{:x}", nanos % 0xffff_ffff_ffff)
}
