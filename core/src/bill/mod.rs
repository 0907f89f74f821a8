//! WeChat Pay's daily bills (PROTOCOL-2 §1): the trade bill (`GET /v3/bill/tradebill`, column
//! sets `ALL` / `SUCCESS` / `REFUND`) and the fund-flow bill (`GET /v3/bill/fundflowbill`,
//! account `BASIC`), read and written in WeChat's exact file format, and the pure matching of a
//! bill against our own orders and refunds ([`reconcile`]).
//!
//! The file format: a header line (no backticks), one line per row with **every value prefixed
//! by a backtick**, then a summary header and one summary line (backticked too). Values are
//! separated by `,` and never quoted. Amounts are yuan decimal strings (two decimals; fees five),
//! times `yyyy-MM-dd HH:mm:ss` in Asia/Shanghai. A UTF-8 BOM and `\r\n` or `\n` line endings are
//! accepted; the renderers write `\r\n` and no BOM. Columns are found by header name, not by
//! position. The summary line must agree with the rows: a mismatch is an error, never a guess.
//!
//! The download is checked with [`sha1_hex`] of the **uncompressed** file against the apply
//! answer's `hash_value` ([`verify_hash`]); `tar_type=GZIP` files are opened with
//! [`gzip::gunzip`].

pub mod fund;
pub mod gzip;
pub mod reconcile;
pub mod trade;

use sha1::{Digest as _, Sha1};

use crate::money::Fen;
use crate::paytime::{civil_from_days, days_from_civil, CST_OFFSET_SECS};

pub use reconcile::{DayReport, Discrepancy, DiscrepancyKind};

/// Why a bill file was not accepted. Nothing from a refused file is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    /// No header line.
    #[error("账单为空")]
    Empty,
    /// The header does not name a column this bill type must have.
    #[error("账单表头缺少列“{0}”")]
    MissingColumn(&'static str),
    /// A row with another number of values than the header.
    #[error("账单第 {line} 行有 {found} 个字段，表头有 {expected} 个")]
    Width {
        /// 1-based line number.
        line: usize,
        /// Values in the header.
        expected: usize,
        /// Values in the line.
        found: usize,
    },
    /// A value that is not what its column holds.
    #[error("账单第 {line} 行“{column}”的值“{value}”无效")]
    Value {
        /// 1-based line number.
        line: usize,
        /// Header name.
        column: &'static str,
        /// The value as written (without its backtick).
        value: String,
    },
    /// A detail or summary value without its leading backtick.
    #[error("账单第 {line} 行的值缺少前导反引号")]
    Backtick {
        /// 1-based line number.
        line: usize,
    },
    /// The summary header or line is missing or malformed.
    #[error("账单缺少汇总行")]
    NoSummary,
    /// The summary line disagrees with the rows.
    #[error("账单汇总“{column}”为 {stated}，明细合计为 {computed}")]
    Totals {
        /// Summary header name.
        column: &'static str,
        /// What the summary line says.
        stated: String,
        /// What the rows add up to.
        computed: String,
    },
    /// The file is not the one WeChat Pay described (SHA-1 mismatch).
    #[error("账单文件摘要不符（应为 {expected}，实为 {actual}），已拒收")]
    Hash {
        /// `hash_value` of the apply answer.
        expected: String,
        /// SHA-1 of what was downloaded (uncompressed).
        actual: String,
    },
    /// The gzip container is broken.
    #[error("账单压缩文件无法解压：{0}")]
    Gzip(String),
    /// Not UTF-8.
    #[error("账单不是 UTF-8 文本")]
    Encoding,
}

/// Lowercase hex SHA-1 of `bytes` (WeChat's `hash_value`, `hash_type=SHA1`).
pub fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(Sha1::digest(bytes))
}

/// Checks an uncompressed bill against the `hash_value` of its apply answer (case-insensitive).
pub fn verify_hash(uncompressed: &[u8], hash_value: &str) -> Result<(), BillError> {
    let actual = sha1_hex(uncompressed);
    if actual.eq_ignore_ascii_case(hash_value.trim()) {
        Ok(())
    } else {
        Err(BillError::Hash {
            expected: hash_value.to_string(),
            actual,
        })
    }
}

/// `bill_date` as WeChat writes it (`yyyy-MM-dd`) of a Shanghai day.
pub fn bill_date(day: crate::paytime::ShanghaiDay) -> String {
    day.to_date_string()
}

/// The Shanghai day of a `yyyy-MM-dd` text, or `None`.
pub fn parse_bill_date(text: &str) -> Option<crate::paytime::ShanghaiDay> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = &text[r];
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=12).contains(&m) || d == 0 || d > 31 {
        return None;
    }
    let days = days_from_civil(i64::from(y), m, d);
    // Reject 2026-02-30 and the like: the day must render back to itself.
    let day = crate::paytime::ShanghaiDay::from_number(days);
    (day.to_date_string() == text).then_some(day)
}

/// The path and query of the trade-bill apply call (`ALL`, gzip; `sub_mchid` for a partner).
pub fn trade_bill_path(date: &str, sub_mchid: Option<&str>) -> String {
    let mut path = format!("/v3/bill/tradebill?bill_date={date}&bill_type=ALL&tar_type=GZIP");
    if let Some(sub) = sub_mchid {
        path.push_str("&sub_mchid=");
        path.push_str(sub);
    }
    path
}

/// The path and query of the fund-flow bill apply call (`BASIC`, gzip). WeChat's fund-flow
/// bill is the signing merchant's own account: a service provider applies for its own.
pub fn fund_bill_path(date: &str) -> String {
    format!("/v3/bill/fundflowbill?bill_date={date}&account_type=BASIC&tar_type=GZIP")
}

/// The path and query of a `download_url` (what is signed and fetched from the base URL), or
/// `None` when it is not an `http(s)://host/…` URL.
pub fn download_path(download_url: &str) -> Option<&str> {
    let rest = download_url
        .strip_prefix("https://")
        .or_else(|| download_url.strip_prefix("http://"))?;
    let slash = rest.find('/')?;
    Some(&rest[slash..])
}

// ---- values ---------------------------------------------------------------------------------

/// Reads a signed yuan decimal with at most `decimals` places into units of 10^-decimals yuan.
/// `"0.01"` → 1 (decimals 2); `"-0.02000"` → -2000 (decimals 5). No floats.
pub(crate) fn parse_decimal(text: &str, decimals: u32) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    if whole.is_empty()
        || frac.len() > decimals as usize
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (digits.contains('.') && frac.is_empty())
    {
        return None;
    }
    let scale = 10i64.checked_pow(decimals)?;
    let mut value = whole.parse::<i64>().ok()?.checked_mul(scale)?;
    let mut unit = scale;
    for b in frac.bytes() {
        unit /= 10;
        value = value.checked_add(i64::from(b - b'0') * unit)?;
    }
    Some(if negative { -value } else { value })
}

/// Writes units of 10^-decimals yuan with exactly `decimals` places.
pub(crate) fn format_decimal(units: i64, decimals: u32) -> String {
    let scale = 10i64.pow(decimals);
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let scale = scale as u64;
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = decimals as usize
    )
}

/// Yuan with two decimals → fen.
pub(crate) fn parse_fen(text: &str) -> Option<Fen> {
    parse_decimal(text, 2).map(Fen::new)
}

/// Fen → yuan with two decimals.
pub fn format_fen(fen: Fen) -> String {
    format_decimal(fen.get(), 2)
}

/// Fees are written with five decimals of a yuan: units of 1/1000 fen.
pub(crate) fn parse_fee(text: &str) -> Option<i64> {
    parse_decimal(text, 5)
}

/// 1/1000 fen → yuan with five decimals.
pub fn format_fee(milli_fen: i64) -> String {
    format_decimal(milli_fen, 5)
}

/// 1/1000 fen rounded half away from zero to fen.
pub fn fee_fen(milli_fen: i64) -> Fen {
    let sign = milli_fen.signum();
    Fen::new(sign * ((milli_fen.abs() + 500) / 1000))
}

/// `yyyy-MM-dd HH:mm:ss` in Asia/Shanghai → Unix seconds.
pub fn parse_cst_time(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(' ')?;
    let day = parse_bill_date(date)?;
    let t = time.as_bytes();
    if t.len() != 8 || t[2] != b':' || t[5] != b':' {
        return None;
    }
    let part = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = &time[r];
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (h, m, s) = (part(0..2)?, part(3..5)?, part(6..8)?);
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(day.start() + h * 3600 + m * 60 + s)
}

/// Unix seconds → `yyyy-MM-dd HH:mm:ss` in Asia/Shanghai.
pub fn format_cst_time(unix: i64) -> String {
    let local = unix + CST_OFFSET_SECS;
    let (y, mo, d) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// ---- lines ----------------------------------------------------------------------------------

/// The lines of a bill: BOM stripped, `\r\n` or `\n`, trailing empty lines dropped.
pub(crate) fn lines(text: &str) -> Vec<&str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// The values of a detail or summary line, each without its one leading backtick.
pub(crate) fn values(line: &str, number: usize) -> Result<Vec<&str>, BillError> {
    line.split(',')
        .map(|v| {
            v.strip_prefix('`')
                .ok_or(BillError::Backtick { line: number })
        })
        .collect()
}

/// One detail or summary line: every value backticked; commas in a value become `，` (WeChat
/// documents no quoting, so a comma can never be written inside a value).
pub(crate) fn write_line(out: &mut String, values: &[String]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('`');
        out.push_str(&v.replace(',', "，").replace(['\r', '\n'], " "));
    }
    out.push_str("\r\n");
}

/// The index of each wanted column in a header, by name.
pub(crate) struct Columns {
    names: Vec<String>,
}

impl Columns {
    pub(crate) fn new(header: &str) -> Columns {
        Columns {
            names: header.split(',').map(|s| s.trim().to_string()).collect(),
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    pub(crate) fn index(&self, name: &'static str) -> Result<usize, BillError> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or(BillError::MissingColumn(name))
    }

    pub(crate) fn width(&self) -> usize {
        self.names.len()
    }
}

/// A value of a detail line, checked by the column's reader.
pub(crate) fn read<T>(
    values: &[&str],
    index: usize,
    line: usize,
    column: &'static str,
    reader: impl Fn(&str) -> Option<T>,
) -> Result<T, BillError> {
    let value = values[index];
    reader(value).ok_or_else(|| BillError::Value {
        line,
        column,
        value: value.to_string(),
    })
}

/// Compares a summary value (`decimals` places of a yuan; 0 for a count) with the sum of the
/// rows, numerically (`0.1` and `0.10` are the same amount).
pub(crate) fn check_total(
    column: &'static str,
    stated: &str,
    decimals: u32,
    computed: i64,
) -> Result<(), BillError> {
    if parse_decimal(stated, decimals) == Some(computed) {
        Ok(())
    } else {
        Err(BillError::Totals {
            column,
            stated: stated.to_string(),
            computed: if decimals == 0 {
                computed.to_string()
            } else {
                format_decimal(computed, decimals)
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_read_exactly() {
        assert_eq!(parse_decimal("0.01", 2), Some(1));
        assert_eq!(parse_decimal("123.4", 2), Some(12340));
        assert_eq!(parse_decimal("-0.02000", 5), Some(-2000));
        assert_eq!(parse_decimal("7", 2), Some(700));
        assert_eq!(parse_decimal("0.001", 2), None);
        assert_eq!(parse_decimal("1.", 2), None);
        assert_eq!(parse_decimal("", 2), None);
        assert_eq!(parse_decimal("1e3", 2), None);
        assert_eq!(format_decimal(-2000, 5), "-0.02000");
        assert_eq!(format_fen(Fen::new(12345)), "123.45");
        assert_eq!(fee_fen(600), Fen::new(1));
        assert_eq!(fee_fen(499), Fen::ZERO);
        assert_eq!(fee_fen(-1500), Fen::new(-2));
    }

    #[test]
    fn times_are_china_time() {
        let t = parse_cst_time("2021-01-28 17:07:11").unwrap();
        assert_eq!(t, 1_611_824_831);
        assert_eq!(format_cst_time(t), "2021-01-28 17:07:11");
        assert_eq!(parse_cst_time("2021-02-30 00:00:00"), None);
        assert_eq!(parse_cst_time("2021-01-28 24:00:00"), None);
        assert_eq!(parse_cst_time("2021-01-28T17:07:11"), None);
    }

    #[test]
    fn hash_is_checked_on_the_uncompressed_bytes() {
        assert!(verify_hash(b"abc", "A9993E364706816ABA3E25717850C26C9CD0D89D").is_ok());
        assert!(matches!(
            verify_hash(b"abd", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            Err(BillError::Hash { .. })
        ));
    }

    #[test]
    fn download_path_keeps_the_query_as_given() {
        assert_eq!(
            download_path(
                "https://api.mch.weixin.qq.com/v3/billdownload/file?token=a%2Bb&tartype=gzip"
            ),
            Some("/v3/billdownload/file?token=a%2Bb&tartype=gzip")
        );
        assert_eq!(download_path("ftp://x/y"), None);
        assert_eq!(
            trade_bill_path("2026-11-28", Some("1900000109")),
            "/v3/bill/tradebill?bill_date=2026-11-28&bill_type=ALL&tar_type=GZIP&sub_mchid=1900000109"
        );
    }
}

#[cfg(test)]
mod format_tests;
