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

/// `prefix` plus a time-derived suffix, unique within a test run.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{:x}", nanos % 0xffff_ffff_ffff)
}

/// Opens `entry` inside "WeChat" as the simulator's user `openid`, follows the OAuth hops
/// (worker → simulated consent → `/oauth/callback`) and returns the session cookie
/// `cookie_name=…` that the callback set.
pub async fn wechat_session(
    worker: &Worker,
    entry: &str,
    openid: &str,
    cookie_name: &str,
) -> String {
    use shoukuan_tests::browser::WECHAT_IOS_UA;
    let client = no_redirects();
    let resp = client
        .get(worker.url(entry))
        .header("user-agent", WECHAT_IOS_UA)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "{entry}");
    // The OAuth nonce cookie the browser keeps for the callback (login CSRF binding).
    let nonce = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| h.split(';').next().filter(|p| p.starts_with("sk_oauth=")))
        .unwrap_or_default()
        .to_string();
    let authorize = location(&resp);
    assert!(
        authorize.contains("/connect/oauth2/authorize?"),
        "{authorize}"
    );
    let authorize = authorize.split('#').next().unwrap().to_string();
    let resp = client
        .get(format!("{authorize}&sim_openid={openid}"))
        .send()
        .await
        .unwrap();
    let callback = location(&resp);
    let resp = client
        .get(&callback)
        .header("user-agent", WECHAT_IOS_UA)
        .header("cookie", &nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        302,
        "{callback}: {}",
        resp.text().await.unwrap_or_default()
    );
    let prefix = format!("{cookie_name}=");
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| h.split(';').next().filter(|p| p.starts_with(&prefix)))
        .unwrap_or_else(|| panic!("no {cookie_name} session cookie"))
        .to_string()
}
