//! Exports for accounting: `GET /api/dash/exports/{payments|refunds}?date=YYYY-MM-DD[&to=…]
//! [&format=csv|json]`, Asia/Shanghai days. A payee (dashboard session) gets their own
//! collections' rows; the operator (bearer secret, `shoukuan books export`) gets every payee's.
//! Columns: `core::export`. Fees are in WeChat's bills, not in our orders: the daily report of
//! the reconciliation (migration 0009) is where they appear.

use serde::Deserialize;
use shoukuan_core::export::{self, DayRange, Format, Kind, PaymentRow, RefundRow};
use shoukuan_core::money::Fen;
use shoukuan_core::urlenc::query_value;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Method, Request, Response};

use crate::error::ApiError;
use crate::http;
use crate::session::{self, Manager};

/// Routes of exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportRoute {
    /// `GET /api/dash/exports/:kind`
    Get(String),
}

impl ExportRoute {
    /// Matches the paths this family owns.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<ExportRoute> {
        match (method, segments) {
            (Method::Get, ["api", "dash", "exports", kind]) => {
                Some(ExportRoute::Get(kind.to_string()))
            }
            _ => None,
        }
    }
}

/// Rows one export holds at most (a bigger range is refused with a hint to split it).
const MAX_ROWS: usize = 20_000;

fn bad(code: &'static str, message: String) -> ApiError {
    ApiError::Pay(400, code, message)
}

/// Answers one of the [`ExportRoute`]s.
pub async fn handle(route: ExportRoute, req: Request, env: &Env) -> Result<Response, ApiError> {
    let ExportRoute::Get(kind) = route;
    let manager = session::require_manager(&req, env).await?;
    let kind = Kind::parse(&kind).ok_or(ApiError::Missing("导出类型"))?;
    let query = req.url()?.query().unwrap_or_default().to_string();
    let date = query_value(&query, "date").unwrap_or_default();
    let to = query_value(&query, "to");
    let range =
        DayRange::parse(&date, to.as_deref()).map_err(|e| bad("BAD_RANGE", e.to_string()))?;
    let format = match query_value(&query, "format") {
        None => Format::Csv,
        Some(f) => Format::parse(&f)
            .ok_or_else(|| bad("BAD_FORMAT", "导出格式只能是 csv 或 json".into()))?,
    };
    let (start, end) = range.unix_bounds();
    let owner = manager_owner(&manager);
    let (csv, json) = match kind {
        Kind::Payments => {
            let rows = payments(env, owner, start, end).await?;
            check_size(rows.len())?;
            let total = Fen::new(rows.iter().map(|r| r.amount_fen).sum());
            (
                export::payments_csv(&rows),
                export::json_document(kind, range, &rows, total),
            )
        }
        Kind::Refunds => {
            let rows = refunds(env, owner, start, end).await?;
            check_size(rows.len())?;
            let total = Fen::new(rows.iter().map(|r| r.amount_fen).sum());
            (
                export::refunds_csv(&rows),
                export::json_document(kind, range, &rows, total),
            )
        }
    };
    let name = format!("shoukuan-{}-{}", kind.as_str(), range.label());
    match format {
        Format::Json => http::json(200, &json),
        Format::Csv => {
            let mut resp = Response::ok(csv)?;
            let headers = resp.headers_mut();
            headers.set("content-type", "text/csv; charset=utf-8")?;
            headers.set(
                "content-disposition",
                &format!("attachment; filename=\"{name}.csv\""),
            )?;
            Ok(resp)
        }
    }
}

fn manager_owner(manager: &Manager) -> JsValue {
    manager.owner().map_or(JsValue::NULL, JsValue::from_str)
}

fn check_size(rows: usize) -> Result<(), ApiError> {
    if rows > MAX_ROWS {
        return Err(bad(
            "TOO_MANY_ROWS",
            format!("这段时间超过 {MAX_ROWS} 条记录，请缩短日期范围分几次导出"),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
struct PaymentDb {
    paid_at: i64,
    out_trade_no: String,
    transaction_id: Option<String>,
    title: String,
    collection_id: String,
    payee_name: String,
    sub_mchid: Option<String>,
    amount_fen: i64,
    refunded_fen: i64,
    state: String,
}

/// Paid orders with `paid_at` in `[start, end)`; `owner` NULL = every payee (operator).
async fn payments(
    env: &Env,
    owner: JsValue,
    start: i64,
    end: i64,
) -> Result<Vec<PaymentRow>, ApiError> {
    let rows = env
        .d1("DB")?
        .prepare(format!(
            "SELECT o.paid_at, o.out_trade_no, o.transaction_id, c.title, o.collection_id, c.payee_name, \
             o.sub_mchid, o.amount_fen, o.refunded_fen, o.state FROM orders o JOIN collections c ON c.id = o.collection_id \
             WHERE o.state IN ('paid', 'refunding', 'refunded') AND o.paid_at >= ?1 AND o.paid_at < ?2 \
             AND (?3 IS NULL OR o.payee_openid = ?3) ORDER BY o.paid_at, o.out_trade_no LIMIT {}",
            MAX_ROWS + 1
        ))
        .bind(&[
            JsValue::from_f64(start as f64),
            JsValue::from_f64(end as f64),
            owner,
        ])?
        .all()
        .await?
        .results::<PaymentDb>()?;
    Ok(rows
        .into_iter()
        .map(|r| PaymentRow {
            paid_at: r.paid_at,
            out_trade_no: r.out_trade_no,
            transaction_id: r.transaction_id.unwrap_or_default(),
            collection: r.title,
            collection_id: r.collection_id,
            payee: r.payee_name,
            sub_mchid: r.sub_mchid.unwrap_or_default(),
            amount_fen: r.amount_fen,
            refunded_fen: r.refunded_fen,
            state: r.state,
        })
        .collect())
}

#[derive(Deserialize)]
struct RefundDb {
    created_at: i64,
    out_refund_no: String,
    out_trade_no: String,
    refund_id: Option<String>,
    payee_name: String,
    amount_fen: i64,
    reason: String,
    state: String,
}

/// Refunds requested in `[start, end)`.
async fn refunds(
    env: &Env,
    owner: JsValue,
    start: i64,
    end: i64,
) -> Result<Vec<RefundRow>, ApiError> {
    let rows = env
        .d1("DB")?
        .prepare(format!(
            "SELECT r.created_at, r.out_refund_no, o.out_trade_no, r.refund_id, c.payee_name, r.amount_fen, \
             r.reason, r.state FROM refunds r JOIN orders o ON o.id = r.order_id \
             JOIN collections c ON c.id = o.collection_id \
             WHERE r.created_at >= ?1 AND r.created_at < ?2 AND (?3 IS NULL OR o.payee_openid = ?3) \
             ORDER BY r.created_at, r.out_refund_no LIMIT {}",
            MAX_ROWS + 1
        ))
        .bind(&[
            JsValue::from_f64(start as f64),
            JsValue::from_f64(end as f64),
            owner,
        ])?
        .all()
        .await?
        .results::<RefundDb>()?;
    Ok(rows
        .into_iter()
        .map(|r| RefundRow {
            created_at: r.created_at,
            out_refund_no: r.out_refund_no,
            out_trade_no: r.out_trade_no,
            refund_id: r.refund_id.unwrap_or_default(),
            payee: r.payee_name,
            amount_fen: r.amount_fen,
            reason: r.reason,
            state: r.state,
        })
        .collect())
}
