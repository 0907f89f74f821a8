//! Profit sharing (分账). Placeholder until helper `sharing` lands this folder: the money
//! model calls [`will_share`] when it creates an order, and an order is created with
//! `settle_info.profit_sharing = true` (its funds frozen for sharing) only when it says so.

use shoukuan_core::routing::PayeeRouting;
use worker::Env;

use crate::error::ApiError;

/// Whether an order of `collection_id`, made for `routing`, will be shared (and so must be
/// created with `settle_info.profit_sharing = true`). No sharing exists yet: never.
pub async fn will_share(
    _env: &Env,
    _collection_id: &str,
    _routing: &PayeeRouting,
) -> Result<bool, ApiError> {
    Ok(false)
}
