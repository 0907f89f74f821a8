//! The minute cron's share work. Every step reads its state from D1 and is safe to repeat:
//!
//! ```text
//! paid order (profit_sharing = 1, ≥ 60 s) ─► plan (job + receivers, one transaction)
//! planned ─► receivers/add ─► POST /v3/profitsharing/orders {unfreeze_unsplit: true}
//!          └► (nothing to share) POST /v3/profitsharing/orders/unfreeze
//! processing ─► GET /v3/profitsharing/orders/{out_order_no} until every receiver is final
//! ```
//!
//! A transient refusal (SYSTEM_ERROR, rate limits, 订单处理中) or no answer is retried later
//! with the same `out_order_no` (backoff from `core::profitshare::wechat`); a final refusal
//! fails the job with WeChat's reason and, for a share, plans an unfreeze under a new number
//! so the payee's money is not left frozen. Receivers that ended CLOSED leave their amount
//! frozen: an unfreeze follows too.

use serde::Deserialize;
use shoukuan_core::paytime;
use shoukuan_core::profitshare::wechat::{
    after_refusal, backoff_secs, AfterRefusal, JobKind, ReceiverResult, ShareOrder, MAX_ATTEMPTS,
};
use shoukuan_core::profitshare::ReceiverType;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Method};

use super::super::apply::{self, OrderRow, ORDER_COLUMNS};
use super::super::client::{self, CallError};
use super::super::config::PayConfig;
use super::super::routing;
use super::receivers::{self, AddError, Receiver};
use super::{plan, rules, settings};
use crate::error::ApiError;
use crate::http::num;
use crate::personal_data;
use crate::session::now_secs;

/// Orders planned per run.
const PLANS_PER_RUN: i64 = 10;
/// Jobs advanced per run.
const JOBS_PER_RUN: i64 = 20;

/// A stored job.
#[derive(Debug, Clone, Deserialize)]
pub struct JobRow {
    /// Ours.
    pub out_order_no: String,
    /// The order's public id.
    pub order_id: String,
    /// `share` | `unfreeze`.
    pub kind: String,
    /// 1, 2, …
    pub attempt: i64,
    /// `planned` | `processing` | `finished` | `failed`.
    pub state: String,
    /// WeChat's transaction.
    pub transaction_id: String,
    /// Tries so far.
    pub attempts: i64,
}

const JOB_COLUMNS: &str = "out_order_no, order_id, kind, attempt, state, transaction_id, attempts";

/// A planned receiver of a job.
#[derive(Debug, Clone, Deserialize)]
pub struct ResultRow {
    receiver_type: String,
    account: String,
    relation_type: String,
    name_sealed: Option<String>,
    source: String,
    amount_fen: i64,
    description: String,
}

/// One cron run: plans newly payable orders, then advances due jobs.
pub async fn run(env: &Env, config: &PayConfig) -> Result<(), ApiError> {
    let now = now_secs();
    let db = env.d1("DB")?;
    let due = db
        .prepare(format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE profit_sharing = 1 AND state = 'paid' \
             AND transaction_id IS NOT NULL AND paid_at <= ?1 \
             AND NOT EXISTS (SELECT 1 FROM share_jobs j WHERE j.order_id = orders.id) \
             ORDER BY paid_at LIMIT ?2"
        ))
        .bind(&[num(now - settings::delay_secs(env)), num(PLANS_PER_RUN)])?
        .all()
        .await?
        .results::<OrderRow>()?;
    for order in &due {
        if let Err(e) = plan::first(env, config, order).await {
            worker::console_error!("sharing: planning order {}: {e:?}", order.id);
        }
    }
    let jobs = db
        .prepare(format!(
            "SELECT {JOB_COLUMNS} FROM share_jobs WHERE state IN ('planned', 'processing') \
             AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2"
        ))
        .bind(&[num(now), num(JOBS_PER_RUN)])?
        .all()
        .await?
        .results::<JobRow>()?;
    for job in &jobs {
        if let Err(e) = step(env, config, job).await {
            worker::console_error!("sharing: job {}: {e:?}", job.out_order_no);
        }
    }
    Ok(())
}

async fn step(env: &Env, config: &PayConfig, job: &JobRow) -> Result<(), ApiError> {
    let order = apply::order_by_id(env, &job.order_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("job of unknown order {}", job.order_id)))?;
    let kind = JobKind::parse(&job.kind)
        .ok_or_else(|| ApiError::Internal(format!("job kind {:?}", job.kind)))?;
    let answer = if job.state == "processing" {
        poll(env, config, &order, job).await
    } else {
        send(env, config, &order, job, kind).await?
    };
    match answer {
        Ok(answer) => record(env, config, &order, job, kind, &answer).await,
        Err(CallError::Refused { code, .. })
            if job.state == "processing" && code == "RESOURCE_NOT_EXISTS" =>
        {
            // WeChat has no such request after all: send it again, same number.
            set_state(env, job, "planned", None).await
        }
        Err(e) => failed(env, config, &order, job, kind, e).await,
    }
}

async fn results_of(env: &Env, out_order_no: &str) -> Result<Vec<ResultRow>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(
            "SELECT receiver_type, account, relation_type, name_sealed, source, amount_fen, description \
             FROM share_results WHERE out_order_no = ?1 ORDER BY position",
        )
        .bind(&[out_order_no.into()])?
        .all()
        .await?
        .results::<ResultRow>()?)
}

/// Adds the receivers, then sends the share or the unfreeze under the job's number.
async fn send(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    job: &JobRow,
    kind: JobKind,
) -> Result<Result<ShareOrder, CallError>, ApiError> {
    let routing = routing::for_order(order, config);
    let mut body = routing.request_ids();
    body.insert("transaction_id".into(), job.transaction_id.as_str().into());
    body.insert("out_order_no".into(), job.out_order_no.as_str().into());
    let path = match kind {
        JobKind::Unfreeze => {
            body.insert("description".into(), plan::UNFREEZE_DESCRIPTION.into());
            "/v3/profitsharing/orders/unfreeze"
        }
        JobKind::Share => {
            let lines = results_of(env, &job.out_order_no).await?;
            let mut adds = Vec::new();
            for line in &lines {
                let name = match (line.source.as_str(), &line.name_sealed) {
                    ("fee", _) => settings::sp_name(env),
                    (_, Some(sealed)) => Some(personal_data::open(
                        &personal_data::key(env)?,
                        rules::NAME_COLUMN,
                        sealed,
                    )?),
                    _ => None,
                };
                adds.push(Receiver {
                    kind: ReceiverType::parse(&line.receiver_type).ok_or_else(|| {
                        ApiError::Internal(format!("receiver type {:?}", line.receiver_type))
                    })?,
                    account: line.account.clone(),
                    name,
                    relation_type: line.relation_type.clone(),
                });
            }
            match receivers::ensure_added(env, config, &routing, &adds).await {
                Ok(()) => {}
                Err(AddError::Call(e)) => return Ok(Err(e)),
                Err(AddError::Local(e)) => return Err(e),
            }
            body.insert("appid".into(), routing.appid().into());
            body.insert("unfreeze_unsplit".into(), true.into());
            let receivers: Vec<serde_json::Value> = lines
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "type": l.receiver_type,
                        "account": l.account,
                        "amount": l.amount_fen,
                        "description": l.description,
                    })
                })
                .collect();
            body.insert("receivers".into(), receivers.into());
            "/v3/profitsharing/orders"
        }
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    env.d1("DB")?
        .prepare("UPDATE share_jobs SET attempts = attempts + 1, updated_at = ?2 WHERE out_order_no = ?1")
        .bind(&[job.out_order_no.as_str().into(), num(now_secs())])?
        .run()
        .await?;
    Ok(client::call(env, config, Method::Post, path, Some(&bytes))
        .await
        .and_then(parse))
}

fn parse(answer: client::Answer) -> Result<ShareOrder, CallError> {
    serde_json::from_slice(&answer.body).map_err(|e| CallError::Malformed(e.to_string()))
}

/// `GET /v3/profitsharing/orders/{out_order_no}?transaction_id=…(&sub_mchid=…)`.
async fn poll(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    job: &JobRow,
) -> Result<ShareOrder, CallError> {
    let routing = routing::for_order(order, config);
    let mut path = format!(
        "/v3/profitsharing/orders/{}?transaction_id={}",
        job.out_order_no, job.transaction_id
    );
    if let Some(sub) = routing.sub_mchid() {
        path.push_str(&format!("&sub_mchid={sub}"));
    }
    client::call(env, config, Method::Get, &path, None)
        .await
        .and_then(parse)
}

async fn set_state(
    env: &Env,
    job: &JobRow,
    state: &str,
    error: Option<&str>,
) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare(
            "UPDATE share_jobs SET state = ?2, last_error = ?3, updated_at = ?4 \
             WHERE out_order_no = ?1 AND state IN ('planned', 'processing')",
        )
        .bind(&[
            job.out_order_no.as_str().into(),
            state.into(),
            error.map_or(JsValue::NULL, Into::into),
            num(now_secs()),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Stores what WeChat reported: each receiver's result, and the job's state.
async fn record(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    job: &JobRow,
    kind: JobKind,
    answer: &ShareOrder,
) -> Result<(), ApiError> {
    let db = env.d1("DB")?;
    let now = now_secs();
    let lines = results_of(env, &job.out_order_no).await?;
    let mut closed = false;
    let mut statements = Vec::new();
    for line in &lines {
        let Some(reported) = answer.line(&line.receiver_type, &line.account) else {
            continue;
        };
        closed |= reported.result == ReceiverResult::Closed;
        if reported.fail_reason.as_deref() == Some("NO_RELATION") {
            receivers::forget(
                env,
                &routing::for_order(order, config),
                &line.receiver_type,
                &line.account,
            )
            .await?;
        }
        let finished = reported
            .finish_time
            .as_deref()
            .and_then(paytime::parse_rfc3339)
            .filter(|_| reported.result != ReceiverResult::Pending);
        statements.push(
            db.prepare(
                "UPDATE share_results SET result = ?3, fail_reason = ?4, finished_at = ?5 \
                 WHERE out_order_no = ?1 AND receiver_type = ?2 AND account = ?6",
            )
            .bind(&[
                job.out_order_no.as_str().into(),
                line.receiver_type.as_str().into(),
                reported.result.as_str().into(),
                reported
                    .fail_reason
                    .as_deref()
                    .map_or(JsValue::NULL, Into::into),
                finished.map_or(JsValue::NULL, num),
                line.account.as_str().into(),
            ])?,
        );
    }
    let state = if answer.is_final() {
        "finished"
    } else {
        "processing"
    };
    statements.push(
        db.prepare(
            "UPDATE share_jobs SET state = ?2, wechat_order_id = ?3, last_error = NULL, \
             next_attempt_at = ?4, updated_at = ?4 WHERE out_order_no = ?1 AND state IN ('planned', 'processing')",
        )
        .bind(&[
            job.out_order_no.as_str().into(),
            state.into(),
            answer.order_id.as_str().into(),
            num(now),
        ])?,
    );
    db.batch(statements).await?;
    if state == "finished" && kind == JobKind::Share && closed {
        plan::unfreeze_after(env, config, order, job.attempt).await?;
    }
    Ok(())
}

/// A request that did not go through: retried later, or given up with WeChat's reason.
async fn failed(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    job: &JobRow,
    kind: JobKind,
    error: CallError,
) -> Result<(), ApiError> {
    let (retry, reason) = match &error {
        CallError::Refused {
            status,
            code,
            message,
        } => (
            after_refusal(*status, code, message) == AfterRefusal::Retry,
            format!("{code} {message}"),
        ),
        other => (true, other.to_string()),
    };
    worker::console_error!("sharing: {} {}: {reason}", job.kind, job.out_order_no);
    if retry && job.attempts < MAX_ATTEMPTS {
        env.d1("DB")?
            .prepare(
                "UPDATE share_jobs SET next_attempt_at = ?2, last_error = ?3, updated_at = ?4 WHERE out_order_no = ?1",
            )
            .bind(&[
                job.out_order_no.as_str().into(),
                num(now_secs() + backoff_secs(job.attempts.max(1))),
                reason.as_str().into(),
                num(now_secs()),
            ])?
            .run()
            .await?;
        return Ok(());
    }
    let nothing_frozen = matches!(&error, CallError::Refused { code, .. } if code == "NOT_ENOUGH");
    if kind == JobKind::Unfreeze && nothing_frozen {
        // "分账金额为0": nothing is left frozen, which is what the unfreeze was for.
        return set_state(env, job, "finished", Some(&reason)).await;
    }
    set_state(env, job, "failed", Some(&reason)).await?;
    match kind {
        JobKind::Share => plan::unfreeze_after(env, config, order, job.attempt).await,
        JobKind::Unfreeze => {
            apply::flag(
                env,
                &format!("share:{}", job.out_order_no),
                Some(order),
                None,
                "share_failed",
                &format!(
                "订单的冻结资金未能解冻（{reason}）：请在微信支付商户平台处理，或等待到期自动解冻"
            ),
            )
            .await
        }
    }
}
