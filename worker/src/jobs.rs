//! Every scheduled job, run at a given time. The minute cron (`[triggers] crons`) passes the
//! real time; `POST /api/test/cron {"now": <unix seconds>}` (only with `PAY_TEST_HOOKS=1`,
//! loopback only) passes a time the end-to-end tests control, so jobs that run at a given
//! Asia/Shanghai time (bills at 10:30, the 20:00 digest, reminders held until 08:00) can be
//! tested without waiting. A job reads the time from its `now` argument, never from the clock.

use serde::Deserialize;
use worker::{Env, Request, Response};

use crate::error::ApiError;
use crate::http;

/// Runs every job once, at `now`.
pub async fn run_all(env: &Env, now: i64) {
    crate::pay::scheduled(env, now).await;
    crate::abuse::scheduled(env).await;
    crate::notices::scheduled(env, now).await;
    crate::growth::points::scheduled(env, now).await;
    crate::webhooks::scheduled(env, now).await;
    crate::books::scheduled(env, now).await;
}

#[derive(Deserialize)]
struct At {
    now: i64,
}

/// `POST /api/test/cron` `{ "now": secs }`: one cron run at that time (test hook).
pub async fn run_at(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    crate::pay::test_hooks_enabled(env)?;
    let at: At = http::read_json(&mut req).await?;
    run_all(env, at.now).await;
    http::json(200, &serde_json::json!({ "ran_at": at.now }))
}
