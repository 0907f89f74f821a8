//! The most a merchant may share of an order. Own business: `WECHATPAY_MAX_SHARE_BPS`
//! (default 30 %). Platform: the ratio the sub-merchant authorised to the service provider,
//! `GET /v3/profitsharing/merchant-configs/{sub_mchid}` → `{sub_mchid, max_ratio}` (1/10 000;
//! PROTOCOL-3 §3), cached in `payee_merchants` for a day. `403 NO_AUTH` (not authorised) is
//! cached as zero, so orders are not frozen for a merchant that cannot share.

use serde::Deserialize;
use shoukuan_core::profitshare::Bps;
use shoukuan_core::routing::PayeeRouting;
use worker::{Env, Method};

use super::super::client::{self, CallError};
use super::super::config::PayConfig;
use super::settings;
use crate::error::ApiError;
use crate::http::num;
use crate::session::now_secs;

/// How long a read ratio is trusted.
const CACHE_SECS: i64 = 24 * 3600;

/// A merchant's ratio, and whether it may share at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxRatio {
    /// Sharing is allowed up to this ratio.
    Allowed(Bps),
    /// The sub-merchant has not authorised the service provider (`NO_AUTH`).
    NotAuthorised,
}

impl MaxRatio {
    /// The ratio (zero when not authorised).
    pub fn bps(self) -> Bps {
        match self {
            MaxRatio::Allowed(b) => b,
            MaxRatio::NotAuthorised => Bps::ZERO,
        }
    }
}

#[derive(Deserialize)]
struct Cached {
    max_ratio_bps: Option<i64>,
    max_ratio_checked_at: Option<i64>,
}

#[derive(Deserialize)]
struct MerchantConfig {
    max_ratio: i64,
}

/// The ratio for orders made with `routing`. `fresh` skips the cache (saving a rule re-reads
/// it, so a sub-merchant that just authorised is not refused for a day).
pub async fn max_ratio(
    env: &Env,
    config: &PayConfig,
    routing: &PayeeRouting,
    fresh: bool,
) -> Result<MaxRatio, ApiError> {
    let Some(sub_mchid) = routing.sub_mchid() else {
        return Ok(MaxRatio::Allowed(settings::own_max_ratio(env)));
    };
    let db = env.d1("DB")?;
    let now = now_secs();
    if !fresh {
        let cached = db
            .prepare(
                "SELECT max_ratio_bps, max_ratio_checked_at FROM payee_merchants \
                 WHERE sub_mchid = ?1 AND max_ratio_checked_at IS NOT NULL \
                 ORDER BY max_ratio_checked_at DESC LIMIT 1",
            )
            .bind(&[sub_mchid.into()])?
            .first::<Cached>(None)
            .await?;
        if let Some(Cached {
            max_ratio_bps: Some(bps),
            max_ratio_checked_at: Some(at),
        }) = cached
        {
            if now - at < CACHE_SECS {
                return Ok(match Bps::new(bps) {
                    Some(b) if b > Bps::ZERO => MaxRatio::Allowed(b),
                    _ => MaxRatio::NotAuthorised,
                });
            }
        }
    }
    let path = format!("/v3/profitsharing/merchant-configs/{sub_mchid}");
    let ratio = match client::call(env, config, Method::Get, &path, None).await {
        Ok(answer) => {
            let parsed: MerchantConfig = serde_json::from_slice(&answer.body)
                .map_err(|e| ApiError::Upstream(format!("merchant-configs: {e}")))?;
            let bps = Bps::new(parsed.max_ratio).ok_or_else(|| {
                ApiError::Upstream(format!("merchant-configs: max_ratio {}", parsed.max_ratio))
            })?;
            if bps > Bps::ZERO {
                MaxRatio::Allowed(bps)
            } else {
                MaxRatio::NotAuthorised
            }
        }
        Err(CallError::Refused { code, .. }) if code == "NO_AUTH" => MaxRatio::NotAuthorised,
        Err(e) => return Err(e.into()),
    };
    db.prepare(
        "UPDATE payee_merchants SET max_ratio_bps = ?2, max_ratio_checked_at = ?3 WHERE sub_mchid = ?1",
    )
    .bind(&[sub_mchid.into(), num(ratio.bps().get()), num(now)])?
    .run()
    .await?;
    Ok(ratio)
}
