use super::*;
use crate::bill::trade::{TradeBill, TradeKind, TradeRow};
use crate::bill::{format_cst_time, parse_cst_time};

fn day() -> ShanghaiDay {
    ShanghaiDay::of(parse_cst_time("2026-11-28 12:00:00").unwrap())
}

fn at(hms: &str) -> i64 {
    parse_cst_time(&format!("2026-11-28 {hms}")).unwrap()
}

fn payment(no: &str, tx: &str, fen: i64) -> TradeRow {
    TradeRow {
        time: at("10:00:00"),
        appid: "wx1".into(),
        mchid: "1900000109".into(),
        sub_mchid: "0".into(),
        device: String::new(),
        transaction_id: tx.into(),
        out_trade_no: no.into(),
        openid: "o-payer".into(),
        trade_type: "JSAPI".into(),
        state: "SUCCESS".into(),
        bank: "OTHERS".into(),
        currency: "CNY".into(),
        settled: Fen::new(fen),
        coupon: Fen::ZERO,
        refund_requested_at: None,
        refund_succeeded_at: None,
        refund_id: "0".into(),
        out_refund_no: "0".into(),
        refund: Fen::ZERO,
        coupon_refund: Fen::ZERO,
        refund_type: String::new(),
        refund_status: String::new(),
        description: "午餐".into(),
        attach: String::new(),
        fee_milli_fen: fen * 6,
        rate: "0.60%".into(),
        total: Fen::new(fen),
        refund_requested: Fen::ZERO,
        rate_note: String::new(),
    }
}

fn refund_row(no: &str, tx: &str, out_refund_no: &str, fen: i64) -> TradeRow {
    TradeRow {
        state: "REFUND".into(),
        settled: Fen::ZERO,
        total: Fen::ZERO,
        refund_id: format!("5000{out_refund_no}"),
        out_refund_no: out_refund_no.into(),
        refund: Fen::new(fen),
        refund_requested: Fen::new(fen),
        refund_type: "ORIGINAL".into(),
        refund_status: "SUCCESS".into(),
        fee_milli_fen: -fen * 6,
        time: at("11:00:00"),
        ..payment(no, tx, 0)
    }
}

fn ours(no: &str, tx: Option<&str>, fen: i64, paid: bool, payee: &str) -> OurOrder {
    OurOrder {
        out_trade_no: no.into(),
        transaction_id: tx.map(str::to_string),
        amount: Fen::new(fen),
        paid,
        paid_at: paid.then(|| at("10:00:00")),
        payee: Some(payee.into()),
    }
}

fn our_refund(no: &str, out_refund_no: &str, fen: i64, payee: &str) -> OurRefund {
    OurRefund {
        out_refund_no: out_refund_no.into(),
        out_trade_no: no.into(),
        amount: Fen::new(fen),
        succeeded: true,
        created_at: at("11:00:00"),
        payee: Some(payee.into()),
    }
}

fn bill(rows: Vec<TradeRow>) -> TradeBill {
    TradeBill {
        kind: TradeKind::All,
        rows,
    }
}

#[test]
fn a_bill_that_agrees_has_no_discrepancies_and_totals_per_payee() {
    let bill = bill(vec![
        payment("A1", "42001", 10_000),
        payment("B1", "42002", 2_000),
        refund_row("A1", "42001", "RA1", 3_000),
    ]);
    let orders = [
        ours("A1", Some("42001"), 10_000, true, "alice"),
        ours("B1", Some("42002"), 2_000, true, "bob"),
    ];
    let refunds = [our_refund("A1", "RA1", 3_000, "alice")];
    let r = reconcile(day(), &bill, &orders, &refunds, None);
    assert_eq!(r.discrepancies, vec![]);
    assert_eq!((r.matched_payments, r.matched_refunds), (2, 1));
    let alice = &r.totals[0];
    assert_eq!(alice.payee.as_deref(), Some("alice"));
    assert_eq!((alice.payments, alice.paid_fen), (1, 10_000));
    assert_eq!((alice.refunds, alice.refunded_fen), (1, 3_000));
    // Fees: 60 fen on the payment, 18 back on the refund.
    assert_eq!(alice.fee_milli_fen, 42_000);
    assert_eq!(alice.fees_fen, 42);
    assert_eq!(alice.net_fen, 10_000 - 3_000 - 42);
    assert_eq!(r.totals[1].payee.as_deref(), Some("bob"));
    assert_eq!(r.totals[1].net_fen, 2_000 - 12);
}

#[test]
fn each_kind_of_disagreement_is_reported_with_its_evidence() {
    let bill = bill(vec![
        payment("UNDELIVERED", "42001", 500),
        payment("WRONG", "42002", 999),
        payment("STRANGER", "42003", 100),
        payment("OTHERTX", "42009", 100),
        refund_row("WRONG", "42002", "ONLYWECHAT", 200),
        refund_row("OK", "42004", "RWRONG", 150),
    ]);
    // Paid the day before: its refund is in this bill, its payment is not.
    let mut paid_before = ours("OK", Some("42004"), 300, true, "alice");
    paid_before.paid_at = Some(at("00:00:00") - 60);
    let orders = [
        ours("UNDELIVERED", None, 500, false, "alice"),
        ours("WRONG", Some("42002"), 1_000, true, "alice"),
        paid_before,
        ours("OTHERTX", Some("42008"), 100, true, "alice"),
        ours("LOST", Some("42005"), 700, true, "alice"),
    ];
    let refunds = [
        our_refund("OK", "RWRONG", 100, "alice"),
        our_refund("OK", "RMISSING", 50, "alice"),
    ];
    let r = reconcile(day(), &bill, &orders, &refunds, Some("platform-payee"));
    let kinds: Vec<(DiscrepancyKind, &str)> =
        r.discrepancies.iter().map(|d| (d.kind, d.key())).collect();
    assert_eq!(
        kinds,
        vec![
            (DiscrepancyKind::PaidNotHere, "UNDELIVERED"),
            (DiscrepancyKind::AmountMismatch, "WRONG"),
            (DiscrepancyKind::PaidNotHere, "STRANGER"),
            (DiscrepancyKind::TransactionMismatch, "OTHERTX"),
            (DiscrepancyKind::RefundNotHere, "ONLYWECHAT"),
            (DiscrepancyKind::RefundAmountMismatch, "RWRONG"),
            (DiscrepancyKind::PaidNotAtWechat, "LOST"),
            (DiscrepancyKind::RefundNotAtWechat, "RMISSING"),
        ]
    );
    let undelivered = &r.discrepancies[0];
    assert!(undelivered.order_known);
    assert_eq!(undelivered.transaction_id.as_deref(), Some("42001"));
    assert_eq!(undelivered.bill_fen, Some(500));
    // Evidence keeps the bill row, without the payer's openid.
    let row = undelivered.bill_row.as_ref().unwrap();
    assert_eq!(row.out_trade_no, "UNDELIVERED");
    assert_eq!(row.openid, "");
    let wrong = &r.discrepancies[1];
    assert_eq!((wrong.bill_fen, wrong.our_fen), (Some(999), Some(1_000)));
    assert!(wrong.message.contains("¥9.99") && wrong.message.contains("¥10.00"));
    // A row nobody here owns belongs to the default payee, and cannot be healed by a query.
    let stranger = &r.discrepancies[2];
    assert!(!stranger.order_known);
    assert_eq!(stranger.payee.as_deref(), Some("platform-payee"));
    assert_eq!(
        r.discrepancies[4].refund_id.as_deref(),
        Some("5000ONLYWECHAT")
    );
    assert_eq!((r.matched_payments, r.matched_refunds), (0, 0));
}

#[test]
fn payments_of_other_days_are_not_missing_from_this_bill() {
    let mut yesterday = ours("OLD", Some("42001"), 500, true, "alice");
    yesterday.paid_at = Some(at("00:00:00") - 1);
    let r = reconcile(day(), &bill(vec![]), &[yesterday], &[], None);
    assert!(r.discrepancies.is_empty());
    assert_eq!(format_cst_time(at("00:00:00") - 1), "2026-11-27 23:59:59");
}

#[test]
fn reconciling_twice_gives_the_same_answer() {
    let bill = bill(vec![payment("A", "1", 1), payment("B", "2", 2)]);
    let orders = [ours("A", Some("1"), 2, true, "x")];
    assert_eq!(
        reconcile(day(), &bill, &orders, &[], None),
        reconcile(day(), &bill, &orders, &[], None)
    );
}

#[test]
fn kinds_round_trip_through_their_names() {
    for kind in ALL_KINDS {
        assert_eq!(DiscrepancyKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(DiscrepancyKind::parse("nope"), None);
}

#[test]
fn the_day_status_follows_the_bills_and_open_discrepancies() {
    let state = |s: &str| BillState {
        merchant: "1".into(),
        state: s.into(),
        message: None,
        attempts: 1,
        trade_hash: None,
        fund_income_fen: None,
        fund_expense_fen: None,
    };
    assert_eq!(day_status(&[], &[]), DayStatus::Waiting);
    assert_eq!(day_status(&[state("done")], &[]), DayStatus::Matched);
    assert_eq!(day_status(&[state("no_bill")], &[]), DayStatus::Matched);
    assert_eq!(
        day_status(&[state("done"), state("refused")], &[]),
        DayStatus::Refused
    );
    assert_eq!(day_status(&[state("waiting")], &[]), DayStatus::Waiting);
}
