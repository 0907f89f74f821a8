//! Verification of what WeChat Pay sends us — API responses and callbacks — as a pure function
//! of (headers, raw body bytes, key set, now).
//!
//! Every check has its own [`VerifyError`] variant so an operator can tell a missing header from
//! a skewed clock, an unknown serial (stale certificate list, or a public-key migration), a
//! `WECHATPAY/SIGNTEST/` probe, or a genuinely bad signature.

use base64::Engine as _;

use super::keys::{Certificate, PublicKey};
use super::sign::{sign_base64, SignError, Signer};

/// Header carrying the Unix-seconds timestamp that is signed.
pub const HEADER_TIMESTAMP: &str = "Wechatpay-Timestamp";
/// Header carrying the random nonce that is signed.
pub const HEADER_NONCE: &str = "Wechatpay-Nonce";
/// Header carrying the base64 signature.
pub const HEADER_SIGNATURE: &str = "Wechatpay-Signature";
/// Header naming the key: a platform certificate serial or a `PUB_KEY_ID_…`.
pub const HEADER_SERIAL: &str = "Wechatpay-Serial";
/// Header naming the signature algorithm (WeChat Pay sends it with every signed response and
/// callback; absent is read as RSA, as older messages omitted it).
pub const HEADER_SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";
/// The one signature algorithm verified here: SHA256withRSA with a 2048-bit key.
pub const SIGNATURE_TYPE_RSA: &str = "WECHATPAY2-SHA256-RSA2048";
/// The largest accepted |now − Wechatpay-Timestamp|, in seconds.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// WeChat Pay's deliberately wrong "signature probe" values start with this.
pub const SIGNATURE_PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";
/// WeChat Pay public-key ids start with this (the rest is an opaque digit string).
pub const PUBLIC_KEY_ID_PREFIX: &str = "PUB_KEY_ID_";

/// Why a signed response or callback was rejected. Each variant is a different thing to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required `Wechatpay-*` header is absent or empty (a proxy or CDN may strip them).
    #[error("header {0} is missing (a proxy or CDN in front of the server may strip Wechatpay-* headers)")]
    MissingHeader(&'static str),
    /// `Wechatpay-Signature-Type` names an algorithm other than RSA (e.g. the SM2 national
    /// cryptography one a merchant can opt into): such messages cannot be verified here.
    #[error("unsupported signature type: Wechatpay-Signature-Type is \"{0}\", only WECHATPAY2-SHA256-RSA2048 is supported (SM2-signed messages are not; switch the merchant account back to RSA)")]
    UnsupportedSignatureType(String),
    /// `Wechatpay-Timestamp` is not a decimal number of seconds.
    #[error("Wechatpay-Timestamp \"{0}\" is not Unix seconds")]
    BadTimestamp(String),
    /// The timestamp is more than [`MAX_CLOCK_SKEW_SECS`] away from now.
    #[error("clock skew: Wechatpay-Timestamp is {seconds} s away from now (limit {MAX_CLOCK_SKEW_SECS} s); check the server clock, or this is a replay")]
    ClockSkew {
        /// now − timestamp, in seconds (positive: the message is old).
        seconds: i64,
    },
    /// No configured key has this serial / public-key id.
    #[error("unknown serial: Wechatpay-Serial {serial} matches no configured key (known: {}); refresh the platform certificates or configure this WeChat Pay public key", display_ids(.known))]
    UnknownSerial {
        /// The serial the message named.
        serial: String,
        /// The ids the key set does know.
        known: Vec<String>,
    },
    /// A `WECHATPAY/SIGNTEST/…` probe: WeChat Pay checks that we reject bad signatures and will
    /// resend properly signed. Answer it like any failure (4XX/5XX).
    #[error("signature probe: Wechatpay-Signature starts with WECHATPAY/SIGNTEST/ (WeChat Pay testing that bad signatures are rejected; it will resend with a real signature)")]
    SignatureProbe,
    /// `Wechatpay-Signature` is not base64.
    #[error("bad signature: Wechatpay-Signature is not base64")]
    SignatureNotBase64,
    /// The signature does not match the body with the named key.
    #[error("bad signature: the signature does not match the body with the key for this serial (body altered, re-serialised, or the key is not the one WeChat Pay used)")]
    BadSignature,
}

fn display_ids(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".to_string()
    } else {
        ids.join(", ")
    }
}

/// How a key in a [`KeySet`] was obtained, which decides how WeChat Pay names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A platform certificate, named by its serial (legacy mode).
    PlatformCertificate,
    /// A WeChat Pay public key, named by its `PUB_KEY_ID_…`.
    WechatpayPublicKey,
}

#[derive(Debug, Clone)]
struct KeyEntry {
    id: String,
    kind: KeyKind,
    key: PublicKey,
}

/// The keys WeChat Pay may sign with, by `Wechatpay-Serial`: platform certificates and WeChat Pay
/// public keys side by side, because during WeChat's migration callbacks arrive signed either way.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    entries: Vec<KeyEntry>,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn insert(&mut self, id: String, kind: KeyKind, key: PublicKey) {
        self.entries.retain(|entry| entry.id != id);
        self.entries.push(KeyEntry { id, kind, key });
    }

    /// Adds (or replaces) a platform certificate, under its own serial.
    pub fn add_certificate(&mut self, certificate: &Certificate) {
        self.insert(
            certificate.serial().to_string(),
            KeyKind::PlatformCertificate,
            certificate.public_key().clone(),
        );
    }

    /// Adds (or replaces) a WeChat Pay public key under its id (`PUB_KEY_ID_…`, compared exactly).
    pub fn add_public_key(&mut self, id: impl Into<String>, key: PublicKey) {
        self.insert(id.into(), KeyKind::WechatpayPublicKey, key);
    }

    /// The key named by `serial`. Certificate serials match case-insensitively (they are hex);
    /// public-key ids match exactly.
    pub fn get(&self, serial: &str) -> Option<(KeyKind, &PublicKey)> {
        self.entries
            .iter()
            .find(|entry| entry.id == serial)
            .or_else(|| {
                self.entries.iter().find(|entry| {
                    entry.kind == KeyKind::PlatformCertificate
                        && entry.id.eq_ignore_ascii_case(serial)
                })
            })
            .map(|entry| (entry.kind, &entry.key))
    }

    /// The ids this set knows, in insertion order.
    pub fn ids(&self) -> Vec<String> {
        self.entries.iter().map(|entry| entry.id.clone()).collect()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The four `Wechatpay-*` headers of a signed response or callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `Wechatpay-Timestamp`, as received (it is signed as text).
    pub timestamp: String,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature` (base64, or a probe).
    pub signature: String,
    /// `Wechatpay-Serial`.
    pub serial: String,
}

impl SignedHeaders {
    /// Picks the four headers out of `(name, value)` pairs; names are case-insensitive, values
    /// are trimmed. A missing or empty header is an error, never a skipped check. A
    /// `Wechatpay-Signature-Type` other than [`SIGNATURE_TYPE_RSA`] is refused before anything
    /// else is looked at (absent or empty is RSA).
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let pairs: Vec<(K, V)> = pairs.into_iter().collect();
        let find = |name: &'static str| {
            pairs
                .iter()
                .find(|(k, _)| k.as_ref().trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_ref().trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or(VerifyError::MissingHeader(name))
        };
        if let Ok(kind) = find(HEADER_SIGNATURE_TYPE) {
            if kind != SIGNATURE_TYPE_RSA {
                return Err(VerifyError::UnsupportedSignatureType(kind));
            }
        }
        Ok(SignedHeaders {
            timestamp: find(HEADER_TIMESTAMP)?,
            nonce: find(HEADER_NONCE)?,
            signature: find(HEADER_SIGNATURE)?,
            serial: find(HEADER_SERIAL)?,
        })
    }

    /// The headers as `(name, value)` pairs, ready to send.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        vec![
            (HEADER_TIMESTAMP.to_string(), self.timestamp.clone()),
            (HEADER_NONCE.to_string(), self.nonce.clone()),
            (HEADER_SIGNATURE.to_string(), self.signature.clone()),
            (HEADER_SERIAL.to_string(), self.serial.clone()),
        ]
    }
}

/// The signed message of a response or callback: timestamp, nonce and raw body, each followed
/// by `\n` (an empty body still gets its `\n`).
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// Parses `timestamp` and checks it is within [`MAX_CLOCK_SKEW_SECS`] of `now`.
pub fn check_clock_skew(timestamp: &str, now: i64) -> Result<i64, VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp(timestamp.to_string()))?;
    let seconds = now.saturating_sub(ts);
    if seconds.unsigned_abs() > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
        return Err(VerifyError::ClockSkew { seconds });
    }
    Ok(ts)
}

/// Decodes `Wechatpay-Signature`, recognising probes first (they are not valid base64, and must
/// fail as a rejection, not as a crash).
pub fn decode_signature(signature: &str) -> Result<Vec<u8>, VerifyError> {
    if signature.starts_with(SIGNATURE_PROBE_PREFIX) {
        return Err(VerifyError::SignatureProbe);
    }
    base64::engine::general_purpose::STANDARD
        .decode(signature.trim().as_bytes())
        .map_err(|_| VerifyError::SignatureNotBase64)
}

/// The seam for RSA verification back ends (pure Rust here; a worker may plug in WebCrypto).
pub trait RsaVerifier {
    /// True when `signature` is a valid SHA256withRSA signature of `message` under `key`.
    fn verify_sha256_rsa(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool;
}

/// [`RsaVerifier`] with the pure-Rust `rsa` crate (native and wasm32).
#[derive(Debug, Clone, Copy, Default)]
pub struct RustRsa;

impl RsaVerifier for RustRsa {
    fn verify_sha256_rsa(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
        key.verify_sha256(message, signature)
    }
}

/// What a successful verification found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The serial / public-key id that signed.
    pub serial: String,
    /// Whether that was a platform certificate or a WeChat Pay public key.
    pub kind: KeyKind,
}

/// Everything checked except the RSA operation itself, for back ends that verify asynchronously
/// (WebCrypto): take [`message`](Self::message), [`signature`](Self::signature) and
/// [`public_key`](Self::public_key)`.spki_der()`, verify, then call [`finish`](Self::finish).
#[derive(Debug)]
pub struct PendingVerification<'k> {
    serial: String,
    kind: KeyKind,
    key: &'k PublicKey,
    message: Vec<u8>,
    signature: Vec<u8>,
}

impl<'k> PendingVerification<'k> {
    /// Runs the checks in the order an operator would: clock skew, key by serial, probe, base64.
    pub fn prepare(
        headers: &SignedHeaders,
        body: &[u8],
        keys: &'k KeySet,
        now: i64,
    ) -> Result<Self, VerifyError> {
        check_clock_skew(&headers.timestamp, now)?;
        let (kind, key) = keys
            .get(&headers.serial)
            .ok_or_else(|| VerifyError::UnknownSerial {
                serial: headers.serial.clone(),
                known: keys.ids(),
            })?;
        let signature = decode_signature(&headers.signature)?;
        Ok(PendingVerification {
            serial: headers.serial.clone(),
            kind,
            key,
            message: response_message(&headers.timestamp, &headers.nonce, body),
            signature,
        })
    }

    /// The exact bytes that were signed.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The key selected by serial.
    pub fn public_key(&self) -> &'k PublicKey {
        self.key
    }

    /// Completes verification with the back end's answer.
    pub fn finish(self, signature_valid: bool) -> Result<Verified, VerifyError> {
        if signature_valid {
            Ok(Verified {
                serial: self.serial,
                kind: self.kind,
            })
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    /// Completes verification with a synchronous back end.
    pub fn verify_with(
        self,
        verifier: &(impl RsaVerifier + ?Sized),
    ) -> Result<Verified, VerifyError> {
        let valid = verifier.verify_sha256_rsa(self.key, &self.message, &self.signature);
        self.finish(valid)
    }
}

/// Verifies a signed response or callback with the pure-Rust back end.
pub fn verify_signed(
    headers: &SignedHeaders,
    body: &[u8],
    keys: &KeySet,
    now: i64,
) -> Result<Verified, VerifyError> {
    PendingVerification::prepare(headers, body, keys, now)?.verify_with(&RustRsa)
}

/// Verifies one message against one known key (no serial lookup): the CLI's `verify`.
pub fn verify_with_key(
    key: &PublicKey,
    headers_timestamp: &str,
    nonce: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    check_clock_skew(headers_timestamp, now)?;
    let signature = decode_signature(signature)?;
    let message = response_message(headers_timestamp, nonce, body);
    if key.verify_sha256(&message, &signature) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// Signs `body` the way WeChat Pay signs responses and callbacks and returns the four
/// `Wechatpay-*` headers. For tests and the simulator, which play WeChat Pay.
pub fn sign_for_test(
    signer: &(impl Signer + ?Sized),
    serial: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Result<SignedHeaders, SignError> {
    let timestamp = timestamp.to_string();
    let signature = sign_base64(signer, &response_message(&timestamp, nonce, body))?;
    Ok(SignedHeaders {
        timestamp,
        nonce: nonce.to_string(),
        signature,
        serial: serial.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs() -> Vec<(&'static str, &'static str)> {
        vec![
            ("wechatpay-timestamp", " 100 "),
            ("WECHATPAY-NONCE", "n"),
            ("Wechatpay-Signature", "c2ln"),
            ("Wechatpay-Serial", "ABC"),
        ]
    }

    #[test]
    fn header_names_are_case_insensitive_and_values_trimmed() {
        let headers = SignedHeaders::from_pairs(pairs()).unwrap();
        assert_eq!(headers.timestamp, "100");
        assert_eq!(headers.serial, "ABC");
    }

    #[test]
    fn each_missing_header_is_named() {
        for name in [
            HEADER_TIMESTAMP,
            HEADER_NONCE,
            HEADER_SIGNATURE,
            HEADER_SERIAL,
        ] {
            let without: Vec<_> = pairs()
                .into_iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
                .collect();
            assert_eq!(
                SignedHeaders::from_pairs(without).unwrap_err(),
                VerifyError::MissingHeader(name)
            );
        }
    }

    #[test]
    fn only_the_rsa_signature_type_is_accepted_and_others_are_named() {
        let with_type = |kind: &'static str| {
            let mut pairs = pairs();
            pairs.push(("wechatpay-signature-type", kind));
            SignedHeaders::from_pairs(pairs)
        };
        assert!(with_type(" WECHATPAY2-SHA256-RSA2048 ").is_ok());
        assert!(with_type("").is_ok(), "empty reads as absent, i.e. RSA");
        let err = with_type("WECHATPAY2-SM2-WITH-SM3").unwrap_err();
        assert_eq!(
            err,
            VerifyError::UnsupportedSignatureType("WECHATPAY2-SM2-WITH-SM3".into())
        );
        let message = err.to_string();
        assert!(
            message.contains("WECHATPAY2-SM2-WITH-SM3") && message.contains("SM2"),
            "{message}"
        );
    }

    #[test]
    fn an_empty_header_counts_as_missing() {
        let mut with_empty = pairs();
        with_empty[1].1 = "  ";
        assert_eq!(
            SignedHeaders::from_pairs(with_empty).unwrap_err(),
            VerifyError::MissingHeader(HEADER_NONCE)
        );
    }

    #[test]
    fn clock_skew_accepts_300_seconds_and_rejects_301_either_way() {
        assert!(check_clock_skew("1000", 1300).is_ok());
        assert!(check_clock_skew("1000", 700).is_ok());
        assert_eq!(
            check_clock_skew("1000", 1301),
            Err(VerifyError::ClockSkew { seconds: 301 })
        );
        assert_eq!(
            check_clock_skew("1000", 699),
            Err(VerifyError::ClockSkew { seconds: -301 })
        );
        assert_eq!(
            check_clock_skew("12a", 0),
            Err(VerifyError::BadTimestamp("12a".into()))
        );
    }

    #[test]
    fn probe_signatures_are_named_not_decoded() {
        assert_eq!(
            decode_signature("WECHATPAY/SIGNTEST/abcdef"),
            Err(VerifyError::SignatureProbe)
        );
        assert_eq!(
            decode_signature("%%%"),
            Err(VerifyError::SignatureNotBase64)
        );
    }

    #[test]
    fn unknown_serial_lists_the_known_ids() {
        let headers = SignedHeaders::from_pairs(pairs()).unwrap();
        let err = verify_signed(&headers, b"", &KeySet::new(), 100).unwrap_err();
        assert_eq!(
            err,
            VerifyError::UnknownSerial {
                serial: "ABC".into(),
                known: vec![]
            }
        );
        assert!(err.to_string().contains("known: none"), "{err}");
    }
}
