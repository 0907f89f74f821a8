//! Issuing receipts: read the stored payment, sign its fields, seal the document, insert it
//! once (`receipts.source` is unique, so a retried event issues nothing new).

use serde::Deserialize;
use shoukuan_core::receipt::{clean, mask_transaction_id, ConfirmedBy, Receipt};
use shoukuan_core::routing::DeploymentModel;
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::{keys, SEALED_COLUMN};
use crate::config::setting;
use crate::error::ApiError;
use crate::personal_data;
use crate::session::now_secs;

/// `events::order_paid`: issues the order's receipt, then queues the `payment.succeeded`
/// webhook (which links the receipt), from one read of the paid order. Never fails the caller.
pub async fn order_paid(env: &Env, order_id: &str) {
    let order = match paid_order(env, order_id).await {
        Ok(order) => order,
        Err(e) => {
            worker::console_error!("receipt of order {order_id}: {e:?}");
            return;
        }
    };
    let receipt_id = match for_order(env, order_id, &order).await {
        Ok(id) => Some(id),
        Err(e) => {
            worker::console_error!("receipt of order {order_id}: {e:?}");
            None
        }
    };
    crate::webhooks::payment_succeeded(env, order_id, &order, receipt_id.as_deref()).await;
}

/// The split confirm path: the payee confirmed participant `pid` of `collection_id` paid
/// (personal mode). Never fails the caller.
pub async fn payee_confirmed(env: &Env, collection_id: &str, pid: &str) {
    if let Err(e) = for_participant(env, collection_id, pid).await {
        worker::console_error!("receipt of {collection_id}/{pid}: {e:?}");
    }
}

/// A paid order as its receipt and its `payment.succeeded` webhook need it.
#[derive(Deserialize)]
pub struct PaidOrder {
    pub out_trade_no: String,
    pub collection_id: String,
    pub payee_openid: String,
    pub amount_fen: i64,
    pub transaction_id: Option<String>,
    pub paid_at: Option<i64>,
    pub title: String,
    pub payee_name: String,
}

#[derive(Deserialize)]
struct ConfirmedEntry {
    seq: i64,
    paid_fen: Option<i64>,
    paid_at: Option<i64>,
    paid_by: Option<String>,
    title: String,
    payee_name: String,
    owner_openid: Option<String>,
}

/// Who received the money, per the deployment model: in own business the merchant (the
/// seller of record), otherwise the name on the collection.
fn payee_name(env: &Env, collection_payee: &str) -> String {
    let own_business = setting(env, shoukuan_core::routing::MODEL_SETTING)
        .and_then(|m| DeploymentModel::parse(&m))
        == Some(DeploymentModel::OwnBusiness);
    match setting(env, "WECHATPAY_MERCHANT_NAME").filter(|_| own_business) {
        Some(name) if !name.trim().is_empty() => clean(&name),
        _ => clean(collection_payee),
    }
}

/// The receipt already issued for `source`, if any.
async fn existing(env: &Env, source: &str) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    Ok(env
        .d1("DB")?
        .prepare("SELECT id FROM receipts WHERE source = ?1")
        .bind(&[source.into()])?
        .first::<Id>(None)
        .await?
        .map(|row| row.id))
}

async fn paid_order(env: &Env, order_id: &str) -> Result<PaidOrder, ApiError> {
    env
        .d1("DB")?
        .prepare(
            "SELECT o.out_trade_no, o.collection_id, o.payee_openid, o.amount_fen, o.transaction_id, o.paid_at, \
             c.title, c.payee_name FROM orders o JOIN collections c ON c.id = o.collection_id \
             WHERE o.id = ?1 AND o.state IN ('paid', 'refunding', 'refunded')",
        )
        .bind(&[order_id.into()])?
        .first::<PaidOrder>(None)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("order {order_id} is not paid")))
}

/// The order's receipt id: issued now, or the one a retried event issued before.
async fn for_order(env: &Env, order_id: &str, order: &PaidOrder) -> Result<String, ApiError> {
    let source = format!("order:{order_id}");
    if let Some(id) = existing(env, &source).await? {
        return Ok(id);
    }
    let signer = keys::signer(env)?;
    let now = now_secs();
    let receipt = Receipt {
        id: new_id()?,
        key_id: signer.key_id.clone(),
        confirmed_by: ConfirmedBy::WechatPay,
        payee: payee_name(env, &order.payee_name),
        amount_fen: order.amount_fen,
        paid_at: order.paid_at.unwrap_or(now),
        order_no: clean(&order.out_trade_no),
        transaction_id: order
            .transaction_id
            .as_deref()
            .map(mask_transaction_id)
            .unwrap_or_default(),
        collection_id: clean(&order.collection_id),
        collection: clean(&order.title),
        issued_at: now,
    };
    store(env, &source, Some(&order.payee_openid), receipt).await
}

async fn for_participant(env: &Env, collection_id: &str, pid: &str) -> Result<(), ApiError> {
    let source = format!("participant:{pid}");
    if existing(env, &source).await?.is_some() {
        return Ok(());
    }
    let entry = env
        .d1("DB")?
        .prepare(
            "SELECT p.seq, p.paid_fen, p.paid_at, p.paid_by, c.title, c.payee_name, c.owner_openid \
             FROM participants p JOIN collections c ON c.id = p.collection_id \
             WHERE p.id = ?1 AND p.collection_id = ?2 AND p.status = 'paid'",
        )
        .bind(&[pid.into(), collection_id.into()])?
        .first::<ConfirmedEntry>(None)
        .await?
        .ok_or_else(|| ApiError::Internal("entry is not paid".into()))?;
    // A verified payment's entry has its order's receipt; only the payee's word is issued here.
    if entry.paid_by.as_deref() != Some("payee_confirmed") {
        return Ok(());
    }
    let signer = keys::signer(env)?;
    let now = now_secs();
    let receipt = Receipt {
        id: new_id()?,
        key_id: signer.key_id.clone(),
        confirmed_by: ConfirmedBy::Payee,
        payee: clean(&entry.payee_name),
        amount_fen: entry.paid_fen.unwrap_or_default(),
        paid_at: entry.paid_at.unwrap_or(now),
        order_no: format!("{}-{}", clean(collection_id), entry.seq),
        transaction_id: String::new(),
        collection_id: clean(collection_id),
        collection: clean(&entry.title),
        issued_at: now,
    };
    store(env, &source, entry.owner_openid.as_deref(), receipt)
        .await
        .map(drop)
}

fn new_id() -> Result<String, ApiError> {
    // 16 characters (≈ 93 bits): the link is the capability to read the receipt.
    Ok(format!(
        "{}{}",
        crate::secrets::new_public_id()?,
        &crate::secrets::new_public_id()?[..4]
    ))
}

async fn store(
    env: &Env,
    source: &str,
    payee_openid: Option<&str>,
    receipt: Receipt,
) -> Result<String, ApiError> {
    let signed = keys::signer(env)?.sign(receipt).await?;
    let json = serde_json::to_string(&signed)
        .map_err(|e| ApiError::Internal(format!("receipt JSON: {e}")))?;
    let sealed = personal_data::seal(&personal_data::key(env)?, SEALED_COLUMN, &json)?;
    let r = &signed.receipt;
    let inserted = env
        .d1("DB")?
        .prepare(
            "INSERT INTO receipts (id, source, payee_openid, collection_id, confirmed_by, key_id, sealed, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (source) DO NOTHING RETURNING id",
        )
        .bind(&[
            r.id.as_str().into(),
            source.into(),
            payee_openid.map_or(JsValue::NULL, JsValue::from_str),
            r.collection_id.as_str().into(),
            r.confirmed_by.as_str().into(),
            r.key_id.as_str().into(),
            sealed.into(),
            JsValue::from_f64(r.issued_at as f64),
        ])?
        .first::<serde_json::Value>(None)
        .await?;
    match inserted {
        Some(_) => Ok(r.id.clone()),
        // A racing copy of the event issued it first: that one is the receipt.
        None => existing(env, source)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("receipt of {source} vanished"))),
    }
}
