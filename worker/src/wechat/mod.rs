//! The one client of the Official Account API. Base URLs come from config
//! (`WECHAT_API_BASE_URL`, `WECHAT_OPEN_BASE_URL`), so local runs talk to `shoukuan sim`.
//! Calls that need the global access_token go through [`OaClient::call`], which takes the
//! token from the central cache ([`token`]) and, on an invalid-token answer, refreshes once
//! and retries.

pub mod token;

use std::future::Future;
use std::time::Duration;

use shoukuan_core::mp::EncodingAesKey;
use shoukuan_core::oa_api::{self, ApiFailure};
use shoukuan_core::urlenc::build_query;
use worker::{AbortController, Env, Fetch, Headers, Method, Request, RequestInit};

use crate::config::{secret_setting, setting, SecretString};
use crate::error::ApiError;

/// How long one call to WeChat may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The Official Account settings.
#[derive(Debug, Clone)]
pub struct OaConfig {
    /// `WECHAT_APPID`.
    pub appid: String,
    secret: SecretString,
    /// `WECHAT_TOKEN`: signs pushes.
    pub token: SecretString,
    /// `WECHAT_AES_KEY` (safe mode), when set and valid.
    pub aes_key: Option<EncodingAesKey>,
    /// `WECHAT_API_BASE_URL` (api.weixin.qq.com).
    pub api_base: String,
    /// `WECHAT_OPEN_BASE_URL` (open.weixin.qq.com, OAuth authorize).
    pub open_base: String,
}

impl OaConfig {
    /// `None` unless `WECHAT_APPID`, `WECHAT_APPSECRET` and `WECHAT_TOKEN` are all set.
    pub fn from_env(env: &Env) -> Option<OaConfig> {
        let appid = setting(env, "WECHAT_APPID")?;
        let secret = secret_setting(env, "WECHAT_APPSECRET")?;
        let token = secret_setting(env, "WECHAT_TOKEN")?;
        let aes_key =
            secret_setting(env, "WECHAT_AES_KEY").and_then(|k| {
                match EncodingAesKey::parse(k.expose()) {
                    Ok(key) => Some(key),
                    Err(e) => {
                        worker::console_error!(
                            "WECHAT_AES_KEY: {e}; safe-mode pushes will be refused"
                        );
                        None
                    }
                }
            });
        let base = |name: &str, default: &str| {
            setting(env, name)
                .unwrap_or_else(|| default.to_string())
                .trim_end_matches('/')
                .to_string()
        };
        Some(OaConfig {
            appid,
            secret,
            token,
            aes_key,
            api_base: base("WECHAT_API_BASE_URL", "https://api.weixin.qq.com"),
            open_base: base("WECHAT_OPEN_BASE_URL", "https://open.weixin.qq.com"),
        })
    }

    /// [`OaConfig::from_env`] or 503 `OA_NOT_CONFIGURED`.
    pub fn require(env: &Env) -> Result<OaConfig, ApiError> {
        OaConfig::from_env(env).ok_or(ApiError::OaNotConfigured)
    }
}

async fn with_timeout<T>(
    fut: impl Future<Output = worker::Result<T>>,
) -> Result<Option<T>, ApiError> {
    crate::http::within(TIMEOUT, fut)
        .await
        .transpose()
        .map_err(|e| ApiError::Upstream(e.to_string()))
}

/// One HTTP exchange with WeChat; the answer's body as text (WeChat answers errors with 200).
async fn send(
    method: Method,
    url: &str,
    json_body: Option<&serde_json::Value>,
) -> Result<String, ApiError> {
    let mut init = RequestInit::new();
    init.with_method(method);
    if let Some(body) = json_body {
        let headers = Headers::new();
        headers.set("content-type", "application/json")?;
        init.with_headers(headers);
        // serde_json writes UTF-8 as is: WeChat shows \u escapes of Chinese menu names literally.
        init.with_body(Some(
            serde_json::to_string(body)
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .into(),
        ));
    }
    let request = Request::new_with_init(url, &init)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let timed_out = || {
        ApiError::Upstream(format!(
            "no answer from {} in {} s",
            redact(url),
            TIMEOUT.as_secs()
        ))
    };
    let Some(mut response) = with_timeout(fetch.send_with_signal(&signal)).await? else {
        controller.abort();
        return Err(timed_out());
    };
    let status = response.status_code();
    let Some(text) = with_timeout(response.text()).await? else {
        controller.abort();
        return Err(timed_out());
    };
    if !(200..300).contains(&status) {
        return Err(ApiError::Upstream(format!(
            "HTTP {status} from {}",
            redact(url)
        )));
    }
    Ok(text)
}

/// The URL without its query (which may hold the secret or a token), for logs.
fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The Official Account API, bound to one request's environment.
pub struct OaClient<'a> {
    /// Settings.
    pub config: OaConfig,
    env: &'a Env,
}

impl<'a> OaClient<'a> {
    /// A client, or 503 when the Official Account is not configured.
    pub fn new(env: &'a Env) -> Result<OaClient<'a>, ApiError> {
        Ok(OaClient {
            config: OaConfig::require(env)?,
            env,
        })
    }

    /// `POST /cgi-bin/stable_token`: a global access_token (`force` only after WeChat refused the
    /// cached one).
    pub async fn fetch_access_token(&self, force: bool) -> Result<oa_api::AccessToken, ApiError> {
        let url = format!("{}/cgi-bin/stable_token", self.config.api_base);
        let body = serde_json::json!({
            "grant_type": "client_credential",
            "appid": self.config.appid,
            "secret": self.config.secret.expose(),
            "force_refresh": force,
        });
        let text = send(Method::Post, &url, Some(&body)).await?;
        oa_api::read(&text).map_err(|e| upstream("stable_token", e))
    }

    /// `GET /sns/oauth2/access_token`: exchanges an OAuth code (answer read by the caller).
    pub async fn exchange_code(&self, code: &str) -> Result<String, ApiError> {
        let query = build_query(&[
            ("appid", &self.config.appid),
            ("secret", self.config.secret.expose()),
            ("code", code),
            ("grant_type", "authorization_code"),
        ]);
        send(
            Method::Get,
            &format!("{}/sns/oauth2/access_token?{query}", self.config.api_base),
            None,
        )
        .await
    }

    /// Calls `path` (`/cgi-bin/…`, with `query` pairs) with the cached access_token; on an
    /// invalid-token answer invalidates it, refreshes once and retries once.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<String, ApiError> {
        let mut retried = false;
        loop {
            let token = token::get(self.env, self, token::Credential::AccessToken).await?;
            let mut pairs = vec![("access_token", token.as_str())];
            pairs.extend_from_slice(query);
            let url = format!("{}{path}?{}", self.config.api_base, build_query(&pairs));
            let text = send(method.clone(), &url, body).await?;
            match oa_api::read::<serde_json::Value>(&text) {
                Err(failure) if failure.is_invalid_token() && !retried => {
                    worker::console_log!(
                        "{path}: errcode {}; refreshing the access_token once",
                        failure.errcode
                    );
                    token::invalidate(self.env, token::Credential::AccessToken, &token).await?;
                    retried = true;
                }
                _ => return Ok(text),
            }
        }
    }

    /// `GET /cgi-bin/ticket/getticket?type=jsapi`.
    pub async fn fetch_jsapi_ticket(&self) -> Result<oa_api::JsapiTicket, ApiError> {
        let text = self
            .call(
                Method::Get,
                "/cgi-bin/ticket/getticket",
                &[("type", "jsapi")],
                None,
            )
            .await?;
        oa_api::read(&text).map_err(|e| upstream("getticket", e))
    }

    /// `POST /cgi-bin/qrcode/create` for a string scene.
    pub async fn create_qrcode(
        &self,
        scene: &str,
        expire_seconds: Option<i64>,
    ) -> Result<oa_api::QrCode, ApiError> {
        let body = oa_api::qrcode_request(scene, expire_seconds);
        let text = self
            .call(Method::Post, "/cgi-bin/qrcode/create", &[], Some(&body))
            .await?;
        oa_api::read(&text).map_err(|e| upstream("qrcode/create", e))
    }

    /// `POST /cgi-bin/menu/create`. The inner error is WeChat refusing the menu (shown to the
    /// person who published it); the outer one a failed call.
    pub async fn create_menu(
        &self,
        menu: &serde_json::Value,
    ) -> Result<Result<(), ApiFailure>, ApiError> {
        let text = self
            .call(Method::Post, "/cgi-bin/menu/create", &[], Some(menu))
            .await?;
        Ok(oa_api::read_ok(&text))
    }
}

fn upstream(what: &str, e: ApiFailure) -> ApiError {
    if e.errcode == oa_api::IP_NOT_IN_ALLOW_LIST {
        // A Cloudflare Worker has no fixed egress address: WeChat wants the caller's IP on the
        // account's allow-list. The supported set-up is a fixed-address relay (README).
        worker::console_error!(
            "{what}: {e} — the worker's egress IP is not on the Official Account's IP allow-list; \
             point WECHAT_API_BASE_URL at a fixed-address relay that forwards WeChat's API paths \
             and put the relay's address on the allow-list (README: Official Account API from an edge worker)"
        );
        return ApiError::Unavailable(
            "WECHAT_IP_NOT_ALLOWED",
            "微信拒绝了本站服务器的 IP（40164：不在公众号 IP 白名单中）。Cloudflare Worker 没有固定出口 IP，\
             请运营方配置固定地址的中转服务（WECHAT_API_BASE_URL）并把它的 IP 加入白名单",
        );
    }
    ApiError::Upstream(format!("{what}: {e}"))
}

/// `n` random characters of `[A-Za-z0-9]` (nonces, lease owners).
pub fn random_alnum(n: usize) -> Result<String, ApiError> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut buf = [0u8; 32];
        getrandom::getrandom(&mut buf)
            .map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
        // 248 = 4 × 62: rejection keeps every character equally likely.
        for b in buf.into_iter().filter(|&b| b < 248) {
            if out.len() < n {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}
