//! Profit sharing (分账) within WeChat's limits. The arithmetic is `core::profitshare`'s;
//! this folder moves it between the payee, D1 and WeChat Pay:
//!
//! - [`rules`]: a collection's share rule (`GET/PUT /api/dash/collections/:id/shares`),
//!   refused at save time when it could exceed the merchant's maximum ratio ([`ratio`]).
//! - [`will_share`]: orders are created with `settle_info.profit_sharing = true` only when
//!   they will share something; all others are never frozen.
//! - [`job`] (minute cron): ≥ 60 s after payment, [`plan`] the amounts, add the
//!   [`receivers`], share with `unfreeze_unsplit = true` (or unfreeze), poll until final.
//! - [`returns`]: before a refund, return shares from merchant receivers where needed.
//! - [`view`]: per order, who got what and when, or why not (`GET /api/dash/shares`).
//!
//! Settings ([`settings`]): `WECHATPAY_PLATFORM_FEE_BPS`, `WECHATPAY_SP_NAME` (platform),
//! `WECHATPAY_MAX_SHARE_BPS` (own business).

mod job;
mod plan;
mod ratio;
mod receivers;
mod returns;
pub(crate) mod rules;
mod settings;
mod view;

use shoukuan_core::money::Fen;
use shoukuan_core::profitshare::Bps;
use shoukuan_core::routing::PayeeRouting;
use worker::{Env, Request, Response};

use super::apply::OrderRow;
use super::config::PayConfig;
use crate::error::ApiError;

/// Whether an order of `collection_id` made with `routing` will share a non-zero amount:
/// a platform fee above zero that the merchant authorised, or a share rule.
pub async fn will_share(
    env: &Env,
    collection_id: &str,
    routing: &PayeeRouting,
) -> Result<bool, ApiError> {
    let has_rule = !rules::load(env, collection_id).await?.is_empty();
    let fee = settings::platform_fee(env, routing);
    if !has_rule && fee == Bps::ZERO {
        return Ok(false);
    }
    let Some(config) = PayConfig::get(env) else {
        return Ok(false);
    };
    match ratio::max_ratio(env, &config, routing, false).await {
        Ok(ratio) => Ok(ratio.bps() > Bps::ZERO),
        // Unknown for now: freeze; the share job caps or unfreezes.
        Err(e) => {
            worker::console_error!("sharing: ratio unknown for a new order: {e:?}");
            Ok(true)
        }
    }
}

/// The cron's share work (one call from `pay/cron.rs`).
pub async fn cron(env: &Env, config: &PayConfig) {
    if let Err(e) = job::run(env, config).await {
        worker::console_error!("sharing cron failed: {e:?}");
    }
}

/// Before refunding `amount` of `order` (one call from `pay/refunds.rs`): returns shares
/// where needed, or refuses with 409 and the reason.
pub async fn before_refund(
    env: &Env,
    config: &PayConfig,
    order: &OrderRow,
    amount: Fen,
) -> Result<(), ApiError> {
    if order.profit_sharing == 0 {
        return Ok(());
    }
    returns::before_refund(env, config, order, amount).await
}

/// `GET /api/dash/collections/:id/shares`.
pub async fn get_rule(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    rules::get(id, req, env).await
}

/// `PUT /api/dash/collections/:id/shares`.
pub async fn put_rule(id: &str, req: Request, env: &Env) -> Result<Response, ApiError> {
    rules::put(id, req, env).await
}

/// `GET /api/dash/shares`.
pub async fn list(req: &Request, env: &Env) -> Result<Response, ApiError> {
    view::list(req, env).await
}
