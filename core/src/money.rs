//! Money as integer fen (1 CNY = 100 fen). Never floats.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in fen. Arithmetic is checked: overflow is an error, never a wrap.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Fen(i64);

/// The most one payment request may ask for: ¥50 000 (above it WeChat requires identity checks).
pub const MAX_REQUEST: Fen = Fen(5_000_000);

/// Why a typed amount was refused. The `Display` text is shown to people, in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Nothing was typed.
    #[error("请输入金额")]
    Empty,
    /// Not a decimal number (letters, several dots, signs in the middle, …).
    #[error("金额格式不正确，请输入如 12.34 的数字")]
    NotANumber,
    /// A minus sign.
    #[error("金额不能为负数")]
    Negative,
    /// Zero.
    #[error("金额必须大于 0")]
    Zero,
    /// Three or more digits after the point: fen is the smallest unit.
    #[error("金额最多保留两位小数")]
    TooPrecise,
    /// Above the per-request ceiling.
    #[error("单笔金额不能超过 {}", .max)]
    TooLarge {
        /// The ceiling that was exceeded.
        max: Fen,
    },
}

impl Fen {
    /// Zero fen.
    pub const ZERO: Fen = Fen(0);

    /// Wraps a fen count.
    pub const fn new(fen: i64) -> Self {
        Fen(fen)
    }

    /// The fen count.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    /// `self - other`, or `None` on overflow.
    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    /// `self * n`, or `None` on overflow.
    pub fn checked_mul(self, n: i64) -> Option<Fen> {
        self.0.checked_mul(n).map(Fen)
    }

    /// Parses an amount a person typed in yuan: `12.34`, `12`, `0.5`, `¥8.8`, `¥1,234.50`.
    ///
    /// Surrounding spaces and one leading `¥`/`￥` are accepted; full-width digits and the
    /// full-width point (common on Chinese keyboards) are read as their ASCII twins; commas
    /// are accepted as thousands separators in their right places only (what [`Fen`]'s
    /// `Display` writes, so a shown amount pasted back parses), never as a decimal point.
    /// The result is a positive amount of at most [`MAX_REQUEST`].
    pub fn parse_yuan(input: &str) -> Result<Fen, AmountError> {
        Self::parse_yuan_with_max(input, MAX_REQUEST)
    }

    /// [`Fen::parse_yuan`] with another ceiling.
    pub fn parse_yuan_with_max(input: &str, max: Fen) -> Result<Fen, AmountError> {
        let normalized: String = input
            .trim()
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                '．' | '。' => '.',
                '－' => '-',
                other => other,
            })
            .collect();
        let s = normalized
            .strip_prefix('¥')
            .or_else(|| normalized.strip_prefix('￥'))
            .unwrap_or(&normalized)
            .trim();
        if s.is_empty() {
            return Err(AmountError::Empty);
        }
        if let Some(rest) = s.strip_prefix('-') {
            return if is_decimal(rest) {
                Err(AmountError::Negative)
            } else {
                Err(AmountError::NotANumber)
            };
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        let ungrouped;
        let s = if s.contains(',') {
            ungrouped = without_thousands_separators(s).ok_or(AmountError::NotANumber)?;
            ungrouped.as_str()
        } else {
            s
        };
        if !is_decimal(s) {
            return Err(AmountError::NotANumber);
        }
        let (int_part, frac_part) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if frac_part.len() > 2 {
            // `12.340` is still exact; only non-zero digits beyond fen are refused.
            if frac_part[2..].bytes().any(|b| b != b'0') {
                return Err(AmountError::TooPrecise);
            }
        }
        let int_digits = int_part.trim_start_matches('0');
        // More digits than the ceiling could ever have: too large, without overflowing i64.
        if int_digits.len() > 15 {
            return Err(AmountError::TooLarge { max });
        }
        let yuan: i64 = if int_digits.is_empty() {
            0
        } else {
            int_digits.parse().map_err(|_| AmountError::NotANumber)?
        };
        let mut frac = frac_part.bytes().chain(std::iter::repeat(b'0')).take(2);
        let tens = i64::from(frac.next().unwrap_or(b'0') - b'0');
        let ones = i64::from(frac.next().unwrap_or(b'0') - b'0');
        let fen = yuan
            .checked_mul(100)
            .and_then(|v| v.checked_add(tens * 10 + ones))
            .ok_or(AmountError::TooLarge { max })?;
        match fen {
            0 => Err(AmountError::Zero),
            f if f > max.0 => Err(AmountError::TooLarge { max }),
            f => Ok(Fen(f)),
        }
    }

    /// The amount as yuan with two decimals, without a currency sign or separators:
    /// `12.34`, `50000.00`, `-0.05`. For machines: CSV columns, form fields, WeChat API values.
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// `¥50000.00`: with the sign but without thousands separators, for fields whose format
    /// is fixed by someone else (WeChat template `amount` keywords: a currency sign and digits).
    pub fn to_plain_string(self) -> String {
        if self.0 < 0 {
            format!("-¥{}", self.to_yuan_string().trim_start_matches('-'))
        } else {
            format!("¥{}", self.to_yuan_string())
        }
    }
}

/// `1,234,567.8` → `1234567.8` when every comma separates a group of three digits of the
/// integer part; `None` otherwise (`1,00`, `12,345,6`, `1.234,5`).
fn without_thousands_separators(s: &str) -> Option<String> {
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let mut groups = int_part.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out = first.to_owned();
    for group in groups {
        if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push_str(group);
    }
    if let Some(f) = frac {
        if f.contains(',') {
            return None;
        }
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

/// Digits of the integer part in groups of three: `50000` → `50,000`.
fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Digits with at most one point, at least one digit, nothing else.
fn is_decimal(s: &str) -> bool {
    let mut dots = 0;
    let mut digits = 0;
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return false,
        }
    }
    digits > 0 && dots <= 1
}

/// Shown to people as `¥12.34`, `¥50,000.00`; the sign of negative amounts goes before the
/// `¥`. Machines get [`Fen::to_yuan_string`] or [`Fen::to_plain_string`].
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let yuan = group_thousands(&(abs / 100).to_string());
        write!(f, "{sign}¥{yuan}.{:02}", abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_usual_ways_of_typing_an_amount() {
        let cases = [
            ("12.34", 1234),
            ("12", 1200),
            ("0.5", 50),
            ("0.05", 5),
            (".5", 50),
            ("12.", 1200),
            (" 8.80 ", 880),
            ("¥8.8", 880),
            ("￥ 100", 10_000),
            ("１２．３４", 1234),
            ("12.340", 1234),
            ("007", 700),
            ("50000", 5_000_000),
            ("+1", 100),
            ("1,000", 100_000),
            ("¥50,000.00", 5_000_000),
            ("12,345.6", 1_234_560),
        ];
        for (input, fen) in cases {
            assert_eq!(Fen::parse_yuan(input), Ok(Fen(fen)), "input {input:?}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_positive_amount_with_a_reason() {
        use AmountError::*;
        let cases = [
            ("", Empty),
            ("  ", Empty),
            ("¥", Empty),
            ("-1", Negative),
            ("-0.01", Negative),
            ("0", Zero),
            ("0.00", Zero),
            ("12.345", TooPrecise),
            ("0.001", TooPrecise),
            ("abc", NotANumber),
            ("1,00", NotANumber),
            ("12,3456", NotANumber),
            (",100", NotANumber),
            ("1.000,5", NotANumber),
            ("1,", NotANumber),
            ("1.2.3", NotANumber),
            ("1e3", NotANumber),
            (".", NotANumber),
            ("12元", NotANumber),
            ("NaN", NotANumber),
            ("--1", NotANumber),
            ("50000.01", TooLarge { max: MAX_REQUEST }),
            ("99999999999999999999999", TooLarge { max: MAX_REQUEST }),
        ];
        for (input, err) in cases {
            assert_eq!(Fen::parse_yuan(input), Err(err), "input {input:?}");
        }
    }

    #[test]
    fn displays_as_yuan_with_two_decimals() {
        assert_eq!(Fen(1234).to_string(), "¥12.34");
        assert_eq!(Fen(5).to_string(), "¥0.05");
        assert_eq!(Fen(100_000).to_string(), "¥1,000.00");
        assert_eq!(Fen(5_000_000).to_string(), "¥50,000.00");
        assert_eq!(Fen(99_999).to_string(), "¥999.99");
        assert_eq!(Fen(12_345_678_900).to_string(), "¥123,456,789.00");
        assert_eq!(Fen(-5).to_string(), "-¥0.05");
        assert_eq!(Fen(-500_000).to_string(), "-¥5,000.00");
        assert_eq!(Fen(i64::MIN).to_string(), "-¥92,233,720,368,547,758.08");
        assert_eq!(Fen(5_000_000).to_plain_string(), "¥50000.00");
        assert_eq!(Fen(-5).to_plain_string(), "-¥0.05");
        assert_eq!(Fen(i64::MIN).to_yuan_string(), "-92233720368547758.08");
    }

    #[test]
    fn the_over_limit_message_has_one_yuan_sign() {
        let message = Fen::parse_yuan("50000.01").unwrap_err().to_string();
        assert_eq!(message, "单笔金额不能超过 ¥50,000.00");
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        assert_eq!(Fen(i64::MAX).checked_add(Fen(1)), None);
        assert_eq!(Fen(2).checked_mul(3), Some(Fen(6)));
        assert_eq!(Fen(i64::MIN).checked_sub(Fen(1)), None);
    }

    proptest! {
        #[test]
        fn display_then_parse_is_the_identity(fen in 1i64..=5_000_000) {
            let shown = Fen(fen).to_string();
            prop_assert_eq!(Fen::parse_yuan(&shown), Ok(Fen(fen)));
        }

        #[test]
        fn anything_accepted_is_within_one_fen_and_the_ceiling(s in "[0-9.¥ -]{0,12}|\\PC{0,12}") {
            if let Ok(fen) = Fen::parse_yuan(&s) {
                prop_assert!(fen.get() >= 1 && fen <= MAX_REQUEST, "{s:?} gave {fen:?}");
            }
        }
    }
}
