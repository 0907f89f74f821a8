//! The Official Account's server API (`api.weixin.qq.com/cgi-bin/…`), purely: reading its JSON
//! answers, recognising an invalid access_token, the parametric-QR request, and the rule by
//! which the central token cache decides to use, refresh or wait.

use serde::Deserialize;

/// An `errcode`/`errmsg` answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("WeChat errcode {errcode}: {errmsg}")]
pub struct ApiFailure {
    /// WeChat's code; 0 when the body was not understood at all.
    pub errcode: i64,
    /// WeChat's message, or why the body was not understood.
    pub errmsg: String,
}

/// errcode 40164: the caller's IP is not on the account's API allow-list (IP 白名单).
pub const IP_NOT_IN_ALLOW_LIST: i64 = 40164;

impl ApiFailure {
    /// True when the access_token was refused (invalid 40001, malformed 40014, expired
    /// 42001): refresh it once and retry.
    pub fn is_invalid_token(&self) -> bool {
        matches!(self.errcode, 40001 | 40014 | 42001)
    }

    fn malformed(why: impl std::fmt::Display) -> ApiFailure {
        ApiFailure {
            errcode: 0,
            errmsg: format!("unexpected answer: {why}"),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: Option<String>,
}

/// Parses `body` as `T` unless it carries a non-zero `errcode`.
pub fn read<T: for<'de> Deserialize<'de>>(body: &str) -> Result<T, ApiFailure> {
    let envelope: Envelope = serde_json::from_str(body).map_err(ApiFailure::malformed)?;
    if let Some(errcode) = envelope.errcode.filter(|&c| c != 0) {
        return Err(ApiFailure {
            errcode,
            errmsg: envelope.errmsg.unwrap_or_default(),
        });
    }
    serde_json::from_str(body).map_err(ApiFailure::malformed)
}

/// Checks an answer that carries nothing but `errcode: 0` (menu create, template send).
pub fn read_ok(body: &str) -> Result<(), ApiFailure> {
    let envelope: Envelope = serde_json::from_str(body).map_err(ApiFailure::malformed)?;
    match envelope.errcode {
        Some(0) => Ok(()),
        Some(errcode) => Err(ApiFailure {
            errcode,
            errmsg: envelope.errmsg.unwrap_or_default(),
        }),
        None => Err(ApiFailure::malformed("no errcode")),
    }
}

/// `/cgi-bin/token` or `/cgi-bin/stable_token`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccessToken {
    /// The token (store ≥ 512 characters).
    pub access_token: String,
    /// Seconds it lives (7200).
    pub expires_in: i64,
}

/// `/cgi-bin/ticket/getticket?type=jsapi`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JsapiTicket {
    /// The ticket.
    pub ticket: String,
    /// Seconds it lives (7200).
    pub expires_in: i64,
}

/// `/cgi-bin/qrcode/create`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QrCode {
    /// Exchange for the image at `/cgi-bin/showqrcode?ticket=…`.
    pub ticket: String,
    /// Temporary codes: seconds left; absent for permanent ones.
    #[serde(default)]
    pub expire_seconds: Option<i64>,
    /// The QR content (render it yourself).
    pub url: String,
}

/// Longest a temporary parametric QR lives (30 days).
pub const MAX_QR_EXPIRE_SECS: i64 = 2_592_000;

/// The body of `/cgi-bin/qrcode/create` for a string scene: temporary (`QR_STR_SCENE`, with
/// `expire_seconds` clamped to 60 s–30 days) or permanent (`QR_LIMIT_STR_SCENE`).
pub fn qrcode_request(scene_str: &str, expire_seconds: Option<i64>) -> serde_json::Value {
    let scene = serde_json::json!({ "scene": { "scene_str": scene_str } });
    match expire_seconds {
        Some(secs) => serde_json::json!({
            "expire_seconds": secs.clamp(60, MAX_QR_EXPIRE_SECS),
            "action_name": "QR_STR_SCENE",
            "action_info": scene,
        }),
        None => serde_json::json!({ "action_name": "QR_LIMIT_STR_SCENE", "action_info": scene }),
    }
}

/// Refresh a cached credential this long before WeChat says it expires.
pub const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;
/// How long one refresher holds the lease before others may take over (it may have died).
/// Covers a jsapi_ticket refresh that first refreshes the access_token (two 5-second calls).
pub const LEASE_MS: i64 = 12_000;

/// A cached credential as stored: when it expires and until when a refresher holds the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheEntry {
    /// Unix milliseconds; 0 when there is no value (or it was invalidated).
    pub expires_at_ms: i64,
    /// Unix milliseconds until which someone is refreshing; 0 when nobody is.
    pub lease_until_ms: i64,
}

/// What a request should do with the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheDecision {
    /// The value is good: use it.
    Use,
    /// Take the lease and refresh (nobody is refreshing).
    Refresh,
    /// Someone holds the lease: wait and read again.
    Wait,
}

impl CacheEntry {
    /// The decision at `now_ms`. A value inside the refresh margin is still used while another
    /// request refreshes it (WeChat keeps the old token valid for 5 minutes after a refresh).
    pub fn decide(&self, now_ms: i64) -> CacheDecision {
        let leased = self.lease_until_ms > now_ms;
        let fresh = self.expires_at_ms - REFRESH_MARGIN_MS > now_ms;
        let still_valid = self.expires_at_ms > now_ms;
        if fresh || (leased && still_valid) {
            CacheDecision::Use
        } else if leased {
            CacheDecision::Wait
        } else {
            CacheDecision::Refresh
        }
    }
}

/// When a credential that lives `expires_in` seconds, fetched at `now_ms`, expires (ms).
pub fn expiry_ms(now_ms: i64, expires_in: i64) -> i64 {
    now_ms + expires_in.clamp(0, 7 * 24 * 3600) * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_errcode_are_failures() {
        let token: AccessToken = read(r#"{"access_token":"T","expires_in":7200}"#).unwrap();
        assert_eq!(token.access_token, "T");
        let ticket: JsapiTicket =
            read(r#"{"errcode":0,"errmsg":"ok","ticket":"K","expires_in":7200}"#).unwrap();
        assert_eq!(ticket.ticket, "K");
        let err =
            read::<JsapiTicket>(r#"{"errcode":40001,"errmsg":"invalid credential"}"#).unwrap_err();
        assert!(err.is_invalid_token());
        assert!(
            !read::<AccessToken>(r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#)
                .unwrap_err()
                .is_invalid_token()
        );
        assert_eq!(read::<AccessToken>("nope").unwrap_err().errcode, 0);
        assert_eq!(
            read::<AccessToken>(r#"{"errcode":0}"#).unwrap_err().errcode,
            0
        );
        assert!(read_ok(r#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert_eq!(
            read_ok(r#"{"errcode":42001,"errmsg":"expired"}"#)
                .unwrap_err()
                .errcode,
            42001
        );
        assert!(read_ok("{}").is_err());
    }

    #[test]
    fn qr_requests_are_temporary_with_clamped_expiry_or_permanent() {
        let t = qrcode_request("ch_1", Some(10 * 86400 * 10));
        assert_eq!(t["action_name"], "QR_STR_SCENE");
        assert_eq!(t["expire_seconds"], MAX_QR_EXPIRE_SECS);
        assert_eq!(t["action_info"]["scene"]["scene_str"], "ch_1");
        let p = qrcode_request("ch_1", None);
        assert_eq!(p["action_name"], "QR_LIMIT_STR_SCENE");
        assert!(p.get("expire_seconds").is_none());
        let qr: QrCode =
            read(r#"{"ticket":"gQ","expire_seconds":60,"url":"http://weixin.qq.com/q/x"}"#)
                .unwrap();
        assert_eq!(qr.expire_seconds, Some(60));
    }

    #[test]
    fn the_cache_uses_refreshes_or_waits() {
        let now = 1_000_000_000;
        let fresh = CacheEntry {
            expires_at_ms: now + 7_000_000,
            lease_until_ms: 0,
        };
        assert_eq!(fresh.decide(now), CacheDecision::Use);
        let empty = CacheEntry {
            expires_at_ms: 0,
            lease_until_ms: 0,
        };
        assert_eq!(empty.decide(now), CacheDecision::Refresh);
        let empty_leased = CacheEntry {
            expires_at_ms: 0,
            lease_until_ms: now + 5000,
        };
        assert_eq!(empty_leased.decide(now), CacheDecision::Wait);
        let aging = CacheEntry {
            expires_at_ms: now + 60_000,
            lease_until_ms: 0,
        };
        assert_eq!(aging.decide(now), CacheDecision::Refresh);
        let aging_leased = CacheEntry {
            expires_at_ms: now + 60_000,
            lease_until_ms: now + 5000,
        };
        assert_eq!(aging_leased.decide(now), CacheDecision::Use);
        let stale_lease = CacheEntry {
            expires_at_ms: 0,
            lease_until_ms: now - 1,
        };
        assert_eq!(stale_lease.decide(now), CacheDecision::Refresh);
        assert_eq!(expiry_ms(now, 7200), now + 7_200_000);
        assert_eq!(expiry_ms(now, -5), now);
    }
}
