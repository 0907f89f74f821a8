//! Partner mode (服务商 / 特约商户): the service provider — the `mchid` of sim.json, whose keys
//! sign everything — prepays, queries and closes orders for its registered sub-merchants.
//!
//! ```text
//! POST /v3/pay/partner/transactions/{jsapi,native,h5}     sp_appid, sp_mchid, sub_mchid, payer.sp_openid
//! GET  /v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid=&sub_mchid=
//! GET  /v3/pay/partner/transactions/id/{id}?sp_mchid=&sub_mchid=
//! POST /v3/pay/partner/transactions/out-trade-no/{no}/close   {sp_mchid, sub_mchid}
//! GET|POST /sim/sub-merchants                              the registry (control API)
//! ```
//!
//! Errors as WeChat answers them: `APPID_MCHID_NOT_MATCH` (sp_appid not bound to sp_mchid),
//! `PARAM_ERROR` for the payer rules (sp_openid or sub_openid; sub_appid with sub_openid;
//! an openid not issued under sp_appid), `403 NO_AUTH 受理关系不存在` for a sub_mchid that is not
//! this service provider's, `403 NO_AUTH` for H5 by a sub-merchant without H5. The simulated
//! sub-merchants have no `sub_appid` bound (the product runs one platform Official Account), so a
//! `sub_appid` is refused as not matching `sub_mchid`. An order of one sub-merchant does not
//! exist for another, nor for the direct endpoints.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::pay::{
    check_appid_mchid, check_query_mchid, close_order, ok, order_not_exist, query_error,
    required_str, transaction_json, PayResult, Request,
};
use super::prepay::{self, Ids, Product};
use super::state::{Order, SimSubMerchant, State as SimState};
use super::{PayError, Shared, Sim};

/// How a query names the order.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// `/out-trade-no/{out_trade_no}`.
    OutTradeNo(&'a str),
    /// `/id/{transaction_id}`.
    TransactionId(&'a str),
}

/// 403 NO_AUTH "受理关系不存在": the sub-merchant was not onboarded under this service provider.
///
/// Source: WeChat's partner APIs answer an unrelated `sub_mchid` with `NO_AUTH` and the message
/// 受理关系不存在 — the e-commerce partner error tables list "403 NO_AUTH … 服务商和特约商户受理关系不存在"
/// (pay.weixin.qq.com/wiki/doc/apiv3/wxpay/ecommerce/fund/chapter3_3.shtml), and public v3
/// partner-payment clients handle `{statusCode: 403, code: "NO_AUTH", message: "受理关系不存在"}`
/// from the partner prepay; PROTOCOL-3 §3 lists "服务商和分账方无受理关系" for 服务商分账.
pub fn no_relation() -> PayError {
    PayError::new(StatusCode::FORBIDDEN, "NO_AUTH", "受理关系不存在")
}

/// `sub_mchid` must be a sub-merchant registered under the signing service provider.
pub fn check_relation(state: &SimState, sub_mchid: &str) -> Result<(), PayError> {
    match state.sub_merchant(sub_mchid) {
        Some(_) => Ok(()),
        None => Err(no_relation()),
    }
}

/// Why a partner request without `sub_mchid` is refused (WeChat's words).
pub const SUB_MCHID_REQUIRED: &str = "服务商模式下必须传递此参数";

/// A request about an existing order (refund, profit sharing) names the order's sub-merchant:
/// a partner order without it gets `missing`; an order of another sub-merchant, or a direct
/// order named with a sub_mchid, does not exist for it (404 RESOURCE_NOT_EXISTS).
pub fn same_sub_mchid(
    own: Option<&str>,
    given: Option<&str>,
    missing: PayError,
) -> Result<(), PayError> {
    match (own, given) {
        (Some(_), None) => Err(missing),
        (own, given) if own == given => Ok(()),
        _ => Err(PayError::new(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "订单不存在",
        )),
    }
}

/// `POST /v3/pay/partner/transactions/{jsapi,native,h5}`.
pub fn prepay(sim: &Shared, request: &Request<'_>, product: Product) -> PayResult {
    let body = request.json()?;
    let sp_appid = required_str(&body, "/sp_appid", 32)?;
    let sp_mchid = required_str(&body, "/sp_mchid", 32)?;
    let sub_mchid = required_str(&body, "/sub_mchid", 32)?;
    let sub_appid = super::pay::optional_str(&body, "/sub_appid", 32)?;
    let openid = match product {
        Product::Jsapi => Some((payer(&body, sub_appid)?, "/payer/sp_openid")),
        _ => None,
    };
    check_appid_mchid(sim, Some(sp_appid), sp_mchid)?;
    check_relation(&sim.state(), sub_mchid)?;
    if sub_appid.is_some() {
        return Err(PayError::param("/sub_appid", "sub_appid与sub_mchid不匹配"));
    }
    let ids = Ids {
        appid: sp_appid,
        mchid: sp_mchid,
        sub_mchid: Some(sub_mchid),
        openid,
        max_expire_days: 15,
    };
    prepay::create(sim, request, &body, &ids, product)
}

/// The JSAPI `payer`: `sp_openid` or `sub_openid` (at least one), `sub_openid` only with
/// `sub_appid`. Answers the sp_openid (sub_openids are refused later with their sub_appid).
fn payer<'a>(body: &'a Value, sub_appid: Option<&str>) -> Result<&'a str, PayError> {
    if body.pointer("/payer").is_none_or(Value::is_null) {
        return Err(PayError::param("/payer", "此字段为必填项"));
    }
    let sp_openid = super::pay::optional_str(body, "/payer/sp_openid", 128)?;
    let sub_openid = super::pay::optional_str(body, "/payer/sub_openid", 128)?;
    if sub_openid.is_some() && sub_appid.is_none() {
        return Err(PayError::param(
            "/sub_appid",
            "若传sub_openid，那sub_appid必填",
        ));
    }
    match (sp_openid, sub_openid) {
        (Some(openid), _) => Ok(openid),
        // Refused as an unbound sub_appid by the caller.
        (None, Some(openid)) => Ok(openid),
        (None, None) => Err(PayError::param(
            "/payer",
            "sp_openid 和 sub_openid 两个字段必须要填一个",
        )),
    }
}

/// `sp_mchid` and `sub_mchid` of a partner query: both required, the first the signer, the
/// second related to it.
fn query_ids(sim: &Sim, request: &Request<'_>) -> Result<String, PayError> {
    check_query_mchid(sim, request, "sp_mchid")?;
    let sub_mchid = request.query_required("sub_mchid")?;
    if sub_mchid.chars().count() > 32 {
        return Err(query_error("sub_mchid", "字符串长度大于最大值 32"));
    }
    check_relation(&sim.state(), &sub_mchid)?;
    Ok(sub_mchid)
}

fn of_sub_merchant<'a>(order: Option<&'a Order>, sub_mchid: &str) -> Option<&'a Order> {
    order.filter(|o| o.sub_mchid.as_deref() == Some(sub_mchid))
}

/// `GET /v3/pay/partner/transactions/{out-trade-no/{no} | id/{id}}?sp_mchid=&sub_mchid=`.
pub fn query(sim: &Sim, request: &Request<'_>, lookup: Lookup<'_>) -> PayResult {
    let sub_mchid = query_ids(sim, request)?;
    let state = sim.state();
    let order = match lookup {
        Lookup::OutTradeNo(no) => state.orders.get(no),
        Lookup::TransactionId(id) => state.order_by_transaction(id),
    };
    let order = of_sub_merchant(order, &sub_mchid).ok_or_else(order_not_exist)?;
    ok(transaction_json(order))
}

/// `POST /v3/pay/partner/transactions/out-trade-no/{no}/close` with `{sp_mchid, sub_mchid}`.
pub fn close(sim: &Sim, request: &Request<'_>, out_trade_no: &str) -> PayResult {
    let body = request.json()?;
    let sp_mchid = required_str(&body, "/sp_mchid", 32)?;
    let sub_mchid = required_str(&body, "/sub_mchid", 32)?;
    check_appid_mchid(sim, None, sp_mchid)?;
    let mut state = sim.state();
    check_relation(&state, sub_mchid)?;
    let order = state
        .orders
        .get_mut(out_trade_no)
        .filter(|o| o.sub_mchid.as_deref() == Some(sub_mchid))
        .ok_or_else(order_not_exist)?;
    close_order(order)
}

/// The control routes of the sub-merchant registry.
pub fn routes() -> Router<Shared> {
    Router::new().route("/sim/sub-merchants", get(list).post(upsert))
}

async fn list(State(sim): State<Shared>) -> Json<Value> {
    Json(json!(sim.state().sub_merchants))
}

/// `POST /sim/sub-merchants` body: registers a sub-merchant, or changes the given fields of a
/// registered one. A new one defaults to no H5 and a max ratio of 0 (no 服务商分账 authorised).
#[derive(Debug, Deserialize)]
struct Upsert {
    sub_mchid: String,
    name: Option<String>,
    h5: Option<bool>,
    /// 1/10 000 (3000 = 30 %).
    max_ratio: Option<u32>,
}

async fn upsert(
    State(sim): State<Shared>,
    Json(change): Json<Upsert>,
) -> Result<Json<Value>, PayError> {
    let bad = |m: &str| PayError::new(StatusCode::BAD_REQUEST, "PARAM_ERROR", m);
    let valid_no = (8..=32).contains(&change.sub_mchid.len())
        && change.sub_mchid.bytes().all(|b| b.is_ascii_digit());
    if !valid_no {
        return Err(bad("sub_mchid must be 8–32 digits"));
    }
    if change.sub_mchid == sim.keys.config.mchid {
        return Err(bad("a service provider cannot be its own sub-merchant"));
    }
    if change.max_ratio.is_some_and(|r| r > 10_000) {
        return Err(bad("max_ratio is in 1/10000 and at most 10000"));
    }
    if let Some(name) = &change.name {
        if name.trim().is_empty() || name.chars().count() > 128 {
            return Err(bad("name must be 1–128 characters"));
        }
    }
    let mut state = sim.state();
    let at = match state
        .sub_merchants
        .iter()
        .position(|s| s.sub_mchid == change.sub_mchid)
    {
        Some(at) => at,
        None => {
            state.sub_merchants.push(SimSubMerchant {
                sub_mchid: change.sub_mchid.clone(),
                name: format!("特约商户{}", change.sub_mchid),
                h5: false,
                max_ratio: 0,
            });
            state.sub_merchants.len() - 1
        }
    };
    let sub = &mut state.sub_merchants[at];
    if let Some(name) = change.name {
        sub.name = name;
    }
    if let Some(h5) = change.h5 {
        sub.h5 = h5;
    }
    if let Some(ratio) = change.max_ratio {
        sub.max_ratio = ratio;
    }
    Ok(Json(json!(sub)))
}
