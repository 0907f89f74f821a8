//! `shoukuan sim`: a local WeChat — WeChat Pay API v3 and the Official Account platform — that
//! behaves like WeChat's servers for every call Shoukuan's worker makes, so local runs and the
//! end-to-end suite need no credentials. The worker cannot tell it from WeChat except by base
//! URL and keys: all signing, verification and encryption is `shoukuan_core`'s, and every signed
//! answer and callback carries `Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048`.
//!
//! ```text
//! /v3/...                         WeChat Pay (pay.rs dispatches): prepay.rs (direct JSAPI, Native,
//!                                 H5), partner.rs (服务商: /v3/pay/partner/...), h5.rs, refund.rs,
//!                                 profitsharing/ (both models), bill.rs; callbacks from notify.rs
//! /cgi-bin/..., /sns/..., /connect/oauth2/authorize   Official Account (mp.rs)
//! /sim/...                        control API for tests and people (below), page at /sim/
//! ```
//!
//! The merchant of `sim.json` (`mchid`, `appid`) signs every request. In the platform model it
//! is the service provider (`sp_mchid`, `sp_appid`) and `sim.json` lists its sub-merchants;
//! more can be added at run time.
//!
//! Control API (JSON, unsigned; errors are `{code, message}`):
//!
//! ```text
//! GET  /sim/health                     ids, sign mode, time scale
//! GET|POST /sim/config                 {sign_mode, mp_url, mp_safe_mode, oauth_auto_approve,
//!                                       max_ratio (the direct merchant's, 1/10000)}
//! GET|POST /sim/payers                 simulated users; POST {nickname?, subscribed?}
//! GET|POST /sim/sub-merchants          partner mode; POST {sub_mchid, name?, h5?, max_ratio?}
//!                                       registers or updates one
//! GET  /sim/orders, /sim/orders/{no}   orders; one order with `request`, its last prepay body
//! POST /sim/pay                        {out_trade_no | prepay_id, openid?, variant?, count?,
//!                                       success_time?, no_callback?}: pay, then send the
//!                                       callback (never, with no_callback)
//! GET|POST /sim/bills, POST /sim/bills/refund   bill clock, tampering, amounts shown in
//!                                       bills, refunds only WeChat knows (bill.rs)
//! POST /sim/notify                     {out_trade_no, variant?, count?}: send it again
//!                                       variants: normal, duplicate, concurrent, stale,
//!                                       wrong_amount, wrong_sub_mchid (partner), signtest
//! GET  /sim/deliveries[?out_trade_no=], /sim/deliveries/{id}   callback attempts
//! GET  /sim/refunds                    refunds
//! GET  /sim/profitsharing              {receivers, orders, returns}
//! GET  /sim/profitsharing/received[?account=]   per sharer and receiver: received, pending,
//!                                       returned, net (fen)
//! GET|POST /sim/h5/checkout            the page an h5_url opens (pay or cancel, then redirect_url)
//! /sim/mp/..., /sim/certificates[/rotate], /sim/snapshot   Official Account, keys, state
//! ```
//!
//! Timings (callback retries, refund and sharing completion, the h5_url lifetime, the 1-minute
//! wait before sharing) are scaled by `--time-scale`. State lives in memory (state.rs) and is
//! optionally snapshotted to a JSON file.

mod bill;
mod control;
mod h5;
mod mp;
mod notify;
mod page;
mod partner;
mod pay;
mod prepay;
mod profitsharing;
mod refund;
mod state;

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use axum::Router;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shoukuan_core::mp::EncodingAesKey;
use shoukuan_core::wechatpay::devkeys::{SimConfig, SIM_CONFIG_VERSION};
use shoukuan_core::wechatpay::{sign_for_test, ApiV3Key, PrivateKey, PublicKey, SignedHeaders};

use crate::{random_string, Outcome, Run, NONCE_ALPHABET};
use state::{PlatformCert, Settings, State};

/// Which key signs responses and callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignMode {
    /// The platform certificate (legacy; `Wechatpay-Serial` is its serial).
    Certificate,
    /// The WeChat Pay public key (`Wechatpay-Serial: PUB_KEY_ID_…`).
    PublicKey,
    /// Each response and callback picks one of the two at random, as during WeChat's migration.
    Migration,
}

/// How pushes to the Official Account message URL are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MpMode {
    /// Plain XML.
    Plain,
    /// Safe mode: AES-encrypted with the EncodingAESKey, `msg_signature` in the URL.
    Safe,
}

/// `shoukuan sim`: run the local WeChat simulator.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// The simulator's keys, as written by `shoukuan keys dev --out DIR`.
    #[arg(long, default_value = "sim.json")]
    config: PathBuf,
    /// Address to listen on (port 0 picks a free one; the ready line names it).
    #[arg(long, default_value = "127.0.0.1:8788")]
    addr: SocketAddr,
    /// Multiplies every WeChat delay (callback retries, refund and profit-sharing completion).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Which key signs responses and callbacks [default: public-key].
    #[arg(long, value_enum)]
    sign_mode: Option<SignMode>,
    /// The worker's Official Account message URL, e.g. http://127.0.0.1:8787/wechat/mp.
    #[arg(long)]
    mp_url: Option<String>,
    /// Push Official Account messages in plain or safe mode [default: plain].
    #[arg(long, value_enum)]
    mp_mode: Option<MpMode>,
    /// JSON file to restore the state from at start and to keep it in while running.
    #[arg(long)]
    snapshot: Option<PathBuf>,
}

impl Run for SimArgs {
    fn run(self) -> anyhow::Result<Outcome> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            bail!(
                "--time-scale must be a positive number, got {}",
                self.time_scale
            );
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(serve(self))?;
        Ok(Outcome::ok(""))
    }
}

/// The keys of `sim.json`, parsed once.
pub struct Keys {
    /// The file as read (ids, PEMs, secrets).
    pub config: SimConfig,
    /// Verifies the merchant's `Authorization` signatures.
    pub merchant_key: PublicKey,
    /// Encrypts callback resources and certificates.
    pub apiv3_key: ApiV3Key,
    /// Signs as the WeChat Pay public key.
    pub public_key_signer: PrivateKey,
    /// Safe-mode pushes.
    pub aes_key: EncodingAesKey,
}

impl Keys {
    fn load(path: &Path) -> anyhow::Result<Keys> {
        let text = crate::read_text(path)?;
        let config: SimConfig = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a sim.json", path.display()))?;
        if config.version != SIM_CONFIG_VERSION {
            bail!(
                "{} has version {}, expected {SIM_CONFIG_VERSION}; regenerate it with `shoukuan keys dev --force`",
                path.display(),
                config.version
            );
        }
        Ok(Keys {
            merchant_key: config.merchant_public_key()?,
            apiv3_key: config.apiv3_key()?,
            public_key_signer: config.public_key_signer()?,
            aes_key: EncodingAesKey::parse(&config.official_account.encoding_aes_key)?,
            config,
        })
    }
}

/// The running simulator, shared by every handler and background task.
pub struct Sim {
    /// Keys from sim.json.
    pub keys: Keys,
    state: Mutex<State>,
    signers: Mutex<HashMap<String, PrivateKey>>,
    /// Outbound HTTP (callbacks, pushes).
    pub http: reqwest::Client,
    /// Multiplier of WeChat's delays.
    pub time_scale: f64,
    snapshot: Option<PathBuf>,
}

/// What handlers hold.
pub type Shared = Arc<Sim>;

/// A key to sign a response or callback with, and the `Wechatpay-Serial` naming it.
pub struct SigningKey {
    /// Certificate serial or `PUB_KEY_ID_…`.
    pub serial: String,
    /// The private key.
    pub key: PrivateKey,
}

impl Sim {
    /// The state, locked. Never held across an `.await`.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A WeChat delay, scaled by `--time-scale`.
    pub fn scaled(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64((seconds * self.time_scale).max(0.0))
    }

    /// Whether this response or callback is signed with the public key (else the certificate).
    pub fn use_public_key(&self) -> bool {
        match self.state().settings.sign_mode {
            SignMode::Certificate => false,
            SignMode::PublicKey => true,
            SignMode::Migration => rand::rngs::OsRng.gen_bool(0.5),
        }
    }

    /// The key for one response or callback, chosen by the sign mode.
    pub fn signing_key(&self) -> anyhow::Result<SigningKey> {
        if self.use_public_key() {
            return Ok(SigningKey {
                serial: self.keys.config.public_key_id.clone(),
                key: self.keys.public_key_signer.clone(),
            });
        }
        let (serial, pem) = {
            let state = self.state();
            let cert = active_certificate(&state.certificates, now())
                .ok_or_else(|| anyhow!("no platform certificate"))?;
            (cert.serial.clone(), cert.private_key_pem.clone())
        };
        let mut signers = self.signers.lock().unwrap_or_else(|p| p.into_inner());
        let key = match signers.get(&serial) {
            Some(key) => key.clone(),
            None => {
                let key = PrivateKey::from_pem(&pem)?;
                signers.insert(serial.clone(), key.clone());
                key
            }
        };
        Ok(SigningKey { serial, key })
    }

    /// The four signed `Wechatpay-*` headers for `body`, signed as WeChat Pay at `timestamp`
    /// (send them with [`wechatpay_headers`], which adds `Wechatpay-Signature-Type`).
    pub fn sign(&self, body: &[u8], timestamp: i64) -> anyhow::Result<SignedHeaders> {
        let key = self.signing_key()?;
        Ok(sign_for_test(
            &key.key,
            &key.serial,
            timestamp,
            &nonce(),
            body,
        )?)
    }

    /// Writes the snapshot file, if one is configured.
    pub fn save_snapshot(&self) -> anyhow::Result<Option<PathBuf>> {
        let Some(path) = &self.snapshot else {
            return Ok(None);
        };
        let text = serde_json::to_string_pretty(&*self.state())?;
        write_atomically(path, &text)?;
        Ok(Some(path.clone()))
    }
}

/// `Wechatpay-Signature-Type`: WeChat Pay sends it with every signed response and callback, and
/// SDKs (e.g. PyPI `wechatpayv3`) refuse answers without it.
pub const HEADER_SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";

/// The only signature type WeChat Pay's RSA merchants get.
pub const SIGNATURE_TYPE_RSA: &str = "WECHATPAY2-SHA256-RSA2048";

/// Every header WeChat Pay puts on a signed response or callback: the four signed
/// `Wechatpay-*` ones plus `Wechatpay-Signature-Type`.
pub fn wechatpay_headers(signed: &SignedHeaders) -> Vec<(String, String)> {
    let mut pairs = signed.to_pairs();
    pairs.push((
        HEADER_SIGNATURE_TYPE.to_string(),
        SIGNATURE_TYPE_RSA.to_string(),
    ));
    pairs
}

/// The certificate responses use now: the newest already effective and not expired.
pub fn active_certificate(certs: &[PlatformCert], now: i64) -> Option<&PlatformCert> {
    certs
        .iter()
        .rev()
        .find(|c| c.effective_time <= now && now < c.expire_time)
        .or_else(|| certs.first())
}

/// Writes via a temporary file, readable by the owner only (the snapshot holds dev keys).
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(&tmp)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn initial_state(keys: &Keys, args: &SimArgs) -> anyhow::Result<State> {
    let restored = match &args.snapshot {
        Some(path) if path.exists() => {
            let text = crate::read_text(path)?;
            Some(
                serde_json::from_str::<State>(&text)
                    .with_context(|| format!("{} is not a simulator snapshot", path.display()))?,
            )
        }
        _ => None,
    };
    let now = now();
    let mut state = restored.unwrap_or_else(|| {
        State::new(
            Settings {
                sign_mode: SignMode::PublicKey,
                mp_url: None,
                mp_safe_mode: false,
                oauth_auto_approve: false,
                max_ratio: 3000,
            },
            PlatformCert {
                serial: keys.config.platform_serial.clone(),
                certificate_pem: keys.config.platform_certificate_pem.clone(),
                private_key_pem: keys.config.platform_private_key_pem.clone(),
                // `keys dev` makes certificates valid from yesterday for five years.
                effective_time: now - 86_400,
                expire_time: now + 5 * 365 * 86_400 - 86_400,
            },
        )
    });
    if !state
        .certificates
        .iter()
        .any(|c| c.serial == keys.config.platform_serial)
    {
        bail!("the snapshot was made with other keys than this sim.json; delete it or use another --snapshot");
    }
    for sub in &keys.config.sub_merchants {
        if state.sub_merchant(&sub.sub_mchid).is_none() {
            state.sub_merchants.push(sub.clone());
        }
    }
    if let Some(mode) = args.sign_mode {
        state.settings.sign_mode = mode;
    }
    if let Some(url) = &args.mp_url {
        state.settings.mp_url = Some(url.clone());
    }
    if let Some(mode) = args.mp_mode {
        state.settings.mp_safe_mode = mode == MpMode::Safe;
    }
    Ok(state)
}

async fn serve(args: SimArgs) -> anyhow::Result<()> {
    let keys = Keys::load(&args.config)?;
    let state = initial_state(&keys, &args)?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")?;
    let sim: Shared = Arc::new(Sim {
        keys,
        state: Mutex::new(state),
        signers: Mutex::new(HashMap::new()),
        http,
        time_scale: args.time_scale,
        snapshot: args.snapshot.clone(),
    });
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    println!("shoukuan sim listening on http://{addr}");
    std::io::stdout().flush().ok();

    if sim.snapshot.is_some() {
        tokio::spawn(keep_snapshot(sim.clone()));
    }
    axum::serve(listener, router(sim.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    sim.save_snapshot()?;
    Ok(())
}

/// Rewrites the snapshot whenever the state changed (checked every second).
async fn keep_snapshot(sim: Shared) {
    let mut last = String::new();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let text = match serde_json::to_string_pretty(&*sim.state()) {
            Ok(text) => text,
            Err(_) => continue,
        };
        if text != last {
            if let (Some(path), true) = (&sim.snapshot, !text.is_empty()) {
                if let Err(e) = write_atomically(path, &text) {
                    eprintln!("shoukuan sim: snapshot: {e:#}");
                }
            }
            last = text;
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Every route of the simulator.
fn router(sim: Shared) -> Router {
    Router::new()
        .route("/v3/{*path}", any(pay::handle))
        .merge(mp::routes())
        .merge(control::routes())
        .merge(bill::routes())
        .merge(partner::routes())
        .merge(profitsharing::routes())
        .merge(h5::routes())
        .route("/sim/", get(page::index))
        .route("/sim", get(|| async { Redirect::to("/sim/") }))
        .route("/", get(|| async { Redirect::to("/sim/") }))
        .with_state(sim)
}

/// An error in WeChat Pay's shape: an HTTP status and `{"code", "message"[, "detail"]}`.
#[derive(Debug, Clone)]
pub struct PayError {
    /// HTTP status.
    pub status: StatusCode,
    /// WeChat's error code, e.g. `PARAM_ERROR`.
    pub code: &'static str,
    /// Human message (WeChat's are Chinese).
    pub message: String,
    /// `detail` object (PARAM_ERROR names the field).
    pub detail: Option<Value>,
}

impl PayError {
    /// An error without detail.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        PayError {
            status,
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// 400 `PARAM_ERROR` about a body field (`path` like `/amount/total`).
    pub fn param(path: &str, issue: impl Into<String>) -> Self {
        let issue = issue.into();
        PayError {
            status: StatusCode::BAD_REQUEST,
            code: "PARAM_ERROR",
            message: format!("输入源“/body{path}”映射到值字段校验失败：{issue}"),
            detail: Some(json!({ "field": path, "location": "body", "issue": issue })),
        }
    }

    /// 400 `INVALID_REQUEST`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    /// 500 `SYSTEM_ERROR` (a simulator fault).
    pub fn system(e: impl std::fmt::Display) -> Self {
        eprintln!("shoukuan sim: internal error: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "系统错误",
        )
    }

    /// The PARAM_ERROR issue alone (to re-attach it to another field path), else the message.
    pub fn detail_issue(&self) -> String {
        self.detail
            .as_ref()
            .and_then(|d| d["issue"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| self.message.clone())
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({ "code": self.code, "message": self.message });
        if let Some(detail) = &self.detail {
            body["detail"] = detail.clone();
        }
        body
    }
}

/// Control-API errors are in the same `{code, message}` shape, unsigned.
impl IntoResponse for PayError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// An error with its causes ("error sending request: … Connection refused").
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    crate::now_unix()
}

/// Current Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn china_time(unix: i64) -> time::OffsetDateTime {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset)
}

/// RFC 3339 in China time, whole seconds: `2026-11-27T17:34:00+08:00`, as WeChat writes times.
pub fn rfc3339(unix: i64) -> String {
    let t = china_time(unix);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+08:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `yyyyMMddHHmmss` in China time (ids).
pub fn compact_time(unix: i64) -> String {
    rfc3339(unix)[..19].replace(['-', 'T', ':'], "")
}

/// Parses an RFC 3339 time to Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// A 32-character nonce like WeChat Pay's.
pub fn nonce() -> String {
    random_string(NONCE_ALPHABET, 32)
}

/// `len` random decimal digits.
pub fn random_digits(len: usize) -> String {
    random_string(b"0123456789", len)
}

/// `len` random lower-case hex digits.
pub fn random_hex(len: usize) -> String {
    random_string(b"0123456789abcdef", len)
}

/// `len` random letters and digits.
pub fn random_alnum(len: usize) -> String {
    random_string(
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        len,
    )
}

/// Decodes `%XX` escapes of a URL path segment (no `+` rule: that is for forms).
pub fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query of a path-and-query, decoded, first value per name.
pub fn query_map(query: Option<&str>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    if let Some(query) = query {
        if let Ok(url) = reqwest::Url::parse(&format!("http://sim.invalid/?{query}")) {
            for (k, v) in url.query_pairs() {
                map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
            }
        }
    }
    map
}

/// True for hosts on this machine (notify_url may then be plain http).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_china_time_without_fractions() {
        assert_eq!(rfc3339(0), "1970-01-01T08:00:00+08:00");
        assert_eq!(compact_time(0), "19700101080000");
        assert_eq!(parse_rfc3339("1970-01-01T08:00:00+08:00"), Some(0));
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00+08:00"), None);
    }

    #[test]
    fn percent_escapes_in_paths_are_decoded() {
        assert_eq!(percent_decode("a%7Cb%2A"), "a|b*");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%E6%94%B6"), "收");
    }

    #[test]
    fn only_loopback_hosts_count_as_local() {
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("127.9.9.9"));
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("[::1]"));
        assert!(!is_loopback_host("10.0.0.1"));
        assert!(!is_loopback_host("example.com"));
    }

    #[test]
    fn the_newest_effective_certificate_signs() {
        let cert = |serial: &str, effective_time, expire_time| PlatformCert {
            serial: serial.into(),
            certificate_pem: String::new(),
            private_key_pem: String::new(),
            effective_time,
            expire_time,
        };
        let certs = vec![cert("OLD", 0, 1000), cert("NEW", 500, 5000)];
        assert_eq!(active_certificate(&certs, 100).unwrap().serial, "OLD");
        assert_eq!(active_certificate(&certs, 600).unwrap().serial, "NEW");
    }
}
