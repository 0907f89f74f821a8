//! Merchant payments through WeChat Pay API v3: orders (JSAPI inside WeChat, H5 in a phone
//! browser, Native QR on a desktop) routed by the deployment model (`routing`: the merchant
//! in own business, each payee's own sub-merchant in platform mode), verified idempotent
//! callbacks checked against each order's routing, active re-query and close by cron,
//! refunds, the daily receipt limit, and the payee's payments dashboard. Every rule is `shoukuan-core`'s
//! (`order`, `refund`, `limits`, `wechatpay`); this module moves checked values between
//! WeChat Pay, D1 and the API.
//!
//! ```text
//! POST /api/orders ─► limits reservation (one INSERT … WHERE) ─► client::prepay ─► pay params / code_url
//! POST /wechatpay/notify/* ─► certs::verify (raw bytes) ─► decrypt ─► apply (core::order::decide, CAS)
//! cron (every minute) ─► client::query_order ─► apply │ client::close_order │ refunds::sync
//! ```

pub mod apply;
mod certs;
pub mod client;
pub mod config;
mod cron;
pub(crate) mod crypto;
mod dash;
pub mod merchants;
mod notify;
mod orders;
pub mod refunds;
pub mod routing;
pub mod sharing;
mod testhooks;

use shoukuan_core::checkout::{self, Seller};
use shoukuan_core::collection::CollectionView;
use shoukuan_core::routing::DeploymentModel;
use shoukuan_core::session::Openid;
use worker::{Env, Request, Response};

use crate::error::ApiError;
use crate::routes::PayRoute;

/// Answers one of the [`PayRoute`]s.
pub async fn handle(route: PayRoute, req: Request, env: &Env) -> Result<Response, ApiError> {
    match route {
        PayRoute::CreateOrder => orders::create(req, env).await,
        PayRoute::GetOrder(id) => orders::get(&id, &req, env).await,
        PayRoute::NotifyTransaction => {
            notify::handle(notify::Endpoint::Transaction, req, env).await
        }
        PayRoute::NotifyRefund => notify::handle(notify::Endpoint::Refund, req, env).await,
        PayRoute::Dashboard => dash::overview(&req, env).await,
        PayRoute::CreateMerchantCollection => dash::create_collection(req, env).await,
        PayRoute::CreateRefund(id) => refunds::create(&id, req, env).await,
        PayRoute::ResolveFlag(id) => dash::resolve_flag(&id, &req, env).await,
        PayRoute::SetIdentity(openid) => dash::set_identity(&openid, req, env).await,
        PayRoute::BindMerchant(openid) => merchants::bind(&openid, req, env).await,
        PayRoute::GetShares(id) => sharing::get_rule(&id, &req, env).await,
        PayRoute::PutShares(id) => sharing::put_rule(&id, req, env).await,
        PayRoute::ShareStatus => sharing::list(&req, env).await,
        PayRoute::TestFaults => testhooks::faults(req, env).await,
        PayRoute::TestAge => testhooks::age(req, env).await,
        PayRoute::TestBench => testhooks::bench(req, env).await,
    }
}

/// The payer card of a merchant collection (pay button + inline script, and "我的订单" for a
/// payer who has paid here before), or `None` for a personal one (which keeps its
/// receive-code card).
pub async fn merchant_card(
    view: &CollectionView,
    req: &Request,
    env: &Env,
) -> Result<Option<String>, ApiError> {
    let row = orders::collection(env, &view.id).await?;
    let Some(row) = row.filter(|c| c.pay_mode == "merchant") else {
        return Ok(None);
    };
    // Own business: the merchant is the seller, and the page says so.
    let config = config::PayConfig::get(env);
    let seller = match config.as_deref() {
        Some(config) if config.model == Ok(DeploymentModel::OwnBusiness) => {
            Seller::Merchant(config.merchant_name.as_deref().unwrap_or_default())
        }
        _ => Seller::Payee,
    };
    let mine = orders::payer_orders(req, env, &view.id).await?;
    // Growth: the payer's points with this payee, chosen above the pay button.
    let points =
        crate::growth::points_checkout::checkout_block(view, row.owner_openid.as_deref(), req, env)
            .await;
    Ok(Some(format!(
        "{}{}",
        checkout::merchant_card(view, seller, &points),
        checkout::my_orders(&mine)
    )))
}

/// The payer's view of order `id` (the order page `/o/:id`), as `GET /api/orders/:id` answers
/// it without `refresh`; `None` for an unknown id.
pub async fn order_view(
    env: &Env,
    id: &str,
) -> Result<Option<shoukuan_core::order::OrderView>, ApiError> {
    if !shoukuan_core::collection::is_valid_id(id) {
        return Ok(None);
    }
    match apply::order_by_id(env, id).await? {
        Some(order) => Ok(Some(orders::view(env, &order).await?)),
        None => Ok(None),
    }
}

/// The scheduled event's share at `now`: re-query, close, refund sync.
pub async fn scheduled(env: &Env, now: i64) {
    if let Err(e) = cron::run(env, now).await {
        worker::console_error!("pay cron failed: {e:?}");
    }
}

/// `Ok` when the test hooks are on (`PAY_TEST_HOOKS=1`, loopback only); otherwise 404.
pub fn test_hooks_enabled(env: &Env) -> Result<(), ApiError> {
    testhooks::enabled(env).map(|_| ())
}

/// Whether this deployment can take WeChat Pay payments (merchant collections and splits):
/// the keys and a valid `WECHATPAY_MODEL`.
pub fn configured(env: &Env) -> bool {
    config::PayConfig::merchant_unavailable(env).is_none()
}

/// Why merchant mode is unavailable on this deployment (the message names what to
/// configure), or `None`.
pub fn merchant_unavailable(env: &Env) -> Option<String> {
    config::PayConfig::merchant_unavailable(env)
}

/// May `payee` publish a merchant-mode collection or split? Refused (503) when the
/// deployment's model is unset, and (409 `NO_SUB_MCHID`) in platform mode when the payee has
/// no sub-merchant of its own — personal mode stays available to it.
pub async fn check_may_publish(env: &Env, payee: &Openid) -> Result<(), ApiError> {
    let config = config::PayConfig::require(env)?;
    routing::for_payee(env, &config, payee.as_str())
        .await
        .map(|_| ())
}
