//! Applying what WeChat Pay says about an order — from a callback, the order page's query or
//! the cron — through the one transition function, `core::order::decide`, and a
//! compare-and-swap on the state that was read. Losing a race means re-reading and deciding
//! again, so however many copies of a notification arrive at once, the order changes state
//! exactly once (and the database writes one `order_events` row for it).

use serde::Deserialize;
use shoukuan_core::money::Fen;
use shoukuan_core::order::{decide, Decision, Mismatch, OrderFacts, OrderState};
use shoukuan_core::wechatpay::{TradeState, Transaction};
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::config::PayConfig;
use crate::error::ApiError;
use crate::http::num;
use crate::session::now_secs;

/// Who is applying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A verified callback.
    Callback,
    /// An active query (order page, refund settling).
    Query,
    /// The cron's re-query.
    Cron,
    /// Our own close call succeeded.
    Close,
    /// The daily reconciliation's query of a payment WeChat's bill has and we did not
    /// (`crate::books`).
    Reconcile,
}

impl Source {
    /// Stored in `orders.changed_by`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Callback => "callback",
            Source::Query => "query",
            Source::Cron => "cron",
            Source::Close => "close",
            Source::Reconcile => "reconcile",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The order changed state (to this one).
    Applied(OrderState),
    /// It already had (a duplicate).
    Duplicate,
    /// Not paid yet: nothing changed.
    NotYet,
    /// Disagrees with the order: flagged for the payee, not applied.
    Flagged(Vec<Mismatch>),
    /// Not a state this order can take: recorded in the log, not applied.
    Refused(TradeState),
    /// No order with this number.
    UnknownOrder,
}

/// A stored order, as [`apply_transaction`] and the handlers need it.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderRow {
    /// Public id.
    pub id: String,
    /// Order number.
    pub out_trade_no: String,
    /// Collection.
    pub collection_id: String,
    /// Owner of the collection.
    pub payee_openid: String,
    /// Amount.
    pub amount_fen: i64,
    /// `JSAPI` / `NATIVE`.
    pub trade_type: String,
    /// State name.
    pub state: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// WeChat Pay's number, once paid.
    pub transaction_id: Option<String>,
    /// Unix seconds.
    pub paid_at: Option<i64>,
    /// Refunded so far.
    pub refunded_fen: i64,
    /// Native QR content.
    pub code_url: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// A merchant-mode split's participant this order pays for.
    #[serde(default)]
    pub participant_id: Option<String>,
    /// The signing merchant at creation (NULL: made before the model existed, direct).
    #[serde(default)]
    pub mchid: Option<String>,
    /// The payee's sub-merchant (platform orders).
    #[serde(default)]
    pub sub_mchid: Option<String>,
    /// `appid` / `sp_appid` at creation.
    #[serde(default)]
    pub appid: Option<String>,
    /// 1 when created with `settle_info.profit_sharing = true` (read by `pay::sharing`).
    #[serde(default)]
    #[allow(dead_code)]
    pub profit_sharing: i64,
}

impl OrderRow {
    /// The stored state.
    pub fn state(&self) -> Result<OrderState, ApiError> {
        OrderState::parse(&self.state).ok_or_else(|| {
            ApiError::Internal(format!("order {} has state {:?}", self.id, self.state))
        })
    }

    fn facts(&self) -> Result<OrderFacts, ApiError> {
        Ok(OrderFacts {
            out_trade_no: self.out_trade_no.clone(),
            amount: Fen::new(self.amount_fen),
            state: self.state()?,
            transaction_id: self.transaction_id.clone(),
        })
    }
}

/// The columns of [`OrderRow`].
pub const ORDER_COLUMNS: &str =
    "id, out_trade_no, collection_id, payee_openid, amount_fen, trade_type, state, \
     expires_at, transaction_id, paid_at, refunded_fen, code_url, created_at, participant_id, \
     mchid, sub_mchid, appid, profit_sharing";

/// The order with this number.
pub async fn order_by_out_trade_no(
    env: &Env,
    out_trade_no: &str,
) -> Result<Option<OrderRow>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE out_trade_no = ?1"
        ))
        .bind(&[out_trade_no.into()])?
        .first::<OrderRow>(None)
        .await?)
}

/// The order with this public id.
pub async fn order_by_id(env: &Env, id: &str) -> Result<Option<OrderRow>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"))
        .bind(&[id.into()])?
        .first::<OrderRow>(None)
        .await?)
}

fn opt_str(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, Into::into)
}

/// Moves an order from `from` to `to` if it is still in `from`; true when this call did it.
pub async fn compare_and_swap(
    env: &Env,
    order_id: &str,
    from: OrderState,
    to: OrderState,
    source: &str,
    payment: Option<&shoukuan_core::order::Payment>,
) -> Result<bool, ApiError> {
    let now = now_secs();
    // The payer WeChat Pay reports (H5 / Native payers are known only now): hashed and sealed.
    let (payer_hash, payer_sealed) = crate::personal_data::payer_columns(
        env,
        order_id,
        payment.and_then(|p| p.payer_openid.as_deref()),
    );
    let row = env
        .d1("DB")?
        .prepare(
            "UPDATE orders SET state = ?2, changed_by = ?3, updated_at = ?4, \
             transaction_id = COALESCE(?5, transaction_id), paid_at = COALESCE(?6, paid_at), \
             payer_hash = COALESCE(?7, payer_hash), payer_sealed = COALESCE(?9, payer_sealed) \
             WHERE id = ?1 AND state = ?8 RETURNING id",
        )
        .bind(&[
            order_id.into(),
            to.as_str().into(),
            source.into(),
            num(now),
            opt_str(payment.map(|p| p.transaction_id.as_str())),
            payment.map_or(JsValue::NULL, |p| num(p.paid_at.unwrap_or(now))),
            opt_str(payer_hash.as_deref()),
            from.as_str().into(),
            opt_str(payer_sealed.as_deref()),
        ])?
        .first::<serde_json::Value>(None)
        .await?;
    Ok(row.is_some())
}

/// Records something the payee must look at, once per `dedupe_key`.
pub async fn flag(
    env: &Env,
    dedupe_key: &str,
    order: Option<&OrderRow>,
    payee: Option<&str>,
    kind: &str,
    message: &str,
) -> Result<(), ApiError> {
    // The message may carry values from a decrypted resource: it goes to the payee, not the log.
    worker::console_log!(
        "flag {kind} for order {}",
        order.map_or("-", |o| o.id.as_str())
    );
    env.d1("DB")?
        .prepare(
            "INSERT INTO pay_flags (dedupe_key, order_id, payee_openid, kind, message, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(&[
            dedupe_key.into(),
            opt_str(order.map(|o| o.id.as_str())),
            opt_str(payee.or(order.map(|o| o.payee_openid.as_str()))),
            kind.into(),
            message.into(),
            num(now_secs()),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Applies a verified transaction to its order. `dedupe` names the evidence (the notification
/// id, or `query:<no>`) so a repeated mismatch is flagged once.
pub async fn apply_transaction(
    env: &Env,
    config: &PayConfig,
    tx: &Transaction,
    source: Source,
    dedupe: &str,
) -> Result<(Outcome, Option<OrderRow>), ApiError> {
    for _ in 0..5 {
        let Some(order) = order_by_out_trade_no(env, &tx.out_trade_no).await? else {
            return Ok((Outcome::UnknownOrder, None));
        };
        let from = order.state()?;
        // Checked against the merchant the order was made for (its sub-merchant too), never
        // against whatever the configuration says now.
        let routing = super::routing::for_order(&order, config);
        match decide(&order.facts()?, tx, &routing) {
            Decision::Apply {
                to,
                payment,
                paid_after_close,
            } => {
                // The payee's flag is written before the state changes: if writing it fails,
                // nothing is applied and the whole step is retried (a callback answers 500),
                // so a payment is never applied without its flag. The flag is keyed per order,
                // so a retry or a racing copy records it once.
                if paid_after_close {
                    flag(
                        env,
                        &format!("paid_after_close:{}", order.id),
                        Some(&order),
                        None,
                        "paid_after_close",
                        &format!(
                            "订单 {} 已在本地关闭，但微信支付确认已付款 {}：已按已支付处理",
                            order.out_trade_no,
                            Fen::new(order.amount_fen)
                        ),
                    )
                    .await?;
                }
                if !compare_and_swap(env, &order.id, from, to, source.as_str(), payment.as_ref())
                    .await?
                {
                    // Someone else changed it first: read again and decide again.
                    continue;
                }
                worker::console_log!(
                    "order {} {} → {} by {}",
                    order.id,
                    from.as_str(),
                    to.as_str(),
                    source.as_str()
                );
                if to == OrderState::Paid {
                    crate::events::order_paid(env, &order).await;
                }
                return Ok((Outcome::Applied(to), Some(order)));
            }
            Decision::AlreadyApplied => return Ok((Outcome::Duplicate, Some(order))),
            Decision::NotYet => return Ok((Outcome::NotYet, Some(order))),
            Decision::Flag(problems) => {
                for problem in &problems {
                    let key = format!("{dedupe}:{}", problem.kind());
                    flag(
                        env,
                        &key,
                        Some(&order),
                        None,
                        &format!("mismatch_{}", problem.kind()),
                        &problem.message(),
                    )
                    .await?;
                }
                return Ok((Outcome::Flagged(problems), Some(order)));
            }
            Decision::Refused(state) => {
                worker::console_error!(
                    "order {} is {} but WeChat Pay reports {:?}; not applied",
                    order.id,
                    from.as_str(),
                    state
                );
                return Ok((Outcome::Refused(state), Some(order)));
            }
        }
    }
    Err(ApiError::Internal(format!(
        "order {} kept changing; giving up for now",
        tx.out_trade_no
    )))
}
