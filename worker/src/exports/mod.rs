//! Exports for accounting: `GET /api/dash/exports/{payments|refunds|report}?date=YYYY-MM-DD
//! [&to=…][&format=csv|json]`, Asia/Shanghai days. A payee (dashboard session) gets their own
//! rows; the operator (bearer secret, `shoukuan books export`) gets every payee's. Columns:
//! `core::export`. Fees are in WeChat's bills, not in our orders: `report` exports the
//! reconciliation's daily reports (`books::day_report`: per payee the bill's payments,
//! refunds, WeChat's fees and the net settled amount, and open discrepancies).

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
    let tag = match (query_value(&query, "tag"), manager.owner(), kind) {
        (None, ..) => None,
        (Some(t), Some(payee), Kind::Payments | Kind::Refunds) => {
            let tag = crate::growth::tags::parse_id(&t)?;
            Some(crate::growth::people::TagFilter::new(env, payee, tag).await?)
        }
        _ => {
            return Err(bad(
                "BAD_TAG",
                "只有收款方自己的付款和退款导出可以按标签筛选".into(),
            ))
        }
    };
    let kept = |payer: Option<&str>| tag.as_ref().is_none_or(|t| t.keeps(payer));
    let (csv, json) = match kind {
        Kind::Payments => {
            let rows = payments(env, owner, start, end, kept).await?;
            check_size(rows.len())?;
            let total = Fen::new(rows.iter().map(|r| r.amount_fen).sum());
            (
                export::payments_csv(&rows),
                export::json_document(kind, range, &rows, total),
            )
        }
        Kind::Refunds => {
            let rows = refunds(env, owner, start, end, kept).await?;
            check_size(rows.len())?;
            let total = Fen::new(rows.iter().map(|r| r.amount_fen).sum());
            (
                export::refunds_csv(&rows),
                export::json_document(kind, range, &rows, total),
            )
        }
        Kind::Report => {
            if range.to.number() - range.from.number() + 1 > export::MAX_REPORT_DAYS {
                return Err(bad(
                    "BAD_RANGE",
                    format!("对账日报一次最多导出 {} 天", export::MAX_REPORT_DAYS),
                ));
            }
            let mut reports = Vec::new();
            for day in range.days() {
                reports.push(
                    crate::books::day_report(env, &day.to_date_string(), manager.owner()).await?,
                );
            }
            let names = payee_names(env, &reports).await?;
            let total = Fen::new(
                reports
                    .iter()
                    .flat_map(|r| r.totals.iter().map(|t| t.net_fen))
                    .sum(),
            );
            (
                export::report_csv(&reports, |openid| {
                    names
                        .iter()
                        .find(|(id, _)| id == openid)
                        .map_or_else(|| openid.to_string(), |(_, name)| name.clone())
                }),
                export::json_document(kind, range, &reports, total),
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

#[derive(Deserialize)]
struct NameRow {
    payee_name: String,
}

/// `(openid, name)` of every payee in the reports: the name on their latest collection.
async fn payee_names(
    env: &Env,
    reports: &[shoukuan_core::bill::DayReport],
) -> Result<Vec<(String, String)>, ApiError> {
    let mut names: Vec<(String, String)> = Vec::new();
    let payees = reports
        .iter()
        .flat_map(|r| r.totals.iter().filter_map(|t| t.payee.clone()));
    for openid in payees {
        if names.iter().any(|(id, _)| *id == openid) {
            continue;
        }
        let row = env
            .d1("DB")?
            .prepare(
                "SELECT payee_name FROM collections WHERE owner_openid = ?1 ORDER BY created_at DESC LIMIT 1",
            )
            .bind(&[openid.as_str().into()])?
            .first::<NameRow>(None)
            .await?;
        let name = row.map_or_else(
            || openid.clone(),
            |r| format!("{}（{openid}）", r.payee_name),
        );
        names.push((openid, name));
    }
    Ok(names)
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
    payer_hash: Option<String>,
}

/// Paid orders with `paid_at` in `[start, end)`; `owner` NULL = every payee (operator); only
/// those whose payer `kept` (the tag filter).
async fn payments(
    env: &Env,
    owner: JsValue,
    start: i64,
    end: i64,
    kept: impl Fn(Option<&str>) -> bool,
) -> Result<Vec<PaymentRow>, ApiError> {
    let rows = env
        .d1("DB")?
        .prepare(format!(
            "SELECT o.paid_at, o.out_trade_no, o.transaction_id, c.title, o.collection_id, c.payee_name, \
             o.sub_mchid, o.amount_fen, o.refunded_fen, o.state, o.payer_hash FROM orders o JOIN collections c ON c.id = o.collection_id \
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
        .filter(|r| kept(r.payer_hash.as_deref()))
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
    payer_hash: Option<String>,
}

/// Refunds requested in `[start, end)` of orders whose payer `kept`.
async fn refunds(
    env: &Env,
    owner: JsValue,
    start: i64,
    end: i64,
    kept: impl Fn(Option<&str>) -> bool,
) -> Result<Vec<RefundRow>, ApiError> {
    let rows = env
        .d1("DB")?
        .prepare(format!(
            "SELECT r.created_at, r.out_refund_no, o.out_trade_no, r.refund_id, c.payee_name, r.amount_fen, \
             r.reason, r.state, o.payer_hash FROM refunds r JOIN orders o ON o.id = r.order_id \
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
        .filter(|r| kept(r.payer_hash.as_deref()))
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
