//! The daily receipt limit: per payee and Asia/Shanghai calendar day, receipts above ¥50 000
//! need the payee's identity to be verified. At 80 % the payee is warned; an order that would
//! take the day above the limit is refused until the operator marks the payee verified.
//!
//! Orders *reserve* their amount when they are created (pending orders count), so concurrent
//! orders cannot slip past the limit between creation and payment: the worker inserts an order
//! only if `counted + amount ≤ limit` holds inside the same SQL statement (D1 serialises
//! writes), with the numbers and the rule from here. Closed orders release their reservation;
//! refunds do not (receipts were received — the conservative reading). An order counts toward
//! the Shanghai day it was created on, even when it is paid after midnight.

use serde::{Deserialize, Serialize};

use crate::money::Fen;
use crate::order::OrderState;
use crate::paytime::ShanghaiDay;

/// Receipts per payee per day above which identity verification is needed: ¥50 000.
pub const DAILY_LIMIT: Fen = Fen::new(5_000_000);

/// The warning threshold, in percent of the limit.
pub const WARN_PERCENT: i64 = 80;

/// Order states whose amount counts toward the day: reserved (pending) or received.
pub const COUNTED_STATES: [OrderState; 4] = [
    OrderState::Pending,
    OrderState::Paid,
    OrderState::Refunding,
    OrderState::Refunded,
];

/// `'pending', 'paid', …` for an SQL `IN (…)` list of [`COUNTED_STATES`].
pub fn counted_states_sql() -> String {
    COUNTED_STATES
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a new order is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The day's receipts (with this order) would exceed the limit.
    #[error(
        "收款方今日收款已接近 ¥50,000 上限（还可收 {remaining}），需完成身份验证后才能继续收款"
    )]
    Exceeded {
        /// What can still be received today.
        remaining: Fen,
    },
}

/// A payee's day as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStatus {
    /// `YYYY-MM-DD` (Asia/Shanghai).
    pub day: String,
    /// Confirmed receipts (paid orders), fen.
    pub confirmed_fen: i64,
    /// Pending orders' reservations, fen.
    pub reserved_fen: i64,
    /// The limit, fen.
    pub limit_fen: i64,
    /// Confirmed receipts reached [`WARN_PERCENT`] % of the limit.
    pub warn: bool,
    /// No further order fits (confirmed + reserved = limit), unless verified.
    pub blocked: bool,
    /// The payee is identity-verified: the limit does not apply.
    pub identity_verified: bool,
}

impl DayStatus {
    /// The status of `day` from its confirmed and reserved sums.
    pub fn new(day: ShanghaiDay, confirmed: Fen, reserved: Fen, identity_verified: bool) -> Self {
        let counted = confirmed.get().saturating_add(reserved.get());
        DayStatus {
            day: day.to_date_string(),
            confirmed_fen: confirmed.get(),
            reserved_fen: reserved.get(),
            limit_fen: DAILY_LIMIT.get(),
            warn: is_warning(confirmed),
            blocked: !identity_verified && counted >= DAILY_LIMIT.get(),
            identity_verified,
        }
    }
}

/// True when confirmed receipts reached [`WARN_PERCENT`] % of the limit.
pub fn is_warning(confirmed: Fen) -> bool {
    // Integer arithmetic: confirmed / limit ≥ 80 / 100.
    i128::from(confirmed.get()) * 100 >= i128::from(DAILY_LIMIT.get()) * i128::from(WARN_PERCENT)
}

/// Whether an order of `amount` fits next to `counted` (confirmed + reserved) today.
/// The same comparison runs inside the worker's reserving `INSERT … WHERE`.
pub fn admit(counted: Fen, amount: Fen, identity_verified: bool) -> Result<(), LimitError> {
    if identity_verified {
        return Ok(());
    }
    let after = i128::from(counted.get()) + i128::from(amount.get());
    if after <= i128::from(DAILY_LIMIT.get()) {
        Ok(())
    } else {
        let remaining = DAILY_LIMIT.get().saturating_sub(counted.get()).max(0);
        Err(LimitError::Exceeded {
            remaining: Fen::new(remaining),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_order_that_reaches_the_limit_exactly_fits_one_fen_more_does_not() {
        assert_eq!(
            admit(Fen::new(4_000_000), Fen::new(1_000_000), false),
            Ok(())
        );
        assert_eq!(
            admit(Fen::new(4_000_000), Fen::new(1_000_001), false),
            Err(LimitError::Exceeded {
                remaining: Fen::new(1_000_000)
            })
        );
        assert!(admit(DAILY_LIMIT, Fen::new(1), false).is_err());
    }

    #[test]
    fn verified_payees_are_not_limited() {
        assert_eq!(admit(DAILY_LIMIT, Fen::new(5_000_000), true), Ok(()));
    }

    #[test]
    fn the_warning_starts_at_eighty_percent_of_confirmed_receipts() {
        assert!(!is_warning(Fen::new(3_999_999)));
        assert!(is_warning(Fen::new(4_000_000)));
        let day = ShanghaiDay::from_number(20_000);
        let status = DayStatus::new(day, Fen::new(1_000_000), Fen::new(3_500_000), false);
        assert!(!status.warn, "reservations are not receipts");
        assert!(!status.blocked);
        let full = DayStatus::new(day, Fen::new(4_000_000), Fen::new(1_000_000), false);
        assert!(full.warn && full.blocked);
        assert!(!DayStatus::new(day, Fen::new(4_000_000), Fen::new(1_000_000), true).blocked);
    }

    #[test]
    fn the_refusal_says_what_to_do() {
        let err = admit(Fen::new(4_990_000), Fen::new(20_000), false).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("身份验证") && text.contains("¥100.00"),
            "{text}"
        );
    }

    #[test]
    fn counted_states_exclude_closed_orders() {
        assert_eq!(
            counted_states_sql(),
            "'pending', 'paid', 'refunding', 'refunded'"
        );
    }

    proptest! {
        #[test]
        fn admitted_orders_never_exceed_the_limit(amounts in prop::collection::vec(1i64..2_000_000, 0..60)) {
            let mut counted = Fen::ZERO;
            for amount in amounts {
                if admit(counted, Fen::new(amount), false).is_ok() {
                    counted = counted.checked_add(Fen::new(amount)).unwrap();
                }
                prop_assert!(counted <= DAILY_LIMIT);
            }
        }
    }
}
