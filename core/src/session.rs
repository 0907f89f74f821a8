//! Stateless sessions: a cookie value that names an openid, a role and an expiry, signed with
//! HMAC-SHA256 under `SESSION_SECRET`. Nothing is stored server-side; a session ends when it
//! expires or the secret is rotated.
//!
//! Payers and payees are distinct roles with distinct cookies, and the role is inside the
//! signed payload: a payer's cookie copied into the payee cookie's name is still refused.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a payer session lasts (30 days): payers come back to pay from the same menu.
pub const PAYER_TTL_SECS: i64 = 30 * 24 * 3600;
/// How long a payee session lasts (7 days): the dashboard holds more rights.
pub const PAYEE_TTL_SECS: i64 = 7 * 24 * 3600;

/// The longest openid accepted (WeChat's are 28 characters).
pub const MAX_OPENID_LEN: usize = 64;

/// Who a session speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Someone who opened a payer page (an openid from OAuth, nothing more).
    Payer,
    /// Someone who signed in to the dashboard. Rights still depend on the operator's approval.
    Payee,
}

impl Role {
    fn tag(self) -> &'static str {
        match self {
            Role::Payer => "p",
            Role::Payee => "e",
        }
    }

    /// The cookie that carries this role's session.
    pub fn cookie_name(self) -> &'static str {
        match self {
            Role::Payer => "sk_payer",
            Role::Payee => "sk_payee",
        }
    }

    /// Session lifetime in seconds.
    pub fn ttl_secs(self) -> i64 {
        match self {
            Role::Payer => PAYER_TTL_SECS,
            Role::Payee => PAYEE_TTL_SECS,
        }
    }
}

/// A WeChat openid: 1–64 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Openid(String);

impl Openid {
    /// Checks the format; `None` when it cannot be an openid.
    pub fn parse(s: &str) -> Option<Openid> {
        let ok = (1..=MAX_OPENID_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| Openid(s.to_string()))
    }

    /// The openid.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Openid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The signing key (from `SESSION_SECRET`). `Debug` never shows it.
#[derive(Clone)]
pub struct SessionKey(Vec<u8>);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// Why no key could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The secret is shorter than 32 bytes.
    #[error("SESSION_SECRET must be at least 32 characters (e.g. `openssl rand -base64 32`)")]
    TooShort,
}

impl SessionKey {
    /// Uses the secret's bytes as the HMAC key; at least 32 bytes.
    pub fn new(secret: &str) -> Result<SessionKey, KeyError> {
        let secret = secret.trim();
        if secret.len() < 32 {
            return Err(KeyError::TooShort);
        }
        Ok(SessionKey(secret.as_bytes().to_vec()))
    }

    /// HMAC-SHA256 of `domain ‖ 0 ‖ message`: one key, separate domains (sessions, OAuth
    /// state) so a value signed for one can never pass as the other.
    pub fn mac(&self, domain: &str, message: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Constant-time check of a (possibly truncated) MAC.
    pub fn verify_mac(&self, domain: &str, message: &[u8], tag: &[u8]) -> bool {
        use subtle::ConstantTimeEq as _;
        let full = self.mac(domain, message);
        !tag.is_empty() && tag.len() <= full.len() && bool::from(full[..tag.len()].ct_eq(tag))
    }
}

const DOMAIN: &str = "shoukuan-session-v1";

/// A verified session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Whose session.
    pub openid: Openid,
    /// Which role it was issued for.
    pub role: Role,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
}

/// Why a cookie value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not the `v1.<role>.<exp>.<openid>.<mac>` shape.
    #[error("malformed session")]
    Malformed,
    /// The MAC does not match (tampered, or another secret).
    #[error("session signature does not match")]
    BadSignature,
    /// Issued for the other role.
    #[error("session is for another role")]
    WrongRole,
    /// Past its expiry.
    #[error("session expired")]
    Expired,
}

/// Signs a session for `openid` as `role`, valid `role.ttl_secs()` from `now`.
pub fn issue(key: &SessionKey, role: Role, openid: &Openid, now: i64) -> String {
    let payload = format!(
        "v1.{}.{}.{}",
        role.tag(),
        now + role.ttl_secs(),
        openid.as_str()
    );
    let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(key.mac(DOMAIN, payload.as_bytes()));
    format!("{payload}.{mac}")
}

/// Verifies a cookie value for `role` at `now`.
pub fn verify(
    key: &SessionKey,
    role: Role,
    value: &str,
    now: i64,
) -> Result<Session, SessionError> {
    let (payload, mac) = value.rsplit_once('.').ok_or(SessionError::Malformed)?;
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(mac)
        .map_err(|_| SessionError::Malformed)?;
    if tag.len() != 32 {
        return Err(SessionError::Malformed);
    }
    if !key.verify_mac(DOMAIN, payload.as_bytes(), &tag) {
        return Err(SessionError::BadSignature);
    }
    let mut parts = payload.splitn(4, '.');
    let (Some("v1"), Some(tag), Some(exp), Some(openid)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SessionError::Malformed);
    };
    let found = match tag {
        "p" => Role::Payer,
        "e" => Role::Payee,
        _ => return Err(SessionError::Malformed),
    };
    if found != role {
        return Err(SessionError::WrongRole);
    }
    let expires_at: i64 = exp.parse().map_err(|_| SessionError::Malformed)?;
    let openid = Openid::parse(openid).ok_or(SessionError::Malformed)?;
    if now >= expires_at {
        return Err(SessionError::Expired);
    }
    Ok(Session {
        openid,
        role,
        expires_at,
    })
}

/// True for hosts where cookies cannot be `Secure` because the site is plain HTTP on loopback.
pub fn is_local_host(host: &str) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let bare = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default().to_string()
    };
    matches!(bare.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

/// The `Set-Cookie` value for a session: HttpOnly, SameSite=Lax, whole site, `Secure` unless
/// `secure` is false (loopback only).
pub fn set_cookie(role: Role, value: &str, secure: bool) -> String {
    let mut cookie = format!(
        "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
        role.cookie_name(),
        role.ttl_secs()
    );
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The `Set-Cookie` value that ends a session.
pub fn clear_cookie(role: Role, secure: bool) -> String {
    let mut cookie = format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
        role.cookie_name()
    );
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k.trim() == name).then(|| v.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::new("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn openid() -> Openid {
        Openid::parse("oAbC_123-xyz").unwrap()
    }

    #[test]
    fn an_issued_session_verifies_until_it_expires() {
        let value = issue(&key(), Role::Payer, &openid(), 1000);
        let session = verify(&key(), Role::Payer, &value, 1000).unwrap();
        assert_eq!(session.openid, openid());
        assert_eq!(session.expires_at, 1000 + PAYER_TTL_SECS);
        assert_eq!(
            verify(&key(), Role::Payer, &value, 1000 + PAYER_TTL_SECS),
            Err(SessionError::Expired)
        );
    }

    #[test]
    fn a_payer_session_never_passes_as_a_payee_session() {
        let value = issue(&key(), Role::Payer, &openid(), 1000);
        assert_eq!(
            verify(&key(), Role::Payee, &value, 1000),
            Err(SessionError::WrongRole)
        );
        // Rewriting the role tag breaks the signature.
        let forged = value.replacen("v1.p.", "v1.e.", 1);
        assert_eq!(
            verify(&key(), Role::Payee, &forged, 1000),
            Err(SessionError::BadSignature)
        );
    }

    #[test]
    fn tampering_or_another_secret_is_refused() {
        let value = issue(&key(), Role::Payee, &openid(), 1000);
        let other = SessionKey::new("ffffffffffffffffffffffffffffffff").unwrap();
        assert_eq!(
            verify(&other, Role::Payee, &value, 1000),
            Err(SessionError::BadSignature)
        );
        let longer = value.replacen(".oAbC", ".oAbD", 1);
        assert_eq!(
            verify(&key(), Role::Payee, &longer, 1000),
            Err(SessionError::BadSignature)
        );
        let later = value.replacen(&format!(".{}.", 1000 + PAYEE_TTL_SECS), ".99999999999.", 1);
        assert_eq!(
            verify(&key(), Role::Payee, &later, 1000),
            Err(SessionError::BadSignature)
        );
        for junk in ["", "a", "a.b", "v1.e.1.o.!!!", &value[..value.len() - 2]] {
            assert!(verify(&key(), Role::Payee, junk, 1000).is_err(), "{junk}");
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(SessionKey::new("short").unwrap_err(), KeyError::TooShort);
    }

    #[test]
    fn openids_are_checked() {
        assert!(Openid::parse("o6_bmjrPTlm6_2sgVt7hMZOPfL2M").is_some());
        for bad in ["", "o b", "o.b", "o/b", &"o".repeat(65)] {
            assert!(Openid::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_off_loopback() {
        let c = set_cookie(Role::Payee, "v", true);
        assert!(c.starts_with("sk_payee=v; Path=/;"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("; Secure"));
        assert!(!set_cookie(Role::Payer, "v", false).contains("Secure"));
        assert!(clear_cookie(Role::Payer, false).contains("Max-Age=0"));
        assert!(is_local_host("127.0.0.1:8787"));
        assert!(is_local_host("localhost"));
        assert!(is_local_host("[::1]:80"));
        assert!(!is_local_host("pay.example.cn"));
        assert!(!is_local_host("127.0.0.1.evil.cn"));
    }

    #[test]
    fn cookie_header_is_searched_by_exact_name() {
        let header = "a=1; sk_payer_x=2; sk_payer=abc.def ; b=";
        assert_eq!(cookie_value(header, "sk_payer"), Some("abc.def"));
        assert_eq!(cookie_value(header, "sk_payee"), None);
        assert_eq!(cookie_value(header, "b"), Some(""));
    }
}
