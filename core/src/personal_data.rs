//! Personal data of participants: names and phone numbers, validated, masked for the public,
//! and sealed at rest with AES-256-GCM under the operator's `DATA_KEY`.
//!
//! Only the payee sees them in full. Everyone else sees `张*` and `138****1234`, which are
//! computed once at sign-up and stored next to the sealed value, so public reads never need
//! the key. Each value gets its own random 12-byte nonce (the caller draws it: the core does
//! no I/O), and the column it belongs to is bound as associated data, so a sealed phone
//! cannot be replayed into another column.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::text::TextError;

/// Length of a sealing nonce in bytes.
pub const NONCE_LEN: usize = 12;
const PREFIX: &str = "v1.";

/// A participant's display name: 1–20 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ParticipantName(String);

impl ParticipantName {
    /// The limit in characters.
    pub const MAX_CHARS: usize = 20;

    /// Trims and checks a typed name.
    pub fn parse(input: &str) -> Result<Self, TextError> {
        let field = "姓名";
        let trimmed = input.trim();
        if trimmed.chars().any(|c| {
            c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        }) {
            return Err(TextError::ControlChars { field });
        }
        if trimmed.is_empty() {
            return Err(TextError::Empty { field });
        }
        let len = trimmed.chars().count();
        if len > Self::MAX_CHARS {
            return Err(TextError::TooLong {
                field,
                max: Self::MAX_CHARS,
                len,
            });
        }
        Ok(ParticipantName(trimmed.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as the public sees it: `张**`, `T**`; see [`mask_name`].
    pub fn masked(&self) -> String {
        mask_name(&self.0)
    }
}

impl TryFrom<String> for ParticipantName {
    type Error = TextError;
    fn try_from(s: String) -> Result<Self, TextError> {
        Self::parse(&s)
    }
}

impl From<ParticipantName> for String {
    fn from(v: ParticipantName) -> String {
        v.0
    }
}

/// Masks a name to a fixed width: its first letter (a Han character, a Latin letter or a digit;
/// punctuation and emoji are skipped) and `**`, so neither the length nor what follows — a
/// bracketed remark like 「（我）」 — shows: `刘小明（我）` → `刘**`. A name with a single letter
/// would be shown whole, so it becomes `***`.
pub fn mask_name(name: &str) -> String {
    let mut letters = name.chars().filter(|c| c.is_alphanumeric());
    match (letters.next(), letters.next()) {
        (Some(first), Some(_)) => format!("{first}**"),
        _ => "***".to_owned(),
    }
}

/// Why a typed phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Not an 11-digit mainland mobile number.
    #[error("请输入 11 位手机号，如 13812341234")]
    Invalid,
}

/// A mainland China mobile number, normalised to its 11 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Accepts `13812341234`, `138 1234 1234`, `138-1234-1234`, `+86 138…`, `0086138…` and
    /// full-width digits.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let mut digits = String::with_capacity(11);
        let mut plus = false;
        for c in input.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                '０'..='９' => {
                    digits.push(char::from(b'0' + (c as u32 - '０' as u32) as u8));
                }
                ' ' | '-' | '\u{3000}' | '－' => {}
                '+' | '＋' if digits.is_empty() && !plus => plus = true,
                _ => return Err(PhoneError::Invalid),
            }
        }
        let national = if plus {
            digits.strip_prefix("86").ok_or(PhoneError::Invalid)?
        } else if digits.len() == 15 {
            digits.strip_prefix("0086").ok_or(PhoneError::Invalid)?
        } else if digits.len() == 13 {
            digits.strip_prefix("86").ok_or(PhoneError::Invalid)?
        } else {
            &digits
        };
        let b = national.as_bytes();
        if b.len() != 11 || b[0] != b'1' || !(b'3'..=b'9').contains(&b[1]) {
            return Err(PhoneError::Invalid);
        }
        Ok(Phone(national.to_owned()))
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****1234`.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

/// Masks a phone number's middle: `13812341234` → `138****1234`. Anything shorter than
/// 7 characters is fully masked.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// Why sealed data could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// `DATA_KEY` is not base64 of exactly 32 bytes.
    #[error("DATA_KEY must be base64 of 32 random bytes (e.g. `openssl rand -base64 32`)")]
    BadKey,
    /// Not something [`DataKey::seal`] wrote.
    #[error("sealed value is malformed")]
    Malformed,
    /// Wrong key, wrong column, or tampered with.
    #[error("sealed value does not open with this DATA_KEY (wrong key or tampered)")]
    TagMismatch,
}

/// The key that seals personal data (`DATA_KEY`). `Debug` never shows it.
#[derive(Clone)]
pub struct DataKey(Aes256Gcm);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    /// Reads the key as configured: standard base64 of 32 bytes.
    pub fn from_base64(s: &str) -> Result<DataKey, SealError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|_| SealError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(DataKey(Aes256Gcm::new(&key.into())))
    }

    /// Seals `plaintext` for `column` with a fresh random `nonce`: `v1.` + base64(nonce ‖
    /// ciphertext ‖ tag).
    pub fn seal(&self, column: &str, nonce: [u8; NONCE_LEN], plaintext: &str) -> String {
        let sealed = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: column.as_bytes(),
                },
            )
            // Only fails for plaintexts beyond AES-GCM's ~64 GiB limit.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// Opens what [`DataKey::seal`] wrote for the same `column`.
    pub fn open(&self, column: &str, sealed: &str) -> Result<String, SealError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SealError::Malformed)?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: column.as_bytes(),
                },
            )
            .map_err(|_| SealError::TagMismatch)?;
        String::from_utf8(plain).map_err(|_| SealError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn names_are_masked_as_wechat_does() {
        let cases = [
            ("张三", "张**"),
            ("张三丰", "张**"),
            ("欧阳锋锋", "欧**"),
            ("刘某某某某某某某某）（我）", "刘**"),
            ("（我）刘某", "我**"),
            ("张", "***"),
            ("【张】", "***"),
            ("Tom", "T**"),
            ("🍉西瓜", "西**"),
        ];
        for (name, masked) in cases {
            assert_eq!(ParticipantName::parse(name).unwrap().masked(), masked);
        }
    }

    #[test]
    fn names_are_checked_like_other_texts() {
        assert_eq!(ParticipantName::parse(" 李四 ").unwrap().as_str(), "李四");
        assert!(ParticipantName::parse("  ").is_err());
        assert!(ParticipantName::parse(&"字".repeat(21)).is_err());
        assert!(ParticipantName::parse("a\nb").is_err());
    }

    #[test]
    fn phones_are_normalised_and_masked() {
        for typed in [
            "13812341234",
            "138 1234 1234",
            "138-1234-1234",
            "+86 138 1234 1234",
            "008613812341234",
            "8613812341234",
            "１３８１２３４１２３４",
        ] {
            let phone = Phone::parse(typed).unwrap();
            assert_eq!(phone.as_str(), "13812341234", "{typed:?}");
            assert_eq!(phone.masked(), "138****1234");
        }
        for bad in [
            "",
            "1381234123",
            "23812341234",
            "12812341234",
            "1381234123a",
            "+1 13812341234",
            "138123412345",
        ] {
            assert_eq!(Phone::parse(bad), Err(PhoneError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_column() {
        let key = DataKey::from_base64(KEY).unwrap();
        let sealed = key.seal("phone", [7; NONCE_LEN], "13812341234");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("13812341234"));
        assert_eq!(key.open("phone", &sealed).unwrap(), "13812341234");
        assert_eq!(key.open("name", &sealed), Err(SealError::TagMismatch));
        let other = DataKey::from_base64("MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWY=").unwrap();
        assert_eq!(other.open("phone", &sealed), Err(SealError::TagMismatch));
        assert_eq!(key.open("phone", "v1.AAAA"), Err(SealError::Malformed));
        assert_eq!(key.open("phone", "13812341234"), Err(SealError::Malformed));
    }

    #[test]
    fn different_nonces_give_different_ciphertexts() {
        let key = DataKey::from_base64(KEY).unwrap();
        assert_ne!(
            key.seal("phone", [1; 12], "x"),
            key.seal("phone", [2; 12], "x")
        );
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64_and_never_print() {
        assert_eq!(
            DataKey::from_base64("short").unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(DataKey::from_base64("AAAA").unwrap_err(), SealError::BadKey);
        let key = DataKey::from_base64(KEY).unwrap();
        assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
    }
}
