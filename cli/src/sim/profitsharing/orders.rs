//! Sharing orders: `orders` (a share), `orders/unfreeze`, the query and the `amounts` query.
//! Orders answer `PROCESSING` with `PENDING` lines and finish a few (scaled) seconds later —
//! settled lazily whenever profit sharing is read, so a restart from a snapshot loses nothing.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::{
    check_type, decrypt_name, max_ratio, merchant_no, not_authorised, not_exists,
    record_of_sub_mchid, refuse_sub_openid,
};
use crate::sim::partner::{check_relation, same_sub_mchid, SUB_MCHID_REQUIRED};
use crate::sim::pay::{
    check_appid_mchid, ok, optional_str, required_int, required_str, PayResult, Request,
};
use crate::sim::state::{Order, ProfitOrder, ShareLine, State};

use crate::sim::{now, now_ms, random_digits, rfc3339, PayError, Shared, Sim};

/// Seconds (before scaling) a sharing order stays PROCESSING.
const PROCESSING_SECS: f64 = 2.0;

/// Seconds (before scaling) after payment before an order can share.
const SHARE_AFTER_SECS: f64 = 60.0;

/// WeChat's words for sharing too early (400 INVALID_REQUEST; source: WeChat's answers on
/// developers.weixin.qq.com/community/develop/doc/000ee87c090d486e996d09ec65bc00 —
/// "请在订单支付成功1分钟后再调用分账接口").
const TOO_EARLY: &str = "订单处理中，请稍后重试";

/// A sharing order as WeChat answers it (`sub_mchid` in partner mode).
pub fn order_json(order: &ProfitOrder) -> Value {
    let receivers: Vec<Value> = order
        .receivers
        .iter()
        .map(|line| {
            let mut value = json!({
                "amount": line.amount,
                "description": line.description,
                "type": line.kind,
                "account": line.account,
                "result": line.result,
                "detail_id": line.detail_id,
                "create_time": rfc3339(line.create_time),
            });
            if let Some(t) = line.finish_time {
                value["finish_time"] = json!(rfc3339(t));
            }
            if let Some(reason) = &line.fail_reason {
                value["fail_reason"] = json!(reason);
            }
            value
        })
        .collect();
    let mut value = json!({
        "transaction_id": order.transaction_id,
        "out_order_no": order.out_order_no,
        "order_id": order.order_id,
        "state": order.state,
        "receivers": receivers,
    });
    if let Some(sub) = &order.sub_mchid {
        value["sub_mchid"] = json!(sub);
    }
    value
}

fn line(kind: &str, account: &str, amount: i64, description: &str) -> ShareLine {
    ShareLine {
        kind: kind.to_string(),
        account: account.to_string(),
        amount,
        description: description.to_string(),
        result: "PENDING".to_string(),
        fail_reason: None,
        returned: 0,
        unfreeze: false,
        detail_id: format!("36{}", random_digits(26)),
        create_time: now(),
        finish_time: None,
    }
}

/// Finishes every sharing order whose processing time is over: lines SUCCESS, the rest of an
/// `unfreeze_unsplit` order unfrozen to the sharer as one more line.
pub fn settle(state: &mut State) {
    let now_ms = now_ms();
    let finished = now();
    for order in state.profit_orders.values_mut() {
        if order.state != "PROCESSING" || now_ms < order.finish_at_ms {
            continue;
        }
        for l in &mut order.receivers {
            l.result = "SUCCESS".to_string();
            l.finish_time = Some(finished);
        }
        order.state = "FINISHED".to_string();
    }
}

/// The payment behind `transaction_id`, checked for sharing: paid with profit sharing by the
/// named sub-merchant, at least a minute ago, not unfrozen yet.
fn shareable<'a>(
    sim: &Sim,
    state: &'a mut State,
    transaction_id: &str,
    sub_mchid: Option<&str>,
) -> Result<&'a mut Order, PayError> {
    let key = state
        .order_by_transaction(transaction_id)
        .map(|o| o.out_trade_no.clone())
        .ok_or_else(|| not_exists("订单不存在"))?;
    let order = state
        .orders
        .get_mut(&key)
        .ok_or_else(|| not_exists("订单不存在"))?;
    same_sub_mchid(
        order.sub_mchid.as_deref(),
        sub_mchid,
        PayError::param("/sub_mchid", SUB_MCHID_REQUIRED),
    )?;
    if !order.profit_sharing {
        return Err(PayError::invalid("非分账订单不支持分账"));
    }
    let ready_at = order.paid_at_ms
        + i64::try_from(sim.scaled(SHARE_AFTER_SECS).as_millis()).unwrap_or(i64::MAX);
    if now_ms() < ready_at {
        return Err(PayError::invalid(TOO_EARLY));
    }
    if order.unfrozen {
        return Err(PayError::invalid(
            "订单已完结分账，剩余资金已解冻，不能再分账",
        ));
    }
    Ok(order)
}

/// When a new order finishes.
fn finish_at(sim: &Sim) -> i64 {
    now_ms() + i64::try_from(sim.scaled(PROCESSING_SECS).as_millis()).unwrap_or(i64::MAX)
}

/// `POST /v3/profitsharing/orders`.
pub fn create_order(sim: &Shared, request: &Request<'_>) -> PayResult {
    let body = request.json()?;
    let sub_mchid = optional_str(&body, "/sub_mchid", 32)?;
    let appid = optional_str(&body, "/appid", 32)?;
    let sub_appid = optional_str(&body, "/sub_appid", 32)?;
    let transaction_id = required_str(&body, "/transaction_id", 32)?;
    let out_order_no = merchant_no(&body, "/out_order_no")?;
    let unfreeze_unsplit = match body.pointer("/unfreeze_unsplit") {
        Some(Value::Bool(b)) => *b,
        None | Some(Value::Null) => {
            return Err(PayError::param("/unfreeze_unsplit", "此字段为必填项"))
        }
        Some(_) => return Err(PayError::param("/unfreeze_unsplit", "类型错误，应为布尔值")),
    };
    let items = match body.pointer("/receivers") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= 50 => items,
        Some(Value::Array(_)) => {
            return Err(PayError::param("/receivers", "分账接收方数量应为1到50个"))
        }
        _ => return Err(PayError::param("/receivers", "此字段为必填项，应为数组")),
    };
    if sub_mchid.is_some() && appid.is_none() {
        return Err(PayError::param("/appid", "此字段为必填项"));
    }
    let mut lines = Vec::new();
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let at = |field: &str| format!("/receivers/{i}/{field}");
        let kind = required_str(item, "/type", 32)
            .map_err(|_| PayError::param(&at("type"), "此字段为必填项"))?;
        check_type(&at("type"), kind)?;
        let account = required_str(item, "/account", 64)
            .map_err(|e| PayError::param(&at("account"), e.detail_issue()))?;
        let amount = required_int(item, "/amount")
            .map_err(|e| PayError::param(&at("amount"), e.detail_issue()))?;
        if amount <= 0 {
            return Err(PayError::param(&at("amount"), "分账金额必须大于0"));
        }
        let description = required_str(item, "/description", 80)
            .map_err(|e| PayError::param(&at("description"), e.detail_issue()))?;
        if let Some(cipher) = optional_str(item, "/name", 1024)? {
            decrypt_name(sim, request, &at("name"), cipher)?;
        }
        if !seen.insert((kind.to_string(), account.to_string())) {
            return Err(PayError::param(
                &at("account"),
                "同一分账接收方在一次请求中只能出现一次",
            ));
        }
        if kind == "PERSONAL_SUB_OPENID" {
            return Err(refuse_sub_openid(sub_appid));
        }
        if kind == "PERSONAL_OPENID" && appid.is_none() {
            return Err(PayError::param(
                "/appid",
                "分账接收方类型包含PERSONAL_OPENID时必填",
            ));
        }
        lines.push(line(kind, account, amount, description));
    }
    if let Some(appid) = appid {
        check_appid_mchid(sim, Some(appid), &sim.keys.config.mchid)?;
    }
    let fingerprint = json!({
        "transaction_id": transaction_id,
        "sub_mchid": sub_mchid,
        "receivers": body.pointer("/receivers"),
        "unfreeze_unsplit": unfreeze_unsplit,
    });

    let mut state = sim.state();
    settle(&mut state);
    if let Some(sub) = sub_mchid {
        check_relation(&state, sub)?;
    }
    if let Some(existing) = state.profit_orders.get(out_order_no) {
        if existing.fingerprint == fingerprint {
            return ok(order_json(existing));
        }
        return Err(PayError::invalid(
            "分账接收方与原请求不一致：同一商户分账单号的请求参数须与原分账单一致",
        ));
    }
    // The payment's own checks first (sub-merchant, 非分账订单, the minute, unfrozen).
    shareable(sim, &mut state, transaction_id, sub_mchid)?;
    let ratio = max_ratio(&state, sub_mchid);
    let registered = |l: &ShareLine| {
        state.receivers.iter().any(|r| {
            r.sub_mchid.as_deref() == sub_mchid && r.kind == l.kind && r.account == l.account
        })
    };
    if let Some(missing) = lines.iter().find(|l| !registered(l)) {
        return Err(PayError::invalid(format!(
            "分账接收方关系不存在：{} 未添加为分账接收方，请先调用添加分账接收方接口",
            missing.account
        )));
    }
    let order = shareable(sim, &mut state, transaction_id, sub_mchid)?;
    if sub_mchid.is_some() && ratio == 0 {
        return Err(not_authorised());
    }
    let sum: i64 = lines.iter().map(|l| l.amount).sum();
    if (order.shared + sum) * 10_000 > order.total * i64::from(ratio) {
        return Err(PayError::invalid("分账金额超出最大分账比例"));
    }
    if sum > order.unsplit() {
        return Err(PayError::new(
            axum::http::StatusCode::FORBIDDEN,
            "NOT_ENOUGH",
            "分账金额超出订单待分账金额",
        ));
    }
    order.shared += sum;
    let mut unfreeze_amount = 0;
    if unfreeze_unsplit {
        unfreeze_amount = order.unsplit();
        order.unfrozen = true;
    }
    let sharer = order.payee_mchid().to_string();
    let mut profit_order = ProfitOrder {
        sub_mchid: sub_mchid.map(str::to_string),
        is_unfreeze: false,
        transaction_id: transaction_id.to_string(),
        out_order_no: out_order_no.to_string(),
        order_id: format!("30{}", random_digits(26)),
        state: "PROCESSING".to_string(),
        receivers: lines,
        unfreeze_unsplit,
        unfreeze_amount,
        finish_at_ms: finish_at(sim),
        fingerprint,
    };
    let answer = order_json(&profit_order);
    if unfreeze_amount > 0 {
        // Shown once the order finishes: the rest goes back to the sharer.
        let mut rest = line("MERCHANT_ID", &sharer, unfreeze_amount, "解冻给分账方");
        rest.unfreeze = true;
        profit_order.receivers.push(rest);
    }
    state
        .profit_orders
        .insert(out_order_no.to_string(), profit_order);
    ok(answer)
}

/// `POST /v3/profitsharing/orders/unfreeze`: releases every remaining frozen fen to the sharer.
/// A new `out_order_no` is needed: reusing a share's number answers that share and unfreezes
/// nothing, as WeChat does.
pub fn unfreeze(sim: &Shared, request: &Request<'_>) -> PayResult {
    let body = request.json()?;
    let sub_mchid = optional_str(&body, "/sub_mchid", 32)?;
    let transaction_id = required_str(&body, "/transaction_id", 32)?;
    let out_order_no = merchant_no(&body, "/out_order_no")?;
    let description = required_str(&body, "/description", 80)?;
    let fingerprint = json!({
        "transaction_id": transaction_id, "sub_mchid": sub_mchid, "unfreeze": description,
    });

    let mut state = sim.state();
    settle(&mut state);
    if let Some(sub) = sub_mchid {
        check_relation(&state, sub)?;
    }
    if let Some(existing) = state.profit_orders.get(out_order_no) {
        if !existing.is_unfreeze || existing.fingerprint == fingerprint {
            return ok(order_json(existing));
        }
        return Err(PayError::invalid("商户分账单号重复"));
    }
    let order = shareable(sim, &mut state, transaction_id, sub_mchid)?;
    let rest = order.unsplit();
    if rest == 0 {
        return Err(PayError::new(
            axum::http::StatusCode::FORBIDDEN,
            "NOT_ENOUGH",
            "分账金额为0",
        ));
    }
    order.unfrozen = true;
    let mut release = line("MERCHANT_ID", order.payee_mchid(), rest, description);
    release.unfreeze = true;
    let profit_order = ProfitOrder {
        sub_mchid: sub_mchid.map(str::to_string),
        is_unfreeze: true,
        transaction_id: transaction_id.to_string(),
        out_order_no: out_order_no.to_string(),
        order_id: format!("30{}", random_digits(26)),
        state: "PROCESSING".to_string(),
        receivers: vec![release],
        unfreeze_unsplit: false,
        unfreeze_amount: 0,
        finish_at_ms: finish_at(sim),
        fingerprint,
    };
    let answer = order_json(&profit_order);
    state
        .profit_orders
        .insert(out_order_no.to_string(), profit_order);
    ok(answer)
}

/// `GET /v3/profitsharing/orders/{out_order_no}?transaction_id=…[&sub_mchid=…]`.
pub fn query_order(sim: &Sim, request: &Request<'_>, out_order_no: &str) -> PayResult {
    let transaction_id = request.query_required("transaction_id")?;
    let sub_mchid = request.query_optional("sub_mchid");
    let mut state = sim.state();
    settle(&mut state);
    if let Some(sub) = &sub_mchid {
        check_relation(&state, sub)?;
    }
    let order = state
        .profit_orders
        .get(out_order_no)
        .filter(|o| o.transaction_id == transaction_id)
        .ok_or_else(|| not_exists("记录不存在"))?;
    record_of_sub_mchid(order.sub_mchid.as_deref(), sub_mchid.as_deref())?;
    // A partner order's unfreeze line is only listed once finished; hide a pending one.
    let mut shown = order.clone();
    if shown.state == "PROCESSING" {
        shown.receivers.retain(|l| !l.unfreeze || order.is_unfreeze);
    }
    ok(order_json(&shown))
}

/// `GET /v3/profitsharing/transactions/{transaction_id}/amounts` → `{transaction_id,
/// unsplit_amount}`: what is still frozen for sharing.
pub fn amounts(sim: &Sim, transaction_id: &str) -> PayResult {
    let mut state = sim.state();
    settle(&mut state);
    let order = state
        .order_by_transaction(transaction_id)
        .ok_or_else(|| not_exists("订单不存在"))?;
    if !order.profit_sharing {
        return Err(PayError::invalid("非分账订单不支持此查询"));
    }
    ok(json!({ "transaction_id": transaction_id, "unsplit_amount": order.unsplit() }))
}
