//! Matching a day's trade bill with our ledger (PROTOCOL-2 §1.3): payments by `out_trade_no`
//! (and `transaction_id`), refunds by `out_refund_no` (and `refund_id`). What does not match
//! becomes a [`Discrepancy`] carrying its evidence; nothing is decided silently. The bill's
//! money is totalled per payee: payments, refunds, WeChat's fees and the net settled amount.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::trade::{TradeBill, TradeRow};
use super::{fee_fen, format_fen};
use crate::money::Fen;
use crate::paytime::ShanghaiDay;

/// One of our orders, as reconciliation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurOrder {
    /// Our order number.
    pub out_trade_no: String,
    /// WeChat's number, once paid here.
    pub transaction_id: Option<String>,
    /// What the order was made for.
    pub amount: Fen,
    /// Paid (or paid then refunded) here.
    pub paid: bool,
    /// Unix seconds of payment (WeChat's `success_time`).
    pub paid_at: Option<i64>,
    /// Whose money it is.
    pub payee: Option<String>,
}

/// One of our refunds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurRefund {
    /// Our refund number.
    pub out_refund_no: String,
    /// The order refunded.
    pub out_trade_no: String,
    /// Amount asked for.
    pub amount: Fen,
    /// Reached `SUCCESS` here.
    pub succeeded: bool,
    /// Unix seconds the refund was asked for (the refund row's 交易时间).
    pub created_at: i64,
    /// Whose money it is.
    pub payee: Option<String>,
}

/// What kind of disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// WeChat has a payment our ledger does not show as paid (本地短单). Healable by a query
    /// when the order exists here.
    PaidNotHere,
    /// Paid here, absent from WeChat's bill (远程短单).
    PaidNotAtWechat,
    /// Both sides have the payment with different amounts.
    AmountMismatch,
    /// Both sides have the payment under different WeChat numbers.
    TransactionMismatch,
    /// WeChat has a refund our ledger does not have (or not as succeeded).
    RefundNotHere,
    /// A succeeded refund of ours is absent from WeChat's bill.
    RefundNotAtWechat,
    /// Both sides have the refund with different amounts.
    RefundAmountMismatch,
}

impl DiscrepancyKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyKind::PaidNotHere => "paid_not_here",
            DiscrepancyKind::PaidNotAtWechat => "paid_not_at_wechat",
            DiscrepancyKind::AmountMismatch => "amount_mismatch",
            DiscrepancyKind::TransactionMismatch => "transaction_mismatch",
            DiscrepancyKind::RefundNotHere => "refund_not_here",
            DiscrepancyKind::RefundNotAtWechat => "refund_not_at_wechat",
            DiscrepancyKind::RefundAmountMismatch => "refund_amount_mismatch",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<DiscrepancyKind> {
        ALL_KINDS.into_iter().find(|k| k.as_str() == s)
    }

    /// A refund discrepancy (keyed by `out_refund_no`).
    pub fn is_refund(self) -> bool {
        matches!(
            self,
            DiscrepancyKind::RefundNotHere
                | DiscrepancyKind::RefundNotAtWechat
                | DiscrepancyKind::RefundAmountMismatch
        )
    }

    /// In Chinese, for the report.
    pub fn label(self) -> &'static str {
        match self {
            DiscrepancyKind::PaidNotHere => "微信已收款，本地未记为已付",
            DiscrepancyKind::PaidNotAtWechat => "本地已付，微信账单中没有",
            DiscrepancyKind::AmountMismatch => "金额不一致",
            DiscrepancyKind::TransactionMismatch => "微信订单号不一致",
            DiscrepancyKind::RefundNotHere => "微信有退款，本地没有",
            DiscrepancyKind::RefundNotAtWechat => "本地退款成功，微信账单中没有",
            DiscrepancyKind::RefundAmountMismatch => "退款金额不一致",
        }
    }
}

const ALL_KINDS: [DiscrepancyKind; 7] = [
    DiscrepancyKind::PaidNotHere,
    DiscrepancyKind::PaidNotAtWechat,
    DiscrepancyKind::AmountMismatch,
    DiscrepancyKind::TransactionMismatch,
    DiscrepancyKind::RefundNotHere,
    DiscrepancyKind::RefundNotAtWechat,
    DiscrepancyKind::RefundAmountMismatch,
];

/// One disagreement between the bill and our ledger, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    /// What kind.
    pub kind: DiscrepancyKind,
    /// Whose money (None: nobody here; the operator sees it).
    pub payee: Option<String>,
    /// The order.
    pub out_trade_no: String,
    /// WeChat's order number (from the bill, or ours).
    pub transaction_id: Option<String>,
    /// The refund (refund kinds).
    pub out_refund_no: Option<String>,
    /// WeChat's refund number.
    pub refund_id: Option<String>,
    /// The amount in WeChat's bill.
    pub bill_fen: Option<i64>,
    /// The amount in our ledger.
    pub our_fen: Option<i64>,
    /// Whether the order exists here (so a query can heal a [`DiscrepancyKind::PaidNotHere`]).
    pub order_known: bool,
    /// In Chinese.
    pub message: String,
    /// The bill row (payer openid removed), as evidence.
    pub bill_row: Option<TradeRow>,
    /// When healed (Unix seconds), if it was.
    #[serde(default)]
    pub healed_at: Option<i64>,
    /// What the heal found / did, in Chinese.
    #[serde(default)]
    pub heal: Option<String>,
}

impl Discrepancy {
    /// The key of the thing disagreed about: `out_refund_no` for refunds, else `out_trade_no`.
    pub fn key(&self) -> &str {
        match (&self.out_refund_no, self.kind.is_refund()) {
            (Some(no), true) => no,
            _ => &self.out_trade_no,
        }
    }
}

/// The bill's money of one payee.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PayeeTotals {
    /// The payee (None: rows nobody here owns).
    pub payee: Option<String>,
    /// Payment rows.
    pub payments: u32,
    /// Their 订单金额.
    pub paid_fen: i64,
    /// Refund rows.
    pub refunds: u32,
    /// Their 退款金额.
    pub refunded_fen: i64,
    /// WeChat's fees (1/1000 fen; refunds give fees back).
    pub fee_milli_fen: i64,
    /// Fees rounded to fen.
    pub fees_fen: i64,
    /// 应结订单金额 − 退款金额 − fees: what settles to the merchant.
    pub net_fen: i64,
}

/// The outcome of matching one bill.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Payment rows that agree.
    pub matched_payments: u32,
    /// Refund rows that agree.
    pub matched_refunds: u32,
    /// Everything that does not.
    pub discrepancies: Vec<Discrepancy>,
    /// Per payee, sorted by payee.
    pub totals: Vec<PayeeTotals>,
}

fn nonzero(id: &str) -> Option<String> {
    (!id.is_empty() && id != "0").then(|| id.to_string())
}

fn evidence(row: &TradeRow) -> TradeRow {
    TradeRow {
        openid: String::new(),
        ..row.clone()
    }
}

/// Matches `bill` (the trade bill of `day`) with `orders` and `refunds`: every order and refund
/// the bill names, plus every order paid and every refund asked for on `day` here. Rows whose
/// order is unknown here belong to `default_payee` (the sub-merchant's payee in the platform
/// model). Deterministic: the same inputs give the same output, in the same order.
pub fn reconcile(
    day: ShanghaiDay,
    bill: &TradeBill,
    orders: &[OurOrder],
    refunds: &[OurRefund],
    default_payee: Option<&str>,
) -> Reconciliation {
    let by_no: HashMap<&str, &OurOrder> = orders
        .iter()
        .map(|o| (o.out_trade_no.as_str(), o))
        .collect();
    let refund_by_no: HashMap<&str, &OurRefund> = refunds
        .iter()
        .map(|r| (r.out_refund_no.as_str(), r))
        .collect();
    let mut result = Reconciliation::default();
    let mut totals: BTreeMap<Option<String>, PayeeTotals> = BTreeMap::new();
    let mut billed_payments: HashSet<&str> = HashSet::new();
    let mut billed_refunds: HashSet<&str> = HashSet::new();
    let fallback = default_payee.map(str::to_string);
    for row in &bill.rows {
        let order = by_no.get(row.out_trade_no.as_str()).copied();
        let payee = if row.is_refund() {
            refund_by_no
                .get(row.out_refund_no.as_str())
                .and_then(|r| r.payee.clone())
                .or_else(|| order.and_then(|o| o.payee.clone()))
        } else {
            order.and_then(|o| o.payee.clone())
        }
        .or_else(|| fallback.clone());
        let t = totals.entry(payee.clone()).or_default();
        t.payee = payee.clone();
        t.fee_milli_fen += row.fee_milli_fen;
        t.net_fen += row.settled.get() - row.refund.get();
        let base = Discrepancy {
            kind: DiscrepancyKind::PaidNotHere,
            payee,
            out_trade_no: row.out_trade_no.clone(),
            transaction_id: nonzero(&row.transaction_id),
            out_refund_no: None,
            refund_id: None,
            bill_fen: None,
            our_fen: None,
            order_known: order.is_some(),
            message: String::new(),
            bill_row: Some(evidence(row)),
            healed_at: None,
            heal: None,
        };
        if row.is_refund() {
            t.refunds += 1;
            t.refunded_fen += row.refund_requested.get();
            billed_refunds.insert(row.out_refund_no.as_str());
            let ours = refund_by_no.get(row.out_refund_no.as_str());
            let base = Discrepancy {
                out_refund_no: Some(row.out_refund_no.clone()),
                refund_id: nonzero(&row.refund_id),
                bill_fen: Some(row.refund_requested.get()),
                ..base
            };
            match ours {
                None => result.discrepancies.push(Discrepancy {
                    kind: DiscrepancyKind::RefundNotHere,
                    message: format!(
                        "微信账单有退款 {}（订单 {}，{}），本地没有这笔退款",
                        row.out_refund_no,
                        row.out_trade_no,
                        yuan(row.refund_requested)
                    ),
                    ..base
                }),
                Some(r) if r.amount != row.refund_requested => {
                    result.discrepancies.push(Discrepancy {
                        kind: DiscrepancyKind::RefundAmountMismatch,
                        our_fen: Some(r.amount.get()),
                        message: format!(
                            "退款 {}：微信账单 {}，本地 {}",
                            row.out_refund_no,
                            yuan(row.refund_requested),
                            yuan(r.amount)
                        ),
                        ..base
                    })
                }
                Some(_) => result.matched_refunds += 1,
            }
            continue;
        }
        t.payments += 1;
        t.paid_fen += row.total.get();
        billed_payments.insert(row.out_trade_no.as_str());
        let base = Discrepancy {
            bill_fen: Some(row.total.get()),
            our_fen: order.map(|o| o.amount.get()),
            ..base
        };
        match order {
            Some(o) if o.paid && o.amount != row.total => result.discrepancies.push(Discrepancy {
                kind: DiscrepancyKind::AmountMismatch,
                message: format!(
                    "订单 {}：微信账单 {}，本地 {}",
                    row.out_trade_no,
                    yuan(row.total),
                    yuan(o.amount)
                ),
                ..base
            }),
            Some(o)
                if o.paid
                    && o.transaction_id
                        .as_deref()
                        .is_some_and(|t| t != row.transaction_id) =>
            {
                result.discrepancies.push(Discrepancy {
                    kind: DiscrepancyKind::TransactionMismatch,
                    message: format!(
                        "订单 {}：微信账单的微信订单号与本地记录不同",
                        row.out_trade_no
                    ),
                    ..base
                })
            }
            Some(o) if o.paid => result.matched_payments += 1,
            _ => result.discrepancies.push(Discrepancy {
                kind: DiscrepancyKind::PaidNotHere,
                message: if order.is_some() {
                    format!(
                        "微信已收款 {}（订单 {}），本地未记为已付",
                        yuan(row.total),
                        row.out_trade_no
                    )
                } else {
                    format!(
                        "微信已收款 {}（订单 {}），本地没有这笔订单",
                        yuan(row.total),
                        row.out_trade_no
                    )
                },
                ..base
            }),
        }
    }
    for o in orders {
        let paid_that_day = o.paid && o.paid_at.is_some_and(|t| ShanghaiDay::of(t) == day);
        if paid_that_day && !billed_payments.contains(o.out_trade_no.as_str()) {
            result.discrepancies.push(Discrepancy {
                kind: DiscrepancyKind::PaidNotAtWechat,
                payee: o.payee.clone().or_else(|| fallback.clone()),
                out_trade_no: o.out_trade_no.clone(),
                transaction_id: o.transaction_id.clone(),
                out_refund_no: None,
                refund_id: None,
                bill_fen: None,
                our_fen: Some(o.amount.get()),
                order_known: true,
                message: format!(
                    "本地记为已付 {}（订单 {}），微信当日账单中没有",
                    yuan(o.amount),
                    o.out_trade_no
                ),
                bill_row: None,
                healed_at: None,
                heal: None,
            });
        }
    }
    for r in refunds {
        let that_day = r.succeeded && ShanghaiDay::of(r.created_at) == day;
        if that_day && !billed_refunds.contains(r.out_refund_no.as_str()) {
            result.discrepancies.push(Discrepancy {
                kind: DiscrepancyKind::RefundNotAtWechat,
                payee: r.payee.clone().or_else(|| fallback.clone()),
                out_trade_no: r.out_trade_no.clone(),
                transaction_id: None,
                out_refund_no: Some(r.out_refund_no.clone()),
                refund_id: None,
                bill_fen: None,
                our_fen: Some(r.amount.get()),
                order_known: by_no.contains_key(r.out_trade_no.as_str()),
                message: format!(
                    "本地退款 {} 成功（{}），微信当日账单中没有",
                    r.out_refund_no,
                    yuan(r.amount)
                ),
                bill_row: None,
                healed_at: None,
                heal: None,
            });
        }
    }
    result.totals = totals
        .into_values()
        .map(|mut t| {
            t.fees_fen = fee_fen(t.fee_milli_fen).get();
            t.net_fen -= t.fees_fen;
            t
        })
        .collect();
    result
}

fn yuan(fen: Fen) -> String {
    format!("¥{}", format_fen(fen))
}

/// A day as the books calendar shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayStatus {
    /// No bill yet (before 10:30, or WeChat is still making it).
    Waiting,
    /// The bill agrees with our ledger (or healed with nothing left open).
    Matched,
    /// Something disagrees; see the discrepancies.
    Discrepancies,
    /// A bill was refused (its hash did not match) or could not be read.
    Refused,
    /// No bill arrived by noon although our ledger has money that day.
    Missing,
}

impl DayStatus {
    /// In Chinese.
    pub fn label(self) -> &'static str {
        match self {
            DayStatus::Waiting => "等待账单",
            DayStatus::Matched => "已核对一致",
            DayStatus::Discrepancies => "有差异",
            DayStatus::Refused => "账单被拒收",
            DayStatus::Missing => "账单未到",
        }
    }
}

/// One bill of a day (per merchant: the sub-merchant in the platform model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillState {
    /// The merchant id the bill is for.
    pub merchant: String,
    /// `waiting`, `done`, `no_bill`, `refused`, `missing`.
    pub state: String,
    /// Why (refusals, WeChat's error), in Chinese or WeChat's words.
    pub message: Option<String>,
    /// Tries so far.
    pub attempts: i64,
    /// SHA-1 of the trade bill as checked.
    pub trade_hash: Option<String>,
    /// Fund-flow bill: income (fen), when downloaded.
    pub fund_income_fen: Option<i64>,
    /// Fund-flow bill: expense (fen).
    pub fund_expense_fen: Option<i64>,
}

/// The report of one day (what `/api/dash/books/:date` answers and exports read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayReport {
    /// `yyyy-MM-dd` (Asia/Shanghai).
    pub date: String,
    /// The day at a glance.
    pub status: DayStatus,
    /// [`DayStatus::label`].
    pub status_label: String,
    /// Each bill of the day.
    pub bills: Vec<BillState>,
    /// Bill rows that agree with our ledger.
    pub matched: u32,
    /// Money per payee.
    pub totals: Vec<PayeeTotals>,
    /// Every disagreement, healed or not.
    pub discrepancies: Vec<Discrepancy>,
}

/// The day's status from its bills and open (unhealed) discrepancies.
pub fn day_status(bills: &[BillState], discrepancies: &[Discrepancy]) -> DayStatus {
    if bills.iter().any(|b| b.state == "refused") {
        DayStatus::Refused
    } else if bills.iter().any(|b| b.state == "missing") {
        DayStatus::Missing
    } else if bills.is_empty() || bills.iter().any(|b| b.state == "waiting") {
        DayStatus::Waiting
    } else if discrepancies.is_empty() {
        DayStatus::Matched
    } else {
        DayStatus::Discrepancies
    }
}

#[cfg(test)]
mod tests;
