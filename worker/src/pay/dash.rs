//! The payee's payments dashboard (first version) and the operator's identity switch.
//!
//! Access: the payee session of the Official Account front door (`/oauth/start?next=/dash`
//! inside WeChat sets it; the operator approves payees) — the same approved-payee rule as the
//! rest of `/api/dash/*`. A payee only ever sees its own collections, orders and flags.
//!
//! - `GET /api/dash/payments`: today's limit status, collections with totals, recent orders,
//!   refunds and open flags.
//! - `POST /api/dash/merchant-collections`: publish a collection paid through WeChat Pay.
//! - `POST /api/dash/flags/:id/resolve`: the payee has looked at a flag.
//! - `POST /api/operator/payees/:openid/identity` `{verified}`: the operator marks a payee
//!   identity-verified (the daily limit then no longer applies).

use serde::{Deserialize, Serialize};
use shoukuan_core::checkout::NewMerchantCollection;
use shoukuan_core::collection::{AmountRule, Created};
use shoukuan_core::limits::DayStatus;
use shoukuan_core::paytime::ShanghaiDay;
use shoukuan_core::refund::RefundView;
use shoukuan_core::routing::DeploymentModel;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::config::PayConfig;
use super::orders::day_totals;
use super::refunds::RefundRow;
use crate::error::ApiError;
use crate::http::{self, num};
use crate::secrets;
use crate::session::{now_secs, require_approved_payee, require_operator};

/// A collection with its totals.
#[derive(Debug, Serialize, Deserialize)]
struct CollectionTotals {
    id: String,
    title: String,
    status: String,
    pay_mode: String,
    amount_fen: Option<i64>,
    created_at: i64,
    paid_count: i64,
    paid_fen: i64,
    refunded_fen: i64,
    pending_count: i64,
}

/// An order line of the dashboard.
#[derive(Debug, Serialize, Deserialize)]
struct OrderLine {
    id: String,
    out_trade_no: String,
    collection_id: String,
    title: Option<String>,
    amount_fen: i64,
    state: String,
    trade_type: String,
    transaction_id: Option<String>,
    refunded_fen: i64,
    created_at: i64,
    paid_at: Option<i64>,
    changed_by: Option<String>,
}

/// An open flag.
#[derive(Debug, Serialize, Deserialize)]
struct FlagLine {
    id: i64,
    order_id: Option<String>,
    kind: String,
    message: String,
    created_at: i64,
}

/// The money model as this payee sees it.
#[derive(Debug, Serialize)]
struct MoneyModel {
    /// `own_business` | `platform`, or null when unset / invalid.
    model: Option<&'static str>,
    /// What the model means, in Chinese.
    model_label: Option<&'static str>,
    /// Own business: the seller named on payer pages.
    merchant_name: Option<String>,
    /// Platform: this payee's sub-merchant (where its money settles).
    sub_mchid: Option<String>,
    /// Own business: when the operator declared this payee part of the business.
    declared_staff_at: Option<i64>,
    /// Whether this payee may publish merchant-mode collections now.
    merchant_mode_available: bool,
    /// Why not (names what is missing), when not.
    merchant_mode_unavailable: Option<String>,
}

/// `GET /api/dash/payments`.
#[derive(Debug, Serialize)]
struct Dashboard {
    /// Whether this deployment can take WeChat Pay payments at all.
    merchant_configured: bool,
    /// The money model and this payee's place in it.
    money: MoneyModel,
    /// Today (Asia/Shanghai) against the ¥50 000 limit.
    today: DayStatus,
    collections: Vec<CollectionTotals>,
    orders: Vec<OrderLine>,
    refunds: Vec<RefundView>,
    flags: Vec<FlagLine>,
}

/// `GET /api/dash/payments`.
pub async fn overview(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let db = env.d1("DB")?;
    let owner: JsValue = payee.as_str().into();
    let now = now_secs();
    let day = ShanghaiDay::of(now);
    let (confirmed, reserved, held, verified) = day_totals(env, payee.as_str(), day, now).await?;
    let collections = db
        .prepare(
            "SELECT c.id, c.title, c.status, c.pay_mode, c.amount_fen, c.created_at, \
             COUNT(CASE WHEN o.state IN ('paid', 'refunding', 'refunded') THEN 1 END) AS paid_count, \
             COALESCE(SUM(CASE WHEN o.state IN ('paid', 'refunding', 'refunded') THEN o.amount_fen END), 0) AS paid_fen, \
             COALESCE(SUM(o.refunded_fen), 0) AS refunded_fen, \
             COUNT(CASE WHEN o.state = 'pending' THEN 1 END) AS pending_count \
             FROM collections c LEFT JOIN orders o ON o.collection_id = c.id \
             WHERE c.owner_openid = ?1 GROUP BY c.id ORDER BY c.created_at DESC LIMIT 100",
        )
        .bind(std::slice::from_ref(&owner))?
        .all()
        .await?
        .results::<CollectionTotals>()?;
    let orders = db
        .prepare(
            "SELECT o.id, o.out_trade_no, o.collection_id, c.title, o.amount_fen, o.state, o.trade_type, \
             o.transaction_id, o.refunded_fen, o.created_at, o.paid_at, o.changed_by \
             FROM orders o LEFT JOIN collections c ON c.id = o.collection_id \
             WHERE o.payee_openid = ?1 ORDER BY o.created_at DESC, o.id LIMIT 50",
        )
        .bind(std::slice::from_ref(&owner))?
        .all()
        .await?
        .results::<OrderLine>()?;
    let refunds = db
        .prepare(
            "SELECT r.out_refund_no, r.order_id, r.amount_fen, r.reason, r.state, r.created_at \
             FROM refunds r JOIN orders o ON o.id = r.order_id WHERE o.payee_openid = ?1 \
             ORDER BY r.created_at DESC LIMIT 50",
        )
        .bind(std::slice::from_ref(&owner))?
        .all()
        .await?
        .results::<RefundRow>()?
        .iter()
        .map(RefundRow::view)
        .collect::<Result<Vec<_>, _>>()?;
    let flags = db
        .prepare(
            "SELECT id, order_id, kind, message, created_at FROM pay_flags \
             WHERE payee_openid = ?1 AND resolved_at IS NULL ORDER BY created_at DESC LIMIT 50",
        )
        .bind(&[owner])?
        .all()
        .await?
        .results::<FlagLine>()?;
    let config = PayConfig::get(env);
    let model = config.as_ref().and_then(|c| c.model.clone().ok());
    let bound = super::merchants::find(env, payee.as_str()).await?;
    let unavailable = match super::check_may_publish(env, &payee).await {
        Ok(()) => None,
        Err(ApiError::Pay(_, _, message)) => Some(message),
        Err(e) => return Err(e),
    };
    let money = MoneyModel {
        model: model.map(|m| m.as_str()),
        model_label: model.map(|m| m.label()),
        merchant_name: config
            .as_ref()
            .filter(|_| model == Some(DeploymentModel::OwnBusiness))
            .and_then(|c| c.merchant_name.clone()),
        sub_mchid: bound.as_ref().and_then(|b| b.sub_mchid.clone()),
        declared_staff_at: bound.as_ref().and_then(|b| b.declared_staff_at),
        merchant_mode_available: unavailable.is_none(),
        merchant_mode_unavailable: unavailable,
    };
    http::json(
        200,
        &Dashboard {
            merchant_configured: super::configured(env),
            money,
            today: DayStatus::new(day, confirmed, reserved, held, verified),
            collections,
            orders,
            refunds,
            flags,
        },
    )
}

/// `POST /api/dash/merchant-collections`: `NewMerchantCollection` → 201 `Created`. The
/// collection belongs to the signed-in payee (its daily limit, its dashboard).
pub async fn create_collection(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(&req, env).await?;
    // The model must be configured, and in platform mode the payee needs its own sub-merchant.
    super::check_may_publish(env, &payee).await?;
    let draft: NewMerchantCollection = http::read_json(&mut req).await?;
    let valid = draft.validate().map_err(ApiError::Invalid)?;
    let id = secrets::new_public_id()?;
    let token = secrets::new_token()?;
    let now = now_secs();
    let amount = match valid.amount {
        AmountRule::Fixed { fen } => num(fen.get()),
        AmountRule::PayerEntered => JsValue::NULL,
    };
    env.d1("DB")?
        .prepare(
            "INSERT INTO collections (id, kind, status, payee_name, title, amount_fen, note, pay_code, \
             manage_token_hash, created_at, updated_at, owner_openid, pay_mode) \
             VALUES (?1, 'request', 'open', ?2, ?3, ?4, ?5, '', ?6, ?7, ?7, ?8, 'merchant')",
        )
        .bind(&[
            id.as_str().into(),
            valid.payee_name.as_str().into(),
            valid.title.as_str().into(),
            amount,
            valid.note.as_str().into(),
            secrets::token_hash(&token).into(),
            num(now),
            payee.as_str().into(),
        ])?
        .run()
        .await?;
    http::json(
        201,
        &Created {
            path: format!("/c/{id}"),
            manage_path: format!("/manage/{id}#t={token}"),
            id,
            manage_token: token,
        },
    )
}

/// `POST /api/dash/flags/:id/resolve`.
pub async fn resolve_flag(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::Missing("提醒"))?;
    let done = env
        .d1("DB")?
        .prepare("UPDATE pay_flags SET resolved_at = ?3 WHERE id = ?1 AND payee_openid = ?2 RETURNING id")
        .bind(&[num(id), payee.as_str().into(), num(now_secs())])?
        .first::<serde_json::Value>(None)
        .await?;
    if done.is_none() {
        return Err(ApiError::Missing("提醒"));
    }
    http::json(200, &serde_json::json!({ "resolved": id }))
}

#[derive(Deserialize)]
struct IdentityBody {
    verified: bool,
}

/// `POST /api/operator/payees/:openid/identity` `{verified}` (operator bearer).
pub async fn set_identity(openid: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    require_operator(&req, env)?;
    let openid = crate::session::openid_param(openid)?;
    let body: IdentityBody = http::read_json(&mut req).await?;
    env.d1("DB")?
        .prepare(
            "INSERT INTO payee_verifications (openid, verified, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (openid) DO UPDATE SET verified = excluded.verified, updated_at = excluded.updated_at",
        )
        .bind(&[openid.as_str().into(), num(i64::from(body.verified)), num(now_secs())])?
        .run()
        .await?;
    http::json(
        200,
        &serde_json::json!({ "openid": openid.as_str(), "identity_verified": body.verified }),
    )
}
