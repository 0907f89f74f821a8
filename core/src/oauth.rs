//! Web authorization (网页授权, OAuth 2.0 `snsapi_base`), purely: the signed, expiring `state`
//! that carries where to go afterwards, the authorize URL, and reading the code exchange.
//!
//! WeChat allows at most 128 bytes of `[A-Za-z0-9]` in `state`, so the state is binary
//! (version, flags, expiry, browser binding, target, truncated HMAC) written in base 62.
//!
//! Login CSRF: the browser that starts a flow gets a random nonce cookie ([`NONCE_COOKIE`]);
//! the state carries a keyed hash of it ([`browser_binding`]), and the callback accepts the
//! state only from a browser presenting that nonce. The worker also makes each state single-use.

use serde::Deserialize;

use crate::menu::{AppTarget, TargetError};
use crate::session::{Openid, Role, SessionKey};
use crate::urlenc::encode_component;

/// How long a state is accepted after it was issued (the code itself lives 5 minutes, the
/// consent page may be left open a little longer).
pub const STATE_TTL_SECS: i64 = 600;

/// WeChat's limit on `state`.
pub const MAX_STATE_LEN: usize = 128;

const DOMAIN: &str = "shoukuan-oauth-state-v1";
const VERSION: u8 = 2;
const BROWSER_DOMAIN: &str = "shoukuan-oauth-browser-v1";
/// Bytes of the browser binding inside a state.
pub const BROWSER_LEN: usize = 8;
/// The cookie holding the browser's OAuth nonce.
pub const NONCE_COOKIE: &str = "sk_oauth";

/// The binding of a browser's nonce that a state carries (keyed: it cannot be computed from a
/// nonce alone, and reveals nothing about it).
pub fn browser_binding(key: &SessionKey, nonce: &str) -> [u8; BROWSER_LEN] {
    let mac = key.mac(BROWSER_DOMAIN, nonce.as_bytes());
    let mut out = [0u8; BROWSER_LEN];
    out.copy_from_slice(&mac[..BROWSER_LEN]);
    out
}

/// The `Set-Cookie` of a browser's OAuth nonce: lives as long as a state, sent back on the
/// callback (a top-level GET from WeChat's consent page, so `SameSite=Lax` suffices).
pub fn nonce_cookie(nonce: &str, secure: bool) -> String {
    let mut cookie = format!(
        "{NONCE_COOKIE}={nonce}; Path=/oauth; Max-Age={STATE_TTL_SECS}; HttpOnly; SameSite=Lax"
    );
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}
/// 80-bit MAC: a state is worth one redirect within 10 minutes; forging one by guessing is
/// out of reach at that length.
const MAC_LEN: usize = 10;
const FLAG_PAYEE: u8 = 1;
const FLAG_RETRIED: u8 = 2;
const FLAG_VISIT: u8 = 4;

/// What a state carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OauthState {
    /// Where to land after authorization (allow-listed by construction).
    pub target: AppTarget,
    /// Which session to set.
    pub role: Role,
    /// Set when this authorization restarts one whose code was refused: a second refusal
    /// shows an error instead of looping.
    pub retried: bool,
    /// Set when the authorization started at a menu jump (`/m/:key`): the landing counts as
    /// a visit (channel funnel).
    pub visit: bool,
    /// Unix seconds after which the state is refused.
    pub expires_at: i64,
    /// [`browser_binding`] of the nonce cookie of the browser that started the flow.
    pub browser: [u8; BROWSER_LEN],
}

/// Why a state was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not base 62, or the wrong layout.
    #[error("malformed state")]
    Malformed,
    /// The MAC does not match: tampered.
    #[error("state signature does not match")]
    BadSignature,
    /// Too old.
    #[error("state expired")]
    Expired,
    /// The state was issued to another browser (or the nonce cookie is gone).
    #[error("state belongs to another browser")]
    OtherBrowser,
    /// The target inside is not allowed (only possible with a leaked key or an old release).
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The encoded state would exceed 128 characters.
    #[error("state would be longer than 128 characters")]
    TooLong,
}

impl OauthState {
    /// A fresh state for `target`, valid [`STATE_TTL_SECS`] from `now`.
    pub fn new(target: AppTarget, now: i64) -> OauthState {
        OauthState {
            role: target.role(),
            target,
            retried: false,
            visit: false,
            expires_at: now + STATE_TTL_SECS,
            browser: [0; BROWSER_LEN],
        }
    }

    /// Binds the state to the browser holding `binding` ([`browser_binding`]).
    pub fn for_browser(mut self, binding: [u8; BROWSER_LEN]) -> OauthState {
        self.browser = binding;
        self
    }

    /// Whether `nonce` (the callback's nonce cookie) is the one this state was issued for.
    pub fn check_browser(&self, key: &SessionKey, nonce: Option<&str>) -> Result<(), StateError> {
        use subtle::ConstantTimeEq as _;
        let nonce = nonce
            .filter(|n| !n.is_empty())
            .ok_or(StateError::OtherBrowser)?;
        if bool::from(browser_binding(key, nonce).ct_eq(&self.browser)) {
            Ok(())
        } else {
            Err(StateError::OtherBrowser)
        }
    }

    /// Signs and encodes the state.
    pub fn sign(&self, key: &SessionKey) -> Result<String, StateError> {
        let mut bytes = vec![VERSION];
        let mut flags = 0;
        if self.role == Role::Payee {
            flags |= FLAG_PAYEE;
        }
        if self.retried {
            flags |= FLAG_RETRIED;
        }
        if self.visit {
            flags |= FLAG_VISIT;
        }
        bytes.push(flags);
        let exp = u32::try_from(self.expires_at).map_err(|_| StateError::Malformed)?;
        bytes.extend_from_slice(&exp.to_be_bytes());
        bytes.extend_from_slice(&self.browser);
        bytes.extend_from_slice(self.target.to_string().as_bytes());
        let mac = key.mac(DOMAIN, &bytes);
        bytes.extend_from_slice(&mac[..MAC_LEN]);
        let encoded = base62_encode(&bytes);
        if encoded.len() > MAX_STATE_LEN {
            return Err(StateError::TooLong);
        }
        Ok(encoded)
    }

    /// Decodes and verifies a state at `now`.
    pub fn open(key: &SessionKey, state: &str, now: i64) -> Result<OauthState, StateError> {
        if state.is_empty() || state.len() > MAX_STATE_LEN {
            return Err(StateError::Malformed);
        }
        let bytes = base62_decode(state).ok_or(StateError::Malformed)?;
        const HEAD: usize = 6 + BROWSER_LEN;
        if bytes.len() < HEAD + MAC_LEN || bytes[0] != VERSION {
            return Err(StateError::Malformed);
        }
        let (body, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        if !key.verify_mac(DOMAIN, body, mac) {
            return Err(StateError::BadSignature);
        }
        let flags = body[1];
        let expires_at = i64::from(u32::from_be_bytes([body[2], body[3], body[4], body[5]]));
        if now >= expires_at {
            return Err(StateError::Expired);
        }
        let mut browser = [0u8; BROWSER_LEN];
        browser.copy_from_slice(&body[6..HEAD]);
        let target = std::str::from_utf8(&body[HEAD..]).map_err(|_| StateError::Malformed)?;
        let target = AppTarget::parse(target)?;
        let role = if flags & FLAG_PAYEE != 0 {
            Role::Payee
        } else {
            Role::Payer
        };
        Ok(OauthState {
            target,
            role,
            retried: flags & FLAG_RETRIED != 0,
            visit: flags & FLAG_VISIT != 0,
            expires_at,
            browser,
        })
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Big-endian base-62 of `bytes` (whose first byte must not be 0: it is the version).
fn base62_encode(bytes: &[u8]) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::new();
    while number.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let acc = (remainder << 8) | u32::from(*byte);
            // acc < 62 * 256, so the quotient fits a byte.
            *byte = (acc / 62) as u8;
            remainder = acc % 62;
        }
        digits.push(BASE62[remainder as usize]);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

fn base62_decode(s: &str) -> Option<Vec<u8>> {
    let mut number: Vec<u8> = Vec::new();
    for c in s.bytes() {
        let digit = BASE62.iter().position(|&d| d == c)? as u32;
        let mut carry = digit;
        for byte in number.iter_mut().rev() {
            let acc = u32::from(*byte) * 62 + carry;
            *byte = (acc & 0xff) as u8;
            carry = acc >> 8;
        }
        while carry > 0 {
            number.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    Some(number)
}

/// The authorize URL (`snsapi_base`); `#wechat_redirect` is mandatory.
pub fn authorize_url(open_base: &str, appid: &str, redirect_uri: &str, state: &str) -> String {
    format!(
        "{}/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope=snsapi_base&state={}#wechat_redirect",
        open_base.trim_end_matches('/'),
        encode_component(appid),
        encode_component(redirect_uri),
        encode_component(state)
    )
}

/// True when the user agent is WeChat's in-app browser.
pub fn is_wechat_browser(user_agent: &str) -> bool {
    user_agent.contains("MicroMessenger")
}

/// What the code exchange (`/sns/oauth2/access_token`) answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// The user's openid.
    Openid {
        /// The openid.
        openid: Openid,
        /// A snapshot-page user (快照页): the openid is virtual; treat as a guest.
        snapshot: bool,
    },
    /// The code was used already or is invalid/expired: authorize again.
    CodeRefused {
        /// WeChat's errcode (40163 used, 40029 invalid).
        errcode: i64,
    },
    /// Anything else (bad appid/secret, rate limit, malformed answer).
    Failed {
        /// WeChat's errcode, 0 when the body was not understood.
        errcode: i64,
        /// WeChat's errmsg or our reason.
        errmsg: String,
    },
}

#[derive(Deserialize)]
struct ExchangeBody {
    #[serde(default)]
    openid: Option<String>,
    #[serde(default)]
    is_snapshotuser: Option<i64>,
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: Option<String>,
}

/// Reads the code-exchange answer.
pub fn read_exchange(body: &str) -> Exchange {
    let parsed: ExchangeBody = match serde_json::from_str(body) {
        Ok(b) => b,
        Err(e) => {
            return Exchange::Failed {
                errcode: 0,
                errmsg: format!("not JSON: {e}"),
            }
        }
    };
    match (parsed.errcode.unwrap_or(0), parsed.openid) {
        (0, Some(openid)) => match Openid::parse(&openid) {
            Some(openid) => Exchange::Openid {
                openid,
                snapshot: parsed.is_snapshotuser == Some(1),
            },
            None => Exchange::Failed {
                errcode: 0,
                errmsg: "malformed openid".into(),
            },
        },
        (errcode @ (40163 | 40029), _) => Exchange::CodeRefused { errcode },
        (errcode, _) => Exchange::Failed {
            errcode,
            errmsg: parsed.errmsg.unwrap_or_else(|| "no openid".into()),
        },
    }
}

/// Checks a `code` from the callback's query: 1–128 printable ASCII characters without
/// separators (it is put into a URL).
pub fn is_plausible_code(code: &str) -> bool {
    (1..=128).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::new("0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn base62_round_trips() {
        for bytes in [
            vec![1u8],
            vec![1, 0, 0, 255],
            vec![1; 95],
            vec![1, 255, 254, 0, 7],
        ] {
            let text = base62_encode(&bytes);
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(base62_decode(&text).unwrap(), bytes);
        }
        assert_eq!(base62_decode("ab-c"), None);
    }

    #[test]
    fn a_state_carries_its_target_and_role_and_fits_wechats_limit() {
        let target = AppTarget::parse("/c/AbCd2345efGH?channel=Ch2345abcdEF").unwrap();
        let mut state = OauthState::new(target.clone(), 1_800_000_000);
        state.visit = true;
        let text = state.sign(&key()).unwrap();
        assert!(text.len() <= MAX_STATE_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric()));
        let opened = OauthState::open(&key(), &text, 1_800_000_000).unwrap();
        assert_eq!(opened, state);
        assert_eq!(opened.role, Role::Payer);
        let dash = OauthState::new(AppTarget::parse("/dash").unwrap(), 1);
        assert_eq!(
            OauthState::open(&key(), &dash.sign(&key()).unwrap(), 1)
                .unwrap()
                .role,
            Role::Payee
        );
    }

    #[test]
    fn a_state_is_accepted_only_from_the_browser_it_was_issued_to() {
        let binding = browser_binding(&key(), "nonce-of-the-victim");
        let state = OauthState::new(AppTarget::parse("/dash").unwrap(), 1000).for_browser(binding);
        let opened = OauthState::open(&key(), &state.sign(&key()).unwrap(), 1000).unwrap();
        assert_eq!(opened.browser, binding);
        assert_eq!(
            opened.check_browser(&key(), Some("nonce-of-the-victim")),
            Ok(())
        );
        assert_eq!(
            opened.check_browser(&key(), Some("attackers-nonce")),
            Err(StateError::OtherBrowser)
        );
        assert_eq!(
            opened.check_browser(&key(), None),
            Err(StateError::OtherBrowser)
        );
        assert_eq!(
            opened.check_browser(&key(), Some("")),
            Err(StateError::OtherBrowser)
        );
        // Another deployment's key binds the same nonce differently.
        let other = SessionKey::new("ffffffffffffffffffffffffffffffff").unwrap();
        assert_ne!(browser_binding(&other, "nonce-of-the-victim"), binding);
        let cookie = nonce_cookie("abc", true);
        assert!(cookie.starts_with("sk_oauth=abc; Path=/oauth;") && cookie.ends_with("; Secure"));
    }

    #[test]
    fn the_longest_allowed_target_still_fits() {
        let target =
            AppTarget::parse(&format!("/c/{}?channel={}", "a".repeat(32), "b".repeat(25))).unwrap();
        let text = OauthState::new(target, u32::MAX as i64 - 1000)
            .sign(&key())
            .unwrap();
        assert!(text.len() <= MAX_STATE_LEN, "{}", text.len());
    }

    #[test]
    fn tampered_expired_or_foreign_states_are_refused() {
        let state = OauthState::new(AppTarget::parse("/c/AbCd2345efGH").unwrap(), 1000);
        let text = state.sign(&key()).unwrap();
        assert_eq!(
            OauthState::open(&key(), &text, 1000 + STATE_TTL_SECS),
            Err(StateError::Expired)
        );
        let other = SessionKey::new("ffffffffffffffffffffffffffffffff").unwrap();
        assert_eq!(
            OauthState::open(&other, &text, 1000),
            Err(StateError::BadSignature)
        );
        // Flip one character anywhere: never accepted.
        for i in 0..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert!(
                OauthState::open(&key(), &tampered, 1000).is_err(),
                "position {i}"
            );
        }
        assert_eq!(
            OauthState::open(&key(), "", 1000),
            Err(StateError::Malformed)
        );
        assert_eq!(
            OauthState::open(&key(), "a-b", 1000),
            Err(StateError::Malformed)
        );
        assert_eq!(
            OauthState::open(&key(), &"z".repeat(129), 1000),
            Err(StateError::Malformed)
        );
    }

    #[test]
    fn the_authorize_url_encodes_the_redirect_and_ends_with_wechat_redirect() {
        let url = authorize_url(
            "http://127.0.0.1:8788/",
            "wx1",
            "http://127.0.0.1:8787/oauth/callback",
            "S1",
        );
        assert_eq!(
            url,
            "http://127.0.0.1:8788/connect/oauth2/authorize?appid=wx1&redirect_uri=http%3A%2F%2F127.0.0.1%3A8787%2Foauth%2Fcallback&response_type=code&scope=snsapi_base&state=S1#wechat_redirect"
        );
    }

    #[test]
    fn exchange_answers_are_classified() {
        assert_eq!(
            read_exchange(
                r#"{"access_token":"t","expires_in":7200,"openid":"oU1","scope":"snsapi_base"}"#
            ),
            Exchange::Openid {
                openid: Openid::parse("oU1").unwrap(),
                snapshot: false
            }
        );
        assert_eq!(
            read_exchange(r#"{"openid":"oU1","is_snapshotuser":1}"#),
            Exchange::Openid {
                openid: Openid::parse("oU1").unwrap(),
                snapshot: true
            }
        );
        assert_eq!(
            read_exchange(r#"{"errcode":40163,"errmsg":"code been used"}"#),
            Exchange::CodeRefused { errcode: 40163 }
        );
        assert_eq!(
            read_exchange(r#"{"errcode":40029,"errmsg":"invalid code"}"#),
            Exchange::CodeRefused { errcode: 40029 }
        );
        assert!(matches!(
            read_exchange(r#"{"errcode":40125,"errmsg":"invalid appsecret"}"#),
            Exchange::Failed { errcode: 40125, .. }
        ));
        assert!(matches!(
            read_exchange("<html>"),
            Exchange::Failed { errcode: 0, .. }
        ));
        assert!(matches!(
            read_exchange(r#"{"openid":"o/../x"}"#),
            Exchange::Failed { .. }
        ));
    }

    #[test]
    fn wechat_is_recognised_by_its_user_agent() {
        assert!(is_wechat_browser(
            "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50 NetType/WIFI"
        ));
        assert!(!is_wechat_browser(
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/130"
        ));
        assert!(is_plausible_code("061abc-_Z"));
        assert!(!is_plausible_code("a&b"));
        assert!(!is_plausible_code(""));
    }
}
