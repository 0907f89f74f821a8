//! Outbound webhooks for accounting systems (ERP sync): what is sent, how it is signed, where
//! it may go and when a failed delivery is tried again.
//!
//! Signing follows Stripe's scheme: the header
//! `Shoukuan-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, with a
//! per-endpoint secret (`whsec_…`) shown once when the endpoint is made. A receiver recomputes
//! the HMAC over the raw body, compares in constant time and refuses timestamps older than a
//! few minutes (replays). Deliveries are retried on [`RETRY_AFTER_SECS`] for a day.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::money::Fen;
use crate::paytime::rfc3339_cst;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Shoukuan-Signature";

/// Prefix of an endpoint secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// How long a receiver should accept a timestamp (seconds, either way).
pub const TOLERANCE_SECS: i64 = 300;

/// Seconds after the first attempt at which attempt 2, 3, … are due: 1 min, 5 min, 30 min,
/// 2 h, 6 h, 12 h, 24 h. After the last one the delivery is given up (a manual resend still
/// works).
pub const RETRY_AFTER_SECS: [i64; 7] = [60, 300, 1_800, 7_200, 21_600, 43_200, 86_400];

/// The longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 500;

/// Event types.
pub mod event {
    /// A payment was confirmed (verified by WeChat Pay).
    pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
    /// A refund reached `SUCCESS`.
    pub const REFUND_SUCCEEDED: &str = "refund.succeeded";
    /// A day's books were reconciled with WeChat's bill (`data` is `core::bill::DayReport`).
    pub const DAY_REPORT: &str = "books.day_report";
    /// A synthetic event the payee sends to check the endpoint.
    pub const PING: &str = "ping";
}

/// `t=…,v1=…` for `body` at `t`.
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Why a signature header is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `t=` or no `v1=`.
    #[error("malformed signature header")]
    Malformed,
    /// Outside [`TOLERANCE_SECS`] of now.
    #[error("timestamp outside the tolerance")]
    Stale,
    /// No `v1` matches.
    #[error("no signature matches")]
    Mismatch,
}

/// What a receiver does (also used by the tests): checks `header` over `body` at `now`.
pub fn verify_header(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(hex::decode(v).unwrap_or_default()),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, t, body);
    if signatures.iter().any(|s| {
        use subtle::ConstantTimeEq as _;
        s.len() == expected.len() && bool::from(expected.as_slice().ct_eq(s))
    }) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// A new endpoint secret from 32 random bytes (the caller draws them).
pub fn new_secret(random: [u8; 32]) -> String {
    format!("{SECRET_PREFIX}{}", hex::encode(random))
}

/// When attempt `attempts + 1` is due for a delivery first tried at `first_at`, or `None`
/// when `attempts` tries have used up the day.
pub fn next_attempt_at(first_at: i64, attempts: u32) -> Option<i64> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_AFTER_SECS.get(index).map(|after| first_at + after)
}

/// Why an endpoint URL is refused (the message is for the payee).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Empty, too long, not an absolute URL, or with credentials.
    #[error("请填写完整的网址，例如 https://erp.example.com/hooks/shoukuan")]
    Malformed,
    /// `http://` outside a local run.
    #[error("网址必须以 https:// 开头")]
    NotHttps,
    /// A loopback or private address in a deployment.
    #[error("不能推送到本机或内网地址")]
    PrivateHost,
}

/// Validates an endpoint URL: `https://` with a public host name; in a local run
/// (`local = true`) also `http://` on a loopback host.
pub fn validate_url(input: &str, local: bool) -> Result<String, UrlError> {
    let url = input.trim();
    if url.is_empty()
        || url.len() > MAX_URL_LEN
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(UrlError::Malformed);
    }
    let host = crate::urlenc::http_host(url).ok_or(UrlError::Malformed)?;
    if url.contains('#') {
        return Err(UrlError::Malformed);
    }
    let loopback = crate::urlenc::is_loopback_url(url);
    if local && loopback {
        return Ok(url.to_string());
    }
    if !url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        return Err(UrlError::NotHttps);
    }
    if loopback || is_private_host(&host) {
        return Err(UrlError::PrivateHost);
    }
    Ok(url.to_string())
}

fn is_private_host(host: &str) -> bool {
    if host.starts_with('[') || host.ends_with(".local") || host.ends_with(".internal") {
        return true;
    }
    let octets: Vec<u8> = host.split('.').filter_map(|p| p.parse().ok()).collect();
    if octets.len() == 4 && host.split('.').count() == 4 {
        return matches!(
            octets.as_slice(),
            [10, ..] | [127, ..] | [0, ..] | [169, 254, ..] | [192, 168, ..]
        ) || (octets[0] == 172 && (16..=31).contains(&octets[1]))
            || (octets[0] == 100 && (64..=127).contains(&octets[1]));
    }
    !host.contains('.')
}

/// A confirmed payment as an accounting system receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentData {
    /// Our order number.
    pub out_trade_no: String,
    /// WeChat Pay's transaction id.
    pub transaction_id: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// The same in yuan, `12.34`.
    pub amount: String,
    /// RFC 3339, China time.
    pub paid_at: String,
    /// The collection.
    pub collection_id: String,
    /// Its title.
    pub collection: String,
    /// The receipt page, if one was issued.
    pub receipt_url: Option<String>,
}

impl PaymentData {
    /// From the stored order's fields.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        out_trade_no: &str,
        transaction_id: &str,
        amount: Fen,
        paid_at: i64,
        collection_id: &str,
        collection: &str,
        receipt_url: Option<String>,
    ) -> PaymentData {
        PaymentData {
            out_trade_no: out_trade_no.into(),
            transaction_id: transaction_id.into(),
            amount_fen: amount.get(),
            amount: amount.to_yuan_string(),
            paid_at: rfc3339_cst(paid_at),
            collection_id: collection_id.into(),
            collection: collection.into(),
            receipt_url,
        }
    }
}

/// A refund that reached `SUCCESS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundData {
    /// Our refund number.
    pub out_refund_no: String,
    /// The order refunded.
    pub out_trade_no: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// The same in yuan.
    pub amount: String,
    /// The reason given.
    pub reason: String,
    /// RFC 3339, China time (when we learnt of the success).
    pub succeeded_at: String,
}

impl RefundData {
    /// From the stored refund's fields.
    pub fn new(
        out_refund_no: &str,
        out_trade_no: &str,
        amount: Fen,
        reason: &str,
        at: i64,
    ) -> RefundData {
        RefundData {
            out_refund_no: out_refund_no.into(),
            out_trade_no: out_trade_no.into(),
            amount_fen: amount.get(),
            amount: amount.to_yuan_string(),
            reason: reason.into(),
            succeeded_at: rfc3339_cst(at),
        }
    }
}

/// The JSON body of a delivery: `{id, type, created, data}`. `id` is the event's id, the
/// same on every retry and resend (receivers dedupe on it).
pub fn body<T: Serialize>(event_id: &str, kind: &str, created: i64, data: &T) -> String {
    serde_json::json!({
        "id": event_id,
        "type": kind,
        "created": created,
        "data": data,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let secret = new_secret([7; 32]);
        let body = br#"{"id":"evt_1"}"#;
        let header = signature_header(&secret, 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        assert_eq!(verify_header(&secret, &header, body, 1_700_000_100), Ok(()));
        assert_eq!(
            verify_header(&secret, &header, br#"{"id":"evt_2"}"#, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_header("whsec_other", &header, body, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_header(&secret, &header, body, 1_700_000_000 + TOLERANCE_SECS + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_header(&secret, "v1=00", body, 0),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_t_dot_body() {
        // Independent computation with the same primitive: "t.body" under the secret.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"whsec_k").unwrap();
        mac.update(b"5.{}");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            signature_header("whsec_k", 5, b"{}"),
            format!("t=5,v1={expected}")
        );
    }

    #[test]
    fn retries_back_off_for_a_day_then_stop() {
        assert_eq!(next_attempt_at(1000, 0), None);
        assert_eq!(next_attempt_at(1000, 1), Some(1060));
        assert_eq!(next_attempt_at(1000, 2), Some(1300));
        assert_eq!(next_attempt_at(1000, 7), Some(1000 + 86_400));
        assert_eq!(next_attempt_at(1000, 8), None);
        assert!(RETRY_AFTER_SECS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn urls_must_be_public_https_except_loopback_in_a_local_run() {
        assert!(validate_url("https://erp.example.com/hook", false).is_ok());
        assert_eq!(
            validate_url("http://erp.example.com/hook", false),
            Err(UrlError::NotHttps)
        );
        assert_eq!(
            validate_url("http://127.0.0.1:9000/h", false),
            Err(UrlError::NotHttps)
        );
        assert!(validate_url("http://127.0.0.1:9000/h", true).is_ok());
        for private in [
            "https://127.0.0.1/h",
            "https://10.0.0.8/h",
            "https://192.168.1.1/h",
            "https://172.20.0.1/h",
            "https://localhost/h",
            "https://intranet/h",
        ] {
            assert_eq!(
                validate_url(private, false),
                Err(UrlError::PrivateHost),
                "{private}"
            );
        }
        for bad in [
            "",
            "erp.example.com",
            "https://u:p@x.com/",
            "ftp://x.com",
            "https://x.com/a b",
        ] {
            assert!(validate_url(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn bodies_carry_the_event_id_type_and_data() {
        let data = PaymentData::new("SK1", "4200", Fen::new(1234), 0, "c1", "课程费", None);
        let body = body("evt_1", event::PAYMENT_SUCCEEDED, 5, &data);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["type"], "payment.succeeded");
        assert_eq!(v["data"]["amount"], "12.34");
        assert_eq!(v["data"]["paid_at"], "1970-01-01T08:00:00+08:00");
        assert_eq!(v["data"]["collection"], "课程费");
    }
}
