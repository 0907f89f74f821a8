//! Small HTTP helpers: bounded JSON bodies, JSON and HTML answers, headers on every response;
//! and [`num`], the D1 bind value of an integer.

use serde::de::DeserializeOwned;
use serde::Serialize;
use shoukuan_core::csp;
use worker::wasm_bindgen::JsValue;
use worker::{Request, Response};

use crate::error::ApiError;

/// An integer as a D1 bind value (D1 takes JS numbers; every integer we store fits in 2^53).
pub fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// The largest request body the API reads.
pub const MAX_BODY: usize = 64 * 1024;

/// Whether the request declares (`content-length`) a body longer than `max` bytes: refused
/// before it is read. A request without the header is bounded where its body is read.
pub fn declares_more_than(req: &Request, max: usize) -> bool {
    req.headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|n| n > max)
}

/// Reads a JSON body of at most [`MAX_BODY`] bytes.
pub async fn read_json<T: DeserializeOwned>(req: &mut Request) -> Result<T, ApiError> {
    if declares_more_than(req, MAX_BODY) {
        return Err(ApiError::TooLarge);
    }
    let content_type = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = req
        .bytes()
        .await
        .map_err(|e| ApiError::BadJson(e.to_string()))?;
    if body.len() > MAX_BODY {
        return Err(ApiError::TooLarge);
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::BadJson(e.to_string()))
}

/// A JSON answer.
pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Response, ApiError> {
    Ok(Response::from_json(value)?.with_status(status))
}

/// An HTML page that WeChat's browser must not cache (it caches HTML aggressively), with the
/// Content-Security-Policy for exactly the inline scripts it contains (`core::csp`).
pub fn html(status: u16, body: String) -> Result<Response, ApiError> {
    let policy = csp::page_policy(&body);
    let mut resp = Response::from_html(body)?.with_status(status);
    resp.headers_mut()
        .set("cache-control", "no-cache, no-store, must-revalidate")?;
    resp.headers_mut().set("content-security-policy", &policy)?;
    Ok(resp)
}

/// Headers every answer of the worker carries (static assets get the same from
/// `public/_headers`); answers that are not pages get a policy under which nothing runs.
pub fn with_security_headers(mut resp: Response) -> worker::Result<Response> {
    let headers = resp.headers_mut();
    for (name, value) in csp::COMMON_HEADERS {
        headers.set(name, value)?;
    }
    if !headers.has("content-security-policy")? {
        headers.set("content-security-policy", csp::NON_PAGE_POLICY)?;
    }
    if !headers.has("cache-control")? {
        headers.set("cache-control", "no-store")?;
    }
    Ok(resp)
}

/// Runs `fut` for at most `limit`: `None` when time is up. Outbound calls to WeChat use it so
/// a slow upstream never holds a request (or a callback answer) past WeChat's own deadlines.
pub async fn within<T>(
    limit: std::time::Duration,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    use std::future::Future as _;
    use std::task::Poll;
    let mut fut = std::pin::pin!(fut);
    let mut delay = std::pin::pin!(worker::Delay::from(limit));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(result));
        }
        if delay.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}
