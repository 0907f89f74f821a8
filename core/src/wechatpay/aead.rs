//! `AEAD_AES_256_GCM`, WeChat Pay's encryption of notification resources and downloaded
//! certificates: key = the APIv3 key's 32 ASCII bytes, nonce = 12 bytes, associated data as
//! given, base64(ciphertext ‖ 16-byte tag).
//!
//! Strict on sizes: some SDK tests use 16-byte keys (silently AES-128 in Go) or 16-byte nonces;
//! those are rejected here rather than guessed at.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;

/// The only `resource.algorithm` WeChat Pay uses.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";
/// APIv3 key length in bytes.
pub const KEY_LEN: usize = 32;
/// Nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// Authentication tag length in bytes (appended to the ciphertext).
pub const TAG_LEN: usize = 16;

/// Why an AEAD_AES_256_GCM operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AeadError {
    /// The APIv3 key is not 32 bytes.
    #[error("APIv3 key is {len} bytes; AEAD_AES_256_GCM needs exactly {KEY_LEN} (the 32-character key set in the merchant platform, used as-is)")]
    KeyLength {
        /// Length given.
        len: usize,
    },
    /// The nonce is not 12 bytes.
    #[error("nonce is {len} bytes; AEAD_AES_256_GCM needs exactly {NONCE_LEN}")]
    NonceLength {
        /// Length given.
        len: usize,
    },
    /// `resource.algorithm` names something else.
    #[error("unsupported algorithm \"{0}\" (only {ALGORITHM})")]
    UnsupportedAlgorithm(String),
    /// The ciphertext is not base64.
    #[error("ciphertext is not base64")]
    CiphertextNotBase64,
    /// The ciphertext is shorter than its 16-byte tag.
    #[error("ciphertext is {len} bytes, shorter than the {TAG_LEN}-byte tag")]
    CiphertextTooShort {
        /// Decoded length.
        len: usize,
    },
    /// The tag does not match: with WeChat's own data this means the wrong key.
    #[error("decryption failed: authentication tag mismatch, the APIv3 key is likely wrong (or nonce / associated data do not belong to this ciphertext)")]
    TagMismatch,
    /// Decrypted bytes are not UTF-8.
    #[error("decrypted resource is not UTF-8")]
    PlaintextNotUtf8,
    /// The plaintext exceeds AES-GCM's limit (about 64 GiB).
    #[error("plaintext too long for AES-GCM")]
    PlaintextTooLong,
}

/// The merchant's APIv3 key, checked to be 32 bytes. `Debug` never shows it.
#[derive(Clone)]
pub struct ApiV3Key([u8; KEY_LEN]);

impl std::fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiV3Key(<redacted>)")
    }
}

impl ApiV3Key {
    /// Takes the key's bytes (for a key as configured, `key.as_bytes()`: it is used as ASCII,
    /// not hex- or base64-decoded).
    pub fn new(key: &[u8]) -> Result<Self, AeadError> {
        let bytes: [u8; KEY_LEN] = key
            .try_into()
            .map_err(|_| AeadError::KeyLength { len: key.len() })?;
        Ok(ApiV3Key(bytes))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

fn nonce(nonce: &[u8]) -> Result<&Nonce<aes_gcm::aead::consts::U12>, AeadError> {
    if nonce.len() != NONCE_LEN {
        return Err(AeadError::NonceLength { len: nonce.len() });
    }
    Ok(Nonce::from_slice(nonce))
}

/// Decrypts base64(ciphertext ‖ tag) to bytes.
pub fn decrypt(
    key: &ApiV3Key,
    nonce_bytes: &[u8],
    associated_data: &[u8],
    ciphertext_b64: &str,
) -> Result<Vec<u8>, AeadError> {
    let nonce = nonce(nonce_bytes)?;
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(ciphertext_b64.trim().as_bytes())
        .map_err(|_| AeadError::CiphertextNotBase64)?;
    if ciphertext.len() < TAG_LEN {
        return Err(AeadError::CiphertextTooShort {
            len: ciphertext.len(),
        });
    }
    key.cipher()
        .decrypt(
            nonce,
            Payload {
                msg: &ciphertext,
                aad: associated_data,
            },
        )
        .map_err(|_| AeadError::TagMismatch)
}

/// Decrypts to a UTF-8 string (resources are JSON, certificates PEM).
pub fn decrypt_to_string(
    key: &ApiV3Key,
    nonce: &[u8],
    associated_data: &[u8],
    ciphertext_b64: &str,
) -> Result<String, AeadError> {
    String::from_utf8(decrypt(key, nonce, associated_data, ciphertext_b64)?)
        .map_err(|_| AeadError::PlaintextNotUtf8)
}

/// Encrypts to base64(ciphertext ‖ tag) — what WeChat Pay does; the simulator needs it.
pub fn encrypt(
    key: &ApiV3Key,
    nonce_bytes: &[u8],
    associated_data: &[u8],
    plaintext: &[u8],
) -> Result<String, AeadError> {
    let nonce = nonce(nonce_bytes)?;
    let ciphertext = key
        .cipher()
        .encrypt(
            nonce,
            Payload {
                msg: plaintext,
                aad: associated_data,
            },
        )
        .map_err(|_| AeadError::PlaintextTooLong)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(ciphertext))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn short_and_long_keys_are_rejected_with_their_length() {
        assert_eq!(
            ApiV3Key::new(b"testAPIv3Key0000").unwrap_err(),
            AeadError::KeyLength { len: 16 }
        );
        assert_eq!(
            ApiV3Key::new(&[0u8; 33]).unwrap_err(),
            AeadError::KeyLength { len: 33 }
        );
    }

    #[test]
    fn a_16_byte_nonce_is_rejected() {
        let key = ApiV3Key::new(KEY).unwrap();
        assert_eq!(
            decrypt(&key, b"0123456789abcdef", b"", "AAAAAAAAAAAAAAAAAAAAAA=="),
            Err(AeadError::NonceLength { len: 16 })
        );
        assert_eq!(
            encrypt(&key, b"short", b"", b"x"),
            Err(AeadError::NonceLength { len: 5 })
        );
    }

    #[test]
    fn a_wrong_key_says_the_apiv3_key_is_likely_wrong() {
        let key = ApiV3Key::new(KEY).unwrap();
        let sealed = encrypt(&key, b"123456789012", b"transaction", b"{}").unwrap();
        let other = ApiV3Key::new(b"ffffffffffffffffffffffffffffffff").unwrap();
        let err = decrypt(&other, b"123456789012", b"transaction", &sealed).unwrap_err();
        assert_eq!(err, AeadError::TagMismatch);
        assert!(err.to_string().contains("APIv3 key is likely wrong"));
    }

    #[test]
    fn truncated_ciphertext_is_reported() {
        let key = ApiV3Key::new(KEY).unwrap();
        assert_eq!(
            decrypt(&key, b"123456789012", b"", "AAAA"),
            Err(AeadError::CiphertextTooShort { len: 3 })
        );
    }

    #[test]
    fn key_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", ApiV3Key::new(KEY).unwrap()),
            "ApiV3Key(<redacted>)"
        );
    }
}
