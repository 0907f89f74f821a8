//! Safe mode (消息加解密): AES-256-CBC with the key from the 43-character EncodingAESKey,
//! IV = key[0..16], PKCS#7 padding to 32-byte blocks, and the plaintext
//! `random(16) ‖ msg_len (u32, big-endian) ‖ msg ‖ appid`.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

/// WeChat pads to multiples of 32 bytes, not the AES block size.
const PAD_BLOCK: usize = 32;
/// Length of the random prefix.
pub const RANDOM_LEN: usize = 16;
/// Length of an EncodingAESKey.
pub const ENCODING_AES_KEY_LEN: usize = 43;

/// Why a safe-mode operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MpCryptoError {
    /// The EncodingAESKey is not 43 characters.
    #[error("EncodingAESKey must be {ENCODING_AES_KEY_LEN} characters, got {len}")]
    KeyLength {
        /// Characters given.
        len: usize,
    },
    /// The EncodingAESKey has characters outside `[A-Za-z0-9]`.
    #[error("EncodingAESKey may only contain A-Z, a-z and 0-9")]
    KeyCharacters,
    /// `Encrypt` is not base64.
    #[error("Encrypt is not base64")]
    NotBase64,
    /// The ciphertext is not a whole number of AES blocks.
    #[error("ciphertext is {len} bytes, not a non-zero multiple of 16")]
    CiphertextLength {
        /// Decoded length.
        len: usize,
    },
    /// The padding is invalid: with WeChat's own data this means the wrong key.
    #[error("decryption failed: invalid padding, the EncodingAESKey is likely wrong")]
    BadPadding,
    /// The plaintext is too short for the random prefix and the length field.
    #[error("decryption failed: plaintext too short for the random prefix and length (EncodingAESKey likely wrong)")]
    Truncated,
    /// The declared message length does not fit the plaintext.
    #[error("decryption failed: declared message length {declared} exceeds the {available} bytes available (EncodingAESKey likely wrong)")]
    MessageLength {
        /// Length in the header.
        declared: usize,
        /// Bytes after the header.
        available: usize,
    },
    /// The trailing appid is another account's.
    #[error("appid mismatch: the message is for \"{found}\", expected \"{expected}\"")]
    AppidMismatch {
        /// The appid configured.
        expected: String,
        /// The appid in the message.
        found: String,
    },
    /// The message is not UTF-8.
    #[error("decrypted message is not UTF-8")]
    NotUtf8,
}

/// The 32-byte AES key decoded from an EncodingAESKey. `Debug` never shows it.
#[derive(Clone)]
pub struct EncodingAesKey([u8; 32]);

impl std::fmt::Debug for EncodingAesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncodingAesKey(<redacted>)")
    }
}

/// Standard base64 that accepts a non-zero last symbol: 43 characters + `=` carry 258 bits, and
/// WeChat's keys do not zero the two spare ones.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl EncodingAesKey {
    /// Decodes `base64(EncodingAESKey + "=")`.
    pub fn parse(encoding_aes_key: &str) -> Result<Self, MpCryptoError> {
        let len = encoding_aes_key.chars().count();
        if len != ENCODING_AES_KEY_LEN {
            return Err(MpCryptoError::KeyLength { len });
        }
        if !encoding_aes_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(MpCryptoError::KeyCharacters);
        }
        let bytes = LENIENT_BASE64
            .decode(format!("{encoding_aes_key}=").as_bytes())
            .map_err(|_| MpCryptoError::KeyCharacters)?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| MpCryptoError::KeyLength { len })?;
        Ok(EncodingAesKey(key))
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.0[..16]);
        iv
    }
}

/// Encrypts `msg` for `appid` with the given 16-byte random prefix (inject it: tests and the
/// official examples are deterministic) and returns base64 `Encrypt`.
pub fn encrypt(key: &EncodingAesKey, appid: &str, msg: &[u8], random: &[u8; RANDOM_LEN]) -> String {
    let mut plain = Vec::with_capacity(RANDOM_LEN + 4 + msg.len() + appid.len() + PAD_BLOCK);
    plain.extend_from_slice(random);
    // Messages are far below 4 GiB (pushes are capped at 64 KiB); saturate rather than wrap.
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    plain.extend_from_slice(&len.to_be_bytes());
    plain.extend_from_slice(msg);
    plain.extend_from_slice(appid.as_bytes());
    let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
    // pad is in 1..=32, so it fits a byte.
    plain.extend(std::iter::repeat_n(pad as u8, pad));
    let ciphertext =
        Encryptor::new(&key.0.into(), &key.iv().into()).encrypt_padded_vec_mut::<NoPadding>(&plain);
    base64::engine::general_purpose::STANDARD.encode(ciphertext)
}

/// A decrypted safe-mode message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The 16-byte random prefix (useful only for diagnostics and test vectors).
    pub random: [u8; RANDOM_LEN],
    /// The message (XML, or JSON in JSON mode, or an echostr).
    pub msg: String,
}

/// Decrypts base64 `Encrypt` and checks the trailing appid.
pub fn decrypt(
    key: &EncodingAesKey,
    appid: &str,
    encrypt_b64: &str,
) -> Result<Decrypted, MpCryptoError> {
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(encrypt_b64.trim().as_bytes())
        .map_err(|_| MpCryptoError::NotBase64)?;
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(MpCryptoError::CiphertextLength {
            len: ciphertext.len(),
        });
    }
    let plain = Decryptor::new(&key.0.into(), &key.iv().into())
        .decrypt_padded_vec_mut::<NoPadding>(&ciphertext)
        .map_err(|_| MpCryptoError::BadPadding)?;
    let pad = usize::from(*plain.last().ok_or(MpCryptoError::BadPadding)?);
    if pad == 0 || pad > PAD_BLOCK || pad > plain.len() {
        return Err(MpCryptoError::BadPadding);
    }
    let (content, padding) = plain.split_at(plain.len() - pad);
    if padding.iter().any(|&b| usize::from(b) != pad) {
        return Err(MpCryptoError::BadPadding);
    }
    if content.len() < RANDOM_LEN + 4 {
        return Err(MpCryptoError::Truncated);
    }
    let (random, rest) = content.split_at(RANDOM_LEN);
    let (len_bytes, rest) = rest.split_at(4);
    let declared = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
    let declared = usize::try_from(declared).unwrap_or(usize::MAX);
    if declared > rest.len() {
        return Err(MpCryptoError::MessageLength {
            declared,
            available: rest.len(),
        });
    }
    let (msg, found_appid) = rest.split_at(declared);
    if found_appid != appid.as_bytes() {
        return Err(MpCryptoError::AppidMismatch {
            expected: appid.to_string(),
            found: String::from_utf8_lossy(found_appid).into_owned(),
        });
    }
    let mut random_prefix = [0u8; RANDOM_LEN];
    random_prefix.copy_from_slice(random);
    Ok(Decrypted {
        random: random_prefix,
        msg: String::from_utf8(msg.to_vec()).map_err(|_| MpCryptoError::NotUtf8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    #[test]
    fn keys_of_the_wrong_shape_are_refused() {
        assert_eq!(
            EncodingAesKey::parse("abc").unwrap_err(),
            MpCryptoError::KeyLength { len: 3 }
        );
        let with_plus = format!("{}+", &KEY[..42]);
        assert_eq!(
            EncodingAesKey::parse(&with_plus).unwrap_err(),
            MpCryptoError::KeyCharacters
        );
    }

    #[test]
    fn padding_reaches_a_full_32_byte_block() {
        // 16 + 4 + 12 + 0 = 32 bytes of content → a whole extra block of 32 × 0x20.
        let key = EncodingAesKey::parse(KEY).unwrap();
        let encrypted = encrypt(&key, "", b"twelve bytes", &[7; 16]);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&encrypted)
            .unwrap();
        assert_eq!(raw.len(), 64);
        assert_eq!(decrypt(&key, "", &encrypted).unwrap().msg, "twelve bytes");
    }

    #[test]
    fn another_accounts_message_is_refused() {
        let key = EncodingAesKey::parse(KEY).unwrap();
        let encrypted = encrypt(&key, "wxaaaaaaaaaaaaaaaa", b"<xml/>", &[1; 16]);
        assert_eq!(
            decrypt(&key, "wxbbbbbbbbbbbbbbbb", &encrypted).unwrap_err(),
            MpCryptoError::AppidMismatch {
                expected: "wxbbbbbbbbbbbbbbbb".into(),
                found: "wxaaaaaaaaaaaaaaaa".into()
            }
        );
    }

    #[test]
    fn a_wrong_key_fails_without_panicking() {
        let key = EncodingAesKey::parse(KEY).unwrap();
        let other = EncodingAesKey::parse(&"A".repeat(43)).unwrap();
        let encrypted = encrypt(&key, "wx1", b"<xml/>", &[1; 16]);
        assert!(decrypt(&other, "wx1", &encrypted).is_err());
        assert_eq!(
            decrypt(&key, "wx1", "AAAA").unwrap_err(),
            MpCryptoError::CiphertextLength { len: 3 }
        );
    }
}
