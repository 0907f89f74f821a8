//! Deadlines in China Standard Time (Asia/Shanghai: UTC+8 all year, no daylight saving).
//!
//! People type and read deadlines as Beijing wall-clock time (`2026-12-01T18:00`, the value of
//! an `<input type="datetime-local">`); everything stored is Unix seconds. The calendar
//! arithmetic is Howard Hinnant's `days_from_civil` / `civil_from_days`, written out so the
//! core needs no time library.

use crate::paytime::{civil_from_days, days_from_civil};
use serde::{Deserialize, Serialize};

/// China Standard Time's offset from UTC, in seconds.
pub const CST_OFFSET_SECS: i64 = 8 * 3600;

/// The furthest a deadline may lie in the future: one year.
pub const MAX_AHEAD_SECS: i64 = 366 * 86_400;

/// Why a typed deadline was refused. The `Display` text is shown to people, in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    /// Not `YYYY-MM-DDTHH:MM` (or with `:SS`, or a space instead of `T`).
    #[error("截止时间格式不正确，应为 2026-12-01 18:00")]
    Format,
    /// A date that does not exist (Feb 30, hour 24, …).
    #[error("截止时间不是有效的日期或时刻")]
    NoSuchTime,
    /// Already over when published.
    #[error("截止时间必须晚于现在")]
    InThePast,
    /// More than a year ahead.
    #[error("截止时间不能超过一年以后")]
    TooFar,
}

/// A moment as Unix seconds, shown in Beijing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Deadline(i64);

/// Wall-clock parts of a moment in Beijing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year.
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day of month, 1–31.
    pub day: u32,
    /// Hour, 0–23.
    pub hour: u32,
    /// Minute, 0–59.
    pub minute: u32,
    /// Second, 0–59.
    pub second: u32,
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn number(s: &str, digits: usize) -> Result<u32, DeadlineError> {
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DeadlineError::Format);
    }
    s.parse().map_err(|_| DeadlineError::Format)
}

impl Deadline {
    /// Wraps Unix seconds.
    pub const fn from_unix(secs: i64) -> Deadline {
        Deadline(secs)
    }

    /// Unix seconds.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// Reads Beijing wall-clock time: `YYYY-MM-DDTHH:MM`, `YYYY-MM-DD HH:MM`, optionally with
    /// `:SS`. No range check against now (see [`Deadline::parse_future`]).
    pub fn parse_cst(input: &str) -> Result<Deadline, DeadlineError> {
        let s = input.trim();
        let (date, time) = s
            .split_once('T')
            .or_else(|| s.split_once(' '))
            .ok_or(DeadlineError::Format)?;
        let mut d = date.split('-');
        let (Some(y), Some(mo), Some(da), None) = (d.next(), d.next(), d.next(), d.next()) else {
            return Err(DeadlineError::Format);
        };
        let mut t = time.trim().split(':');
        let (Some(h), Some(mi)) = (t.next(), t.next()) else {
            return Err(DeadlineError::Format);
        };
        let sec = match t.next() {
            Some(sec) => number(sec, 2)?,
            None => 0,
        };
        if t.next().is_some() {
            return Err(DeadlineError::Format);
        }
        let (year, month, day) = (i64::from(number(y, 4)?), number(mo, 2)?, number(da, 2)?);
        let (hour, minute) = (number(h, 2)?, number(mi, 2)?);
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || sec > 59
        {
            return Err(DeadlineError::NoSuchTime);
        }
        let local = days_from_civil(year, month, day) * 86_400
            + i64::from(hour) * 3600
            + i64::from(minute) * 60
            + i64::from(sec);
        Ok(Deadline(local - CST_OFFSET_SECS))
    }

    /// [`Deadline::parse_cst`], then checks it lies after `now` and at most a year ahead.
    pub fn parse_future(input: &str, now: i64) -> Result<Deadline, DeadlineError> {
        let deadline = Self::parse_cst(input)?;
        if deadline.0 <= now {
            return Err(DeadlineError::InThePast);
        }
        if deadline.0 - now > MAX_AHEAD_SECS {
            return Err(DeadlineError::TooFar);
        }
        Ok(deadline)
    }

    /// Beijing wall-clock parts.
    pub fn civil(self) -> Civil {
        let local = self.0 + CST_OFFSET_SECS;
        let (year, month, day) = civil_from_days(local.div_euclid(86_400));
        let secs = local.rem_euclid(86_400);
        Civil {
            year,
            month,
            day,
            hour: (secs / 3600) as u32,
            minute: (secs % 3600 / 60) as u32,
            second: (secs % 60) as u32,
        }
    }

    /// `2026-12-01 18:00` (Beijing time).
    pub fn to_cst_string(self) -> String {
        let c = self.civil();
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            c.year, c.month, c.day, c.hour, c.minute
        )
    }

    /// `2026-12-01T18:00`, the value of an `<input type="datetime-local">`.
    pub fn to_input_value(self) -> String {
        self.to_cst_string().replacen(' ', "T", 1)
    }

    /// How a deadline reads in a message sent at `now`: `今日18:00`, `明日09:30`, or
    /// `12月1日18:00`.
    pub fn relative_phrase(self, now: i64) -> String {
        let c = self.civil();
        let today = (now + CST_OFFSET_SECS).div_euclid(86_400);
        let day = (self.0 + CST_OFFSET_SECS).div_euclid(86_400);
        let clock = format!("{:02}:{:02}", c.hour, c.minute);
        match day - today {
            0 => format!("今日{clock}"),
            1 => format!("明日{clock}"),
            _ => format!("{}月{}日{clock}", c.month, c.day),
        }
    }

    /// Whether the deadline has passed at `now` (the deadline second itself is over).
    pub fn is_over(self, now: i64) -> bool {
        now >= self.0
    }
}

/// Time left until a deadline, for a countdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Countdown {
    /// Whole days.
    pub days: i64,
    /// Hours, 0–23.
    pub hours: i64,
    /// Minutes, 0–59.
    pub minutes: i64,
    /// Seconds, 0–59.
    pub seconds: i64,
}

impl Countdown {
    /// What is left from `now` until `deadline`; `None` once it is over.
    pub fn until(deadline: Deadline, now: i64) -> Option<Countdown> {
        let left = deadline.0 - now;
        (left > 0).then_some(Countdown {
            days: left / 86_400,
            hours: left % 86_400 / 3600,
            minutes: left % 3600 / 60,
            seconds: left % 60,
        })
    }

    /// `2天 03:04:05`, or `03:04:05` under a day.
    pub fn text(self) -> String {
        let clock = format!("{:02}:{:02}:{:02}", self.hours, self.minutes, self.seconds);
        if self.days > 0 {
            format!("{}天 {clock}", self.days)
        } else {
            clock
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 2026-12-01 18:00 in Beijing is 10:00 UTC.
    const DEC1_1800: i64 = 1_796_119_200;

    #[test]
    fn beijing_wall_clock_is_utc_plus_eight() {
        assert_eq!(
            Deadline::parse_cst("2026-12-01T18:00").unwrap().unix(),
            DEC1_1800
        );
        assert_eq!(
            Deadline::parse_cst("2026-12-01 18:00:30").unwrap().unix(),
            DEC1_1800 + 30
        );
        assert_eq!(
            Deadline::parse_cst("1970-01-01T08:00").unwrap().unix(),
            0,
            "the epoch is 08:00 in Beijing"
        );
        assert_eq!(
            Deadline::from_unix(DEC1_1800).to_cst_string(),
            "2026-12-01 18:00"
        );
        assert_eq!(
            Deadline::from_unix(DEC1_1800).to_input_value(),
            "2026-12-01T18:00"
        );
    }

    #[test]
    fn malformed_and_impossible_times_are_refused() {
        for bad in [
            "",
            "2026-12-01",
            "18:00",
            "2026/12/01 18:00",
            "2026-12-1T18:00",
            "x",
        ] {
            assert_eq!(
                Deadline::parse_cst(bad),
                Err(DeadlineError::Format),
                "{bad:?}"
            );
        }
        for bad in [
            "2026-02-29T10:00",
            "2026-13-01T10:00",
            "2026-12-01T24:00",
            "2026-04-31T10:00",
        ] {
            assert_eq!(
                Deadline::parse_cst(bad),
                Err(DeadlineError::NoSuchTime),
                "{bad:?}"
            );
        }
        assert!(Deadline::parse_cst("2028-02-29T10:00").is_ok(), "leap day");
    }

    #[test]
    fn a_deadline_must_be_ahead_but_not_too_far() {
        let now = DEC1_1800;
        assert_eq!(
            Deadline::parse_future("2026-12-01T18:00", now),
            Err(DeadlineError::InThePast)
        );
        assert!(Deadline::parse_future("2026-12-01T18:01", now).is_ok());
        assert_eq!(
            Deadline::parse_future("2028-12-01T18:00", now),
            Err(DeadlineError::TooFar)
        );
    }

    #[test]
    fn announcements_say_today_tomorrow_or_the_date_in_beijing() {
        let deadline = Deadline::from_unix(DEC1_1800);
        // 00:30 Beijing on Dec 1 is still Nov 30 in UTC: "today" is Beijing's day.
        let just_after_midnight = Deadline::parse_cst("2026-12-01T00:30").unwrap().unix();
        assert_eq!(deadline.relative_phrase(just_after_midnight), "今日18:00");
        let day_before = Deadline::parse_cst("2026-11-30T23:59").unwrap().unix();
        assert_eq!(deadline.relative_phrase(day_before), "明日18:00");
        let week_before = DEC1_1800 - 7 * 86_400;
        assert_eq!(deadline.relative_phrase(week_before), "12月1日18:00");
    }

    #[test]
    fn the_countdown_ends_exactly_at_the_deadline() {
        let d = Deadline::from_unix(1000);
        assert_eq!(Countdown::until(d, 1000), None);
        assert!(d.is_over(1000));
        assert!(!d.is_over(999));
        let left = Countdown::until(d, 999).unwrap();
        assert_eq!(left.text(), "00:00:01");
        let long = Countdown::until(Deadline::from_unix(2 * 86_400 + 3 * 3600 + 4 * 60 + 5), 0);
        assert_eq!(long.unwrap().text(), "2天 03:04:05");
    }

    proptest! {
        #[test]
        fn formatting_then_parsing_is_the_identity_to_the_minute(secs in 0i64..4_000_000_000) {
            let minute = secs - secs.rem_euclid(60);
            let d = Deadline::from_unix(minute);
            prop_assert_eq!(Deadline::parse_cst(&d.to_input_value()), Ok(d));
        }
    }
}
