//! The merchant configuration, read once per isolate from secrets and `[vars]` into a typed
//! value: ids, the merchant private key, the APIv3 key, the WeChat Pay public key (public-key
//! mode) and the operational knobs. Keys are parsed once here, never per request, and never
//! printed (`PrivateKey`, `ApiV3Key` and `SecretString` redact their `Debug`).

use std::cell::RefCell;
use std::rc::Rc;

use shoukuan_core::order::DEFAULT_TTL_SECS;
use shoukuan_core::routing::{model_problem, DeploymentModel, PayeeRouting, MODEL_SETTING};
use shoukuan_core::wechatpay::{ApiV3Key, PrivateKey, PublicKey, PUBLIC_KEY_ID_PREFIX};
use worker::Env;

use crate::config::{secret_setting, setting};
use crate::error::ApiError;

/// Which RSA implementation verifies and signs (`WECHATPAY_RSA`): WebCrypto by default, the
/// faster inside workerd (see the measurement in the issue report and README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaBackend {
    /// `crypto.subtle` (BoringSSL inside workerd).
    WebCrypto,
    /// The pure-Rust `rsa` crate compiled to wasm.
    Rust,
}

impl RsaBackend {
    /// The config value.
    pub fn as_str(self) -> &'static str {
        match self {
            RsaBackend::WebCrypto => "webcrypto",
            RsaBackend::Rust => "rust",
        }
    }

    /// Parses a config value.
    pub fn parse(s: &str) -> Option<RsaBackend> {
        match s {
            "webcrypto" => Some(RsaBackend::WebCrypto),
            "rust" => Some(RsaBackend::Rust),
            _ => None,
        }
    }
}

/// Everything the payments code needs from configuration.
///
/// In both models `mchid` / `appid` are the *signing* merchant's: the direct merchant in
/// `own_business`, the service provider's `sp_mchid` / `sp_appid` in `platform`; the keys are
/// always that merchant's.
#[derive(Debug, Clone)]
pub struct PayConfig {
    /// `WECHATPAY_MCHID`: the merchant (own business) or the service provider (platform).
    pub mchid: String,
    /// `WECHATPAY_APPID`: the Official Account's AppID bound to `mchid` (`sp_appid` in
    /// platform mode); the payers' openids are under it.
    pub appid: String,
    /// `WECHATPAY_MODEL`, or why merchant mode is off (it names what to set). Orders already
    /// made keep their stored routing either way: callbacks, queries and refunds still work.
    pub model: Result<DeploymentModel, String>,
    /// `WECHATPAY_MERCHANT_NAME`: the seller named on payer pages (own business).
    pub merchant_name: Option<String>,
    /// `WECHATPAY_MCH_SERIAL`: serial of the merchant API certificate.
    pub mch_serial: String,
    /// `WECHATPAY_MCH_PRIVATE_KEY`, parsed.
    pub private_key: PrivateKey,
    /// The same key as PKCS#8 DER, for WebCrypto's `importKey`.
    pub private_key_der: Vec<u8>,
    /// `WECHATPAY_APIV3_KEY`.
    pub apiv3_key: ApiV3Key,
    /// `WECHATPAY_PUBLIC_KEY_ID` + `WECHATPAY_PUBLIC_KEY` (public-key mode), when configured.
    pub public_key: Option<(String, PublicKey)>,
    /// `WECHATPAY_BASE_URL`, without a trailing slash.
    pub base_url: String,
    /// `WECHATPAY_RSA`: `webcrypto` (default) or `rust`.
    pub rsa: RsaBackend,
    /// `PAY_ORDER_TTL_SECS`: how long an order stays payable (default 1800).
    pub order_ttl_secs: i64,
    /// `PAY_REQUERY_AFTER_SECS`: the cron queries orders pending longer than this (default 120).
    pub requery_after_secs: i64,
    /// `PAY_TEST_HOOKS=1`: the `/api/test/pay/*` switches for the end-to-end tests. Never set
    /// it in production.
    pub test_hooks: bool,
}

impl PayConfig {
    /// The routing of an own-business order (and of orders stored before the model existed).
    pub fn direct(&self) -> PayeeRouting {
        PayeeRouting::Direct {
            appid: self.appid.clone(),
            mchid: self.mchid.clone(),
        }
    }

    /// The model, or 503 `MODEL_NOT_CONFIGURED` whose message names what to configure.
    pub fn require_model(&self) -> Result<DeploymentModel, ApiError> {
        self.model
            .clone()
            .map_err(|why| ApiError::Pay(503, "MODEL_NOT_CONFIGURED", why))
    }

    /// Reads and parses everything; `Err` names what is missing or malformed (never a value).
    fn read(env: &Env) -> Result<PayConfig, String> {
        let required = |name: &str| setting(env, name).ok_or_else(|| format!("{name} is not set"));
        let mchid = required("WECHATPAY_MCHID")?;
        let appid = required("WECHATPAY_APPID")?;
        let mch_serial = required("WECHATPAY_MCH_SERIAL")?.to_ascii_uppercase();
        let pem = secret_setting(env, "WECHATPAY_MCH_PRIVATE_KEY")
            .ok_or("WECHATPAY_MCH_PRIVATE_KEY is not set")?;
        let private_key = PrivateKey::from_pem(&unescape_pem(pem.expose()))
            .map_err(|e| format!("WECHATPAY_MCH_PRIVATE_KEY: {e}"))?;
        let private_key_der = private_key
            .to_pkcs8_der()
            .map_err(|e| format!("WECHATPAY_MCH_PRIVATE_KEY: {e}"))?;
        let apiv3 =
            secret_setting(env, "WECHATPAY_APIV3_KEY").ok_or("WECHATPAY_APIV3_KEY is not set")?;
        let apiv3_key = ApiV3Key::new(apiv3.expose().as_bytes())
            .map_err(|e| format!("WECHATPAY_APIV3_KEY: {e}"))?;
        let public_key = match (
            setting(env, "WECHATPAY_PUBLIC_KEY_ID"),
            secret_setting(env, "WECHATPAY_PUBLIC_KEY"),
        ) {
            (Some(id), Some(pem)) => {
                if !id.starts_with(PUBLIC_KEY_ID_PREFIX) {
                    return Err(format!(
                        "WECHATPAY_PUBLIC_KEY_ID must start with {PUBLIC_KEY_ID_PREFIX}"
                    ));
                }
                let key = PublicKey::from_pem(&unescape_pem(pem.expose()))
                    .map_err(|e| format!("WECHATPAY_PUBLIC_KEY: {e}"))?;
                Some((id, key))
            }
            (None, None) => None,
            _ => {
                return Err(
                    "set both WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY, or neither".into(),
                )
            }
        };
        let rsa = match setting(env, "WECHATPAY_RSA") {
            None => RsaBackend::WebCrypto,
            Some(value) => RsaBackend::parse(&value)
                .ok_or_else(|| format!("WECHATPAY_RSA={value:?} is not webcrypto|rust"))?,
        };
        let number = |name: &str, default: i64| -> Result<i64, String> {
            match setting(env, name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| format!("{name}={v:?} is not a number of seconds")),
            }
        };
        let merchant_name = setting(env, "WECHATPAY_MERCHANT_NAME")
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        let model_value = setting(env, MODEL_SETTING);
        let model = match model_problem(model_value.as_deref()) {
            Some(why) => Err(why),
            None => match DeploymentModel::parse(model_value.as_deref().unwrap_or_default()) {
                Some(DeploymentModel::OwnBusiness) if merchant_name.is_none() => Err(
                    "未配置 WECHATPAY_MERCHANT_NAME：自营商户模式（own_business）须写明收款商户名称，付款页以它为卖方"
                        .to_string(),
                ),
                Some(model) => Ok(model),
                None => Err(format!("{MODEL_SETTING} is invalid")),
            },
        };
        if let Err(why) = &model {
            worker::console_log!("merchant mode is off: {why}");
        }
        Ok(PayConfig {
            mchid,
            appid,
            model,
            merchant_name,
            mch_serial,
            private_key,
            private_key_der,
            apiv3_key,
            public_key,
            base_url: setting(env, "WECHATPAY_BASE_URL")
                .unwrap_or_else(|| "https://api.mch.weixin.qq.com".into())
                .trim_end_matches('/')
                .to_string(),
            rsa,
            order_ttl_secs: number("PAY_ORDER_TTL_SECS", DEFAULT_TTL_SECS)?,
            requery_after_secs: number("PAY_REQUERY_AFTER_SECS", 120)?,
            test_hooks: setting(env, "PAY_TEST_HOOKS").as_deref() == Some("1"),
        })
    }

    /// The configuration, parsed once per isolate; `None` when WeChat Pay is not configured
    /// (the cause is logged once).
    pub fn get(env: &Env) -> Option<Rc<PayConfig>> {
        thread_local! {
            static CACHE: RefCell<Option<Option<Rc<PayConfig>>>> = const { RefCell::new(None) };
        }
        CACHE.with(|cache| {
            if let Some(cached) = cache.borrow().as_ref() {
                return cached.clone();
            }
            let value = match PayConfig::read(env) {
                Ok(config) => Some(Rc::new(config)),
                Err(cause) => {
                    worker::console_log!("WeChat Pay is not configured: {cause}");
                    None
                }
            };
            *cache.borrow_mut() = Some(value.clone());
            value
        })
    }

    /// Why merchant mode (publishing, new orders) is unavailable, or `None` when it works:
    /// the keys and a valid `WECHATPAY_MODEL` (+ its settings) are configured.
    pub fn merchant_unavailable(env: &Env) -> Option<String> {
        match PayConfig::get(env) {
            None => Some("本站未配置微信支付商户号，暂不能使用商户收款，请使用个人收款码".into()),
            Some(config) => config.model.as_ref().err().cloned(),
        }
    }

    /// [`PayConfig::get`] or 503 `PAY_NOT_CONFIGURED`.
    pub fn require(env: &Env) -> Result<Rc<PayConfig>, ApiError> {
        PayConfig::get(env).ok_or(ApiError::Pay(
            503,
            "PAY_NOT_CONFIGURED",
            "本站未配置微信支付商户号，暂不能在线支付".into(),
        ))
    }
}

/// A PEM pasted into a secret may carry its line breaks as literal `\n`.
fn unescape_pem(value: &str) -> String {
    if value.contains("\\n") && !value.contains('\n') {
        value.replace("\\n", "\n")
    } else {
        value.to_string()
    }
}
