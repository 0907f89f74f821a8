//! One order's shares: what each receiver asks (a fixed amount, or a ratio of the order's
//! amount after refunds made before sharing, rounded down), then served in order within the
//! cap — `floor(total × max_ratio / 10 000)` and WeChat's `unsplit_amount` from
//! `GET /v3/profitsharing/transactions/{id}/amounts`. A receiver the cap cannot serve in full
//! gets what is left; one that gets nothing is left out of the request (WeChat refuses 0).

use serde::Serialize;

use super::{Bps, ShareAmount};
use crate::money::Fen;

/// What each amount asks of an order whose shareable base is `base`.
pub fn wanted(amounts: &[ShareAmount], base: Fen) -> Vec<Fen> {
    amounts
        .iter()
        .map(|a| a.wanted(base.max(Fen::ZERO)))
        .collect()
}

/// The facts of one order at sharing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderAmounts {
    /// What the payer paid.
    pub total: Fen,
    /// Refunded (or being refunded) before sharing: ratios apply to `total − refunded`.
    pub refunded: Fen,
    /// WeChat's `unsplit_amount`: what is still frozen and shareable.
    pub unsplit: Fen,
    /// The merchant's maximum ratio.
    pub max_ratio: Bps,
}

impl OrderAmounts {
    /// The most all shares together may be.
    pub fn cap(&self) -> Fen {
        self.max_ratio
            .of(self.total)
            .min(self.unsplit)
            .max(Fen::ZERO)
    }
}

/// One receiver's line of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanLine {
    /// What the rule asked.
    pub wanted: Fen,
    /// What it gets (≤ wanted).
    pub amount: Fen,
}

/// The shares of one order, one line per rule amount (in the order given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Per amount.
    pub lines: Vec<PlanLine>,
    /// The cap that applied.
    pub cap: Fen,
}

impl Plan {
    /// The sum of what is shared.
    pub fn total(&self) -> Fen {
        Fen::new(self.lines.iter().map(|l| l.amount.get()).sum())
    }

    /// True when nothing is shared (the order is unfrozen instead).
    pub fn is_empty(&self) -> bool {
        self.total() == Fen::ZERO
    }
}

/// Computes every receiver's amount for one order.
pub fn plan(amounts: &[ShareAmount], order: OrderAmounts) -> Plan {
    let base = order
        .total
        .checked_sub(order.refunded)
        .unwrap_or(Fen::ZERO)
        .max(Fen::ZERO);
    let cap = order.cap();
    let mut left = cap;
    let lines = wanted(amounts, base)
        .into_iter()
        .map(|wanted| {
            let wanted = wanted.max(Fen::ZERO);
            let amount = wanted.min(left);
            left = Fen::new(left.get() - amount.get());
            PlanLine { wanted, amount }
        })
        .collect();
    Plan { lines, cap }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ratio(bps: i64) -> ShareAmount {
        ShareAmount::Ratio(Bps::new(bps).unwrap())
    }

    fn order(total: i64, unsplit: i64, max: i64) -> OrderAmounts {
        OrderAmounts {
            total: Fen::new(total),
            refunded: Fen::ZERO,
            unsplit: Fen::new(unsplit),
            max_ratio: Bps::new(max).unwrap(),
        }
    }

    #[test]
    fn a_one_percent_fee_of_a_hundred_yuan_is_one_yuan() {
        let plan = plan(&[ratio(100)], order(10_000, 9_940, 3000));
        assert_eq!(plan.lines[0].amount, Fen::new(100));
        assert_eq!(plan.cap, Fen::new(3000));
    }

    #[test]
    fn fractions_of_a_fen_are_dropped() {
        let plan = plan(&[ratio(100), ratio(1000)], order(199, 199, 3000));
        assert_eq!(plan.lines[0].amount, Fen::new(1));
        assert_eq!(plan.lines[1].amount, Fen::new(19));
        let tiny = super::plan(&[ratio(100)], order(99, 99, 3000));
        assert!(tiny.is_empty());
    }

    #[test]
    fn the_cap_serves_receivers_in_order() {
        let amounts = [ShareAmount::Fixed(Fen::new(20)), ratio(2000)];
        let plan = plan(&amounts, order(100, 100, 3000));
        assert_eq!(plan.lines[0].amount, Fen::new(20));
        assert_eq!(plan.lines[1].amount, Fen::new(10));
        assert_eq!(plan.lines[1].wanted, Fen::new(20));
        // WeChat's unsplit amount is lower still.
        let plan = super::plan(&amounts, order(100, 15, 3000));
        assert_eq!(plan.total(), Fen::new(15));
    }

    #[test]
    fn ratios_apply_to_what_was_not_refunded_before_sharing() {
        let mut o = order(10_000, 6_000, 3000);
        o.refunded = Fen::new(4_000);
        assert_eq!(plan(&[ratio(1000)], o).total(), Fen::new(600));
    }

    fn amount() -> impl Strategy<Value = ShareAmount> {
        prop_oneof![
            (0i64..=1_000_000).prop_map(|f| ShareAmount::Fixed(Fen::new(f))),
            (0i64..=10_000).prop_map(ratio),
        ]
    }

    proptest! {
        #[test]
        fn shares_never_exceed_the_cap_sum_exactly_and_never_go_negative(
            amounts in proptest::collection::vec(amount(), 0..8),
            total in 1i64..=5_000_000,
            refunded_part in 0i64..=100,
            unsplit_part in 0i64..=100,
            max in 0i64..=10_000,
        ) {
            let refunded = total * refunded_part / 100;
            let unsplit = (total - refunded) * unsplit_part / 100;
            let o = OrderAmounts {
                total: Fen::new(total),
                refunded: Fen::new(refunded),
                unsplit: Fen::new(unsplit),
                max_ratio: Bps::new(max).unwrap(),
            };
            let p = plan(&amounts, o);
            prop_assert_eq!(p.lines.len(), amounts.len());
            let sum: i64 = p.lines.iter().map(|l| l.amount.get()).sum();
            prop_assert_eq!(Fen::new(sum), p.total());
            prop_assert!(sum <= total * max / 10_000);
            prop_assert!(sum <= unsplit);
            for line in &p.lines {
                prop_assert!(line.amount >= Fen::ZERO);
                prop_assert!(line.amount <= line.wanted);
            }
            // Nobody is cut while the cap has room.
            let wanted: i64 = p.lines.iter().map(|l| l.wanted.get()).sum();
            if wanted <= p.cap.get() {
                prop_assert_eq!(sum, wanted);
            } else {
                prop_assert_eq!(sum, p.cap.get());
            }
        }
    }
}
