//! The fund-flow bill (资金账单, `account_type=BASIC`): one row per movement of the basic
//! account, then `资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额`.

use serde::{Deserialize, Serialize};

use super::{
    check_total, format_cst_time, format_fen, lines, parse_cst_time, parse_fen, read, values,
    write_line, BillError, Columns,
};
use crate::money::Fen;

/// The header line.
pub const HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号";
/// The summary header.
pub const SUMMARY_HEADER: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";

const COLUMNS: [&str; 11] = [
    "记账时间",
    "微信支付业务单号",
    "资金流水单号",
    "业务名称",
    "业务类型",
    "收支类型",
    "收支金额（元）",
    "账户结余（元）",
    "资金变更提交申请人",
    "备注",
    "业务凭证号",
];

/// Money in or out (收支类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// 收入.
    In,
    /// 支出.
    Out,
}

impl Direction {
    /// As written in the bill.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "收入",
            Direction::Out => "支出",
        }
    }

    fn parse(s: &str) -> Option<Direction> {
        match s {
            "收入" => Some(Direction::In),
            "支出" => Some(Direction::Out),
            _ => None,
        }
    }
}

/// One movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundRow {
    /// 记账时间 (Unix seconds).
    pub time: i64,
    /// 微信支付业务单号 (a `transaction_id` or `refund_id`).
    pub business_no: String,
    /// 资金流水单号.
    pub flow_no: String,
    /// 业务名称 (e.g. `交易`, `退款`).
    pub name: String,
    /// 业务类型 (e.g. `交易`, `退款`, `扣除交易手续费`).
    pub kind: String,
    /// 收支类型.
    pub direction: Direction,
    /// 收支金额（元）.
    pub amount: Fen,
    /// 账户结余（元）.
    pub balance: Fen,
    /// 资金变更提交申请人.
    pub applicant: String,
    /// 备注.
    pub note: String,
    /// 业务凭证号.
    pub voucher: String,
}

/// The summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FundTotals {
    /// 资金流水总笔数.
    pub count: u64,
    /// 收入笔数.
    pub income_count: u64,
    /// 收入金额.
    pub income: Fen,
    /// 支出笔数.
    pub expense_count: u64,
    /// 支出金额.
    pub expense: Fen,
}

/// A parsed fund-flow bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundBill {
    /// Rows in file order.
    pub rows: Vec<FundRow>,
}

impl FundBill {
    /// What the summary line of these rows says.
    pub fn totals(&self) -> FundTotals {
        let mut t = FundTotals {
            count: self.rows.len() as u64,
            ..FundTotals::default()
        };
        for r in &self.rows {
            match r.direction {
                Direction::In => {
                    t.income_count += 1;
                    t.income = Fen::new(t.income.get() + r.amount.get());
                }
                Direction::Out => {
                    t.expense_count += 1;
                    t.expense = Fen::new(t.expense.get() + r.amount.get());
                }
            }
        }
        t
    }

    /// The file as WeChat writes it.
    pub fn render(&self) -> String {
        let mut out = String::from(HEADER);
        out.push_str("\r\n");
        for r in &self.rows {
            write_line(
                &mut out,
                &[
                    format_cst_time(r.time),
                    r.business_no.clone(),
                    r.flow_no.clone(),
                    r.name.clone(),
                    r.kind.clone(),
                    r.direction.as_str().to_string(),
                    format_fen(r.amount),
                    format_fen(r.balance),
                    r.applicant.clone(),
                    r.note.clone(),
                    r.voucher.clone(),
                ],
            );
        }
        out.push_str(SUMMARY_HEADER);
        out.push_str("\r\n");
        let t = self.totals();
        write_line(
            &mut out,
            &[
                t.count.to_string(),
                t.income_count.to_string(),
                format_fen(t.income),
                t.expense_count.to_string(),
                format_fen(t.expense),
            ],
        );
        out
    }

    /// Reads a fund-flow bill; the summary must equal the sum of the rows.
    pub fn parse(text: &str) -> Result<FundBill, BillError> {
        let lines = lines(text);
        let header = lines.first().ok_or(BillError::Empty)?;
        let columns = Columns::new(header);
        let idx = COLUMNS
            .iter()
            .map(|c| columns.index(c))
            .collect::<Result<Vec<_>, _>>()?;
        let summary_at = lines
            .iter()
            .position(|l| l.starts_with("资金流水总笔数"))
            .ok_or(BillError::NoSummary)?;
        if summary_at + 2 != lines.len() {
            return Err(BillError::NoSummary);
        }
        let mut rows = Vec::new();
        for (i, line) in lines[1..summary_at].iter().enumerate() {
            let number = i + 2;
            let v = values(line, number)?;
            if v.len() != columns.width() {
                return Err(BillError::Width {
                    line: number,
                    expected: columns.width(),
                    found: v.len(),
                });
            }
            let text = |k: usize| v[idx[k]].to_string();
            rows.push(FundRow {
                time: read(&v, idx[0], number, COLUMNS[0], parse_cst_time)?,
                business_no: text(1),
                flow_no: text(2),
                name: text(3),
                kind: text(4),
                direction: read(&v, idx[5], number, COLUMNS[5], Direction::parse)?,
                amount: read(&v, idx[6], number, COLUMNS[6], parse_fen)?,
                balance: read(&v, idx[7], number, COLUMNS[7], parse_fen)?,
                applicant: text(8),
                note: text(9),
                voucher: text(10),
            });
        }
        let bill = FundBill { rows };
        let summary = Columns::new(lines[summary_at]);
        let number = summary_at + 2;
        let v = values(lines[summary_at + 1], number)?;
        if v.len() != summary.width() {
            return Err(BillError::NoSummary);
        }
        let at = |name: &'static str| summary.index(name).map(|i| v[i]);
        let t = bill.totals();
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        check_total("资金流水总笔数", at("资金流水总笔数")?, 0, count(t.count))?;
        check_total("收入笔数", at("收入笔数")?, 0, count(t.income_count))?;
        check_total("收入金额", at("收入金额")?, 2, t.income.get())?;
        check_total("支出笔数", at("支出笔数")?, 0, count(t.expense_count))?;
        check_total("支出金额", at("支出金额")?, 2, t.expense.get())?;
        Ok(bill)
    }
}
