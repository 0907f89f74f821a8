//! Every scheduled job, run at a given time. The minute cron (`[triggers] crons`) passes the
//! real time; `POST /api/test/cron {"now": <unix seconds>}` (only with `PAY_TEST_HOOKS=1`,
//! loopback only) passes a time the end-to-end tests control, so jobs that run at a given
//! Asia/Shanghai time (bills at 10:30, the 20:00 digest, reminders held until 08:00) can be
//! tested without waiting. A job reads the time from its `now` argument, never from the clock.

use serde::Deserialize;
use worker::{Env, Request, Response};

use crate::error::ApiError;
use crate::http;

/// The jobs, by the name `POST /api/test/cron {"only"}` picks one with.
pub const JOBS: [&str; 6] = ["pay", "abuse", "notices", "points", "webhooks", "books"];

/// Runs every job once, at `now`.
pub async fn run_all(env: &Env, now: i64) {
    run(env, now, None).await;
}

/// Runs every job (or only the one named) once, at `now`.
async fn run(env: &Env, now: i64, only: Option<&str>) {
    let due = |name: &str| only.is_none_or(|o| o == name);
    if due("pay") {
        crate::pay::scheduled(env, now).await;
    }
    if due("abuse") {
        crate::abuse::scheduled(env).await;
    }
    if due("notices") {
        crate::notices::scheduled(env, now).await;
    }
    if due("points") {
        crate::growth::points::scheduled(env, now).await;
    }
    if due("webhooks") {
        crate::webhooks::scheduled(env, now).await;
    }
    if due("books") {
        crate::books::scheduled(env, now).await;
    }
}

#[derive(Deserialize)]
struct At {
    now: i64,
    /// One job only (a test isolating it from the others, e.g. the bills job without the
    /// payments cron healing the same order first).
    #[serde(default)]
    only: Option<String>,
}

/// `POST /api/test/cron` `{ "now": secs, "only"?: job }`: one cron run at that time (test hook).
pub async fn run_at(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    crate::pay::test_hooks_enabled(env)?;
    let at: At = http::read_json(&mut req).await?;
    if let Some(only) = at.only.as_deref().filter(|o| !JOBS.contains(o)) {
        return Err(ApiError::Invalid(vec![
            shoukuan_core::collection::FieldError {
                field: "only".into(),
                code: "UNKNOWN_JOB".into(),
                message: format!("没有名为 {only} 的定时任务"),
            },
        ]));
    }
    run(env, at.now, at.only.as_deref()).await;
    http::json(
        200,
        &serde_json::json!({ "ran_at": at.now, "only": at.only }),
    )
}
