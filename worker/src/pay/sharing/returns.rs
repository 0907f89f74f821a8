//! Refunds of shared orders (called by `refunds::create` before the refund request). The
//! payee keeps `paid − refunded − shared + returned`; a refund beyond that first returns
//! shares from merchant receivers (`POST /v3/profitsharing/return-orders`, synchronous;
//! PROTOCOL-2 §2.4), within what each got (`core::profitshare::returns`). Money shared to a
//! person cannot be returned through WeChat: such a refund is refused with the most that can
//! be refunded. A return left PROCESSING is sent again, same `out_return_no`, next time.

use serde::Deserialize;
use shoukuan_core::money::Fen;
use shoukuan_core::profitshare::returns::{
    returns_before_refund, Holding, OrderMoney, ReturnError,
};
use shoukuan_core::profitshare::wechat::{fail_reason_label, out_return_no, ReturnOrder};
use shoukuan_core::profitshare::ReceiverType;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Method};

use super::super::apply::OrderRow;
use super::super::client::{self, CallError};
use super::super::config::PayConfig;
use super::super::routing;
use crate::error::ApiError;
use crate::http::num;
use crate::session::now_secs;

const DESCRIPTION: &str = "订单退款，回退分账";

#[derive(Deserialize)]
struct Shared {
    receiver_type: String,
    account: String,
    out_order_no: String,
    shared: i64,
}

#[derive(Deserialize)]
struct ReturnRow {
    out_return_no: String,
    out_order_no: String,
    return_mchid: String,
    amount_fen: i64,
    result: String,
}

#[derive(Deserialize)]
struct N {
    n: i64,
}

fn refused(e: ReturnError) -> ApiError {
    let code = match e {
        ReturnError::SharingInProgress => "SHARING_IN_PROGRESS",
        ReturnError::PersonalShares { .. } => "SHARED_TO_PERSONS",
        ReturnError::OverRefund { .. } => "OVER_REFUND",
    };
    ApiError::Pay(409, code, e.to_string())
}

/// Makes sure the payee holds `amount` of `order` before it is refunded, returning shares
/// first where needed; refuses (409) when that is not possible now.
pub async fn before_refund(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    amount: Fen,
) -> Result<(), ApiError> {
    let db = env.d1("DB")?;
    let id: JsValue = order.id.as_str().into();
    let in_flight = db
        .prepare(
            "SELECT COUNT(*) AS n FROM share_jobs WHERE order_id = ?1 AND kind = 'share' \
             AND state IN ('planned', 'processing')",
        )
        .bind(std::slice::from_ref(&id))?
        .first::<N>(None)
        .await?
        .is_some_and(|c| c.n > 0);
    let shared = db
        .prepare(
            "SELECT r.receiver_type, r.account, r.out_order_no, SUM(r.amount_fen) AS shared \
             FROM share_results r JOIN share_jobs j ON j.out_order_no = r.out_order_no \
             WHERE j.order_id = ?1 AND r.result = 'SUCCESS' GROUP BY r.receiver_type, r.account",
        )
        .bind(std::slice::from_ref(&id))?
        .all()
        .await?
        .results::<Shared>()?;
    if shared.is_empty() && !in_flight {
        return Ok(());
    }
    let returns = db
        .prepare(
            "SELECT out_return_no, out_order_no, return_mchid, amount_fen, result FROM share_returns \
             WHERE order_id = ?1 ORDER BY created_at, out_return_no",
        )
        .bind(std::slice::from_ref(&id))?
        .all()
        .await?
        .results::<ReturnRow>()?;
    for pending in returns.iter().filter(|r| r.result == "PROCESSING") {
        send(env, config, order, pending).await?;
    }
    let refunded = db
        .prepare("SELECT COALESCE(SUM(amount_fen), 0) AS n FROM refunds WHERE order_id = ?1 AND state <> 'closed'")
        .bind(std::slice::from_ref(&id))?
        .first::<N>(None)
        .await?
        .map_or(0, |c| c.n);
    let holdings: Vec<Holding> = shared
        .iter()
        .map(|s| {
            let kind =
                ReceiverType::parse(&s.receiver_type).unwrap_or(ReceiverType::PersonalOpenid);
            let returned = returns
                .iter()
                .filter(|r| kind == ReceiverType::MerchantId && r.return_mchid == s.account)
                .filter(|r| r.result != "FAILED")
                .map(|r| r.amount_fen)
                .sum();
            Holding {
                kind,
                account: s.account.clone(),
                shared: Fen::new(s.shared),
                returned: Fen::new(returned),
            }
        })
        .collect();
    let money = OrderMoney {
        paid: Fen::new(order.amount_fen),
        refunded: Fen::new(refunded),
        sharing_in_flight: in_flight,
        holdings,
    };
    let needed = returns_before_refund(&money, amount).map_err(refused)?;
    for (n, (index, fen)) in needed.into_iter().enumerate() {
        let from = &shared[index];
        let row = ReturnRow {
            out_return_no: out_return_no(&order.id, (returns.len() + n + 1) as u32),
            out_order_no: from.out_order_no.clone(),
            return_mchid: from.account.clone(),
            amount_fen: fen.get(),
            result: "PROCESSING".into(),
        };
        db.prepare(
            "INSERT INTO share_returns (out_return_no, order_id, out_order_no, return_mchid, amount_fen, \
             result, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'PROCESSING', ?6, ?6)",
        )
        .bind(&[
            row.out_return_no.as_str().into(),
            id.clone(),
            row.out_order_no.as_str().into(),
            row.return_mchid.as_str().into(),
            num(row.amount_fen),
            num(now_secs()),
        ])?
        .run()
        .await?;
        send(env, config, order, &row).await?;
    }
    Ok(())
}

/// Sends one return (again) and stores its result; anything but SUCCESS refuses the refund.
async fn send(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    row: &ReturnRow,
) -> Result<(), ApiError> {
    let routing = routing::for_order(order, config);
    let mut body = routing.request_ids();
    body.insert("out_order_no".into(), row.out_order_no.as_str().into());
    body.insert("out_return_no".into(), row.out_return_no.as_str().into());
    body.insert("return_mchid".into(), row.return_mchid.as_str().into());
    body.insert("amount".into(), row.amount_fen.into());
    body.insert("description".into(), DESCRIPTION.into());
    let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let outcome = client::call(
        env,
        config,
        Method::Post,
        "/v3/profitsharing/return-orders",
        Some(&bytes),
    )
    .await
    .and_then(|answer| {
        serde_json::from_slice::<ReturnOrder>(&answer.body)
            .map_err(|e| CallError::Malformed(e.to_string()))
    });
    let (result, return_id, reason) = match &outcome {
        Ok(answer) => (
            answer.result.clone(),
            Some(answer.return_id.clone()),
            answer.fail_reason.clone(),
        ),
        // A verified final refusal (e.g. 回退方未开通分账回退功能): nothing was returned.
        Err(CallError::Refused {
            status,
            code,
            message,
        }) if *status < 500 => (
            "FAILED".to_string(),
            None,
            Some(format!("{code} {message}")),
        ),
        Err(e) => {
            worker::console_error!("return {}: {e}", row.out_return_no);
            return Err(ApiError::Pay(
                503,
                "RETURN_PENDING",
                "分账回退暂时没有结果，请稍后再退款".into(),
            ));
        }
    };
    env.d1("DB")?
        .prepare(
            "UPDATE share_returns SET result = ?2, return_id = COALESCE(?3, return_id), fail_reason = ?4, \
             updated_at = ?5 WHERE out_return_no = ?1 AND result = 'PROCESSING'",
        )
        .bind(&[
            row.out_return_no.as_str().into(),
            result.as_str().into(),
            return_id.map_or(JsValue::NULL, Into::into),
            reason.as_deref().map_or(JsValue::NULL, Into::into),
            num(now_secs()),
        ])?
        .run()
        .await?;
    match result.as_str() {
        "SUCCESS" => Ok(()),
        "FAILED" => Err(ApiError::Pay(
            409,
            "RETURN_FAILED",
            format!(
                "退款前需先从分账接收方 {} 回退 {}，但回退失败（{}）：请与接收方协商后再试",
                row.return_mchid,
                Fen::new(row.amount_fen),
                reason.as_deref().map_or("未知原因", |r| {
                    let code = r.split(' ').next().unwrap_or(r);
                    // WeChat's own message when it refused, else the label of its reason code.
                    if r.contains(' ') {
                        r
                    } else {
                        fail_reason_label(code)
                    }
                })
            ),
        )),
        _ => Err(ApiError::Pay(
            409,
            "RETURN_PENDING",
            "分账回退处理中，请稍后再退款".into(),
        )),
    }
}
