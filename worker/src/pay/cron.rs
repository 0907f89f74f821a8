//! The minute cron (`[triggers] crons = ["* * * * *"]`): for when callbacks are late or lost.
//!
//! - Orders still pending after `PAY_REQUERY_AFTER_SECS` are queried at WeChat Pay and the
//!   answer goes through the same transition as a callback: if WeChat Pay says paid, the order
//!   is paid (WeChat's truth wins; a payment after a local close is flagged for the payee).
//! - Orders past `time_expire` that WeChat Pay still reports unpaid are closed through the close
//!   API, then locally; an order WeChat Pay never heard of (its prepay failed) is closed locally.
//! - Refunds still processing are queried too.
//!
//! Every call goes to the merchant the order was made for (`routing::for_order`: the
//! partner endpoints and its `sub_mchid` for a platform order).
//!
//! Each run handles a bounded batch, oldest first; the next minute picks up the rest.

use serde::Deserialize;
use shoukuan_core::order::OrderState;
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::apply::{self, compare_and_swap, OrderRow, Outcome, Source, ORDER_COLUMNS};
use super::client::{self, CallError};
use super::config::PayConfig;
use super::refunds::{self, RefundRow};
use crate::error::ApiError;
use crate::session::now_secs;

/// Orders looked at per run.
const ORDERS_PER_RUN: i64 = 25;
/// Refunds looked at per run.
const REFUNDS_PER_RUN: i64 = 10;
/// An order is not queried again by the cron within this many seconds.
const QUERY_GAP_SECS: i64 = 50;
/// A refund is queried once it has been processing this long.
const REFUND_QUERY_AFTER_SECS: i64 = 30;
/// A refund WeChat Pay never received is closed after this long.
const REFUND_GIVE_UP_SECS: i64 = 600;

fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// What one run did (logged; returned for tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    /// Orders queried.
    pub queried: u32,
    /// Orders confirmed paid by the query.
    pub paid: u32,
    /// Orders closed.
    pub closed: u32,
    /// Refunds queried.
    pub refunds: u32,
}

/// One cron run.
pub async fn run(env: &Env) -> Result<Summary, ApiError> {
    let Some(config) = PayConfig::get(env) else {
        return Ok(Summary::default());
    };
    let mut summary = Summary::default();
    let now = now_secs();
    // Production asks again after 50 s; a deployment that re-queries sooner (tests) may too.
    let gap = QUERY_GAP_SECS.min(config.requery_after_secs);
    let due = env
        .d1("DB")?
        .prepare(format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE state = 'pending' AND \
             (created_at <= ?1 OR expires_at <= ?2) AND (last_query_at IS NULL OR last_query_at <= ?3) \
             ORDER BY created_at LIMIT ?4"
        ))
        .bind(&[
            num(now - config.requery_after_secs),
            num(now),
            num(now - gap),
            num(ORDERS_PER_RUN),
        ])?
        .all()
        .await?
        .results::<OrderRow>()?;
    for order in due {
        if let Err(e) = check_order(env, &config, &order, gap, &mut summary).await {
            worker::console_error!("cron: order {}: {e:?}", order.id);
        }
    }
    let refunds = env
        .d1("DB")?
        .prepare(
            "SELECT out_refund_no, order_id, amount_fen, reason, state, created_at FROM refunds \
             WHERE state = 'processing' AND updated_at <= ?1 ORDER BY updated_at LIMIT ?2",
        )
        .bind(&[num(now - REFUND_QUERY_AFTER_SECS), num(REFUNDS_PER_RUN)])?
        .all()
        .await?
        .results::<RefundRow>()?;
    for refund in refunds {
        summary.refunds += 1;
        if let Err(e) = refunds::sync(env, &config, &refund, REFUND_GIVE_UP_SECS).await {
            worker::console_error!("cron: refund {}: {e:?}", refund.out_refund_no);
        }
    }
    super::sharing::cron(env, &config).await;
    worker::console_log!(
        "pay cron: {} queried, {} paid, {} closed, {} refunds checked",
        summary.queried,
        summary.paid,
        summary.closed,
        summary.refunds
    );
    Ok(summary)
}

#[derive(Deserialize)]
struct Claimed {
    #[allow(dead_code)]
    id: String,
}

async fn check_order(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    gap: i64,
    summary: &mut Summary,
) -> Result<(), ApiError> {
    let now = now_secs();
    // Claim the query so overlapping runs (or the order page) do not ask twice.
    let claimed = env
        .d1("DB")?
        .prepare("UPDATE orders SET last_query_at = ?2 WHERE id = ?1 AND (last_query_at IS NULL OR last_query_at <= ?3) RETURNING id")
        .bind(&[order.id.as_str().into(), num(now), num(now - gap)])?
        .first::<Claimed>(None)
        .await?;
    if claimed.is_none() {
        return Ok(());
    }
    summary.queried += 1;
    let dedupe = format!("query:{}", order.out_trade_no);
    let routing = super::routing::for_order(order, config);
    match client::query_order(env, config, &routing, &order.out_trade_no).await {
        Ok(Some(tx)) => {
            let (outcome, _) =
                apply::apply_transaction(env, config, &tx, Source::Cron, &dedupe).await?;
            match outcome {
                Outcome::Applied(OrderState::Paid) => summary.paid += 1,
                Outcome::Applied(OrderState::Closed) => summary.closed += 1,
                Outcome::NotYet if now >= order.expires_at => {
                    close(env, config, order, summary).await?
                }
                _ => {}
            }
        }
        // WeChat Pay never received this order: nobody can pay it, close it here.
        Ok(None) if now >= order.expires_at => {
            if compare_and_swap(
                env,
                &order.id,
                OrderState::Pending,
                OrderState::Closed,
                "cron",
                None,
            )
            .await?
            {
                summary.closed += 1;
            }
        }
        Ok(None) => {}
        Err(e) => worker::console_error!("cron: query of {}: {e}", order.out_trade_no),
    }
    Ok(())
}

/// Closes an expired, unpaid order at WeChat Pay, then here. If WeChat Pay refuses because it
/// was paid in the meantime, the order is queried and applied as paid.
async fn close(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    summary: &mut Summary,
) -> Result<(), ApiError> {
    let routing = super::routing::for_order(order, config);
    match client::close_order(env, config, &routing, &order.out_trade_no).await {
        Ok(()) => {
            if compare_and_swap(
                env,
                &order.id,
                OrderState::Pending,
                OrderState::Closed,
                Source::Close.as_str(),
                None,
            )
            .await?
            {
                summary.closed += 1;
            }
        }
        Err(CallError::Refused { code, message, .. }) => {
            worker::console_log!(
                "close of {} refused: {code} {message}; asking again",
                order.out_trade_no
            );
            if let Ok(Some(tx)) =
                client::query_order(env, config, &routing, &order.out_trade_no).await
            {
                let (outcome, _) = apply::apply_transaction(
                    env,
                    config,
                    &tx,
                    Source::Cron,
                    &format!("query:{}", order.out_trade_no),
                )
                .await?;
                if outcome == Outcome::Applied(OrderState::Paid) {
                    summary.paid += 1;
                }
            }
        }
        Err(e) => worker::console_error!("close of {}: {e}", order.out_trade_no),
    }
    Ok(())
}
