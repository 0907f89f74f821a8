//! Profit sharing (`/v3/profitsharing/...`): receivers must be added before an order shares to
//! them; only orders prepaid with `settle_info.profit_sharing = true` can share, at most the
//! default maximum ratio of 30 % of the amount in total; orders are `PROCESSING` then
//! `FINISHED`; unfreezing (or `unfreeze_unsplit`) releases the rest and ends sharing.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::{json, Value};
use shoukuan_core::wechatpay::HEADER_SERIAL;

use super::pay::{
    check_appid_mchid, ok, optional_str, required_int, required_str, PayResult, Request,
};
use super::refund::{refundable, valid_merchant_no};
use super::state::{ProfitOrder, Receiver, ShareLine};
use super::{now, random_digits, rfc3339, PayError, Shared, Sim};

/// The default maximum share of an order, in percent.
pub const MAX_RATIO_PERCENT: i64 = 30;

/// Seconds (before scaling) a sharing order stays PROCESSING.
const PROCESSING_SECS: f64 = 2.0;

const TYPES: [&str; 3] = ["MERCHANT_ID", "PERSONAL_OPENID", "PERSONAL_SUB_OPENID"];
const RELATIONS: [&str; 11] = [
    "SERVICE_PROVIDER",
    "STORE",
    "STAFF",
    "STORE_OWNER",
    "PARTNER",
    "HEADQUARTER",
    "BRAND",
    "DISTRIBUTOR",
    "USER",
    "SUPPLIER",
    "CUSTOM",
];

fn not_exists(message: &str) -> PayError {
    PayError::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", message)
}

fn check_type(path: &str, kind: &str) -> Result<(), PayError> {
    if TYPES.contains(&kind) {
        Ok(())
    } else {
        Err(PayError::param(
            path,
            format!("枚举值 {kind} 错误，应为 {}", TYPES.join("、")),
        ))
    }
}

/// An encrypted `name` needs `Wechatpay-Serial` naming the key it was encrypted for.
fn check_serial_header(sim: &Sim, request: &Request<'_>) -> Result<(), PayError> {
    let serial = request
        .headers
        .get(HEADER_SERIAL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let known = serial == sim.keys.config.public_key_id
        || sim
            .state()
            .certificates
            .iter()
            .any(|c| c.serial.eq_ignore_ascii_case(serial));
    if known {
        Ok(())
    } else {
        Err(PayError::new(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "敏感信息已加密时，请求头Wechatpay-Serial须为加密所用的平台证书序列号或微信支付公钥ID",
        ))
    }
}

/// `POST /v3/profitsharing/receivers/add`.
pub fn add_receiver(sim: &Shared, request: &Request<'_>) -> PayResult {
    let body = request.json()?;
    let appid = required_str(&body, "/appid", 32)?;
    let kind = required_str(&body, "/type", 32)?;
    check_type("/type", kind)?;
    let account = required_str(&body, "/account", 64)?;
    let name = optional_str(&body, "/name", 1024)?;
    let relation_type = required_str(&body, "/relation_type", 32)?;
    if !RELATIONS.contains(&relation_type) {
        return Err(PayError::param("/relation_type", "枚举值错误"));
    }
    let custom_relation = optional_str(&body, "/custom_relation", 10)?;
    if relation_type == "CUSTOM" && custom_relation.is_none() {
        return Err(PayError::param(
            "/custom_relation",
            "relation_type为CUSTOM时必填",
        ));
    }
    if kind == "MERCHANT_ID" && name.is_none() {
        return Err(PayError::param(
            "/name",
            "分账接收方类型为MERCHANT_ID时必填",
        ));
    }
    if name.is_some() {
        check_serial_header(sim, request)?;
    }
    check_appid_mchid(sim, Some(appid), &sim.keys.config.mchid)?;
    let mut state = sim.state();
    if kind == "PERSONAL_OPENID" && state.payer(account).is_none() {
        return Err(PayError::param("/account", "openid与appid不匹配"));
    }
    let receiver = Receiver {
        kind: kind.to_string(),
        account: account.to_string(),
        name: name.map(str::to_string),
        relation_type: relation_type.to_string(),
        custom_relation: custom_relation.map(str::to_string),
    };
    state
        .receivers
        .retain(|r| !(r.kind == receiver.kind && r.account == receiver.account));
    state.receivers.push(receiver.clone());
    let mut answer = json!({
        "type": receiver.kind,
        "account": receiver.account,
        "relation_type": receiver.relation_type,
    });
    if let Some(name) = receiver.name {
        answer["name"] = json!(name);
    }
    if let Some(custom) = receiver.custom_relation {
        answer["custom_relation"] = json!(custom);
    }
    ok(answer)
}

/// `POST /v3/profitsharing/receivers/delete`.
pub fn delete_receiver(sim: &Shared, request: &Request<'_>) -> PayResult {
    let body = request.json()?;
    let appid = required_str(&body, "/appid", 32)?;
    let kind = required_str(&body, "/type", 32)?;
    check_type("/type", kind)?;
    let account = required_str(&body, "/account", 64)?;
    check_appid_mchid(sim, Some(appid), &sim.keys.config.mchid)?;
    sim.state()
        .receivers
        .retain(|r| !(r.kind == kind && r.account == account));
    ok(json!({ "type": kind, "account": account }))
}

fn order_json(order: &ProfitOrder) -> Value {
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
            value
        })
        .collect();
    json!({
        "transaction_id": order.transaction_id,
        "out_order_no": order.out_order_no,
        "order_id": order.order_id,
        "state": order.state,
        "receivers": receivers,
    })
}

fn line(kind: &str, account: &str, amount: i64, description: &str) -> ShareLine {
    ShareLine {
        kind: kind.to_string(),
        account: account.to_string(),
        amount,
        description: description.to_string(),
        result: "PENDING".to_string(),
        detail_id: format!("36{}", random_digits(26)),
        create_time: now(),
        finish_time: None,
    }
}

fn out_order_no(body: &Value) -> Result<&str, PayError> {
    let no = required_str(body, "/out_order_no", 64)?;
    if !valid_merchant_no(no) {
        return Err(PayError::param(
            "/out_order_no",
            "只能是数字、大小写字母_-|*@",
        ));
    }
    Ok(no)
}

/// `POST /v3/profitsharing/orders`.
pub fn create_order(sim: &Shared, request: &Request<'_>) -> PayResult {
    let body = request.json()?;
    let appid = optional_str(&body, "/appid", 32)?;
    let transaction_id = required_str(&body, "/transaction_id", 32)?;
    let out_order_no = out_order_no(&body)?;
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
        if !seen.insert((kind.to_string(), account.to_string())) {
            return Err(PayError::param(
                &at("account"),
                "同一分账接收方在一次请求中只能出现一次",
            ));
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
        "receivers": body.pointer("/receivers"),
        "unfreeze_unsplit": unfreeze_unsplit,
    });

    let mut state = sim.state();
    if let Some(existing) = state.profit_orders.get(out_order_no) {
        if existing.fingerprint == fingerprint {
            return ok(order_json(existing));
        }
        return Err(PayError::invalid(
            "商户分账单号重复：同一分账单号的请求参数与原分账单不一致",
        ));
    }
    for l in &lines {
        if !state
            .receivers
            .iter()
            .any(|r| r.kind == l.kind && r.account == l.account)
        {
            return Err(PayError::invalid(format!(
                "分账接收方 {} 未添加，请先调用添加分账接收方接口",
                l.account
            )));
        }
    }
    let key = state
        .order_by_transaction(transaction_id)
        .map(|o| o.out_trade_no.clone())
        .ok_or_else(|| not_exists("订单不存在"))?;
    let Some(order) = state.orders.get_mut(&key) else {
        return Err(not_exists("订单不存在"));
    };
    if !order.profit_sharing {
        return Err(PayError::invalid(
            "该订单下单时未设置分账（settle_info.profit_sharing），不能分账",
        ));
    }
    if order.unfrozen {
        return Err(PayError::invalid(
            "订单已完结分账，剩余资金已解冻，不能再分账",
        ));
    }
    let sum: i64 = lines.iter().map(|l| l.amount).sum();
    if (order.shared + sum) * 100 > order.total * MAX_RATIO_PERCENT {
        return Err(PayError::invalid("分账金额超出最大分账比例"));
    }
    if sum > refundable(order) {
        return Err(PayError::invalid("分账金额超出订单待分账金额"));
    }
    order.shared += sum;
    if unfreeze_unsplit {
        order.unfrozen = true;
    }
    let profit_order = ProfitOrder {
        transaction_id: transaction_id.to_string(),
        out_order_no: out_order_no.to_string(),
        order_id: format!("30{}", random_digits(26)),
        state: "PROCESSING".to_string(),
        receivers: lines,
        unfreeze_unsplit,
        fingerprint,
    };
    let answer = order_json(&profit_order);
    state
        .profit_orders
        .insert(out_order_no.to_string(), profit_order);
    drop(state);
    finish_later(sim, out_order_no);
    ok(answer)
}

/// `POST /v3/profitsharing/orders/unfreeze`: releases every remaining frozen fen to the merchant.
pub fn unfreeze(sim: &Shared, request: &Request<'_>) -> PayResult {
    let body = request.json()?;
    let transaction_id = required_str(&body, "/transaction_id", 32)?;
    let out_order_no = out_order_no(&body)?;
    let description = required_str(&body, "/description", 80)?;
    let fingerprint = json!({ "transaction_id": transaction_id, "unfreeze": description });
    let mchid = sim.keys.config.mchid.clone();

    let mut state = sim.state();
    if let Some(existing) = state.profit_orders.get(out_order_no) {
        if existing.fingerprint == fingerprint {
            return ok(order_json(existing));
        }
        return Err(PayError::invalid("商户分账单号重复"));
    }
    let key = state
        .order_by_transaction(transaction_id)
        .map(|o| o.out_trade_no.clone())
        .ok_or_else(|| not_exists("订单不存在"))?;
    let Some(order) = state.orders.get_mut(&key) else {
        return Err(not_exists("订单不存在"));
    };
    if !order.profit_sharing {
        return Err(PayError::invalid("该订单下单时未设置分账，无需解冻"));
    }
    if order.unfrozen {
        return Err(PayError::invalid("订单已完结分账，剩余资金已解冻"));
    }
    order.unfrozen = true;
    let rest = refundable(order).max(0);
    let profit_order = ProfitOrder {
        transaction_id: transaction_id.to_string(),
        out_order_no: out_order_no.to_string(),
        order_id: format!("30{}", random_digits(26)),
        state: "PROCESSING".to_string(),
        receivers: vec![line("MERCHANT_ID", &mchid, rest, description)],
        unfreeze_unsplit: false,
        fingerprint,
    };
    let answer = order_json(&profit_order);
    state
        .profit_orders
        .insert(out_order_no.to_string(), profit_order);
    drop(state);
    finish_later(sim, out_order_no);
    ok(answer)
}

/// Moves a sharing order to FINISHED after the processing delay.
fn finish_later(sim: &Shared, out_order_no: &str) {
    let sim = sim.clone();
    let out_order_no = out_order_no.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(sim.scaled(PROCESSING_SECS)).await;
        let mchid = sim.keys.config.mchid.clone();
        let mut state = sim.state();
        let Some(profit_order) = state.profit_orders.get(&out_order_no) else {
            return;
        };
        let transaction_id = profit_order.transaction_id.clone();
        let unfreeze_unsplit = profit_order.unfreeze_unsplit;
        let rest = state
            .order_by_transaction(&transaction_id)
            .map(|o| refundable(o).max(0))
            .unwrap_or(0);
        let Some(profit_order) = state.profit_orders.get_mut(&out_order_no) else {
            return;
        };
        let finished = now();
        if unfreeze_unsplit && rest > 0 {
            profit_order
                .receivers
                .push(line("MERCHANT_ID", &mchid, rest, "解冻给分账方"));
        }
        for l in &mut profit_order.receivers {
            l.result = "SUCCESS".to_string();
            l.finish_time = Some(finished);
        }
        profit_order.state = "FINISHED".to_string();
    });
}

/// `GET /v3/profitsharing/orders/{out_order_no}?transaction_id=…`.
pub fn query_order(sim: &Sim, request: &Request<'_>, out_order_no: &str) -> PayResult {
    let transaction_id = request.query_required("transaction_id")?;
    let state = sim.state();
    let order = state
        .profit_orders
        .get(out_order_no)
        .filter(|o| o.transaction_id == transaction_id)
        .ok_or_else(|| not_exists("记录不存在"))?;
    ok(order_json(order))
}

/// `GET /v3/profitsharing/transactions/{transaction_id}/amounts`.
pub fn amounts(sim: &Sim, transaction_id: &str) -> PayResult {
    let state = sim.state();
    let order = state
        .order_by_transaction(transaction_id)
        .ok_or_else(|| not_exists("订单不存在"))?;
    let unsplit = if order.unfrozen || !order.profit_sharing {
        0
    } else {
        refundable(order).max(0)
    };
    ok(json!({ "transaction_id": transaction_id, "unsplit_amount": unsplit }))
}
