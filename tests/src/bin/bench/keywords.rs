//! Official Account keyword replies under a fixed request rate, next to `/health` in the same
//! run (so the machine's noise shows in both): p50/p99 of `POST /wechat/mp` text pushes answered
//! by a keyword rule, and of `GET /health`.
//!
//! Open loop: requests start on a fixed schedule whether or not earlier ones have finished,
//! alternating between the two endpoints, on loopback only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use serde_json::json;
use shoukuan_core::mp;
use shoukuan_tests::worker::Worker;

/// Requests per second, per endpoint.
const RATE: u64 = 40;
/// How long each endpoint is driven.
const SECONDS: u64 = 10;
const TOKEN: &str = "benchtoken";
const OPERATOR: &str = "bench-operator-secret-0123456789";
const KEYWORD: &str = "价格";

/// Percentiles of one endpoint, in milliseconds.
pub struct Latency {
    pub name: &'static str,
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub errors: usize,
}

fn percentile(sorted: &[f64], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn signed_push(base: &str, n: u64) -> (String, String) {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .to_string();
    let nonce = format!("n{n}");
    let url = format!(
        "{base}/wechat/mp?signature={}&timestamp={ts}&nonce={nonce}",
        mp::url_signature(TOKEN, &ts, &nonce)
    );
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[oBench{n:0>20}]]></FromUserName>\
         <CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{KEYWORD}]]></Content>\
         <MsgId>{}</MsgId></xml>",
        9_000_000_000_000 + n
    );
    (url, body)
}

/// Starts an Official Account worker (plain mode), adds one keyword rule and drives both
/// endpoints; returns `[keyword, health]`.
pub async fn measure() -> Result<[Latency; 2]> {
    let worker = Worker::start(&[
        ("WECHAT_APPID", "wxbench0000000000"),
        ("WECHAT_APPSECRET", "bench-appsecret"),
        ("WECHAT_TOKEN", TOKEN),
        ("OPERATOR_SECRET", OPERATOR),
        // Keyword routing keys the follower by `openid_key`, a hash under this secret.
        ("SESSION_SECRET", "bench-session-secret-0123456789abcdef"),
        ("PUBLISH_ACCESS", "invite"),
    ])
    .await?;
    let client = reqwest::Client::new();
    let resp = client
        .post(worker.url("/api/dash/keywords"))
        .bearer_auth(OPERATOR)
        .json(&json!({ "trigger": "exact", "pattern": KEYWORD, "reply": { "type": "text", "text": "价目表见菜单「价格」" } }))
        .send()
        .await?;
    ensure!(resp.status() == 201, "keyword rule: {}", resp.status());
    // Warm-up (and a check that the rule answers).
    let (url, body) = signed_push(&worker.url(""), 0);
    let reply = client.post(url).body(body).send().await?.text().await?;
    ensure!(
        reply.contains("价目表"),
        "the keyword did not answer: {reply}"
    );

    let base = Arc::new(worker.url(""));
    let interval = Duration::from_micros(1_000_000 / RATE / 2);
    let total = RATE * SECONDS * 2;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..total {
        let due = started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (client, base) = (client.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = if i % 2 == 0 {
                let (url, body) = signed_push(&base, i + 1);
                match client.post(url).body(body).send().await {
                    Ok(r) => {
                        r.status() == 200 && r.text().await.is_ok_and(|t| t.contains("价目表"))
                    }
                    Err(_) => false,
                }
            } else {
                match client.get(format!("{base}/health")).send().await {
                    Ok(r) => r.status() == 200,
                    Err(_) => false,
                }
            };
            (i % 2 == 0, ok, t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut samples = [Vec::new(), Vec::new()];
    let mut errors = [0, 0];
    for task in tasks {
        let (keyword, ok, ms) = task.await?;
        let k = usize::from(!keyword);
        samples[k].push(ms);
        if !ok {
            errors[k] += 1;
        }
    }
    drop(worker);
    let mut out = Vec::new();
    for (k, name) in [(0, "keyword reply"), (1, "/health")] {
        let sorted = &mut samples[k];
        sorted.sort_by(f64::total_cmp);
        out.push(Latency {
            name,
            count: sorted.len(),
            p50: percentile(sorted, 50),
            p99: percentile(sorted, 99),
            errors: errors[k],
        });
    }
    let health = out.pop().expect("two endpoints");
    let keyword = out.pop().expect("two endpoints");
    Ok([keyword, health])
}

/// The report lines.
pub fn report(results: &[Latency; 2]) -> String {
    let mut s = format!(
        "\nOfficial Account keyword reply at {RATE} req/s for {SECONDS} s, next to /health at the same rate (loopback):\n"
    );
    for r in results {
        s.push_str(&format!(
            "  {:<14} n={:<4} p50 {:>6.1} ms  p99 {:>6.1} ms  errors {}\n",
            r.name, r.count, r.p50, r.p99, r.errors
        ));
    }
    s
}
