//! `/api/dash/books…` and `/api/operator/books/reconcile`: thin handlers over `report` and the job.

use serde::Deserialize;
use shoukuan_core::bill::parse_bill_date;
use shoukuan_core::collection::FieldError;
use shoukuan_core::paytime::ShanghaiDay;
use worker::{Env, Method, Request, Response};

use crate::error::ApiError;
use crate::http;
use crate::pay::config::PayConfig;
use crate::session::{now_secs, require_manager, require_operator, Manager};

/// The books routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BooksRoute {
    /// `GET /api/dash/books?month=YYYY-MM`: the calendar.
    Calendar,
    /// `GET /api/dash/books/:date`: one day's report.
    Day(String),
    /// `POST /api/operator/books/reconcile` `{date}`: download and reconcile a day again.
    Rerun,
}

impl BooksRoute {
    /// Matches a method and path segments.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<BooksRoute> {
        match (method, segments) {
            (Method::Get, ["api", "dash", "books"]) => Some(BooksRoute::Calendar),
            (Method::Get, ["api", "dash", "books", date]) => {
                Some(BooksRoute::Day(date.to_string()))
            }
            (Method::Post, ["api", "operator", "books", "reconcile"]) => Some(BooksRoute::Rerun),
            _ => None,
        }
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Invalid(vec![FieldError {
        field: field.into(),
        code: "INVALID_DATE".into(),
        message: message.into(),
    }])
}

fn day(text: &str) -> Result<ShanghaiDay, ApiError> {
    parse_bill_date(text).ok_or_else(|| invalid("date", "日期格式应为 YYYY-MM-DD"))
}

/// Whose books the caller may see: None for the operator (everyone's).
async fn viewer(req: &Request, env: &Env) -> Result<Option<String>, ApiError> {
    Ok(match require_manager(req, env).await? {
        Manager::Operator => None,
        Manager::Payee(openid) => Some(openid.as_str().to_string()),
    })
}

/// Dispatches a books route.
pub async fn handle(route: BooksRoute, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    match route {
        BooksRoute::Calendar => {
            let payee = viewer(&req, env).await?;
            let month = req
                .url()?
                .query_pairs()
                .find(|(k, _)| k == "month")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| ShanghaiDay::of(now_secs()).to_date_string()[..7].to_string());
            if day(&format!("{month}-01")).is_err() {
                return Err(invalid("month", "月份格式应为 YYYY-MM"));
            }
            let days = super::report::calendar(env, &month, payee.as_deref()).await?;
            http::json(200, &serde_json::json!({ "month": month, "days": days }))
        }
        BooksRoute::Day(date) => {
            let payee = viewer(&req, env).await?;
            day(&date)?;
            http::json(200, &super::day_report(env, &date, payee.as_deref()).await?)
        }
        BooksRoute::Rerun => {
            require_operator(&req, env)?;
            #[derive(Deserialize)]
            struct Body {
                date: String,
            }
            let body: Body = http::read_json(&mut req).await?;
            // A day WeChat has no bill for yet is answered STATEMENT_CREATING: left waiting.
            let day = day(&body.date)?;
            let config = PayConfig::get(env).ok_or(ApiError::Unavailable(
                "MERCHANT_NOT_CONFIGURED",
                "未配置微信支付商户，无法对账",
            ))?;
            super::run_day(env, &config, day, now_secs(), true).await?;
            http::json(200, &super::day_report(env, &body.date, None).await?)
        }
    }
}
