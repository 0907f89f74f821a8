//! Which keys WeChat Pay signs with, and verification against them: the configured WeChat Pay
//! public key (`PUB_KEY_ID_…`) and the platform certificates side by side (during WeChat's
//! migration callbacks come signed either way), picked by `Wechatpay-Serial`.
//!
//! Platform certificates are downloaded from `/v3/certificates`, decrypted with the APIv3 key,
//! verified, and cached centrally in D1 (`wechatpay_certificates`), with a per-isolate copy.
//! An unknown certificate serial first re-reads D1 (another isolate may have refreshed), then
//! triggers *one* refresh for the whole deployment: a lease row (conditional UPDATE, D1
//! serialises writes) lets one request download while the others wait for its result, and a
//! minimum interval keeps a stream of bogus serials from causing a download per request.
//!
//! Before an unknown serial may cause anything, the message must look genuine: a
//! `WECHATPAY/SIGNTEST/` probe, a signature that is not base64 or not the length of a 2048-bit
//! RSA signature is refused at once; with `WECHATPAY_KEY_MODE=public_key` (WeChat Pay public
//! key only, no platform certificates) nothing is ever downloaded; and each serial is looked for
//! at most once per [`SERIAL_RETRY_SECS`] (`wechatpay_serials_tried`), whoever sends it.

use std::cell::RefCell;
use std::time::Duration;

use serde::Deserialize;
use shoukuan_core::paytime;
use shoukuan_core::wechatpay::{
    aead_decrypt_to_string, decode_signature, Certificate, KeySet, PendingVerification,
    SignedHeaders, Verified, VerifyError, PUBLIC_KEY_ID_PREFIX,
};
use worker::wasm_bindgen::JsValue;
use worker::{Delay, Env, Method};

use super::client;
use super::config::PayConfig;
use super::crypto;
use crate::error::ApiError;
use crate::session::{now_ms, now_secs};

/// How long one refresh may hold the lease.
const LEASE_MS: i64 = 10_000;
/// At most one download per this interval, whatever arrives.
pub const MIN_REFRESH_INTERVAL_MS: i64 = 10_000;
/// How long a request waits for another request's download.
const WAIT_MS: i64 = 3_000;
const POLL: Duration = Duration::from_millis(100);
/// The per-isolate copy is re-read from D1 at least this often.
const CACHE_MS: i64 = 60_000;
/// An unknown serial is looked for (one refresh) at most this often.
pub const SERIAL_RETRY_SECS: i64 = 3600;
/// Bytes of a SHA256withRSA signature with WeChat Pay's 2048-bit keys.
const RSA_2048_SIGNATURE_LEN: usize = 256;

/// Why something WeChat Pay sent is not accepted.
#[derive(Debug)]
pub enum VerifyFailure {
    /// It does not verify (bad or probe signature, skewed clock, unknown key): 4xx.
    Rejected(VerifyError),
    /// It could not be checked now (D1 or the certificate download failed): 5xx, retry.
    Unavailable(String),
}

impl From<ApiError> for VerifyFailure {
    fn from(e: ApiError) -> Self {
        VerifyFailure::Unavailable(format!("{e:?}"))
    }
}

thread_local! {
    static CACHE: RefCell<Option<(i64, Vec<Certificate>)>> = const { RefCell::new(None) };
}

#[derive(Deserialize)]
struct PemRow {
    pem: String,
}

async fn load(env: &Env) -> Result<Vec<Certificate>, ApiError> {
    let rows = env
        .d1("DB")?
        .prepare(
            "SELECT pem FROM wechatpay_certificates WHERE expires_at > ?1 ORDER BY effective_at",
        )
        .bind(&[JsValue::from_f64(now_secs() as f64)])?
        .all()
        .await?
        .results::<PemRow>()?;
    let certs: Vec<Certificate> = rows
        .iter()
        .filter_map(|row| match Certificate::from_pem(&row.pem) {
            Ok(cert) => Some(cert),
            Err(e) => {
                worker::console_error!("stored platform certificate unreadable: {e}");
                None
            }
        })
        .collect();
    CACHE.with(|cache| *cache.borrow_mut() = Some((now_ms(), certs.clone())));
    Ok(certs)
}

async fn certificates(env: &Env, fresh: bool) -> Result<Vec<Certificate>, ApiError> {
    if !fresh {
        let cached = CACHE.with(|cache| {
            cache
                .borrow()
                .as_ref()
                .filter(|(at, _)| now_ms() - at < CACHE_MS)
                .map(|(_, certs)| certs.clone())
        });
        if let Some(certs) = cached {
            return Ok(certs);
        }
    }
    load(env).await
}

/// The configured public key plus `certs`.
pub fn key_set(config: &PayConfig, certs: &[Certificate]) -> KeySet {
    let mut keys = KeySet::new();
    for cert in certs {
        keys.add_certificate(cert);
    }
    if let Some((id, key)) = &config.public_key {
        keys.add_public_key(id.clone(), key.clone());
    }
    keys
}

async fn attempt(
    config: &PayConfig,
    keys: &KeySet,
    headers: &SignedHeaders,
    body: &[u8],
) -> Result<Verified, VerifyError> {
    let pending = PendingVerification::prepare(headers, body, keys, now_secs())?;
    crypto::finish(config.rsa, pending).await
}

/// Could `serial` name a platform certificate (upper/lower hex, as WeChat Pay sends them)?
fn is_certificate_serial(serial: &str) -> bool {
    !serial.starts_with(PUBLIC_KEY_ID_PREFIX)
        && (1..=64).contains(&serial.len())
        && serial.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Verifies a callback or answer over its raw body: the key is picked by `Wechatpay-Serial`
/// among the public key and the platform certificates; an unknown certificate serial leads to
/// one central refresh of the certificate list, then one more try.
pub async fn verify(
    env: &Env,
    config: &PayConfig,
    headers: &SignedHeaders,
    body: &[u8],
) -> Result<Verified, VerifyFailure> {
    let certs = certificates(env, false).await?;
    match attempt(config, &key_set(config, &certs), headers, body).await {
        Err(VerifyError::UnknownSerial { .. }) if is_certificate_serial(&headers.serial) => {}
        other => return other.map_err(VerifyFailure::Rejected),
    }
    // Nothing bogus reaches the refresh path.
    let signature = decode_signature(&headers.signature).map_err(VerifyFailure::Rejected)?;
    if signature.len() != RSA_2048_SIGNATURE_LEN {
        return Err(VerifyFailure::Rejected(VerifyError::BadSignature));
    }
    let mut certs = certificates(env, true).await?;
    if !certs
        .iter()
        .any(|c| c.serial().eq_ignore_ascii_case(&headers.serial))
    {
        if public_key_only(env) {
            return attempt(config, &key_set(config, &certs), headers, body)
                .await
                .map_err(VerifyFailure::Rejected);
        }
        if first_look_for(env, &headers.serial).await? {
            if !refresh(env, config).await? {
                // No download happened (one ran a moment ago): the serial may be looked for
                // again by a later request.
                forget_tried(env, &headers.serial).await?;
            }
        } else {
            // Looked for recently: only wait for a download that may be under way.
            wait_for_lease(env).await?;
        }
        certs = certificates(env, true).await?;
    }
    attempt(config, &key_set(config, &certs), headers, body)
        .await
        .map_err(VerifyFailure::Rejected)
}

/// `WECHATPAY_KEY_MODE=public_key`: the merchant verifies with the WeChat Pay public key only
/// (newer merchants have no platform certificates): no certificate is ever downloaded.
fn public_key_only(env: &Env) -> bool {
    crate::config::setting(env, "WECHATPAY_KEY_MODE").as_deref() == Some("public_key")
}

/// Records that `serial` is being looked for; `false` when it was within the last
/// [`SERIAL_RETRY_SECS`] (no second refresh for the same unknown serial).
async fn first_look_for(env: &Env, serial: &str) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct Tried {
        #[allow(dead_code)]
        serial: String,
    }
    let now = now_secs();
    let db = env.d1("DB")?;
    let claimed = db
        .prepare(
            "INSERT INTO wechatpay_serials_tried (serial, tried_at) VALUES (?1, ?2) \
             ON CONFLICT (serial) DO UPDATE SET tried_at = excluded.tried_at \
             WHERE wechatpay_serials_tried.tried_at < ?3 RETURNING serial",
        )
        .bind(&[
            serial.to_ascii_uppercase().into(),
            JsValue::from_f64(now as f64),
            JsValue::from_f64((now - SERIAL_RETRY_SECS) as f64),
        ])?
        .all()
        .await?
        .results::<Tried>()?;
    if db_rows_exceed(&db).await? {
        db.prepare("DELETE FROM wechatpay_serials_tried WHERE tried_at < ?1")
            .bind(&[JsValue::from_f64((now - SERIAL_RETRY_SECS) as f64)])?
            .run()
            .await?;
    }
    Ok(!claimed.is_empty())
}

async fn forget_tried(env: &Env, serial: &str) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare("DELETE FROM wechatpay_serials_tried WHERE serial = ?1")
        .bind(&[serial.to_ascii_uppercase().into()])?
        .run()
        .await?;
    Ok(())
}

/// Whether the tried-serials table has grown past a few hundred rows (then old ones go).
async fn db_rows_exceed(db: &worker::D1Database) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct N {
        n: i64,
    }
    let row = db
        .prepare("SELECT COUNT(*) AS n FROM wechatpay_serials_tried")
        .first::<N>(None)
        .await?;
    Ok(row.is_some_and(|r| r.n > 500))
}

#[derive(Deserialize)]
struct LeaseRow {
    lease_until_ms: i64,
}

/// Waits (at most [`WAIT_MS`]) while another request holds the refresh lease; `true` when one
/// was held.
async fn wait_for_lease(env: &Env) -> Result<bool, ApiError> {
    let db = env.d1("DB")?;
    let deadline = now_ms() + WAIT_MS;
    let mut waited = false;
    while now_ms() < deadline {
        let lease = db
            .prepare("SELECT lease_until_ms FROM wechatpay_certificate_refresh WHERE id = 1")
            .first::<LeaseRow>(None)
            .await?;
        if lease.is_none_or(|l| l.lease_until_ms < now_ms()) {
            break;
        }
        waited = true;
        Delay::from(POLL).await;
    }
    Ok(waited)
}

/// One refresh for the deployment: takes the lease and downloads, or waits for whoever holds
/// it. Returns when the list in D1 is as fresh as it will get for now: `true` when a download
/// ran (this request's or the one waited for), `false` when one ran too recently to repeat.
async fn refresh(env: &Env, config: &PayConfig) -> Result<bool, ApiError> {
    let db = env.d1("DB")?;
    let owner = crate::wechat::random_alnum(16)?;
    let now = now_ms();
    let won = db
        .prepare(
            "UPDATE wechatpay_certificate_refresh SET lease_until_ms = ?1, lease_owner = ?2 \
             WHERE id = 1 AND lease_until_ms < ?3 AND refreshed_at_ms <= ?4 RETURNING lease_until_ms",
        )
        .bind(&[
            JsValue::from_f64((now + LEASE_MS) as f64),
            owner.as_str().into(),
            JsValue::from_f64(now as f64),
            JsValue::from_f64((now - MIN_REFRESH_INTERVAL_MS) as f64),
        ])?
        .first::<LeaseRow>(None)
        .await?
        .is_some();
    if !won {
        // Someone else is downloading (wait for it), or did so a moment ago (nothing to do).
        return wait_for_lease(env).await;
    }
    let outcome = download(env, config).await;
    let (refreshed, stored) = match &outcome {
        Ok(certs) => (true, certs.len()),
        Err(e) => {
            worker::console_error!("platform certificate download failed: {e:?}");
            (false, 0)
        }
    };
    db.prepare(
        "UPDATE wechatpay_certificate_refresh SET lease_until_ms = 0, refreshed_at_ms = ?1, \
         refreshes = refreshes + 1 WHERE id = 1 AND lease_owner = ?2",
    )
    .bind(&[JsValue::from_f64(now_ms() as f64), owner.as_str().into()])?
    .run()
    .await?;
    if refreshed {
        worker::console_log!("platform certificates refreshed: {stored} listed");
    }
    outcome.map(|_| true)
}

#[derive(Deserialize)]
struct Listing {
    data: Vec<ListedCertificate>,
}

#[derive(Deserialize)]
struct ListedCertificate {
    serial_no: String,
    effective_time: String,
    expire_time: String,
    encrypt_certificate: EncryptedCertificate,
}

#[derive(Deserialize)]
struct EncryptedCertificate {
    algorithm: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
    ciphertext: String,
}

/// `GET /v3/certificates`: decrypts every listed certificate (AEAD with the APIv3 key, which
/// only WeChat Pay and we hold), checks each serial, verifies the answer's signature with the
/// public key, the stored certificates and the downloaded ones, and stores them.
async fn download(env: &Env, config: &PayConfig) -> Result<Vec<Certificate>, ApiError> {
    let answer = client::exchange(config, Method::Get, "/v3/certificates", None)
        .await
        .map_err(|e| ApiError::Upstream(format!("/v3/certificates: {e}")))?;
    if answer.status != 200 {
        return Err(ApiError::Upstream(format!(
            "/v3/certificates: HTTP {}",
            answer.status
        )));
    }
    let listing: Listing = serde_json::from_slice(&answer.body)
        .map_err(|e| ApiError::Upstream(format!("/v3/certificates: {e}")))?;
    let mut downloaded = Vec::new();
    for item in &listing.data {
        let encrypted = &item.encrypt_certificate;
        if encrypted.algorithm != shoukuan_core::wechatpay::ALGORITHM {
            return Err(ApiError::Upstream(format!(
                "/v3/certificates: algorithm {}",
                encrypted.algorithm
            )));
        }
        let pem = aead_decrypt_to_string(
            &config.apiv3_key,
            encrypted.nonce.as_bytes(),
            encrypted.associated_data.as_bytes(),
            &encrypted.ciphertext,
        )
        .map_err(|e| {
            ApiError::Upstream(format!("/v3/certificates: {e} (APIv3 key likely wrong)"))
        })?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| ApiError::Upstream(format!("/v3/certificates: {e}")))?;
        if !cert.serial().eq_ignore_ascii_case(&item.serial_no) {
            return Err(ApiError::Upstream(format!(
                "/v3/certificates: serial {} does not match its certificate",
                item.serial_no
            )));
        }
        let effective = paytime::parse_rfc3339(&item.effective_time).unwrap_or(0);
        let expires = paytime::parse_rfc3339(&item.expire_time).unwrap_or(i64::MAX / 2);
        downloaded.push((cert, pem, effective, expires));
    }
    let mut all = certificates(env, true).await?;
    all.extend(downloaded.iter().map(|(cert, ..)| cert.clone()));
    let headers = answer
        .signed_headers()
        .map_err(|e| ApiError::Upstream(format!("/v3/certificates: {e}")))?;
    attempt(config, &key_set(config, &all), &headers, &answer.body)
        .await
        .map_err(|e| ApiError::Upstream(format!("/v3/certificates answer does not verify: {e}")))?;
    let db = env.d1("DB")?;
    let now = JsValue::from_f64(now_secs() as f64);
    let mut statements = Vec::new();
    for (cert, pem, effective, expires) in &downloaded {
        statements.push(
            db.prepare(
                "INSERT INTO wechatpay_certificates (serial, pem, effective_at, expires_at, fetched_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (serial) DO UPDATE SET \
                 pem = excluded.pem, effective_at = excluded.effective_at, expires_at = excluded.expires_at, \
                 fetched_at = excluded.fetched_at",
            )
            .bind(&[
                cert.serial().into(),
                pem.as_str().into(),
                JsValue::from_f64(*effective as f64),
                JsValue::from_f64(*expires as f64),
                now.clone(),
            ])?,
        );
    }
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(downloaded.into_iter().map(|(cert, ..)| cert).collect())
}
