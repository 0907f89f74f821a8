//! Order fields WeChat Pay constrains, as types that can only hold valid values: once an
//! [`OutTradeNo`], [`Description`] or [`Attach`] exists, the prepay call will not reject it.

use serde::{Deserialize, Serialize};

/// Why a value does not fit a WeChat Pay order field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// `out_trade_no` must be 6 to 32 characters.
    #[error("out_trade_no must be 6–32 characters, got {len}")]
    OutTradeNoLength {
        /// Characters given.
        len: usize,
    },
    /// `out_trade_no` allows only `0-9 A-Z a-z _ - | *`.
    #[error("out_trade_no may only contain 0-9, A-Z, a-z, _, -, | and *; found {ch:?} at position {position}")]
    OutTradeNoChar {
        /// The offending character.
        ch: char,
        /// Its 0-based character position.
        position: usize,
    },
    /// `description` is required.
    #[error("description must not be empty")]
    DescriptionEmpty,
    /// `description` is limited to 127 characters.
    #[error(
        "description must be at most {} characters, got {chars}",
        Description::MAX_CHARS
    )]
    DescriptionTooLong {
        /// Characters given.
        chars: usize,
    },
    /// `attach` is limited to 128 characters.
    #[error("attach must be at most {} characters, got {chars}", Attach::MAX_CHARS)]
    AttachTooLong {
        /// Characters given.
        chars: usize,
    },
}

/// The merchant's order number: 6–32 characters of `[0-9A-Za-z_\-|*]`, unique per merchant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OutTradeNo(String);

impl OutTradeNo {
    /// Shortest allowed length.
    pub const MIN_LEN: usize = 6;
    /// Longest allowed length.
    pub const MAX_LEN: usize = 32;

    /// Checks and wraps `value`.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        if let Some((position, ch)) = value
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '|' | '*')))
        {
            return Err(FieldError::OutTradeNoChar { ch, position });
        }
        // All characters are ASCII from here on, so bytes = characters.
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&value.len()) {
            return Err(FieldError::OutTradeNoLength { len: value.len() });
        }
        Ok(OutTradeNo(value.to_string()))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The order description shown in the payer's bill: 1–127 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    /// Longest allowed length, in characters.
    pub const MAX_CHARS: usize = 127;

    /// Checks and wraps `value`.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let chars = value.chars().count();
        if chars == 0 {
            return Err(FieldError::DescriptionEmpty);
        }
        if chars > Self::MAX_CHARS {
            return Err(FieldError::DescriptionTooLong { chars });
        }
        Ok(Description(value.to_string()))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Merchant data echoed back in queries and the payment notification: at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Attach(String);

impl Attach {
    /// Longest allowed length, in characters.
    pub const MAX_CHARS: usize = 128;

    /// Checks and wraps `value`.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let chars = value.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(FieldError::AttachTooLong { chars });
        }
        Ok(Attach(value.to_string()))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_conversions {
    ($($t:ident),*) => {$(
        impl TryFrom<String> for $t {
            type Error = FieldError;
            fn try_from(value: String) -> Result<Self, FieldError> {
                Self::parse(&value)
            }
        }
        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.0
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $t {
            type Err = FieldError;
            fn from_str(value: &str) -> Result<Self, FieldError> {
                Self::parse(value)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    )*};
}
string_newtype_conversions!(OutTradeNo, Description, Attach);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_trade_no_accepts_the_whole_alphabet_within_bounds() {
        for ok in [
            "123456",
            "aZ09_-|*",
            &"x".repeat(32),
            "1217752501201407033233368018",
        ] {
            assert_eq!(OutTradeNo::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn out_trade_no_rejects_bad_lengths_and_characters() {
        assert_eq!(
            OutTradeNo::parse("12345"),
            Err(FieldError::OutTradeNoLength { len: 5 })
        );
        assert_eq!(
            OutTradeNo::parse(&"x".repeat(33)),
            Err(FieldError::OutTradeNoLength { len: 33 })
        );
        assert_eq!(
            OutTradeNo::parse("abc def"),
            Err(FieldError::OutTradeNoChar {
                ch: ' ',
                position: 3
            })
        );
        assert_eq!(
            OutTradeNo::parse("订单123456"),
            Err(FieldError::OutTradeNoChar {
                ch: '订',
                position: 0
            })
        );
        assert!(OutTradeNo::parse("abc@def").is_err());
    }

    #[test]
    fn description_counts_characters_not_bytes() {
        assert!(Description::parse(&"收".repeat(127)).is_ok());
        assert_eq!(
            Description::parse(&"收".repeat(128)),
            Err(FieldError::DescriptionTooLong { chars: 128 })
        );
        assert_eq!(Description::parse(""), Err(FieldError::DescriptionEmpty));
    }

    #[test]
    fn attach_allows_128_characters() {
        assert!(Attach::parse(&"款".repeat(128)).is_ok());
        assert_eq!(
            Attach::parse(&"款".repeat(129)),
            Err(FieldError::AttachTooLong { chars: 129 })
        );
    }

    #[test]
    fn deserializing_validates() {
        let ok: OutTradeNo = serde_json::from_str("\"order_123456\"").unwrap();
        assert_eq!(ok.as_str(), "order_123456");
        assert!(serde_json::from_str::<OutTradeNo>("\"short\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"order_123456\"");
    }
}
