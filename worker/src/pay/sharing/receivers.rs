//! Receivers are added at WeChat (`POST /v3/profitsharing/receivers/add`) before an order
//! shares to them, per sharing merchant (the sub-merchant in the platform model: "每个子商户都要
//! 分别添加接收方"). Adding is idempotent at WeChat; `share_receivers` only saves the call.
//!
//! A `name` is encrypted (RSA-OAEP SHA-1, `core::wechatpay::encrypt_sensitive`) with the
//! WeChat Pay public key, or else the newest platform certificate, and the request's
//! `Wechatpay-Serial` names that key (PROTOCOL-2 §2.1).

use serde::Deserialize;
use shoukuan_core::profitshare::ReceiverType;
use shoukuan_core::routing::PayeeRouting;
use shoukuan_core::wechatpay::{encrypt_sensitive, Certificate, PublicKey};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Method};

use super::super::client::{self, CallError};
use super::super::config::PayConfig;
use crate::error::ApiError;
use crate::session::now_secs;

/// A receiver to add.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// Merchant or person.
    pub kind: ReceiverType,
    /// mchid or openid.
    pub account: String,
    /// In clear; encrypted on the way out.
    pub name: Option<String>,
    /// WeChat's relation.
    pub relation_type: String,
}

/// The merchant whose receivers these are: the sub-merchant, or the direct merchant.
pub fn sharer(routing: &PayeeRouting) -> &str {
    routing.sub_mchid().unwrap_or(routing.signing_mchid())
}

#[derive(Deserialize)]
struct PemRow {
    serial: String,
    pem: String,
}

/// The key names are encrypted with, and its id for `Wechatpay-Serial`.
async fn encryption_key(env: &Env, config: &PayConfig) -> Result<(String, PublicKey), ApiError> {
    if let Some((id, key)) = &config.public_key {
        return Ok((id.clone(), key.clone()));
    }
    let row = env
        .d1("DB")?
        .prepare(
            "SELECT serial, pem FROM wechatpay_certificates WHERE expires_at > ?1 \
             ORDER BY effective_at DESC LIMIT 1",
        )
        .bind(&[JsValue::from_f64(now_secs() as f64)])?
        .first::<PemRow>(None)
        .await?
        .ok_or_else(|| {
            ApiError::Upstream("no WeChat Pay public key nor platform certificate yet".into())
        })?;
    let cert = Certificate::from_pem(&row.pem)
        .map_err(|e| ApiError::Internal(format!("platform certificate {}: {e}", row.serial)))?;
    Ok((row.serial, cert.public_key().clone()))
}

/// Why a receiver could not be added.
#[derive(Debug)]
pub enum AddError {
    /// Local (D1, keys).
    Local(ApiError),
    /// WeChat's answer.
    Call(CallError),
}

impl From<ApiError> for AddError {
    fn from(e: ApiError) -> Self {
        AddError::Local(e)
    }
}

impl From<worker::Error> for AddError {
    fn from(e: worker::Error) -> Self {
        AddError::Local(e.into())
    }
}

/// Adds every receiver not yet known for this merchant.
pub async fn ensure_added(
    env: &Env,
    config: &PayConfig,
    routing: &PayeeRouting,
    receivers: &[Receiver],
) -> Result<(), AddError> {
    let db = env.d1("DB")?;
    let merchant = sharer(routing);
    for r in receivers {
        let known = db
            .prepare(
                "SELECT account FROM share_receivers WHERE merchant = ?1 AND receiver_type = ?2 AND account = ?3",
            )
            .bind(&[
                merchant.into(),
                r.kind.as_str().into(),
                r.account.as_str().into(),
            ])?
            .first::<serde_json::Value>(None)
            .await?
            .is_some();
        if known {
            continue;
        }
        let mut body = routing.request_ids();
        body.insert("appid".into(), routing.appid().into());
        body.insert("type".into(), r.kind.as_str().into());
        body.insert("account".into(), r.account.as_str().into());
        body.insert("relation_type".into(), r.relation_type.as_str().into());
        let mut serial = None;
        if let Some(name) = &r.name {
            let (id, key) = encryption_key(env, config).await?;
            let encrypted = encrypt_sensitive(&key, name)
                .map_err(|e| ApiError::Internal(format!("encrypting a receiver name: {e}")))?;
            body.insert("name".into(), encrypted.into());
            serial = Some(id);
        }
        let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
        client::call_with_serial(
            env,
            config,
            Method::Post,
            "/v3/profitsharing/receivers/add",
            Some(&bytes),
            serial.as_deref(),
        )
        .await
        .map_err(AddError::Call)?;
        db.prepare(
            "INSERT INTO share_receivers (merchant, receiver_type, account, relation_type, added_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )
        .bind(&[
            merchant.into(),
            r.kind.as_str().into(),
            r.account.as_str().into(),
            r.relation_type.as_str().into(),
            JsValue::from_f64(now_secs() as f64),
        ])?
        .run()
        .await?;
    }
    Ok(())
}

/// Forgets a receiver (WeChat said `NO_RELATION`): the next share adds it again.
pub async fn forget(
    env: &Env,
    routing: &PayeeRouting,
    kind: &str,
    account: &str,
) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare(
            "DELETE FROM share_receivers WHERE merchant = ?1 AND receiver_type = ?2 AND account = ?3",
        )
        .bind(&[sharer(routing).into(), kind.into(), account.into()])?
        .run()
        .await?;
    Ok(())
}
