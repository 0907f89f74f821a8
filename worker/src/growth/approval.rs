//! Approval before refunds (`core::approval`): a payee's threshold and chain of 1–3 approvers
//! (people who accepted its invitation link: other payees or staff), the gate in front of
//! `pay::refunds::create`, and the approvers' decisions. A request reaches WeChat Pay only
//! after the last approval, through the same `pay::refunds::execute` as an ordinary refund, so
//! the refunded total stays within what was paid (its conditional insert).
//!
//! Races: a decision is one batch — the decision row (primary key request + step) and the
//! request's move, both conditional on the request still waiting at that step — so two
//! approvers, or one approver twice, cannot both pass a step; the execution is claimed by a
//! conditional update (`approved` → `executing`), so it runs once.

use serde::{Deserialize, Serialize};
use shoukuan_core::approval::{self, after, may_decide, Decision, Policy, Status};
use shoukuan_core::money::Fen;
use shoukuan_core::refund::Reason;
use shoukuan_core::session::Openid;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Method, Request, Response};

use crate::config::setting;
use crate::error::ApiError;
use crate::http::{self, num};
use crate::pay::apply::{self, OrderRow};
use crate::secrets;
use crate::session::{now_secs, require_approved_payee, require_payee_session};

/// How long an invitation link can be accepted.
const INVITE_TTL_SECS: i64 = 7 * 24 * 3600;

fn refused(status: u16, code: &'static str, e: approval::ApprovalError) -> ApiError {
    ApiError::Pay(status, code, e.to_string())
}

#[derive(Deserialize)]
struct PolicyRow {
    threshold_fen: i64,
    approvers: String,
}

async fn policy_of(env: &Env, payee: &str) -> Result<Option<(Fen, Vec<String>)>, ApiError> {
    let row = env
        .d1("DB")?
        .prepare("SELECT threshold_fen, approvers FROM refund_policies WHERE payee_openid = ?1")
        .bind(&[payee.into()])?
        .first::<PolicyRow>(None)
        .await?;
    row.map(|r| {
        let approvers: Vec<String> = serde_json::from_str(&r.approvers)
            .map_err(|e| ApiError::Internal(format!("refund policy: {e}")))?;
        Ok((Fen::new(r.threshold_fen), approvers))
    })
    .transpose()
}

/// The gate in `pay::refunds::create`: a refund of `amount` above the payee's threshold is
/// stored as a request for its approvers (202 with the request) instead of going to WeChat
/// Pay; `None` lets the refund go ahead.
pub async fn gate(
    env: &Env,
    requester: &Openid,
    order: &OrderRow,
    amount: Fen,
    reason: &Reason,
) -> Result<Option<Response>, ApiError> {
    let Some((threshold, chain)) = policy_of(env, &order.payee_openid).await? else {
        return Ok(None);
    };
    if amount <= threshold || chain.is_empty() {
        return Ok(None);
    }
    let id = secrets::new_public_id()?;
    let now = now_secs();
    let chain_json =
        serde_json::to_string(&chain).map_err(|e| ApiError::Internal(e.to_string()))?;
    env.d1("DB")?
        .prepare(
            "INSERT INTO refund_requests (id, order_id, payee_openid, requester_openid, amount_fen, reason, chain, \
             step, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 'pending', ?8, ?8)",
        )
        .bind(&[
            id.as_str().into(),
            order.id.as_str().into(),
            order.payee_openid.as_str().into(),
            requester.as_str().into(),
            num(amount.get()),
            reason.as_str().into(),
            chain_json.as_str().into(),
            num(now),
        ])?
        .run()
        .await?;
    if let Some(first) = chain.first() {
        notify_approver(env, first, &id, amount).await;
    }
    let view = request_view(env, &id).await?.ok_or(ApiError::NotFound)?;
    Ok(Some(http::json(
        202,
        &serde_json::json!({ "approval": view }),
    )?))
}

/// Tells an approver by template message (`WECHAT_APPROVAL_TEMPLATE_ID`: `thing1` what,
/// `amount2` the amount) that a refund waits for them. Not configured: nothing is sent; the
/// request shows on their dashboard either way. Failures are logged, never raised.
async fn notify_approver(env: &Env, approver: &str, request_id: &str, amount: Fen) {
    let Some(template_id) = setting(env, "WECHAT_APPROVAL_TEMPLATE_ID") else {
        return;
    };
    let body = serde_json::json!({
        "touser": approver,
        "template_id": template_id,
        "url": crate::session::link(env, "/dash").unwrap_or_default(),
        "client_msg_id": format!("approval-{request_id}-{approver}"),
        "data": {
            "thing1": { "value": "退款待你审批" },
            "amount2": { "value": amount.to_string() },
        },
    });
    let sent = match crate::wechat::OaClient::new(env) {
        Ok(client) => client
            .call(
                Method::Post,
                "/cgi-bin/message/template/send",
                &[],
                Some(&body),
            )
            .await
            .map_err(|e| format!("{e:?}")),
        Err(e) => Err(format!("{e:?}")),
    };
    if let Err(e) = sent {
        worker::console_error!("approval notice for request {request_id} failed: {e}");
    }
}

#[derive(Debug, Clone, Deserialize)]
struct RequestRow {
    id: String,
    order_id: String,
    payee_openid: String,
    requester_openid: String,
    amount_fen: i64,
    reason: String,
    chain: String,
    step: i64,
    status: String,
    out_refund_no: Option<String>,
    failure: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl RequestRow {
    fn chain(&self) -> Vec<String> {
        serde_json::from_str(&self.chain).unwrap_or_default()
    }
}

const REQUEST_COLUMNS: &str =
    "id, order_id, payee_openid, requester_openid, amount_fen, reason, chain, step, \
     status, out_refund_no, failure, created_at, updated_at";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    step: i64,
    approver_openid: String,
    decision: String,
    comment: String,
    decided_at: i64,
}

#[derive(Serialize)]
struct RequestView {
    id: String,
    order_id: String,
    amount_fen: i64,
    reason: String,
    requester_openid: String,
    chain: Vec<String>,
    step: i64,
    status: String,
    out_refund_no: Option<String>,
    failure: Option<String>,
    created_at: i64,
    updated_at: i64,
    decisions: Vec<Step>,
}

async fn request_row(env: &Env, id: &str) -> Result<Option<RequestRow>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(format!(
            "SELECT {REQUEST_COLUMNS} FROM refund_requests WHERE id = ?1"
        ))
        .bind(&[id.into()])?
        .first::<RequestRow>(None)
        .await?)
}

async fn view_of(env: &Env, row: RequestRow) -> Result<RequestView, ApiError> {
    let decisions = env
        .d1("DB")?
        .prepare(
            "SELECT step, approver_openid, decision, comment, decided_at FROM refund_approvals \
             WHERE request_id = ?1 ORDER BY step",
        )
        .bind(&[row.id.as_str().into()])?
        .all()
        .await?
        .results::<Step>()?;
    let chain = row.chain();
    Ok(RequestView {
        id: row.id,
        order_id: row.order_id,
        amount_fen: row.amount_fen,
        reason: row.reason,
        requester_openid: row.requester_openid,
        chain,
        step: row.step,
        status: row.status,
        out_refund_no: row.out_refund_no,
        failure: row.failure,
        created_at: row.created_at,
        updated_at: row.updated_at,
        decisions,
    })
}

async fn request_view(env: &Env, id: &str) -> Result<Option<RequestView>, ApiError> {
    match request_row(env, id).await? {
        Some(row) => Ok(Some(view_of(env, row).await?)),
        None => Ok(None),
    }
}

/// `GET /api/dash/growth/refund-policy`: the policy and the people who accepted an invitation.
pub async fn get_policy(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let policy = policy_of(env, payee.as_str()).await?;
    let accepted = accepted_approvers(env, payee.as_str()).await?;
    http::json(
        200,
        &serde_json::json!({
            "threshold_fen": policy.as_ref().map(|p| p.0.get()),
            "approvers": policy.map(|p| p.1).unwrap_or_default(),
            "candidates": accepted,
        }),
    )
}

#[derive(Deserialize)]
struct Accepted {
    accepted_by: String,
}

async fn accepted_approvers(env: &Env, payee: &str) -> Result<Vec<String>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(
            "SELECT DISTINCT accepted_by FROM approver_invites \
             WHERE payee_openid = ?1 AND accepted_by IS NOT NULL ORDER BY accepted_by",
        )
        .bind(&[payee.into()])?
        .all()
        .await?
        .results::<Accepted>()?
        .into_iter()
        .map(|a| a.accepted_by)
        .collect())
}

#[derive(Deserialize)]
struct PolicyBody {
    /// Yuan; refunds above it need approval. `null` removes the policy.
    threshold: Option<String>,
    #[serde(default)]
    approvers: Vec<String>,
}

/// `PUT /api/dash/growth/refund-policy {"threshold": "50", "approvers": [openid, …]}`: every
/// approver must have accepted this payee's invitation; `threshold: null` turns approval off.
pub async fn put_policy(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(&req, env).await?;
    let body: PolicyBody = http::read_json(&mut req).await?;
    let db = env.d1("DB")?;
    let Some(threshold) = body.threshold.as_deref().filter(|t| !t.trim().is_empty()) else {
        db.prepare("DELETE FROM refund_policies WHERE payee_openid = ?1")
            .bind(&[payee.as_str().into()])?
            .run()
            .await?;
        return get_policy(&req, env).await;
    };
    let threshold = Fen::parse_yuan(threshold)
        .map_err(|e| ApiError::Pay(400, "INVALID_AMOUNT", e.to_string()))?;
    let approvers: Vec<Openid> = body
        .approvers
        .iter()
        .map(|a| {
            Openid::parse(a).ok_or(ApiError::Pay(400, "INVALID_APPROVER", "审批人无效".into()))
        })
        .collect::<Result<_, _>>()?;
    let policy =
        Policy::new(&payee, threshold, approvers).map_err(|e| refused(400, "INVALID_POLICY", e))?;
    let accepted = accepted_approvers(env, payee.as_str()).await?;
    if policy
        .approvers
        .iter()
        .any(|a| !accepted.iter().any(|x| x == a.as_str()))
    {
        return Err(ApiError::Pay(
            400,
            "APPROVER_NOT_INVITED",
            "审批人需要先通过你的邀请链接接受邀请".into(),
        ));
    }
    let list: Vec<&str> = policy.approvers.iter().map(Openid::as_str).collect();
    let json = serde_json::to_string(&list).map_err(|e| ApiError::Internal(e.to_string()))?;
    db.prepare(
        "INSERT INTO refund_policies (payee_openid, threshold_fen, approvers, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (payee_openid) DO UPDATE SET threshold_fen = ?2, approvers = ?3, updated_at = ?4",
    )
    .bind(&[
        payee.as_str().into(),
        num(policy.threshold.get()),
        json.as_str().into(),
        num(now_secs()),
    ])?
    .run()
    .await?;
    get_policy(&req, env).await
}

/// `POST /api/dash/growth/approver-invites`: a new invitation link (the token is shown once).
pub async fn invite(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let token = secrets::new_token()?;
    let now = now_secs();
    env.d1("DB")?
        .prepare(
            "INSERT INTO approver_invites (token_hash, payee_openid, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(&[
            secrets::token_hash(&token).into(),
            payee.as_str().into(),
            num(now),
            num(now + INVITE_TTL_SECS),
        ])?
        .run()
        .await?;
    http::json(
        201,
        &serde_json::json!({ "token": token, "path": format!("/dash#invite={token}"), "expires_at": now + INVITE_TTL_SECS }),
    )
}

#[derive(Deserialize)]
struct AcceptBody {
    token: String,
}

/// `POST /api/dash/growth/approver-invites/accept {"token"}`: the signed-in person (any payee
/// account state: staff need no approval to publish) becomes a possible approver. Once.
pub async fn accept(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let who = require_payee_session(&req, env)?;
    let body: AcceptBody = http::read_json(&mut req).await?;
    let changed = env
        .d1("DB")?
        .prepare(
            "UPDATE approver_invites SET accepted_by = ?2, accepted_at = ?3 \
             WHERE token_hash = ?1 AND accepted_by IS NULL AND expires_at > ?3 AND payee_openid <> ?2",
        )
        .bind(&[
            secrets::token_hash(body.token.trim()).into(),
            who.as_str().into(),
            num(now_secs()),
        ])?
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if changed == 0 {
        return Err(ApiError::Pay(
            409,
            "INVITE_INVALID",
            "邀请链接无效、已使用或已过期（也不能接受自己的邀请）".into(),
        ));
    }
    http::json(200, &serde_json::json!({ "openid": who.as_str() }))
}

/// `GET /api/dash/growth/refund-requests`: requests of my orders and those waiting for me.
pub async fn list(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let who = require_payee_session(req, env)?;
    let rows = env
        .d1("DB")?
        .prepare(format!(
            "SELECT {REQUEST_COLUMNS} FROM refund_requests \
             WHERE payee_openid = ?1 OR EXISTS (SELECT 1 FROM json_each(chain) WHERE value = ?1) \
             ORDER BY created_at DESC LIMIT 100"
        ))
        .bind(&[who.as_str().into()])?
        .all()
        .await?
        .results::<RequestRow>()?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(view_of(env, row).await?);
    }
    http::json(
        200,
        &serde_json::json!({ "me": who.as_str(), "requests": out }),
    )
}

#[derive(Deserialize)]
struct DecideBody {
    decision: Decision,
    #[serde(default)]
    comment: String,
}

/// `POST /api/dash/growth/refund-requests/:id/decide {"decision": "approve"|"reject", "comment"}`
/// by the approver whose turn it is. After the last approval the refund goes to WeChat Pay.
pub async fn decide(id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let who = require_payee_session(&req, env)?;
    let body: DecideBody = http::read_json(&mut req).await?;
    let comment =
        approval::comment(&body.comment).map_err(|e| refused(400, "INVALID_COMMENT", e))?;
    let row = request_row(env, id)
        .await?
        .ok_or(ApiError::Missing("退款申请"))?;
    let chain: Vec<Openid> = row
        .chain()
        .iter()
        .filter_map(|a| Openid::parse(a))
        .collect();
    // Only people of the chain and the payee learn that the request exists.
    if !chain.contains(&who) && row.payee_openid != who.as_str() {
        return Err(ApiError::Missing("退款申请"));
    }
    let status = match row.status.as_str() {
        "pending" => Status::Pending,
        "rejected" => Status::Rejected,
        _ => Status::Approved,
    };
    let requester = Openid::parse(&row.requester_openid)
        .ok_or_else(|| ApiError::Internal("requester".into()))?;
    let step = usize::try_from(row.step).unwrap_or(usize::MAX);
    may_decide(&who, &requester, &chain, step, status).map_err(|e| {
        let code = match e {
            approval::ApprovalError::OwnRequest => "OWN_REQUEST",
            approval::ApprovalError::Finished => "REQUEST_FINISHED",
            _ => "NOT_YOUR_STEP",
        };
        refused(409, code, e)
    })?;
    let (next_step, next_status) = after(step, chain.len(), body.decision);
    let decision = match body.decision {
        Decision::Approve => "approve",
        Decision::Reject => "reject",
    };
    let now = now_secs();
    let db = env.d1("DB")?;
    // One batch: both statements see the request still waiting at this step, or neither acts.
    let results = db
        .batch(vec![
            db.prepare(
                "INSERT OR IGNORE INTO refund_approvals (request_id, step, approver_openid, decision, comment, decided_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS \
                 (SELECT 1 FROM refund_requests WHERE id = ?1 AND status = 'pending' AND step = ?2)",
            )
            .bind(&[
                id.into(),
                num(row.step),
                who.as_str().into(),
                decision.into(),
                comment.as_str().into(),
                num(now),
            ])?,
            db.prepare(
                "UPDATE refund_requests SET step = ?3, status = ?4, updated_at = ?5 \
                 WHERE id = ?1 AND status = 'pending' AND step = ?2",
            )
            .bind(&[
                id.into(),
                num(row.step),
                num(next_step as i64),
                next_status.as_str().into(),
                num(now),
            ])?,
        ])
        .await?;
    let moved = results
        .get(1)
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if moved == 0 {
        return Err(ApiError::Pay(
            409,
            "REQUEST_FINISHED",
            "这一步已经有人审批过了".into(),
        ));
    }
    match next_status {
        Status::Pending => {
            if let Some(next) = chain.get(next_step) {
                notify_approver(env, next.as_str(), id, Fen::new(row.amount_fen)).await;
            }
        }
        Status::Approved => execute(env, &req, id).await?,
        Status::Rejected => {}
    }
    let view = request_view(env, id).await?.ok_or(ApiError::NotFound)?;
    http::json(200, &view)
}

/// Sends an approved request to WeChat Pay, once (claimed by a conditional update).
async fn execute(env: &Env, req: &Request, id: &str) -> Result<(), ApiError> {
    let db = env.d1("DB")?;
    let claimed = db
        .prepare("UPDATE refund_requests SET status = 'executing', updated_at = ?2 WHERE id = ?1 AND status = 'approved'")
        .bind(&[id.into(), num(now_secs())])?
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if claimed == 0 {
        return Ok(());
    }
    let row = request_row(env, id).await?.ok_or(ApiError::NotFound)?;
    let outcome = async {
        let order = apply::order_by_id(env, &row.order_id)
            .await?
            .ok_or(ApiError::Missing("订单"))?;
        let reason = Reason::parse(&row.reason)
            .map_err(|e| ApiError::Internal(format!("stored reason: {e}")))?;
        crate::pay::refunds::execute(env, req, &order, Fen::new(row.amount_fen), &reason).await
    };
    let (status, out_refund_no, failure) = match outcome.await {
        Ok(no) => ("refunded", Some(no), None),
        Err(e) => {
            worker::console_error!("approved refund request {id} failed: {e:?}");
            let message = match e {
                ApiError::Pay(_, _, message) => message,
                _ => "退款提交失败，请稍后重新申请".to_owned(),
            };
            ("failed", None, Some(message))
        }
    };
    db.prepare(
        "UPDATE refund_requests SET status = ?2, out_refund_no = ?3, failure = ?4, updated_at = ?5 WHERE id = ?1",
    )
    .bind(&[
        id.into(),
        status.into(),
        out_refund_no.as_deref().map_or(JsValue::NULL, JsValue::from_str),
        failure.as_deref().map_or(JsValue::NULL, JsValue::from_str),
        num(now_secs()),
    ])?
    .run()
    .await?;
    Ok(())
}
