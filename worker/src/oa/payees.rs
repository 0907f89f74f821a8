//! Payee accounts: the signed-in payee (`/api/dash/me`), its collections and claiming earlier
//! ones through their manage links, and the operator's approval list (`/api/operator/payees`,
//! bearer `OPERATOR_SECRET`, used by `shoukuan payees …`).

use serde::{Deserialize, Serialize};
use shoukuan_core::collection::is_valid_id;
use shoukuan_core::session::{clear_cookie, Role};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use crate::config::PublishConfig;
use crate::error::ApiError;
use crate::session::{
    self, now_secs, payee_status, require_approved_payee, require_operator, require_payee_session,
    PayeeStatus,
};
use crate::{http, secrets};

/// `GET /api/dash/me`: `{openid, status, publish_access}`; 401 without a payee session.
pub async fn me(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let openid = require_payee_session(req, env)?;
    let status = payee_status(env, &openid)
        .await?
        .unwrap_or(PayeeStatus::Pending);
    http::json(
        200,
        &serde_json::json!({
            "openid": openid.as_str(),
            "status": status.as_str(),
            "publish_access": PublishConfig::from_env(env).access.as_str(),
        }),
    )
}

/// `POST /api/dash/logout`: ends the payee session.
pub fn logout(req: &Request) -> Result<Response, ApiError> {
    let mut resp = http::json(200, &serde_json::json!({ "signed_out": true }))?;
    resp.headers_mut().append(
        "set-cookie",
        &clear_cookie(Role::Payee, session::secure_cookies(req)),
    )?;
    Ok(resp)
}

#[derive(Debug, Serialize, Deserialize)]
struct MyCollection {
    id: String,
    title: String,
    status: String,
    amount_fen: Option<i64>,
    created_at: i64,
}

/// `GET /api/dash/collections`: the approved payee's collections, newest first.
pub async fn my_collections(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let openid = require_approved_payee(req, env).await?;
    let rows = env
        .d1("DB")?
        .prepare(
            "SELECT id, title, status, amount_fen, created_at FROM collections WHERE owner_openid = ?1 \
             ORDER BY created_at DESC, id LIMIT 200",
        )
        .bind(&[openid.as_str().into()])?
        .all()
        .await?
        .results::<MyCollection>()?;
    http::json(200, &serde_json::json!({ "collections": rows }))
}

#[derive(Deserialize)]
struct ClaimBody {
    id: String,
    manage_token: String,
}

#[derive(Deserialize)]
struct ClaimRow {
    manage_token_hash: String,
    owner_openid: Option<String>,
}

/// `POST /api/dash/claim` `{id, manage_token}`: moves a collection published through a manage
/// link into the payee's account. 401 for a wrong token, 409 when another payee owns it.
pub async fn claim(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let openid = require_approved_payee(&req, env).await?;
    let body: ClaimBody = http::read_json(&mut req).await?;
    if !is_valid_id(&body.id) {
        return Err(ApiError::NotFound);
    }
    let db = env.d1("DB")?;
    let row = db
        .prepare("SELECT manage_token_hash, owner_openid FROM collections WHERE id = ?1")
        .bind(&[body.id.as_str().into()])?
        .first::<ClaimRow>(None)
        .await?
        .ok_or(ApiError::NotFound)?;
    let token = body.manage_token.trim();
    if token.is_empty() || !secrets::secret_eq(&secrets::token_hash(token), &row.manage_token_hash)
    {
        return Err(ApiError::Unauthorized);
    }
    if row
        .owner_openid
        .as_deref()
        .is_some_and(|owner| owner != openid.as_str())
    {
        return Err(ApiError::Conflict("CLAIMED", "这个收款已属于另一个收款方"));
    }
    db.prepare("UPDATE collections SET owner_openid = ?2 WHERE id = ?1 AND (owner_openid IS NULL OR owner_openid = ?2)")
        .bind(&[body.id.as_str().into(), openid.as_str().into()])?
        .run()
        .await?;
    http::json(
        200,
        &serde_json::json!({ "id": body.id, "owner_openid": openid.as_str() }),
    )
}

#[derive(Debug, Serialize, Deserialize)]
struct PayeeRow {
    openid: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}

/// `GET /api/operator/payees`: every payee account, pending first.
pub async fn list(req: &Request, env: &Env) -> Result<Response, ApiError> {
    require_operator(req, env)?;
    let rows = env
        .d1("DB")?
        .prepare(
            "SELECT openid, status, created_at, updated_at FROM payee_accounts \
             ORDER BY CASE status WHEN 'pending' THEN 0 WHEN 'approved' THEN 1 ELSE 2 END, created_at",
        )
        .all()
        .await?
        .results::<PayeeRow>()?;
    http::json(200, &serde_json::json!({ "payees": rows }))
}

/// `POST /api/operator/payees/:openid/approve|revoke`: the openid need not have signed in yet.
/// The answer also says what the approval means for the money (`pay::merchants::on_approval`):
/// in own business it records the declaration that the payee is part of the business.
pub async fn set_status(
    openid: &str,
    approve: bool,
    req: &Request,
    env: &Env,
) -> Result<Response, ApiError> {
    require_operator(req, env)?;
    let openid = crate::session::openid_param(openid)?;
    let status = if approve {
        PayeeStatus::Approved
    } else {
        PayeeStatus::Revoked
    };
    let now = JsValue::from_f64(now_secs() as f64);
    let row = env
        .d1("DB")?
        .prepare(
            "INSERT INTO payee_accounts (openid, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) \
             ON CONFLICT (openid) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at \
             RETURNING openid, status, created_at, updated_at",
        )
        .bind(&[openid.as_str().into(), status.as_str().into(), now])?
        .first::<PayeeRow>(None)
        .await?
        .ok_or_else(|| ApiError::Internal("upsert returned nothing".into()))?;
    let money = crate::pay::merchants::on_approval(env, &openid, approve).await?;
    let mut answer = serde_json::to_value(&row).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let (Some(answer), Some(money)) = (answer.as_object_mut(), money.as_object()) {
        answer.extend(money.clone());
    }
    http::json(200, &answer)
}
