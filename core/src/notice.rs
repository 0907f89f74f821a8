//! Template messages to payees (实时到账提醒, the daily digest) and their typed fields.
//!
//! WeChat's category templates (类目模板) type every keyword by its name: `thing01` is a
//! `thing`, `amount02` an `amount`, `time04` a `time`. A value that breaks its type's rule is
//! refused with `47003 argument invalid! data.<key>.value invalid` — WeChat does not truncate
//! (`../shared/wechat/PROTOCOL-2.md` §4.1). So every value is built here already within its
//! rule: [`thing`] cuts to 20 characters with `…`, [`amount`] writes `¥` and digits, [`time`]
//! writes Beijing wall-clock time. [`FieldKind::check`] is the rule itself (the simulator
//! enforces it the way WeChat does).
//!
//! The notice template (`WECHAT_NOTICE_TEMPLATE_ID`) has the keywords `thing1` (the
//! collection), `amount2` (the amount), `thing3` (who and what happened) and `time4` (when).

use serde_json::{json, Value};

use crate::deadline::Deadline;
use crate::money::Fen;
use crate::paytime::ShanghaiDay;

/// Longest `thing` value, in characters.
pub const THING_MAX: usize = 20;
/// Most digits of an `amount` value.
pub const AMOUNT_MAX_DIGITS: usize = 10;

/// The value types of template keywords (the table of PROTOCOL-2 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// ≤ 20 characters of anything printable.
    Thing,
    /// ≤ 32 digits, a decimal point allowed.
    Number,
    /// ≤ 32 letters.
    Letter,
    /// ≤ 5 symbols.
    Symbol,
    /// ≤ 32 digits, letters or symbols; no Chinese.
    CharacterString,
    /// 24-hour time, optionally after a date, ranges with `~`.
    Time,
    /// A date (`2019年10月1日`, `2018-01-01`), ranges with `~`.
    Date,
    /// One currency sign and ≤ 10 digits (decimals allowed), optional trailing 元.
    Amount,
    /// ≤ 17 digits, `+`, `-` and spaces.
    PhoneNumber,
    /// ≤ 8 characters.
    CarNumber,
    /// ≤ 10 Chinese characters or ≤ 20 letters.
    Name,
    /// ≤ 5 Chinese characters only.
    Phrase,
}

impl FieldKind {
    /// The type of a keyword by its name (`thing01` → `Thing`); `None` for untyped historical
    /// keywords (`keyword1`, `first`, `remark`), which WeChat folds instead of refusing.
    pub fn of_key(key: &str) -> Option<FieldKind> {
        let stem = key.trim_end_matches(|c: char| c.is_ascii_digit());
        Some(match stem {
            "thing" => FieldKind::Thing,
            "number" => FieldKind::Number,
            "letter" => FieldKind::Letter,
            "symbol" => FieldKind::Symbol,
            "character_string" => FieldKind::CharacterString,
            "time" => FieldKind::Time,
            "date" => FieldKind::Date,
            "amount" => FieldKind::Amount,
            "phone_number" => FieldKind::PhoneNumber,
            "car_number" => FieldKind::CarNumber,
            "name" => FieldKind::Name,
            "phrase" => FieldKind::Phrase,
            _ => return None,
        })
    }

    /// Whether WeChat accepts `value` for a keyword of this type.
    pub fn check(self, value: &str) -> bool {
        if value.is_empty() || value.chars().any(char::is_control) {
            return false;
        }
        let chars = value.chars().count();
        match self {
            FieldKind::Thing => chars <= THING_MAX,
            FieldKind::Number => {
                chars <= 32
                    && value.chars().all(|c| c.is_ascii_digit() || c == '.')
                    && value.chars().any(|c| c.is_ascii_digit())
            }
            FieldKind::Letter => chars <= 32 && value.chars().all(|c| c.is_ascii_alphabetic()),
            FieldKind::Symbol => chars <= 5 && value.chars().all(|c| c.is_ascii_punctuation()),
            FieldKind::CharacterString => {
                chars <= 32 && value.chars().all(|c| c.is_ascii_graphic())
            }
            FieldKind::Time => ranges(value, is_time),
            FieldKind::Date => ranges(value, |v| is_date(v).is_some_and(str::is_empty)),
            FieldKind::Amount => is_amount(value),
            FieldKind::PhoneNumber => {
                chars <= 17
                    && value
                        .chars()
                        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '))
            }
            FieldKind::CarNumber => chars <= 8,
            FieldKind::Name => {
                (chars <= 10 && value.chars().all(is_han))
                    || (chars <= 20 && value.chars().all(|c| c.is_ascii_alphabetic() || c == ' '))
            }
            FieldKind::Phrase => chars <= 5 && value.chars().all(is_han),
        }
    }
}

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// `a` or `a~b`, each side passing `one`.
fn ranges(value: &str, one: impl Fn(&str) -> bool) -> bool {
    let parts: Vec<&str> = value.split('~').map(str::trim).collect();
    parts.len() <= 2 && parts.iter().all(|p| one(p))
}

fn all_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// A leading date (`2019年10月1日`, `2018-01-01`, `2018/01/01`); the rest of the text.
fn is_date(value: &str) -> Option<&str> {
    if let Some((year, rest)) = value.split_once('年') {
        let (month, rest) = rest.split_once('月')?;
        let (day, rest) = rest.split_once('日')?;
        return (all_digits(year, 4, 4) && all_digits(month, 1, 2) && all_digits(day, 1, 2))
            .then_some(rest);
    }
    let date = value.get(..10)?;
    let sep = date.as_bytes()[4];
    let ok = matches!(sep, b'-' | b'/')
        && date.as_bytes()[7] == sep
        && all_digits(&date[..4], 4, 4)
        && all_digits(&date[5..7], 2, 2)
        && all_digits(&date[8..10], 2, 2);
    ok.then(|| &value[10..])
}

/// `15:01`, `15:01:30`, optionally after a date and a space.
fn is_time(value: &str) -> bool {
    let clock = match is_date(value) {
        Some(rest) => rest.trim_start(),
        None => value,
    };
    let parts: Vec<&str> = clock.split(':').collect();
    (2..=3).contains(&parts.len())
        && all_digits(parts[0], 1, 2)
        && parts[1..].iter().all(|p| all_digits(p, 2, 2))
        && parts[0].parse::<u32>().is_ok_and(|h| h < 24)
        && parts[1..]
            .iter()
            .all(|p| p.parse::<u32>().is_ok_and(|m| m < 60))
}

/// One currency sign, ≤ 10 digits with an optional decimal part, an optional trailing 元
/// (`¥12.50`, `12.50元`); a bare number is refused.
fn is_amount(value: &str) -> bool {
    let (signed, rest) = match value.strip_prefix(['¥', '￥', '$']) {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (yuan_suffix, number) = match rest.strip_suffix('元') {
        Some(n) => (true, n),
        None => (false, rest),
    };
    if !signed && !yuan_suffix {
        return false;
    }
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = int.len() + frac.len();
    !int.is_empty()
        && digits <= AMOUNT_MAX_DIGITS
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (frac.is_empty() != number.contains('.'))
}

/// A `thing` value: line breaks and control characters become spaces, then at most
/// [`THING_MAX`] characters — a longer text keeps its first 19 and ends with `…`.
pub fn thing(text: &str) -> String {
    let clean: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= THING_MAX {
        return if clean.is_empty() {
            "—".into()
        } else {
            clean
        };
    }
    let mut cut: String = clean.chars().take(THING_MAX - 1).collect();
    cut.push('…');
    cut
}

/// An `amount` value: `¥12.50`. Amounts beyond ten digits (¥100 000 000.00 and more) cannot
/// occur here (every collection is capped far below) and are written as the largest value.
pub fn amount(fen: Fen) -> String {
    let fen = fen.get().clamp(0, 9_999_999_999);
    Fen::new(fen).to_plain_string()
}

/// A `time` value in Beijing time: `2026年11月29日 18:05`.
pub fn time(unix: i64) -> String {
    let c = Deadline::from_unix(unix).civil();
    format!(
        "{}年{}月{}日 {:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute
    )
}

/// The payer as the payee's notice names them: a split participant's masked name, else
/// `微信用户` and the last four characters of their openid (the payee can match it with the
/// order list, nobody else learns anything).
pub fn payer_label(masked_name: Option<&str>, openid: Option<&str>) -> String {
    if let Some(name) = masked_name.filter(|n| !n.is_empty()) {
        return name.to_string();
    }
    match openid {
        Some(o) if o.chars().count() > 8 => {
            let tail: String = o.chars().skip(o.chars().count() - 4).collect();
            format!("微信用户 *{tail}")
        }
        _ => "微信用户".to_string(),
    }
}

/// What a payee notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A verified merchant payment.
    Paid,
    /// A refund reached SUCCESS.
    Refund,
    /// A split participant said 我已付款 (personal mode: the payee must look and confirm).
    Claim,
    /// The 20:00 digest.
    Digest,
    /// A reminder to a split participant (not to the payee).
    Reminder,
}

impl NoticeKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Paid => "paid",
            NoticeKind::Refund => "refund",
            NoticeKind::Claim => "claim",
            NoticeKind::Digest => "digest",
            NoticeKind::Reminder => "reminder",
        }
    }
}

/// One event the payee hears of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayeeNotice {
    /// What happened.
    pub kind: NoticeKind,
    /// The collection's title.
    pub title: String,
    /// How much.
    pub amount: Fen,
    /// Who (already masked, see [`payer_label`]).
    pub who: String,
    /// When (Unix seconds).
    pub at: i64,
}

impl PayeeNotice {
    /// The `thing3` line: who and what happened.
    pub fn event_line(&self) -> String {
        match self.kind {
            NoticeKind::Paid => format!("{} 已付款", self.who),
            NoticeKind::Refund => format!("已退款给 {}", self.who),
            NoticeKind::Claim => format!("{} 称已付款，请确认", self.who),
            NoticeKind::Digest | NoticeKind::Reminder => self.who.clone(),
        }
    }

    /// The template's `data`, every value within its type's rule.
    pub fn data(&self) -> Value {
        json!({
            "thing1": { "value": thing(&self.title) },
            "amount2": { "value": amount(self.amount) },
            "thing3": { "value": thing(&self.event_line()) },
            "time4": { "value": time(self.at) },
        })
    }
}

/// The 20:00 digest of one payee's Asia/Shanghai day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    /// Payments received today (verified orders and confirmed split payments).
    pub count: u32,
    /// Their total.
    pub total: Fen,
    /// 我已付款 claims waiting for the payee.
    pub unconfirmed_claims: u32,
}

impl Digest {
    /// Nothing to say: no payment and no claim waiting.
    pub fn is_empty(&self) -> bool {
        self.count == 0 && self.unconfirmed_claims == 0
    }

    /// The digest as a notice sent at `at`.
    pub fn notice(&self, at: i64) -> PayeeNotice {
        let who = if self.unconfirmed_claims > 0 {
            format!(
                "{} 笔收款 · {} 笔待确认",
                self.count, self.unconfirmed_claims
            )
        } else {
            format!("{} 笔收款", self.count)
        };
        PayeeNotice {
            kind: NoticeKind::Digest,
            title: "今日收款汇总".into(),
            amount: self.total,
            who,
            at,
        }
    }
}

/// The digest goes out at 20:00 Beijing time…
pub const DIGEST_FROM_SECS: i64 = 20 * 3600;
/// …or, when the cron was late, until quiet hours begin at 22:00.
pub const DIGEST_UNTIL_SECS: i64 = 22 * 3600;

/// The Asia/Shanghai day whose digest is due at `now`: between 20:00 and 22:00 of that day.
pub fn digest_day(now: i64) -> Option<ShanghaiDay> {
    let day = ShanghaiDay::of(now);
    let clock = now - day.start();
    (DIGEST_FROM_SECS..DIGEST_UNTIL_SECS)
        .contains(&clock)
        .then_some(day)
}

/// The body of `/cgi-bin/message/template/send`. `client_msg_id` lets WeChat drop a repeat of
/// the same send within 10 minutes (a retry after a lost answer).
pub fn template_message(
    openid: &str,
    template_id: &str,
    url: Option<&str>,
    data: &Value,
    client_msg_id: &str,
) -> Value {
    let mut body = json!({
        "touser": openid,
        "template_id": template_id,
        "data": data,
        "client_msg_id": client_msg_id,
    });
    if let Some(url) = url {
        body["url"] = url.into();
    }
    body
}

/// The outcome of one send, from WeChat's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// `errcode` 0.
    Sent {
        /// WeChat's message id.
        msgid: String,
    },
    /// A refusal: recorded and shown, never retried.
    Refused {
        /// WeChat's code.
        errcode: i64,
        /// WeChat's message.
        errmsg: String,
    },
    /// System busy (`-1`) or an unreadable answer: the cron may try again.
    Retry {
        /// Why.
        why: String,
    },
}

impl SendOutcome {
    /// Reads WeChat's JSON answer.
    pub fn read(answer: &str) -> SendOutcome {
        let Ok(v) = serde_json::from_str::<Value>(answer) else {
            return SendOutcome::Retry {
                why: "unreadable answer".into(),
            };
        };
        let msgid = || v["msgid"].to_string().trim_matches('"').to_string();
        match v["errcode"].as_i64() {
            Some(0) => SendOutcome::Sent { msgid: msgid() },
            None if v.get("msgid").is_some() => SendOutcome::Sent { msgid: msgid() },
            Some(-1) => SendOutcome::Retry {
                why: "errcode -1 (system busy)".into(),
            },
            Some(errcode) => SendOutcome::Refused {
                errcode,
                errmsg: v["errmsg"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect(),
            },
            None => SendOutcome::Retry {
                why: "answer without errcode".into(),
            },
        }
    }
}

/// What a WeChat refusal means, for the payee (Chinese).
pub fn explain(errcode: i64) -> &'static str {
    match errcode {
        43004 => "对方未关注公众号，无法接收消息",
        43101 => "对方拒收了消息",
        47003 => "消息字段不符合模板要求",
        40003 => "openid 无效",
        40037 => "模板 ID 无效，请运营方检查配置",
        45009 | 45047 => "今日消息数已达上限",
        45015 => "超出 48 小时客服消息时限",
        48001 => "公众号没有发送该消息的权限",
        _ => "微信拒绝了这条消息",
    }
}

/// The most attempts a notice gets when WeChat could not be reached.
pub const MAX_ATTEMPTS: i64 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thing_keeps_twenty_characters_and_cuts_longer_text_with_an_ellipsis() {
        assert_eq!(thing("周五聚餐 AA"), "周五聚餐 AA");
        let long = "一二三四五六七八九十一二三四五六七八九十一";
        let cut = thing(long);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with('…'));
        assert!(cut.starts_with("一二三四五六七八九十一二三四五六七八九"));
        assert_eq!(
            thing(&long[..60]),
            "一二三四五六七八九十一二三四五六七八九十"
        );
        assert_eq!(thing("a\nb\tc"), "a b c");
        assert_eq!(thing("  "), "—");
        for text in [long, "x", "a\nb", &"字".repeat(100)] {
            assert!(FieldKind::Thing.check(&thing(text)), "{text}");
        }
    }

    #[test]
    fn amounts_are_a_currency_sign_and_digits() {
        assert_eq!(amount(Fen::new(1250)), "¥12.50");
        assert_eq!(amount(Fen::new(1)), "¥0.01");
        assert!(FieldKind::Amount.check(&amount(Fen::new(5_000_000))));
        assert!(FieldKind::Amount.check(&amount(Fen::new(i64::MAX))));
        assert!(FieldKind::Amount.check("12.50元"));
        assert!(!FieldKind::Amount.check("3.00"), "a bare number is refused");
        assert!(!FieldKind::Amount.check("¥12345678901"));
        assert!(!FieldKind::Amount.check("¥1,200.00"));
        assert!(!FieldKind::Amount.check("¥12."));
        assert!(!FieldKind::Amount.check("¥"));
    }

    #[test]
    fn time_is_beijing_wall_clock_and_passes_the_time_rule() {
        // 2026-11-29T10:05:00Z = 18:05 in Beijing.
        assert_eq!(time(1_795_946_700), "2026年11月29日 18:05");
        assert!(FieldKind::Time.check(&time(1_795_946_700)));
        assert!(FieldKind::Time.check("15:01"));
        assert!(FieldKind::Time.check("2026-12-01 18:00"));
        assert!(FieldKind::Time.check("2019年10月1日 15:01~2019年10月1日 16:00"));
        assert!(!FieldKind::Time.check("尽快"));
        assert!(!FieldKind::Time.check("25:00"));
        assert!(!FieldKind::Time.check("2026-12-01"));
        assert!(FieldKind::Date.check("2026-12-01"));
        assert!(FieldKind::Date.check("2019年10月1日"));
        assert!(!FieldKind::Date.check("2019年10月1日 15:01"));
    }

    #[test]
    fn keys_are_typed_by_their_stem() {
        assert_eq!(FieldKind::of_key("thing01"), Some(FieldKind::Thing));
        assert_eq!(FieldKind::of_key("amount2"), Some(FieldKind::Amount));
        assert_eq!(
            FieldKind::of_key("character_string3"),
            Some(FieldKind::CharacterString)
        );
        assert_eq!(FieldKind::of_key("keyword1"), None);
        assert!(!FieldKind::CharacterString.check("订单123"));
        assert!(FieldKind::Phrase.check("已付款"));
        assert!(!FieldKind::Phrase.check("已付款了吗啊呀"));
        assert!(!FieldKind::Thing.check(""));
    }

    #[test]
    fn payers_are_masked() {
        assert_eq!(payer_label(Some("张**"), Some("oABCDEFGH1234")), "张**");
        assert_eq!(
            payer_label(None, Some("oABCDEFGHIJKLMNOPQRSTUVWxyz9")),
            "微信用户 *xyz9"
        );
        assert_eq!(payer_label(None, None), "微信用户");
    }

    #[test]
    fn every_notice_field_passes_its_rule() {
        for kind in [NoticeKind::Paid, NoticeKind::Refund, NoticeKind::Claim] {
            let notice = PayeeNotice {
                kind,
                title: "一个非常非常长的收款标题用来测试截断是否正确工作".into(),
                amount: Fen::new(123_456),
                who: "微信用户 *xyz9".into(),
                at: 1_795_946_700,
            };
            let data = notice.data();
            for (key, value) in data.as_object().unwrap() {
                let kind = FieldKind::of_key(key).unwrap();
                let value = value["value"].as_str().unwrap();
                assert!(kind.check(value), "{key}: {value}");
            }
        }
        let digest = Digest {
            count: 3,
            total: Fen::new(9900),
            unconfirmed_claims: 2,
        };
        assert_eq!(
            digest.notice(0).data()["thing3"]["value"],
            "3 笔收款 · 2 笔待确认"
        );
        assert!(Digest {
            count: 0,
            total: Fen::ZERO,
            unconfirmed_claims: 0
        }
        .is_empty());
    }

    #[test]
    fn the_digest_is_due_from_eight_to_ten_pm_beijing() {
        // 2026-11-29 18:05 Beijing.
        let at = 1_795_946_700;
        assert_eq!(digest_day(at), None);
        let eight = at + 115 * 60;
        assert_eq!(digest_day(eight - 1), None);
        assert_eq!(digest_day(eight), Some(ShanghaiDay::of(at)));
        assert_eq!(digest_day(eight + 2 * 3600 - 1), Some(ShanghaiDay::of(at)));
        assert_eq!(digest_day(eight + 2 * 3600), None);
    }

    #[test]
    fn answers_are_read_as_sent_refused_or_retry() {
        assert_eq!(
            SendOutcome::read(r#"{"errcode":0,"errmsg":"ok","msgid":200228332}"#),
            SendOutcome::Sent {
                msgid: "200228332".into()
            }
        );
        assert!(matches!(
            SendOutcome::read(r#"{"errcode":43004,"errmsg":"require subscribe rid: x"}"#),
            SendOutcome::Refused { errcode: 43004, .. }
        ));
        assert!(matches!(
            SendOutcome::read(r#"{"errcode":0,"errmsg":"ok"}"#),
            SendOutcome::Sent { .. }
        ));
        assert!(matches!(
            SendOutcome::read(r#"{"errcode":-1,"errmsg":"system error"}"#),
            SendOutcome::Retry { .. }
        ));
        assert!(matches!(
            SendOutcome::read("<html>"),
            SendOutcome::Retry { .. }
        ));
        assert_eq!(explain(43004), "对方未关注公众号，无法接收消息");
    }
}
