//! WeChat Pay API v3 (`/v3/...`): every request's `Authorization` is verified (401 `SIGN_ERROR`
//! otherwise) and every answer is signed with the platform certificate or the WeChat Pay public
//! key, with `Request-ID` and `Wechatpay-Signature-Type`. This file holds the dispatcher, the
//! field helpers, direct query and close, and the certificate download; prepay (prepay.rs),
//! partner mode (partner.rs), H5 (h5.rs), refunds, profit sharing and bills have their own files.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use shoukuan_core::wechatpay::{aead_encrypt, Authorization};

use super::partner::{self, Lookup};
use super::prepay::{self, Product};
use super::state::{Order, OrderState};
use super::{
    bill, is_loopback_host, now, percent_decode, profitsharing, query_map, random_alnum,
    random_hex, refund, rfc3339, wechatpay_headers, PayError, Shared, Sim,
};

/// What a v3 handler answers.
pub enum Reply {
    /// A JSON body with a status.
    Json(StatusCode, Value),
    /// 204, empty body.
    NoContent,
    /// A bill file and its content type (not signed, as WeChat Pay's downloads are not).
    File(Vec<u8>, &'static str),
}

/// A v3 handler's result.
pub type PayResult = Result<Reply, PayError>;

/// 200 with a JSON body.
pub fn ok(body: Value) -> PayResult {
    Ok(Reply::Json(StatusCode::OK, body))
}

/// Everything under `/v3/`.
pub async fn handle(
    State(sim): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let canonical = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string());
    let result = match authorize(&sim, &method, &canonical, &headers, &body) {
        Ok(()) => {
            let host = headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1:8788")
                .to_string();
            let request = Request {
                method: &method,
                path: uri.path(),
                query: uri.query(),
                headers: &headers,
                body: &body,
                host: &host,
            };
            route(&sim, &request).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(Reply::Json(status, value)) => signed(&sim, status, value.to_string().into_bytes()),
        Ok(Reply::NoContent) => signed(&sim, StatusCode::NO_CONTENT, Vec::new()),
        Ok(Reply::File(bytes, content_type)) => {
            (StatusCode::OK, [(CONTENT_TYPE, content_type)], bytes).into_response()
        }
        Err(e) => signed(&sim, e.status, e.body().to_string().into_bytes()),
    }
}

/// One v3 request, as the handlers see it.
pub struct Request<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Path, still percent-encoded.
    pub path: &'a str,
    /// Query, still encoded.
    pub query: Option<&'a str>,
    /// Headers.
    pub headers: &'a HeaderMap,
    /// Raw body.
    pub body: &'a [u8],
    /// The Host the client used (download links point back at it).
    pub host: &'a str,
}

impl Request<'_> {
    /// The body as a JSON object (400 PARAM_ERROR otherwise).
    pub fn json(&self) -> Result<Value, PayError> {
        let value: Value = serde_json::from_slice(self.body).map_err(|e| {
            PayError::new(
                StatusCode::BAD_REQUEST,
                "PARAM_ERROR",
                format!("请求体不是合法的JSON：{e}"),
            )
        })?;
        if !value.is_object() {
            return Err(PayError::new(
                StatusCode::BAD_REQUEST,
                "PARAM_ERROR",
                "请求体应为JSON对象",
            ));
        }
        Ok(value)
    }

    /// A query parameter (400 PARAM_ERROR when absent).
    pub fn query_required(&self, name: &str) -> Result<String, PayError> {
        query_map(self.query)
            .remove(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| query_error(name, "此字段为必填项"))
    }

    /// An optional query parameter.
    pub fn query_optional(&self, name: &str) -> Option<String> {
        query_map(self.query).remove(name).filter(|v| !v.is_empty())
    }
}

/// 400 PARAM_ERROR about a query parameter.
pub fn query_error(name: &str, issue: &str) -> PayError {
    PayError {
        status: StatusCode::BAD_REQUEST,
        code: "PARAM_ERROR",
        message: format!("输入源“/query/{name}”映射到值字段校验失败：{issue}"),
        detail: Some(json!({ "field": name, "location": "query", "issue": issue })),
    }
}

fn sign_error(message: impl Into<String>) -> PayError {
    PayError::new(StatusCode::UNAUTHORIZED, "SIGN_ERROR", message)
}

/// Checks the merchant's `Authorization` against the request exactly as received.
fn authorize(
    sim: &Sim,
    method: &Method,
    canonical_url: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), PayError> {
    let header = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            sign_error("Http头缺少Authorization或格式错误，请参考《微信支付商户REST API签名规则》")
        })?;
    let auth = Authorization::parse(header)
        .map_err(|e| sign_error(format!("Http头Authorization值格式错误：{e}")))?;
    let config = &sim.keys.config;
    if auth.mchid != config.mchid {
        return Err(sign_error(format!(
            "Authorization中的商户号{}不存在或与证书不匹配",
            auth.mchid
        )));
    }
    if !auth.serial_no.eq_ignore_ascii_case(&config.merchant_serial) {
        return Err(sign_error(
            "商户证书序列号有误。请使用签名私钥匹配的证书序列号",
        ));
    }
    auth.verify(
        &sim.keys.merchant_key,
        method.as_str(),
        canonical_url,
        body,
        now(),
    )
    .map_err(|e| sign_error(format!("错误的签名，验签失败：{e}")))
}

/// A response signed as WeChat Pay signs its answers.
fn signed(sim: &Sim, status: StatusCode, body: Vec<u8>) -> Response {
    let headers = match sim.sign(&body, now()) {
        Ok(headers) => headers,
        Err(e) => {
            eprintln!("shoukuan sim: cannot sign a response: {e:#}");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot sign").into_response();
        }
    };
    let empty = body.is_empty();
    let mut response = (status, body).into_response();
    let out = response.headers_mut();
    if !empty {
        out.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    for (name, value) in wechatpay_headers(&headers) {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            out.insert(name, value);
        }
    }
    if let Ok(id) = HeaderValue::from_str(&format!(
        "{}-{}",
        random_hex(24).to_uppercase(),
        random_hex(4)
    )) {
        out.insert("Request-ID", id);
    }
    response
}

async fn route(sim: &Shared, request: &Request<'_>) -> PayResult {
    let segments: Vec<String> = request
        .path
        .trim_start_matches("/v3/")
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["pay", "transactions", "jsapi"]) => prepay::direct(sim, request, Product::Jsapi),
        ("POST", ["pay", "transactions", "native"]) => {
            prepay::direct(sim, request, Product::Native)
        }
        ("POST", ["pay", "transactions", "h5"]) => prepay::direct(sim, request, Product::H5),
        ("POST", ["pay", "partner", "transactions", "jsapi"]) => {
            partner::prepay(sim, request, Product::Jsapi)
        }
        ("POST", ["pay", "partner", "transactions", "native"]) => {
            partner::prepay(sim, request, Product::Native)
        }
        ("POST", ["pay", "partner", "transactions", "h5"]) => {
            partner::prepay(sim, request, Product::H5)
        }
        ("GET", ["pay", "partner", "transactions", "out-trade-no", no]) => {
            partner::query(sim, request, Lookup::OutTradeNo(no))
        }
        ("GET", ["pay", "partner", "transactions", "id", id]) => {
            partner::query(sim, request, Lookup::TransactionId(id))
        }
        ("POST", ["pay", "partner", "transactions", "out-trade-no", no, "close"]) => {
            partner::close(sim, request, no)
        }
        ("GET", ["pay", "transactions", "out-trade-no", no]) => {
            query_by_out_trade_no(sim, request, no)
        }
        ("GET", ["pay", "transactions", "id", id]) => query_by_transaction_id(sim, request, id),
        ("POST", ["pay", "transactions", "out-trade-no", no, "close"]) => close(sim, request, no),
        ("GET", ["certificates"]) => certificates(sim),
        ("POST", ["refund", "domestic", "refunds"]) => refund::create(sim, request),
        ("GET", ["refund", "domestic", "refunds", no]) => refund::query(sim, request, no),
        ("POST", ["profitsharing", "receivers", "add"]) => {
            profitsharing::add_receiver(sim, request)
        }
        ("POST", ["profitsharing", "receivers", "delete"]) => {
            profitsharing::delete_receiver(sim, request)
        }
        ("GET", ["profitsharing", "merchant-configs", sub_mchid]) => {
            profitsharing::merchant_config(sim, sub_mchid)
        }
        ("POST", ["profitsharing", "orders", "unfreeze"]) => profitsharing::unfreeze(sim, request),
        ("POST", ["profitsharing", "orders"]) => profitsharing::create_order(sim, request),
        ("GET", ["profitsharing", "orders", no]) => profitsharing::query_order(sim, request, no),
        ("GET", ["profitsharing", "transactions", id, "amounts"]) => {
            profitsharing::amounts(sim, id)
        }
        ("POST", ["profitsharing", "return-orders"]) => profitsharing::create_return(sim, request),
        ("GET", ["profitsharing", "return-orders", no]) => {
            profitsharing::query_return(sim, request, no)
        }
        ("GET", ["bill", "tradebill"]) => bill::trade_bill_apply(sim, request),
        ("GET", ["bill", "fundflowbill"]) => bill::fund_bill_apply(sim, request),
        ("GET", ["billdownload", "file"]) => bill::download(sim, request),
        _ => Err(PayError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!(
                "{} {} 不是本模拟器实现的微信支付APIv3接口",
                request.method, request.path
            ),
        )),
    }
}

/// A required string field at `path` of at most `max` characters.
pub fn required_str<'a>(body: &'a Value, path: &str, max: usize) -> Result<&'a str, PayError> {
    optional_str(body, path, max)?.ok_or_else(|| PayError::param(path, "此字段为必填项"))
}

/// An optional string field at `path` of at most `max` characters (empty counts as absent).
pub fn optional_str<'a>(
    body: &'a Value,
    path: &str,
    max: usize,
) -> Result<Option<&'a str>, PayError> {
    match body.pointer(path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let chars = s.chars().count();
            if chars > max {
                Err(PayError::param(
                    path,
                    format!("字符串长度 {chars}，大于最大值 {max}"),
                ))
            } else {
                Ok(Some(s))
            }
        }
        Some(_) => Err(PayError::param(path, "类型错误，应为字符串")),
    }
}

/// A required integer field at `path`.
pub fn required_int(body: &Value, path: &str) -> Result<i64, PayError> {
    match body.pointer(path) {
        None | Some(Value::Null) => Err(PayError::param(path, "此字段为必填项")),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| PayError::param(path, "类型错误，应为整数")),
    }
}

/// An optional boolean field at `path`.
pub fn optional_bool(body: &Value, path: &str) -> Result<Option<bool>, PayError> {
    match body.pointer(path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(PayError::param(path, "类型错误，应为布尔值")),
    }
}

/// `amount.currency`: only CNY.
pub fn check_currency(body: &Value, path: &str) -> Result<String, PayError> {
    match optional_str(body, path, 16)? {
        None => Ok("CNY".to_string()),
        Some("CNY") => Ok("CNY".to_string()),
        Some(other) => Err(PayError::param(
            path,
            format!("币种 {other} 不支持，仅支持CNY"),
        )),
    }
}

/// notify_url rules: absolute https URL (http only for loopback hosts here), no query string.
pub fn check_notify_url(path: &str, url: &str) -> Result<(), PayError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|_| PayError::param(path, "通知地址不是合法的URL"))?;
    let host = parsed.host_str().unwrap_or("");
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        "http" => {
            return Err(PayError::param(
                path,
                "公网域名必须为HTTPS（模拟器仅对本机地址接受HTTP）",
            ))
        }
        _ => return Err(PayError::param(path, "通知地址必须以https://开头")),
    }
    if parsed.query().is_some() {
        return Err(PayError::param(path, "通知地址不能携带参数"));
    }
    Ok(())
}

/// 400 APPID_MCHID_NOT_MATCH unless appid and mchid are this merchant's.
pub fn check_appid_mchid(sim: &Sim, appid: Option<&str>, mchid: &str) -> Result<(), PayError> {
    let config = &sim.keys.config;
    let appid_ok = appid.is_none_or(|a| a == config.appid);
    if !appid_ok || mchid != config.mchid {
        return Err(PayError::new(
            StatusCode::BAD_REQUEST,
            "APPID_MCHID_NOT_MATCH",
            "AppID和mch_id不匹配，请检查后再试",
        ));
    }
    Ok(())
}

/// The transaction object of a query or a TRANSACTION.SUCCESS callback: direct
/// (`appid`, `mchid`, `payer.openid`) or partner (`sp_appid`, `sp_mchid`, `sub_mchid`,
/// `payer.sp_openid`). Unpaid orders carry no trade_type, payer, attach or payer amounts.
pub fn transaction_json(order: &Order) -> Value {
    let paid = order.state.is_paid();
    let mut value = match &order.sub_mchid {
        Some(sub_mchid) => json!({
            "sp_appid": order.appid,
            "sp_mchid": order.mchid,
            "sub_mchid": sub_mchid,
        }),
        None => json!({ "appid": order.appid, "mchid": order.mchid }),
    };
    value["out_trade_no"] = json!(order.out_trade_no);
    value["trade_state"] = json!(trade_state(order.state));
    value["trade_state_desc"] = json!(order.state.description());
    let mut amount = json!({ "total": order.total, "currency": order.currency });
    if paid {
        value["transaction_id"] = json!(order.transaction_id);
        value["trade_type"] = json!(order.trade_type);
        value["bank_type"] = json!("OTHERS");
        if let Some(attach) = &order.attach {
            value["attach"] = json!(attach);
        }
        if let Some(t) = order.success_time {
            value["success_time"] = json!(rfc3339(t));
        }
        if let Some(openid) = &order.openid {
            value["payer"] = match order.sub_mchid {
                Some(_) => json!({ "sp_openid": openid }),
                None => json!({ "openid": openid }),
            };
        }
        amount["payer_total"] = json!(order.total);
        amount["payer_currency"] = json!(order.currency);
    }
    value["amount"] = amount;
    value
}

fn trade_state(state: OrderState) -> &'static str {
    match state {
        OrderState::NotPay => "NOTPAY",
        OrderState::Success => "SUCCESS",
        OrderState::Refund => "REFUND",
        OrderState::Closed => "CLOSED",
    }
}

/// 404 ORDER_NOT_EXIST.
pub fn order_not_exist() -> PayError {
    PayError::new(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在")
}

/// The query parameter `name` (`mchid`, `sp_mchid`) must be the signing merchant.
pub fn check_query_mchid(sim: &Sim, request: &Request<'_>, name: &str) -> Result<(), PayError> {
    let mchid = request.query_required(name)?;
    if mchid != sim.keys.config.mchid {
        return Err(PayError::new(
            StatusCode::BAD_REQUEST,
            "MCH_NOT_EXISTS",
            "商户号不存在或与签名中的商户号不一致",
        ));
    }
    Ok(())
}

fn query_by_out_trade_no(sim: &Sim, request: &Request<'_>, out_trade_no: &str) -> PayResult {
    check_query_mchid(sim, request, "mchid")?;
    let state = sim.state();
    let order = state
        .orders
        .get(out_trade_no)
        .filter(|o| o.sub_mchid.is_none())
        .ok_or_else(order_not_exist)?;
    ok(transaction_json(order))
}

fn query_by_transaction_id(sim: &Sim, request: &Request<'_>, transaction_id: &str) -> PayResult {
    check_query_mchid(sim, request, "mchid")?;
    let state = sim.state();
    let order = state
        .order_by_transaction(transaction_id)
        .filter(|o| o.sub_mchid.is_none())
        .ok_or_else(order_not_exist)?;
    ok(transaction_json(order))
}

fn close(sim: &Sim, request: &Request<'_>, out_trade_no: &str) -> PayResult {
    let body = request.json()?;
    let mchid = required_str(&body, "/mchid", 32)?;
    check_appid_mchid(sim, None, mchid)?;
    let mut state = sim.state();
    let order = state
        .orders
        .get_mut(out_trade_no)
        .filter(|o| o.sub_mchid.is_none())
        .ok_or_else(order_not_exist)?;
    close_order(order)
}

/// Closes an unpaid order (closing twice is fine); a paid one cannot be closed.
pub fn close_order(order: &mut Order) -> PayResult {
    match order.state {
        OrderState::NotPay | OrderState::Closed => {
            order.state = OrderState::Closed;
            Ok(Reply::NoContent)
        }
        OrderState::Success | OrderState::Refund => Err(PayError::invalid(
            "订单已支付，不能关闭，请当作已支付的正常交易",
        )),
    }
}

/// `GET /v3/certificates`: every listed platform certificate, encrypted with the APIv3 key.
fn certificates(sim: &Sim) -> PayResult {
    let now = now();
    let certs: Vec<_> = sim
        .state()
        .certificates
        .iter()
        .filter(|c| now < c.expire_time)
        .cloned()
        .collect();
    let mut data = Vec::new();
    for cert in certs {
        let nonce = random_alnum(12);
        let ciphertext = aead_encrypt(
            &sim.keys.apiv3_key,
            nonce.as_bytes(),
            b"certificate",
            cert.certificate_pem.as_bytes(),
        )
        .map_err(PayError::system)?;
        data.push(json!({
            "serial_no": cert.serial,
            "effective_time": rfc3339(cert.effective_time),
            "expire_time": rfc3339(cert.expire_time),
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": "certificate",
                "ciphertext": ciphertext,
            }
        }));
    }
    ok(json!({ "data": data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_urls_need_https_except_on_this_machine() {
        assert!(check_notify_url("/n", "https://example.com/notify").is_ok());
        assert!(check_notify_url("/n", "http://127.0.0.1:8787/notify").is_ok());
        assert!(check_notify_url("/n", "http://localhost/notify").is_ok());
        assert!(check_notify_url("/n", "http://example.com/notify").is_err());
        assert!(check_notify_url("/n", "https://example.com/notify?a=1").is_err());
        assert!(check_notify_url("/n", "ftp://example.com/").is_err());
        assert!(check_notify_url("/n", "/relative").is_err());
    }

    #[test]
    fn string_fields_are_checked_for_type_and_length() {
        let body = json!({ "a": "收收收", "n": 5, "e": "" });
        assert_eq!(required_str(&body, "/a", 3).unwrap(), "收收收");
        assert_eq!(
            required_str(&body, "/a", 2).unwrap_err().code,
            "PARAM_ERROR"
        );
        assert!(required_str(&body, "/n", 9).is_err());
        assert!(required_str(&body, "/e", 9).is_err());
        assert_eq!(optional_str(&body, "/missing", 9).unwrap(), None);
        assert_eq!(required_int(&body, "/n").unwrap(), 5);
        assert!(required_int(&body, "/a").is_err());
    }
}
