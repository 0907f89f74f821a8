//! Short texts people type into a collection: titles, notes, payee names.
//!
//! Lengths count characters (what a person sees), never bytes: a 30-character Chinese note
//! is 90 bytes of UTF-8 and must still fit.

use serde::{Deserialize, Serialize};

/// Why a text was refused. The `Display` text is shown to people, in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// A required text is empty (after trimming).
    #[error("{field}不能为空")]
    Empty {
        /// Which field, in Chinese.
        field: &'static str,
    },
    /// Too many characters.
    #[error("{field}最多 {max} 个字（现在 {len} 个）")]
    TooLong {
        /// Which field, in Chinese.
        field: &'static str,
        /// The limit in characters.
        max: usize,
        /// How many characters were given.
        len: usize,
    },
    /// Control characters (other than nothing) or line breaks in a single-line text.
    #[error("{field}含有不可见的控制字符")]
    ControlChars {
        /// Which field, in Chinese.
        field: &'static str,
    },
}

pub(crate) fn clean(
    input: &str,
    field: &'static str,
    max: usize,
    required: bool,
) -> Result<String, TextError> {
    let trimmed = input.trim();
    if trimmed.chars().any(|c| c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')) {
        return Err(TextError::ControlChars { field });
    }
    if required && trimmed.is_empty() {
        return Err(TextError::Empty { field });
    }
    let len = trimmed.chars().count();
    if len > max {
        return Err(TextError::TooLong { field, max, len });
    }
    Ok(trimmed.to_owned())
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr, $required:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The limit in characters.
            pub const MAX_CHARS: usize = $max;

            /// Trims and checks the text.
            pub fn parse(input: &str) -> Result<Self, TextError> {
                clean(input, $field, $max, $required).map($name)
            }

            /// The checked text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = TextError;
            fn try_from(s: String) -> Result<Self, TextError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

text_newtype!(
    /// A collection's title: 1–40 characters on one line.
    Title, "标题", 40, true
);
text_newtype!(
    /// A note shown under the amount: at most 30 characters, may be empty.
    Note, "备注", 30, false
);
text_newtype!(
    /// The payee's display name: 1–20 characters.
    PayeeName, "收款人名称", 20, true
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_counts_characters_not_bytes() {
        let thirty = "一".repeat(30);
        assert_eq!(thirty.len(), 90);
        assert_eq!(Note::parse(&thirty).unwrap().as_str(), thirty);
        let thirty_one = "一".repeat(31);
        assert_eq!(
            Note::parse(&thirty_one),
            Err(TextError::TooLong {
                field: "备注",
                max: 30,
                len: 31
            })
        );
    }

    #[test]
    fn note_may_be_empty_but_title_may_not() {
        assert_eq!(Note::parse("  ").unwrap().as_str(), "");
        assert_eq!(Title::parse(" "), Err(TextError::Empty { field: "标题" }));
    }

    #[test]
    fn texts_are_trimmed_and_refuse_control_characters() {
        assert_eq!(PayeeName::parse("  张三 ").unwrap().as_str(), "张三");
        assert_eq!(
            Title::parse("a\nb"),
            Err(TextError::ControlChars { field: "标题" })
        );
        assert_eq!(
            Note::parse("a\u{202e}b"),
            Err(TextError::ControlChars { field: "备注" })
        );
    }

    #[test]
    fn deserializing_runs_the_same_checks() {
        let err = serde_json::from_str::<Note>(&format!("\"{}\"", "字".repeat(31)));
        assert!(err.is_err());
        let ok: Title = serde_json::from_str("\"聚餐 AA\"").unwrap();
        assert_eq!(ok.as_str(), "聚餐 AA");
    }
}
