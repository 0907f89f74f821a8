//! Merchant payments through WeChat Pay API v3: orders (JSAPI inside WeChat, Native QR
//! outside), verified idempotent callbacks, active re-query and close by cron, refunds, the
//! daily receipt limit, and the payee's payments dashboard. Every rule is `shoukuan-core`'s
//! (`order`, `refund`, `limits`, `wechatpay`); this module moves checked values between
//! WeChat Pay, D1 and the API.
//!
//! ```text
//! POST /api/orders ─► limits reservation (one INSERT … WHERE) ─► client::prepay ─► pay params / code_url
//! POST /wechatpay/notify/* ─► certs::verify (raw bytes) ─► decrypt ─► apply (core::order::decide, CAS)
//! cron (every minute) ─► client::query_order ─► apply │ client::close_order │ refunds::sync
//! ```

mod apply;
mod certs;
mod client;
mod config;
mod cron;
mod crypto;
mod dash;
mod notify;
mod orders;
mod refunds;
mod testhooks;

use shoukuan_core::checkout;
use shoukuan_core::collection::CollectionView;
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
        PayRoute::TestFaults => testhooks::faults(req, env).await,
        PayRoute::TestAge => testhooks::age(req, env).await,
        PayRoute::TestBench => testhooks::bench(req, env).await,
    }
}

/// The payer card of a merchant collection (pay button + inline script), or `None` for a
/// personal one (which keeps its receive-code card).
pub async fn merchant_card(view: &CollectionView, env: &Env) -> Result<Option<String>, ApiError> {
    let row = orders::collection(env, &view.id).await?;
    Ok(row
        .filter(|c| c.pay_mode == "merchant")
        .map(|_| checkout::merchant_card(view)))
}

/// The scheduled event's share: re-query, close, refund sync.
pub async fn scheduled(env: &Env) {
    if let Err(e) = cron::run(env).await {
        worker::console_error!("pay cron failed: {e:?}");
    }
}

/// Whether this deployment can take WeChat Pay payments (merchant collections and splits).
pub fn configured(env: &Env) -> bool {
    config::PayConfig::get(env).is_some()
}
