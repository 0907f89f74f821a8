//! `books.day_report`: once yesterday's books are reconciled (its report is no longer waiting
//! for WeChat's bill), every active endpoint gets the day's report — a payee's endpoint its
//! own (`books::day_report` for that payee), an operator endpoint everyone's. The event id
//! `evt_report_<date>` is unique per endpoint, so the report is queued once; the cron then
//! delivers it like any other event.

use serde::Deserialize;
use shoukuan_core::bill::report::DayStatus;
use shoukuan_core::paytime::ShanghaiDay;
use shoukuan_core::webhook::{self, event};
use worker::Env;

use crate::error::ApiError;

#[derive(Deserialize)]
struct Active {
    id: String,
    owner_openid: Option<String>,
    queued: i64,
}

/// Queues yesterday's report (as of `now`) for each endpoint that has not had it.
pub async fn queue_day_reports(env: &Env, now: i64) -> Result<(), ApiError> {
    let date = ShanghaiDay::from_number(ShanghaiDay::of(now).number() - 1).to_date_string();
    let event_id = format!("evt_report_{date}");
    let endpoints = env
        .d1("DB")?
        .prepare(
            "SELECT e.id, e.owner_openid, \
             EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.event_id = ?1) AS queued \
             FROM webhook_endpoints e WHERE e.disabled_at IS NULL",
        )
        .bind(&[event_id.as_str().into()])?
        .all()
        .await?
        .results::<Active>()?;
    for endpoint in endpoints.iter().filter(|e| e.queued == 0) {
        let report = crate::books::day_report(env, &date, endpoint.owner_openid.as_deref()).await?;
        if report.status == DayStatus::Waiting {
            continue;
        }
        let body = webhook::body(&event_id, event::DAY_REPORT, now, &report);
        super::enqueue::insert(env, &endpoint.id, &event_id, event::DAY_REPORT, &body, now).await?;
    }
    Ok(())
}
