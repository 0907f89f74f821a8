//! Harness for the simulator's tests: dev keys from `shoukuan keys dev` (made once per test
//! binary), a `shoukuan sim` child on a free port, a merchant client that signs every request
//! with the dev merchant key and verifies every answer with `core` against sim.json's keys, and a
//! local receiver that records callbacks and pushes and answers with scripted statuses.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::any;
use serde_json::Value;
use shoukuan_core::wechatpay::devkeys::SimConfig;
use shoukuan_core::wechatpay::{
    verify_signed, ApiV3Key, Authorization, KeySet, PrivateKey, SignedHeaders, Verified,
    VerifyError,
};

/// The dev keys shared by every test of a binary.
pub struct DevKeys {
    pub dir: PathBuf,
    pub config: SimConfig,
    pub merchant: PrivateKey,
}

fn generate_keys() -> DevKeys {
    let dir = std::env::temp_dir().join(format!(
        "shoukuan-sim-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let status = Command::new(env!("CARGO_BIN_EXE_shoukuan"))
        .args(["keys", "dev", "--out"])
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let config: SimConfig =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sim.json")).unwrap()).unwrap();
    let dev_vars = std::fs::read_to_string(dir.join(".dev.vars")).unwrap();
    let pem_line = dev_vars
        .lines()
        .find_map(|l| l.strip_prefix("WECHATPAY_MCH_PRIVATE_KEY="))
        .unwrap();
    let merchant = PrivateKey::from_pem(pem_line.trim_matches('"')).unwrap();
    DevKeys {
        dir,
        config,
        merchant,
    }
}

/// The binary's dev keys.
pub fn keys() -> &'static DevKeys {
    static KEYS: OnceLock<DevKeys> = OnceLock::new();
    KEYS.get_or_init(generate_keys)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A running simulator; killed on drop.
pub struct Sim {
    child: Child,
    pub base: String,
    pub http: reqwest::Client,
    pub snapshot: Option<PathBuf>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer from the simulator's WeChat Pay API.
#[derive(Debug)]
pub struct PayResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    pub verified: Result<Verified, VerifyError>,
}

impl PayResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The error code of a WeChat error answer.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or("").to_string()
    }

    /// Asserts the status, that the answer is signed, and (for errors) the code.
    pub fn expect(&self, status: u16, code: Option<&str>) -> Value {
        let text = String::from_utf8_lossy(&self.body);
        assert_eq!(self.status, status, "unexpected status; body: {text}");
        if let Some(code) = code {
            assert_eq!(self.code(), code, "unexpected code; body: {text}");
            assert!(
                self.json()["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "error without message: {text}"
            );
        }
        assert!(
            self.verified.is_ok(),
            "answer not verifiable: {:?}",
            self.verified
        );
        assert!(self.headers.contains_key("request-id"), "no Request-ID");
        assert_eq!(
            self.headers
                .get("wechatpay-signature-type")
                .and_then(|v| v.to_str().ok()),
            Some("WECHATPAY2-SHA256-RSA2048"),
            "every signed answer names its signature type"
        );
        self.json()
    }
}

impl Sim {
    /// Starts `shoukuan sim` with the shared keys on a free port.
    pub fn start(extra: &[&str]) -> Sim {
        Self::start_with(extra, None)
    }

    /// Starts it with a snapshot file.
    pub fn start_with(extra: &[&str], snapshot: Option<&Path>) -> Sim {
        let keys = keys();
        let mut command = Command::new(env!("CARGO_BIN_EXE_shoukuan"));
        command
            .args(["sim", "--addr", "127.0.0.1:0", "--config"])
            .arg(keys.dir.join("sim.json"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(path) = snapshot {
            command.arg("--snapshot").arg(path);
        }
        let started = Instant::now();
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the simulator took {:?} to start",
            started.elapsed()
        );
        let base = line
            .trim()
            .strip_prefix("shoukuan sim listening on ")
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
            .to_string();
        Sim {
            child,
            base,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            snapshot: snapshot.map(Path::to_path_buf),
        }
    }

    /// The key set a worker configured for this sim would use (certificate + public key).
    pub fn key_set(&self) -> KeySet {
        keys().config.key_set().unwrap()
    }

    /// A signed WeChat Pay request; the answer is verified against `keys`.
    pub async fn pay_with_keys(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
        keys: &KeySet,
    ) -> PayResponse {
        let body_text = body.map(|b| b.to_string()).unwrap_or_default();
        let k = self::keys();
        let auth = Authorization::sign(
            &k.merchant,
            &k.config.mchid,
            &k.config.merchant_serial,
            method,
            path_and_query,
            now(),
            &format!("N{}", now()),
            body_text.as_bytes(),
        )
        .unwrap();
        self.raw_pay(
            method,
            path_and_query,
            body_text,
            Some(auth.header_value()),
            keys,
        )
        .await
    }

    /// A signed WeChat Pay request, verified against sim.json's keys.
    pub async fn pay(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> PayResponse {
        let keys = self.key_set();
        self.pay_with_keys(method, path_and_query, body, &keys)
            .await
    }

    /// A signed WeChat Pay request naming `serial` in `Wechatpay-Serial` (encrypted fields).
    pub async fn pay_with_serial(
        &self,
        method: &str,
        path_and_query: &str,
        body: &Value,
        serial: &str,
    ) -> PayResponse {
        let body_text = body.to_string();
        let k = self::keys();
        let auth = Authorization::sign(
            &k.merchant,
            &k.config.mchid,
            &k.config.merchant_serial,
            method,
            path_and_query,
            now(),
            &format!("N{}", now()),
            body_text.as_bytes(),
        )
        .unwrap();
        self.raw_pay_with(
            method,
            path_and_query,
            body_text,
            Some(auth.header_value()),
            &self.key_set(),
            &[("Wechatpay-Serial", serial)],
        )
        .await
    }

    /// A WeChat Pay request with whatever Authorization the test wants.
    pub async fn raw_pay(
        &self,
        method: &str,
        path_and_query: &str,
        body: String,
        authorization: Option<String>,
        keys: &KeySet,
    ) -> PayResponse {
        self.raw_pay_with(method, path_and_query, body, authorization, keys, &[])
            .await
    }

    /// [`Sim::raw_pay`] with extra request headers.
    pub async fn raw_pay_with(
        &self,
        method: &str,
        path_and_query: &str,
        body: String,
        authorization: Option<String>,
        keys: &KeySet,
        extra: &[(&str, &str)],
    ) -> PayResponse {
        let url = format!("{}{}", self.base, path_and_query);
        let mut request = self
            .http
            .request(method.parse().unwrap(), url)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .header("User-Agent", "shoukuan-test");
        if let Some(auth) = authorization {
            request = request.header("Authorization", auth);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap().to_vec();
        let verified = SignedHeaders::from_pairs(
            headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())),
        )
        .and_then(|h| verify_signed(&h, &body, keys, now()));
        PayResponse {
            status,
            headers,
            body,
            verified,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{}", self.base, path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates a payer; returns the openid.
    pub async fn payer(&self) -> String {
        let (status, payer) = self.post("/sim/payers", &serde_json::json!({})).await;
        assert_eq!(status, 200);
        payer["openid"].as_str().unwrap().to_string()
    }

    /// A valid JSAPI prepay body.
    pub fn jsapi_body(
        &self,
        out_trade_no: &str,
        total: i64,
        notify_url: &str,
        openid: &str,
    ) -> Value {
        let c = &keys().config;
        serde_json::json!({
            "appid": c.appid,
            "mchid": c.mchid,
            "description": "收款测试",
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": { "total": total, "currency": "CNY" },
            "payer": { "openid": openid },
        })
    }

    /// Registers a sub-merchant with a fresh random number; returns its sub_mchid.
    pub async fn sub_merchant(&self, h5: bool, max_ratio: u32) -> String {
        let sub_mchid = format!("16{:08}", rand_u32() % 100_000_000);
        let (status, sub) = self
            .post(
                "/sim/sub-merchants",
                &serde_json::json!({
                    "sub_mchid": sub_mchid, "name": "测试特约商户有限公司",
                    "h5": h5, "max_ratio": max_ratio,
                }),
            )
            .await;
        assert_eq!(status, 200, "{sub}");
        sub_mchid
    }

    /// A valid partner JSAPI prepay body for `sub_mchid`, paid by `sp_openid`.
    pub fn partner_body(
        &self,
        out_trade_no: &str,
        total: i64,
        notify_url: &str,
        sp_openid: &str,
        sub_mchid: &str,
    ) -> Value {
        let c = &keys().config;
        serde_json::json!({
            "sp_appid": c.appid,
            "sp_mchid": c.mchid,
            "sub_mchid": sub_mchid,
            "description": "收款测试",
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": { "total": total, "currency": "CNY" },
            "payer": { "sp_openid": sp_openid },
        })
    }

    /// Prepays (JSAPI) and pays an order; returns its transaction_id.
    pub async fn paid_order(
        &self,
        out_trade_no: &str,
        total: i64,
        notify_url: &str,
        profit_sharing: bool,
    ) -> String {
        let openid = self.payer().await;
        let mut body = self.jsapi_body(out_trade_no, total, notify_url, &openid);
        if profit_sharing {
            body["settle_info"] = serde_json::json!({ "profit_sharing": true });
        }
        self.pay("POST", "/v3/pay/transactions/jsapi", Some(&body))
            .await
            .expect(200, None);
        let (status, paid) = self
            .post(
                "/sim/pay",
                &serde_json::json!({ "out_trade_no": out_trade_no }),
            )
            .await;
        assert_eq!(status, 200, "{paid}");
        paid["transaction_id"].as_str().unwrap().to_string()
    }

    /// Polls `GET path` until `done` holds (at most `within`).
    pub async fn wait_for(
        &self,
        path: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let (_, value) = self.get(path).await;
            if done(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on {path}: {value}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `text` encrypted as WeChat wants a receiver `name`: RSA-OAEP (SHA-1) under the WeChat Pay
/// public key of sim.json, base64.
pub fn encrypt_name(text: &str) -> String {
    use base64::Engine as _;
    use rsa::pkcs8::DecodePublicKey as _;
    let key = rsa::RsaPublicKey::from_public_key_pem(&keys().config.public_key_pem).unwrap();
    let cipher = key
        .encrypt(
            &mut rand::rngs::OsRng,
            rsa::Oaep::new::<sha1::Sha1>(),
            text.as_bytes(),
        )
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(cipher)
}

/// A random number (sub-merchant numbers in tests).
pub fn rand_u32() -> u32 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish() as u32
}

/// The APIv3 key.
pub fn apiv3_key() -> ApiV3Key {
    keys().config.apiv3_key().unwrap()
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn signed_headers(&self) -> SignedHeaders {
        SignedHeaders::from_pairs(
            self.headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())),
        )
        .unwrap()
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<Received>,
    /// Status to answer with, by request number; the last one repeats.
    statuses: Vec<u16>,
    reply: String,
}

/// A local HTTP endpoint standing in for the worker: records everything, answers as scripted.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<ReceiverState>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let mut state = state.lock().unwrap();
    let n = state.received.len();
    state.received.push(Received {
        at: Instant::now(),
        uri,
        headers,
        body: body.to_vec(),
    });
    let status = state
        .statuses
        .get(n)
        .or(state.statuses.last())
        .copied()
        .unwrap_or(200);
    (StatusCode::from_u16(status).unwrap(), state.reply.clone())
}

impl Receiver {
    /// Answers the n-th request with `statuses[n]` (the last repeats) and `reply` as body.
    pub async fn start(statuses: &[u16], reply: &str) -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState {
            received: Vec::new(),
            statuses: statuses.to_vec(),
            reply: reply.to_string(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(any(receive))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url: format!("http://{addr}/notify"),
            state,
            server,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "timed out: {} of {n} requests arrived",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}
