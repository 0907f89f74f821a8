//! The one client of WeChat Pay API v3 (base URL from `WECHATPAY_BASE_URL`, so local runs
//! talk to `shoukuan sim`). Every request carries a signed `Authorization`; every answer is
//! verified ([`super::certs::verify`]) before anything in it is believed — an order is only
//! ever marked paid from a verified answer or callback.

use std::future::Future;
use std::time::Duration;

use serde::Deserialize;
use shoukuan_core::order::PayMethod;
use shoukuan_core::routing::PayeeRouting;
use shoukuan_core::wechatpay::{
    request_message, Authorization, RefundStatus, SignedHeaders, Transaction, HEADER_SERIAL,
};
use worker::{AbortController, Env, Fetch, Headers, Method, Request, RequestInit};

use super::certs::{self, VerifyFailure};
use super::config::PayConfig;
use super::crypto;
use crate::error::ApiError;
use crate::session::now_secs;

/// How long one call to WeChat Pay may take.
const TIMEOUT: Duration = Duration::from_secs(6);

/// Why a call did not give a usable, verified answer.
#[derive(Debug)]
pub enum CallError {
    /// No (timely) answer: what happened at WeChat Pay is unknown.
    Transport(String),
    /// The answer's signature did not verify: nothing in it is believed.
    Unverified(String),
    /// WeChat Pay refused (a verified error answer).
    Refused {
        /// HTTP status.
        status: u16,
        /// WeChat Pay's code, e.g. `ORDER_NOT_EXIST`, `NOT_ENOUGH`.
        code: String,
        /// Its message.
        message: String,
    },
    /// A verified success whose body is not what the API promises.
    Malformed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(cause) => write!(f, "no answer: {cause}"),
            CallError::Unverified(cause) => write!(f, "unverified answer: {cause}"),
            CallError::Refused {
                status,
                code,
                message,
            } => write!(f, "refused: {status} {code} {message}"),
            CallError::Malformed(cause) => write!(f, "malformed answer: {cause}"),
        }
    }
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        ApiError::Upstream(format!("wechat pay: {e}"))
    }
}

/// An answer as received.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Header pairs.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The `Wechatpay-*` headers (missing ones make verification fail).
    pub fn signed_headers(&self) -> Result<SignedHeaders, shoukuan_core::wechatpay::VerifyError> {
        SignedHeaders::from_pairs(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

async fn with_timeout<T>(
    fut: impl Future<Output = worker::Result<T>>,
) -> Result<Option<T>, CallError> {
    crate::http::within(TIMEOUT, fut)
        .await
        .transpose()
        .map_err(|e| CallError::Transport(e.to_string()))
}

/// One signed exchange, unverified (the certificate download verifies with the keys it
/// downloads; everything else goes through [`call`]).
pub async fn exchange(
    config: &PayConfig,
    method: Method,
    path_and_query: &str,
    body: Option<&[u8]>,
) -> Result<Answer, CallError> {
    exchange_naming(config, method, path_and_query, body, None).await
}

/// [`exchange`] whose `Wechatpay-Serial` names `serial` (the key a sensitive field was
/// encrypted with) instead of the configured public key.
async fn exchange_naming(
    config: &PayConfig,
    method: Method,
    path_and_query: &str,
    body: Option<&[u8]>,
    serial: Option<&str>,
) -> Result<Answer, CallError> {
    let timestamp = now_secs();
    let nonce =
        crate::wechat::random_alnum(32).map_err(|e| CallError::Transport(format!("{e:?}")))?;
    let body_bytes = body.unwrap_or_default();
    let message = request_message(
        method.as_ref(),
        path_and_query,
        timestamp,
        &nonce,
        body_bytes,
    );
    let signature = crypto::sign_base64(config, &message)
        .await
        .map_err(|e| CallError::Transport(format!("signing: {e}")))?;
    let authorization = Authorization {
        mchid: config.mchid.clone(),
        nonce_str: nonce,
        timestamp,
        serial_no: config.mch_serial.clone(),
        signature,
    };
    let transport = |e: worker::Error| CallError::Transport(e.to_string());
    let headers = Headers::new();
    headers
        .set("authorization", &authorization.header_value())
        .map_err(transport)?;
    headers
        .set("accept", "application/json")
        .map_err(transport)?;
    headers
        .set("user-agent", "shoukuan/0.1 (workers-rs)")
        .map_err(transport)?;
    // Public-key mode: answers are then signed with the WeChat Pay public key.
    if let Some(id) = serial.or(config.public_key.as_ref().map(|(id, _)| id.as_str())) {
        headers.set(HEADER_SERIAL, id).map_err(transport)?;
    }
    let mut init = RequestInit::new();
    init.with_method(method);
    if let Some(body) = body {
        headers
            .set("content-type", "application/json")
            .map_err(transport)?;
        init.with_body(Some(worker::js_sys::Uint8Array::from(body).into()));
    }
    init.with_headers(headers);
    let url = format!("{}{path_and_query}", config.base_url);
    let request = Request::new_with_init(&url, &init).map_err(transport)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let Some(mut response) =
        with_timeout(Fetch::Request(request).send_with_signal(&signal)).await?
    else {
        controller.abort();
        return Err(CallError::Transport(format!(
            "no answer in {} s",
            TIMEOUT.as_secs()
        )));
    };
    let Some(body) = with_timeout(response.bytes()).await? else {
        controller.abort();
        return Err(CallError::Transport(format!(
            "body not received in {} s",
            TIMEOUT.as_secs()
        )));
    };
    Ok(Answer {
        status: response.status_code(),
        headers: response.headers().entries().collect(),
        body,
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A signed exchange whose answer is verified; non-2xx answers become [`CallError::Refused`].
pub async fn call(
    env: &Env,
    config: &PayConfig,
    method: Method,
    path_and_query: &str,
    body: Option<&[u8]>,
) -> Result<Answer, CallError> {
    call_with_serial(env, config, method, path_and_query, body, None).await
}

/// [`call`] with `Wechatpay-Serial` naming the key an encrypted field was encrypted with
/// (profit-sharing receivers' `name`; `None`: as [`call`]).
pub async fn call_with_serial(
    env: &Env,
    config: &PayConfig,
    method: Method,
    path_and_query: &str,
    body: Option<&[u8]>,
    serial: Option<&str>,
) -> Result<Answer, CallError> {
    let answer = exchange_naming(config, method, path_and_query, body, serial).await?;
    let headers = answer
        .signed_headers()
        .map_err(|e| CallError::Unverified(e.to_string()))?;
    match certs::verify(env, config, &headers, &answer.body).await {
        Ok(_) => {}
        Err(VerifyFailure::Rejected(e)) => return Err(CallError::Unverified(e.to_string())),
        Err(VerifyFailure::Unavailable(cause)) => return Err(CallError::Transport(cause)),
    }
    if (200..300).contains(&answer.status) {
        return Ok(answer);
    }
    let error: ErrorBody = serde_json::from_slice(&answer.body).unwrap_or(ErrorBody {
        code: String::new(),
        message: String::new(),
    });
    Err(CallError::Refused {
        status: answer.status,
        code: error.code,
        message: error.message,
    })
}

fn json<T: for<'de> Deserialize<'de>>(answer: &Answer) -> Result<T, CallError> {
    serde_json::from_slice(&answer.body).map_err(|e| CallError::Malformed(e.to_string()))
}

/// What a prepay gave.
#[derive(Debug, Clone)]
pub enum Prepaid {
    /// JSAPI: the prepay_id to sign for `getBrandWCPayRequest`.
    Jsapi(String),
    /// Native: the `code_url` to show as a QR.
    Native(String),
    /// H5: WeChat Pay's middle page (valid 5 minutes).
    H5(String),
}

/// `POST /v3/pay/transactions/{jsapi|native|h5}` or its `/partner/` twin; `body` is complete
/// (`PayeeRouting::prepay_body`).
pub async fn prepay(
    env: &Env,
    config: &PayConfig,
    routing: &PayeeRouting,
    method: PayMethod,
    body: &serde_json::Value,
) -> Result<Prepaid, CallError> {
    let bytes = serde_json::to_vec(body).map_err(|e| CallError::Malformed(e.to_string()))?;
    let path = routing.prepay_path(method);
    let answer = call(env, config, Method::Post, path, Some(&bytes)).await?;
    #[derive(Deserialize)]
    struct Prepay {
        prepay_id: Option<String>,
        code_url: Option<String>,
        h5_url: Option<String>,
    }
    let prepay: Prepay = json(&answer)?;
    let found = match method {
        PayMethod::Jsapi => prepay.prepay_id.map(Prepaid::Jsapi),
        PayMethod::Native => prepay.code_url.map(Prepaid::Native),
        PayMethod::H5 => prepay.h5_url.map(Prepaid::H5),
    };
    match found {
        Some(Prepaid::Jsapi(v) | Prepaid::Native(v) | Prepaid::H5(v)) if v.is_empty() => {
            Err(CallError::Malformed(
                "prepay answer with an empty prepay_id / code_url / h5_url".into(),
            ))
        }
        Some(prepaid) => Ok(prepaid),
        None => Err(CallError::Malformed(
            "prepay answer without prepay_id / code_url / h5_url".into(),
        )),
    }
}

/// The order query by number (direct: `?mchid=`; partner: `?sp_mchid=&sub_mchid=`); `None`
/// when WeChat Pay has no such order (`ORDER_NOT_EXIST`: the prepay never reached it).
pub async fn query_order(
    env: &Env,
    config: &PayConfig,
    routing: &PayeeRouting,
    out_trade_no: &str,
) -> Result<Option<Transaction>, CallError> {
    let path = routing.query_path(out_trade_no);
    match call(env, config, Method::Get, &path, None).await {
        Ok(answer) => json(&answer).map(Some),
        Err(CallError::Refused { code, .. }) if code == "ORDER_NOT_EXIST" => Ok(None),
        Err(e) => Err(e),
    }
}

/// The close call (204), with the routing's ids.
pub async fn close_order(
    env: &Env,
    config: &PayConfig,
    routing: &PayeeRouting,
    out_trade_no: &str,
) -> Result<(), CallError> {
    let path = routing.close_path(out_trade_no);
    let body = serde_json::to_vec(&routing.close_body())
        .map_err(|e| CallError::Malformed(e.to_string()))?;
    call(env, config, Method::Post, &path, Some(&body))
        .await
        .map(|_| ())
}

/// The refund object of the refund API.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundAnswer {
    /// WeChat Pay's refund number.
    #[serde(default)]
    pub refund_id: String,
    /// `SUCCESS`, `CLOSED`, `PROCESSING`, `ABNORMAL`.
    pub status: RefundStatus,
}

/// `POST /v3/refund/domestic/refunds`, with `sub_mchid` added for a partner order.
pub async fn create_refund(
    env: &Env,
    config: &PayConfig,
    routing: &PayeeRouting,
    body: &serde_json::Value,
) -> Result<RefundAnswer, CallError> {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.extend(routing.request_ids());
    }
    let bytes = serde_json::to_vec(&body).map_err(|e| CallError::Malformed(e.to_string()))?;
    let answer = call(
        env,
        config,
        Method::Post,
        "/v3/refund/domestic/refunds",
        Some(&bytes),
    )
    .await?;
    json(&answer)
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}[?sub_mchid=]`; `None` when WeChat Pay has
/// no such refund.
pub async fn query_refund(
    env: &Env,
    config: &PayConfig,
    routing: &PayeeRouting,
    out_refund_no: &str,
) -> Result<Option<RefundAnswer>, CallError> {
    let path = routing.refund_query_path(out_refund_no);
    match call(env, config, Method::Get, &path, None).await {
        Ok(answer) => json(&answer).map(Some),
        Err(CallError::Refused { code, .. }) if code == "RESOURCE_NOT_EXISTS" => Ok(None),
        Err(e) => Err(e),
    }
}
