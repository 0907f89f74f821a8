//! Refunds: the payee's `POST /api/dash/orders/:id/refunds`, the refund states reported by the
//! refund API, `REFUND.*` callbacks and the cron, and the order's state that follows from its
//! refunds. The cumulative rule (refunds that are not closed never add up to more than was
//! paid) is `core::refund`'s, repeated inside the inserting SQL statement so two refunds started
//! at the same moment cannot together exceed it.

use serde::{Deserialize, Serialize};
use shoukuan_core::money::Fen;
use shoukuan_core::order::{transition, Event, OrderState, OrderView, Transition};
use shoukuan_core::refund::{
    new_out_refund_no, order_state_after, refund_amount, refund_transition, NewRefund, Reason,
    RefundError, RefundFacts, RefundState, RefundTransition, RefundView,
};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::apply::{self, OrderRow};
use super::client::{self, CallError};
use super::config::PayConfig;
use super::orders;
use crate::error::ApiError;
use crate::http::{self, num};
use crate::session::{self, now_secs};

/// A stored refund.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundRow {
    /// Ours.
    pub out_refund_no: String,
    /// The order's public id.
    pub order_id: String,
    /// Amount.
    pub amount_fen: i64,
    /// Reason.
    pub reason: String,
    /// State name.
    pub state: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl RefundRow {
    fn state(&self) -> Result<RefundState, ApiError> {
        RefundState::parse(&self.state).ok_or_else(|| {
            ApiError::Internal(format!(
                "refund {} has state {:?}",
                self.out_refund_no, self.state
            ))
        })
    }

    /// What a notice is compared with.
    pub fn facts(&self, order: &OrderRow) -> RefundFacts {
        RefundFacts {
            out_refund_no: self.out_refund_no.clone(),
            out_trade_no: order.out_trade_no.clone(),
            amount: Fen::new(self.amount_fen),
            total: Fen::new(order.amount_fen),
        }
    }

    /// As the dashboard shows it.
    pub fn view(&self) -> Result<RefundView, ApiError> {
        Ok(RefundView {
            out_refund_no: self.out_refund_no.clone(),
            order_id: self.order_id.clone(),
            amount_fen: self.amount_fen,
            reason: self.reason.clone(),
            state: self.state()?,
            created_at: self.created_at,
        })
    }
}

const REFUND_COLUMNS: &str = "out_refund_no, order_id, amount_fen, reason, state, created_at";

/// The refund with this number.
pub async fn refund_by_no(env: &Env, out_refund_no: &str) -> Result<Option<RefundRow>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE out_refund_no = ?1"
        ))
        .bind(&[out_refund_no.into()])?
        .first::<RefundRow>(None)
        .await?)
}

/// An order's refunds, oldest first.
pub async fn refunds_of(env: &Env, order_id: &str) -> Result<Vec<RefundRow>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE order_id = ?1 ORDER BY created_at, out_refund_no"))
        .bind(&[order_id.into()])?
        .all()
        .await?
        .results::<RefundRow>()?)
}

/// What reporting a refund state did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundApplied {
    /// The refund changed state.
    Applied,
    /// It already was in that state.
    Unchanged,
    /// Not possible (a final refund reported otherwise): logged, not applied.
    Refused,
}

/// Applies a reported refund state (API answer, callback or cron query) with a
/// compare-and-swap, then brings the order's state in line with its refunds.
pub async fn apply_refund(
    env: &Env,
    stored: &RefundRow,
    reported: RefundState,
    refund_id: Option<&str>,
    dedupe: &str,
) -> Result<RefundApplied, ApiError> {
    let mut current = stored.clone();
    for _ in 0..5 {
        let from = current.state()?;
        match refund_transition(from, reported) {
            RefundTransition::Unchanged => {
                settle_order(env, &current.order_id).await?;
                return Ok(RefundApplied::Unchanged);
            }
            RefundTransition::Refused => {
                worker::console_error!(
                    "refund {} is {} but WeChat Pay reports {}; not applied",
                    current.out_refund_no,
                    from.as_str(),
                    reported.as_str()
                );
                return Ok(RefundApplied::Refused);
            }
            RefundTransition::To(to) => {
                let changed = env
                    .d1("DB")?
                    .prepare(
                        "UPDATE refunds SET state = ?2, refund_id = COALESCE(?3, refund_id), updated_at = ?4 \
                         WHERE out_refund_no = ?1 AND state = ?5 RETURNING out_refund_no",
                    )
                    .bind(&[
                        current.out_refund_no.as_str().into(),
                        to.as_str().into(),
                        refund_id.filter(|r| !r.is_empty()).map_or(JsValue::NULL, Into::into),
                        num(now_secs()),
                        from.as_str().into(),
                    ])?
                    .first::<serde_json::Value>(None)
                    .await?
                    .is_some();
                if changed {
                    worker::console_log!(
                        "refund {} {} → {}",
                        current.out_refund_no,
                        from.as_str(),
                        to.as_str()
                    );
                    if to == RefundState::Abnormal {
                        let order = apply::order_by_id(env, &current.order_id).await?;
                        apply::flag(
                            env,
                            &format!("{dedupe}:refund_abnormal"),
                            order.as_ref(),
                            None,
                            "refund_abnormal",
                            &format!(
                                "退款 {}（{}）异常：请在微信支付商户平台人工处理",
                                current.out_refund_no,
                                Fen::new(current.amount_fen)
                            ),
                        )
                        .await?;
                    }
                    settle_order(env, &current.order_id).await?;
                    if to == RefundState::Success {
                        crate::events::refund_succeeded(env, &current).await;
                    }
                    return Ok(RefundApplied::Applied);
                }
                current = refund_by_no(env, &current.out_refund_no)
                    .await?
                    .ok_or_else(|| {
                        ApiError::Internal(format!("refund {} vanished", stored.out_refund_no))
                    })?;
            }
        }
    }
    Err(ApiError::Internal(format!(
        "refund {} kept changing",
        stored.out_refund_no
    )))
}

/// Brings an order's state and refunded total in line with its refunds, through the order
/// state machine and a compare-and-swap on what was read.
pub async fn settle_order(env: &Env, order_id: &str) -> Result<(), ApiError> {
    for _ in 0..5 {
        let order = apply::order_by_id(env, order_id)
            .await?
            .ok_or(ApiError::Missing("订单"))?;
        let from = order.state()?;
        let refunds: Vec<(RefundState, Fen)> = refunds_of(env, order_id)
            .await?
            .iter()
            .map(|r| Ok((r.state()?, Fen::new(r.amount_fen))))
            .collect::<Result<_, ApiError>>()?;
        let (target, refunded) = order_state_after(Fen::new(order.amount_fen), &refunds);
        let event = match target {
            OrderState::Refunding => Event::RefundStarted,
            OrderState::Refunded => Event::RefundsSettled { fully: true },
            _ => Event::RefundsSettled { fully: false },
        };
        let to = match transition(from, event) {
            Transition::To(to) => to,
            Transition::Unchanged if refunded.get() == order.refunded_fen => return Ok(()),
            Transition::Unchanged => from,
            Transition::Refused => {
                worker::console_error!(
                    "order {order_id} is {} and cannot follow its refunds to {}",
                    from.as_str(),
                    target.as_str()
                );
                return Ok(());
            }
        };
        let changed = env
            .d1("DB")?
            .prepare(
                "UPDATE orders SET state = ?2, refunded_fen = ?3, changed_by = 'refund', updated_at = ?4 \
                 WHERE id = ?1 AND state = ?5 AND refunded_fen = ?6 RETURNING id",
            )
            .bind(&[
                order_id.into(),
                to.as_str().into(),
                num(refunded.get()),
                num(now_secs()),
                from.as_str().into(),
                num(order.refunded_fen),
            ])?
            .first::<serde_json::Value>(None)
            .await?
            .is_some();
        if changed {
            return Ok(());
        }
    }
    Err(ApiError::Internal(format!(
        "order {order_id} kept changing while settling refunds"
    )))
}

#[derive(Serialize)]
struct Created {
    refund: RefundView,
    order: OrderView,
}

#[derive(Deserialize)]
struct Committed {
    n: i64,
}

/// `POST /api/dash/orders/:id/refunds` (the order's payee): `{amount?, reason}` → 201
/// `{refund, order}`. 409 `OVER_REFUND` / `NOT_PAID`, 400 `INVALID_AMOUNT` / `INVALID_REASON`.
pub async fn create(order_id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let payee = session::require_approved_payee(&req, env).await?;
    PayConfig::require(env)?;
    let order = apply::order_by_id(env, order_id)
        .await?
        .filter(|o| o.payee_openid == payee.as_str())
        .ok_or(ApiError::Missing("订单"))?;
    let draft: NewRefund = http::read_json(&mut req).await?;
    let reason = Reason::parse(&draft.reason).map_err(refund_error)?;
    let committed = env
        .d1("DB")?
        .prepare("SELECT COALESCE(SUM(amount_fen), 0) AS n FROM refunds WHERE order_id = ?1 AND state <> 'closed'")
        .bind(&[order_id.into()])?
        .first::<Committed>(None)
        .await?
        .map_or(0, |c| c.n);
    let amount = refund_amount(
        order.state()?,
        Fen::new(order.amount_fen),
        Fen::new(committed),
        draft.amount.as_deref(),
    )
    .map_err(refund_error)?;
    // Above the payee's approval threshold the refund waits for its approvers (growth).
    if let Some(pending) =
        crate::growth::approval::gate(env, &payee, &order, amount, &reason).await?
    {
        return Ok(pending);
    }
    let out_refund_no = execute(env, &req, &order, amount, &reason).await?;
    let refund = refund_by_no(env, &out_refund_no)
        .await?
        .ok_or_else(|| ApiError::Internal("refund vanished".into()))?;
    let order = apply::order_by_id(env, order_id)
        .await?
        .ok_or(ApiError::Missing("订单"))?;
    http::json(
        201,
        &Created {
            refund: refund.view()?,
            order: orders::view(env, &order).await?,
        },
    )
}

/// Sends a checked refund of `order` to WeChat Pay and returns its `out_refund_no`: first
/// reserved by a conditional insert (the refunded total never exceeds what was paid, whoever
/// races), then asked for. Also the last step of an approved request (`growth::approval`).
pub(crate) async fn execute(
    env: &Env,
    req: &Request,
    order: &OrderRow,
    amount: Fen,
    reason: &Reason,
) -> Result<String, ApiError> {
    let config = PayConfig::require(env)?;
    let order_id = order.id.as_str();
    super::sharing::before_refund(env, &config, order, amount).await?;
    let mut random = [0u8; 14];
    getrandom::getrandom(&mut random).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    let now = now_secs();
    let out_refund_no = new_out_refund_no(now, &random);
    let inserted = env
        .d1("DB")?
        .prepare(
            "INSERT INTO refunds (out_refund_no, order_id, amount_fen, reason, state, created_at, updated_at) \
             SELECT ?1, ?2, ?3, ?4, 'processing', ?5, ?5 \
             WHERE (SELECT state FROM orders WHERE id = ?2) IN ('paid', 'refunding') \
             AND (SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE order_id = ?2 AND state <> 'closed') + ?3 \
                 <= (SELECT amount_fen FROM orders WHERE id = ?2) \
             RETURNING out_refund_no",
        )
        .bind(&[out_refund_no.as_str().into(), order_id.into(), num(amount.get()), reason.as_str().into(), num(now)])?
        .first::<serde_json::Value>(None)
        .await?;
    if inserted.is_none() {
        return Err(ApiError::Pay(
            409,
            "OVER_REFUND",
            "退款金额超过可退金额（可能有另一笔退款刚刚提交）".into(),
        ));
    }
    settle_order(env, order_id).await?;
    let stored = refund_by_no(env, &out_refund_no)
        .await?
        .ok_or_else(|| ApiError::Internal("refund vanished".into()))?;
    let body = serde_json::json!({
        "out_trade_no": order.out_trade_no,
        "out_refund_no": out_refund_no,
        "reason": reason.as_str(),
        "notify_url": format!("{}/wechatpay/notify/refund", session::public_origin(req, env)?),
        "amount": { "refund": amount.get(), "total": order.amount_fen, "currency": "CNY" },
    });
    let routing = super::routing::for_order(order, &config);
    match client::create_refund(env, &config, &routing, &body).await {
        Ok(answer) => {
            if let Some(reported) = RefundState::from_wechat(answer.status) {
                apply_refund(
                    env,
                    &stored,
                    reported,
                    Some(&answer.refund_id),
                    &format!("api:{out_refund_no}"),
                )
                .await?;
            }
        }
        Err(CallError::Refused { code, message, .. }) => {
            // Verified refusal: nothing was refunded, the amount is refundable again.
            apply_refund(
                env,
                &stored,
                RefundState::Closed,
                None,
                &format!("api:{out_refund_no}"),
            )
            .await?;
            worker::console_error!("refund {out_refund_no} refused: {code} {message}");
            return Err(ApiError::Pay(
                502,
                "REFUND_REFUSED",
                format!("微信支付拒绝了退款：{message}"),
            ));
        }
        // Unknown outcome: the refund stays processing and the cron asks WeChat Pay.
        Err(e) => worker::console_error!("refund {out_refund_no}: {e}; the cron will query it"),
    }
    Ok(out_refund_no)
}

fn refund_error(e: RefundError) -> ApiError {
    let (status, code) = match &e {
        RefundError::NotPaid => (409, "NOT_PAID"),
        RefundError::OverRefund { .. } | RefundError::NothingLeft => (409, "OVER_REFUND"),
        RefundError::Amount(_) => (400, "INVALID_AMOUNT"),
        RefundError::Reason => (400, "INVALID_REASON"),
    };
    ApiError::Pay(status, code, e.to_string())
}

/// Asks WeChat Pay about a refund that stays processing (cron). A refund WeChat Pay never
/// received (its creation call got no answer) is closed after `give_up_after` seconds.
pub async fn sync(
    env: &Env,
    config: &PayConfig,
    stored: &RefundRow,
    give_up_after: i64,
) -> Result<(), ApiError> {
    let Some(order) = apply::order_by_id(env, &stored.order_id).await? else {
        return Err(ApiError::Internal(format!(
            "refund {} has no order",
            stored.out_refund_no
        )));
    };
    let routing = super::routing::for_order(&order, config);
    match client::query_refund(env, config, &routing, &stored.out_refund_no).await {
        Ok(Some(answer)) => {
            if let Some(reported) = RefundState::from_wechat(answer.status) {
                apply_refund(
                    env,
                    stored,
                    reported,
                    Some(&answer.refund_id),
                    &format!("query:{}", stored.out_refund_no),
                )
                .await?;
            }
        }
        Ok(None) if now_secs() - stored.created_at > give_up_after => {
            apply_refund(
                env,
                stored,
                RefundState::Closed,
                None,
                &format!("query:{}", stored.out_refund_no),
            )
            .await?;
        }
        Ok(None) => {}
        Err(e) => worker::console_error!("refund query {}: {e}", stored.out_refund_no),
    }
    Ok(())
}
