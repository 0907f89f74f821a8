//! Sensitive request fields (a profit-sharing receiver's `name`): RSAES-OAEP with SHA-1 and
//! MGF1-SHA1, base64 standard, encrypted to the WeChat Pay public key or a platform
//! certificate, whose id the request names in `Wechatpay-Serial` (PROTOCOL-2 §2.1; the Java
//! SDK's `RSA/ECB/OAEPWithSHA-1AndMGF1Padding`, Go's `rsa.EncryptOAEP(sha1.New(), …)`).

use base64::Engine as _;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, RsaPublicKey};
use sha1::Sha1;

use super::keys::{PrivateKey, PublicKey};

/// Why a field could not be encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivacyError {
    /// The key could not be used (not RSA, or the message is too long for it).
    #[error("RSA-OAEP: {0}")]
    Rsa(String),
    /// The ciphertext is not base64.
    #[error("ciphertext is not base64")]
    Base64,
    /// The plaintext is not UTF-8.
    #[error("plaintext is not UTF-8")]
    Utf8,
}

/// Encrypts `plaintext` for WeChat Pay (random OAEP padding: two calls differ).
pub fn encrypt_sensitive(key: &PublicKey, plaintext: &str) -> Result<String, PrivacyError> {
    let rsa = RsaPublicKey::from_public_key_der(key.spki_der())
        .map_err(|e| PrivacyError::Rsa(e.to_string()))?;
    let ciphertext = rsa
        .encrypt(
            &mut rand_core::OsRng,
            Oaep::new::<Sha1>(),
            plaintext.as_bytes(),
        )
        .map_err(|e| PrivacyError::Rsa(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(ciphertext))
}

/// Decrypts a field encrypted by [`encrypt_sensitive`] (what WeChat Pay, or the simulator,
/// does with its private key).
pub fn decrypt_sensitive(key: &PrivateKey, ciphertext: &str) -> Result<String, PrivacyError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(ciphertext.trim())
        .map_err(|_| PrivacyError::Base64)?;
    let plain = key
        .as_rsa()
        .decrypt(Oaep::new::<Sha1>(), &bytes)
        .map_err(|e| PrivacyError::Rsa(e.to_string()))?;
    String::from_utf8(plain).map_err(|_| PrivacyError::Utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PrivateKey {
        PrivateKey::from(
            rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("RSA key generation"),
        )
    }

    #[test]
    fn a_name_encrypted_for_the_public_key_opens_with_its_private_key() {
        let private = key();
        let public = private.public_key();
        let once = encrypt_sensitive(&public, "深圳某某科技有限公司").unwrap();
        let twice = encrypt_sensitive(&public, "深圳某某科技有限公司").unwrap();
        assert_ne!(once, twice, "OAEP padding is random");
        assert_eq!(
            decrypt_sensitive(&private, &once).unwrap(),
            "深圳某某科技有限公司"
        );
        // 2048-bit key: 256 bytes of ciphertext.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&once)
            .unwrap();
        assert_eq!(raw.len(), 256);
    }

    #[test]
    fn a_ciphertext_for_another_key_does_not_open() {
        let ciphertext = encrypt_sensitive(&key().public_key(), "张三").unwrap();
        assert!(matches!(
            decrypt_sensitive(&key(), &ciphertext),
            Err(PrivacyError::Rsa(_))
        ));
        assert_eq!(
            decrypt_sensitive(&key(), "not base64!"),
            Err(PrivacyError::Base64)
        );
    }
}
