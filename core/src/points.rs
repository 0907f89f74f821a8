//! Membership points: a payee's programme credits points per yuan of verified payments and
//! takes them back in proportion when a payment is refunded. The ledger is append-only and a
//! balance is the sum of its entries; every entry is keyed on the event that caused it (the
//! payment, the refund), so a repeated event never counts twice.

use serde::{Deserialize, Serialize};

use crate::money::Fen;

/// Most points per yuan a programme may give.
pub const MAX_PER_YUAN: i64 = 100;

/// Most a point may be worth, in fen.
pub const MAX_FEN_PER_POINT: i64 = 100;

/// A payee's programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Programme {
    /// Points per whole yuan paid (1–100).
    pub per_yuan: i64,
    /// What a redeemed point takes off a merchant order, in fen (0: no redemption).
    pub fen_per_point: i64,
    /// Most points one order may redeem.
    pub max_per_order: i64,
}

impl Programme {
    /// Checks a programme without redemption; the message is shown to people.
    pub fn new(per_yuan: i64) -> Result<Programme, String> {
        Programme::with_redemption(per_yuan, 0, 0)
    }

    /// Checks a programme whose points can be redeemed at `fen_per_point`, at most
    /// `max_per_order` per order.
    pub fn with_redemption(
        per_yuan: i64,
        fen_per_point: i64,
        max_per_order: i64,
    ) -> Result<Programme, String> {
        if !(1..=MAX_PER_YUAN).contains(&per_yuan) {
            return Err(format!("每元积分要在 1–{MAX_PER_YUAN} 之间"));
        }
        if !(0..=MAX_FEN_PER_POINT).contains(&fen_per_point) || max_per_order < 0 {
            return Err(format!(
                "每积分抵扣 0–{MAX_FEN_PER_POINT} 分，每单上限不能为负"
            ));
        }
        Ok(Programme {
            per_yuan,
            fen_per_point,
            max_per_order,
        })
    }

    /// The discount of redeeming `points` on an order of `amount`: refused when redemption is
    /// off, over the cap, or when it would leave less than ¥0.01 to pay (WeChat Pay's minimum).
    pub fn discount(&self, points: i64, amount: Fen) -> Result<Fen, String> {
        if self.fen_per_point == 0 || self.max_per_order == 0 {
            return Err("这位收款方没有开启积分抵扣".into());
        }
        if points < 1 || points > self.max_per_order {
            return Err(format!("每单最多用 {} 积分", self.max_per_order));
        }
        let discount = points.saturating_mul(self.fen_per_point);
        if discount >= amount.get() {
            return Err("抵扣后至少要付 ¥0.01".into());
        }
        Ok(Fen::new(discount))
    }

    /// Points for a payment: whole yuan times the rate (fen below a yuan earn nothing).
    pub fn earned(&self, paid: Fen) -> i64 {
        (paid.get().max(0) / 100).saturating_mul(self.per_yuan)
    }
}

/// Points to take back for a refund, so that after it the order has lost
/// `floor(earned × refunded_total / paid)` points in all: computed on totals, the rounding of
/// several partial refunds never drifts, and a full refund takes back exactly what was earned.
/// `refunded_before` and `refund` are fen; the answer is ≥ 0.
pub fn reversal(earned: i64, paid: Fen, refunded_before: Fen, refund: Fen) -> i64 {
    let paid = paid.get();
    if paid <= 0 || earned <= 0 {
        return 0;
    }
    let before = refunded_before.get().clamp(0, paid);
    let after = before.saturating_add(refund.get().max(0)).min(paid);
    let taken = |refunded: i64| {
        // i128: points × fen cannot overflow.
        (i128::from(earned) * i128::from(refunded) / i128::from(paid)) as i64
    };
    taken(after) - taken(before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_per_whole_yuan() {
        let p = Programme::new(2).unwrap();
        assert_eq!(p.earned(Fen::new(6800)), 136);
        assert_eq!(p.earned(Fen::new(6899)), 136);
        assert_eq!(p.earned(Fen::new(99)), 0);
        assert!(Programme::new(0).is_err());
        assert!(Programme::new(101).is_err());
    }

    #[test]
    fn redemption_is_capped_and_leaves_something_to_pay() {
        let p = Programme::with_redemption(1, 1, 500).unwrap();
        assert_eq!(p.discount(300, Fen::new(6800)), Ok(Fen::new(300)));
        assert!(p.discount(501, Fen::new(6800)).is_err());
        assert!(p.discount(0, Fen::new(6800)).is_err());
        assert!(p.discount(100, Fen::new(100)).is_err());
        assert!(Programme::new(1)
            .unwrap()
            .discount(1, Fen::new(100))
            .is_err());
        assert!(Programme::with_redemption(1, 101, 1).is_err());
    }

    #[test]
    fn refunds_take_back_in_proportion_without_drift() {
        // 68 points for ¥68: half refunded takes 34, the rest takes the other 34.
        assert_eq!(reversal(68, Fen::new(6800), Fen::ZERO, Fen::new(3400)), 34);
        assert_eq!(
            reversal(68, Fen::new(6800), Fen::new(3400), Fen::new(3400)),
            34
        );
        // Three thirds of 10 points: 3 + 3 + 4, never more than earned.
        let paid = Fen::new(300);
        let parts = [
            reversal(10, paid, Fen::ZERO, Fen::new(100)),
            reversal(10, paid, Fen::new(100), Fen::new(100)),
            reversal(10, paid, Fen::new(200), Fen::new(100)),
        ];
        assert_eq!(parts, [3, 3, 4]);
        assert_eq!(parts.iter().sum::<i64>(), 10);
        // Nothing earned, nothing taken; over-refunds are capped at what was paid.
        assert_eq!(reversal(0, paid, Fen::ZERO, Fen::new(300)), 0);
        assert_eq!(reversal(10, paid, Fen::new(300), Fen::new(100)), 0);
    }
}
