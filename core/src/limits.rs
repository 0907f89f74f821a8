//! The daily receipt limit: per payee and Asia/Shanghai calendar day, receipts above ¥50 000
//! need the payee's identity to be verified. At 80 % the payee is warned; an order that would
//! take the day above the limit is refused until the operator marks the payee verified.
//!
//! Paid orders count in full. Pending orders *reserve* part of the day so concurrent orders
//! cannot slip past the limit between creation and payment, but only what a real payer can
//! hold: a payer's own pending orders count in full against that payer's next order, while
//! everybody else's count at most [`PAYER_HOLD`] per payer and [`HOLD_POOL`] together. So one
//! ¥50 000 order left unpaid (anyone can make one outside WeChat) never blocks another payer's
//! order; the price is that several payers paying large orders at the same moment may take the
//! day past the limit by what they hold beyond [`PAYER_HOLD`] — bounded by the per-client and
//! per-collection order limits, and followed by refusals as soon as the payments count in full.
//! A payer is the openid inside WeChat, the client address outside (the worker keeps keyed
//! hashes of both). Expired orders (past `time_expire`, when WeChat Pay no longer takes the
//! payment) and closed ones reserve nothing; refunds do not release (receipts were received —
//! the conservative reading). An order counts toward the Shanghai day it was created on, even
//! when it is paid after midnight.
//!
//! The worker inserts an order only if [`counted_for_payer`] plus the order stays within the
//! limit, inside the same SQL statement ([`counted_for_payer_sql`], the same rule; D1
//! serialises writes).

use serde::{Deserialize, Serialize};

use crate::money::Fen;
use crate::order::OrderState;
use crate::paytime::ShanghaiDay;

/// Receipts per payee per day above which identity verification is needed: ¥50 000.
pub const DAILY_LIMIT: Fen = Fen::new(5_000_000);

/// The warning threshold, in percent of the limit.
pub const WARN_PERCENT: i64 = 80;

/// What another payer's pending orders hold of the day at most: ¥1 000.
pub const PAYER_HOLD: Fen = Fen::new(100_000);

/// What all other payers' pending orders hold of the day together at most: ¥10 000. With no
/// receipts yet, a payer can always start an order of up to ¥40 000.
pub const HOLD_POOL: Fen = Fen::new(1_000_000);

/// What counts toward the day for a new order of one payer: `confirmed` receipts in full, the
/// payer's `own_pending` orders in full, and each other payer's pending sum up to
/// [`PAYER_HOLD`], all of those together up to [`HOLD_POOL`].
pub fn counted_for_payer(
    confirmed: Fen,
    own_pending: Fen,
    others_pending: impl IntoIterator<Item = Fen>,
) -> Fen {
    Fen::new(
        confirmed
            .get()
            .saturating_add(own_pending.get())
            .saturating_add(held_by_others(others_pending).get()),
    )
}

/// What other payers' pending sums hold together (see [`counted_for_payer`]).
pub fn held_by_others(others_pending: impl IntoIterator<Item = Fen>) -> Fen {
    let held = others_pending
        .into_iter()
        .map(|p| p.get().clamp(0, PAYER_HOLD.get()))
        .fold(0i64, i64::saturating_add);
    Fen::new(held.min(HOLD_POOL.get()))
}

/// [`counted_for_payer`] as one SQL expression over `orders`, for the reserving `INSERT … WHERE`
/// and the refusal message. Parameters: `{payee}` the payee's openid, `{day}` the limit day,
/// `{payer}` the payer key, `{now}` Unix seconds (expired pending orders hold nothing).
pub fn counted_for_payer_sql(payee: &str, day: &str, payer: &str, now: &str) -> String {
    let pending = format!(
        "payee_openid = {payee} AND limit_day = {day} AND state = 'pending' AND expires_at > {now}"
    );
    format!(
        "((SELECT COALESCE(SUM(amount_fen), 0) FROM orders WHERE payee_openid = {payee} AND limit_day = {day} \
           AND state IN ({received})) \
         + (SELECT COALESCE(SUM(amount_fen), 0) FROM orders WHERE {pending} AND payer_key IS {payer}) \
         + MIN({pool}, (SELECT COALESCE(SUM(held), 0) FROM (SELECT MIN(SUM(amount_fen), {hold}) AS held \
             FROM orders WHERE {pending} AND payer_key IS NOT {payer} GROUP BY COALESCE(payer_key, id)))))",
        received = RECEIVED_STATES
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        pool = HOLD_POOL.get(),
        hold = PAYER_HOLD.get(),
    )
}

/// Order states whose amount was received (counted in full).
pub const RECEIVED_STATES: [OrderState; 3] = [
    OrderState::Paid,
    OrderState::Refunding,
    OrderState::Refunded,
];

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
    /// Pending (unexpired) orders, fen: what may still arrive today.
    pub reserved_fen: i64,
    /// What those pending orders hold of the day for a new payer ([`held_by_others`]), fen.
    #[serde(default)]
    pub held_fen: i64,
    /// The limit, fen.
    pub limit_fen: i64,
    /// Confirmed receipts reached [`WARN_PERCENT`] % of the limit.
    pub warn: bool,
    /// No new payer's order fits (confirmed + held = limit), unless verified.
    pub blocked: bool,
    /// The payee is identity-verified: the limit does not apply.
    pub identity_verified: bool,
}

impl DayStatus {
    /// The status of `day` from its confirmed sum, its pending sum and what the pending orders
    /// hold ([`held_by_others`]).
    pub fn new(
        day: ShanghaiDay,
        confirmed: Fen,
        reserved: Fen,
        held: Fen,
        identity_verified: bool,
    ) -> Self {
        let counted = confirmed.get().saturating_add(held.get());
        DayStatus {
            day: day.to_date_string(),
            confirmed_fen: confirmed.get(),
            reserved_fen: reserved.get(),
            held_fen: held.get(),
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
        let status = DayStatus::new(
            day,
            Fen::new(1_000_000),
            Fen::new(3_500_000),
            HOLD_POOL,
            false,
        );
        assert!(!status.warn, "reservations are not receipts");
        assert!(!status.blocked);
        let full = DayStatus::new(day, Fen::new(4_000_000), HOLD_POOL, HOLD_POOL, false);
        assert!(full.warn && full.blocked);
        assert!(!DayStatus::new(day, Fen::new(4_000_000), HOLD_POOL, HOLD_POOL, true).blocked);
        let big_pending = DayStatus::new(day, Fen::ZERO, DAILY_LIMIT, PAYER_HOLD, false);
        assert!(
            !big_pending.blocked,
            "an unpaid ¥50 000 order blocks nobody"
        );
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
    fn the_sql_counts_receipts_in_full_and_holds_pending_orders_per_payer() {
        let sql = counted_for_payer_sql("?4", "?8", "?17", "?10");
        assert!(
            sql.contains("state IN ('paid', 'refunding', 'refunded')"),
            "{sql}"
        );
        assert!(sql.contains("payer_key IS ?17") && sql.contains("payer_key IS NOT ?17"));
        assert!(sql.contains("MIN(SUM(amount_fen), 100000)") && sql.contains("MIN(1000000,"));
        assert!(
            sql.contains("expires_at > ?10"),
            "expired orders hold nothing"
        );
    }

    #[test]
    fn an_unpaid_order_of_the_whole_day_does_not_stop_another_payer() {
        // Payer A started a ¥50 000 order and left it: A cannot start another, B can.
        let a = counted_for_payer(Fen::ZERO, DAILY_LIMIT, []);
        assert!(admit(a, Fen::new(1), false).is_err());
        let b = counted_for_payer(Fen::ZERO, Fen::ZERO, [DAILY_LIMIT]);
        assert_eq!(b, PAYER_HOLD);
        assert!(admit(b, Fen::new(4_900_000), false).is_ok());
        // Many payers holding orders: at most the pool is held.
        let many = counted_for_payer(Fen::ZERO, Fen::ZERO, vec![DAILY_LIMIT; 500]);
        assert_eq!(many, HOLD_POOL);
        // Receipts count in full.
        let paid = counted_for_payer(Fen::new(4_950_000), Fen::ZERO, [Fen::new(10_000)]);
        assert!(admit(paid, Fen::new(40_001), false).is_err());
        assert!(admit(paid, Fen::new(40_000), false).is_ok());
    }

    proptest! {
        #[test]
        fn a_payer_is_never_held_back_by_more_than_the_pool(
            others in prop::collection::vec(0i64..6_000_000, 0..80),
            confirmed in 0i64..5_000_000,
        ) {
            let counted = counted_for_payer(
                Fen::new(confirmed),
                Fen::ZERO,
                others.iter().copied().map(Fen::new),
            );
            prop_assert!(counted.get() <= confirmed + HOLD_POOL.get());
            prop_assert!(counted.get() >= confirmed);
        }

        #[test]
        fn one_payer_alone_never_exceeds_the_limit(amounts in prop::collection::vec(1i64..2_000_000, 0..60)) {
            let mut own = Fen::ZERO;
            for amount in amounts {
                if admit(counted_for_payer(Fen::ZERO, own, []), Fen::new(amount), false).is_ok() {
                    own = own.checked_add(Fen::new(amount)).unwrap();
                }
                prop_assert!(own <= DAILY_LIMIT);
            }
        }

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
