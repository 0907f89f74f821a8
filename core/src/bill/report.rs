//! The day report: what `/api/dash/books/:date` answers, the books page shows and exports read.

use serde::{Deserialize, Serialize};

use super::reconcile::{Discrepancy, PayeeTotals};

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
