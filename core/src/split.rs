//! Group bill splits (接龙): the three ways of splitting, sign-ups, what each participant owes,
//! the progress numbers, and the group announcement.
//!
//! - **Equal** (`total ÷ people`): the shares of unpaid participants are recomputed from what
//!   is still open, so confirmed payments never change and the shares of all `people` slots
//!   always sum to the total; the remainder fen goes to the earliest unpaid slots
//!   ([`slot_dues`]).
//! - **Fixed**: everyone owes the same amount.
//! - **Itemized**: the payee lists lines (name, unit price, whether a quantity may be chosen);
//!   each participant picks lines and owes the sum.
//!
//! A participant is paid only when the payee confirms (personal mode: 收款码 + 我已付款) or a
//! verified WeChat Pay payment says so (merchant mode, [`PaidBy::VerifiedPayment`]).

use serde::{Deserialize, Serialize};

use crate::collection::{CollectionView, FieldError};
use crate::deadline::Deadline;
use crate::lint;
use crate::money::{Fen, MAX_REQUEST};
use crate::notice;
use crate::personal_data::{ParticipantName, Phone};
use crate::text::TextError;

/// Most participants a split can have.
pub const MAX_PARTICIPANTS: u32 = 1000;
/// Largest total of an equal split: ¥200 000.
pub const MAX_TOTAL: Fen = Fen::new(20_000_000);
/// Most lines of an itemized split.
pub const MAX_ITEMS: usize = 20;
/// Longest item name, in characters.
pub const MAX_ITEM_NAME: usize = 20;
/// Most of one line a participant may take.
pub const MAX_QTY: u32 = 99;

/// How participants pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayMode {
    /// The payee's own 收款码; the payee confirms each payment.
    #[default]
    Personal,
    /// WeChat Pay orders (the payments feature); confirmed by verified callbacks.
    Merchant,
}

/// One line of an itemized split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// What it is (≤ 20 characters).
    pub name: String,
    /// Unit price.
    pub price: Fen,
    /// Whether a participant may take more than one.
    #[serde(default)]
    pub quantity: bool,
}

/// How the money is split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum SplitMode {
    /// `total` shared by `people` (who are also the cap).
    Equal {
        /// The bill.
        total: Fen,
        /// How many share it.
        people: u32,
    },
    /// Everyone pays `per_person`.
    Fixed {
        /// The amount per participant.
        per_person: Fen,
    },
    /// Everyone pays for the lines they pick.
    Itemized {
        /// The lines.
        items: Vec<Item>,
    },
}

/// A split as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitSpec {
    /// The way of splitting.
    #[serde(flatten)]
    pub mode: SplitMode,
    /// Most participants (equal: `people`).
    pub cap: Option<u32>,
    /// Sign-ups, edits and withdrawals end here.
    pub deadline: Option<Deadline>,
    /// How participants pay.
    pub pay_mode: PayMode,
}

/// The `split` part of a publish body, as typed (numbers as text, like `amount`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSplit {
    /// `equal`, `fixed` or `itemized`.
    pub mode: String,
    /// Equal: the total, `"300"`.
    #[serde(default)]
    pub total: Option<String>,
    /// Equal: how many people share it.
    #[serde(default)]
    pub people: Option<String>,
    /// Fixed: the amount per person.
    #[serde(default)]
    pub per_person: Option<String>,
    /// Itemized: the lines.
    #[serde(default)]
    pub items: Vec<NewItem>,
    /// Fixed/itemized: most participants; empty for no cap.
    #[serde(default)]
    pub cap: Option<String>,
    /// Beijing time `YYYY-MM-DDTHH:MM`; empty for none.
    #[serde(default)]
    pub deadline: Option<String>,
    /// `personal` (default) or `merchant`.
    #[serde(default)]
    pub pay_mode: Option<String>,
}

/// One line of an itemized split, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewItem {
    /// Name.
    pub name: String,
    /// Unit price, `"35"`.
    pub price: String,
    /// Whether a quantity may be chosen.
    #[serde(default)]
    pub quantity: bool,
}

fn field_error(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        code: code.into(),
        message: message.into(),
    }
}

fn blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn count(
    raw: Option<&str>,
    field: &str,
    label: &str,
    min: u32,
    errors: &mut Vec<FieldError>,
) -> Option<u32> {
    let Some(raw) = raw else {
        errors.push(field_error(
            field,
            "INVALID_COUNT",
            format!("请填写{label}"),
        ));
        return None;
    };
    match raw.parse::<u32>() {
        Ok(n) if (min..=MAX_PARTICIPANTS).contains(&n) => Some(n),
        _ => {
            errors.push(field_error(
                field,
                "INVALID_COUNT",
                format!("{label}应为 {min}–{MAX_PARTICIPANTS} 的整数"),
            ));
            None
        }
    }
}

fn money(raw: Option<&str>, field: &str, errors: &mut Vec<FieldError>) -> Option<Fen> {
    match Fen::parse_yuan(raw.unwrap_or("")) {
        Ok(fen) => Some(fen),
        Err(e) => {
            errors.push(field_error(field, "INVALID_AMOUNT", e.to_string()));
            None
        }
    }
}

impl NewSplit {
    /// Checks every field; `now` (Unix seconds) bounds the deadline. Field names are
    /// `split.<name>` (`split.items.<i>.price` for lines).
    pub fn validate(&self, now: i64) -> Result<SplitSpec, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mode = match self.mode.as_str() {
            "equal" => {
                let total = Fen::parse_yuan_with_max(blank(&self.total).unwrap_or(""), MAX_TOTAL)
                    .map_err(|e| {
                        errors.push(field_error("split.total", "INVALID_AMOUNT", e.to_string()))
                    })
                    .ok();
                let people = count(
                    blank(&self.people),
                    "split.people",
                    "分摊人数",
                    2,
                    &mut errors,
                );
                match (total, people) {
                    (Some(total), Some(people)) => {
                        if total.get() < i64::from(people) {
                            errors.push(field_error(
                                "split.total",
                                "INVALID_AMOUNT",
                                "总金额太小，每人至少分摊 ¥0.01",
                            ));
                            None
                        } else if (total.get() + i64::from(people) - 1) / i64::from(people)
                            > MAX_REQUEST.get()
                        {
                            errors.push(field_error(
                                "split.total",
                                "INVALID_AMOUNT",
                                format!("每人分摊不能超过 {MAX_REQUEST}"),
                            ));
                            None
                        } else {
                            Some(SplitMode::Equal { total, people })
                        }
                    }
                    _ => None,
                }
            }
            "fixed" => money(blank(&self.per_person), "split.per_person", &mut errors)
                .map(|per_person| SplitMode::Fixed { per_person }),
            "itemized" => self
                .items(&mut errors)
                .map(|items| SplitMode::Itemized { items }),
            _ => {
                errors.push(field_error(
                    "split.mode",
                    "INVALID_MODE",
                    "请选择分摊方式：均摊、固定金额或按项目",
                ));
                None
            }
        };
        let cap = match &mode {
            Some(SplitMode::Equal { people, .. }) => Some(*people),
            _ => match blank(&self.cap) {
                None => None,
                raw => count(raw, "split.cap", "人数上限", 1, &mut errors),
            },
        };
        let deadline = blank(&self.deadline).and_then(|raw| {
            Deadline::parse_future(raw, now)
                .map_err(|e| {
                    errors.push(field_error(
                        "split.deadline",
                        "INVALID_DEADLINE",
                        e.to_string(),
                    ))
                })
                .ok()
        });
        let pay_mode = match blank(&self.pay_mode) {
            None | Some("personal") => PayMode::Personal,
            // Only an approved payee may publish one, and only where WeChat Pay is configured:
            // the worker checks both (a session is not a property of the body).
            Some("merchant") => PayMode::Merchant,
            Some(_) => {
                errors.push(field_error(
                    "split.pay_mode",
                    "UNSUPPORTED",
                    "不支持的收款方式",
                ));
                PayMode::Personal
            }
        };
        match mode {
            Some(mode) if errors.is_empty() => Ok(SplitSpec {
                mode,
                cap,
                deadline,
                pay_mode,
            }),
            _ => Err(errors),
        }
    }

    fn items(&self, errors: &mut Vec<FieldError>) -> Option<Vec<Item>> {
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            errors.push(field_error(
                "split.items",
                "INVALID_ITEMS",
                format!("请填写 1–{MAX_ITEMS} 个项目"),
            ));
            return None;
        }
        let before = errors.len();
        let mut items = Vec::with_capacity(self.items.len());
        for (i, line) in self.items.iter().enumerate() {
            let name = line.name.trim();
            let len = name.chars().count();
            if name.is_empty() || len > MAX_ITEM_NAME || name.chars().any(char::is_control) {
                errors.push(field_error(
                    &format!("split.items.{i}.name"),
                    "INVALID_TEXT",
                    format!("第 {} 项的名称应为 1–{MAX_ITEM_NAME} 个字", i + 1),
                ));
            }
            for hit in lint::check(name) {
                errors.push(field_error(
                    &format!("split.items.{i}.name"),
                    "COMPLIANCE",
                    format!("第 {} 项名称含违规用语{}", i + 1, hit.message()),
                ));
            }
            if let Some(price) = money(Some(&line.price), &format!("split.items.{i}.price"), errors)
            {
                items.push(Item {
                    name: name.to_owned(),
                    price,
                    quantity: line.quantity,
                });
            }
        }
        (errors.len() == before).then_some(items)
    }
}

/// One line a participant takes: index into the split's items and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pick {
    /// Index of the line.
    pub item: usize,
    /// How many (1 for lines without a quantity).
    pub qty: u32,
}

/// Body of a sign-up or an edit (`POST /api/splits/:id/join`, `PUT …/participants/:pid`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUp {
    /// Display name.
    pub name: String,
    /// Optional phone number.
    #[serde(default)]
    pub phone: String,
    /// Itemized splits: the lines taken.
    #[serde(default)]
    pub picks: Vec<Pick>,
}

/// A checked sign-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSignUp {
    /// Name.
    pub name: ParticipantName,
    /// Phone, when given.
    pub phone: Option<Phone>,
    /// Lines taken (itemized only; empty otherwise), by item index, without duplicates.
    pub picks: Vec<Pick>,
}

impl SignUp {
    /// Checks the sign-up against the split's mode.
    pub fn validate(&self, mode: &SplitMode) -> Result<ValidSignUp, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = ParticipantName::parse(&self.name)
            .map_err(|e: TextError| errors.push(field_error("name", "INVALID_TEXT", e.to_string())))
            .ok();
        let phone = if self.phone.trim().is_empty() {
            None
        } else {
            Phone::parse(&self.phone)
                .map_err(|e| errors.push(field_error("phone", "INVALID_PHONE", e.to_string())))
                .ok()
        };
        let mut picks: Vec<Pick> = Vec::new();
        match mode {
            SplitMode::Itemized { items } => {
                for pick in &self.picks {
                    let Some(item) = items.get(pick.item) else {
                        errors.push(field_error("picks", "INVALID_PICK", "选择的项目不存在"));
                        continue;
                    };
                    let max = if item.quantity { MAX_QTY } else { 1 };
                    if pick.qty > max {
                        errors.push(field_error(
                            "picks",
                            "INVALID_PICK",
                            format!("「{}」最多选 {max} 份", item.name),
                        ));
                    } else if pick.qty > 0 {
                        match picks.iter_mut().find(|p| p.item == pick.item) {
                            Some(_) => errors.push(field_error(
                                "picks",
                                "INVALID_PICK",
                                format!("「{}」重复选择", item.name),
                            )),
                            None => picks.push(*pick),
                        }
                    }
                }
                if picks.is_empty() && errors.iter().all(|e| e.field != "picks") {
                    errors.push(field_error("picks", "INVALID_PICK", "请至少选择一个项目"));
                }
                picks.sort_by_key(|p| p.item);
                if errors.is_empty() && picks_amount(items, &picks).is_none_or(|f| f > MAX_REQUEST)
                {
                    errors.push(field_error(
                        "picks",
                        "INVALID_PICK",
                        format!("每人合计不能超过 {MAX_REQUEST}"),
                    ));
                }
            }
            _ if !self.picks.is_empty() => {
                errors.push(field_error(
                    "picks",
                    "INVALID_PICK",
                    "这个接龙不需要选择项目",
                ));
            }
            _ => {}
        }
        match name {
            Some(name) if errors.is_empty() => Ok(ValidSignUp { name, phone, picks }),
            _ => Err(errors),
        }
    }
}

/// What a participant's lines cost; `None` on overflow or a bad index.
pub fn picks_amount(items: &[Item], picks: &[Pick]) -> Option<Fen> {
    picks.iter().try_fold(Fen::ZERO, |sum, p| {
        let item = items.get(p.item)?;
        sum.checked_add(item.price.checked_mul(i64::from(p.qty))?)
    })
}

/// `total` split over `n` shares: every share is `total / n`, and the first `total % n`
/// shares get one more fen, so they always sum to `total`. `n = 0` gives no shares.
pub fn equal_shares(total: Fen, n: u32) -> Vec<Fen> {
    if n == 0 {
        return Vec::new();
    }
    let n64 = i64::from(n);
    let (base, remainder) = (total.get().div_euclid(n64), total.get().rem_euclid(n64));
    (0..n64)
        .map(|i| Fen::new(base + i64::from(i < remainder)))
        .collect()
}

/// What each of the `people` slots of an equal split owes, given the confirmed payments of
/// the participants in the first slots (`paid[i]` is slot `i`'s, `None` while unpaid): a
/// paid slot owes what it paid; the rest of the total is shared by the other slots with
/// [`equal_shares`], remainder to the earliest. The result always sums to `total` as long as
/// the payments were made from these dues.
pub fn slot_dues(total: Fen, people: u32, paid: &[Option<Fen>]) -> Vec<Fen> {
    let people = people.max(paid.len() as u32);
    let paid_sum = paid
        .iter()
        .flatten()
        .fold(Fen::ZERO, |s, f| s.checked_add(*f).unwrap_or(s));
    let paid_count = paid.iter().flatten().count() as u32;
    let remaining = total
        .checked_sub(paid_sum)
        .unwrap_or(Fen::ZERO)
        .max(Fen::ZERO);
    let mut open = equal_shares(remaining, people - paid_count).into_iter();
    (0..people as usize)
        .map(|i| match paid.get(i).copied().flatten() {
            Some(fen) => fen,
            None => open.next().unwrap_or(Fen::ZERO),
        })
        .collect()
}

/// Whether a participant has paid, and who said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaidBy {
    /// The payee confirmed it (personal mode).
    PayeeConfirmed,
    /// A verified WeChat Pay callback or query (merchant mode).
    VerifiedPayment,
}

impl PaidBy {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaidBy::PayeeConfirmed => "payee_confirmed",
            PaidBy::VerifiedPayment => "verified_payment",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<PaidBy> {
        match s {
            "payee_confirmed" => Some(PaidBy::PayeeConfirmed),
            "verified_payment" => Some(PaidBy::VerifiedPayment),
            _ => None,
        }
    }
}

/// Where a participant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantStatus {
    /// Signed up, not paid.
    Joined,
    /// Tapped 我已付款; waiting for the payee.
    Claimed,
    /// Paid (see [`PaidBy`]).
    Paid,
}

impl ParticipantStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantStatus::Joined => "joined",
            ParticipantStatus::Claimed => "claimed",
            ParticipantStatus::Paid => "paid",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<ParticipantStatus> {
        match s {
            "joined" => Some(ParticipantStatus::Joined),
            "claimed" => Some(ParticipantStatus::Claimed),
            "paid" => Some(ParticipantStatus::Paid),
            _ => None,
        }
    }

    /// In Chinese, for lists and exports.
    pub fn label(self) -> &'static str {
        match self {
            ParticipantStatus::Joined => "未付款",
            ParticipantStatus::Claimed => "待确认",
            ParticipantStatus::Paid => "已付款",
        }
    }
}

/// What [`dues`] needs to know about a participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The confirmed amount, once paid.
    pub paid: Option<Fen>,
    /// Itemized: the lines taken.
    pub picks: Vec<Pick>,
}

/// What each participant (in sequence order) owes.
pub fn dues(mode: &SplitMode, members: &[Member]) -> Vec<Fen> {
    match mode {
        SplitMode::Equal { total, people } => {
            let paid: Vec<Option<Fen>> = members.iter().map(|m| m.paid).collect();
            let mut all = slot_dues(*total, *people, &paid);
            all.truncate(members.len());
            all
        }
        SplitMode::Fixed { per_person } => members
            .iter()
            .map(|m| m.paid.unwrap_or(*per_person))
            .collect(),
        SplitMode::Itemized { items } => members
            .iter()
            .map(|m| {
                m.paid
                    .unwrap_or_else(|| picks_amount(items, &m.picks).unwrap_or(Fen::ZERO))
            })
            .collect(),
    }
}

/// The numbers on top of a split page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Signed up.
    pub joined: u32,
    /// Waiting for the payee's confirmation.
    pub claimed: u32,
    /// Paid.
    pub paid: u32,
    /// Confirmed money.
    pub collected: Fen,
    /// What the split is meant to collect: the total (equal), the amount × the cap (or the
    /// sign-ups, without a cap) (fixed), or what the sign-ups picked (itemized).
    pub target: Fen,
    /// Most participants.
    pub cap: Option<u32>,
}

impl Progress {
    /// Counts `statuses` and `dues` (same order) for `spec`.
    pub fn of(spec: &SplitSpec, statuses: &[ParticipantStatus], dues: &[Fen]) -> Progress {
        let joined = statuses.len() as u32;
        let count = |s: ParticipantStatus| statuses.iter().filter(|x| **x == s).count() as u32;
        let collected = statuses
            .iter()
            .zip(dues)
            .filter(|(s, _)| **s == ParticipantStatus::Paid)
            .fold(Fen::ZERO, |sum, (_, d)| sum.checked_add(*d).unwrap_or(sum));
        let sum_dues = dues
            .iter()
            .fold(Fen::ZERO, |sum, d| sum.checked_add(*d).unwrap_or(sum));
        let target = match &spec.mode {
            SplitMode::Equal { total, .. } => *total,
            SplitMode::Fixed { per_person } => per_person
                .checked_mul(i64::from(spec.cap.unwrap_or(joined).max(joined)))
                .unwrap_or(sum_dues),
            SplitMode::Itemized { .. } => sum_dues,
        };
        Progress {
            joined,
            claimed: count(ParticipantStatus::Claimed),
            paid: count(ParticipantStatus::Paid),
            collected,
            target,
            cap: spec.cap,
        }
    }

    /// Collected of target in per-mille (0–1000), for the progress bar.
    pub fn permille(&self) -> u32 {
        if self.target.get() <= 0 {
            return 0;
        }
        let p = self.collected.get().saturating_mul(1000) / self.target.get();
        p.clamp(0, 1000) as u32
    }
}

/// One participant as a page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantView {
    /// Public participant id.
    pub id: String,
    /// Position in the list: 1, 2, 3 … without gaps.
    pub seq: u32,
    /// Name: masked (`张*`) except for the payee.
    pub name: String,
    /// Phone: masked (`138****1234`) except for the payee; absent when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Itemized: the lines taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub picks: Vec<Pick>,
    /// What they owe (or paid).
    pub due: Fen,
    /// Where they stand.
    pub status: ParticipantStatus,
    /// Who marked them paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_by: Option<PaidBy>,
    /// Payee view only: signed up through the Official Account (reminders possible).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oa_connected: bool,
    /// Sign-up time, Unix seconds.
    pub joined_at: i64,
    /// When the payee confirmed, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<i64>,
    /// When the payee last said 未收到 to this participant's 我已付款 (they are unpaid again;
    /// their page tells them so until they claim again), Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_at: Option<i64>,
}

/// A split as its page shows it (`GET /api/splits/:id`; with full names for the payee at
/// `GET /api/splits/:id/admin`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitView {
    /// The collection (title, payee, 收款码 …).
    pub collection: CollectionView,
    /// How it splits.
    pub spec: SplitSpec,
    /// The numbers.
    pub progress: Progress,
    /// Everyone who signed up, in order.
    pub participants: Vec<ParticipantView>,
    /// Whether sign-ups are accepted now (open, before the deadline, under the cap).
    pub accepting: bool,
    /// Whether participants may still edit or withdraw (open, before the deadline).
    pub editable: bool,
    /// The server's clock, Unix seconds (countdowns).
    pub now: i64,
    /// Changes whenever anything on the page changes (polling compares it).
    pub version: String,
}

/// Answer to a sign-up: the entry and the secret that lets this person edit, withdraw and
/// say 我已付款 (kept in the browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    /// The new entry.
    pub participant: ParticipantView,
    /// The participant token; shown once.
    pub token: String,
}

/// The group announcement: `【title】请于今日18:00前完成费用分摊，点击查看明细：url`.
pub fn announcement(title: &str, deadline: Option<Deadline>, url: &str, now: i64) -> String {
    let when = match deadline {
        Some(d) if !d.is_over(now) => format!("请于{}前完成费用分摊", d.relative_phrase(now)),
        _ => "请尽快完成费用分摊".to_owned(),
    };
    format!("【{title}】{when}，点击查看明细：{url}")
}

/// Compliance problems in an announcement (it is posted to a group by the payee).
pub fn announcement_lint(text: &str) -> Vec<lint::Hit> {
    lint::check(text)
}

/// How long a participant is left alone after a reminder: 12 hours.
pub const REMIND_EVERY_SECS: i64 = 12 * 3600;

/// The data of a template-message reminder. The operator's template
/// (`WECHAT_REMINDER_TEMPLATE_ID`) has the keywords `thing1` (what: the title, within WeChat's
/// 20 characters), `amount2` (what they owe) and `time3` (the deadline in Beijing time; the
/// moment of sending when there is none — a `time` keyword must hold a time). Every value is
/// built by `crate::notice` within its type's rule.
pub fn reminder_data(
    title: &str,
    due: Fen,
    deadline: Option<Deadline>,
    now: i64,
) -> serde_json::Value {
    serde_json::json!({
        "thing1": { "value": notice::thing(title) },
        "amount2": { "value": notice::amount(due) },
        "time3": { "value": notice::time(deadline.map_or(now, Deadline::unix)) },
    })
}

/// A short description of how a split splits: `¥300.00 由 10 人均摊`.
pub fn mode_summary(mode: &SplitMode) -> String {
    match mode {
        SplitMode::Equal { total, people } => format!("{total} 由 {people} 人均摊"),
        SplitMode::Fixed { per_person } => format!("每人 {per_person}"),
        SplitMode::Itemized { items } => format!("按项目付款（{} 项）", items.len()),
    }
}

/// `已接龙 12/20 人 · 已付款 8 人 · 已收 ¥96.00 / ¥240.00`.
pub fn progress_text(p: &Progress) -> String {
    let joined = match p.cap {
        Some(cap) => format!("已接龙 {}/{cap} 人", p.joined),
        None => format!("已接龙 {} 人", p.joined),
    };
    // A target only where one is known in advance: an equal split's total, or a capped
    // amount per person; itemized and uncapped splits grow with their sign-ups (never
    // `/ ¥0.00`).
    if p.cap.is_some() && p.target.get() > 0 {
        format!(
            "{joined} · 已付款 {} 人 · 已收 {} / {}",
            p.paid, p.collected, p.target
        )
    } else {
        format!("{joined} · 已付款 {} 人 · 已收 {}", p.paid, p.collected)
    }
}

/// What a sign-up picked, as one line (`可乐×2、薯条×1`); empty unless the split is itemized.
pub fn picks_label(mode: &SplitMode, picks: &[Pick]) -> String {
    match mode {
        SplitMode::Itemized { items } => picks
            .iter()
            .filter_map(|p| items.get(p.item).map(|i| format!("{}×{}", i.name, p.qty)))
            .collect::<Vec<_>>()
            .join("、"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_796_000_000;

    fn equal(total: &str, people: &str) -> NewSplit {
        NewSplit {
            mode: "equal".into(),
            total: Some(total.into()),
            people: Some(people.into()),
            ..NewSplit::default()
        }
    }

    fn sum(v: &[Fen]) -> i64 {
        v.iter().map(|f| f.get()).sum()
    }

    #[test]
    fn split_of_odd_fen_gives_remainder_to_first_payers() {
        let shares = equal_shares(Fen::new(1000), 3);
        assert_eq!(shares, vec![Fen::new(334), Fen::new(333), Fen::new(333)]);
        let shares = equal_shares(Fen::new(10), 4);
        assert_eq!(
            shares,
            vec![Fen::new(3), Fen::new(3), Fen::new(2), Fen::new(2)]
        );
        assert!(equal_shares(Fen::new(10), 0).is_empty());
    }

    #[test]
    fn confirmed_payments_keep_their_amount_and_the_rest_is_reshared() {
        // 10 fen, 3 people: 4/3/3. The third pays 3 first; the other two still owe 4 and 3.
        let dues = slot_dues(Fen::new(10), 3, &[None, None, Some(Fen::new(3))]);
        assert_eq!(dues, vec![Fen::new(4), Fen::new(3), Fen::new(3)]);
        // The first withdraws; the paid one moves up to slot 1; the total still holds.
        let dues = slot_dues(Fen::new(10), 3, &[Some(Fen::new(3)), None]);
        assert_eq!(dues, vec![Fen::new(3), Fen::new(4), Fen::new(3)]);
    }

    #[test]
    fn an_equal_split_validates_and_caps_at_its_people() {
        let spec = equal("300", "7").validate(NOW).unwrap();
        assert_eq!(
            spec.mode,
            SplitMode::Equal {
                total: Fen::new(30_000),
                people: 7
            }
        );
        assert_eq!(spec.cap, Some(7));
        assert_eq!(spec.pay_mode, PayMode::Personal);
    }

    #[test]
    fn bad_splits_report_every_field() {
        let errors = NewSplit {
            mode: "equal".into(),
            total: Some("0.01".into()),
            people: Some("2".into()),
            deadline: Some("2020-01-01T10:00".into()),
            pay_mode: Some("cash".into()),
            ..NewSplit::default()
        }
        .validate(NOW)
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["split.total", "split.deadline", "split.pay_mode"]
        );

        let errors = NewSplit {
            mode: "fixed".into(),
            per_person: Some("-1".into()),
            cap: Some("0".into()),
            ..NewSplit::default()
        }
        .validate(NOW)
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["split.per_person", "split.cap"]);

        assert!(
            equal("100", "1").validate(NOW).is_err(),
            "one person is not a split"
        );
        assert!(equal("100", "1001").validate(NOW).is_err());
        assert!(equal("200001", "10").validate(NOW).is_err());
        assert!(NewSplit::default().validate(NOW).is_err(), "no mode");
    }

    #[test]
    fn itemized_lines_are_checked_one_by_one() {
        let split = NewSplit {
            mode: "itemized".into(),
            items: vec![
                NewItem {
                    name: "门票".into(),
                    price: "80".into(),
                    quantity: true,
                },
                NewItem {
                    name: "".into(),
                    price: "abc".into(),
                    quantity: false,
                },
                NewItem {
                    name: "全网最低价午餐".into(),
                    price: "35".into(),
                    quantity: false,
                },
            ],
            ..NewSplit::default()
        };
        let errors = split.validate(NOW).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "split.items.1.name",
                "split.items.1.price",
                "split.items.2.name"
            ]
        );
        let ok = NewSplit {
            items: vec![split.items[0].clone()],
            ..split
        }
        .validate(NOW)
        .unwrap();
        assert!(
            matches!(ok.mode, SplitMode::Itemized { ref items } if items[0].price == Fen::new(8000))
        );
    }

    fn items() -> SplitMode {
        SplitMode::Itemized {
            items: vec![
                Item {
                    name: "门票".into(),
                    price: Fen::new(8000),
                    quantity: true,
                },
                Item {
                    name: "午餐".into(),
                    price: Fen::new(3500),
                    quantity: false,
                },
            ],
        }
    }

    #[test]
    fn sign_ups_are_checked_against_the_mode() {
        let ok = SignUp {
            name: " 张三 ".into(),
            phone: "138 1234 1234".into(),
            picks: vec![Pick { item: 1, qty: 1 }, Pick { item: 0, qty: 2 }],
        }
        .validate(&items())
        .unwrap();
        assert_eq!(ok.name.as_str(), "张三");
        assert_eq!(ok.phone.unwrap().as_str(), "13812341234");
        assert_eq!(
            ok.picks,
            vec![Pick { item: 0, qty: 2 }, Pick { item: 1, qty: 1 }]
        );
        let SplitMode::Itemized { items: lines } = items() else {
            unreachable!()
        };
        assert_eq!(picks_amount(&lines, &ok.picks), Some(Fen::new(19_500)));

        let bad = |picks: Vec<Pick>| {
            SignUp {
                name: "李四".into(),
                phone: String::new(),
                picks,
            }
            .validate(&items())
            .unwrap_err()[0]
                .message
                .clone()
        };
        assert_eq!(bad(vec![]), "请至少选择一个项目");
        assert_eq!(bad(vec![Pick { item: 5, qty: 1 }]), "选择的项目不存在");
        assert_eq!(bad(vec![Pick { item: 1, qty: 2 }]), "「午餐」最多选 1 份");
        assert_eq!(
            bad(vec![Pick { item: 0, qty: 1 }, Pick { item: 0, qty: 1 }]),
            "「门票」重复选择"
        );

        let fixed = SplitMode::Fixed {
            per_person: Fen::new(100),
        };
        let errors = SignUp {
            name: "".into(),
            phone: "123".into(),
            picks: vec![Pick { item: 0, qty: 1 }],
        }
        .validate(&fixed)
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["name", "phone", "picks"]);
    }

    #[test]
    fn progress_counts_and_targets_follow_the_mode() {
        let spec = SplitSpec {
            mode: SplitMode::Fixed {
                per_person: Fen::new(500),
            },
            cap: Some(10),
            deadline: None,
            pay_mode: PayMode::Personal,
        };
        use ParticipantStatus::*;
        let statuses = [Paid, Claimed, Joined];
        let members: Vec<Member> = [Some(Fen::new(500)), None, None]
            .into_iter()
            .map(|paid| Member {
                paid,
                picks: vec![],
            })
            .collect();
        let d = dues(&spec.mode, &members);
        let p = Progress::of(&spec, &statuses, &d);
        assert_eq!((p.joined, p.claimed, p.paid), (3, 1, 1));
        assert_eq!(p.collected, Fen::new(500));
        assert_eq!(p.target, Fen::new(5000));
        assert_eq!(p.permille(), 100);
    }

    #[test]
    fn a_reminder_names_the_amount_and_the_deadline_within_wechat_limits() {
        let deadline = Deadline::parse_cst("2026-12-01T18:00").unwrap();
        let m = reminder_data(&"长".repeat(30), Fen::new(3334), Some(deadline), 0);
        let thing = m["thing1"]["value"].as_str().unwrap();
        assert_eq!(thing.chars().count(), 20);
        assert!(thing.ends_with('…'));
        assert_eq!(m["amount2"]["value"], "¥33.34");
        assert_eq!(m["time3"]["value"], "2026年12月1日 18:00");
        let undated = reminder_data("t", Fen::new(1), None, deadline.unix());
        assert_eq!(undated["time3"]["value"], "2026年12月1日 18:00");
    }

    #[test]
    fn the_announcement_names_the_deadline_in_beijing_time_and_passes_the_lint() {
        let deadline = Deadline::parse_cst("2026-12-01T18:00").unwrap();
        let now = Deadline::parse_cst("2026-12-01T09:00").unwrap().unix();
        let text = announcement("周五聚餐 AA", Some(deadline), "https://x.cn/c/abc123", now);
        assert_eq!(
            text,
            "【周五聚餐 AA】请于今日18:00前完成费用分摊，点击查看明细：https://x.cn/c/abc123"
        );
        assert!(announcement_lint(&text).is_empty());
        let late = announcement("聚餐", Some(deadline), "u", deadline.unix() + 1);
        assert!(late.contains("请尽快完成费用分摊"));
        assert_eq!(announcement_lint("稳赚的聚餐")[0].word, "稳赚");
    }

    proptest! {
        #[test]
        fn equal_shares_sum_to_the_total_and_differ_by_at_most_one_fen(
            total in 0i64..=20_000_000, n in 1u32..=1000
        ) {
            let shares = equal_shares(Fen::new(total), n);
            prop_assert_eq!(shares.len(), n as usize);
            prop_assert_eq!(sum(&shares), total);
            let max = shares.iter().max().unwrap().get();
            let min = shares.iter().min().unwrap().get();
            prop_assert!(max - min <= 1);
            // The remainder goes to the first shares.
            prop_assert!(shares.windows(2).all(|w| w[0] >= w[1]));
        }

        #[test]
        fn dues_still_sum_to_the_total_whatever_order_people_pay_and_withdraw_in(
            people in 2u32..=60,
            extra in 0i64..=5_000_000,
            joined in 0usize..=60,
            events in proptest::collection::vec((any::<bool>(), any::<u16>()), 0..120),
        ) {
            let total = Fen::new(i64::from(people) + extra);
            let joined = joined.min(people as usize);
            let mut paid: Vec<Option<Fen>> = vec![None; joined];
            for (withdraw, pick) in events {
                if paid.is_empty() {
                    break;
                }
                let i = usize::from(pick) % paid.len();
                let dues = slot_dues(total, people, &paid);
                prop_assert_eq!(sum(&dues), total.get());
                prop_assert!(dues.iter().all(|d| d.get() >= 1));
                match (withdraw, paid[i]) {
                    // Only unpaid participants may withdraw; later ones move up.
                    (true, None) => { paid.remove(i); }
                    (false, None) => paid[i] = Some(dues[i]),
                    _ => {}
                }
            }
            let dues = slot_dues(total, people, &paid);
            prop_assert_eq!(sum(&dues), total.get());
            let unpaid: Vec<i64> = dues.iter().enumerate()
                .filter(|(i, _)| paid.get(*i).copied().flatten().is_none())
                .map(|(_, d)| d.get()).collect();
            if let (Some(max), Some(min)) = (unpaid.iter().max(), unpaid.iter().min()) {
                prop_assert!(max - min <= 1, "open shares differ by more than a fen");
            }
        }
    }
}
