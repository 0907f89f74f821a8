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
    /// `DATA_KEY` / `DATA_KEY_PREVIOUS` name a version twice, or a version is not 1–9999.
    #[error("DATA_KEY / DATA_KEY_PREVIOUS: each key needs its own version 1–9999 (`2:BASE64`)")]
    BadVersions,
    /// Not something [`DataKey::seal`] wrote.
    #[error("sealed value is malformed")]
    Malformed,
    /// Sealed with a key version that is not configured (any more).
    #[error("sealed with data key v{0}, which is not configured (DATA_KEY / DATA_KEY_PREVIOUS)")]
    UnknownVersion(u32),
    /// Wrong key, wrong column or row, or tampered with.
    #[error("sealed value does not open with this DATA_KEY (wrong key, wrong row or tampered)")]
    TagMismatch,
}

/// What a sealed value is bound to (its AES-GCM associated data): the column alone (older
/// columns: a sealed phone does not open as a name) or the column and the row's id (a value
/// copied to another row does not open there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    /// `column`.
    Column(&'a str),
    /// `column` + NUL + `row`.
    Row(&'a str, &'a str),
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        match self {
            Binding::Column(column) => column.as_bytes().to_vec(),
            Binding::Row(column, row) => [column.as_bytes(), b"\0", row.as_bytes()].concat(),
        }
    }
}

/// The keys that seal personal data: the current one (`DATA_KEY`), which seals, and older
/// ones (`DATA_KEY_PREVIOUS`), which only open. Every key has a version, and a sealed value
/// names the version that sealed it: `v<version>.` + base64(nonce ‖ ciphertext ‖ tag). A key
/// configured without a version is version 1, which is what values sealed before versions
/// existed (`v1.`) were sealed with. `Debug` never shows a key.
#[derive(Clone)]
pub struct DataKey {
    current: u32,
    keys: Vec<(u32, Aes256Gcm)>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey(v{}, <redacted>)", self.current)
    }
}

/// `2:BASE64` → (2, key); plain `BASE64` → (1, key).
fn versioned(entry: &str) -> Result<(u32, Aes256Gcm), SealError> {
    let entry = entry.trim();
    let (version, b64) = match entry.split_once(':') {
        Some((v, k)) => (
            v.trim()
                .strip_prefix('v')
                .unwrap_or(v.trim())
                .parse::<u32>()
                .map_err(|_| SealError::BadVersions)?,
            k,
        ),
        None => (1, entry),
    };
    if !(1..=9999).contains(&version) {
        return Err(SealError::BadVersions);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| SealError::BadKey)?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
    Ok((version, Aes256Gcm::new(&key.into())))
}

impl DataKey {
    /// One key as configured: standard base64 of 32 bytes, optionally preceded by its version
    /// (`2:BASE64`; without one it is version 1).
    pub fn from_base64(s: &str) -> Result<DataKey, SealError> {
        Self::from_config(s, None)
    }

    /// The current key (`DATA_KEY`) and the older ones (`DATA_KEY_PREVIOUS`: entries like the
    /// current one, separated by commas or white space).
    pub fn from_config(current: &str, previous: Option<&str>) -> Result<DataKey, SealError> {
        let first = versioned(current)?;
        let mut keys = vec![first];
        for entry in previous
            .unwrap_or_default()
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let key = versioned(entry)?;
            if keys.iter().any(|(v, _)| *v == key.0) {
                return Err(SealError::BadVersions);
            }
            keys.push(key);
        }
        Ok(DataKey {
            current: keys[0].0,
            keys,
        })
    }

    /// The version new values are sealed with.
    pub fn current_version(&self) -> u32 {
        self.current
    }

    /// The versions that open, current first.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.iter().map(|(v, _)| *v).collect()
    }

    /// The key version a sealed value names, if it is well formed.
    pub fn version_of(sealed: &str) -> Option<u32> {
        let (head, _) = sealed.split_once('.')?;
        head.strip_prefix('v')?.parse().ok()
    }

    /// Whether `sealed` is sealed with the current key (nothing for a rotation to do).
    pub fn is_current(&self, sealed: &str) -> bool {
        Self::version_of(sealed) == Some(self.current)
    }

    /// Seals `plaintext` for `column` with a fresh random `nonce` under the current key.
    pub fn seal(&self, column: &str, nonce: [u8; NONCE_LEN], plaintext: &str) -> String {
        self.seal_bound(Binding::Column(column), nonce, plaintext)
    }

    /// Seals `plaintext` bound to `binding` with a fresh random `nonce` under the current key.
    pub fn seal_bound(
        &self,
        binding: Binding<'_>,
        nonce: [u8; NONCE_LEN],
        plaintext: &str,
    ) -> String {
        let cipher = &self.keys[0].1;
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &binding.aad(),
                },
            )
            // Only fails for plaintexts beyond AES-GCM's ~64 GiB limit.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!(
            "v{}.{}",
            self.current,
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// Opens what [`DataKey::seal`] wrote for the same `column`, under any configured version.
    pub fn open(&self, column: &str, sealed: &str) -> Result<String, SealError> {
        self.open_bound(Binding::Column(column), sealed)
    }

    /// Opens what [`DataKey::seal_bound`] wrote for the same binding, under any configured
    /// version.
    pub fn open_bound(&self, binding: Binding<'_>, sealed: &str) -> Result<String, SealError> {
        let version = Self::version_of(sealed).ok_or(SealError::Malformed)?;
        let (_, body) = sealed.split_once('.').ok_or(SealError::Malformed)?;
        let cipher = self
            .keys
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, k)| k)
            .ok_or(SealError::UnknownVersion(version))?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &binding.aad(),
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
        assert_eq!(format!("{key:?}"), "DataKey(v1, <redacted>)");
    }

    const KEY_B: &str = "MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWY=";

    #[test]
    fn sealed_values_name_their_key_version_and_open_after_a_rotation() {
        let a = DataKey::from_base64(KEY).unwrap();
        let old = a.seal("phone", [3; NONCE_LEN], "13812341234");
        assert!(old.starts_with("v1."));
        // Rotated: B is current (v2), A kept as the previous key.
        let rotated = DataKey::from_config(&format!("2:{KEY_B}"), Some(KEY)).unwrap();
        assert_eq!(rotated.current_version(), 2);
        assert_eq!(rotated.versions(), vec![2, 1]);
        assert!(!rotated.is_current(&old));
        assert_eq!(rotated.open("phone", &old).unwrap(), "13812341234");
        let new = rotated.seal("phone", [4; NONCE_LEN], "13812341234");
        assert!(new.starts_with("v2.") && rotated.is_current(&new));
        // A removed: only v2 values open; v1 ones name the missing version.
        let only_b = DataKey::from_config(&format!("2:{KEY_B}"), None).unwrap();
        assert_eq!(only_b.open("phone", &new).unwrap(), "13812341234");
        assert_eq!(
            only_b.open("phone", &old),
            Err(SealError::UnknownVersion(1))
        );
        // The version is authenticated by the key choice: relabelled values do not open.
        let relabelled = old.replacen("v1.", "v2.", 1);
        assert_eq!(
            rotated.open("phone", &relabelled),
            Err(SealError::TagMismatch)
        );
    }

    #[test]
    fn row_bound_values_open_only_in_their_row() {
        let key = DataKey::from_config(&format!("3:{KEY}"), Some(&format!("1:{KEY_B}"))).unwrap();
        let sealed = key.seal_bound(
            Binding::Row("orders.payer", "ord1"),
            [5; NONCE_LEN],
            "oPayer",
        );
        assert_eq!(
            key.open_bound(Binding::Row("orders.payer", "ord1"), &sealed)
                .unwrap(),
            "oPayer"
        );
        for wrong in [
            Binding::Row("orders.payer", "ord2"),
            Binding::Row("oa_followups.openid", "ord1"),
            Binding::Column("orders.payer"),
        ] {
            assert_eq!(key.open_bound(wrong, &sealed), Err(SealError::TagMismatch));
        }
    }

    #[test]
    fn key_versions_must_be_distinct_and_valid() {
        assert_eq!(
            DataKey::from_config(KEY, Some(KEY_B)).unwrap_err(),
            SealError::BadVersions
        );
        assert_eq!(
            DataKey::from_config(&format!("0:{KEY}"), None).unwrap_err(),
            SealError::BadVersions
        );
        assert_eq!(
            DataKey::from_config(&format!("x:{KEY}"), None).unwrap_err(),
            SealError::BadVersions
        );
        let many =
            DataKey::from_config(&format!("v3:{KEY}"), Some(&format!("2:{KEY_B}, 1:{KEY}\n")))
                .unwrap();
        assert_eq!(many.versions(), vec![3, 2, 1]);
        assert_eq!(DataKey::version_of("v12.abc"), Some(12));
        assert_eq!(DataKey::version_of("12.abc"), None);
    }
}
