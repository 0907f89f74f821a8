//! `GET /api/jssdk/config?url=…`: the signed part of `wx.config` for a page of this site. The
//! jsapi_ticket comes from the central cache; the URL is signed without its `#fragment`
//! (the app passes its landing URL on iOS, its current URL on Android).

use shoukuan_core::collection::FieldError;
use shoukuan_core::jssdk::{signed_url, WxConfig};
use shoukuan_core::urlenc::{http_host, query_value};
use worker::{Env, Request, Response};

use super::query;
use crate::error::ApiError;
use crate::http;
use crate::session::{now_secs, public_origin};
use crate::wechat::token::{self, Credential};
use crate::wechat::{random_alnum, OaClient};

/// The JS-SDK APIs the app uses (share cards).
const JS_API_LIST: [&str; 2] = ["updateAppMessageShareData", "updateTimelineShareData"];
const MAX_URL_LEN: usize = 1024;

fn bad_url() -> ApiError {
    ApiError::Invalid(vec![FieldError {
        field: "url".into(),
        code: "INVALID_URL".into(),
        message: "url 需要是本站页面的完整地址（http(s)://…）".into(),
    }])
}

/// `GET /api/jssdk/config?url=…`
pub async fn config(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let client = OaClient::new(env)?;
    let url = query_value(&query(req)?, "url").ok_or_else(bad_url)?;
    let url = signed_url(url.trim());
    // Only this site's pages are signed: the signature is worthless elsewhere, but a signing
    // oracle for any URL is not something to offer.
    let ours = http_host(&public_origin(req, env)?);
    if url.len() > MAX_URL_LEN || http_host(url).is_none() || http_host(url) != ours {
        return Err(bad_url());
    }
    let ticket = token::get(env, &client, Credential::JsapiTicket).await?;
    let config = WxConfig::new(
        &client.config.appid,
        &ticket,
        &random_alnum(16)?,
        now_secs(),
        url,
    );
    let mut body = serde_json::to_value(&config).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["jsApiList"] = serde_json::json!(JS_API_LIST);
    http::json(200, &body)
}
