//! Refunds of merchant orders: full or partial, started by the payee with a reason; the sum of
//! every refund that is not closed never exceeds what was paid. Refund states come from the
//! refund API's answers and from `REFUND.*` callbacks, through [`refund_transition`]; the order's
//! own state follows from its refunds ([`order_state_after`]).

use serde::{Deserialize, Serialize};

use crate::money::{AmountError, Fen};
use crate::order::OrderState;
use crate::paytime;
use crate::wechatpay::{RefundNotice, RefundStatus};

/// Where one refund is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Accepted, money on its way.
    Processing,
    /// The payer has the money back.
    Success,
    /// Closed without refunding (its amount is refundable again).
    Closed,
    /// WeChat Pay could not refund (e.g. the payer's card is gone): needs manual handling.
    Abnormal,
}

impl RefundState {
    /// Every state.
    pub const ALL: [RefundState; 4] = [
        RefundState::Processing,
        RefundState::Success,
        RefundState::Closed,
        RefundState::Abnormal,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Processing => "processing",
            RefundState::Success => "success",
            RefundState::Closed => "closed",
            RefundState::Abnormal => "abnormal",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<RefundState> {
        RefundState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
    }

    /// WeChat Pay's `refund_status` / `status` as a state (`None` for an unknown value).
    pub fn from_wechat(status: RefundStatus) -> Option<RefundState> {
        match status {
            RefundStatus::Processing => Some(RefundState::Processing),
            RefundStatus::Success => Some(RefundState::Success),
            RefundStatus::Closed => Some(RefundState::Closed),
            RefundStatus::Abnormal => Some(RefundState::Abnormal),
            RefundStatus::Unknown => None,
        }
    }

    /// True while the amount is (or may still be) on its way back: it counts against what
    /// can be refunded.
    pub fn is_committed(self) -> bool {
        !matches!(self, RefundState::Closed)
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            RefundState::Processing => "退款处理中",
            RefundState::Success => "退款成功",
            RefundState::Closed => "退款已关闭",
            RefundState::Abnormal => "退款异常，需人工处理",
        }
    }
}

/// What a reported refund status does to a stored refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundTransition {
    /// Change to this state.
    To(RefundState),
    /// Already so (a duplicate callback, a repeated query).
    Unchanged,
    /// Not possible from here (a final refund reported otherwise): record, do not apply.
    Refused,
}

/// The refund state machine: `processing → success | closed | abnormal`, and an abnormal
/// refund resolved by hand later (`abnormal → success | closed`). Success and closed are final;
/// a late `processing` report changes nothing.
pub fn refund_transition(from: RefundState, reported: RefundState) -> RefundTransition {
    use RefundState::*;
    match (from, reported) {
        (a, b) if a == b => RefundTransition::Unchanged,
        (Processing, _) => RefundTransition::To(reported),
        (Abnormal, Success | Closed) => RefundTransition::To(reported),
        // A PROCESSING report is older news (the refund API's answer arriving after the
        // callback, a query racing it): nothing to undo.
        (Abnormal | Success | Closed, Processing) => RefundTransition::Unchanged,
        (Success | Closed, _) => RefundTransition::Refused,
        (Abnormal, Abnormal) => RefundTransition::Unchanged,
    }
}

/// Why a refund request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    /// The order was never paid.
    #[error("订单未支付，不能退款")]
    NotPaid,
    /// The amount is not a valid amount.
    #[error("退款金额不正确：{0}")]
    Amount(AmountError),
    /// More than what is left to refund.
    #[error("退款金额超过可退金额（最多还可退 {refundable}）")]
    OverRefund {
        /// What can still be refunded.
        refundable: Fen,
    },
    /// Nothing is left to refund.
    #[error("该订单已全额退款")]
    NothingLeft,
    /// The reason is missing or too long.
    #[error("请填写退款原因（不超过 {} 个字）", Reason::MAX_CHARS)]
    Reason,
}

/// A refund reason: 1–80 characters (WeChat Pay shows it to the payer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reason(String);

impl Reason {
    /// Longest allowed, in characters.
    pub const MAX_CHARS: usize = 80;

    /// Checks and wraps a reason (trimmed).
    pub fn parse(input: &str) -> Result<Reason, RefundError> {
        let s = input.trim();
        let chars = s.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS || s.chars().any(char::is_control) {
            return Err(RefundError::Reason);
        }
        Ok(Reason(s.to_string()))
    }

    /// The reason.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Reason {
    type Error = RefundError;
    fn try_from(value: String) -> Result<Self, RefundError> {
        Reason::parse(&value)
    }
}

impl From<Reason> for String {
    fn from(r: Reason) -> String {
        r.0
    }
}

/// What is still refundable: paid minus every committed (not closed) refund.
pub fn refundable(paid: Fen, committed: Fen) -> Fen {
    Fen::new(paid.get().saturating_sub(committed.get()).max(0))
}

/// The amount of a new refund: what the payee typed, or everything refundable when empty;
/// refused when it is more than refundable. The worker repeats the cumulative comparison
/// inside its inserting SQL statement, so two refunds at once cannot together exceed it.
pub fn refund_amount(
    state: OrderState,
    paid: Fen,
    committed: Fen,
    typed: Option<&str>,
) -> Result<Fen, RefundError> {
    if !state.is_paid() {
        return Err(RefundError::NotPaid);
    }
    let left = refundable(paid, committed);
    if left == Fen::ZERO {
        return Err(RefundError::NothingLeft);
    }
    let amount = match typed.map(str::trim).filter(|t| !t.is_empty()) {
        None => left,
        Some(text) => Fen::parse_yuan(text).map_err(RefundError::Amount)?,
    };
    if amount > left {
        return Err(RefundError::OverRefund { refundable: left });
    }
    Ok(amount)
}

/// A refund number: `RF`, the time in China and 14 random base-32 characters (30 characters,
/// within `out_refund_no`'s `[0-9A-Za-z_\-|*@]{1,64}`).
pub fn new_out_refund_no(now: i64, random: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut no = format!("RF{}", paytime::compact_cst(now));
    no.extend(
        random
            .iter()
            .take(14)
            .map(|b| char::from(ALPHABET[usize::from(b % 32)])),
    );
    no
}

/// The order's state and refunded total after its refunds, given as (state, amount) pairs:
/// refunding while any refund is processing or abnormal; refunded when successful refunds
/// add up to the whole amount; paid otherwise.
pub fn order_state_after(total: Fen, refunds: &[(RefundState, Fen)]) -> (OrderState, Fen) {
    let refunded = refunds
        .iter()
        .filter(|(state, _)| *state == RefundState::Success)
        .fold(0i64, |sum, (_, fen)| sum.saturating_add(fen.get()));
    let outstanding = refunds
        .iter()
        .any(|(state, _)| matches!(state, RefundState::Processing | RefundState::Abnormal));
    let state = if outstanding {
        OrderState::Refunding
    } else if refunded >= total.get() {
        OrderState::Refunded
    } else {
        OrderState::Paid
    };
    (state, Fen::new(refunded))
}

/// What is stored of a refund, for [`check_notice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundFacts {
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// The order's number.
    pub out_trade_no: String,
    /// The refund amount.
    pub amount: Fen,
    /// The order's total.
    pub total: Fen,
}

/// Compares a verified refund notice with the stored refund and the merchant its order was
/// made for (`routing`: the sub-merchant too, in platform mode); every disagreement is described.
pub fn check_notice(
    stored: &RefundFacts,
    notice: &RefundNotice,
    routing: &crate::routing::PayeeRouting,
) -> Vec<String> {
    let mut problems = routing.check_refund_ids(
        Some(notice.mchid.as_str()).filter(|m| !m.is_empty()),
        notice.sp_mchid.as_deref(),
        notice.sub_mchid.as_deref(),
    );
    if notice.out_trade_no != stored.out_trade_no {
        problems.push(format!("订单号不一致（通知中为 {}）", notice.out_trade_no));
    }
    if notice.out_refund_no != stored.out_refund_no {
        problems.push(format!(
            "退款单号不一致（通知中为 {}）",
            notice.out_refund_no
        ));
    }
    if notice.amount.refund != stored.amount.get() {
        problems.push(format!(
            "退款金额不一致：申请 {}，通知 {}",
            stored.amount,
            Fen::new(notice.amount.refund)
        ));
    }
    if notice.amount.total != stored.total.get() {
        problems.push(format!(
            "订单金额不一致：订单 {}，通知 {}",
            stored.total,
            Fen::new(notice.amount.total)
        ));
    }
    problems
}

/// Body of `POST /api/dash/orders/:id/refunds`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRefund {
    /// `"12.34"`; empty or absent: everything still refundable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// Why (shown to the payer by WeChat Pay).
    pub reason: String,
}

/// A refund as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundView {
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// The order (public id).
    pub order_id: String,
    /// Amount, fen.
    pub amount_fen: i64,
    /// Reason.
    pub reason: String,
    /// State.
    pub state: RefundState,
    /// Unix seconds.
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechatpay::RefundAmount;
    use proptest::prelude::*;

    #[test]
    fn a_full_refund_is_the_default_and_an_over_refund_is_refused() {
        let paid = Fen::new(1000);
        assert_eq!(
            refund_amount(OrderState::Paid, paid, Fen::ZERO, None),
            Ok(paid)
        );
        assert_eq!(
            refund_amount(OrderState::Paid, paid, Fen::ZERO, Some(" ")),
            Ok(paid)
        );
        assert_eq!(
            refund_amount(OrderState::Paid, paid, Fen::new(400), Some("6.00")),
            Ok(Fen::new(600))
        );
        assert_eq!(
            refund_amount(OrderState::Paid, paid, Fen::new(400), Some("6.01")),
            Err(RefundError::OverRefund {
                refundable: Fen::new(600)
            })
        );
        assert_eq!(
            refund_amount(OrderState::Refunded, paid, paid, Some("0.01")),
            Err(RefundError::NothingLeft)
        );
        assert_eq!(
            refund_amount(OrderState::Pending, paid, Fen::ZERO, None),
            Err(RefundError::NotPaid)
        );
        assert!(matches!(
            refund_amount(OrderState::Paid, paid, Fen::ZERO, Some("abc")),
            Err(RefundError::Amount(_))
        ));
    }

    #[test]
    fn reasons_are_required_and_short() {
        assert_eq!(Reason::parse("  买错了 ").unwrap().as_str(), "买错了");
        assert_eq!(Reason::parse(""), Err(RefundError::Reason));
        assert!(Reason::parse(&"退".repeat(80)).is_ok());
        assert_eq!(Reason::parse(&"退".repeat(81)), Err(RefundError::Reason));
        assert_eq!(Reason::parse("a\u{0}b"), Err(RefundError::Reason));
    }

    #[test]
    fn refund_states_move_forward_only() {
        use RefundState::*;
        assert_eq!(
            refund_transition(Processing, Success),
            RefundTransition::To(Success)
        );
        assert_eq!(
            refund_transition(Processing, Abnormal),
            RefundTransition::To(Abnormal)
        );
        assert_eq!(
            refund_transition(Abnormal, Success),
            RefundTransition::To(Success)
        );
        assert_eq!(
            refund_transition(Success, Success),
            RefundTransition::Unchanged
        );
        assert_eq!(
            refund_transition(Success, Closed),
            RefundTransition::Refused
        );
        assert_eq!(
            refund_transition(Closed, Success),
            RefundTransition::Refused
        );
        assert_eq!(
            refund_transition(Success, Processing),
            RefundTransition::Unchanged,
            "a late PROCESSING report undoes nothing"
        );
    }

    #[test]
    fn the_order_follows_its_refunds() {
        let total = Fen::new(1000);
        use RefundState::*;
        assert_eq!(order_state_after(total, &[]), (OrderState::Paid, Fen::ZERO));
        assert_eq!(
            order_state_after(
                total,
                &[(Success, Fen::new(300)), (Processing, Fen::new(700))]
            ),
            (OrderState::Refunding, Fen::new(300))
        );
        assert_eq!(
            order_state_after(total, &[(Success, Fen::new(300)), (Success, Fen::new(700))]),
            (OrderState::Refunded, total)
        );
        assert_eq!(
            order_state_after(total, &[(Success, Fen::new(300)), (Closed, Fen::new(700))]),
            (OrderState::Paid, Fen::new(300))
        );
        assert_eq!(
            order_state_after(total, &[(Abnormal, Fen::new(1000))]),
            (OrderState::Refunding, Fen::ZERO)
        );
    }

    #[test]
    fn a_notice_is_checked_against_the_stored_refund() {
        let stored = RefundFacts {
            out_refund_no: "RF1".into(),
            out_trade_no: "SK1".into(),
            amount: Fen::new(300),
            total: Fen::new(1000),
        };
        let routing = crate::routing::PayeeRouting::Direct {
            appid: "wx0123456789abcdef".into(),
            mchid: "1900000100".into(),
        };
        let mut notice = RefundNotice {
            mchid: "1900000100".into(),
            sp_mchid: None,
            sub_mchid: None,
            transaction_id: "42".into(),
            out_trade_no: "SK1".into(),
            refund_id: "50".into(),
            out_refund_no: "RF1".into(),
            refund_status: RefundStatus::Success,
            success_time: None,
            user_received_account: None,
            amount: RefundAmount {
                total: 1000,
                refund: 300,
                payer_total: 1000,
                payer_refund: 300,
            },
        };
        assert!(check_notice(&stored, &notice, &routing).is_empty());
        notice.amount.refund = 301;
        notice.mchid = "1".into();
        assert_eq!(check_notice(&stored, &notice, &routing).len(), 2);
    }

    #[test]
    fn refund_numbers_are_30_characters() {
        let no = new_out_refund_no(0, &[1u8; 14]);
        assert_eq!(no, "RF1970010108000011111111111111");
        assert!(no.len() <= 64);
    }

    proptest! {
        #[test]
        fn accepted_refunds_never_add_up_to_more_than_was_paid(
            paid in 1i64..1_000_000,
            asks in prop::collection::vec(1i64..1_000_000, 0..20),
        ) {
            let mut committed = Fen::ZERO;
            for ask in asks {
                let typed = Fen::new(ask).to_yuan_string();
                if let Ok(amount) = refund_amount(OrderState::Paid, Fen::new(paid), committed, Some(&typed)) {
                    committed = committed.checked_add(amount).unwrap();
                }
                prop_assert!(committed.get() <= paid);
            }
        }
    }
}
