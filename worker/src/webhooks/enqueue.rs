//! Queuing an event for every endpoint that wants it: the payee's own and the operator's. The
//! event id is derived from what happened (`evt_pay_<order>`, `evt_refund_<out_refund_no>`)
//! and `(endpoint_id, event_id)` is unique, so a repeated hook queues nothing new. The cron
//! sends (see `deliver`); the hook itself makes no outbound call.

use serde::Deserialize;
use shoukuan_core::money::Fen;
use shoukuan_core::webhook::{self, event, PaymentData, RefundData};
use worker::wasm_bindgen::JsValue;
use worker::Env;

use crate::error::ApiError;
use crate::pay::refunds::RefundRow;
use crate::receipts::PaidOrder;
use crate::session::now_secs;

/// `events::order_paid` (after the receipt): queues `payment.succeeded`. Never fails the
/// caller.
pub async fn payment_succeeded(
    env: &Env,
    order_id: &str,
    order: &PaidOrder,
    receipt_id: Option<&str>,
) {
    if let Err(e) = payment(env, order_id, order, receipt_id).await {
        worker::console_error!("webhook of order {order_id}: {e:?}");
    }
}

/// `events::refund_succeeded`: queues `refund.succeeded`. Never fails the caller.
pub async fn refund_succeeded(env: &Env, refund: &RefundRow) {
    if let Err(e) = refund_event(env, refund).await {
        worker::console_error!("webhook of refund {}: {e:?}", refund.out_refund_no);
    }
}

async fn payment(
    env: &Env,
    order_id: &str,
    order: &PaidOrder,
    receipt_id: Option<&str>,
) -> Result<(), ApiError> {
    let receipt_url = receipt_id.and_then(|id| crate::session::link(env, &format!("/r/{id}")));
    let now = now_secs();
    let data = PaymentData::new(
        &order.out_trade_no,
        order.transaction_id.as_deref().unwrap_or_default(),
        Fen::new(order.amount_fen),
        order.paid_at.unwrap_or(now),
        &order.collection_id,
        &order.title,
        receipt_url,
    );
    let event_id = format!("evt_pay_{order_id}");
    let body = webhook::body(&event_id, event::PAYMENT_SUCCEEDED, now, &data);
    queue(
        env,
        &order.payee_openid,
        &event_id,
        event::PAYMENT_SUCCEEDED,
        &body,
        now,
    )
    .await
}

#[derive(Deserialize)]
struct RefundedOrder {
    out_trade_no: String,
    payee_openid: String,
}

async fn refund_event(env: &Env, refund: &RefundRow) -> Result<(), ApiError> {
    let order = env
        .d1("DB")?
        .prepare("SELECT out_trade_no, payee_openid FROM orders WHERE id = ?1")
        .bind(&[refund.order_id.as_str().into()])?
        .first::<RefundedOrder>(None)
        .await?
        .ok_or(ApiError::Missing("订单"))?;
    let now = now_secs();
    let data = RefundData::new(
        &refund.out_refund_no,
        &order.out_trade_no,
        Fen::new(refund.amount_fen),
        &refund.reason,
        now,
    );
    let event_id = format!("evt_refund_{}", refund.out_refund_no);
    let body = webhook::body(&event_id, event::REFUND_SUCCEEDED, now, &data);
    queue(
        env,
        &order.payee_openid,
        &event_id,
        event::REFUND_SUCCEEDED,
        &body,
        now,
    )
    .await
}

#[derive(Deserialize)]
struct EndpointId {
    id: String,
}

/// One pending delivery per active endpoint of `payee` and of the operator, due now.
async fn queue(
    env: &Env,
    payee: &str,
    event_id: &str,
    kind: &str,
    body: &str,
    now: i64,
) -> Result<(), ApiError> {
    let db = env.d1("DB")?;
    let endpoints = db
        .prepare(
            "SELECT id FROM webhook_endpoints WHERE disabled_at IS NULL \
             AND (owner_openid = ?1 OR owner_openid IS NULL)",
        )
        .bind(&[payee.into()])?
        .all()
        .await?
        .results::<EndpointId>()?;
    for endpoint in endpoints {
        insert(env, &endpoint.id, event_id, kind, body, now).await?;
    }
    Ok(())
}

/// One pending delivery of `event_id` to `endpoint_id`, due at `now` (nothing when queued
/// before).
pub async fn insert(
    env: &Env,
    endpoint_id: &str,
    event_id: &str,
    kind: &str,
    body: &str,
    now: i64,
) -> Result<(), ApiError> {
    let id = format!("wd_{}", crate::secrets::new_public_id()?);
    env.d1("DB")?
        .prepare(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, next_attempt_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        )
        .bind(&[
            id.into(),
            endpoint_id.into(),
            event_id.into(),
            kind.into(),
            body.into(),
            JsValue::from_f64(now as f64),
        ])?
        .run()
        .await?;
    Ok(())
}
