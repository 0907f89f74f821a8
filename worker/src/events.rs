//! What happens after money moves: the one place every follow-up of a payment, a refund or a
//! personal-mode claim is started from. Each follow-up (channel attribution, split bookkeeping,
//! notices, webhooks, points, A/B conversions, …) is one line here, runs after the state change
//! is stored, and must be idempotent on the event (a retry or a racing copy may call it again)
//! and must not fail the caller: it logs its own errors.

use shoukuan_core::money::Fen;
use worker::Env;

use crate::pay::apply::OrderRow;
use crate::pay::refunds::RefundRow;

/// An order has just become paid (exactly one caller wins the compare-and-swap).
pub async fn order_paid(env: &Env, order: &OrderRow) {
    crate::growth::ab::order_paid(env, &order.out_trade_no).await;
    crate::growth::points::credit(env, order).await;
    crate::receipts::order_paid(env, &order.id).await;
    // Channel attribution is a statistic: a failure there must not undo the payment.
    if let Err(e) = crate::oa::channels::record_order_paid(env, &order.out_trade_no).await {
        worker::console_error!("channel attribution of {}: {e:?}", order.out_trade_no);
    }
    // A merchant-mode split: this (verified, just-applied) payment marks its participant paid,
    // with the amount the order was made and confirmed for. Idempotent; a failure is logged
    // (the order is paid either way, and the payee sees it on the dashboard).
    if let Some(pid) = order.participant_id.as_deref() {
        match crate::splits::mark_paid_by_verified_payment(
            env,
            &order.collection_id,
            pid,
            Fen::new(order.amount_fen),
            &order.out_trade_no,
        )
        .await
        {
            Ok(true) => worker::console_log!("order {} paid participant {pid}", order.id),
            Ok(false) => worker::console_log!(
                "order {} paid; participant {pid} was already marked paid",
                order.id
            ),
            Err(e) => worker::console_error!(
                "order {} paid but marking participant {pid} failed: {e:?}",
                order.id
            ),
        }
    }
    crate::notices::events::order_paid(env, order).await;
}

/// A refund has just reached `SUCCESS` (exactly one caller wins the compare-and-swap).
pub async fn refund_succeeded(env: &Env, refund: &RefundRow) {
    crate::growth::points::reverse(env, refund).await;
    crate::webhooks::refund_succeeded(env, refund).await;
    worker::console_log!("refund {} succeeded", refund.out_refund_no);
    crate::notices::events::refund_succeeded(env, refund).await;
}

/// A split participant has just said 我已付款 (personal mode; the row changed to `claimed`).
pub async fn claim_made(env: &Env, collection_id: &str, participant_id: &str) {
    crate::growth::ab::claimed(env, participant_id).await;
    worker::console_log!("claim on {collection_id} by participant {participant_id}");
    crate::notices::events::claim_made(env, collection_id, participant_id).await;
}
