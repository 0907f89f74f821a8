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
    /// Points expire this many days after they were earned (oldest first); `None`: never.
    #[serde(default)]
    pub expire_days: Option<i64>,
}

/// Longest life of points a programme may set, in days.
pub const MAX_EXPIRE_DAYS: i64 = 3650;

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
            expire_days: None,
        })
    }

    /// The same programme with points expiring `days` after they are earned (`None`: never).
    pub fn expiring(self, days: Option<i64>) -> Result<Programme, String> {
        if days.is_some_and(|d| !(1..=MAX_EXPIRE_DAYS).contains(&d)) {
            return Err(format!("积分有效期要在 1–{MAX_EXPIRE_DAYS} 天之间"));
        }
        Ok(Programme {
            expire_days: days,
            ..self
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

impl Programme {
    /// The most points a payer holding `balance` can redeem on an order of `amount` (`None`:
    /// the payer types the amount, only the cap and the balance bound it): 0 without redemption.
    pub fn usable(&self, balance: i64, amount: Option<Fen>) -> i64 {
        if self.fen_per_point == 0 {
            return 0;
        }
        let by_amount = amount.map_or(i64::MAX, |a| (a.get() - 1).max(0) / self.fen_per_point);
        balance.min(self.max_per_order).min(by_amount).max(0)
    }
}

/// A signed-in payer's points with one payee, as the checkout shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayerPoints {
    /// The payee's display name.
    pub payee_name: String,
    /// The balance.
    pub balance: i64,
    /// What this order can take ([`Programme::usable`]) and what one point is worth.
    pub usable: i64,
    /// Fen per point.
    pub fen_per_point: i64,
    /// The fixed amount of the order, when it is fixed.
    pub amount: Option<Fen>,
    /// The latest entries, newest first: when, what, how many.
    pub history: Vec<(i64, EntryKind, i64)>,
}

/// The points box above a merchant collection's pay button: balance, a box to tick to redeem
/// (`#sk-points`, its value the points; the pay script adds `?points=` to the order), and the
/// history in a `<details>`. Every dynamic value is escaped.
pub fn checkout_box(p: &PayerPoints) -> String {
    let redeem = if p.usable > 0 {
        let discount = Fen::new(p.usable.saturating_mul(p.fen_per_point));
        let pay = p
            .amount
            .and_then(|a| a.checked_sub(discount))
            .map_or(String::new(), |rest| format!("，实付 {rest}"));
        format!(
            r#"<label class="points-use"><input type="checkbox" id="sk-points" value="{n}"> 用 {n} 积分抵扣 {discount}{pay}</label>"#,
            n = p.usable,
        )
    } else {
        String::new()
    };
    let items: String = p
        .history
        .iter()
        .map(|(at, kind, delta)| {
            format!(
                "<li>{} {} {delta:+}</li>",
                crate::deadline::Deadline::from_unix(*at).to_cst_string(),
                kind.label()
            )
        })
        .collect();
    let history = if items.is_empty() {
        String::new()
    } else {
        format!(
            r#"<details class="points-history"><summary>积分明细</summary><ul>{items}</ul></details>"#
        )
    };
    format!(
        r#"<section class="points-box" id="sk-points-box"><h2>会员积分</h2><p>你在「{payee}」有 <b id="sk-points-balance">{balance}</b> 积分</p>{redeem}{history}</section>"#,
        payee = crate::page::escape(&p.payee_name),
        balance = p.balance,
    )
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

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Earned by a verified payment.
    Earn,
    /// Taken back because the payment was refunded.
    Reverse,
    /// Spent on an order (reserved with it).
    Redeem,
    /// Given back: the order they were reserved for closed unpaid.
    Release,
    /// Written off: they were not used within the programme's days.
    Expire,
}

impl EntryKind {
    /// The stored `kind`.
    pub fn parse(s: &str) -> Option<EntryKind> {
        Some(match s {
            "earn" => EntryKind::Earn,
            "reverse" => EntryKind::Reverse,
            "redeem" => EntryKind::Redeem,
            "release" => EntryKind::Release,
            "expire" => EntryKind::Expire,
            _ => return None,
        })
    }

    /// What people read (payer page, CSV).
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Earn => "支付获得",
            EntryKind::Reverse => "退款扣回",
            EntryKind::Redeem => "下单抵扣",
            EntryKind::Release => "订单未支付退回",
            EntryKind::Expire => "过期",
        }
    }
}

/// One entry of a member's ledger, as [`due_to_expire`] reads it (in ledger order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What it records.
    pub kind: EntryKind,
    /// Points (+ earned or given back, − taken).
    pub delta: i64,
    /// The order it belongs to.
    pub order_id: String,
    /// When it was booked, Unix seconds.
    pub at: i64,
}

/// Points of one member that have expired by `now` and are not written off yet, when points
/// live `days` days. Points are spent oldest first (FIFO): every earning is a lot that expires
/// `days` after it was booked; a redemption or a write-off takes from the oldest lots, a
/// refund's take-back from its own order's lot first (those are the points it earned), and a
/// redemption given back with its unpaid order is as if it never happened. The answer is what
/// is left of the lots past their time — booking it as one `expire` entry makes it 0.
pub fn due_to_expire(entries: &[Entry], days: i64, now: i64) -> i64 {
    let released: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Release)
        .map(|e| e.order_id.as_str())
        .collect();
    // (order, booked at, points left), oldest first.
    let mut lots: Vec<(&str, i64, i64)> = Vec::new();
    for e in entries {
        let mut take = -e.delta;
        match e.kind {
            EntryKind::Earn => {
                lots.push((&e.order_id, e.at, e.delta.max(0)));
                continue;
            }
            EntryKind::Release => continue,
            EntryKind::Redeem if released.contains(&e.order_id.as_str()) => continue,
            EntryKind::Reverse => {
                if let Some(lot) = lots.iter_mut().find(|l| l.0 == e.order_id) {
                    let t = take.min(lot.2).max(0);
                    lot.2 -= t;
                    take -= t;
                }
            }
            EntryKind::Redeem | EntryKind::Expire => {}
        }
        for lot in lots.iter_mut() {
            if take <= 0 {
                break;
            }
            let t = take.min(lot.2);
            lot.2 -= t;
            take -= t;
        }
    }
    let life = days.saturating_mul(86_400);
    lots.iter()
        .filter(|l| l.1.saturating_add(life) <= now)
        .map(|l| l.2)
        .sum()
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

    fn e(kind: EntryKind, delta: i64, order: &str, day: i64) -> Entry {
        Entry {
            kind,
            delta,
            order_id: order.into(),
            at: day * 86_400,
        }
    }

    #[test]
    fn expiry_takes_what_is_left_of_old_lots_oldest_first() {
        use EntryKind::*;
        let mut ledger = vec![
            e(Earn, 100, "a", 0),
            e(Earn, 50, "b", 10),
            // 30 spent: from a (the oldest).
            e(Redeem, -30, "c", 11),
        ];
        // Before day 30 nothing; at day 30 what is left of a (70); b at day 40.
        assert_eq!(due_to_expire(&ledger, 30, 30 * 86_400 - 1), 0);
        assert_eq!(due_to_expire(&ledger, 30, 30 * 86_400), 70);
        assert_eq!(due_to_expire(&ledger, 30, 40 * 86_400), 120);
        // Booked once, nothing more is due until b's day.
        ledger.push(e(Expire, -70, "", 30));
        assert_eq!(due_to_expire(&ledger, 30, 35 * 86_400), 0);
        assert_eq!(due_to_expire(&ledger, 30, 40 * 86_400), 50);
        assert!(Programme::new(1).unwrap().expiring(Some(0)).is_err());
        assert_eq!(
            Programme::new(1)
                .unwrap()
                .expiring(Some(30))
                .unwrap()
                .expire_days,
            Some(30)
        );
    }

    #[test]
    fn the_checkout_box_offers_what_the_order_can_take() {
        let p = Programme::with_redemption(1, 1, 500).unwrap();
        assert_eq!(p.usable(800, Some(Fen::new(6800))), 500);
        assert_eq!(p.usable(120, Some(Fen::new(6800))), 120);
        assert_eq!(p.usable(800, Some(Fen::new(300))), 299);
        assert_eq!(p.usable(800, None), 500);
        assert_eq!(Programme::new(1).unwrap().usable(800, None), 0);
        let html = checkout_box(&PayerPoints {
            payee_name: "<李四>".into(),
            balance: 136,
            usable: 120,
            fen_per_point: 1,
            amount: Some(Fen::new(6800)),
            history: vec![(86_400, EntryKind::Earn, 136)],
        });
        assert!(
            html.contains(r#"<b id="sk-points-balance">136</b>"#),
            "{html}"
        );
        assert!(html.contains(r#"id="sk-points" value="120""#), "{html}");
        assert!(html.contains("抵扣 ¥1.20，实付 ¥66.80"), "{html}");
        assert!(
            html.contains("支付获得 +136") && html.contains("&lt;李四&gt;"),
            "{html}"
        );
        let none = checkout_box(&PayerPoints {
            payee_name: "李四".into(),
            balance: 0,
            usable: 0,
            fen_per_point: 0,
            amount: None,
            history: vec![],
        });
        assert!(
            !none.contains("sk-points\"") && !none.contains("<details"),
            "{none}"
        );
    }

    #[test]
    fn refunds_take_from_their_own_lot_and_released_redemptions_do_not_count() {
        use EntryKind::*;
        let ledger = vec![
            e(Earn, 100, "a", 0),
            e(Earn, 60, "b", 5),
            // b refunded in full: its own 60 go, a keeps 100.
            e(Reverse, -60, "b", 6),
            // A redemption whose order closed unpaid: given back, a keeps 100.
            e(Redeem, -40, "c", 7),
            e(Release, 40, "c", 8),
        ];
        assert_eq!(due_to_expire(&ledger, 30, 30 * 86_400), 100);
        // The balance never goes below 0: due is at most what is left.
        let spent = vec![e(Earn, 10, "a", 0), e(Redeem, -10, "x", 1)];
        assert_eq!(due_to_expire(&spent, 1, 100 * 86_400), 0);
    }
}
