//! Refunds of shared orders. The payee keeps `paid − refunded − shared + returned` of an
//! order; a refund beyond that needs shares returned first (分账回退, PROTOCOL-2 §2.4), which
//! WeChat allows from merchant receivers only. Personal receivers cannot be asked back, so a
//! refund that would need their money is refused with the most that can be refunded.

use super::ReceiverType;
use crate::money::Fen;

/// What one receiver holds of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// Merchant or person.
    pub kind: ReceiverType,
    /// mchid or openid.
    pub account: String,
    /// Shared to it successfully.
    pub shared: Fen,
    /// Already returned (or being returned).
    pub returned: Fen,
}

impl Holding {
    fn left(&self) -> Fen {
        Fen::new((self.shared.get() - self.returned.get()).max(0))
    }
}

/// An order's money as far as a refund is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderMoney {
    /// What the payer paid.
    pub paid: Fen,
    /// Refunds that are not closed.
    pub refunded: Fen,
    /// A share request is still being processed (its amounts are not final).
    pub sharing_in_flight: bool,
    /// Per receiver.
    pub holdings: Vec<Holding>,
}

impl OrderMoney {
    /// What the payee still holds of this order.
    pub fn kept(&self) -> Fen {
        let shared: i64 = self.holdings.iter().map(|h| h.left().get()).sum();
        Fen::new((self.paid.get() - self.refunded.get() - shared).max(0))
    }

    /// What merchant receivers could return.
    pub fn returnable(&self) -> Fen {
        Fen::new(
            self.holdings
                .iter()
                .filter(|h| h.kind == ReceiverType::MerchantId)
                .map(|h| h.left().get())
                .sum(),
        )
    }
}

/// Why a refund cannot go ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnError {
    /// A share is being processed: amounts are not known yet.
    #[error("该订单正在分账，请几分钟后再退款")]
    SharingInProgress,
    /// The refund needs money that went to personal receivers (WeChat cannot return it).
    #[error("已分给个人的 {personal} 无法通过微信回退，本单最多可退 {max_refund}；其余请与分账接收人线下结算")]
    PersonalShares {
        /// Shared to persons, not returnable.
        personal: Fen,
        /// The largest refund possible now.
        max_refund: Fen,
    },
    /// More than what is left of the order.
    #[error("退款金额超过可退金额（最多还可退 {refundable}）")]
    OverRefund {
        /// What is left to refund.
        refundable: Fen,
    },
}

/// The returns needed before refunding `refund`: `(index into holdings, amount)`, merchants
/// in order, each within what it still holds. Empty when the payee holds enough.
pub fn returns_before_refund(
    money: &OrderMoney,
    refund: Fen,
) -> Result<Vec<(usize, Fen)>, ReturnError> {
    let refundable = Fen::new((money.paid.get() - money.refunded.get()).max(0));
    if refund > refundable {
        return Err(ReturnError::OverRefund { refundable });
    }
    let kept = money.kept();
    if refund <= kept {
        return Ok(Vec::new());
    }
    if money.sharing_in_flight {
        return Err(ReturnError::SharingInProgress);
    }
    let mut need = refund.get() - kept.get();
    if need > money.returnable().get() {
        let personal = money
            .holdings
            .iter()
            .filter(|h| h.kind == ReceiverType::PersonalOpenid)
            .map(|h| h.left().get())
            .sum();
        return Err(ReturnError::PersonalShares {
            personal: Fen::new(personal),
            max_refund: Fen::new(kept.get() + money.returnable().get()),
        });
    }
    let mut returns = Vec::new();
    for (i, h) in money.holdings.iter().enumerate() {
        if need == 0 {
            break;
        }
        if h.kind != ReceiverType::MerchantId {
            continue;
        }
        let take = h.left().get().min(need);
        if take > 0 {
            returns.push((i, Fen::new(take)));
            need -= take;
        }
    }
    Ok(returns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn holding(kind: ReceiverType, shared: i64, returned: i64) -> Holding {
        Holding {
            kind,
            account: "x".into(),
            shared: Fen::new(shared),
            returned: Fen::new(returned),
        }
    }

    fn money(paid: i64, refunded: i64, holdings: Vec<Holding>) -> OrderMoney {
        OrderMoney {
            paid: Fen::new(paid),
            refunded: Fen::new(refunded),
            sharing_in_flight: false,
            holdings,
        }
    }

    #[test]
    fn a_full_refund_returns_a_merchant_share_first() {
        let m = money(10_000, 0, vec![holding(ReceiverType::MerchantId, 1_000, 0)]);
        assert_eq!(
            returns_before_refund(&m, Fen::new(10_000)).unwrap(),
            vec![(0, Fen::new(1_000))]
        );
        // A refund of what the payee kept needs nothing back.
        assert!(returns_before_refund(&m, Fen::new(9_000))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_personal_share_limits_the_refund() {
        let m = money(
            10_000,
            0,
            vec![
                holding(ReceiverType::PersonalOpenid, 1_000, 0),
                holding(ReceiverType::MerchantId, 500, 0),
            ],
        );
        assert_eq!(
            returns_before_refund(&m, Fen::new(10_000)),
            Err(ReturnError::PersonalShares {
                personal: Fen::new(1_000),
                max_refund: Fen::new(9_000)
            })
        );
        assert_eq!(
            returns_before_refund(&m, Fen::new(9_000)).unwrap(),
            vec![(1, Fen::new(500))]
        );
    }

    #[test]
    fn a_share_in_flight_blocks_refunds_beyond_what_is_kept() {
        let mut m = money(10_000, 0, vec![]);
        m.sharing_in_flight = true;
        assert!(returns_before_refund(&m, Fen::new(10_000)).is_ok());
        m.holdings.push(holding(ReceiverType::MerchantId, 100, 0));
        assert_eq!(
            returns_before_refund(&m, Fen::new(10_000)),
            Err(ReturnError::SharingInProgress)
        );
    }

    fn holdings() -> impl Strategy<Value = Vec<Holding>> {
        proptest::collection::vec(
            (any::<bool>(), 0i64..=3_000, 0i64..=100).prop_map(|(merchant, shared, part)| {
                let kind = if merchant {
                    ReceiverType::MerchantId
                } else {
                    ReceiverType::PersonalOpenid
                };
                holding(kind, shared, shared * part / 100)
            }),
            0..5,
        )
    }

    proptest! {
        #[test]
        fn returns_stay_within_shares_and_refunds_within_what_was_paid(
            paid in 1i64..=100_000,
            holdings in holdings(),
            refunded_part in 0i64..=100,
            refund_part in 0i64..=120,
        ) {
            let shared: i64 = holdings.iter().map(|h| h.shared.get() - h.returned.get()).sum();
            prop_assume!(shared <= paid);
            let refunded = (paid - shared) * refunded_part / 100;
            let m = money(paid, refunded, holdings);
            let refund = Fen::new((paid - refunded) * refund_part / 100);
            match returns_before_refund(&m, refund) {
                Ok(returns) => {
                    let mut after = m.clone();
                    for (i, amount) in &returns {
                        prop_assert!(*amount > Fen::ZERO);
                        prop_assert_eq!(after.holdings[*i].kind, ReceiverType::MerchantId);
                        prop_assert!(*amount <= after.holdings[*i].left());
                        after.holdings[*i].returned =
                            Fen::new(after.holdings[*i].returned.get() + amount.get());
                    }
                    // The payee can pay the refund from what it keeps after the returns …
                    prop_assert!(refund <= after.kept());
                    // … and refunded + still shared never exceed what was paid.
                    let still_shared: i64 = after.holdings.iter().map(|h| h.left().get()).sum();
                    prop_assert!(refunded + refund.get() + still_shared <= paid);
                    for h in &after.holdings {
                        prop_assert!(h.returned <= h.shared);
                    }
                }
                Err(ReturnError::PersonalShares { max_refund, .. }) => {
                    prop_assert!(refund > max_refund);
                    prop_assert!(max_refund == Fen::new(m.kept().get() + m.returnable().get()));
                }
                Err(ReturnError::OverRefund { .. }) => prop_assert!(refund.get() > paid - refunded),
                Err(ReturnError::SharingInProgress) => prop_assert!(false, "not in flight"),
            }
        }
    }
}
