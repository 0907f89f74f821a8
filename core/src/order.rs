//! Merchant orders: the state machine, the one transition function that callbacks and active
//! queries both go through, the cross-checks of what WeChat Pay says against the stored order,
//! order numbers and expiry, and the JSON contract of `/api/orders`.
//!
//! ```text
//!             Paid (callback or query)             RefundStarted
//!  pending ─────────────────────────────► paid ───────────────────► refunding
//!     │  ▲                                  ▲  ◄─── RefundsSettled ───┘   │
//!     │  └── (never back)                   │                            ▼
//!     └────────► closed ──── Paid ──────────┘  (WeChat's truth wins)   refunded
//!        Closed
//! ```
//!
//! The worker stores the state and applies a [`Decision`] with a compare-and-swap update on
//! the state it read (`UPDATE … WHERE id = ? AND state = ?`): whoever loses a race re-reads
//! and decides again, so an order leaves `pending` exactly once however many copies of a
//! callback arrive at the same moment.

use serde::{Deserialize, Serialize};

use crate::collection::AmountRule;
use crate::money::{AmountError, Fen};
use crate::oauth::is_wechat_browser;
use crate::paytime;
use crate::routing::PayeeRouting;
use crate::wechatpay::{FieldError, JsapiPayParams, OutTradeNo, TradeState, Transaction};

/// Where a merchant order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Created at WeChat Pay; not paid (yet).
    Pending,
    /// Paid: confirmed by a verified callback or an active query. Partly refunded orders whose
    /// refunds are settled are `Paid` too (with `refunded_fen > 0`).
    Paid,
    /// Closed unpaid (expired, or prepay failed).
    Closed,
    /// A refund is in progress.
    Refunding,
    /// Fully refunded.
    Refunded,
}

impl OrderState {
    /// Every state.
    pub const ALL: [OrderState; 5] = [
        OrderState::Pending,
        OrderState::Paid,
        OrderState::Closed,
        OrderState::Refunding,
        OrderState::Refunded,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Pending => "pending",
            OrderState::Paid => "paid",
            OrderState::Closed => "closed",
            OrderState::Refunding => "refunding",
            OrderState::Refunded => "refunded",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<OrderState> {
        OrderState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
    }

    /// True once money has arrived (refunds do not undo that the payer paid).
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            OrderState::Paid | OrderState::Refunding | OrderState::Refunded
        )
    }

    /// What a person reads, in Chinese.
    pub fn label(self) -> &'static str {
        match self {
            OrderState::Pending => "等待支付",
            OrderState::Paid => "已支付",
            OrderState::Closed => "已关闭",
            OrderState::Refunding => "退款中",
            OrderState::Refunded => "已退款",
        }
    }
}

/// Something that happened to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// WeChat Pay says the order is paid (callback or query).
    Paid,
    /// The order is closed unpaid (WeChat closed it, or our close call succeeded).
    Closed,
    /// The payee asked for a refund and it was accepted locally.
    RefundStarted,
    /// Every refund of the order is settled; `fully` when they add up to the whole amount.
    RefundsSettled {
        /// Refunded in full.
        fully: bool,
    },
}

/// The outcome of an [`Event`] in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The state changes to this one.
    To(OrderState),
    /// Already there: a duplicate of something applied before. Not an error.
    Unchanged,
    /// This event cannot happen in this state (it is recorded, never applied).
    Refused,
}

/// The order state machine: what `event` does in state `from`. Every change of an order's
/// state — from a callback, an active query, the cron, or a refund — goes through here.
pub fn transition(from: OrderState, event: Event) -> Transition {
    use OrderState::*;
    match (from, event) {
        (Pending, Event::Paid) => Transition::To(Paid),
        // WeChat's truth wins: an order we closed locally but WeChat saw paid is paid.
        (Closed, Event::Paid) => Transition::To(Paid),
        (Paid | Refunding | Refunded, Event::Paid) => Transition::Unchanged,

        (Pending, Event::Closed) => Transition::To(Closed),
        (Closed, Event::Closed) => Transition::Unchanged,
        (Paid | Refunding | Refunded, Event::Closed) => Transition::Refused,

        (Paid, Event::RefundStarted) => Transition::To(Refunding),
        (Refunding, Event::RefundStarted) => Transition::Unchanged,
        (Pending | Closed | Refunded, Event::RefundStarted) => Transition::Refused,

        (Refunding | Paid, Event::RefundsSettled { fully: true }) => Transition::To(Refunded),
        (Refunding, Event::RefundsSettled { fully: false }) => Transition::To(Paid),
        (Paid, Event::RefundsSettled { fully: false }) => Transition::Unchanged,
        (Refunded, Event::RefundsSettled { fully: true }) => Transition::Unchanged,
        (Refunded, Event::RefundsSettled { fully: false }) => Transition::Refused,
        (Pending | Closed, Event::RefundsSettled { .. }) => Transition::Refused,
    }
}

/// How an order is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayMethod {
    /// Inside WeChat: `getBrandWCPayRequest` with the payer's openid.
    Jsapi,
    /// Outside WeChat: a `code_url` QR scanned with WeChat's Scan.
    Native,
    /// A phone browser outside WeChat: WeChat Pay's `h5_url` (trade_type `MWEB`).
    H5,
}

impl PayMethod {
    /// WeChat Pay's `trade_type` name, as stored.
    pub fn trade_type(self) -> &'static str {
        match self {
            PayMethod::Jsapi => "JSAPI",
            PayMethod::Native => "NATIVE",
            PayMethod::H5 => "MWEB",
        }
    }

    /// Parses the stored `trade_type`.
    pub fn parse(s: &str) -> Option<PayMethod> {
        match s {
            "JSAPI" => Some(PayMethod::Jsapi),
            "NATIVE" => Some(PayMethod::Native),
            "MWEB" => Some(PayMethod::H5),
            _ => None,
        }
    }

    /// The method for a browser: JSAPI inside WeChat, H5 in a phone browser, Native (a QR to
    /// scan) on a desktop. H5 is refused inside WeChat ("请在微信外打开订单") and needs the
    /// WeChat app on the same device, so it is only offered to phones.
    pub fn for_user_agent(user_agent: &str) -> PayMethod {
        if is_wechat_browser(user_agent) {
            PayMethod::Jsapi
        } else if is_phone_browser(user_agent) {
            PayMethod::H5
        } else {
            PayMethod::Native
        }
    }
}

/// A phone or tablet browser (by the user agent's mobile markers).
pub fn is_phone_browser(user_agent: &str) -> bool {
    ["Android", "iPhone", "iPad", "iPod", "Mobile", "HarmonyOS"]
        .iter()
        .any(|marker| user_agent.contains(marker))
}

/// The `h5_url` a payer is sent to, with the way back to the order page: WeChat's middle page
/// returns to `redirect_url` (URL-encoded, on the H5 domain) after paying or cancelling.
pub fn h5_url_with_redirect(h5_url: &str, order_url: &str) -> String {
    format!(
        "{h5_url}&redirect_url={}",
        crate::urlenc::encode_component(order_url)
    )
}

/// Default time an order can be paid: 30 minutes.
pub const DEFAULT_TTL_SECS: i64 = 30 * 60;
/// WeChat Pay raises `time_expire` to at least a minute after the order.
pub const MIN_TTL_SECS: i64 = 60;
/// The longest we let an order stay payable: 2 hours (a `code_url` lives that long).
pub const MAX_TTL_SECS: i64 = 2 * 3600;

/// When an order made at `now` stops being payable (Unix seconds) and the same moment as
/// WeChat Pay's `time_expire` text (`…+08:00`). `ttl_secs` is clamped to
/// [`MIN_TTL_SECS`]..=[`MAX_TTL_SECS`].
pub fn time_expire(now: i64, ttl_secs: i64) -> (i64, String) {
    let at = now + ttl_secs.clamp(MIN_TTL_SECS, MAX_TTL_SECS);
    (at, paytime::rfc3339_cst(at))
}

/// Crockford's base 32 (no I, L, O, U): 32 divides 256, so a byte maps without bias.
const NO_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Random characters in an order number (5 bits each: 70 bits).
pub const OUT_TRADE_NO_RANDOM_CHARS: usize = 14;

/// An order number: `SK`, the creation time in China (`yyyyMMddHHmmss`) and
/// [`OUT_TRADE_NO_RANDOM_CHARS`] random base-32 characters — 30 characters of
/// `[0-9A-Z]`, sortable by time, readable on the phone, unique without a counter.
/// `random` must hold at least [`OUT_TRADE_NO_RANDOM_CHARS`] random bytes.
pub fn new_out_trade_no(now: i64, random: &[u8]) -> Result<OutTradeNo, FieldError> {
    let mut no = format!("SK{}", paytime::compact_cst(now));
    no.extend(
        random
            .iter()
            .take(OUT_TRADE_NO_RANDOM_CHARS)
            .map(|b| char::from(NO_ALPHABET[usize::from(b % 32)])),
    );
    OutTradeNo::parse(&no)
}

/// The amount of a new order: the collection's fixed amount, or what the payer typed
/// (validated like every amount: positive, at most two decimals, ≤ ¥50 000).
pub fn order_amount(rule: AmountRule, entered: Option<&str>) -> Result<Fen, AmountError> {
    match rule {
        // A fixed amount is the payee's: whatever the page sends is ignored.
        AmountRule::Fixed { fen } => Ok(fen),
        AmountRule::PayerEntered => Fen::parse_yuan(entered.unwrap_or("")),
    }
}

/// What the worker knows of a stored order, for [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    /// The order number.
    pub out_trade_no: String,
    /// Its amount.
    pub amount: Fen,
    /// Its state.
    pub state: OrderState,
    /// WeChat Pay's order number, once paid.
    pub transaction_id: Option<String>,
}

/// A way a verified transaction disagrees with the stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mismatch {
    /// Another merchant id.
    Mchid {
        /// Ours.
        expected: String,
        /// WeChat Pay's.
        got: String,
    },
    /// Another sub-merchant than the order's (platform), or sub-merchant fields on a
    /// direct order / none on a partner one (an empty side means absent).
    SubMchid {
        /// Ours (empty: a direct order).
        expected: String,
        /// WeChat Pay's (empty: absent).
        got: String,
    },
    /// Another AppID.
    Appid {
        /// Ours.
        expected: String,
        /// WeChat Pay's.
        got: String,
    },
    /// Another order number than the one looked up.
    OutTradeNo {
        /// Ours.
        expected: String,
        /// WeChat Pay's.
        got: String,
    },
    /// `amount.total` is not the order's amount.
    Amount {
        /// Ours, fen.
        expected: i64,
        /// WeChat Pay's, fen.
        got: i64,
    },
    /// Not CNY.
    Currency {
        /// WeChat Pay's.
        got: String,
    },
    /// Paid under another transaction id than the one already recorded.
    TransactionId {
        /// Recorded.
        expected: String,
        /// WeChat Pay's.
        got: String,
    },
}

impl Mismatch {
    /// A short stable name (`amount`, `appid`, …) for storage.
    pub fn kind(&self) -> &'static str {
        match self {
            Mismatch::Mchid { .. } => "mchid",
            Mismatch::SubMchid { .. } => "sub_mchid",
            Mismatch::Appid { .. } => "appid",
            Mismatch::OutTradeNo { .. } => "out_trade_no",
            Mismatch::Amount { .. } => "amount",
            Mismatch::Currency { .. } => "currency",
            Mismatch::TransactionId { .. } => "transaction_id",
        }
    }

    /// What the payee reads, in Chinese (no secrets: ids and amounts only).
    pub fn message(&self) -> String {
        match self {
            Mismatch::Mchid { got, .. } => format!("商户号不一致（通知中为 {got}）"),
            Mismatch::SubMchid { expected, got } if expected.is_empty() => {
                format!("直连订单的通知带有子商户号 {got}")
            }
            Mismatch::SubMchid { expected, got } => format!(
                "子商户号不一致：订单属于 {expected}，通知中为 {}",
                if got.is_empty() { "空" } else { got }
            ),
            Mismatch::Appid { got, .. } => format!("AppID 不一致（通知中为 {got}）"),
            Mismatch::OutTradeNo { got, .. } => format!("订单号不一致（通知中为 {got}）"),
            Mismatch::Amount { expected, got } => format!(
                "金额不一致：订单 {}，微信支付通知 {}",
                Fen::new(*expected),
                Fen::new(*got)
            ),
            Mismatch::Currency { got } => format!("币种不是人民币（{got}）"),
            Mismatch::TransactionId { expected, got } => {
                format!("微信支付单号不一致：已记录 {expected}，新通知 {got}")
            }
        }
    }
}

/// Compares a verified transaction (callback plaintext or query answer) with the order and
/// the merchant it was made for: `mchid` + `appid` of a direct order; `sp_mchid`,
/// `sub_mchid` **and** `sp_appid` of a partner one (a payee swap must never be accepted);
/// then order number, amount and currency. Every disagreement is returned.
pub fn check_transaction(
    order: &OrderFacts,
    tx: &Transaction,
    routing: &PayeeRouting,
) -> Vec<Mismatch> {
    let mut problems = Vec::new();
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    match routing {
        PayeeRouting::Direct { appid, mchid } => {
            if tx.mchid != *mchid || tx.sp_mchid.is_some() {
                problems.push(Mismatch::Mchid {
                    expected: mchid.clone(),
                    got: if tx.mchid.is_empty() {
                        text(&tx.sp_mchid)
                    } else {
                        tx.mchid.clone()
                    },
                });
            }
            if let Some(sub) = &tx.sub_mchid {
                problems.push(Mismatch::SubMchid {
                    expected: String::new(),
                    got: sub.clone(),
                });
            }
            if tx.appid != *appid || tx.sp_appid.is_some() {
                problems.push(Mismatch::Appid {
                    expected: appid.clone(),
                    got: if tx.appid.is_empty() {
                        text(&tx.sp_appid)
                    } else {
                        tx.appid.clone()
                    },
                });
            }
        }
        PayeeRouting::Partner {
            sp_appid,
            sp_mchid,
            sub_mchid,
        } => {
            if tx.sp_mchid.as_deref() != Some(sp_mchid) || !tx.mchid.is_empty() {
                problems.push(Mismatch::Mchid {
                    expected: sp_mchid.clone(),
                    got: tx.sp_mchid.clone().unwrap_or_else(|| tx.mchid.clone()),
                });
            }
            if tx.sub_mchid.as_deref() != Some(sub_mchid) {
                problems.push(Mismatch::SubMchid {
                    expected: sub_mchid.clone(),
                    got: text(&tx.sub_mchid),
                });
            }
            if tx.sp_appid.as_deref() != Some(sp_appid) || !tx.appid.is_empty() {
                problems.push(Mismatch::Appid {
                    expected: sp_appid.clone(),
                    got: tx.sp_appid.clone().unwrap_or_else(|| tx.appid.clone()),
                });
            }
        }
    }
    if tx.out_trade_no != order.out_trade_no {
        problems.push(Mismatch::OutTradeNo {
            expected: order.out_trade_no.clone(),
            got: tx.out_trade_no.clone(),
        });
    }
    if tx.amount.total != order.amount.get() {
        problems.push(Mismatch::Amount {
            expected: order.amount.get(),
            got: tx.amount.total,
        });
    }
    // An unpaid order's query may omit the currency; a payment must say CNY.
    let currency = tx.amount.currency.as_str();
    if !(currency == "CNY" || currency.is_empty() && !is_paid_state(tx.trade_state)) {
        problems.push(Mismatch::Currency {
            got: currency.to_string(),
        });
    }
    problems
}

fn is_paid_state(state: TradeState) -> bool {
    matches!(state, TradeState::Success | TradeState::Refund)
}

/// A payment as WeChat Pay confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// WeChat Pay's order number.
    pub transaction_id: String,
    /// Unix seconds of payment (from `success_time`; `None` when absent or unreadable).
    pub paid_at: Option<i64>,
    /// Who paid.
    pub payer_openid: Option<String>,
}

/// What to do with a verified transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Move the order from the state it was read in to `to` (a compare-and-swap).
    Apply {
        /// The new state.
        to: OrderState,
        /// The payment, for `Paid`.
        payment: Option<Payment>,
        /// The order had been closed locally but WeChat Pay saw it paid: tell the payee.
        paid_after_close: bool,
    },
    /// Already applied (a duplicate callback, a repeated query): answer success.
    AlreadyApplied,
    /// Not paid yet (NOTPAY, USERPAYING, …): nothing changes.
    NotYet,
    /// Verified, but it disagrees with the order: record and flag for the payee, never apply.
    Flag(Vec<Mismatch>),
    /// A state this order cannot take (e.g. WeChat says CLOSED for an order paid here): record.
    Refused(TradeState),
}

/// The one transition function for payments: a verified transaction against the stored
/// order. Callbacks and active queries (the order page, the cron) both call it.
pub fn decide(order: &OrderFacts, tx: &Transaction, routing: &PayeeRouting) -> Decision {
    let mut problems = check_transaction(order, tx, routing);
    let event = match tx.trade_state {
        TradeState::Success | TradeState::Refund => Event::Paid,
        TradeState::Closed | TradeState::Revoked => Event::Closed,
        // PAYERROR is not final for an order that can still be paid again before it expires.
        TradeState::NotPay
        | TradeState::UserPaying
        | TradeState::PayError
        | TradeState::Unknown => {
            return if problems.is_empty() {
                Decision::NotYet
            } else {
                Decision::Flag(problems)
            };
        }
    };
    let payment = if event == Event::Paid {
        let Some(transaction_id) = tx.transaction_id.clone().filter(|t| !t.is_empty()) else {
            return Decision::Refused(tx.trade_state);
        };
        if let Some(recorded) = &order.transaction_id {
            if *recorded != transaction_id {
                problems.push(Mismatch::TransactionId {
                    expected: recorded.clone(),
                    got: transaction_id.clone(),
                });
            }
        }
        Some(Payment {
            transaction_id,
            paid_at: tx.success_time.as_deref().and_then(paytime::parse_rfc3339),
            payer_openid: tx
                .payer
                .as_ref()
                .map(|p| p.sp_openid.clone().unwrap_or_else(|| p.openid.clone()))
                .filter(|o| !o.is_empty()),
        })
    } else {
        None
    };
    if !problems.is_empty() {
        return Decision::Flag(problems);
    }
    match transition(order.state, event) {
        Transition::To(to) => Decision::Apply {
            to,
            payment,
            paid_after_close: order.state == OrderState::Closed && to == OrderState::Paid,
        },
        Transition::Unchanged => Decision::AlreadyApplied,
        Transition::Refused => Decision::Refused(tx.trade_state),
    }
}

/// Body of `POST /api/orders`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    /// The collection being paid.
    pub collection_id: String,
    /// What the payer typed, for a collection whose amount the payer enters (`"12.34"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// A merchant-mode split: the participant paying their share (with their participant
    /// token as `Authorization: Bearer …`). The amount is then their due; `amount` is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<String>,
}

/// Answer of `POST /api/orders` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedOrder {
    /// Public order id (in `/o/:id`).
    pub id: String,
    /// The order number at WeChat Pay.
    pub out_trade_no: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// `jsapi`, `native` or `h5`.
    pub method: PayMethod,
    /// For `h5`: WeChat Pay's middle page (with `redirect_url` back to the order page); the
    /// page sends the payer there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h5_url: Option<String>,
    /// For `jsapi`: the object for `getBrandWCPayRequest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_params: Option<JsapiPayParams>,
    /// For `native`: the `weixin://wxpay/bizpayurl?…` to show as a QR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_url: Option<String>,
    /// `/o/<id>`: where the payer waits for the confirmation.
    pub order_path: String,
    /// When the order stops being payable (RFC 3339, +08:00).
    pub time_expire: String,
}

/// `GET /api/orders/:id`: the order page's view (and the receipt once paid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    /// Public order id.
    pub id: String,
    /// The order number.
    pub out_trade_no: String,
    /// The collection paid.
    pub collection_id: String,
    /// Its title.
    pub title: String,
    /// The payee's display name.
    pub payee_name: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// State.
    pub state: OrderState,
    /// `jsapi` or `native`.
    pub method: PayMethod,
    /// For a pending Native order: the QR content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_url: Option<String>,
    /// Unix seconds: created.
    pub created_at: i64,
    /// Unix seconds: no longer payable after.
    pub expires_at: i64,
    /// Unix seconds: paid (receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<i64>,
    /// WeChat Pay's order number (receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Refunded so far, fen.
    pub refunded_fen: i64,
}

impl OrderView {
    /// True once the state can no longer change by itself (the page stops polling).
    pub fn is_settled(&self) -> bool {
        matches!(
            self.state,
            OrderState::Paid | OrderState::Closed | OrderState::Refunded
        )
    }
}

/// How long the order page waits before its `n`-th status check (0-based), in milliseconds:
/// 1 s, doubling up to 15 s, with up to ±20 % of `jitter` (0.0–1.0 maps to −20 %…+20 %,
/// given in thousandths so the core stays free of floats).
pub fn poll_delay_ms(n: u32, jitter_permille: u32) -> u32 {
    let base: u32 = 1000u32.saturating_mul(1u32 << n.min(4)).min(15_000);
    let jitter = jitter_permille.min(1000);
    // base × (0.8 + 0.4 × jitter)
    base / 10 * 8 + base / 10 * 4 * jitter / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechatpay::{Payer, TransactionAmount};
    use proptest::prelude::*;

    fn ids() -> PayeeRouting {
        PayeeRouting::Direct {
            mchid: "1900000100".into(),
            appid: "wx0123456789abcdef".into(),
        }
    }

    fn partner_ids() -> PayeeRouting {
        PayeeRouting::Partner {
            sp_appid: "wx0123456789abcdef".into(),
            sp_mchid: "1900000100".into(),
            sub_mchid: "1900000109".into(),
        }
    }

    /// The same payment as WeChat Pay reports it for a partner order of `sub_mchid`.
    fn partner_tx(sub_mchid: &str) -> Transaction {
        let mut t = tx(TradeState::Success);
        t.sp_appid = Some(std::mem::take(&mut t.appid));
        t.sp_mchid = Some(std::mem::take(&mut t.mchid));
        t.sub_mchid = Some(sub_mchid.into());
        t.payer = Some(Payer {
            openid: String::new(),
            sp_openid: Some("oSpPayer".into()),
            sub_openid: None,
        });
        t
    }

    #[test]
    fn a_partner_payment_applies_only_to_its_own_sub_merchant() {
        let Decision::Apply {
            to: OrderState::Paid,
            payment: Some(payment),
            ..
        } = decide(
            &order(OrderState::Pending),
            &partner_tx("1900000109"),
            &partner_ids(),
        )
        else {
            panic!("a matching partner payment applies");
        };
        assert_eq!(payment.payer_openid.as_deref(), Some("oSpPayer"));
        let Decision::Flag(problems) = decide(
            &order(OrderState::Pending),
            &partner_tx("1900000200"),
            &partner_ids(),
        ) else {
            panic!("another sub-merchant's payment is flagged");
        };
        assert_eq!(
            problems,
            vec![Mismatch::SubMchid {
                expected: "1900000109".into(),
                got: "1900000200".into()
            }]
        );
        let mut no_sub = partner_tx("x");
        no_sub.sub_mchid = None;
        assert!(matches!(
            decide(&order(OrderState::Pending), &no_sub, &partner_ids()),
            Decision::Flag(_)
        ));
        // A direct-shaped answer for a partner order: the service provider would be the payee.
        assert!(matches!(
            decide(
                &order(OrderState::Pending),
                &tx(TradeState::Success),
                &partner_ids()
            ),
            Decision::Flag(_)
        ));
    }

    #[test]
    fn a_direct_order_refuses_a_payment_with_partner_fields() {
        let mut t = tx(TradeState::Success);
        t.sub_mchid = Some("1900000109".into());
        let Decision::Flag(problems) = decide(&order(OrderState::Pending), &t, &ids()) else {
            panic!("flagged");
        };
        assert_eq!(problems[0].kind(), "sub_mchid");
        assert!(matches!(
            decide(
                &order(OrderState::Pending),
                &partner_tx("1900000109"),
                &ids()
            ),
            Decision::Flag(_)
        ));
    }

    #[test]
    fn the_method_follows_the_browser() {
        let wechat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.47";
        let phone = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36";
        let desktop =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
        assert_eq!(PayMethod::for_user_agent(wechat), PayMethod::Jsapi);
        assert_eq!(PayMethod::for_user_agent(phone), PayMethod::H5);
        assert_eq!(PayMethod::for_user_agent(desktop), PayMethod::Native);
        assert_eq!(PayMethod::parse("MWEB"), Some(PayMethod::H5));
        assert_eq!(
            h5_url_with_redirect("https://wx.tenpay.com/x?prepay_id=1&package=2", "https://a.cn/o/x1"),
            "https://wx.tenpay.com/x?prepay_id=1&package=2&redirect_url=https%3A%2F%2Fa.cn%2Fo%2Fx1"
        );
    }

    fn order(state: OrderState) -> OrderFacts {
        OrderFacts {
            out_trade_no: "SK20261127173405ABCDEFGHJKMNPQ".into(),
            amount: Fen::new(1234),
            state,
            transaction_id: None,
        }
    }

    fn tx(state: TradeState) -> Transaction {
        let paid = is_paid_state(state);
        Transaction {
            appid: "wx0123456789abcdef".into(),
            mchid: "1900000100".into(),
            sp_appid: None,
            sp_mchid: None,
            sub_mchid: None,
            sub_appid: None,
            out_trade_no: "SK20261127173405ABCDEFGHJKMNPQ".into(),
            transaction_id: paid.then(|| "4200000001202611271234567890".into()),
            trade_type: None,
            trade_state: state,
            trade_state_desc: None,
            bank_type: None,
            attach: None,
            success_time: paid.then(|| "2026-11-27T17:35:00+08:00".into()),
            payer: paid.then(|| Payer {
                openid: "oPayer1".into(),
                sp_openid: None,
                sub_openid: None,
            }),
            amount: TransactionAmount {
                total: 1234,
                payer_total: paid.then_some(1234),
                currency: "CNY".into(),
                payer_currency: None,
            },
            promotion_detail: None,
            scene_info: None,
        }
    }

    #[test]
    fn a_pending_order_becomes_paid_by_a_matching_success() {
        let decision = decide(
            &order(OrderState::Pending),
            &tx(TradeState::Success),
            &ids(),
        );
        let Decision::Apply {
            to: OrderState::Paid,
            payment: Some(payment),
            paid_after_close: false,
        } = decision
        else {
            panic!("{decision:?}")
        };
        assert_eq!(payment.transaction_id, "4200000001202611271234567890");
        assert_eq!(
            payment.paid_at,
            paytime::parse_rfc3339("2026-11-27T17:35:00+08:00")
        );
        assert_eq!(payment.payer_openid.as_deref(), Some("oPayer1"));
    }

    #[test]
    fn a_second_success_for_a_paid_order_is_a_duplicate() {
        for state in [
            OrderState::Paid,
            OrderState::Refunding,
            OrderState::Refunded,
        ] {
            let mut stored = order(state);
            stored.transaction_id = Some("4200000001202611271234567890".into());
            assert_eq!(
                decide(&stored, &tx(TradeState::Success), &ids()),
                Decision::AlreadyApplied,
                "{state:?}"
            );
        }
    }

    #[test]
    fn wechats_success_wins_over_a_local_close_and_is_flagged() {
        let decision = decide(&order(OrderState::Closed), &tx(TradeState::Success), &ids());
        assert!(
            matches!(
                decision,
                Decision::Apply {
                    to: OrderState::Paid,
                    paid_after_close: true,
                    ..
                }
            ),
            "{decision:?}"
        );
    }

    #[test]
    fn a_wrong_amount_appid_or_mchid_is_flagged_never_applied() {
        let mut wrong_amount = tx(TradeState::Success);
        wrong_amount.amount.total = 1235;
        let mut wrong_appid = tx(TradeState::Success);
        wrong_appid.appid = "wxffffffffffffffff".into();
        let mut wrong_mchid = tx(TradeState::Success);
        wrong_mchid.mchid = "1900000999".into();
        let mut wrong_currency = tx(TradeState::Success);
        wrong_currency.amount.currency = "USD".into();
        for (t, kind) in [
            (wrong_amount, "amount"),
            (wrong_appid, "appid"),
            (wrong_mchid, "mchid"),
            (wrong_currency, "currency"),
        ] {
            match decide(&order(OrderState::Pending), &t, &ids()) {
                Decision::Flag(problems) => {
                    assert_eq!(problems.len(), 1, "{problems:?}");
                    assert_eq!(problems[0].kind(), kind);
                }
                other => panic!("{kind}: {other:?}"),
            }
        }
    }

    #[test]
    fn another_transaction_id_for_a_paid_order_is_flagged() {
        let mut stored = order(OrderState::Paid);
        stored.transaction_id = Some("4200000001202611270000000000".into());
        let Decision::Flag(problems) = decide(&stored, &tx(TradeState::Success), &ids()) else {
            panic!()
        };
        assert_eq!(problems[0].kind(), "transaction_id");
    }

    #[test]
    fn unpaid_answers_change_nothing_and_closed_closes() {
        for state in [
            TradeState::NotPay,
            TradeState::UserPaying,
            TradeState::PayError,
        ] {
            let mut t = tx(state);
            t.amount.currency = String::new();
            assert_eq!(
                decide(&order(OrderState::Pending), &t, &ids()),
                Decision::NotYet
            );
        }
        assert!(matches!(
            decide(&order(OrderState::Pending), &tx(TradeState::Closed), &ids()),
            Decision::Apply {
                to: OrderState::Closed,
                payment: None,
                ..
            }
        ));
        assert_eq!(
            decide(&order(OrderState::Closed), &tx(TradeState::Closed), &ids()),
            Decision::AlreadyApplied
        );
        assert_eq!(
            decide(&order(OrderState::Paid), &tx(TradeState::Closed), &ids()),
            Decision::Refused(TradeState::Closed)
        );
    }

    #[test]
    fn a_success_without_transaction_id_is_refused() {
        let mut t = tx(TradeState::Success);
        t.transaction_id = None;
        assert_eq!(
            decide(&order(OrderState::Pending), &t, &ids()),
            Decision::Refused(TradeState::Success)
        );
    }

    #[test]
    fn order_numbers_are_30_characters_sortable_by_china_time() {
        let no = new_out_trade_no(
            1_795_772_045,
            &[0u8, 1, 31, 32, 255, 7, 8, 9, 10, 11, 12, 13, 14, 15, 99],
        )
        .unwrap();
        assert_eq!(no.as_str(), "SK2026112717340501Z0Z789ABCDEF");
        assert_eq!(no.as_str().len(), 30);
        assert!(
            new_out_trade_no(0, &[]).is_ok(),
            "even without randomness it is well-formed"
        );
    }

    #[test]
    fn time_expire_is_rfc3339_in_china_time_and_clamped() {
        assert_eq!(
            time_expire(1_795_772_045, 1800),
            (1_795_773_845, "2026-11-27T18:04:05+08:00".to_string())
        );
        assert_eq!(time_expire(0, 1).0, MIN_TTL_SECS);
        assert_eq!(time_expire(0, 86_400).0, MAX_TTL_SECS);
    }

    #[test]
    fn the_amount_comes_from_the_rule_or_the_payer() {
        let fixed = AmountRule::Fixed { fen: Fen::new(500) };
        assert_eq!(order_amount(fixed, Some("0.01")), Ok(Fen::new(500)));
        assert_eq!(
            order_amount(AmountRule::PayerEntered, Some("12.3")),
            Ok(Fen::new(1230))
        );
        assert_eq!(
            order_amount(AmountRule::PayerEntered, None),
            Err(AmountError::Empty)
        );
        assert!(order_amount(AmountRule::PayerEntered, Some("50000.01")).is_err());
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for state in OrderState::ALL {
            assert_eq!(OrderState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.as_str())
            );
        }
        assert_eq!(OrderState::parse("PAID"), None);
    }

    #[test]
    fn polling_backs_off_to_fifteen_seconds() {
        assert_eq!(poll_delay_ms(0, 500), 1000);
        assert_eq!(poll_delay_ms(1, 500), 2000);
        assert_eq!(poll_delay_ms(3, 500), 8000);
        assert_eq!(poll_delay_ms(9, 500), 15_000);
        assert_eq!(poll_delay_ms(0, 0), 800);
        assert_eq!(poll_delay_ms(0, 1000), 1200);
    }

    fn any_state() -> impl Strategy<Value = OrderState> {
        prop::sample::select(OrderState::ALL.to_vec())
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop::sample::select(vec![
            Event::Paid,
            Event::Closed,
            Event::RefundStarted,
            Event::RefundsSettled { fully: true },
            Event::RefundsSettled { fully: false },
        ])
    }

    proptest! {
        #[test]
        fn a_paid_order_never_becomes_unpaid(from in any_state(), events in prop::collection::vec(any_event(), 0..12)) {
            let mut state = from;
            let mut was_paid = state.is_paid();
            for event in events {
                if let Transition::To(next) = transition(state, event) {
                    prop_assert_ne!(next, state, "a change changes the state");
                    state = next;
                }
                if was_paid {
                    prop_assert!(state.is_paid(), "{:?} left the paid states", state);
                }
                was_paid |= state.is_paid();
            }
        }

        #[test]
        fn applying_an_event_twice_changes_nothing_the_second_time(from in any_state(), event in any_event()) {
            if let Transition::To(next) = transition(from, event) {
                prop_assert_ne!(transition(next, event), Transition::Refused);
                prop_assert!(!matches!(transition(next, event), Transition::To(_)));
            }
        }

        #[test]
        fn only_pending_and_closed_orders_can_become_paid(from in any_state()) {
            let became_paid = transition(from, Event::Paid) == Transition::To(OrderState::Paid);
            prop_assert_eq!(became_paid, matches!(from, OrderState::Pending | OrderState::Closed));
        }

        #[test]
        fn any_amount_other_than_the_orders_is_flagged(total in 1i64..10_000_000) {
            let mut t = tx(TradeState::Success);
            t.amount.total = total;
            let decision = decide(&order(OrderState::Pending), &t, &ids());
            if total == 1234 {
                let applied = matches!(decision, Decision::Apply { .. });
                prop_assert!(applied);
            } else {
                let flagged = matches!(decision, Decision::Flag(_));
                prop_assert!(flagged);
            }
        }

        #[test]
        fn order_numbers_are_always_valid(now in 0i64..5_000_000_000, random in prop::collection::vec(any::<u8>(), 14..20)) {
            let no = new_out_trade_no(now, &random).unwrap();
            prop_assert_eq!(no.as_str().len(), 30);
        }
    }
}
