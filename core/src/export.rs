//! Exports for accounting: payments, refunds and the reconciliation's daily report (with
//! WeChat's fees and the net settled amount, `core::bill::DayReport`) per Asia/Shanghai day
//! or range, as CSV for
//! spreadsheets (`core::csv`: BOM, CRLF, formula cells defused) or JSON for programs. The
//! columns are fixed and documented here ([`PAYMENT_COLUMNS`], [`REFUND_COLUMNS`]); amounts
//! are yuan with two decimals in CSV and both fen and yuan in JSON.

use serde::Serialize;

use crate::bill::DayReport;
use crate::csv::Csv;
use crate::money::Fen;
use crate::paytime::{display_cst, ShanghaiDay};

/// The longest range one export covers, in days.
pub const MAX_RANGE_DAYS: i64 = 366;

/// CSV header of a payments export.
pub const PAYMENT_COLUMNS: [&str; 10] = [
    "付款时间",
    "商户订单号",
    "微信支付单号",
    "收款项目",
    "收款项目ID",
    "收款人",
    "特约商户号",
    "金额（元）",
    "已退款（元）",
    "状态",
];

/// CSV header of a refunds export.
pub const REFUND_COLUMNS: [&str; 8] = [
    "申请时间",
    "商户退款单号",
    "商户订单号",
    "微信退款单号",
    "收款人",
    "金额（元）",
    "原因",
    "状态",
];

/// CSV header of a daily-report export: one row per day and payee (a day without money is
/// one row with its status).
pub const REPORT_COLUMNS: [&str; 10] = [
    "日期",
    "对账状态",
    "收款人",
    "收款笔数",
    "收款金额（元）",
    "退款笔数",
    "退款金额（元）",
    "手续费（元）",
    "结算净额（元）",
    "未解决差异",
];

/// The longest range of a daily-report export (each day is its own report).
pub const MAX_REPORT_DAYS: i64 = 31;

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Paid orders (by payment time).
    Payments,
    /// Refunds (by request time).
    Refunds,
    /// The reconciliation's daily reports (fees, net settled, discrepancies).
    Report,
}

impl Kind {
    /// `payments` / `refunds`.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "payments" => Some(Kind::Payments),
            "refunds" => Some(Kind::Refunds),
            "report" => Some(Kind::Report),
            _ => None,
        }
    }

    /// The name used in paths and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Payments => "payments",
            Kind::Refunds => "refunds",
            Kind::Report => "report",
        }
    }
}

/// CSV or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// UTF-8 with BOM, for Excel / WPS.
    Csv,
    /// `{from, to, rows}`.
    Json,
}

impl Format {
    /// `csv` / `json`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// A range of Shanghai days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    /// First day.
    pub from: ShanghaiDay,
    /// Last day (included).
    pub to: ShanghaiDay,
}

/// Why a range is refused (the message is for people).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// Not `YYYY-MM-DD`.
    #[error("日期格式应为 YYYY-MM-DD")]
    BadDate,
    /// `to` before `from`.
    #[error("结束日期不能早于开始日期")]
    Reversed,
    /// Over [`MAX_RANGE_DAYS`].
    #[error("一次最多导出 366 天")]
    TooLong,
}

/// Parses `YYYY-MM-DD` as a Shanghai day.
pub fn parse_day(text: &str) -> Option<ShanghaiDay> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    // Reuse the RFC 3339 parser (which checks the calendar) at Shanghai midnight.
    let unix = crate::paytime::parse_rfc3339(&format!("{text}T00:00:00+08:00"))?;
    let day = ShanghaiDay::of(unix);
    (day.to_date_string() == text).then_some(day)
}

impl DayRange {
    /// `date` alone is one day; with `to`, the days from `date` to `to`.
    pub fn parse(date: &str, to: Option<&str>) -> Result<DayRange, RangeError> {
        let from = parse_day(date.trim()).ok_or(RangeError::BadDate)?;
        let to = match to.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => parse_day(t).ok_or(RangeError::BadDate)?,
            None => from,
        };
        if to < from {
            return Err(RangeError::Reversed);
        }
        if to.number() - from.number() + 1 > MAX_RANGE_DAYS {
            return Err(RangeError::TooLong);
        }
        Ok(DayRange { from, to })
    }

    /// Every day of the range, in order.
    pub fn days(self) -> impl Iterator<Item = ShanghaiDay> {
        (self.from.number()..=self.to.number()).map(ShanghaiDay::from_number)
    }

    /// Unix seconds `[start, end)` of the range.
    pub fn unix_bounds(self) -> (i64, i64) {
        (self.from.start(), self.to.end())
    }

    /// `2026-11-28` or `2026-11-01_2026-11-30`, for file names.
    pub fn label(self) -> String {
        if self.from == self.to {
            self.from.to_date_string()
        } else {
            format!(
                "{}_{}",
                self.from.to_date_string(),
                self.to.to_date_string()
            )
        }
    }
}

/// One paid order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRow {
    /// Unix seconds (JSON: also `paid_at_text`).
    pub paid_at: i64,
    /// Our order number.
    pub out_trade_no: String,
    /// WeChat Pay's.
    pub transaction_id: String,
    /// Collection title.
    pub collection: String,
    /// Collection id.
    pub collection_id: String,
    /// Payee name on the collection.
    pub payee: String,
    /// Platform: the sub-merchant; empty for direct orders.
    pub sub_mchid: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// Refunded so far, fen.
    pub refunded_fen: i64,
    /// Order state (`paid`, `refunding`, `refunded`).
    pub state: String,
}

/// One refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundRow {
    /// Unix seconds of the request.
    pub created_at: i64,
    /// Ours.
    pub out_refund_no: String,
    /// The order's number.
    pub out_trade_no: String,
    /// WeChat's refund id, once known.
    pub refund_id: String,
    /// Payee name on the collection.
    pub payee: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// Reason.
    pub reason: String,
    /// `processing`, `success`, `closed`, `abnormal`.
    pub state: String,
}

fn state_text(state: &str) -> &str {
    match state {
        "paid" => "已支付",
        "refunding" => "退款中",
        "refunded" => "已全额退款",
        "processing" => "处理中",
        "success" => "退款成功",
        "closed" => "已关闭",
        "abnormal" => "异常",
        other => other,
    }
}

/// Payments as CSV ([`PAYMENT_COLUMNS`]).
pub fn payments_csv(rows: &[PaymentRow]) -> String {
    let mut csv = Csv::new();
    csv.row(&PAYMENT_COLUMNS);
    for r in rows {
        csv.row(&[
            display_cst(r.paid_at),
            r.out_trade_no.clone(),
            r.transaction_id.clone(),
            r.collection.clone(),
            r.collection_id.clone(),
            r.payee.clone(),
            r.sub_mchid.clone(),
            Fen::new(r.amount_fen).to_yuan_string(),
            Fen::new(r.refunded_fen).to_yuan_string(),
            state_text(&r.state).to_string(),
        ]);
    }
    csv.finish()
}

/// Refunds as CSV ([`REFUND_COLUMNS`]).
pub fn refunds_csv(rows: &[RefundRow]) -> String {
    let mut csv = Csv::new();
    csv.row(&REFUND_COLUMNS);
    for r in rows {
        csv.row(&[
            display_cst(r.created_at),
            r.out_refund_no.clone(),
            r.out_trade_no.clone(),
            r.refund_id.clone(),
            r.payee.clone(),
            Fen::new(r.amount_fen).to_yuan_string(),
            r.reason.clone(),
            state_text(&r.state).to_string(),
        ]);
    }
    csv.finish()
}

/// Daily reports as CSV ([`REPORT_COLUMNS`]); `payee_name` turns a payee id (openid) into
/// what the reader knows it by.
pub fn report_csv(reports: &[DayReport], payee_name: impl Fn(&str) -> String) -> String {
    let mut csv = Csv::new();
    csv.row(&REPORT_COLUMNS);
    for report in reports {
        let open = |payee: Option<&str>| {
            report
                .discrepancies
                .iter()
                .filter(|d| d.healed_at.is_none() && d.payee.as_deref() == payee)
                .count()
        };
        if report.totals.is_empty() {
            csv.row(&[
                report.date.clone(),
                report.status_label.clone(),
                String::new(),
                "0".into(),
                "0.00".into(),
                "0".into(),
                "0.00".into(),
                "0.00".into(),
                "0.00".into(),
                report
                    .discrepancies
                    .iter()
                    .filter(|d| d.healed_at.is_none())
                    .count()
                    .to_string(),
            ]);
        }
        for t in &report.totals {
            let yuan = |fen: i64| Fen::new(fen).to_yuan_string();
            csv.row(&[
                report.date.clone(),
                report.status_label.clone(),
                t.payee
                    .as_deref()
                    .map(&payee_name)
                    .unwrap_or_else(|| "（未知收款人）".into()),
                t.payments.to_string(),
                yuan(t.paid_fen),
                t.refunds.to_string(),
                yuan(t.refunded_fen),
                yuan(t.fees_fen),
                yuan(t.net_fen),
                open(t.payee.as_deref()).to_string(),
            ]);
        }
    }
    csv.finish()
}

/// The JSON document of an export: `{kind, from, to, count, total_fen, rows}`; every row has
/// its amounts in fen and `*_text` times in China time.
pub fn json_document<T: Serialize>(
    kind: Kind,
    range: DayRange,
    rows: &[T],
    total: Fen,
) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let mut value = serde_json::to_value(row).unwrap_or_default();
            if let Some(obj) = value.as_object_mut() {
                for key in ["paid_at", "created_at"] {
                    if let Some(t) = obj.get(key).and_then(serde_json::Value::as_i64) {
                        obj.insert(format!("{key}_text"), display_cst(t).into());
                    }
                }
            }
            value
        })
        .collect();
    serde_json::json!({
        "kind": kind.as_str(),
        "from": range.from.to_date_string(),
        "to": range.to.to_date_string(),
        "count": rows.len(),
        "total_fen": total.get(),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment() -> PaymentRow {
        PaymentRow {
            paid_at: 1_764_322_031,
            out_trade_no: "SK1".into(),
            transaction_id: "4200000001".into(),
            collection: "=HYPERLINK(\"x\") 课程费".into(),
            collection_id: "c1".into(),
            payee: "张三".into(),
            sub_mchid: String::new(),
            amount_fen: 1234,
            refunded_fen: 0,
            state: "paid".into(),
        }
    }

    #[test]
    fn payments_csv_has_the_bom_the_columns_and_defused_cells() {
        let text = payments_csv(&[payment()]);
        assert!(text.starts_with("\u{feff}付款时间,商户订单号,微信支付单号,"));
        let line = text.lines().nth(1).unwrap();
        assert!(
            line.starts_with("2025-11-28 17:27:11,SK1,4200000001,"),
            "{line}"
        );
        assert!(line.contains("\"'=HYPERLINK(\"\"x\"\") 课程费\""), "{line}");
        assert!(line.ends_with(",12.34,0.00,已支付"), "{line}");
    }

    #[test]
    fn refunds_csv_lists_each_refund() {
        let text = refunds_csv(&[RefundRow {
            created_at: 0,
            out_refund_no: "RF1".into(),
            out_trade_no: "SK1".into(),
            refund_id: String::new(),
            payee: "李四".into(),
            amount_fen: 5,
            reason: "退课".into(),
            state: "success".into(),
        }]);
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "1970-01-01 08:00:00,RF1,SK1,,李四,0.05,退课,退款成功"
        );
    }

    #[test]
    fn report_csv_has_one_row_per_day_and_payee_with_fees_and_net() {
        use crate::bill::reconcile::PayeeTotals;
        use crate::bill::report::DayStatus;
        let day = |date: &str, totals: Vec<PayeeTotals>| DayReport {
            date: date.into(),
            status: DayStatus::Matched,
            status_label: DayStatus::Matched.label().into(),
            bills: vec![],
            matched: 1,
            totals,
            discrepancies: vec![],
        };
        let totals = PayeeTotals {
            payee: Some("oPAYEE".into()),
            payments: 2,
            paid_fen: 1284,
            refunds: 1,
            refunded_fen: 200,
            fee_milli_fen: 7_704,
            fees_fen: 8,
            net_fen: 1076,
        };
        let text = report_csv(
            &[day("2026-11-27", vec![]), day("2026-11-28", vec![totals])],
            |openid| format!("<{openid}>"),
        );
        let lines: Vec<&str> = text.trim_start_matches(crate::csv::BOM).lines().collect();
        assert_eq!(lines[0], REPORT_COLUMNS.join(","));
        assert_eq!(lines[1], "2026-11-27,已核对一致,,0,0.00,0,0.00,0.00,0.00,0");
        assert_eq!(
            lines[2],
            "2026-11-28,已核对一致,<oPAYEE>,2,12.84,1,2.00,0.08,10.76,0"
        );
        let range = DayRange::parse("2026-11-27", Some("2026-11-28")).unwrap();
        assert_eq!(range.days().count(), 2);
    }

    #[test]
    fn ranges_are_shanghai_days() {
        let one = DayRange::parse("2026-11-28", None).unwrap();
        assert_eq!(one.from, one.to);
        let (start, end) = one.unix_bounds();
        assert_eq!(
            crate::paytime::rfc3339_cst(start),
            "2026-11-28T00:00:00+08:00"
        );
        assert_eq!(end - start, 86_400);
        assert_eq!(one.label(), "2026-11-28");
        let many = DayRange::parse("2026-11-01", Some("2026-11-30")).unwrap();
        assert_eq!(many.label(), "2026-11-01_2026-11-30");
        assert_eq!(
            DayRange::parse("2026-02-30", None),
            Err(RangeError::BadDate)
        );
        assert_eq!(
            DayRange::parse("2026/11/01", None),
            Err(RangeError::BadDate)
        );
        assert_eq!(
            DayRange::parse("2026-11-02", Some("2026-11-01")),
            Err(RangeError::Reversed)
        );
        assert_eq!(
            DayRange::parse("2025-01-01", Some("2026-11-01")),
            Err(RangeError::TooLong)
        );
    }

    #[test]
    fn json_rows_keep_fen_and_add_china_time() {
        let range = DayRange::parse("2025-11-28", None).unwrap();
        let doc = json_document(Kind::Payments, range, &[payment()], Fen::new(1234));
        assert_eq!(doc["count"], 1);
        assert_eq!(doc["total_fen"], 1234);
        assert_eq!(doc["rows"][0]["amount_fen"], 1234);
        assert_eq!(doc["rows"][0]["paid_at_text"], "2025-11-28 17:27:11");
    }
}
