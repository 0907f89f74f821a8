//! Times as WeChat Pay writes and reads them: RFC 3339 in China Standard Time
//! (`2026-11-27T17:34:00+08:00`), and the Asia/Shanghai calendar day that the daily receipt
//! limit counts by. Asia/Shanghai is UTC+8 all year (no daylight saving since 1991), so a fixed
//! offset is exact. The calendar arithmetic is Howard Hinnant's `days_from_civil` /
//! `civil_from_days`, written out so the core needs no time library.

/// China Standard Time's offset from UTC, in seconds.
pub const CST_OFFSET_SECS: i64 = 8 * 3600;

const DAY_SECS: i64 = 86_400;

/// A calendar day in Asia/Shanghai, as days since 1970-01-01 (which is day 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShanghaiDay(i64);

impl ShanghaiDay {
    /// The Shanghai calendar day that contains the Unix second `unix`.
    pub fn of(unix: i64) -> ShanghaiDay {
        ShanghaiDay((unix + CST_OFFSET_SECS).div_euclid(DAY_SECS))
    }

    /// Wraps a day number (as stored).
    pub const fn from_number(days: i64) -> ShanghaiDay {
        ShanghaiDay(days)
    }

    /// Days since 1970-01-01 (as stored).
    pub const fn number(self) -> i64 {
        self.0
    }

    /// Unix second of this day's 00:00:00 in Shanghai.
    pub fn start(self) -> i64 {
        self.0 * DAY_SECS - CST_OFFSET_SECS
    }

    /// Unix second of the next day's 00:00:00 in Shanghai (this day's exclusive end).
    pub fn end(self) -> i64 {
        self.start() + DAY_SECS
    }

    /// `YYYY-MM-DD`.
    pub fn to_date_string(self) -> String {
        let (y, m, d) = civil_from_days(self.0);
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day number since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// RFC 3339 in China time with whole seconds, as WeChat Pay wants `time_expire`:
/// `2026-11-27T17:34:00+08:00`.
pub fn rfc3339_cst(unix: i64) -> String {
    let local = unix + CST_OFFSET_SECS;
    let (y, mo, d) = civil_from_days(local.div_euclid(DAY_SECS));
    let secs = local.rem_euclid(DAY_SECS);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}+08:00",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `YYYY-MM-DD HH:MM:SS` in China time, for receipts.
pub fn display_cst(unix: i64) -> String {
    rfc3339_cst(unix)[..19].replacen('T', " ", 1)
}

/// `yyyyMMddHHmmss` in China time (order numbers).
pub fn compact_cst(unix: i64) -> String {
    rfc3339_cst(unix)[..19].replace(['-', 'T', ':'], "")
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses an RFC 3339 time as WeChat Pay writes them (`2026-11-27T17:34:00+08:00`, also `Z`
/// or another `±HH:MM` offset, optional fractional seconds) to Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.len() < 20 || !text.is_char_boundary(19) {
        return None;
    }
    let (main, zone) = text.split_at(19);
    let b = main.as_bytes();
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = digits(&main[0..4])?;
    let month = u32::try_from(digits(&main[5..7])?).ok()?;
    let day = u32::try_from(digits(&main[8..10])?).ok()?;
    let hour = digits(&main[11..13])?;
    let minute = digits(&main[14..16])?;
    let second = digits(&main[17..19])?;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let zone = match zone.strip_prefix('.') {
        Some(fraction) => fraction.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => zone,
    };
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let rest = &zone[1..];
            if rest.len() != 5 || rest.as_bytes()[2] != b':' {
                return None;
            }
            let (h, m) = (digits(&rest[0..2])?, digits(&rest[3..5])?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * DAY_SECS + hour * 3600 + minute * 60 + second.min(59) - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn times_are_written_in_china_time_without_fractions() {
        assert_eq!(rfc3339_cst(0), "1970-01-01T08:00:00+08:00");
        assert_eq!(display_cst(0), "1970-01-01 08:00:00");
        assert_eq!(compact_cst(0), "19700101080000");
        // 2026-11-27T09:34:05Z
        assert_eq!(rfc3339_cst(1_795_772_045), "2026-11-27T17:34:05+08:00");
    }

    #[test]
    fn wechat_times_parse_back_whatever_the_offset() {
        assert_eq!(parse_rfc3339("1970-01-01T08:00:00+08:00"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.123Z"), Some(0));
        assert_eq!(parse_rfc3339("1969-12-31T19:00:00-05:00"), Some(0));
        assert_eq!(
            parse_rfc3339("2018-06-08T10:34:56+08:00"),
            Some(1_528_425_296)
        );
        for bad in [
            "",
            "2026-13-01T00:00:00+08:00",
            "2026-02-30T00:00:00+08:00",
            "2026-11-27 17:34:05",
            "2026-11-27T17:34:05+0800",
            "2026-11-27T25:00:00+08:00",
            "２０２６-11-27T17:34:05+08:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_shanghai_day_turns_at_midnight_beijing_time() {
        // 2026-11-27T15:59:59Z = 23:59:59 in Shanghai; one second later is the next day.
        let before = parse_rfc3339("2026-11-27T23:59:59+08:00").unwrap();
        assert_eq!(ShanghaiDay::of(before).to_date_string(), "2026-11-27");
        assert_eq!(ShanghaiDay::of(before + 1).to_date_string(), "2026-11-28");
        let day = ShanghaiDay::of(before);
        assert_eq!(day.end(), before + 1);
        assert_eq!(
            day.start(),
            parse_rfc3339("2026-11-27T00:00:00+08:00").unwrap()
        );
        // UTC midnight is 08:00 in Shanghai: still the same Shanghai day.
        let utc_midnight = parse_rfc3339("2026-11-28T00:00:00Z").unwrap();
        assert_eq!(ShanghaiDay::of(utc_midnight).to_date_string(), "2026-11-28");
        assert_eq!(
            ShanghaiDay::of(utc_midnight - 1).to_date_string(),
            "2026-11-28"
        );
        assert_eq!(
            ShanghaiDay::of(utc_midnight - 8 * 3600 - 1).to_date_string(),
            "2026-11-27"
        );
    }

    proptest! {
        #[test]
        fn formatting_then_parsing_is_the_identity(unix in -2_000_000_000i64..8_000_000_000i64) {
            prop_assert_eq!(parse_rfc3339(&rfc3339_cst(unix)), Some(unix));
        }

        #[test]
        fn every_second_lies_inside_its_own_day(unix in -2_000_000_000i64..8_000_000_000i64) {
            let day = ShanghaiDay::of(unix);
            prop_assert!(day.start() <= unix && unix < day.end());
            prop_assert_eq!(ShanghaiDay::from_number(day.number()), day);
        }
    }
}
