//! The minute cron (`[triggers] crons = ["* * * * *"]`): for when callbacks are late or lost.
//!
//! - Orders still pending after `PAY_REQUERY_AFTER_SECS` are queried at WeChat Pay and the
//!   answer goes through the same transition as a callback: if WeChat Pay says paid, the order
//!   is paid (WeChat's truth wins; a payment after a local close is flagged for the payee).
//! - Orders past `time_expire` are closed through the close API (one call: WeChat Pay refuses
//!   to close a paid order, and only then is it queried and applied as paid), then locally; an
//!   order WeChat Pay never heard of is closed locally.
//! - Expired orders that were never handed to WeChat Pay (`prepaid = 0`: the worker stopped
//!   between the reserving INSERT and the prepay) are closed locally in one statement, without
//!   a call.
//! - Refunds still processing are queried too.
//!
//! Every call goes to the merchant the order was made for (`routing::for_order`: the
//! partner endpoints and its `sub_mchid` for a platform order).
//!
//! A backlog (e.g. a flood of abandoned Native orders) must not starve real payments: each run
//! makes at most [`CALLS_PER_RUN`] calls, [`CALLS_AT_ONCE`] in flight, and takes the orders
//! that may still be paid first (not yet expired), then expired orders a payer was seen on (a
//! signed-in payer, or an order page that polled), then the rest, oldest first within each.

use futures_util::future::join_all;
use serde::Deserialize;
use shoukuan_core::order::OrderState;
use worker::Env;

use super::apply::{self, compare_and_swap, OrderRow, Outcome, Source, ORDER_COLUMNS};
use super::client::{self, CallError};
use super::config::PayConfig;
use super::refunds::{self, RefundRow};
use crate::error::ApiError;
use crate::http::num;

/// Orders queried or closed at WeChat Pay per run.
pub const CALLS_PER_RUN: i64 = 150;
/// Calls in flight at once (a Worker keeps at most six connections open).
const CALLS_AT_ONCE: usize = 6;
/// Refunds looked at per run.
const REFUNDS_PER_RUN: i64 = 10;
/// An order is not queried again by the cron within this many seconds.
const QUERY_GAP_SECS: i64 = 50;
/// A refund is queried once it has been processing this long.
const REFUND_QUERY_AFTER_SECS: i64 = 30;
/// A refund WeChat Pay never received is closed after this long.
const REFUND_GIVE_UP_SECS: i64 = 600;

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

/// One cron run at `now` (Unix seconds).
pub async fn run(env: &Env, now: i64) -> Result<Summary, ApiError> {
    let Some(config) = PayConfig::get(env) else {
        return Ok(Summary::default());
    };
    let mut summary = Summary::default();
    summary.closed += close_never_prepaid(env, now).await?;
    // Production asks again after 50 s; a deployment that re-queries sooner (tests) may too.
    let gap = QUERY_GAP_SECS.min(config.requery_after_secs);
    let due = env
        .d1("DB")?
        .prepare(format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE state = 'pending' AND prepaid IS NOT 0 AND \
             (created_at <= ?1 OR expires_at <= ?2) AND (last_query_at IS NULL OR last_query_at <= ?3) \
             ORDER BY CASE WHEN expires_at > ?2 THEN 0 \
                           WHEN payer_hash IS NOT NULL OR last_query_at IS NOT NULL THEN 1 \
                           ELSE 2 END, created_at \
             LIMIT ?4"
        ))
        .bind(&[
            num(now - config.requery_after_secs),
            num(now),
            num(now - gap),
            num(CALLS_PER_RUN),
        ])?
        .all()
        .await?
        .results::<OrderRow>()?;
    for batch in due.chunks(CALLS_AT_ONCE) {
        let checks = batch
            .iter()
            .map(|order| check_order(env, &config, order, now, gap));
        for (order, outcome) in batch.iter().zip(join_all(checks).await) {
            match outcome {
                Ok(done) => summary.add(done),
                Err(e) => worker::console_error!("cron: order {}: {e:?}", order.id),
            }
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

impl Summary {
    fn add(&mut self, done: Done) {
        self.queried += u32::from(done.asked);
        self.paid += u32::from(done.paid);
        self.closed += u32::from(done.closed);
    }
}

/// What checking one order did.
#[derive(Debug, Default, Clone, Copy)]
struct Done {
    asked: bool,
    paid: bool,
    closed: bool,
}

/// Closes, in one statement and without a call, the expired orders that were never handed to
/// WeChat Pay (nobody holds a `prepay_id` or `code_url` for them, and WeChat Pay takes no
/// payment past `time_expire` anyway). Returns how many.
async fn close_never_prepaid(env: &Env, now: i64) -> Result<u32, ApiError> {
    let closed = env
        .d1("DB")?
        .prepare(
            "UPDATE orders SET state = 'closed', changed_by = 'cron', updated_at = ?1 \
             WHERE state = 'pending' AND prepaid = 0 AND expires_at <= ?1 RETURNING id",
        )
        .bind(&[num(now)])?
        .all()
        .await?
        .results::<Claimed>()?;
    Ok(u32::try_from(closed.len()).unwrap_or(u32::MAX))
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
    now: i64,
    gap: i64,
) -> Result<Done, ApiError> {
    let mut done = Done::default();
    // Claim the order so overlapping runs (or the order page) do not ask twice.
    let claimed = env
        .d1("DB")?
        .prepare("UPDATE orders SET last_query_at = ?2 WHERE id = ?1 AND (last_query_at IS NULL OR last_query_at <= ?3) RETURNING id")
        .bind(&[order.id.as_str().into(), num(now), num(now - gap)])?
        .first::<Claimed>(None)
        .await?;
    if claimed.is_none() {
        return Ok(done);
    }
    done.asked = true;
    if now >= order.expires_at {
        close(env, config, order, &mut done).await?;
        return Ok(done);
    }
    let routing = super::routing::for_order(order, config);
    match client::query_order(env, config, &routing, &order.out_trade_no).await {
        Ok(Some(tx)) => settle(env, config, order, &tx, &mut done).await?,
        Ok(None) => {}
        Err(e) => worker::console_error!("cron: query of {}: {e}", order.out_trade_no),
    }
    Ok(done)
}

/// Applies what a query found, as a callback would have.
async fn settle(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    tx: &shoukuan_core::wechatpay::Transaction,
    done: &mut Done,
) -> Result<(), ApiError> {
    let dedupe = format!("query:{}", order.out_trade_no);
    let (outcome, _) = apply::apply_transaction(env, config, tx, Source::Cron, &dedupe).await?;
    match outcome {
        Outcome::Applied(OrderState::Paid) => done.paid = true,
        Outcome::Applied(OrderState::Closed) => done.closed = true,
        _ => {}
    }
    Ok(())
}

/// Closes the order here, if it is still pending.
async fn close_here(
    env: &Env,
    order: &OrderRow,
    source: &str,
    done: &mut Done,
) -> Result<(), ApiError> {
    if compare_and_swap(
        env,
        &order.id,
        OrderState::Pending,
        OrderState::Closed,
        source,
        None,
    )
    .await?
    {
        done.closed = true;
    }
    Ok(())
}

/// Closes an expired order at WeChat Pay, then here. If WeChat Pay refuses (it was paid in the
/// meantime, or it never heard of the order), the order is queried: a payment is applied as
/// paid, an order WeChat Pay does not know is closed here.
async fn close(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    done: &mut Done,
) -> Result<(), ApiError> {
    let routing = super::routing::for_order(order, config);
    match client::close_order(env, config, &routing, &order.out_trade_no).await {
        Ok(()) => close_here(env, order, Source::Close.as_str(), done).await?,
        Err(CallError::Refused { code, message, .. }) => {
            worker::console_log!(
                "close of {} refused: {code} {message}; asking",
                order.out_trade_no
            );
            match client::query_order(env, config, &routing, &order.out_trade_no).await {
                Ok(Some(tx)) => settle(env, config, order, &tx, done).await?,
                // WeChat Pay never received this order: nobody can pay it.
                Ok(None) => close_here(env, order, "cron", done).await?,
                Err(e) => worker::console_error!("cron: query of {}: {e}", order.out_trade_no),
            }
        }
        Err(e) => worker::console_error!("close of {}: {e}", order.out_trade_no),
    }
    Ok(())
}
