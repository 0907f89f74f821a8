//! Planning an order's share: the platform fee and the collection's rule, capped by the
//! merchant's ratio and WeChat's `unsplit_amount` (`core::profitshare::compute`), written to
//! D1 *before* anything is sent: the job row and its receivers in one transaction, under a
//! fresh `out_order_no`. From then on every retry sends exactly these amounts under that
//! number, so a restart or a lost answer can never make a second share.

use serde::Deserialize;
use shoukuan_core::money::Fen;
use shoukuan_core::profitshare::compute::{plan, OrderAmounts};
use shoukuan_core::profitshare::wechat::{out_order_no, JobKind};
use shoukuan_core::profitshare::{fee_and, ReceiverType, RELATION_SERVICE_PROVIDER};
use shoukuan_core::routing::PayeeRouting;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Method};

use super::super::apply::OrderRow;
use super::super::client::{self, CallError};
use super::super::config::PayConfig;
use super::super::routing;
use super::{ratio, rules, settings};
use crate::error::ApiError;
use crate::http::num;
use crate::session::now_secs;

/// The platform fee's description (shown in WeChat's 分账账单).
const FEE_DESCRIPTION: &str = "平台服务费";
/// The unfreeze's description.
pub const UNFREEZE_DESCRIPTION: &str = "解冻剩余资金";

#[derive(Deserialize)]
struct Unsplit {
    unsplit_amount: i64,
}

/// `GET /v3/profitsharing/transactions/{id}/amounts`: what is still frozen and shareable.
pub async fn unsplit(
    env: &Env,
    config: &PayConfig,
    transaction_id: &str,
) -> Result<Fen, CallError> {
    let path = format!("/v3/profitsharing/transactions/{transaction_id}/amounts");
    let answer = client::call(env, config, Method::Get, &path, None).await?;
    let parsed: Unsplit =
        serde_json::from_slice(&answer.body).map_err(|e| CallError::Malformed(e.to_string()))?;
    Ok(Fen::new(parsed.unsplit_amount.max(0)))
}

/// One planned receiver.
struct Line {
    source: &'static str,
    kind: ReceiverType,
    account: String,
    relation_type: String,
    name_sealed: Option<String>,
    amount: Fen,
    wanted: Fen,
    description: String,
}

/// Plans the first share (or, when nothing is to be shared, the unfreeze) of a paid order.
/// Returns false when WeChat's amounts could not be read (the next run tries again).
pub async fn first(env: &Env, config: &PayConfig, order: &OrderRow) -> Result<bool, ApiError> {
    let routing = routing::for_order(order, config);
    let Some(transaction_id) = order.transaction_id.as_deref() else {
        return Ok(false);
    };
    let unsplit = match unsplit(env, config, transaction_id).await {
        Ok(fen) => fen,
        Err(CallError::Refused { code, message, .. }) => {
            // Not a sharing order at WeChat (or not shareable at all): record why, once.
            let draft = Draft {
                kind: JobKind::Unfreeze,
                attempt: 1,
                unsplit: Fen::ZERO,
                cap: None,
                lines: Vec::new(),
                failed: Some(format!("{code} {message}")),
            };
            insert(env, order, &routing, &draft).await?;
            return Ok(true);
        }
        Err(e) => {
            worker::console_error!("sharing: amounts of order {}: {e}", order.id);
            return Ok(false);
        }
    };
    let rule = rules::load(env, &order.collection_id).await?;
    let max_ratio = ratio::max_ratio(env, config, &routing, false).await?.bps();
    let fee = settings::platform_fee(env, &routing).min(max_ratio);
    let rule_amounts = rule
        .iter()
        .map(rules::RuleRow::amount)
        .collect::<Result<Vec<_>, _>>()?;
    let mut candidates: Vec<Line> = Vec::new();
    if fee.get() > 0 {
        // The fee's name is configuration (`WECHATPAY_SP_NAME`), read when it is sent.
        candidates.push(Line {
            source: "fee",
            kind: ReceiverType::MerchantId,
            account: routing.signing_mchid().to_string(),
            relation_type: RELATION_SERVICE_PROVIDER.into(),
            name_sealed: None,
            amount: Fen::ZERO,
            wanted: Fen::ZERO,
            description: FEE_DESCRIPTION.into(),
        });
    }
    for row in &rule {
        candidates.push(Line {
            source: "rule",
            kind: row.kind()?,
            account: row.account.clone(),
            relation_type: row.relation_type.clone(),
            name_sealed: row.name_sealed.clone(),
            amount: Fen::ZERO,
            wanted: Fen::ZERO,
            description: row.description.clone(),
        });
    }
    let computed = plan(
        &fee_and(&[], fee)
            .into_iter()
            .chain(rule_amounts)
            .collect::<Vec<_>>(),
        OrderAmounts {
            total: Fen::new(order.amount_fen),
            refunded: Fen::new(order.refunded_fen),
            unsplit,
            max_ratio,
        },
    );
    let lines: Vec<Line> = candidates
        .into_iter()
        .zip(computed.lines.iter())
        .filter(|(_, l)| l.amount > Fen::ZERO)
        .map(|(line, l)| Line {
            amount: l.amount,
            wanted: l.wanted,
            ..line
        })
        .collect();
    let kind = if lines.is_empty() {
        JobKind::Unfreeze
    } else {
        JobKind::Share
    };
    let draft = Draft {
        kind,
        attempt: 1,
        unsplit,
        cap: Some(computed.cap),
        lines,
        failed: None,
    };
    insert(env, order, &routing, &draft).await?;
    Ok(true)
}

/// Plans an unfreeze after a share that did not take everything (a refused share, a closed
/// receiver), so the payee's money is not left frozen.
pub async fn unfreeze_after(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    attempt: i64,
) -> Result<(), ApiError> {
    let routing = routing::for_order(order, config);
    let draft = Draft {
        kind: JobKind::Unfreeze,
        attempt: u32::try_from(attempt + 1).unwrap_or(u32::MAX),
        unsplit: Fen::ZERO,
        cap: None,
        lines: Vec::new(),
        failed: None,
    };
    insert(env, order, &routing, &draft).await
}

/// A job about to be written.
struct Draft {
    kind: JobKind,
    attempt: u32,
    unsplit: Fen,
    cap: Option<Fen>,
    lines: Vec<Line>,
    /// Recorded as failed from the start (WeChat will not share this order).
    failed: Option<String>,
}

/// Writes a job and its receivers in one transaction; a job already planned is kept as is.
async fn insert(
    env: &Env,
    order: &OrderRow,
    routing: &PayeeRouting,
    draft: &Draft,
) -> Result<(), ApiError> {
    let db = env.d1("DB")?;
    let Draft {
        kind,
        attempt,
        unsplit,
        cap,
        lines,
        failed,
    } = draft;
    let no = out_order_no(&order.id, *kind, *attempt);
    let planner = crate::wechat::random_alnum(16)?;
    let now = now_secs();
    let sub: JsValue = routing.sub_mchid().map_or(JsValue::NULL, Into::into);
    let mut statements = vec![db
        .prepare(
            "INSERT INTO share_jobs (out_order_no, order_id, kind, attempt, state, sub_mchid, transaction_id, \
             unsplit_fen, cap_fen, next_attempt_at, last_error, planner, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?12, ?9, ?10, ?11, ?9, ?9) ON CONFLICT DO NOTHING",
        )
        .bind(&[
            no.as_str().into(),
            order.id.as_str().into(),
            kind.as_str().into(),
            num(i64::from(*attempt)),
            JsValue::from(if failed.is_some() { "failed" } else { "planned" }),
            sub,
            order.transaction_id.as_deref().unwrap_or_default().into(),
            num(unsplit.get()),
            num(now),
            failed.as_deref().map_or(JsValue::NULL, Into::into),
            planner.as_str().into(),
            cap.map_or(JsValue::NULL, |c| num(c.get())),
        ])?];
    for (position, line) in lines.iter().enumerate() {
        statements.push(
            db.prepare(
                "INSERT INTO share_results (out_order_no, position, receiver_type, account, relation_type, \
                 name_sealed, source, amount_fen, wanted_fen, description) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 \
                 WHERE EXISTS (SELECT 1 FROM share_jobs WHERE out_order_no = ?1 AND planner = ?11)",
            )
            .bind(&[
                no.as_str().into(),
                num(position as i64),
                line.kind.as_str().into(),
                line.account.as_str().into(),
                line.relation_type.as_str().into(),
                line.name_sealed.as_deref().map_or(JsValue::NULL, Into::into),
                line.source.into(),
                num(line.amount.get()),
                num(line.wanted.get()),
                line.description.as_str().into(),
                planner.as_str().into(),
            ])?,
        );
    }
    db.batch(statements).await?;
    Ok(())
}
