//! Profit sharing (分账): a collection's share rule, checked when it is saved against the most
//! WeChat lets the merchant share, and the arithmetic of each order's shares and of the
//! returns (分账回退) a refund needs. Ratios are in 1/10 000 ([`Bps`]), amounts in fen, every
//! division rounds down.
//!
//! - [`RuleDraft::validate`]: a rule that could exceed the maximum ratio for *any* order
//!   amount of the collection is refused at save time, not when WeChat rejects it
//!   (PROTOCOL-2 §2: the ratio is cumulative, default 30 %; PROTOCOL-3 §3: a sub-merchant's
//!   authorised ratio).
//! - [`compute`]: each receiver's amount for one order, capped by the ratio and by WeChat's
//!   `unsplit_amount`.
//! - [`returns`]: which shares to return before a refund so that refunds and returns never
//!   exceed what was paid and shared.
//! - [`wechat`]: share numbers, WeChat's share-order answers and which refusals to retry.

pub mod compute;
pub mod returns;
pub mod wechat;

use serde::{Deserialize, Serialize};

use crate::collection::FieldError;
use crate::money::Fen;
use crate::routing::is_valid_sub_mchid;
use crate::session::Openid;

/// 10 000 basis points are the whole amount.
pub const BPS_SCALE: i64 = 10_000;

/// A direct merchant's maximum ratio unless configured otherwise: 30 % (PROTOCOL-2 §2).
pub const DEFAULT_MAX_RATIO: Bps = Bps(3000);

/// WeChat's limit is 50 receivers per request; the platform fee takes one.
pub const MAX_RULE_RECEIVERS: usize = 20;

/// A share receiver's `description` limit (WeChat: ≤ 80, counted in bytes to be safe).
pub const MAX_DESCRIPTION_BYTES: usize = 80;

/// A ratio in 1/10 000 (2000 = 20 %), 0 ..= 10 000.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Bps(i64);

impl Bps {
    /// Nothing.
    pub const ZERO: Bps = Bps(0);

    /// A ratio, or `None` outside 0 ..= 10 000.
    pub fn new(bps: i64) -> Option<Bps> {
        (0..=BPS_SCALE).contains(&bps).then_some(Bps(bps))
    }

    /// The basis points.
    pub fn get(self) -> i64 {
        self.0
    }

    /// `floor(amount × self / 10 000)`; a negative amount gives zero.
    pub fn of(self, amount: Fen) -> Fen {
        let amount = i128::from(amount.get().max(0));
        let share = amount * i128::from(self.0) / i128::from(BPS_SCALE);
        // share ≤ amount, which fitted in an i64.
        Fen::new(i64::try_from(share).unwrap_or(i64::MAX))
    }

    /// Parses a percentage as a person types it: `10`, `10.5`, `0.25`, `10%`; at most two
    /// decimals (0.01 % is one basis point).
    pub fn parse_percent(input: &str) -> Option<Bps> {
        let s = input.trim().trim_end_matches(['%', '％']).trim();
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 3 || frac.len() > 2 || !digits(whole) || !digits(frac)
        {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let frac: i64 = format!("{frac:0<2}").parse().ok()?;
        Bps::new(whole * 100 + frac)
    }

    /// `10%`, `10.5%`, `0.25%`.
    pub fn percent_string(self) -> String {
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        match frac {
            0 => format!("{whole}%"),
            f if f % 10 == 0 => format!("{whole}.{}%", f / 10),
            f => format!("{whole}.{f:02}%"),
        }
    }
}

impl TryFrom<i64> for Bps {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        Bps::new(n).ok_or_else(|| format!("{n} is not within 0..=10000"))
    }
}

impl From<Bps> for i64 {
    fn from(b: Bps) -> i64 {
        b.0
    }
}

/// Who receives: a merchant number or a person's openid under the paying appid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReceiverType {
    /// `MERCHANT_ID`: a mchid (its full name is required).
    #[serde(rename = "MERCHANT_ID")]
    MerchantId,
    /// `PERSONAL_OPENID`: an openid under the appid the order was paid with.
    #[serde(rename = "PERSONAL_OPENID")]
    PersonalOpenid,
}

impl ReceiverType {
    /// WeChat's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverType::MerchantId => "MERCHANT_ID",
            ReceiverType::PersonalOpenid => "PERSONAL_OPENID",
        }
    }

    /// Parses WeChat's name.
    pub fn parse(s: &str) -> Option<ReceiverType> {
        [ReceiverType::MerchantId, ReceiverType::PersonalOpenid]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// The receiver's relation to the sharer (WeChat's `relation_type`; `CUSTOM` is not offered).
pub const RELATIONS: [(&str, &str); 10] = [
    ("SERVICE_PROVIDER", "服务商"),
    ("STORE", "门店"),
    ("STAFF", "员工"),
    ("STORE_OWNER", "店主"),
    ("PARTNER", "合作伙伴"),
    ("HEADQUARTER", "总部"),
    ("BRAND", "品牌方"),
    ("DISTRIBUTOR", "分销商"),
    ("USER", "用户"),
    ("SUPPLIER", "供应商"),
];

/// The relation kept for the platform fee (payees choose among the others).
pub const RELATION_SERVICE_PROVIDER: &str = "SERVICE_PROVIDER";

/// How much one receiver gets of each order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareAmount {
    /// A fixed amount per order.
    Fixed(Fen),
    /// A ratio of the order's amount (after refunds made before sharing).
    Ratio(Bps),
}

impl ShareAmount {
    /// What this asks of an order whose amount is `base`.
    pub fn wanted(self, base: Fen) -> Fen {
        match self {
            ShareAmount::Fixed(fen) => fen,
            ShareAmount::Ratio(bps) => bps.of(base),
        }
    }
}

/// One receiver of a saved rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleReceiver {
    /// Merchant or person.
    #[serde(rename = "type")]
    pub kind: ReceiverType,
    /// The mchid or openid.
    pub account: String,
    /// Full merchant name (required for merchants) or the person's real name (optional).
    pub name: Option<String>,
    /// WeChat's `relation_type`.
    pub relation_type: String,
    /// Amount or ratio.
    pub amount: ShareAmount,
    /// Shown in WeChat's 分账账单 and to the receiver.
    pub description: String,
}

/// One receiver as the payee sends it (`PUT /api/dash/collections/:id/shares`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiverDraft {
    /// `MERCHANT_ID` | `PERSONAL_OPENID`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// mchid or openid.
    #[serde(default)]
    pub account: String,
    /// Full name (merchant: required).
    #[serde(default)]
    pub name: Option<String>,
    /// One of [`RELATIONS`] other than `SERVICE_PROVIDER`.
    #[serde(default)]
    pub relation_type: String,
    /// A fixed amount in yuan (`"5.00"`), or …
    #[serde(default)]
    pub amount: Option<String>,
    /// … a percentage (`"10"` = 10 %).
    #[serde(default)]
    pub percent: Option<String>,
    /// Optional; defaults to 收款分账.
    #[serde(default)]
    pub description: Option<String>,
}

/// A rule as the payee sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDraft {
    /// Receivers, in the order shares are served when an order cannot pay them all.
    #[serde(default)]
    pub receivers: Vec<ReceiverDraft>,
}

/// What a rule is checked against when it is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLimits {
    /// The most WeChat lets this merchant share of an order.
    pub max_ratio: Bps,
    /// The platform fee taken before the rule's shares (platform model; zero otherwise).
    pub platform_fee: Bps,
    /// The collection's fixed amount; `None` when the payer enters it (any amount ≥ 0.01).
    pub collection_amount: Option<Fen>,
    /// Merchant numbers that cannot receive (the sharer itself, the platform).
    pub reserved_merchants: Vec<String>,
}

impl RuleLimits {
    /// The fee actually taken: never more than the ratio allows.
    pub fn effective_fee(&self) -> Bps {
        self.platform_fee.min(self.max_ratio)
    }
}

fn field(index: usize, name: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: format!("receivers[{index}].{name}"),
        code: code.into(),
        message: format!("第 {} 个分账接收方：{}", index + 1, message.into()),
    }
}

fn clean_name(input: &str, max: usize) -> Option<String> {
    let t = input.trim();
    let ok = !t.is_empty() && t.chars().count() <= max && !t.chars().any(char::is_control);
    ok.then(|| t.to_string())
}

impl ReceiverDraft {
    fn validate(&self, index: usize) -> Result<RuleReceiver, Vec<FieldError>> {
        let mut errors = Vec::new();
        let kind = ReceiverType::parse(self.kind.trim());
        let account = self.account.trim().to_string();
        match kind {
            None => errors.push(field(
                index,
                "type",
                "INVALID_RECEIVER_TYPE",
                "类型只能是 MERCHANT_ID（商户号）或 PERSONAL_OPENID（个人 openid）",
            )),
            Some(ReceiverType::MerchantId) if !is_valid_sub_mchid(&account) => errors.push(field(
                index,
                "account",
                "INVALID_ACCOUNT",
                "商户号应为 8–32 位数字",
            )),
            Some(ReceiverType::PersonalOpenid) if Openid::parse(&account).is_none() => {
                errors.push(field(
                    index,
                    "account",
                    "INVALID_ACCOUNT",
                    "openid 只能由字母、数字、- 和 _ 组成",
                ))
            }
            Some(_) => {}
        }
        let name = match (kind, self.name.as_deref().map(str::trim)) {
            (Some(ReceiverType::MerchantId), None | Some("")) => {
                errors.push(field(
                    index,
                    "name",
                    "NAME_REQUIRED",
                    "商户接收方须填写商户全称",
                ));
                None
            }
            (_, None | Some("")) => None,
            (k, Some(n)) => {
                let max = if k == Some(ReceiverType::MerchantId) {
                    64
                } else {
                    20
                };
                let cleaned = clean_name(n, max);
                if cleaned.is_none() {
                    errors.push(field(
                        index,
                        "name",
                        "INVALID_NAME",
                        format!("姓名或商户全称最多 {max} 个字，且不能含控制字符"),
                    ));
                }
                cleaned
            }
        };
        let relation = self.relation_type.trim();
        if relation == RELATION_SERVICE_PROVIDER || !RELATIONS.iter().any(|(r, _)| *r == relation) {
            errors.push(field(
                index,
                "relation_type",
                "INVALID_RELATION",
                "关系类型应为 STAFF、PARTNER、STORE、DISTRIBUTOR 等（SERVICE_PROVIDER 留给平台服务费）",
            ));
        }
        let amount = match (self.amount.as_deref(), self.percent.as_deref()) {
            (Some(yuan), None) => match Fen::parse_yuan(yuan) {
                Ok(fen) => Some(ShareAmount::Fixed(fen)),
                Err(e) => {
                    errors.push(field(index, "amount", "INVALID_AMOUNT", e.to_string()));
                    None
                }
            },
            (None, Some(percent)) => match Bps::parse_percent(percent) {
                Some(bps) if bps > Bps::ZERO => Some(ShareAmount::Ratio(bps)),
                _ => {
                    errors.push(field(
                        index,
                        "percent",
                        "INVALID_PERCENT",
                        "比例应为大于 0 的百分数，最多两位小数，如 10 或 12.5",
                    ));
                    None
                }
            },
            _ => {
                errors.push(field(
                    index,
                    "amount",
                    "AMOUNT_OR_PERCENT",
                    "请填写固定金额或比例（二选一）",
                ));
                None
            }
        };
        let description = self
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .unwrap_or("收款分账")
            .to_string();
        if description.len() > MAX_DESCRIPTION_BYTES || description.chars().any(char::is_control) {
            errors.push(field(
                index,
                "description",
                "INVALID_DESCRIPTION",
                "分账说明最多 80 字节（约 26 个汉字），且不能含控制字符",
            ));
        }
        match (kind, amount, errors.is_empty()) {
            (Some(kind), Some(amount), true) => Ok(RuleReceiver {
                kind,
                account,
                name,
                relation_type: relation.to_string(),
                amount,
                description,
            }),
            _ => Err(errors),
        }
    }
}

/// Why a whole rule is refused (beyond its fields).
fn rule_error(code: &str, message: String) -> FieldError {
    FieldError {
        field: "receivers".into(),
        code: code.into(),
        message,
    }
}

impl RuleDraft {
    /// Checks every receiver, then the rule as a whole: no duplicates, no reserved merchant,
    /// and for every possible order amount the shares (with the platform fee) stay within
    /// the maximum ratio. An empty rule is valid (no sharing beyond the platform fee).
    pub fn validate(&self, limits: &RuleLimits) -> Result<Vec<RuleReceiver>, Vec<FieldError>> {
        if self.receivers.len() > MAX_RULE_RECEIVERS {
            return Err(vec![rule_error(
                "TOO_MANY_RECEIVERS",
                format!("最多 {MAX_RULE_RECEIVERS} 个分账接收方"),
            )]);
        }
        let mut errors = Vec::new();
        let mut valid: Vec<RuleReceiver> = Vec::new();
        for (i, draft) in self.receivers.iter().enumerate() {
            match draft.validate(i) {
                Ok(r) => {
                    if valid
                        .iter()
                        .any(|v| v.kind == r.kind && v.account == r.account)
                    {
                        errors.push(field(
                            i,
                            "account",
                            "DUPLICATE_RECEIVER",
                            "同一接收方只能出现一次",
                        ));
                    } else if r.kind == ReceiverType::MerchantId
                        && limits.reserved_merchants.contains(&r.account)
                    {
                        errors.push(field(
                            i,
                            "account",
                            "RESERVED_RECEIVER",
                            "不能分账给收款商户自己或平台商户号",
                        ));
                    }
                    valid.push(r);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        check_ratio(&valid, limits).map_err(|e| vec![e])?;
        Ok(valid)
    }
}

fn check_ratio(receivers: &[RuleReceiver], limits: &RuleLimits) -> Result<(), FieldError> {
    let max = limits.max_ratio;
    let fee = limits.effective_fee();
    let ratios: i64 = receivers
        .iter()
        .filter_map(|r| match r.amount {
            ShareAmount::Ratio(b) => Some(b.get()),
            ShareAmount::Fixed(_) => None,
        })
        .sum::<i64>()
        + fee.get();
    let over = |detail: String| {
        rule_error(
            "OVER_MAX_RATIO",
            format!(
                "分账合计不能超过微信支付允许的最大分账比例 {}{detail}",
                max.percent_string()
            ),
        )
    };
    let fee_note = if fee > Bps::ZERO {
        format!("（含平台服务费 {}）", fee.percent_string())
    } else {
        String::new()
    };
    if ratios > max.get() {
        return Err(over(format!(
            "：按比例合计 {}{fee_note}",
            Bps(ratios.min(BPS_SCALE * 100)).percent_string()
        )));
    }
    let fixed: Vec<Fen> = receivers
        .iter()
        .filter_map(|r| match r.amount {
            ShareAmount::Fixed(f) => Some(f),
            ShareAmount::Ratio(_) => None,
        })
        .collect();
    if fixed.is_empty() {
        return Ok(());
    }
    let Some(amount) = limits.collection_amount else {
        return Err(rule_error(
            "FIXED_NEEDS_FIXED_AMOUNT",
            "付款人自填金额的收款只能按比例分账：固定金额的分账在小额订单上会超过最大分账比例"
                .into(),
        ));
    };
    let wanted = compute::wanted(&fee_and(receivers, fee), amount);
    let total: i64 = wanted.iter().map(|f| f.get()).sum();
    let cap = max.of(amount);
    if total > cap.get() {
        return Err(over(format!(
            "：每笔 {amount} 最多可分 {cap}，当前规则合计 {}{fee_note}",
            Fen::new(total)
        )));
    }
    Ok(())
}

/// The amounts of an order's shares, platform fee first (as [`compute::plan`] serves them).
pub fn fee_and(receivers: &[RuleReceiver], fee: Bps) -> Vec<ShareAmount> {
    let fee = (fee > Bps::ZERO).then_some(ShareAmount::Ratio(fee));
    fee.into_iter()
        .chain(receivers.iter().map(|r| r.amount))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: i64, fee: i64, amount: Option<i64>) -> RuleLimits {
        RuleLimits {
            max_ratio: Bps::new(max).unwrap(),
            platform_fee: Bps::new(fee).unwrap(),
            collection_amount: amount.map(Fen::new),
            reserved_merchants: vec!["1900000109".into()],
        }
    }

    fn staff(account: &str, percent: Option<&str>, amount: Option<&str>) -> ReceiverDraft {
        ReceiverDraft {
            kind: "PERSONAL_OPENID".into(),
            account: account.into(),
            name: None,
            relation_type: "STAFF".into(),
            amount: amount.map(Into::into),
            percent: percent.map(Into::into),
            description: Some("员工提成".into()),
        }
    }

    fn rule(receivers: Vec<ReceiverDraft>) -> RuleDraft {
        RuleDraft { receivers }
    }

    #[test]
    fn percentages_parse_to_basis_points_and_print_back() {
        assert_eq!(Bps::parse_percent("10"), Bps::new(1000));
        assert_eq!(Bps::parse_percent("12.5%"), Bps::new(1250));
        assert_eq!(Bps::parse_percent(" 0.01 "), Bps::new(1));
        assert_eq!(Bps::parse_percent("100"), Bps::new(10_000));
        for bad in ["", "101", "1.234", "-1", "1e2", "abc", ".5", "1000"] {
            assert_eq!(Bps::parse_percent(bad), None, "{bad}");
        }
        assert_eq!(Bps(1250).percent_string(), "12.5%");
        assert_eq!(Bps(1).percent_string(), "0.01%");
        assert_eq!(Bps(3000).percent_string(), "30%");
    }

    #[test]
    fn a_ratio_of_an_amount_rounds_down_in_fen() {
        assert_eq!(Bps(100).of(Fen::new(199)), Fen::new(1));
        assert_eq!(Bps(100).of(Fen::new(99)), Fen::ZERO);
        let exact = i128::from(i64::MAX) * 3000 / 10_000;
        assert_eq!(i128::from(Bps(3000).of(Fen::new(i64::MAX)).get()), exact);
    }

    #[test]
    fn a_ten_percent_staff_share_is_within_thirty_percent() {
        let saved = rule(vec![staff("oStaff_1", Some("10"), None)])
            .validate(&limits(3000, 0, None))
            .unwrap();
        assert_eq!(saved[0].amount, ShareAmount::Ratio(Bps(1000)));
        assert_eq!(saved[0].kind, ReceiverType::PersonalOpenid);
    }

    #[test]
    fn ratios_above_the_max_ratio_with_the_fee_are_refused_at_save_time() {
        let errors = rule(vec![
            staff("oA", Some("15"), None),
            staff("oB", Some("10"), None),
        ])
        .validate(&limits(2000, 0, Some(10_000)))
        .unwrap_err();
        assert_eq!(errors[0].code, "OVER_MAX_RATIO");
        assert!(errors[0].message.contains("20%"), "{}", errors[0].message);
        // 19 % + a 1 % fee fits 20 %; 19.01 % does not.
        assert!(rule(vec![staff("oA", Some("19"), None)])
            .validate(&limits(2000, 100, None))
            .is_ok());
        let errors = rule(vec![staff("oA", Some("19.01"), None)])
            .validate(&limits(2000, 100, None))
            .unwrap_err();
        assert!(errors[0].message.contains("平台服务费 1%"));
    }

    #[test]
    fn fixed_amounts_need_a_fixed_collection_amount_within_the_ratio() {
        let fixed = || rule(vec![staff("oA", None, Some("3.00"))]);
        assert_eq!(
            fixed().validate(&limits(3000, 0, None)).unwrap_err()[0].code,
            "FIXED_NEEDS_FIXED_AMOUNT"
        );
        assert!(fixed().validate(&limits(3000, 0, Some(1000))).is_ok());
        let errors = fixed()
            .validate(&limits(3000, 100, Some(1000)))
            .unwrap_err();
        assert_eq!(errors[0].code, "OVER_MAX_RATIO");
    }

    #[test]
    fn fields_are_checked_one_by_one() {
        let bad = ReceiverDraft {
            kind: "MERCHANT_ID".into(),
            account: "12ab".into(),
            name: None,
            relation_type: "SERVICE_PROVIDER".into(),
            amount: Some("1".into()),
            percent: Some("1".into()),
            description: Some("x".repeat(81)),
        };
        let codes: Vec<String> = rule(vec![bad])
            .validate(&limits(3000, 0, Some(100)))
            .unwrap_err()
            .into_iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(
            codes,
            [
                "INVALID_ACCOUNT",
                "NAME_REQUIRED",
                "INVALID_RELATION",
                "AMOUNT_OR_PERCENT",
                "INVALID_DESCRIPTION"
            ]
        );
    }

    #[test]
    fn duplicates_and_reserved_merchants_are_refused() {
        let merchant = |account: &str| ReceiverDraft {
            kind: "MERCHANT_ID".into(),
            account: account.into(),
            name: Some("深圳某某科技有限公司".into()),
            relation_type: "PARTNER".into(),
            percent: Some("1".into()),
            ..ReceiverDraft::default()
        };
        let errors = rule(vec![merchant("1900000109")])
            .validate(&limits(3000, 0, None))
            .unwrap_err();
        assert_eq!(errors[0].code, "RESERVED_RECEIVER");
        let errors = rule(vec![merchant("1900000110"), merchant("1900000110")])
            .validate(&limits(3000, 0, None))
            .unwrap_err();
        assert_eq!(errors[0].code, "DUPLICATE_RECEIVER");
        assert_eq!(errors[0].field, "receivers[1].account");
    }

    #[test]
    fn the_fee_never_exceeds_the_authorised_ratio() {
        assert_eq!(limits(500, 800, None).effective_fee(), Bps(500));
        assert_eq!(limits(3000, 100, None).effective_fee(), Bps(100));
    }
}
