//! Ready for the open internet, end to end: abuse limits counted per client address (each test
//! client binds its own loopback address, which workerd reports as `CF-Connecting-IP`), the
//! invite code against guessing and without a code, unused-image cleanup, security headers, the
//! test hooks and URLs of a deployment, WeChat's 40164, and certificate-serial probes.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use shoukuan_core::ratelimit::{
    INVITE_GUESS_PER_CLIENT, SIGNUP_PER_CLIENT, UPLOAD_PER_PUBLISHER, VISIT_PER_CLIENT,
};
use shoukuan_tests::sim::Sim;
use shoukuan_tests::worker::Worker;
use tokio::sync::OnceCell;

use crate::product::photo_png;
use crate::split::DATA_KEY;
use crate::{location, unique, unique_pay_code};

const INVITE: &str = "e2e-security-invite";
const OPERATOR: &str = "e2e-operator-secret-security-0123";

static LIMITED: OnceCell<Worker> = OnceCell::const_new();

/// A worker with the abuse limits on (the suite's default is off) and an invite code.
async fn limited() -> &'static Worker {
    LIMITED
        .get_or_init(|| async {
            Worker::start(&[
                ("DATA_KEY", DATA_KEY),
                ("ABUSE_LIMITS", ""),
                ("PUBLISH_INVITE_CODE", INVITE),
                ("OPERATOR_SECRET", OPERATOR),
            ])
            .await
            .expect("wrangler dev starts")
        })
        .await
}

/// An HTTP client whose requests come from loopback address `127.0.a.b` (a distinct client).
fn client_from(a: u8, b: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, a, b)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn publish_capped_split(worker: &Worker, cap: u32) -> String {
    let resp = client_from(9, 9)
        .post(worker.url("/api/collections"))
        .json(&json!({
            "kind": "split", "payee_name": "张三", "title": "周五聚餐 AA", "note": "",
            "pay_code": unique_pay_code(), "invite_code": INVITE,
            "split": { "mode": "fixed", "per_person": "5", "cap": cap.to_string() },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn join(client: &reqwest::Client, worker: &Worker, id: &str, name: &str) -> (u16, Value) {
    let resp = client
        .post(worker.url(&format!("/api/splits/{id}/join")))
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A sign-up flood from one client against a capped split: that client is throttled after its
/// quota, everyone else still signs up, the cap and dense numbering hold. `SHOUKUAN_FLOOD`
/// sets the flood size (default 300; the figure in the report is from 2 000).
#[tokio::test(flavor = "multi_thread")]
async fn a_sign_up_flood_is_throttled_per_client_while_others_join_and_the_cap_holds() {
    let worker = limited().await;
    let flood: usize = std::env::var("SHOUKUAN_FLOOD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let others = 20u8;
    let cap = SIGNUP_PER_CLIENT.max as u32 + u32::from(others);
    let id = publish_capped_split(worker, cap).await;
    let flooder = client_from(1, 1);
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let started = Instant::now();
    let tasks: Vec<_> = (0..flood)
        .map(|i| {
            let (flooder, gate, url) = (flooder.clone(), gate.clone(), worker.url(""));
            let id = id.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                let t = Instant::now();
                let resp = flooder
                    .post(format!("{url}/api/splits/{id}/join"))
                    .json(&json!({ "name": format!("刷{i}") }))
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let code = resp.json::<Value>().await.unwrap_or(Value::Null)["code"].clone();
                (status, code, t.elapsed())
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let wall = started.elapsed();
    let accepted = results.iter().filter(|r| r.0 == 201).count();
    let limited = results
        .iter()
        .filter(|r| r.0 == 429 && r.1 == "RATE_LIMITED")
        .count();
    let mut latencies: Vec<Duration> = results.iter().map(|r| r.2).collect();
    latencies.sort();
    eprintln!(
        "sign-up flood: {flood} requests from one client in {wall:?}: {accepted} accepted, {limited} throttled, \
         p50 {:?}, p99 {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100]
    );
    // Exactly `max`, even when the flood straddles a 10-minute boundary: the limit holds in
    // any interval of its window (`core::ratelimit`), so a run crossing one is no exception.
    assert_eq!(accepted, SIGNUP_PER_CLIENT.max as usize);
    assert_eq!(accepted + limited, flood, "no other answers (no 5xx)");

    // Other clients still get in, up to the cap; then the cap answers.
    for b in 0..others {
        let (status, body) = join(&client_from(2, b + 1), worker, &id, "其他人").await;
        assert_eq!(status, 201, "client 127.0.2.{}: {body}", b + 1);
    }
    let (status, body) = join(&client_from(3, 1), worker, &id, "迟到").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("SPLIT_FULL")));
    let view: Value = reqwest::get(worker.url(&format!("/api/splits/{id}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seqs: Vec<u64> = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=u64::from(cap)).collect::<Vec<_>>());
}

/// The limit holds in any 10 minutes, not per clock-aligned window: a client whose sign-ups
/// all fell late in one window gets none early in the next (a per-window count gave it 20 more
/// at once: the flood test's 40 when a run crossed a boundary), and signs up again once they
/// are two windows old. The counter is aged in D1 instead of waiting for the clock.
#[tokio::test(flavor = "multi_thread")]
async fn sign_ups_used_late_in_one_window_still_count_early_in_the_next() {
    use sha2::Digest as _;
    let worker = limited().await;
    let id = publish_capped_split(worker, 100).await;
    let client = client_from(7, 1);
    for i in 0..SIGNUP_PER_CLIENT.max {
        let (status, body) = join(&client, worker, &id, &format!("早{i}")).await;
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!(join(&client, worker, &id, "满了").await.0, 429);
    // The counter of 127.0.7.1 (`worker::abuse`: a keyed hash of the address; this worker has
    // no SESSION_SECRET, so the key is empty).
    let digest = sha2::Sha256::digest("|client|127.0.7.1");
    let subject: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let bucket = format!("{}:{subject}", SIGNUP_PER_CLIENT.name);
    let age = |windows: i64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let window = SIGNUP_PER_CLIENT.window_start(now) - windows * SIGNUP_PER_CLIENT.window_secs;
        let rows = worker
            .query(&format!(
                "UPDATE rate_counters SET window_start = {window} WHERE bucket = '{bucket}' RETURNING hits"
            ))
            .unwrap();
        assert_eq!(rows.len(), 1, "the client's counter: {rows:?}");
    };
    // Those sign-ups now lie in the previous window, the current one has just begun.
    age(1);
    let (status, body) = join(&client, worker, &id, "新窗口").await;
    assert_eq!((status, body["code"].as_str()), (429, Some("RATE_LIMITED")));
    // Two windows old: the client is welcome again.
    age(2);
    assert_eq!(join(&client, worker, &id, "过了二十分钟").await.0, 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn invite_code_guesses_are_limited_per_client() {
    let worker = limited().await;
    let attempt = |client: reqwest::Client, code: &'static str| async move {
        let mut body = crate::good_body(&unique_pay_code());
        body["invite_code"] = json!(code);
        let resp = client
            .post(worker.url("/api/collections"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap()["code"].clone())
    };
    let guesser = client_from(4, 1);
    for _ in 0..INVITE_GUESS_PER_CLIENT.max {
        assert_eq!(attempt(guesser.clone(), "guess").await.0, 403);
    }
    // Out of guesses: refused even with the right code, so guessing on is worthless.
    assert_eq!(
        attempt(guesser.clone(), INVITE).await,
        (429, json!("RATE_LIMITED"))
    );
    assert_eq!(attempt(client_from(4, 2), INVITE).await.0, 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_have_a_quota_and_images_no_page_uses_are_cleaned_up() {
    let worker = limited().await;
    let upload = |client: reqwest::Client| async move {
        let resp = client
            .post(worker.url("/api/images"))
            .header("content-type", "image/png")
            .header("x-invite-code", INVITE)
            .body(photo_png(8, 8))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap())
    };
    let uploader = client_from(5, 1);
    let mut keys = Vec::new();
    for _ in 0..UPLOAD_PER_PUBLISHER.max {
        let (status, body) = upload(uploader.clone()).await;
        assert_eq!(status, 201, "{body}");
        keys.push(body["key"].as_str().unwrap().to_string());
    }
    let (status, body) = upload(uploader.clone()).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("RATE_LIMITED")));

    // One image goes into a price page; all of them are made two days old.
    let mut product = crate::product::product_body(&keys[0], None);
    product["invite_code"] = json!(INVITE);
    let resp = client_from(5, 2)
        .post(worker.url("/api/collections"))
        .json(&product)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let list = keys
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(",");
    worker
        .query(&format!(
            "UPDATE images SET created_at = created_at - 172800 WHERE key IN ({list})"
        ))
        .unwrap();
    // The cron deletes unused images in batches of 50: two runs cover the rest.
    worker.run_cron().await.unwrap();
    worker.run_cron().await.unwrap();
    let served = |key: String| async move {
        reqwest::get(worker.url(&format!("/i/{key}")))
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(served(keys[0].clone()).await, 200, "the used image stays");
    assert_eq!(served(keys[1].clone()).await, 404);
    assert_eq!(served(keys[59].clone()).await, 404);
    let left = worker
        .query(&format!(
            "SELECT COUNT(*) AS n FROM images WHERE key IN ({list})"
        ))
        .unwrap()[0]["n"]
        .as_i64()
        .unwrap();
    assert_eq!(left, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn menu_jump_visits_are_recorded_within_a_per_client_limit() {
    let worker = limited().await;
    let key = unique("v");
    let resp = reqwest::Client::new()
        .post(worker.url("/api/dash/routes"))
        .bearer_auth(OPERATOR)
        .json(&json!({ "key": key, "target": "/new" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let visitor = client_from(6, 1);
    for _ in 0..VISIT_PER_CLIENT.max + 15 {
        let resp = visitor
            .get(worker.url(&format!("/m/{key}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            (resp.status().as_u16(), location(&resp)),
            (302, "/new".into())
        );
    }
    let visits = worker.count("visits WHERE target = '/new'").unwrap();
    assert_eq!(visits, VISIT_PER_CLIENT.max);
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_and_static_files_carry_the_security_headers_and_a_csp_with_script_hashes() {
    let worker = limited().await;
    let resp = reqwest::get(worker.url("/new")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    let html = resp.text().await.unwrap();
    let csp = headers["content-security-policy"].to_str().unwrap();
    let scripts = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap();
    assert!(!scripts.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'") && scripts.contains("'wasm-unsafe-eval'"));
    for hash in shoukuan_core::csp::inline_script_hashes(&html) {
        assert!(scripts.contains(&hash), "{hash} missing from {csp}");
    }
    assert!(html.contains("<script"), "the app's loader is inline");
    for (name, value) in shoukuan_core::csp::COMMON_HEADERS {
        assert_eq!(headers[name], value, "{name} on /new");
    }
    let api = reqwest::get(worker.url("/api/config")).await.unwrap();
    assert_eq!(
        api.headers()["content-security-policy"],
        shoukuan_core::csp::NON_PAGE_POLICY
    );
    // A static file (from dist/, with public/_headers).
    let icon = html
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.ends_with(".svg"))
        .expect("the favicon link")
        .to_string();
    let resp = reqwest::get(worker.url(&icon)).await.unwrap();
    assert_eq!(resp.status(), 200, "{icon}");
    for (name, value) in shoukuan_core::csp::COMMON_HEADERS {
        assert_eq!(resp.headers()[name], value, "{name} on {icon}");
    }
    assert!(resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

/// A stand-in for api.weixin.qq.com from an address not on the allow-list: every call 40164.
async fn not_allow_listed_wechat() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = vec![0u8; 16 * 1024];
                let _ = socket.read(&mut buf).await;
                let body = r#"{"errcode":40164,"errmsg":"invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: 1"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

/// A deployment-like worker: WeChat Pay at its real (non-loopback) address with a stray
/// `PAY_TEST_HOOKS=1`, the Official Account API behind an allow-list, no invite code and no
/// `LOCAL_DEV`.
#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_keeps_test_hooks_off_says_what_40164_means_and_refuses_bogus_serials() {
    let sim = Sim::start().await.unwrap();
    let wechat = not_allow_listed_wechat().await;
    let worker = sim
        .start_worker(&[
            ("WECHATPAY_BASE_URL", "https://api.mch.weixin.qq.com"),
            ("PAY_TEST_HOOKS", "1"),
            ("WECHAT_API_BASE_URL", wechat.as_str()),
            ("PUBLISH_ACCESS", "invite"),
            ("PUBLISH_INVITE_CODE", ""),
            ("LOCAL_DEV", ""),
        ])
        .await
        .unwrap();
    let client = reqwest::Client::new();

    // The test hooks answer nothing: the WeChat Pay base URL is not loopback.
    let resp = client
        .post(worker.url("/api/test/pay/faults"))
        .json(&json!({ "out_trade_no": "x", "remaining": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // Invite mode without an invite code, not a local run: nobody publishes.
    let resp = client
        .post(worker.url("/api/collections"))
        .json(&crate::good_body(&unique_pay_code()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "INVITE_CODE_NOT_SET"
    );

    // 40164: the answer names the cause and the fix.
    let page = worker.url("/c/AbCd2345efGH");
    let resp = client
        .get(worker.url(&format!(
            "/api/jssdk/config?url={}",
            shoukuan_core::urlenc::encode_component(&page)
        )))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("WECHAT_IP_NOT_ALLOWED")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("白名单"),
        "{body}"
    );

    // Unknown serials: probes, malformed and wrong-length signatures never cause a download;
    // a well-formed one causes one, and the same serial again none.
    let refreshes = || {
        worker
            .query("SELECT refreshes FROM wechatpay_certificate_refresh WHERE id = 1")
            .unwrap()[0]["refreshes"]
            .as_i64()
            .unwrap()
    };
    let notify = |serial: String, signature: String| {
        let client = client.clone();
        let url = worker.url("/wechatpay/notify/transaction");
        async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            client
                .post(url)
                .header("content-type", "application/json")
                .header("wechatpay-timestamp", now.to_string())
                .header("wechatpay-nonce", unique("n"))
                .header("wechatpay-serial", serial)
                .header("wechatpay-signature", signature)
                .body(r#"{"id":"x","resource_type":"encrypt-resource"}"#)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
    let before = refreshes();
    for (serial, signature) in [
        (
            "5157F09EFDC096DE15EBE81A47057A72",
            format!("WECHATPAY/SIGNTEST/{}", b64(256)),
        ),
        (
            "5157F09EFDC096DE15EBE81A47057A73",
            "%%% not base64".to_string(),
        ),
        ("5157F09EFDC096DE15EBE81A47057A74", b64(200)),
    ] {
        let status = notify(serial.into(), signature).await;
        assert!((400..500).contains(&status), "{serial}: {status}");
    }
    assert_eq!(refreshes(), before, "nothing bogus reaches the refresh");
    let serial = "5157F09EFDC096DE15EBE81A47057A75".to_string();
    notify(serial.clone(), b64(256)).await;
    assert_eq!(
        refreshes(),
        before + 1,
        "a plausible new serial: one refresh"
    );
    // Past the deployment-wide minimum interval: the same serial still causes none, another
    // new one does.
    tokio::time::sleep(Duration::from_millis(MIN_REFRESH_INTERVAL_MS + 500)).await;
    notify(serial.clone(), b64(256)).await;
    assert_eq!(refreshes(), before + 1, "the serial was looked for already");
    notify("5157F09EFDC096DE15EBE81A47057A76".into(), b64(256)).await;
    assert_eq!(refreshes(), before + 2);
}

/// The worker's `pay::certs::MIN_REFRESH_INTERVAL_MS` (repeated: the suite cannot link it).
const MIN_REFRESH_INTERVAL_MS: u64 = 10_000;
