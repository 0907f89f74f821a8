//! The control API (`/sim/...`, JSON, unsigned) for tests and people: payers, paying an order,
//! triggering callback variants, Official Account pushes, the delivery logs, template messages,
//! token statistics, certificate rotation, settings and snapshots. Errors use WeChat Pay's
//! `{"code", "message"}` shape.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::mp::{self, PushRequest};
use super::notify::{self, Target, Variant};
use super::state::{OrderState, PlatformCert};
use super::{
    active_certificate, now, now_ms, parse_rfc3339, random_digits, rfc3339, PayError, Shared,
    SignMode,
};

type ApiResult = Result<Json<Value>, PayError>;

/// The `/sim/...` routes (the HTML page is added by the caller).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/sim/health", get(health))
        .route("/sim/config", get(get_config).post(set_config))
        .route("/sim/payers", get(list_payers).post(create_payer))
        .route("/sim/orders", get(list_orders))
        .route("/sim/orders/{out_trade_no}", get(get_order))
        .route("/sim/pay", post(pay))
        .route("/sim/notify", post(trigger_notify))
        .route("/sim/deliveries", get(list_deliveries))
        .route("/sim/deliveries/{id}", get(get_delivery))
        .route("/sim/refunds", get(list_refunds))
        .route("/sim/mp/push", post(push))
        .route("/sim/mp/pushes", get(list_pushes))
        .route("/sim/mp/templates", get(list_templates))
        .route("/sim/mp/stats", get(mp_stats))
        .route("/sim/mp/expire-tokens", post(expire_tokens))
        .route("/sim/mp/verify", post(verify_mp_url))
        .route("/sim/certificates", get(list_certificates))
        .route("/sim/certificates/rotate", post(rotate_certificate))
        .route("/sim/snapshot", post(snapshot))
}

fn bad_request(message: impl Into<String>) -> PayError {
    PayError::new(StatusCode::BAD_REQUEST, "PARAM_ERROR", message)
}

fn to_json(value: impl serde::Serialize) -> ApiResult {
    serde_json::to_value(value)
        .map(Json)
        .map_err(PayError::system)
}

async fn health(State(sim): State<Shared>) -> ApiResult {
    let config = &sim.keys.config;
    Ok(Json(json!({
        "ok": true,
        "mchid": config.mchid,
        "appid": config.appid,
        "sign_mode": sim.state().settings.sign_mode,
        "time_scale": sim.time_scale,
    })))
}

async fn get_config(State(sim): State<Shared>) -> ApiResult {
    to_json(&sim.state().settings)
}

/// `POST /sim/config` body: any of the settings.
#[derive(Debug, Deserialize)]
struct ConfigChange {
    sign_mode: Option<SignMode>,
    mp_url: Option<String>,
    mp_safe_mode: Option<bool>,
    oauth_auto_approve: Option<bool>,
    /// The direct merchant's profit-sharing max ratio, 1/10 000.
    max_ratio: Option<u32>,
}

async fn set_config(State(sim): State<Shared>, Json(change): Json<ConfigChange>) -> ApiResult {
    if change.max_ratio.is_some_and(|r| r > 10_000) {
        return Err(bad_request("max_ratio is in 1/10000 and at most 10000"));
    }
    let mut state = sim.state();
    let settings = &mut state.settings;
    if let Some(mode) = change.sign_mode {
        settings.sign_mode = mode;
    }
    if let Some(url) = change.mp_url {
        settings.mp_url = Some(url).filter(|u| !u.is_empty());
    }
    if let Some(safe) = change.mp_safe_mode {
        settings.mp_safe_mode = safe;
    }
    if let Some(auto) = change.oauth_auto_approve {
        settings.oauth_auto_approve = auto;
    }
    if let Some(ratio) = change.max_ratio {
        settings.max_ratio = ratio;
    }
    to_json(&*settings)
}

#[derive(Debug, Default, Deserialize)]
struct NewPayer {
    nickname: Option<String>,
    subscribed: Option<bool>,
}

async fn create_payer(State(sim): State<Shared>, body: Option<Json<NewPayer>>) -> ApiResult {
    let request = body.map(|Json(b)| b).unwrap_or_default();
    to_json(mp::create_payer(
        &sim,
        request.nickname.as_deref(),
        request.subscribed.unwrap_or(true),
    ))
}

async fn list_payers(State(sim): State<Shared>) -> ApiResult {
    to_json(&sim.state().payers)
}

async fn list_orders(State(sim): State<Shared>) -> ApiResult {
    let state = sim.state();
    let orders: Vec<Value> = state
        .orders
        .values()
        .map(|o| {
            json!({
                "out_trade_no": o.out_trade_no,
                "appid": o.appid,
                "mchid": o.mchid,
                "sub_mchid": o.sub_mchid,
                "trade_type": o.trade_type,
                "description": o.description,
                "total": o.total,
                "state": o.state,
                "openid": o.openid,
                "transaction_id": o.transaction_id,
                "notify_url": o.notify_url,
                "prepay_id": o.prepay_ids.last(),
                "code_url": o.code_url,
                "profit_sharing": o.profit_sharing,
                "refunded": o.refunded,
                "shared": o.shared,
                "created_at": rfc3339(o.created_at),
                "success_time": o.success_time.map(rfc3339),
                "expires_at": rfc3339(o.expires_at),
            })
        })
        .collect();
    Ok(Json(Value::Array(orders)))
}

/// `GET /sim/orders/{out_trade_no}`: everything the simulator keeps about an order, including
/// `request`, the body of its last prepay as received.
async fn get_order(State(sim): State<Shared>, Path(out_trade_no): Path<String>) -> ApiResult {
    let state = sim.state();
    let order = state
        .orders
        .get(&out_trade_no)
        .ok_or_else(|| PayError::new(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"))?;
    to_json(order)
}

/// `POST /sim/pay` body.
#[derive(Debug, Default, Deserialize)]
pub struct PayRequest {
    /// The order (or give `prepay_id`).
    pub out_trade_no: Option<String>,
    /// Find the order by a prepay_id instead.
    pub prepay_id: Option<String>,
    /// Who pays: defaults to the JSAPI order's payer; required for Native.
    pub openid: Option<String>,
    /// Callback variant; default normal.
    pub variant: Option<Variant>,
    /// Copies for the concurrent variant.
    pub count: Option<usize>,
    /// Backdate the payment (RFC 3339), e.g. to put it in yesterday's bill.
    pub success_time: Option<String>,
    /// Pay without ever delivering the callback (reconciliation tests).
    #[serde(default)]
    pub no_callback: bool,
}

async fn pay(State(sim): State<Shared>, Json(request): Json<PayRequest>) -> ApiResult {
    pay_order(&sim, &request).map(Json)
}

/// Pays an order as a simulated user and sends its callback; answers
/// `{out_trade_no, transaction_id, deliveries}`.
pub fn pay_order(sim: &Shared, request: &PayRequest) -> Result<Value, PayError> {
    let success_time = match &request.success_time {
        Some(text) => {
            Some(parse_rfc3339(text).ok_or_else(|| bad_request("success_time is not RFC 3339"))?)
        }
        None => None,
    };
    let (order, transaction_id) = {
        let mut state = sim.state();
        let key = match (&request.out_trade_no, &request.prepay_id) {
            (Some(no), _) => Some(no.clone()),
            (None, Some(prepay_id)) => state
                .orders
                .values()
                .find(|o| o.prepay_ids.contains(prepay_id))
                .map(|o| o.out_trade_no.clone()),
            (None, None) => return Err(bad_request("out_trade_no or prepay_id is required")),
        };
        let openid_known = |openid: &str| state.payer(openid).is_some();
        let requested_openid_known = request.openid.as_deref().map(openid_known);
        let order = key
            .and_then(|k| state.orders.get_mut(&k))
            .ok_or_else(|| PayError::new(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"))?;
        match order.state {
            OrderState::Closed => {
                return Err(PayError::new(
                    StatusCode::BAD_REQUEST,
                    "ORDER_CLOSED",
                    "订单已关闭，不能支付",
                ))
            }
            OrderState::Success | OrderState::Refund => {
                return Err(PayError::new(
                    StatusCode::BAD_REQUEST,
                    "ORDERPAID",
                    "订单已支付",
                ))
            }
            OrderState::NotPay => {}
        }
        if order.expires_at <= now() {
            return Err(PayError::invalid(
                "订单已超过支付结束时间（time_expire），不能支付",
            ));
        }
        if requested_openid_known == Some(false) {
            return Err(bad_request(
                "unknown openid: create the payer first (POST /sim/payers)",
            ));
        }
        let openid = match (&request.openid, &order.openid) {
            (Some(given), Some(named)) if given != named => {
                return Err(PayError::new(
                    StatusCode::BAD_REQUEST,
                    "OPENID_MISMATCH",
                    "此JSAPI订单只能由下单时指定的用户（payer.openid）支付",
                ))
            }
            (Some(given), _) => given.clone(),
            (None, Some(named)) => named.clone(),
            (None, None) => {
                return Err(bad_request(
                    "openid is required to pay a Native or H5 order",
                ))
            }
        };
        let paid_at = success_time.unwrap_or_else(now);
        let transaction_id = format!(
            "4200{}{}{}",
            random_digits(6),
            &rfc3339(paid_at)[..10].replace('-', ""),
            random_digits(10)
        );
        order.openid = Some(openid);
        order.state = OrderState::Success;
        order.transaction_id = Some(transaction_id.clone());
        order.success_time = Some(paid_at);
        order.paid_at_ms = match success_time {
            Some(t) => t * 1000,
            None => now_ms(),
        };
        (order.clone(), transaction_id)
    };
    let variant = request.variant.unwrap_or(Variant::Normal);
    let deliveries = if request.no_callback {
        Vec::new()
    } else {
        send_transaction(sim, &order, variant, request.count.unwrap_or(1))?
    };
    Ok(json!({
        "out_trade_no": order.out_trade_no,
        "transaction_id": transaction_id,
        "deliveries": deliveries,
    }))
}

fn send_transaction(
    sim: &Shared,
    order: &super::state::Order,
    variant: Variant,
    count: usize,
) -> Result<Vec<u64>, PayError> {
    let other_sub = match (variant, &order.sub_mchid) {
        (Variant::WrongSubMchid, None) => {
            return Err(PayError::invalid(
                "wrong_sub_mchid is for partner orders (with a sub_mchid)",
            ))
        }
        (Variant::WrongSubMchid, Some(own)) => Some(
            sim.state()
                .sub_merchants
                .iter()
                .map(|s| s.sub_mchid.clone())
                .find(|s| s != own)
                .unwrap_or_else(|| format!("1{}", random_digits(9))),
        ),
        _ => None,
    };
    let prepared = notify::transaction_success(sim, order, variant, other_sub.as_deref())
        .map_err(PayError::system)?;
    let target = Target {
        url: order.notify_url.clone(),
        out_trade_no: order.out_trade_no.clone(),
        out_refund_no: None,
    };
    Ok(notify::send(sim, target, prepared, variant, count))
}

/// `POST /sim/notify` body.
#[derive(Debug, Deserialize)]
struct NotifyRequest {
    out_trade_no: String,
    variant: Option<Variant>,
    count: Option<usize>,
}

async fn trigger_notify(
    State(sim): State<Shared>,
    Json(request): Json<NotifyRequest>,
) -> ApiResult {
    let order = sim
        .state()
        .orders
        .get(&request.out_trade_no)
        .cloned()
        .ok_or_else(|| PayError::new(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"))?;
    if !order.state.is_paid() {
        return Err(PayError::invalid("订单未支付：先 POST /sim/pay"));
    }
    let deliveries = send_transaction(
        &sim,
        &order,
        request.variant.unwrap_or(Variant::Normal),
        request.count.unwrap_or(1),
    )?;
    Ok(Json(json!({ "deliveries": deliveries })))
}

#[derive(Debug, Deserialize)]
struct DeliveryFilter {
    out_trade_no: Option<String>,
}

async fn list_deliveries(
    State(sim): State<Shared>,
    Query(filter): Query<DeliveryFilter>,
) -> ApiResult {
    let state = sim.state();
    let deliveries: Vec<_> = state
        .deliveries
        .iter()
        .filter(|d| {
            filter
                .out_trade_no
                .as_ref()
                .is_none_or(|no| &d.out_trade_no == no)
        })
        .collect();
    to_json(deliveries)
}

async fn get_delivery(State(sim): State<Shared>, Path(id): Path<u64>) -> ApiResult {
    let state = sim.state();
    let delivery = state
        .deliveries
        .iter()
        .find(|d| d.id == id)
        .ok_or_else(|| PayError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such delivery"))?;
    to_json(delivery)
}

async fn list_refunds(State(sim): State<Shared>) -> ApiResult {
    let state = sim.state();
    let refunds: Vec<Value> = state
        .refunds
        .values()
        .map(|r| {
            json!({
                "out_refund_no": r.out_refund_no, "refund_id": r.refund_id,
                "out_trade_no": r.out_trade_no, "refund": r.refund, "total": r.total,
                "status": r.status, "created_at": rfc3339(r.created_at),
            })
        })
        .collect();
    Ok(Json(Value::Array(refunds)))
}

async fn push(State(sim): State<Shared>, Json(request): Json<PushRequest>) -> ApiResult {
    let id = mp::prepare_push(&sim, &request)?;
    if request.wait.unwrap_or(true) {
        mp::deliver_push(sim.clone(), id).await;
        let state = sim.state();
        return to_json(state.pushes.iter().find(|p| p.id == id));
    }
    tokio::spawn(mp::deliver_push(sim.clone(), id));
    Ok(Json(json!({ "id": id })))
}

async fn list_pushes(State(sim): State<Shared>) -> ApiResult {
    to_json(&sim.state().pushes)
}

async fn list_templates(State(sim): State<Shared>) -> ApiResult {
    to_json(&sim.state().template_messages)
}

async fn mp_stats(State(sim): State<Shared>) -> ApiResult {
    let state = sim.state();
    Ok(Json(json!({
        "token_requests": state.token_requests,
        "tokens_issued": state.tokens_issued,
        "jsapi_tickets_issued": state.jsapi_tickets.len(),
        "template_messages": state.template_messages.len(),
        "pushes": state.pushes.len(),
    })))
}

async fn expire_tokens(State(sim): State<Shared>) -> ApiResult {
    mp::expire_tokens(&sim);
    Ok(Json(json!({ "expired": true })))
}

#[derive(Debug, Default, Deserialize)]
struct VerifyRequest {
    mp_url: Option<String>,
}

async fn verify_mp_url(State(sim): State<Shared>, body: Option<Json<VerifyRequest>>) -> ApiResult {
    let request = body.map(|Json(b)| b).unwrap_or_default();
    mp::verify_url(&sim, request.mp_url).await.map(Json)
}

fn certificate_list(certs: &[PlatformCert]) -> Value {
    let now = now();
    let active = active_certificate(certs, now).map(|c| c.serial.clone());
    Value::Array(
        certs
            .iter()
            .map(|c| {
                json!({
                    "serial_no": c.serial,
                    "effective_time": rfc3339(c.effective_time),
                    "expire_time": rfc3339(c.expire_time),
                    "listed": now < c.expire_time,
                    "active": Some(&c.serial) == active.as_ref(),
                })
            })
            .collect(),
    )
}

async fn list_certificates(State(sim): State<Shared>) -> ApiResult {
    Ok(Json(certificate_list(&sim.state().certificates)))
}

/// `POST /sim/certificates/rotate` body.
#[derive(Debug, Default, Deserialize)]
struct RotateRequest {
    /// Seconds until responses switch to the new certificate (default 0: at once). The new one
    /// is listed by /v3/certificates immediately; the old one stays listed one more day.
    switch_after_secs: Option<i64>,
}

async fn rotate_certificate(
    State(sim): State<Shared>,
    body: Option<Json<RotateRequest>>,
) -> ApiResult {
    let request = body.map(|Json(b)| b).unwrap_or_default();
    let generated = tokio::task::spawn_blocking(crate::keys::new_platform_certificate)
        .await
        .map_err(PayError::system)?
        .map_err(PayError::system)?;
    let private_key_pem = generated.key.to_pkcs8_pem().map_err(PayError::system)?;
    let now = now();
    let effective_time = now + request.switch_after_secs.unwrap_or(0).max(0);
    let mut state = sim.state();
    for old in &mut state.certificates {
        old.expire_time = old.expire_time.min(effective_time + 86_400);
    }
    state.certificates.push(PlatformCert {
        serial: generated.serial,
        certificate_pem: generated.pem,
        private_key_pem,
        effective_time,
        expire_time: effective_time + 5 * 365 * 86_400,
    });
    Ok(Json(certificate_list(&state.certificates)))
}

async fn snapshot(State(sim): State<Shared>) -> ApiResult {
    match sim.save_snapshot().map_err(PayError::system)? {
        Some(path) => Ok(Json(json!({ "path": path.display().to_string() }))),
        None => Err(bad_request("no --snapshot file was given")),
    }
}
