//! Profit sharing (分账, `/v3/profitsharing/...`) for a direct merchant and, in partner mode
//! (服务商分账), for each sub-merchant of the service provider:
//!
//! ```text
//! POST /v3/profitsharing/receivers/add | delete        receivers.rs (kept per sub_mchid)
//! GET  /v3/profitsharing/merchant-configs/{sub_mchid}  receivers.rs → {sub_mchid, max_ratio}
//! POST /v3/profitsharing/orders                        orders.rs (PROCESSING, lines PENDING → SUCCESS)
//! POST /v3/profitsharing/orders/unfreeze               orders.rs
//! GET  /v3/profitsharing/orders/{out_order_no}?transaction_id=&sub_mchid=
//! GET  /v3/profitsharing/transactions/{id}/amounts     orders.rs → {transaction_id, unsplit_amount}
//! POST /v3/profitsharing/return-orders                 returns.rs (merchant receivers only)
//! GET  /v3/profitsharing/return-orders/{no}?out_order_no=&sub_mchid=
//! GET  /sim/profitsharing, /sim/profitsharing/received (control API: what each receiver got)
//! ```
//!
//! WeChat's rules: only orders prepaid with `settle_info.profit_sharing = true` share
//! (`非分账订单`), no sooner than a minute after payment (scaled by `--time-scale`; earlier
//! calls get `订单处理中，请稍后重试`), receivers must be added first (per sub-merchant in partner
//! mode, `appid` = the service provider's), encrypted `name`s are RSA-OAEP (SHA-1) under the key
//! `Wechatpay-Serial` names, the shares of an order never exceed its max ratio in total (the
//! direct merchant's `max_ratio` setting, default 30 %; a sub-merchant's authorised ratio), an
//! unfreeze (or `unfreeze_unsplit`) ends sharing, and returns take money back from merchant
//! receivers only.

mod orders;
mod receivers;
mod returns;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use shoukuan_core::wechatpay::{PrivateKey, HEADER_SERIAL};

pub use orders::{amounts, create_order, query_order, unfreeze};
pub use receivers::{add_receiver, delete_receiver, merchant_config};
pub use returns::{create_return, query_return};

use super::pay::Request;
use super::refund::valid_merchant_no;
use super::state::State as SimState;
use super::{PayError, Shared, Sim};

const TYPES: [&str; 3] = ["MERCHANT_ID", "PERSONAL_OPENID", "PERSONAL_SUB_OPENID"];

fn not_exists(message: &str) -> PayError {
    PayError::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", message)
}

/// A query of a share or return record: a partner record needs its own `sub_mchid`; a record
/// asked for under another sub-merchant does not exist for the caller.
fn record_of_sub_mchid(own: Option<&str>, given: Option<&str>) -> Result<(), PayError> {
    super::partner::same_sub_mchid(
        own,
        given,
        super::pay::query_error("sub_mchid", super::partner::SUB_MCHID_REQUIRED),
    )
    .map_err(|e| match e.code {
        "RESOURCE_NOT_EXISTS" => not_exists("记录不存在"),
        _ => e,
    })
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

/// `PERSONAL_SUB_OPENID` needs a `sub_appid` bound to the sub-merchant; the simulated
/// sub-merchants have none (the product shares to openids under the service provider's AppID).
fn refuse_sub_openid(sub_appid: Option<&str>) -> PayError {
    match sub_appid {
        None => PayError::param("/sub_appid", "分账接收方类型为PERSONAL_SUB_OPENID时必填"),
        Some(_) => PayError::param("/sub_appid", "sub_appid与sub_mchid不匹配"),
    }
}

/// A merchant number of the `out_order_no` / `out_return_no` kind at `path`.
fn merchant_no<'a>(body: &'a Value, path: &str) -> Result<&'a str, PayError> {
    let no = super::pay::required_str(body, path, 64)?;
    if !valid_merchant_no(no) {
        return Err(PayError::param(path, "只能是数字、大小写字母_-|*@"));
    }
    Ok(no)
}

/// Decrypts an encrypted `name` (RSA-OAEP with SHA-1, base64) with the private key behind the
/// request's `Wechatpay-Serial`: the WeChat Pay public key or a platform certificate.
fn decrypt_name(
    sim: &Sim,
    request: &Request<'_>,
    path: &str,
    cipher: &str,
) -> Result<String, PayError> {
    let serial = request
        .headers
        .get(HEADER_SERIAL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = if serial == sim.keys.config.public_key_id {
        Some(sim.keys.public_key_signer.clone())
    } else {
        let pem = sim
            .state()
            .certificates
            .iter()
            .find(|c| c.serial.eq_ignore_ascii_case(serial))
            .map(|c| c.private_key_pem.clone());
        match pem {
            Some(pem) => Some(PrivateKey::from_pem(&pem).map_err(PayError::system)?),
            None => None,
        }
    };
    let Some(key) = key else {
        return Err(PayError::new(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "敏感信息已加密时，请求头Wechatpay-Serial须为加密所用的平台证书序列号或微信支付公钥ID",
        ));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cipher)
        .map_err(|_| PayError::param(path, "加密字段不是合法的base64"))?;
    let plain = key
        .as_rsa()
        .decrypt(rsa::Oaep::new::<sha1::Sha1>(), &bytes)
        .map_err(|_| {
            PayError::param(
                path,
                "解密失败：应以Wechatpay-Serial所指的公钥按RSA-OAEP（SHA-1）加密",
            )
        })?;
    String::from_utf8(plain).map_err(|_| PayError::param(path, "解密结果不是UTF-8文本"))
}

/// The max ratio (1/10 000) an order may share in total: its sub-merchant's authorised ratio,
/// or the direct merchant's.
fn max_ratio(state: &SimState, sub_mchid: Option<&str>) -> u32 {
    match sub_mchid {
        Some(sub) => state.sub_merchant(sub).map_or(0, |s| s.max_ratio),
        None => state.settings.max_ratio,
    }
}

/// 403 NO_AUTH: the sub-merchant has not authorised 服务商分账 (its ratio is 0).
fn not_authorised() -> PayError {
    PayError::new(
        StatusCode::FORBIDDEN,
        "NO_AUTH",
        "子商户未开通分账功能或未授权服务商分账",
    )
}

/// The control routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/sim/profitsharing", get(list))
        .route("/sim/profitsharing/received", get(received))
}

/// `GET /sim/profitsharing`: receivers, sharing orders (settled as of now) and returns.
async fn list(State(sim): State<Shared>) -> Json<Value> {
    let mut state = sim.state();
    orders::settle(&mut state);
    Json(json!({
        "receivers": state.receivers,
        "orders": state.profit_orders.values().map(orders::order_json).collect::<Vec<_>>(),
        "returns": state.return_orders.values().map(returns::return_json).collect::<Vec<_>>(),
    }))
}

#[derive(Debug, Deserialize)]
struct ReceivedFilter {
    account: Option<String>,
}

/// `GET /sim/profitsharing/received[?account=]`: per sharer and receiver, what the receiver
/// got (`SUCCESS` lines), what is still `PENDING`, what it returned, and the net.
async fn received(State(sim): State<Shared>, Query(filter): Query<ReceivedFilter>) -> Json<Value> {
    let mut state = sim.state();
    orders::settle(&mut state);
    let mut totals: std::collections::BTreeMap<(String, String, String), [i64; 3]> =
        Default::default();
    for order in state.profit_orders.values().filter(|o| !o.is_unfreeze) {
        let sharer = order
            .sub_mchid
            .clone()
            .unwrap_or_else(|| sim.keys.config.mchid.clone());
        for line in order.receivers.iter().filter(|l| !l.unfreeze) {
            if filter.account.as_ref().is_some_and(|a| a != &line.account) {
                continue;
            }
            let entry = totals
                .entry((sharer.clone(), line.kind.clone(), line.account.clone()))
                .or_default();
            match line.result.as_str() {
                "SUCCESS" => entry[0] += line.amount,
                "PENDING" => entry[1] += line.amount,
                _ => {}
            }
            entry[2] += line.returned;
        }
    }
    Json(Value::Array(
        totals
            .into_iter()
            .map(|((from, kind, account), [got, pending, returned])| {
                json!({
                    "from": from, "type": kind, "account": account,
                    "received": got, "pending": pending, "returned": returned,
                    "net": got - returned,
                })
            })
            .collect(),
    ))
}
