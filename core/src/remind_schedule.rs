//! When split reminders go out by themselves: the slots a payee chose (e.g. 24 h and 2 h
//! before the deadline, 1 h after it) and Beijing's quiet hours (22:00–08:00, when nothing is
//! sent: a slot that falls inside them is held until 08:00).
//!
//! A slot is an offset from the deadline in seconds (negative: before). Whether a slot may be
//! acted on at a moment is [`open_slots`]; which participants it reaches, and that each is
//! reached at most once per slot, is the worker's (one row per participant and slot).

use serde::{Deserialize, Serialize};

use crate::deadline::CST_OFFSET_SECS;

/// Quiet hours start at 22:00 Beijing time…
pub const QUIET_FROM_HOUR: i64 = 22;
/// …and end at 08:00.
pub const QUIET_UNTIL_HOUR: i64 = 8;
/// Most slots per split.
pub const MAX_SLOTS: usize = 4;
/// Earliest slot: a week before the deadline.
pub const MAX_BEFORE_SECS: i64 = 7 * 86_400;
/// Latest slot: three days after it.
pub const MAX_AFTER_SECS: i64 = 3 * 86_400;
/// How long after its (released) time a slot may still be sent, when the cron was late.
pub const LATE_SECS: i64 = 12 * 3600;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// The default slots: 24 h and 2 h before the deadline, 1 h after it.
pub const DEFAULT_SLOTS: [i64; 3] = [-24 * HOUR, -2 * HOUR, HOUR];

/// Why a slot list was refused (Chinese, shown to the payee).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    /// Not `-24h`, `-30m`, `+1h`.
    #[error("提醒时间格式不正确，应为 -24h、-2h、+1h 这样的写法")]
    Format,
    /// Outside a week before to three days after.
    #[error("提醒时间应在截止前 7 天到截止后 3 天之间，且不能正好在截止时刻")]
    OutOfRange,
    /// More than [`MAX_SLOTS`] or the same slot twice.
    #[error("最多设置 4 个不同的提醒时间")]
    TooMany,
}

/// The slots of one split, sorted, distinct.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Slots(Vec<i64>);

impl Slots {
    /// Parses slots as typed: `["-24h", "-2h", "+1h"]` (`h` hours, `m` minutes, `d` days).
    pub fn parse<S: AsRef<str>>(typed: &[S]) -> Result<Slots, SlotError> {
        let mut offsets = typed
            .iter()
            .map(|s| parse_offset(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        offsets.sort_unstable();
        let before = offsets.len();
        offsets.dedup();
        if offsets.len() != before || offsets.len() > MAX_SLOTS {
            return Err(SlotError::TooMany);
        }
        Ok(Slots(offsets))
    }

    /// Offsets from the deadline, seconds, ascending.
    pub fn offsets(&self) -> &[i64] {
        &self.0
    }

    /// The slots as typed (`-24h`), for the payee's page.
    pub fn labels(&self) -> Vec<String> {
        self.0.iter().map(|&o| label(o)).collect()
    }
}

fn parse_offset(text: &str) -> Result<i64, SlotError> {
    let text = text.trim();
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => return Err(SlotError::Format),
    };
    let unit = match rest.chars().last() {
        Some('m') => 60,
        Some('h') => HOUR,
        Some('d') => DAY,
        _ => return Err(SlotError::Format),
    };
    let digits = &rest[..rest.len() - 1];
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SlotError::Format);
    }
    let n: i64 = digits.parse().map_err(|_| SlotError::Format)?;
    let offset = sign * n * unit;
    if offset == 0 || !(-MAX_BEFORE_SECS..=MAX_AFTER_SECS).contains(&offset) {
        return Err(SlotError::OutOfRange);
    }
    Ok(offset)
}

/// `-24h`, `-90m`, `+1h`, `-2d`.
pub fn label(offset: i64) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.abs();
    if abs % DAY == 0 && abs >= 2 * DAY {
        format!("{sign}{}d", abs / DAY)
    } else if abs % HOUR == 0 {
        format!("{sign}{}h", abs / HOUR)
    } else {
        format!("{sign}{}m", abs / 60)
    }
}

/// Seconds since Beijing midnight.
fn beijing_clock(unix: i64) -> i64 {
    (unix + CST_OFFSET_SECS).rem_euclid(DAY)
}

/// Whether `unix` is inside Beijing's quiet hours, 22:00–08:00.
pub fn is_quiet(unix: i64) -> bool {
    let clock = beijing_clock(unix);
    !(QUIET_UNTIL_HOUR * HOUR..QUIET_FROM_HOUR * HOUR).contains(&clock)
}

/// The first moment at or after `unix` outside quiet hours (the next 08:00 when inside them).
pub fn release(unix: i64) -> i64 {
    if !is_quiet(unix) {
        return unix;
    }
    let clock = beijing_clock(unix);
    let until_eight = if clock < QUIET_UNTIL_HOUR * HOUR {
        QUIET_UNTIL_HOUR * HOUR - clock
    } else {
        DAY - clock + QUIET_UNTIL_HOUR * HOUR
    };
    unix + until_eight
}

/// The slots that may be acted on at `now`, ascending: a slot's time (`deadline + offset`)
/// released from quiet hours has come, it came after the slots were set (`set_at`: a slot
/// already past when the payee chose it is not sent late), it is not more than [`LATE_SECS`]
/// old, a before-deadline slot only while the deadline has not passed, and never during quiet
/// hours. When several are open at once, the worker sends the last and records the others as
/// skipped (one reminder, not a burst).
pub fn open_slots(slots: &Slots, deadline: i64, set_at: i64, now: i64) -> Vec<i64> {
    if is_quiet(now) {
        return Vec::new();
    }
    slots
        .offsets()
        .iter()
        .copied()
        .filter(|&offset| {
            let at = deadline + offset;
            let due = release(at);
            at >= set_at && due <= now && now < due + LATE_SECS && (offset > 0 || now < deadline)
        })
        .collect()
}

/// The slots the publish form and the split's page offer as choices (the API takes any slot
/// within the rules above).
pub const PRESETS: [i64; 4] = [-3 * DAY, -24 * HOUR, -2 * HOUR, HOUR];

/// A slot in the payee's words: `截止前24小时`, `截止前3天`, `截止后1小时`, `截止前30分钟`.
pub fn slot_text(offset: i64) -> String {
    let side = if offset < 0 { "截止前" } else { "截止后" };
    let abs = offset.abs();
    if abs % DAY == 0 && abs >= 2 * DAY {
        format!("{side}{}天", abs / DAY)
    } else if abs % HOUR == 0 {
        format!("{side}{}小时", abs / HOUR)
    } else {
        format!("{side}{}分钟", abs / 60)
    }
}

/// The deadline one participant's slots count from: a directed debtor's own due date when they
/// have one, else the collection's deadline (`None`: no scheduled reminders for them).
pub fn deadline_of(collection: Option<i64>, own_due: Option<i64>) -> Option<i64> {
    own_due.or(collection)
}

/// [`open_slots`] for one participant, counted from [`deadline_of`] (nothing without one).
pub fn participant_open_slots(
    slots: &Slots,
    collection: Option<i64>,
    own_due: Option<i64>,
    set_at: i64,
    now: i64,
) -> Vec<i64> {
    deadline_of(collection, own_due)
        .map(|deadline| open_slots(slots, deadline, set_at, now))
        .unwrap_or_default()
}

/// When a "remind now" pressed at `now` goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManualRemind {
    /// At once.
    Now,
    /// Quiet hours: held until this moment (the next 08:00 Beijing time).
    HeldUntil(i64),
}

/// "Remind now" keeps quiet hours too: pressed between 22:00 and 08:00 it is held until 08:00.
pub fn manual_remind(now: i64) -> ManualRemind {
    match release(now) {
        at if at == now => ManualRemind::Now,
        at => ManualRemind::HeldUntil(at),
    }
}

/// What the payee reads about a held reminder (`until` from [`ManualRemind::HeldUntil`]).
pub fn held_text(until: i64) -> String {
    let clock = beijing_clock(until);
    format!(
        "夜间 {QUIET_FROM_HOUR}:00–{:02}:00 不打扰，提醒将在 {:02}:{:02} 发出",
        QUIET_UNTIL_HOUR,
        clock / HOUR,
        clock % HOUR / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-03 18:00 Beijing.
    const DEADLINE: i64 = 1_796_292_000;

    fn slots(typed: &[&str]) -> Slots {
        Slots::parse(typed).unwrap()
    }

    #[test]
    fn the_fixture_is_six_pm_in_beijing() {
        assert_eq!(beijing_clock(DEADLINE), 18 * HOUR);
    }

    #[test]
    fn slots_parse_sort_and_refuse_nonsense() {
        let s = slots(&["+1h", "-24h", "-2h"]);
        assert_eq!(s.offsets(), &[-24 * HOUR, -2 * HOUR, HOUR]);
        assert_eq!(s.labels(), vec!["-24h", "-2h", "+1h"]);
        assert_eq!(slots(&["-90m", "-2d"]).labels(), vec!["-2d", "-90m"]);
        assert_eq!(Slots::parse(&["24h"]), Err(SlotError::Format));
        assert_eq!(Slots::parse(&["-h"]), Err(SlotError::Format));
        assert_eq!(Slots::parse(&["-8d"]), Err(SlotError::OutOfRange));
        assert_eq!(Slots::parse(&["+0h"]), Err(SlotError::OutOfRange));
        assert_eq!(Slots::parse(&["-1h", "-60m"]), Err(SlotError::TooMany));
        assert_eq!(
            Slots::parse(&["-1h", "-2h", "-3h", "-4h", "-5h"]),
            Err(SlotError::TooMany)
        );
        assert_eq!(
            Slots::parse(&DEFAULT_SLOTS.map(label)).unwrap().offsets(),
            DEFAULT_SLOTS
        );
    }

    #[test]
    fn quiet_hours_are_ten_pm_to_eight_am_beijing() {
        let midnight = DEADLINE - 18 * HOUR;
        assert!(is_quiet(midnight));
        assert!(is_quiet(midnight + 7 * HOUR + 59 * 60));
        assert!(!is_quiet(midnight + 8 * HOUR));
        assert!(!is_quiet(midnight + 21 * HOUR + 59 * 60));
        assert!(is_quiet(midnight + 22 * HOUR));
        assert_eq!(release(midnight + 23 * HOUR), midnight + DAY + 8 * HOUR);
        assert_eq!(release(midnight + 3 * HOUR), midnight + 8 * HOUR);
        assert_eq!(release(midnight + 9 * HOUR), midnight + 9 * HOUR);
    }

    #[test]
    fn each_slot_opens_at_its_time_and_closes_after_the_deadline_or_when_late() {
        let s = slots(&["-24h", "-2h", "+1h"]);
        let set = DEADLINE - 3 * DAY;
        let open = |now| open_slots(&s, DEADLINE, set, now);
        assert!(open(DEADLINE - 24 * HOUR - 1).is_empty());
        assert_eq!(open(DEADLINE - 24 * HOUR), vec![-24 * HOUR]);
        assert_eq!(open(DEADLINE - 21 * HOUR), vec![-24 * HOUR]);
        // Two open at once (the worker sends the later one)…
        let close = slots(&["-24h", "-22h"]);
        assert_eq!(
            open_slots(&close, DEADLINE, set, DEADLINE - 21 * HOUR),
            vec![-24 * HOUR, -22 * HOUR]
        );
        // …and a slot more than 12 h old is over.
        assert_eq!(open(DEADLINE - 2 * HOUR), vec![-2 * HOUR]);
        // Before-deadline slots end with the deadline; the after slot opens an hour later.
        assert!(open(DEADLINE).is_empty());
        assert_eq!(open(DEADLINE + HOUR), vec![HOUR]);
        // 20:00 + 12 h is in quiet hours anyway; the next day at 09:00 it is too late.
        assert!(open(DEADLINE + 15 * HOUR).is_empty());
    }

    #[test]
    fn a_slot_in_quiet_hours_is_held_until_eight() {
        // Deadline 18:00; +5h is 23:00.
        let s = slots(&["+5h"]);
        let set = DEADLINE - DAY;
        let open = |now| open_slots(&s, DEADLINE, set, now);
        assert!(open(DEADLINE + 5 * HOUR).is_empty(), "23:00");
        assert!(open(DEADLINE + 13 * HOUR + 59 * 60).is_empty(), "07:59");
        assert_eq!(open(DEADLINE + 14 * HOUR), vec![5 * HOUR], "08:00");
        // A before slot at 07:00 (deadline 09:00 − 2 h) is held to 08:00, still before the deadline.
        let nine = DEADLINE + 15 * HOUR;
        let early = slots(&["-2h"]);
        assert!(open_slots(&early, nine, set, nine - 2 * HOUR).is_empty());
        assert_eq!(open_slots(&early, nine, set, nine - HOUR), vec![-2 * HOUR]);
    }

    #[test]
    fn slots_already_past_when_chosen_are_not_sent() {
        let s = slots(&["-24h", "-2h"]);
        let set = DEADLINE - 10 * HOUR;
        assert!(open_slots(&s, DEADLINE, set, DEADLINE - 9 * HOUR).is_empty());
        assert_eq!(
            open_slots(&s, DEADLINE, set, DEADLINE - 2 * HOUR),
            vec![-2 * HOUR]
        );
    }

    #[test]
    fn slots_read_in_chinese() {
        let texts: Vec<String> = PRESETS.iter().map(|&o| slot_text(o)).collect();
        assert_eq!(
            texts,
            vec!["截止前3天", "截止前24小时", "截止前2小时", "截止后1小时"]
        );
        assert_eq!(slot_text(-30 * 60), "截止前30分钟");
        // Every preset is a slot the API accepts, as typed.
        let typed: Vec<String> = PRESETS.iter().map(|&o| label(o)).collect();
        assert_eq!(Slots::parse(&typed).unwrap().offsets(), PRESETS);
    }

    #[test]
    fn a_debtors_own_due_date_drives_their_slots() {
        let s = slots(&["-24h", "-2h"]);
        let set = DEADLINE - 5 * DAY;
        let own = DEADLINE - 2 * DAY;
        assert_eq!(deadline_of(Some(DEADLINE), Some(own)), Some(own));
        assert_eq!(deadline_of(Some(DEADLINE), None), Some(DEADLINE));
        assert_eq!(deadline_of(None, None), None);
        // At the debtor's own −24 h: they are due, the collection's other debtors are not.
        let at = own - 24 * HOUR;
        assert_eq!(
            participant_open_slots(&s, Some(DEADLINE), Some(own), set, at),
            vec![-24 * HOUR]
        );
        assert!(participant_open_slots(&s, Some(DEADLINE), None, set, at).is_empty());
        // At the collection's −24 h the debtor's own slots are over (their due date passed).
        let later = DEADLINE - 24 * HOUR;
        assert!(participant_open_slots(&s, Some(DEADLINE), Some(own), set, later).is_empty());
        assert_eq!(
            participant_open_slots(&s, Some(DEADLINE), None, set, later),
            vec![-24 * HOUR]
        );
        // No deadline and no due date: nothing scheduled.
        assert!(participant_open_slots(&s, None, None, set, at).is_empty());
        // A due date alone is enough.
        assert_eq!(
            participant_open_slots(&s, None, Some(own), set, at),
            vec![-24 * HOUR]
        );
    }

    #[test]
    fn remind_now_is_held_through_quiet_hours() {
        let midnight = DEADLINE - 18 * HOUR;
        let ten_am = midnight + 10 * HOUR;
        assert_eq!(manual_remind(ten_am), ManualRemind::Now);
        assert_eq!(
            manual_remind(midnight + 21 * HOUR + 59 * 60),
            ManualRemind::Now
        );
        let eight_next = midnight + DAY + 8 * HOUR;
        assert_eq!(
            manual_remind(midnight + 23 * HOUR),
            ManualRemind::HeldUntil(eight_next)
        );
        assert_eq!(
            manual_remind(midnight + DAY + 7 * HOUR),
            ManualRemind::HeldUntil(eight_next)
        );
        assert_eq!(
            held_text(eight_next),
            "夜间 22:00–08:00 不打扰，提醒将在 08:00 发出"
        );
    }
}
