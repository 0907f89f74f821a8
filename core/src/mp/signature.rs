//! Push signatures: `signature` (URL verification, every push) and `msg_signature` (safe mode) are
//! both the lower-case hex SHA-1 of the byte-wise sorted, concatenated strings.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// SHA-1 (lower-case hex) of `parts` sorted byte-wise and concatenated.
pub fn sha1_sorted(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for part in sorted {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// `signature` = sha1(sort(token, timestamp, nonce)).
pub fn url_signature(token: &str, timestamp: &str, nonce: &str) -> String {
    sha1_sorted(&[token, timestamp, nonce])
}

/// `msg_signature` = sha1(sort(token, timestamp, nonce, Encrypt)).
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    sha1_sorted(&[token, timestamp, nonce, encrypt])
}

/// Constant-time comparison of a computed hex digest with one received (case-insensitive).
fn hex_matches(expected: &str, received: &str) -> bool {
    let received = received.trim().to_ascii_lowercase();
    expected.as_bytes().ct_eq(received.as_bytes()).into()
}

/// True when `signature` is right for (token, timestamp, nonce). On a GET this authorises
/// echoing `echostr`.
pub fn verify_url_signature(token: &str, timestamp: &str, nonce: &str, signature: &str) -> bool {
    hex_matches(&url_signature(token, timestamp, nonce), signature)
}

/// True when `msg_signature` is right for (token, timestamp, nonce, Encrypt). Check it before
/// decrypting a safe-mode push.
pub fn verify_msg_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
    msg_signature: &str,
) -> bool {
    hex_matches(
        &self::msg_signature(token, timestamp, nonce, encrypt),
        msg_signature,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_inputs_does_not_matter() {
        assert_eq!(sha1_sorted(&["b", "a", "c"]), sha1_sorted(&["c", "b", "a"]));
    }

    #[test]
    fn a_changed_signature_is_refused() {
        let good = url_signature("t", "1", "n");
        assert!(verify_url_signature("t", "1", "n", &good));
        assert!(verify_url_signature("t", "1", "n", &good.to_uppercase()));
        assert!(!verify_url_signature("t", "1", "n", &good[..39]));
        assert!(!verify_url_signature("t", "2", "n", &good));
    }
}
