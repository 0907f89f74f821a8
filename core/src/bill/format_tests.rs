//! The bill formats: fixtures in WeChat's exact format, and parse ∘ render = identity.

use proptest::prelude::*;

use super::fund::{Direction, FundBill, FundRow};
use super::trade::{TradeBill, TradeKind, TradeRow};
use super::*;

const ALL: &str = include_str!("fixtures/trade_all.csv");
const SUCCESS: &str = include_str!("fixtures/trade_success.csv");
const REFUND: &str = include_str!("fixtures/trade_refund.csv");
const FUND: &str = include_str!("fixtures/fund_basic.csv");

#[test]
fn reads_an_all_bill_with_a_refund_row() {
    let bill = TradeBill::parse(ALL).unwrap();
    assert_eq!(bill.kind, TradeKind::All);
    assert_eq!(bill.rows.len(), 3);
    let first = &bill.rows[0];
    assert_eq!(first.out_trade_no, "S20210128170702357723");
    assert_eq!(first.transaction_id, "4200000925202101284997714292");
    assert_eq!(first.total, Fen::new(1));
    assert_eq!(first.sub_mchid, "0");
    assert_eq!(first.attach, "cipher code");
    assert_eq!(first.time, parse_cst_time("2021-01-28 17:07:11").unwrap());
    let refund = &bill.rows[2];
    assert!(refund.is_refund());
    assert_eq!(refund.out_refund_no, "R20210128180002");
    assert_eq!(refund.refund, Fen::new(3000));
    assert_eq!(refund.fee_milli_fen, -18_000);
    assert_eq!(bill.totals().fee_milli_fen, 42_000);
}

#[test]
fn reads_success_and_refund_bills_with_bom_and_crlf() {
    let bill = TradeBill::parse(SUCCESS).unwrap();
    assert_eq!(bill.kind, TradeKind::Success);
    assert_eq!(bill.rows[0].sub_mchid, "1900000110");
    assert_eq!(bill.rows[0].bank, "CMB_DEBIT");
    let bill = TradeBill::parse(REFUND).unwrap();
    assert_eq!(bill.kind, TradeKind::Refund);
    let row = &bill.rows[0];
    assert_eq!(
        row.refund_requested_at,
        parse_cst_time("2019-07-23 20:53:36")
    );
    assert_eq!(
        row.refund_succeeded_at,
        parse_cst_time("2019-07-23 20:53:40")
    );
    assert_eq!(row.refund_requested, Fen::new(334));
}

#[test]
fn reads_a_fund_flow_bill() {
    let bill = FundBill::parse(FUND).unwrap();
    assert_eq!(bill.rows.len(), 2);
    assert_eq!(bill.rows[0].direction, Direction::Out);
    assert_eq!(bill.rows[0].amount, Fen::new(2));
    assert_eq!(bill.rows[0].balance, Fen::new(17));
    assert_eq!(bill.rows[0].voucher, "REF4200000068201801293084726067");
    let t = bill.totals();
    assert_eq!(
        (t.income_count, t.income, t.expense),
        (1, Fen::new(100), Fen::new(2))
    );
}

#[test]
fn fixtures_render_back_to_themselves() {
    // The CRLF fixtures are byte-identical after a round trip (the \n one differs only in endings).
    for text in [REFUND, FUND] {
        let rendered = if text.starts_with("记账") {
            FundBill::parse(text).unwrap().render()
        } else {
            TradeBill::parse(text).unwrap().render()
        };
        assert_eq!(rendered, text);
    }
    assert_eq!(
        TradeBill::parse(ALL).unwrap().render(),
        ALL.replace('\n', "\r\n")
    );
    assert_eq!(
        TradeBill::parse(SUCCESS).unwrap().render(),
        SUCCESS.trim_start_matches('\u{feff}')
    );
}

#[test]
fn a_summary_that_disagrees_with_the_rows_is_an_error() {
    let wrong_total = ALL.replace("`3,`100.01,", "`3,`100.02,");
    assert!(matches!(
        TradeBill::parse(&wrong_total),
        Err(BillError::Totals {
            column: "应结订单总金额",
            ..
        })
    ));
    let wrong_count = ALL.replace("`3,`100.01,", "`4,`100.01,");
    assert!(matches!(
        TradeBill::parse(&wrong_count),
        Err(BillError::Totals {
            column: "总交易单数",
            ..
        })
    ));
    let wrong_fee = ALL.replace("`0.42000,", "`0.42001,");
    assert!(matches!(
        TradeBill::parse(&wrong_fee),
        Err(BillError::Totals {
            column: "手续费总金额",
            ..
        })
    ));
    let wrong_fund = FUND.replace("`1,`0.02", "`1,`0.03");
    assert!(matches!(
        FundBill::parse(&wrong_fund),
        Err(BillError::Totals {
            column: "支出金额",
            ..
        })
    ));
}

#[test]
fn malformed_files_are_refused() {
    assert_eq!(TradeBill::parse(""), Err(BillError::Empty));
    let no_summary: String = ALL.lines().take(4).collect::<Vec<_>>().join("\n");
    assert_eq!(TradeBill::parse(&no_summary), Err(BillError::NoSummary));
    let no_backtick = ALL.replacen("`2021-01-28 17:07:11", "2021-01-28 17:07:11", 1);
    assert_eq!(
        TradeBill::parse(&no_backtick),
        Err(BillError::Backtick { line: 2 })
    );
    let bad_amount = ALL.replacen("`100.00,`0.00,`0,", "`1e2,`0.00,`0,", 1);
    assert!(matches!(
        TradeBill::parse(&bad_amount),
        Err(BillError::Value {
            line: 3,
            column: "应结订单金额",
            ..
        })
    ));
    let extra_value = ALL.replacen("`cipher code,", "`cipher,`code,", 1);
    assert!(matches!(
        TradeBill::parse(&extra_value),
        Err(BillError::Width { line: 2, .. })
    ));
    let missing_column = ALL.replacen("商户订单号", "商户单号", 1);
    assert_eq!(
        TradeBill::parse(&missing_column),
        Err(BillError::MissingColumn("商户订单号"))
    );
}

// ---- property tests: any bill renders and reads back to itself, totals included ----------

fn text() -> impl Strategy<Value = String> {
    // Bill values never hold commas (the renderer swaps them), CR/LF or a leading backtick.
    "[a-zA-Z0-9_\\-\\u{4e00}-\\u{4e20} ]{0,12}".prop_map(|s| s.trim_start_matches('`').to_string())
}

fn id() -> impl Strategy<Value = String> {
    "[0-9]{1,28}"
}

fn time() -> impl Strategy<Value = i64> {
    1_500_000_000i64..2_000_000_000
}

fn fen() -> impl Strategy<Value = Fen> {
    (0i64..10_000_000).prop_map(Fen::new)
}

fn trade_row(kind: TradeKind) -> impl Strategy<Value = TradeRow> {
    let refund = kind != TradeKind::Success;
    let times = kind == TradeKind::Refund;
    (
        (time(), text(), id(), id(), text(), id(), text(), text()),
        (
            text(),
            prop::bool::ANY,
            text(),
            fen(),
            fen(),
            text(),
            text(),
        ),
        (
            -10_000_000i64..10_000_000,
            text(),
            fen(),
            fen(),
            fen(),
            fen(),
        ),
        (
            id(),
            id(),
            text(),
            text(),
            prop::option::of(time()),
            prop::option::of(time()),
        ),
    )
        .prop_map(move |(a, b, c, d)| TradeRow {
            time: a.0,
            appid: a.1,
            mchid: a.2,
            sub_mchid: a.3,
            device: a.4,
            transaction_id: a.5,
            out_trade_no: a.6,
            openid: a.7,
            trade_type: b.0,
            state: if b.1 {
                "SUCCESS".into()
            } else {
                "REFUND".into()
            },
            bank: b.2,
            currency: "CNY".into(),
            settled: b.3,
            coupon: b.4,
            refund_requested_at: if times { d.4 } else { None },
            refund_succeeded_at: if times { d.5 } else { None },
            refund_id: if refund { d.0 } else { String::new() },
            out_refund_no: if refund { d.1 } else { String::new() },
            refund: if refund { c.2 } else { Fen::ZERO },
            coupon_refund: if refund { c.3 } else { Fen::ZERO },
            refund_type: if refund { d.2 } else { String::new() },
            refund_status: if refund { d.3 } else { String::new() },
            description: b.5,
            attach: b.6,
            fee_milli_fen: c.0,
            rate: c.1,
            total: c.4,
            refund_requested: if refund { c.5 } else { Fen::ZERO },
            rate_note: String::new(),
        })
}

fn trade_bill() -> impl Strategy<Value = TradeBill> {
    prop_oneof![
        Just(TradeKind::All),
        Just(TradeKind::Success),
        Just(TradeKind::Refund)
    ]
    .prop_flat_map(|kind| {
        prop::collection::vec(trade_row(kind), 0..8).prop_map(move |rows| TradeBill { kind, rows })
    })
}

fn fund_bill() -> impl Strategy<Value = FundBill> {
    prop::collection::vec(
        (
            time(),
            id(),
            id(),
            text(),
            text(),
            prop::bool::ANY,
            fen(),
            fen(),
            text(),
            text(),
            id(),
        ),
        0..8,
    )
    .prop_map(|rows| FundBill {
        rows: rows
            .into_iter()
            .map(|r| FundRow {
                time: r.0,
                business_no: r.1,
                flow_no: r.2,
                name: r.3,
                kind: r.4,
                direction: if r.5 { Direction::In } else { Direction::Out },
                amount: r.6,
                balance: r.7,
                applicant: r.8,
                note: r.9,
                voucher: r.10,
            })
            .collect(),
    })
}

proptest! {
    #[test]
    fn trade_bills_round_trip(bill in trade_bill()) {
        let text = bill.render();
        prop_assert_eq!(TradeBill::parse(&text), Ok(bill.clone()));
        // The summary line is the sum of the rows: changing any one total is caught.
        let t = bill.totals();
        let summary = text.lines().last().unwrap().to_string();
        let wrong = summary.replacen(&format!("`{}", t.count), &format!("`{}", t.count + 1), 1);
        let tampered = text.replace(&summary, &wrong);
        let refused = matches!(TradeBill::parse(&tampered), Err(BillError::Totals { .. }));
        prop_assert!(refused, "a wrong count was accepted");
    }

    #[test]
    fn fund_bills_round_trip(bill in fund_bill()) {
        let text = bill.render();
        prop_assert_eq!(FundBill::parse(&text), Ok(bill));
    }

    #[test]
    fn gzip_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        prop_assert_eq!(gzip::gunzip(&gzip::gzip(&bytes)), Ok(bytes));
    }
}
