//! Request signing (merchant → WeChat Pay): the five-line canonical message, SHA256withRSA, and
//! the `Authorization: WECHATPAY2-SHA256-RSA2048 …` header — built, parsed back and checked (the
//! simulator plays WeChat Pay and must reject what WeChat Pay would reject).

use base64::Engine as _;

use super::keys::{PrivateKey, PublicKey};
use super::verify::MAX_CLOCK_SKEW_SECS;

/// The `Authorization` scheme token for APIv3.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// Signing failed inside the RSA implementation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The signer refused (e.g. a key too small for a SHA-256 PKCS#1 v1.5 signature).
    #[error("SHA256withRSA signing failed: {0}")]
    Failed(String),
}

/// Something that computes SHA256withRSA (RSASSA-PKCS1-v1_5, SHA-256) signatures.
///
/// The seam for other RSA back ends: [`PrivateKey`] implements it with the pure-Rust `rsa` crate
/// (native and wasm32). A runtime with an asynchronous WebCrypto instead builds the message with
/// [`request_message`] / [`super::jsapi::paysign_message`], signs it itself, and assembles the
/// result with [`Authorization`] / [`super::jsapi::JsapiPayParams`] fields directly.
pub trait Signer {
    /// Signs `message` (the exact bytes; the signer hashes them) and returns the raw signature.
    fn sign_sha256_rsa(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

impl Signer for PrivateKey {
    fn sign_sha256_rsa(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_sha256(message)
            .map_err(|e| SignError::Failed(e.to_string()))
    }
}

/// Signs `message` and returns the signature as standard base64 (with padding).
pub fn sign_base64(signer: &(impl Signer + ?Sized), message: &[u8]) -> Result<String, SignError> {
    let signature = signer.sign_sha256_rsa(message)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(signature))
}

/// The canonical request message: method, URL (path + `?query` exactly as sent), timestamp,
/// nonce and body, each followed by `\n` — including the body, even when it is empty or itself
/// ends in `\n`.
pub fn request_message(
    method: &str,
    canonical_url: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut message = format!("{method}\n{canonical_url}\n{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// Why an `Authorization` header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// The header does not start with the expected scheme token.
    #[error("Authorization scheme is \"{found}\", expected {SCHEME}")]
    BadScheme {
        /// What the header started with.
        found: String,
    },
    /// The `key="value"` list could not be read.
    #[error("Authorization header is malformed: {0}")]
    Malformed(String),
    /// One of mchid, nonce_str, signature, timestamp, serial_no is absent.
    #[error("Authorization header lacks {0}")]
    MissingField(&'static str),
    /// `timestamp` is not a decimal number of seconds.
    #[error("Authorization timestamp \"{0}\" is not Unix seconds")]
    BadTimestamp(String),
    /// The timestamp is too far from now.
    #[error("Authorization timestamp is {seconds} s away from now (limit {MAX_CLOCK_SKEW_SECS} s): check the clock")]
    ClockSkew {
        /// now − timestamp, in seconds.
        seconds: i64,
    },
    /// `signature` is not base64.
    #[error("Authorization signature is not base64")]
    SignatureNotBase64,
    /// The signature does not match the request as received.
    #[error("Authorization signature does not match the request (method, URL with query, timestamp, nonce and body must be signed exactly as sent)")]
    BadSignature,
}

/// The five fields of an APIv3 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Merchant id.
    pub mchid: String,
    /// The random string also signed in the message.
    pub nonce_str: String,
    /// Unix seconds, also signed in the message.
    pub timestamp: i64,
    /// Serial of the merchant API certificate (not the platform one, not `PUB_KEY_ID_…`).
    pub serial_no: String,
    /// Base64 SHA256withRSA of [`request_message`].
    pub signature: String,
}

impl Authorization {
    /// Signs a request and returns the header fields.
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        signer: &(impl Signer + ?Sized),
        mchid: &str,
        serial_no: &str,
        method: &str,
        canonical_url: &str,
        timestamp: i64,
        nonce: &str,
        body: &[u8],
    ) -> Result<Self, SignError> {
        let message = request_message(method, canonical_url, timestamp, nonce, body);
        Ok(Authorization {
            mchid: mchid.to_string(),
            nonce_str: nonce.to_string(),
            timestamp,
            serial_no: serial_no.to_string(),
            signature: sign_base64(signer, &message)?,
        })
    }

    /// The header value: `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",…`.
    pub fn header_value(&self) -> String {
        self.header_value_with_scheme(SCHEME)
    }

    /// The header value with another scheme token (tests of the format use a mock one).
    /// Field order follows the Go SDK; WeChat Pay does not care about it.
    pub fn header_value_with_scheme(&self, scheme: &str) -> String {
        format!(
            "{scheme} mchid=\"{}\",nonce_str=\"{}\",timestamp=\"{}\",serial_no=\"{}\",signature=\"{}\"",
            self.mchid, self.nonce_str, self.timestamp, self.serial_no, self.signature
        )
    }

    /// Parses a header value (field order free, as WeChat Pay accepts).
    pub fn parse(header_value: &str) -> Result<Self, AuthorizationError> {
        let header_value = header_value.trim();
        let (scheme, params) = header_value.split_once(' ').unwrap_or((header_value, ""));
        if scheme != SCHEME {
            return Err(AuthorizationError::BadScheme {
                found: scheme.to_string(),
            });
        }
        let pairs = parse_params(params)?;
        let field = |name: &'static str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or(AuthorizationError::MissingField(name))
        };
        let timestamp_text = field("timestamp")?;
        Ok(Authorization {
            mchid: field("mchid")?,
            nonce_str: field("nonce_str")?,
            timestamp: timestamp_text
                .parse()
                .map_err(|_| AuthorizationError::BadTimestamp(timestamp_text.clone()))?,
            serial_no: field("serial_no")?,
            signature: field("signature")?,
        })
    }

    /// Checks the signature against the request as received, and the timestamp against `now`.
    /// Which `mchid` / `serial_no` are acceptable is the caller's business.
    pub fn verify(
        &self,
        merchant_key: &PublicKey,
        method: &str,
        canonical_url: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), AuthorizationError> {
        let seconds = now.saturating_sub(self.timestamp);
        if seconds.unsigned_abs() > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
            return Err(AuthorizationError::ClockSkew { seconds });
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(self.signature.as_bytes())
            .map_err(|_| AuthorizationError::SignatureNotBase64)?;
        let message = request_message(method, canonical_url, self.timestamp, &self.nonce_str, body);
        if merchant_key.verify_sha256(&message, &signature) {
            Ok(())
        } else {
            Err(AuthorizationError::BadSignature)
        }
    }
}

/// Reads `k="v",k="v"` (spaces around commas tolerated).
fn parse_params(params: &str) -> Result<Vec<(String, String)>, AuthorizationError> {
    let mut pairs = Vec::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after_key) = rest.split_once('=').ok_or_else(|| {
            AuthorizationError::Malformed(format!("expected key=\"value\" at \"{rest}\""))
        })?;
        let after_quote = after_key.strip_prefix('"').ok_or_else(|| {
            AuthorizationError::Malformed(format!("value of {} is not quoted", key.trim()))
        })?;
        let (value, after_value) = after_quote.split_once('"').ok_or_else(|| {
            AuthorizationError::Malformed(format!("value of {} is not closed", key.trim()))
        })?;
        pairs.push((key.trim().to_string(), value.to_string()));
        rest = after_value.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_still_gets_its_own_line() {
        let message = request_message("GET", "/v3/x?a=1", 1, "n", b"");
        assert_eq!(message, b"GET\n/v3/x?a=1\n1\nn\n\n");
    }

    #[test]
    fn body_ending_in_newline_gets_one_more() {
        let message = request_message("POST", "/v3/certificates", 2, "n", b"Hello\n");
        assert_eq!(message, b"POST\n/v3/certificates\n2\nn\nHello\n\n");
    }

    #[test]
    fn header_parses_back_in_any_field_order() {
        let auth = Authorization {
            mchid: "1900007291".into(),
            nonce_str: "abc".into(),
            timestamp: 1554208460,
            serial_no: "408B".into(),
            signature: "c2ln".into(),
        };
        assert_eq!(Authorization::parse(&auth.header_value()).unwrap(), auth);
        let shuffled = format!(
            "{SCHEME} signature=\"c2ln\", serial_no=\"408B\",timestamp=\"1554208460\",nonce_str=\"abc\",mchid=\"1900007291\""
        );
        assert_eq!(Authorization::parse(&shuffled).unwrap(), auth);
    }

    #[test]
    fn header_without_a_field_names_it() {
        let header =
            format!("{SCHEME} mchid=\"1\",nonce_str=\"n\",timestamp=\"1\",signature=\"s\"");
        assert_eq!(
            Authorization::parse(&header).unwrap_err(),
            AuthorizationError::MissingField("serial_no")
        );
    }

    #[test]
    fn other_schemes_are_rejected() {
        let err = Authorization::parse("Bearer abc").unwrap_err();
        assert_eq!(
            err,
            AuthorizationError::BadScheme {
                found: "Bearer".into()
            }
        );
    }
}
