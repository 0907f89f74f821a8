//! Refunds (`/v3/refund/domestic/refunds`): partial refunds whose running total never exceeds
//! what was paid, less what profit sharing paid out and was not returned, `PROCESSING` at creation and `SUCCESS` a few
//! (scaled) seconds later, when `REFUND.SUCCESS` is sent to the refund's notify_url (or the
//! order's). Partner orders' refunds name their `sub_mchid` in the body and the query.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::notify::{self, Target, Variant};
use super::partner;
use super::pay::{
    check_currency, check_notify_url, ok, optional_str, query_error, required_int, required_str,
    PayResult, Request,
};
use super::state::{OrderState, Refund};
use super::{now, random_digits, rfc3339, PayError, Shared, Sim};

/// Seconds (before scaling) a refund stays PROCESSING.
const PROCESSING_SECS: f64 = 3.0;

fn resource_not_exists(message: &str) -> PayError {
    PayError::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", message)
}

/// `out_refund_no` / `out_order_no` characters: digits, letters and `_-|*@`.
pub fn valid_merchant_no(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '|' | '*' | '@'))
}

/// The refund object WeChat Pay answers with.
fn refund_json(refund: &Refund) -> Value {
    let mut value = json!({
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339(refund.created_at),
        "status": refund.status,
        "funds_account": refund.funds_account.clone().unwrap_or_else(|| "AVAILABLE".into()),
        "amount": {
            "total": refund.total,
            "refund": refund.refund,
            "from": [],
            "payer_total": refund.total,
            "payer_refund": refund.refund,
            "settlement_refund": refund.refund,
            "settlement_total": refund.total,
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
        "promotion_detail": [],
    });
    if let Some(t) = refund.success_time {
        value["success_time"] = json!(rfc3339(t));
    }
    value
}

/// `POST /v3/refund/domestic/refunds`.
pub fn create(sim: &Shared, request: &Request<'_>) -> PayResult {
    let body = request.json()?;
    let transaction_id = optional_str(&body, "/transaction_id", 32)?;
    let out_trade_no = optional_str(&body, "/out_trade_no", 32)?;
    if transaction_id.is_none() && out_trade_no.is_none() {
        return Err(PayError::param(
            "/transaction_id",
            "transaction_id和out_trade_no必须二选一",
        ));
    }
    let out_refund_no = required_str(&body, "/out_refund_no", 64)?;
    if !valid_merchant_no(out_refund_no) {
        return Err(PayError::param(
            "/out_refund_no",
            "只能是数字、大小写字母_-|*@",
        ));
    }
    let sub_mchid = optional_str(&body, "/sub_mchid", 32)?;
    let reason = optional_str(&body, "/reason", 80)?;
    let notify_url = optional_str(&body, "/notify_url", 256)?;
    if let Some(url) = notify_url {
        check_notify_url("/notify_url", url)?;
    }
    let funds_account = optional_str(&body, "/funds_account", 32)?;
    if funds_account.is_some_and(|f| f != "AVAILABLE") {
        return Err(PayError::param(
            "/funds_account",
            "枚举值错误，仅支持AVAILABLE",
        ));
    }
    let refund_amount = required_int(&body, "/amount/refund")?;
    if refund_amount <= 0 {
        return Err(PayError::param("/amount/refund", "退款金额必须大于0"));
    }
    let total = required_int(&body, "/amount/total")?;
    if total <= 0 {
        return Err(PayError::param("/amount/total", "原订单金额必须大于0"));
    }
    check_currency(&body, "/amount/currency")?;
    let fingerprint = json!({
        "transaction_id": transaction_id, "out_trade_no": out_trade_no,
        "refund": refund_amount, "total": total, "sub_mchid": sub_mchid,
    });

    let mut state = sim.state();
    if let Some(sub_mchid) = sub_mchid {
        partner::check_relation(&state, sub_mchid)?;
    }
    if let Some(existing) = state.refunds.get(out_refund_no) {
        if existing.fingerprint == fingerprint {
            return ok(refund_json(existing));
        }
        return Err(PayError::invalid(
            "商户退款单号重复：同一退款单号的请求参数与原退款不一致",
        ));
    }
    let key = match (transaction_id, out_trade_no) {
        (Some(id), _) => state
            .order_by_transaction(id)
            .map(|o| o.out_trade_no.clone()),
        (None, Some(no)) => state.orders.get(no).map(|o| o.out_trade_no.clone()),
        (None, None) => None,
    };
    let order = key
        .and_then(|k| state.orders.get_mut(&k))
        .ok_or_else(|| resource_not_exists("订单不存在"))?;
    partner::same_sub_mchid(
        order.sub_mchid.as_deref(),
        sub_mchid,
        PayError::param("/sub_mchid", partner::SUB_MCHID_REQUIRED),
    )?;
    if let (Some(id), Some(no)) = (transaction_id, out_trade_no) {
        if order.out_trade_no != no || order.transaction_id.as_deref() != Some(id) {
            return Err(PayError::invalid(
                "transaction_id与out_trade_no不是同一笔订单",
            ));
        }
    }
    if !order.state.is_paid() {
        return Err(PayError::invalid("订单未支付，不能退款"));
    }
    if total != order.total {
        return Err(PayError::param(
            "/amount/total",
            format!("原订单金额 {total} 与订单实际金额 {} 不一致", order.total),
        ));
    }
    if refund_amount > order.refundable() {
        return Err(PayError::invalid("申请退款金额超过订单可退金额"));
    }
    // A refund takes from the funds still frozen for sharing first, then from what receivers
    // returned; refunding everything ends sharing.
    order.refunded_frozen += refund_amount.min(order.unsplit());
    order.refunded += refund_amount;
    if order.refunded >= order.total {
        order.unfrozen = true;
    }
    order.state = OrderState::Refund;
    let refund = Refund {
        refund_id: format!("50{}", random_digits(27)),
        sub_mchid: order.sub_mchid.clone(),
        out_refund_no: out_refund_no.to_string(),
        transaction_id: order.transaction_id.clone().unwrap_or_default(),
        out_trade_no: order.out_trade_no.clone(),
        refund: refund_amount,
        total,
        reason: reason.map(str::to_string),
        notify_url: notify_url.map(str::to_string),
        funds_account: funds_account.map(str::to_string),
        status: "PROCESSING".to_string(),
        created_at: now(),
        success_time: None,
        fingerprint,
    };
    let answer = refund_json(&refund);
    state.refunds.insert(out_refund_no.to_string(), refund);
    drop(state);
    let sim = sim.clone();
    let out_refund_no = out_refund_no.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(sim.scaled(PROCESSING_SECS)).await;
        complete(&sim, &out_refund_no);
    });
    ok(answer)
}

/// Marks a refund SUCCESS and sends REFUND.SUCCESS.
fn complete(sim: &Shared, out_refund_no: &str) {
    let prepared = {
        let mut state = sim.state();
        let Some(refund) = state.refunds.get_mut(out_refund_no) else {
            return;
        };
        refund.status = "SUCCESS".to_string();
        refund.success_time = Some(now());
        let refund = refund.clone();
        let Some(order) = state.orders.get(&refund.out_trade_no) else {
            return;
        };
        let url = refund
            .notify_url
            .clone()
            .unwrap_or_else(|| order.notify_url.clone());
        notify::refund_success(sim, order, &refund).map(|prepared| {
            (
                Target {
                    url,
                    out_trade_no: refund.out_trade_no.clone(),
                    out_refund_no: Some(refund.out_refund_no.clone()),
                },
                prepared,
            )
        })
    };
    match prepared {
        Ok((target, prepared)) => {
            notify::send(sim, target, prepared, Variant::Normal, 1);
        }
        Err(e) => eprintln!("shoukuan sim: cannot build REFUND.SUCCESS: {e:#}"),
    }
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}[?sub_mchid=]`.
pub fn query(sim: &Sim, request: &Request<'_>, out_refund_no: &str) -> PayResult {
    let sub_mchid = request.query_optional("sub_mchid");
    let state = sim.state();
    if let Some(sub_mchid) = &sub_mchid {
        partner::check_relation(&state, sub_mchid)?;
    }
    let refund = state
        .refunds
        .get(out_refund_no)
        .ok_or_else(|| resource_not_exists("退款单不存在"))?;
    partner::same_sub_mchid(
        refund.sub_mchid.as_deref(),
        sub_mchid.as_deref(),
        query_error("sub_mchid", partner::SUB_MCHID_REQUIRED),
    )?;
    ok(refund_json(refund))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_numbers_allow_the_documented_characters() {
        assert!(valid_merchant_no("R_1-2|3*4@5"));
        assert!(!valid_merchant_no("R 1"));
        assert!(!valid_merchant_no("退款1"));
    }
}
