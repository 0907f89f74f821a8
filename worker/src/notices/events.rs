//! The payee's real-time notices, one per event (called from `crate::events`): a verified
//! payment, a refund that succeeded, a 我已付款 claim. Each is keyed on the event itself (the
//! order, the refund, the claim's time), so a duplicate callback, a query racing a callback or
//! a repeated claim request finds the key taken and sends nothing more.
//!
//! Payments and refunds are recorded here and sent by the notices cron (at its next run, within
//! a minute): these run inside WeChat Pay's callback, whose answer must not wait for the
//! Official Account's API. A claim (the payer's own request) is sent at once.

use serde::Deserialize;
use shoukuan_core::money::Fen;
use shoukuan_core::notice::{payer_label, NoticeKind, PayeeNotice};
use worker::Env;

use super::{db, record_and_send, record_for_cron, template, NewNotice, NOTICE_TEMPLATE};
use crate::error::ApiError;
use crate::pay::apply::OrderRow;
use crate::pay::refunds::RefundRow;
use crate::session::now_secs;

/// Whether `payee` wants real-time notices (no row: yes).
async fn wants_notices(env: &Env, payee: &str) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct On {
        notices: i64,
    }
    let row = db(env)?
        .prepare("SELECT notices FROM notice_settings WHERE openid = ?1")
        .bind(&[payee.into()])?
        .first::<On>(None)
        .await?;
    Ok(row.is_none_or(|r| r.notices != 0))
}

#[derive(Deserialize)]
struct OrderFacts {
    collection_id: String,
    title: String,
    owner_openid: Option<String>,
    payer_hash: Option<String>,
    name_masked: Option<String>,
}

async fn order_facts(env: &Env, order_id: &str) -> Result<Option<OrderFacts>, ApiError> {
    Ok(db(env)?
        .prepare(
            "SELECT o.collection_id, c.title, c.owner_openid, o.payer_hash, p.name_masked FROM orders o \
             JOIN collections c ON c.id = o.collection_id \
             LEFT JOIN participants p ON p.id = o.participant_id WHERE o.id = ?1",
        )
        .bind(&[order_id.into()])?
        .first::<OrderFacts>(None)
        .await?)
}

/// When a notice goes out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Send {
    /// In this request.
    Now,
    /// By the notices cron (inside a payment callback).
    ByCron,
}

/// Records `notice` to `payee` under `key` and sends it (`when`) when notices are configured
/// and wanted.
async fn notify_payee(
    env: &Env,
    when: Send,
    key: String,
    payee: &str,
    collection_id: &str,
    path: String,
    notice: PayeeNotice,
) -> Result<(), ApiError> {
    let Some(template_id) = template(env, NOTICE_TEMPLATE) else {
        return Ok(());
    };
    if !wants_notices(env, payee).await? {
        return Ok(());
    }
    let message = NewNotice {
        key,
        kind: notice.kind,
        payee: Some(payee.to_string()),
        collection_id: Some(collection_id.to_string()),
        participant_id: None,
        template_id,
        data: notice.data(),
        path: Some(path),
    };
    match when {
        Send::Now => {
            record_and_send(env, message, notice.at).await?;
        }
        Send::ByCron => {
            record_for_cron(env, message, notice.at).await?;
        }
    }
    Ok(())
}

async fn paid(env: &Env, order: &OrderRow) -> Result<(), ApiError> {
    let Some(facts) = order_facts(env, &order.id).await? else {
        return Ok(());
    };
    let payee = facts.owner_openid.as_deref().unwrap_or(&order.payee_openid);
    let notice = PayeeNotice {
        kind: NoticeKind::Paid,
        title: facts.title,
        amount: Fen::new(order.amount_fen),
        who: payer_label(facts.name_masked.as_deref(), facts.payer_hash.as_deref()),
        at: order.paid_at.unwrap_or_else(now_secs),
    };
    super::selfservice::follow_up(env, &order.id, &notice.title, notice.amount, notice.at).await;
    let key = format!("paid:{}", order.id);
    let path = format!("/o/{}", order.id);
    notify_payee(
        env,
        Send::ByCron,
        key,
        payee,
        &order.collection_id,
        path,
        notice,
    )
    .await
}

/// An order just became paid.
pub async fn order_paid(env: &Env, order: &OrderRow) {
    if let Err(e) = paid(env, order).await {
        worker::console_error!("notice of payment {}: {e:?}", order.id);
    }
}

async fn refunded(env: &Env, refund: &RefundRow) -> Result<(), ApiError> {
    let Some(facts) = order_facts(env, &refund.order_id).await? else {
        return Ok(());
    };
    let Some(payee) = facts.owner_openid.clone() else {
        return Ok(());
    };
    let notice = PayeeNotice {
        kind: NoticeKind::Refund,
        title: facts.title,
        amount: Fen::new(refund.amount_fen),
        who: payer_label(facts.name_masked.as_deref(), facts.payer_hash.as_deref()),
        at: now_secs(),
    };
    let key = format!("refund:{}", refund.out_refund_no);
    let path = format!("/o/{}", refund.order_id);
    notify_payee(
        env,
        Send::ByCron,
        key,
        &payee,
        &facts.collection_id,
        path,
        notice,
    )
    .await
}

/// A refund just reached SUCCESS.
pub async fn refund_succeeded(env: &Env, refund: &RefundRow) {
    if let Err(e) = refunded(env, refund).await {
        worker::console_error!("notice of refund {}: {e:?}", refund.out_refund_no);
    }
}

async fn claimed(env: &Env, collection_id: &str, participant_id: &str) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Claim {
        title: String,
        owner_openid: Option<String>,
        name_masked: String,
        claimed_at: Option<i64>,
    }
    let Some(claim) = db(env)?
        .prepare(
            "SELECT c.title, c.owner_openid, p.name_masked, p.claimed_at FROM participants p \
             JOIN collections c ON c.id = p.collection_id \
             WHERE p.id = ?1 AND p.collection_id = ?2 AND p.status = 'claimed'",
        )
        .bind(&[participant_id.into(), collection_id.into()])?
        .first::<Claim>(None)
        .await?
    else {
        return Ok(());
    };
    let Some(payee) = claim.owner_openid else {
        return Ok(());
    };
    // What they owe now, as the public list shows it.
    let due = crate::splits::find_public_view(collection_id, env)
        .await?
        .and_then(|view| {
            view.participants
                .into_iter()
                .find(|p| p.id == participant_id)
                .map(|p| p.due)
        })
        .unwrap_or(Fen::ZERO);
    let at = claim.claimed_at.unwrap_or_else(now_secs);
    let notice = PayeeNotice {
        kind: NoticeKind::Claim,
        title: claim.title,
        amount: due,
        who: claim.name_masked,
        at,
    };
    // One claim is one event: a later claim (after the payee rejected one) is another.
    let key = format!("claim:{participant_id}:{at}");
    let path = format!("/admin/{collection_id}");
    notify_payee(env, Send::Now, key, &payee, collection_id, path, notice).await
}

/// A split participant just said 我已付款.
pub async fn claim_made(env: &Env, collection_id: &str, participant_id: &str) {
    if let Err(e) = claimed(env, collection_id, participant_id).await {
        worker::console_error!("notice of claim on {collection_id}: {e:?}");
    }
}
