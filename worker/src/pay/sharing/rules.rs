//! A collection's share rule, set by its owner:
//!
//! - `GET /api/dash/collections/:id/shares` → [`RuleView`]
//! - `PUT /api/dash/collections/:id/shares` `{receivers: [ReceiverDraft…]}` → [`RuleView`];
//!   400 with the refused fields (`OVER_MAX_RATIO` when the rule could exceed the ratio WeChat
//!   allows for any order of the collection), 409 `SHARING_NOT_AUTHORISED` when the
//!   sub-merchant has not authorised the service provider, 409 `NOT_MERCHANT` for a
//!   collection paid by receive code.
//!
//! Receivers' names are personal data: sealed with `DATA_KEY` at rest, shown only to the owner.

use serde::{Deserialize, Serialize};
use shoukuan_core::money::Fen;
use shoukuan_core::profitshare::{
    Bps, ReceiverType, RuleDraft, RuleLimits, RuleReceiver, ShareAmount,
};
use shoukuan_core::routing::PayeeRouting;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::super::config::PayConfig;
use super::super::routing;
use super::ratio::{self, MaxRatio};
use super::settings;
use crate::error::ApiError;
use crate::http::num;
use crate::session::{now_secs, require_approved_payee};
use crate::{http, personal_data};

/// Bound into each sealed name.
pub const NAME_COLUMN: &str = "share_rules.name";

#[derive(Deserialize)]
struct CollectionRow {
    owner_openid: Option<String>,
    kind: String,
    pay_mode: String,
    amount_fen: Option<i64>,
}

/// A stored receiver of a rule, name still sealed.
#[derive(Debug, Clone, Deserialize)]
pub struct RuleRow {
    /// Serving order.
    pub position: i64,
    /// `PERSONAL_OPENID` | `MERCHANT_ID`.
    pub receiver_type: String,
    /// mchid or openid.
    pub account: String,
    /// Sealed name.
    pub name_sealed: Option<String>,
    /// WeChat's relation.
    pub relation_type: String,
    /// Fixed amount.
    pub amount_fen: Option<i64>,
    /// Ratio.
    pub ratio_bps: Option<i64>,
    /// Shown to WeChat and the receiver.
    pub description: String,
}

impl RuleRow {
    /// The amount this receiver asks.
    pub fn amount(&self) -> Result<ShareAmount, ApiError> {
        match (self.amount_fen, self.ratio_bps.and_then(Bps::new)) {
            (Some(fen), None) => Ok(ShareAmount::Fixed(Fen::new(fen))),
            (None, Some(bps)) => Ok(ShareAmount::Ratio(bps)),
            _ => Err(ApiError::Internal(format!(
                "share rule row {} has no single amount",
                self.position
            ))),
        }
    }

    /// The receiver type.
    pub fn kind(&self) -> Result<ReceiverType, ApiError> {
        ReceiverType::parse(&self.receiver_type)
            .ok_or_else(|| ApiError::Internal(format!("share rule type {:?}", self.receiver_type)))
    }

    /// The name in clear (the key is only needed when one was given).
    pub fn name(&self, env: &Env) -> Result<Option<String>, ApiError> {
        self.name_sealed
            .as_deref()
            .map(|sealed| personal_data::open(&personal_data::key(env)?, NAME_COLUMN, sealed))
            .transpose()
    }
}

/// A collection's rule, in serving order.
pub async fn load(env: &Env, collection_id: &str) -> Result<Vec<RuleRow>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(
            "SELECT position, receiver_type, account, name_sealed, relation_type, amount_fen, ratio_bps, description \
             FROM share_rules WHERE collection_id = ?1 ORDER BY position",
        )
        .bind(&[collection_id.into()])?
        .all()
        .await?
        .results::<RuleRow>()?)
}

/// What the owner sees.
#[derive(Debug, Serialize)]
pub struct RuleView {
    receivers: Vec<ReceiverView>,
    /// The most that may be shared of an order, in 1/10 000.
    max_ratio_bps: i64,
    /// The platform fee taken first, in 1/10 000.
    platform_fee_bps: i64,
}

#[derive(Debug, Serialize)]
struct ReceiverView {
    #[serde(rename = "type")]
    kind: String,
    account: String,
    name: Option<String>,
    relation_type: String,
    amount_fen: Option<i64>,
    ratio_bps: Option<i64>,
    description: String,
}

async fn owned_collection(env: &Env, id: &str, owner: &str) -> Result<CollectionRow, ApiError> {
    env.d1("DB")?
        .prepare("SELECT owner_openid, kind, pay_mode, amount_fen FROM collections WHERE id = ?1")
        .bind(&[id.into()])?
        .first::<CollectionRow>(None)
        .await?
        .filter(|c| c.owner_openid.as_deref() == Some(owner))
        .ok_or(ApiError::Missing("收款"))
}

fn not_authorised() -> ApiError {
    ApiError::Pay(
        409,
        "SHARING_NOT_AUTHORISED",
        "你的特约商户尚未授权服务商分账（或授权比例为 0）：请在微信支付商户平台「产品中心 → 分账」接受服务商的分账邀请并设置最大分账比例后再试".into(),
    )
}

async fn limits_for(
    env: &Env,
    config: &PayConfig,
    routing: &PayeeRouting,
    collection: &CollectionRow,
    fresh: bool,
) -> Result<RuleLimits, ApiError> {
    let max_ratio = ratio::max_ratio(env, config, routing, fresh).await?;
    let mut reserved = vec![routing.signing_mchid().to_string()];
    reserved.extend(routing.sub_mchid().map(str::to_string));
    Ok(RuleLimits {
        max_ratio: max_ratio.bps(),
        platform_fee: settings::platform_fee(env, routing),
        // Only a plain request has one amount for every order (product pages and splits vary).
        collection_amount: collection
            .amount_fen
            .filter(|_| collection.kind == "request")
            .map(Fen::new),
        reserved_merchants: reserved,
    })
}

async fn view(env: &Env, collection_id: &str, limits: &RuleLimits) -> Result<RuleView, ApiError> {
    let receivers = load(env, collection_id)
        .await?
        .into_iter()
        .map(|row| {
            Ok(ReceiverView {
                name: row.name(env)?,
                kind: row.receiver_type,
                account: row.account,
                relation_type: row.relation_type,
                amount_fen: row.amount_fen,
                ratio_bps: row.ratio_bps,
                description: row.description,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(RuleView {
        receivers,
        max_ratio_bps: limits.max_ratio.get(),
        platform_fee_bps: limits.effective_fee().get(),
    })
}

/// `GET /api/dash/collections/:id/shares`.
pub async fn get(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let collection = owned_collection(env, id, payee.as_str()).await?;
    let config = PayConfig::require(env)?;
    let routing = routing::for_payee(env, &config, payee.as_str()).await?;
    let limits = limits_for(env, &config, &routing, &collection, false).await?;
    http::json(200, &view(env, id, &limits).await?)
}

fn opt(n: Option<i64>) -> JsValue {
    n.map_or(JsValue::NULL, num)
}

/// `PUT /api/dash/collections/:id/shares`: replaces the rule (an empty list removes it).
pub async fn put(id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(&req, env).await?;
    let collection = owned_collection(env, id, payee.as_str()).await?;
    if collection.pay_mode != "merchant" {
        return Err(ApiError::Pay(
            409,
            "NOT_MERCHANT",
            "只有通过微信支付商户收款的收款才能设置分账".into(),
        ));
    }
    let config = PayConfig::require(env)?;
    let routing = routing::for_payee(env, &config, payee.as_str()).await?;
    let draft: RuleDraft = http::read_json(&mut req).await?;
    let limits = limits_for(env, &config, &routing, &collection, true).await?;
    if limits.max_ratio == Bps::ZERO && !draft.receivers.is_empty() {
        return Err(
            match ratio::max_ratio(env, &config, &routing, false).await? {
                MaxRatio::NotAuthorised if routing.sub_mchid().is_some() => not_authorised(),
                _ => ApiError::Pay(
                    409,
                    "SHARING_NOT_ALLOWED",
                    "本商户的最大分账比例为 0，不能设置分账".into(),
                ),
            },
        );
    }
    let receivers = draft.validate(&limits).map_err(ApiError::Invalid)?;
    let db = env.d1("DB")?;
    let now = now_secs();
    let key = if receivers.iter().any(|r| r.name.is_some()) {
        Some(personal_data::key(env)?)
    } else {
        None
    };
    let mut statements = vec![db
        .prepare("DELETE FROM share_rules WHERE collection_id = ?1")
        .bind(&[id.into()])?];
    for (position, r) in receivers.iter().enumerate() {
        statements.push(insert(&db, id, position, r, key.as_ref(), now)?);
    }
    // One transaction: the old rule is replaced whole or not at all.
    db.batch(statements).await?;
    http::json(200, &view(env, id, &limits).await?)
}

fn insert(
    db: &worker::D1Database,
    id: &str,
    position: usize,
    r: &RuleReceiver,
    key: Option<&shoukuan_core::personal_data::DataKey>,
    now: i64,
) -> Result<worker::D1PreparedStatement, ApiError> {
    let sealed = match (&r.name, key) {
        (Some(name), Some(key)) => personal_data::seal(key, NAME_COLUMN, name)?.into(),
        _ => JsValue::NULL,
    };
    let (fixed, ratio) = match r.amount {
        ShareAmount::Fixed(fen) => (Some(fen.get()), None),
        ShareAmount::Ratio(bps) => (None, Some(bps.get())),
    };
    Ok(db
        .prepare(
            "INSERT INTO share_rules (collection_id, position, receiver_type, account, name_sealed, \
             relation_type, amount_fen, ratio_bps, description, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(&[
            id.into(),
            num(position as i64),
            r.kind.as_str().into(),
            r.account.as_str().into(),
            sealed,
            r.relation_type.as_str().into(),
            opt(fixed),
            opt(ratio),
            r.description.as_str().into(),
            num(now),
        ])?)
}
