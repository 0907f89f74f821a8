//! RSA keys as WeChat Pay hands them out: the merchant's private key (`apiclient_key.pem`, PKCS#8
//! or PKCS#1), WeChat Pay public keys (SPKI `BEGIN PUBLIC KEY`) and platform certificates (X.509,
//! identified by their serial number).

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

use super::der::{self, PemError};

/// Why a key or certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text holds no `-----BEGIN …-----` block.
    #[error("no PEM block found (expected -----BEGIN …-----)")]
    NotPem,
    /// A `BEGIN` line without its matching `END` line.
    #[error("PEM block \"{0}\" has no matching END line")]
    UnterminatedPem(String),
    /// The PEM body is not valid base64.
    #[error("PEM body is not valid base64: {0}")]
    PemBase64(String),
    /// The PEM block is of another kind than the one asked for.
    #[error("expected a PEM block labelled {expected}, found \"{found}\"")]
    UnexpectedLabel {
        /// The labels that would have been accepted.
        expected: &'static str,
        /// The label found.
        found: String,
    },
    /// The DER inside is not a valid key or certificate of the expected kind (or not RSA).
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
}

impl From<PemError> for KeyError {
    fn from(e: PemError) -> Self {
        match e {
            PemError::NoBlock => KeyError::NotPem,
            PemError::Unterminated(label) => KeyError::UnterminatedPem(label),
            PemError::Base64(detail) => KeyError::PemBase64(detail),
        }
    }
}

fn malformed(what: &'static str) -> impl FnOnce(String) -> KeyError {
    move |detail| KeyError::Malformed { what, detail }
}

/// An RSA private key used for SHA256withRSA signing (the merchant API key, or in tests and the
/// simulator a platform key). Its `Debug` output never shows key material.
#[derive(Clone)]
pub struct PrivateKey {
    key: RsaPrivateKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl From<RsaPrivateKey> for PrivateKey {
    fn from(key: RsaPrivateKey) -> Self {
        PrivateKey { key }
    }
}

impl PrivateKey {
    /// Reads a PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM block.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let block = der::parse_pem(pem)?;
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_der(&block.der)
                .map(Self::from)
                .map_err(|e| malformed("PKCS#1 RSA private key")(e.to_string())),
            other => Err(KeyError::UnexpectedLabel {
                expected: "PRIVATE KEY or RSA PRIVATE KEY",
                found: other.to_string(),
            }),
        }
    }

    /// Reads a PKCS#8 DER private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        RsaPrivateKey::from_pkcs8_der(der)
            .map(Self::from)
            .map_err(|e| malformed("PKCS#8 private key")(e.to_string()))
    }

    /// The key as PKCS#8 DER (for WebCrypto `importKey("pkcs8", …)`).
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, KeyError> {
        self.key
            .to_pkcs8_der()
            .map(|doc| doc.as_bytes().to_vec())
            .map_err(|e| malformed("PKCS#8 private key")(e.to_string()))
    }

    /// The key as a PKCS#8 (`PRIVATE KEY`) PEM block.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        Ok(der::to_pem("PRIVATE KEY", &self.to_pkcs8_der()?))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_rsa(self.key.to_public_key())
    }

    /// SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256) of `message`. Deterministic.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, rsa::Error> {
        let digest = Sha256::digest(message);
        // Blinding with a random factor hides the key from timing; the signature is unchanged.
        self.key.sign_with_rng(
            &mut rand_core::OsRng,
            Pkcs1v15Sign::new::<Sha256>(),
            &digest,
        )
    }

    /// The underlying `rsa` key (for callers that need another encoding).
    pub fn as_rsa(&self) -> &RsaPrivateKey {
        &self.key
    }
}

/// An RSA public key that verifies WeChat Pay signatures, kept with its SPKI DER so a runtime
/// with WebCrypto can import it without re-encoding.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: RsaPublicKey,
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({} bytes SPKI)", self.spki_der.len())
    }
}

impl PublicKey {
    fn from_rsa(key: RsaPublicKey) -> Self {
        // Encoding an in-memory RSA public key cannot fail; an empty DER would only make a
        // WebCrypto import fail loudly later.
        let spki_der = key
            .to_public_key_der()
            .map(|doc| doc.as_bytes().to_vec())
            .unwrap_or_default();
        PublicKey { key, spki_der }
    }

    /// Reads a `BEGIN PUBLIC KEY` (SPKI, as WeChat Pay public keys are delivered) or
    /// `BEGIN RSA PUBLIC KEY` (PKCS#1) PEM block.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let block = der::parse_pem(pem)?;
        match block.label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&block.der),
            "RSA PUBLIC KEY" => RsaPublicKey::from_pkcs1_der(&block.der)
                .map(Self::from_rsa)
                .map_err(|e| malformed("PKCS#1 RSA public key")(e.to_string())),
            other => Err(KeyError::UnexpectedLabel {
                expected: "PUBLIC KEY or RSA PUBLIC KEY",
                found: other.to_string(),
            }),
        }
    }

    /// Reads an SPKI DER public key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = RsaPublicKey::from_public_key_der(der)
            .map_err(|e| malformed("SPKI public key")(e.to_string()))?;
        Ok(PublicKey {
            key,
            spki_der: der.to_vec(),
        })
    }

    /// The SPKI DER (for WebCrypto `importKey("spki", …)`).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key as a `BEGIN PUBLIC KEY` PEM block.
    pub fn to_pem(&self) -> String {
        der::to_pem("PUBLIC KEY", &self.spki_der)
    }

    /// Checks a SHA256withRSA signature over `message`.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        let digest = Sha256::digest(message);
        self.key
            .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, signature)
            .is_ok()
    }
}

/// An X.509 certificate reduced to what verification needs: its serial and its public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    serial: String,
    public_key: PublicKey,
}

impl Certificate {
    /// Reads a `BEGIN CERTIFICATE` PEM block.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let block = der::parse_pem(pem)?;
        if block.label != "CERTIFICATE" {
            return Err(KeyError::UnexpectedLabel {
                expected: "CERTIFICATE",
                found: block.label,
            });
        }
        Self::from_der(&block.der)
    }

    /// Reads a DER X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let parts = der::certificate_parts(der).map_err(malformed("X.509 certificate"))?;
        Ok(Certificate {
            serial: parts.serial_hex,
            public_key: PublicKey::from_spki_der(&parts.spki_der)?,
        })
    }

    /// The serial number in upper-case hex, as WeChat Pay sends it in `Wechatpay-Serial`.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
}

/// A PEM that verifies signatures: either a certificate (which carries its own serial) or a bare
/// public key (whose id, e.g. `PUB_KEY_ID_…`, comes from elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingPem {
    /// A `BEGIN CERTIFICATE` block.
    Certificate(Certificate),
    /// A `BEGIN PUBLIC KEY` / `BEGIN RSA PUBLIC KEY` block.
    PublicKey(PublicKey),
}

impl VerifyingPem {
    /// Reads a certificate or a public key, whichever the PEM label says.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let block = der::parse_pem(pem)?;
        match block.label.as_str() {
            "CERTIFICATE" => Certificate::from_der(&block.der).map(VerifyingPem::Certificate),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                PublicKey::from_pem(pem).map(VerifyingPem::PublicKey)
            }
            other => Err(KeyError::UnexpectedLabel {
                expected: "CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY",
                found: other.to_string(),
            }),
        }
    }

    /// The public key, whichever form it came in.
    pub fn public_key(&self) -> &PublicKey {
        match self {
            VerifyingPem::Certificate(cert) => cert.public_key(),
            VerifyingPem::PublicKey(key) => key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_key_pem_is_not_accepted_as_a_public_key() {
        let err = PublicKey::from_pem(&format!(
            "-----BEGIN {0}-----\nAAAA\n-----END {0}-----",
            "PRIVATE KEY"
        ))
        .unwrap_err();
        assert!(matches!(err, KeyError::UnexpectedLabel { .. }), "{err}");
    }

    #[test]
    fn text_without_pem_is_reported_as_such() {
        assert_eq!(PrivateKey::from_pem("hello").unwrap_err(), KeyError::NotPem);
    }

    #[test]
    fn garbage_der_is_malformed_not_a_panic() {
        let err =
            Certificate::from_pem("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----")
                .unwrap_err();
        assert!(matches!(err, KeyError::Malformed { .. }), "{err}");
    }
}
