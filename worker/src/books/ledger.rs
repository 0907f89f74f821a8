//! The D1 and R2 side of the books: the day rows (`book_days`), the sealed originals,
//! discrepancies, heals and per-payee totals (migration 0009). Our orders and refunds the bill
//! is matched with are read in `ours.rs`.

use serde::Deserialize;
use shoukuan_core::bill::reconcile::{Discrepancy, DiscrepancyKind, PayeeTotals};
use shoukuan_core::personal_data::DataKey;
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::Target;
use crate::error::ApiError;
use crate::http::num;

fn opt(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, Into::into)
}

/// `book_days` as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct DayRow {
    /// yyyy-MM-dd.
    pub bill_date: String,
    /// mchid or sub_mchid.
    pub merchant: String,
    /// See the migration.
    pub state: String,
    /// Tries.
    pub attempts: i64,
    /// Unix seconds.
    pub last_attempt_at: Option<i64>,
    /// Why, for the report.
    pub message: Option<String>,
    /// SHA-1 of the trade bill.
    pub trade_hash: Option<String>,
    /// Fund-flow income.
    pub fund_income_fen: Option<i64>,
    /// Fund-flow expense.
    pub fund_expense_fen: Option<i64>,
}

/// The columns of [`DayRow`].
pub const DAY_COLUMNS: &str = "bill_date, merchant, state, attempts, last_attempt_at, \
     message, trade_hash, fund_income_fen, fund_expense_fen";

/// Every payee with a bound sub-merchant: `(openid, sub_mchid)`.
pub async fn sub_merchants(env: &Env) -> Result<Vec<(String, String)>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        openid: String,
        sub_mchid: String,
    }
    Ok(env
        .d1("DB")?
        .prepare("SELECT openid, sub_mchid FROM payee_merchants WHERE sub_mchid IS NOT NULL ORDER BY sub_mchid")
        .all()
        .await?
        .results::<Row>()?
        .into_iter()
        .map(|r| (r.openid, r.sub_mchid))
        .collect())
}

/// The day rows of every bill of `date`.
pub async fn book_days_of(env: &Env, date: &str) -> Result<Vec<DayRow>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(format!(
            "SELECT {DAY_COLUMNS} FROM book_days WHERE bill_date = ?1"
        ))
        .bind(&[date.into()])?
        .all()
        .await?
        .results::<DayRow>()?)
}

/// Counts a try (creating the row as `waiting` the first time).
pub async fn start_attempt(
    env: &Env,
    date: &str,
    target: &Target,
    now: i64,
) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare(
            "INSERT INTO book_days (bill_date, merchant, sub_mchid, payee_openid, state, attempts, \
             last_attempt_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'waiting', 1, ?5, ?5) \
             ON CONFLICT (bill_date, merchant) DO UPDATE SET attempts = attempts + 1, \
             last_attempt_at = ?5, updated_at = ?5",
        )
        .bind(&[
            date.into(),
            target.merchant.as_str().into(),
            opt(target.sub_mchid.as_deref()),
            opt(target.payee.as_deref()),
            num(now),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Still waiting for WeChat, with its last answer.
pub async fn note_waiting(
    env: &Env,
    date: &str,
    target: &Target,
    why: &str,
    now: i64,
) -> Result<(), ApiError> {
    finish(env, date, target, "waiting", Some(why), now).await
}

/// Sets the day's state and message.
pub async fn finish(
    env: &Env,
    date: &str,
    target: &Target,
    state: &str,
    message: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare("UPDATE book_days SET state = ?3, message = ?4, updated_at = ?5 WHERE bill_date = ?1 AND merchant = ?2")
        .bind(&[date.into(), target.merchant.as_str().into(), state.into(), opt(message), num(now)])?
        .run()
        .await?;
    Ok(())
}

/// The bill was downloaded, verified, kept and reconciled.
#[allow(clippy::too_many_arguments)]
pub async fn finish_done(
    env: &Env,
    date: &str,
    target: &Target,
    trade_hash: &str,
    trade_key: &str,
    fund: Option<(String, String, i64, i64)>,
    matched: u32,
    now: i64,
) -> Result<(), ApiError> {
    let (fund_hash, fund_key, income, expense) = match fund {
        Some((h, k, i, e)) => (Some(h), Some(k), Some(i), Some(e)),
        None => (None, None, None, None),
    };
    env.d1("DB")?
        .prepare(
            "UPDATE book_days SET state = 'done', message = NULL, trade_hash = ?3, trade_r2_key = ?4, \
             fund_hash = ?5, fund_r2_key = ?6, fund_income_fen = ?7, fund_expense_fen = ?8, \
             matched = ?9, reconciled_at = ?10, updated_at = ?10 WHERE bill_date = ?1 AND merchant = ?2",
        )
        .bind(&[
            date.into(),
            target.merchant.as_str().into(),
            trade_hash.into(),
            trade_key.into(),
            opt(fund_hash.as_deref()),
            opt(fund_key.as_deref()),
            income.map_or(JsValue::NULL, num),
            expense.map_or(JsValue::NULL, num),
            num(i64::from(matched)),
            num(now),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Keeps a bill's original, sealed, in R2.
pub async fn keep_original(
    env: &Env,
    key: &DataKey,
    r2_key: &str,
    column: &str,
    text: &str,
) -> Result<(), ApiError> {
    let sealed = crate::personal_data::seal(key, column, text)?;
    env.bucket("BOOKS")?
        .put(r2_key, sealed.into_bytes())
        .execute()
        .await?;
    Ok(())
}

/// Writes a discrepancy once: a re-run finds the same row and leaves it as it is.
pub async fn record_discrepancy(
    env: &Env,
    date: &str,
    merchant: &str,
    d: &Discrepancy,
    now: i64,
) -> Result<(), ApiError> {
    let evidence = serde_json::to_string(d).map_err(|e| ApiError::Internal(e.to_string()))?;
    env.d1("DB")?
        .prepare(
            "INSERT INTO book_discrepancies (bill_date, merchant, kind, key, payee_openid, out_trade_no, \
             transaction_id, out_refund_no, refund_id, bill_fen, our_fen, message, evidence, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
             ON CONFLICT (bill_date, merchant, kind, key) DO NOTHING",
        )
        .bind(&[
            date.into(),
            merchant.into(),
            d.kind.as_str().into(),
            d.key().into(),
            opt(d.payee.as_deref()),
            d.out_trade_no.as_str().into(),
            opt(d.transaction_id.as_deref()),
            opt(d.out_refund_no.as_deref()),
            opt(d.refund_id.as_deref()),
            d.bill_fen.map_or(JsValue::NULL, num),
            d.our_fen.map_or(JsValue::NULL, num),
            d.message.as_str().into(),
            evidence.into(),
            num(now),
        ])?
        .run()
        .await?;
    Ok(())
}

/// The bill's per-payee money (the same bill gives the same rows).
pub async fn record_totals(
    env: &Env,
    date: &str,
    merchant: &str,
    totals: &[PayeeTotals],
) -> Result<(), ApiError> {
    let db = env.d1("DB")?;
    for t in totals {
        db.prepare(
            "INSERT OR REPLACE INTO book_totals (bill_date, merchant, payee_openid, payments, paid_fen, \
             refunds, refunded_fen, fee_milli_fen, fees_fen, net_fen) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(&[
            date.into(),
            merchant.into(),
            t.payee.as_deref().unwrap_or("").into(),
            num(i64::from(t.payments)),
            num(t.paid_fen),
            num(i64::from(t.refunds)),
            num(t.refunded_fen),
            num(t.fee_milli_fen),
            num(t.fees_fen),
            num(t.net_fen),
        ])?
        .run()
        .await?;
    }
    Ok(())
}

/// Discrepancies of a kind not healed yet: `(id, out_trade_no)`.
pub async fn open_discrepancies(
    env: &Env,
    date: &str,
    merchant: &str,
    kind: DiscrepancyKind,
) -> Result<Vec<(i64, String)>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        id: i64,
        out_trade_no: String,
    }
    Ok(env
        .d1("DB")?
        .prepare(
            "SELECT id, out_trade_no FROM book_discrepancies WHERE bill_date = ?1 AND merchant = ?2 \
             AND kind = ?3 AND healed_at IS NULL ORDER BY id",
        )
        .bind(&[date.into(), merchant.into(), kind.as_str().into()])?
        .all()
        .await?
        .results::<Row>()?
        .into_iter()
        .map(|r| (r.id, r.out_trade_no))
        .collect())
}

/// What a heal did, with WeChat's answer as evidence.
pub async fn record_heal(
    env: &Env,
    id: i64,
    healed_at: Option<i64>,
    text: &str,
    evidence: &serde_json::Value,
) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare(
            "UPDATE book_discrepancies SET healed_at = ?2, heal = ?3, heal_evidence = ?4 \
             WHERE id = ?1 AND healed_at IS NULL",
        )
        .bind(&[
            num(id),
            healed_at.map_or(JsValue::NULL, num),
            text.into(),
            evidence.to_string().into(),
        ])?
        .run()
        .await?;
    Ok(())
}
