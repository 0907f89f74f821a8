//! Returns (分账回退, `return-orders`): money taken back from a merchant receiver of a finished
//! share, within what that receiver got and has not returned yet. Synchronous: the simulator
//! answers `SUCCESS` at once. The money goes to the sharer's available balance (the order's
//! refundable amount grows; its unsplit amount does not).

use serde_json::{json, Value};

use super::orders::settle;
use super::{merchant_no, not_exists, record_of_sub_mchid};
use crate::sim::partner::{check_relation, same_sub_mchid, SUB_MCHID_REQUIRED};
use crate::sim::pay::{ok, optional_str, required_int, required_str, PayResult, Request};
use crate::sim::state::ReturnOrder;
use crate::sim::{now, random_digits, rfc3339, PayError, Shared, Sim};

/// A return as WeChat answers it.
pub fn return_json(r: &ReturnOrder) -> Value {
    let mut value = json!({
        "order_id": r.order_id,
        "out_order_no": r.out_order_no,
        "out_return_no": r.out_return_no,
        "return_id": r.return_id,
        "return_mchid": r.return_mchid,
        "amount": r.amount,
        "description": r.description,
        "result": r.result,
        "create_time": rfc3339(r.create_time),
        "finish_time": rfc3339(r.finish_time),
    });
    if let Some(sub) = &r.sub_mchid {
        value["sub_mchid"] = json!(sub);
    }
    value
}

/// `POST /v3/profitsharing/return-orders`.
pub fn create_return(sim: &Shared, request: &Request<'_>) -> PayResult {
    let body = request.json()?;
    let sub_mchid = optional_str(&body, "/sub_mchid", 32)?;
    let order_id = optional_str(&body, "/order_id", 64)?;
    let out_order_no = optional_str(&body, "/out_order_no", 64)?;
    if order_id.is_none() && out_order_no.is_none() {
        return Err(PayError::param(
            "/out_order_no",
            "order_id和out_order_no必须二选一",
        ));
    }
    let out_return_no = merchant_no(&body, "/out_return_no")?;
    let return_mchid = required_str(&body, "/return_mchid", 32)?;
    let amount = required_int(&body, "/amount")?;
    if amount <= 0 {
        return Err(PayError::param("/amount", "回退金额必须大于0"));
    }
    let description = required_str(&body, "/description", 80)?;
    let fingerprint = json!({
        "sub_mchid": sub_mchid, "order_id": order_id, "out_order_no": out_order_no,
        "return_mchid": return_mchid, "amount": amount,
    });

    let mut state = sim.state();
    settle(&mut state);
    if let Some(sub) = sub_mchid {
        check_relation(&state, sub)?;
    }
    if let Some(existing) = state.return_orders.get(out_return_no) {
        if existing.fingerprint == fingerprint {
            return ok(return_json(existing));
        }
        return Err(PayError::invalid(
            "商户回退单号重复：同一回退单号的请求参数与原回退单不一致",
        ));
    }
    let share = state
        .profit_orders
        .values_mut()
        .filter(|o| !o.is_unfreeze)
        .find(|o| {
            out_order_no.is_none_or(|no| o.out_order_no == no)
                && order_id.is_none_or(|id| o.order_id == id)
        })
        .ok_or_else(|| not_exists("分账单不存在"))?;
    same_sub_mchid(
        share.sub_mchid.as_deref(),
        sub_mchid,
        PayError::param("/sub_mchid", SUB_MCHID_REQUIRED),
    )?;
    // Only merchant receivers can be returned from, and only what they got.
    let line = share
        .receivers
        .iter_mut()
        .find(|l| {
            !l.unfreeze
                && l.kind == "MERCHANT_ID"
                && l.account == return_mchid
                && l.result == "SUCCESS"
        })
        .ok_or_else(|| PayError::invalid("回退方不存在"))?;
    if amount > line.amount - line.returned {
        return Err(PayError::invalid(
            "回退金额超过该回退方在原分账单中剩余可回退的金额",
        ));
    }
    line.returned += amount;
    let (share_order_id, share_out_order_no, transaction_id) = (
        share.order_id.clone(),
        share.out_order_no.clone(),
        share.transaction_id.clone(),
    );
    let key = state
        .order_by_transaction(&transaction_id)
        .map(|o| o.out_trade_no.clone());
    if let Some(payment) = key.and_then(|k| state.orders.get_mut(&k)) {
        payment.returned += amount;
    }
    let at = now();
    let record = ReturnOrder {
        sub_mchid: sub_mchid.map(str::to_string),
        order_id: share_order_id,
        out_order_no: share_out_order_no,
        out_return_no: out_return_no.to_string(),
        return_id: format!("50{}", random_digits(26)),
        return_mchid: return_mchid.to_string(),
        amount,
        description: description.to_string(),
        result: "SUCCESS".to_string(),
        create_time: at,
        finish_time: at,
        fingerprint,
    };
    let answer = return_json(&record);
    state
        .return_orders
        .insert(out_return_no.to_string(), record);
    ok(answer)
}

/// `GET /v3/profitsharing/return-orders/{out_return_no}?out_order_no=…[&sub_mchid=…]`.
pub fn query_return(sim: &Sim, request: &Request<'_>, out_return_no: &str) -> PayResult {
    let out_order_no = request.query_required("out_order_no")?;
    let sub_mchid = request.query_optional("sub_mchid");
    let state = sim.state();
    if let Some(sub) = &sub_mchid {
        check_relation(&state, sub)?;
    }
    let record = state
        .return_orders
        .get(out_return_no)
        .filter(|r| r.out_order_no == out_order_no)
        .ok_or_else(|| not_exists("记录不存在"))?;
    record_of_sub_mchid(record.sub_mchid.as_deref(), sub_mchid.as_deref())?;
    ok(return_json(record))
}
