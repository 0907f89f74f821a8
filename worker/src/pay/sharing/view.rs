//! What the payee sees of sharing: `GET /api/dash/shares` → per recent sharing order, its
//! status, who got what and when (or why not), and the returns made before refunds.

use serde::{Deserialize, Serialize};
use shoukuan_core::profitshare::wechat::fail_reason_label;
use worker::{Env, Request, Response};

use crate::error::ApiError;
use crate::http;
use crate::session::require_approved_payee;

#[derive(Deserialize)]
struct OrderLine {
    id: String,
    state: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct JobLine {
    order_id: String,
    out_order_no: String,
    kind: String,
    attempt: i64,
    state: String,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ReceiverLine {
    order_id: String,
    source: String,
    receiver_type: String,
    account: String,
    amount_fen: i64,
    wanted_fen: i64,
    description: String,
    result: String,
    fail_reason: Option<String>,
    #[serde(default)]
    fail_label: Option<String>,
    finished_at: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ReturnLine {
    order_id: String,
    out_return_no: String,
    return_mchid: String,
    amount_fen: i64,
    result: String,
    fail_reason: Option<String>,
    updated_at: i64,
}

#[derive(Debug, Serialize)]
struct OrderShares {
    order_id: String,
    /// `waiting` | `sharing` | `shared` | `unfrozen` | `failed` | `ended`
    status: &'static str,
    /// The status in Chinese, with WeChat's reason when it failed.
    status_label: String,
    jobs: Vec<JobLine>,
    receivers: Vec<ReceiverLine>,
    returns: Vec<ReturnLine>,
}

fn status(order_state: &str, jobs: &[&JobLine]) -> (&'static str, String) {
    let latest = jobs.iter().max_by_key(|j| (j.attempt, j.created_at));
    let failed = jobs
        .iter()
        .find(|j| j.state == "failed")
        .map(|j| j.last_error.as_deref().unwrap_or("原因未知"));
    let shared = jobs
        .iter()
        .any(|j| j.kind == "share" && j.state == "finished");
    match (latest, failed) {
        (None, _) if order_state == "refunded" => ("ended", "已全额退款，不再分账".into()),
        (None, _) => ("waiting", "等待分账（支付成功 1 分钟后进行）".into()),
        (Some(j), _) if j.state == "planned" || j.state == "processing" => {
            ("sharing", "分账处理中".into())
        }
        (Some(j), Some(reason)) if j.state == "failed" => (
            "failed",
            format!("分账未完成（{reason}），冻结资金未能解冻，请联系运营方"),
        ),
        (Some(_), Some(reason)) if !shared => {
            ("failed", format!("分账未成功（{reason}），资金已解冻到账"))
        }
        (Some(_), _) if shared => ("shared", "已分账，剩余资金已解冻".into()),
        (Some(_), _) => ("unfrozen", "无需分账，资金已解冻到账".into()),
    }
}

/// `GET /api/dash/shares`: the payee's 50 most recent orders created for sharing.
pub async fn list(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let db = env.d1("DB")?;
    let owner: worker::wasm_bindgen::JsValue = payee.as_str().into();
    let scope = "SELECT id FROM orders WHERE payee_openid = ?1 AND profit_sharing = 1 \
                 AND state IN ('paid', 'refunding', 'refunded') ORDER BY created_at DESC LIMIT 50";
    let orders = db
        .prepare(format!(
            "SELECT id, state FROM orders WHERE id IN ({scope})"
        ))
        .bind(std::slice::from_ref(&owner))?
        .all()
        .await?
        .results::<OrderLine>()?;
    let jobs = db
        .prepare(format!(
            "SELECT order_id, out_order_no, kind, attempt, state, last_error, created_at, updated_at \
             FROM share_jobs WHERE order_id IN ({scope}) ORDER BY attempt"
        ))
        .bind(std::slice::from_ref(&owner))?
        .all()
        .await?
        .results::<JobLine>()?;
    let mut receivers = db
        .prepare(format!(
            "SELECT j.order_id, r.source, r.receiver_type, r.account, r.amount_fen, r.wanted_fen, \
             r.description, r.result, r.fail_reason, r.finished_at \
             FROM share_results r JOIN share_jobs j ON j.out_order_no = r.out_order_no \
             WHERE j.order_id IN ({scope}) ORDER BY j.attempt, r.position"
        ))
        .bind(std::slice::from_ref(&owner))?
        .all()
        .await?
        .results::<ReceiverLine>()?;
    for r in &mut receivers {
        r.fail_label = r
            .fail_reason
            .as_deref()
            .map(|f| fail_reason_label(f).to_string());
    }
    let returns = db
        .prepare(format!(
            "SELECT order_id, out_return_no, return_mchid, amount_fen, result, fail_reason, updated_at \
             FROM share_returns WHERE order_id IN ({scope}) ORDER BY created_at"
        ))
        .bind(&[owner])?
        .all()
        .await?
        .results::<ReturnLine>()?;
    let (mut jobs, mut returns) = (jobs, returns);
    let shares: Vec<OrderShares> = orders
        .into_iter()
        .map(|o| {
            let mine: Vec<JobLine> = take(&mut jobs, |j| j.order_id == o.id);
            let refs: Vec<&JobLine> = mine.iter().collect();
            let (status, status_label) = status(&o.state, &refs);
            OrderShares {
                status,
                status_label,
                receivers: take(&mut receivers, |r| r.order_id == o.id),
                returns: take(&mut returns, |r| r.order_id == o.id),
                jobs: mine,
                order_id: o.id,
            }
        })
        .collect();
    http::json(200, &serde_json::json!({ "orders": shares }))
}

fn take<T>(items: &mut Vec<T>, keep: impl Fn(&T) -> bool) -> Vec<T> {
    let (mine, rest): (Vec<T>, Vec<T>) = std::mem::take(items).into_iter().partition(keep);
    *items = rest;
    mine
}
