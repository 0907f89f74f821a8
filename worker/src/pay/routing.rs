//! Which merchant an order is made for and checked against (`core::routing::PayeeRouting`):
//! fixed from the configuration and the payee's binding when the order is created, read back
//! from the order's own columns ever after.

use shoukuan_core::routing::{DeploymentModel, PayeeRouting};
use worker::Env;

use super::apply::OrderRow;
use super::config::PayConfig;
use super::merchants;
use crate::error::ApiError;

/// The routing an order was made with. Orders stored before the model existed (no `mchid`)
/// were all direct orders of the configured merchant.
pub fn for_order(order: &OrderRow, config: &PayConfig) -> PayeeRouting {
    let mchid = order.mchid.clone().unwrap_or_else(|| config.mchid.clone());
    let appid = order.appid.clone().unwrap_or_else(|| config.appid.clone());
    match order.sub_mchid.clone() {
        Some(sub_mchid) => PayeeRouting::Partner {
            sp_appid: appid,
            sp_mchid: mchid,
            sub_mchid,
        },
        None => PayeeRouting::Direct { appid, mchid },
    }
}

/// The routing of a new order (or a merchant-mode publication) for `payee`: the configured
/// merchant in own-business mode; the payee's bound sub-merchant in platform mode, or 409
/// `NO_SUB_MCHID` when the operator has not bound one. Refuses with the configuration's
/// message when the model is unset or invalid.
pub async fn for_payee(
    env: &Env,
    config: &PayConfig,
    openid: &str,
) -> Result<PayeeRouting, ApiError> {
    match config.require_model()? {
        DeploymentModel::OwnBusiness => Ok(config.direct()),
        DeploymentModel::Platform => {
            let sub_mchid = merchants::find(env, openid)
                .await?
                .and_then(|m| m.sub_mchid)
                .ok_or_else(no_sub_mchid)?;
            Ok(PayeeRouting::Partner {
                sp_appid: config.appid.clone(),
                sp_mchid: config.mchid.clone(),
                sub_mchid,
            })
        }
    }
}

/// 409 `NO_SUB_MCHID`: the payee has no sub-merchant of its own yet.
pub fn no_sub_mchid() -> ApiError {
    ApiError::Pay(
        409,
        "NO_SUB_MCHID",
        "你还没有绑定自己的微信支付特约商户号，暂不能使用商户收款（微信支付）。请联系运营方完成进件并绑定；个人收款码模式随时可用。"
            .into(),
    )
}
