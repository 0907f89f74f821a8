//! The day report and the month calendar, read from the tables of migration 0009. `payee`
//! narrows everything to one payee's money (None: the operator's view of all of it).

use serde::{Deserialize, Serialize};
use shoukuan_core::bill::reconcile::{
    day_status, BillState, DayReport, DayStatus, Discrepancy, DiscrepancyKind, PayeeTotals,
};
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::ledger::{DayRow, DAY_COLUMNS};
use crate::error::ApiError;

fn opt(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, Into::into)
}

/// The bills a viewer sees: all (operator), or the payee's own sub-merchant bills and the
/// shared bills of the merchant's own account.
async fn bills(
    env: &Env,
    filter: &str,
    arg: &str,
    payee: Option<&str>,
) -> Result<Vec<DayRow>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(format!(
            "SELECT {DAY_COLUMNS} FROM book_days WHERE {filter} \
             AND (?2 IS NULL OR payee_openid IS NULL OR payee_openid = ?2) ORDER BY bill_date, merchant"
        ))
        .bind(&[arg.into(), opt(payee)])?
        .all()
        .await?
        .results::<DayRow>()?)
}

#[derive(Deserialize)]
struct DiscrepancyRow {
    bill_date: String,
    kind: String,
    payee_openid: Option<String>,
    evidence: String,
    healed_at: Option<i64>,
    heal: Option<String>,
}

async fn discrepancies(
    env: &Env,
    filter: &str,
    arg: &str,
    payee: Option<&str>,
) -> Result<Vec<(String, Discrepancy)>, ApiError> {
    let rows = env
        .d1("DB")?
        .prepare(format!(
            "SELECT bill_date, kind, payee_openid, evidence, healed_at, heal FROM book_discrepancies \
             WHERE {filter} AND (?2 IS NULL OR payee_openid = ?2) ORDER BY bill_date, id"
        ))
        .bind(&[arg.into(), opt(payee)])?
        .all()
        .await?
        .results::<DiscrepancyRow>()?;
    rows.into_iter()
        .map(|r| {
            let mut d: Discrepancy = serde_json::from_str(&r.evidence)
                .map_err(|e| ApiError::Internal(format!("discrepancy evidence: {e}")))?;
            if DiscrepancyKind::parse(&r.kind) != Some(d.kind) {
                return Err(ApiError::Internal(format!("discrepancy kind {}", r.kind)));
            }
            d.payee = r.payee_openid;
            d.healed_at = r.healed_at;
            d.heal = r.heal;
            Ok((r.bill_date, d))
        })
        .collect()
}

fn bill_state(row: DayRow) -> BillState {
    BillState {
        merchant: row.merchant,
        state: row.state,
        message: row.message,
        attempts: row.attempts,
        trade_hash: row.trade_hash,
        fund_income_fen: row.fund_income_fen,
        fund_expense_fen: row.fund_expense_fen,
    }
}

/// Healed discrepancies stay in the report (with what healed them) but no longer make the day
/// inconsistent.
fn open(discrepancies: &[Discrepancy]) -> Vec<Discrepancy> {
    discrepancies
        .iter()
        .filter(|d| d.healed_at.is_none())
        .cloned()
        .collect()
}

/// The report of `date` (yyyy-MM-dd) as `payee` (None: everyone) sees it.
pub async fn day_report(env: &Env, date: &str, payee: Option<&str>) -> Result<DayReport, ApiError> {
    let bills: Vec<BillState> = bills(env, "bill_date = ?1", date, payee)
        .await?
        .into_iter()
        .map(bill_state)
        .collect();
    let discrepancies: Vec<Discrepancy> = discrepancies(env, "bill_date = ?1", date, payee)
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    #[derive(Deserialize)]
    struct TotalsRow {
        payee_openid: String,
        payments: i64,
        paid_fen: i64,
        refunds: i64,
        refunded_fen: i64,
        fee_milli_fen: i64,
        fees_fen: i64,
        net_fen: i64,
    }
    let totals: Vec<PayeeTotals> = env
        .d1("DB")?
        .prepare(
            "SELECT payee_openid, SUM(payments) AS payments, SUM(paid_fen) AS paid_fen, \
             SUM(refunds) AS refunds, SUM(refunded_fen) AS refunded_fen, SUM(fee_milli_fen) AS fee_milli_fen, \
             SUM(fees_fen) AS fees_fen, SUM(net_fen) AS net_fen FROM book_totals \
             WHERE bill_date = ?1 AND (?2 IS NULL OR payee_openid = ?2) GROUP BY payee_openid ORDER BY payee_openid",
        )
        .bind(&[date.into(), opt(payee)])?
        .all()
        .await?
        .results::<TotalsRow>()?
        .into_iter()
        .map(|t| PayeeTotals {
            payee: (!t.payee_openid.is_empty()).then_some(t.payee_openid),
            payments: t.payments as u32,
            paid_fen: t.paid_fen,
            refunds: t.refunds as u32,
            refunded_fen: t.refunded_fen,
            fee_milli_fen: t.fee_milli_fen,
            fees_fen: t.fees_fen,
            net_fen: t.net_fen,
        })
        .collect();
    // Bill rows that agree: every row of the bill minus those a discrepancy is about (stable
    // across re-runs, as discrepancy rows are never removed).
    let rows: u32 = totals.iter().map(|t| t.payments + t.refunds).sum();
    let disputed = discrepancies
        .iter()
        .filter(|d| d.bill_row.is_some())
        .count() as u32;
    let status = day_status(&bills, &open(&discrepancies));
    Ok(DayReport {
        date: date.to_string(),
        status,
        status_label: status.label().to_string(),
        bills,
        matched: rows.saturating_sub(disputed),
        totals,
        discrepancies,
    })
}

/// One day of the calendar.
#[derive(Debug, Serialize)]
pub struct CalendarDay {
    /// yyyy-MM-dd.
    pub date: String,
    /// At a glance.
    pub status: DayStatus,
    /// In Chinese.
    pub status_label: &'static str,
    /// Discrepancies (healed or not).
    pub discrepancies: u32,
    /// Not healed.
    pub open: u32,
}

/// The days of `month` (yyyy-MM) that have bills, as `payee` (None: everyone) sees them.
pub async fn calendar(
    env: &Env,
    month: &str,
    payee: Option<&str>,
) -> Result<Vec<CalendarDay>, ApiError> {
    let like = format!("{month}-%");
    let days = bills(env, "bill_date LIKE ?1", &like, payee).await?;
    let found = discrepancies(env, "bill_date LIKE ?1", &like, payee).await?;
    let mut out: Vec<CalendarDay> = Vec::new();
    let mut dates: Vec<&str> = days.iter().map(|d| d.bill_date.as_str()).collect();
    dates.dedup();
    for date in dates {
        let bills: Vec<BillState> = days
            .iter()
            .filter(|d| d.bill_date == date)
            .cloned()
            .map(bill_state)
            .collect();
        let of_day: Vec<Discrepancy> = found
            .iter()
            .filter(|(d, _)| d == date)
            .map(|(_, x)| x.clone())
            .collect();
        let open = open(&of_day);
        let status = day_status(&bills, &open);
        out.push(CalendarDay {
            date: date.to_string(),
            status,
            status_label: status.label(),
            discrepancies: of_day.len() as u32,
            open: open.len() as u32,
        });
    }
    Ok(out)
}
