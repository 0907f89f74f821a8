//! The sharing settings (`[vars]`), read per call (cheap) so a redeploy changes them:
//! `WECHATPAY_PLATFORM_FEE_BPS` and `WECHATPAY_SP_NAME` (platform model),
//! `WECHATPAY_MAX_SHARE_BPS` (own business), and `PAY_SHARE_DELAY_SECS` (tests only).

use shoukuan_core::profitshare::{wechat::MIN_SECS_AFTER_PAYMENT, Bps, DEFAULT_MAX_RATIO};
use shoukuan_core::routing::PayeeRouting;
use worker::Env;

use crate::config::setting;

fn bps(env: &Env, name: &str, default: Bps) -> Bps {
    match setting(env, name) {
        None => default,
        Some(value) => value
            .parse::<i64>()
            .ok()
            .and_then(Bps::new)
            .unwrap_or_else(|| {
                worker::console_error!("{name}={value:?} is not 0..=10000; using {default:?}");
                default
            }),
    }
}

/// The platform fee of an order made for `routing`: the configured rate in the platform
/// model (zero without `WECHATPAY_SP_NAME`, which the fee receiver needs), zero for a direct
/// merchant.
pub fn platform_fee(env: &Env, routing: &PayeeRouting) -> Bps {
    match routing {
        PayeeRouting::Direct { .. } => Bps::ZERO,
        PayeeRouting::Partner { .. } => {
            let fee = bps(env, "WECHATPAY_PLATFORM_FEE_BPS", Bps::ZERO);
            if fee > Bps::ZERO && sp_name(env).is_none() {
                worker::console_error!(
                    "WECHATPAY_PLATFORM_FEE_BPS is set but WECHATPAY_SP_NAME is not: no platform fee"
                );
                return Bps::ZERO;
            }
            fee
        }
    }
}

/// `WECHATPAY_SP_NAME`: the service provider's full legal name.
pub fn sp_name(env: &Env) -> Option<String> {
    setting(env, "WECHATPAY_SP_NAME")
}

/// `WECHATPAY_MAX_SHARE_BPS`: a direct merchant's maximum ratio (default 30 %).
pub fn own_max_ratio(env: &Env) -> Bps {
    bps(env, "WECHATPAY_MAX_SHARE_BPS", DEFAULT_MAX_RATIO)
}

/// Seconds after payment before an order is shared: WeChat's minute unless
/// `PAY_SHARE_DELAY_SECS` says otherwise (the end-to-end tests, whose simulator runs faster).
pub fn delay_secs(env: &Env) -> i64 {
    setting(env, "PAY_SHARE_DELAY_SECS")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .unwrap_or(MIN_SECS_AFTER_PAYMENT)
}
