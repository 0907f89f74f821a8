//! Payees and the merchant their money goes to (`payee_merchants`).
//!
//! - Platform: the operator binds each payee to the sub-merchant (特约商户号) onboarded for it
//!   in WeChat Pay's console: `POST /api/operator/payees/:openid/merchant {"sub_mchid"}`
//!   (`shoukuan payees bind <openid> --sub-mchid N`). Without one the payee cannot take
//!   merchant-mode payments; personal mode (its own receive code) always works.
//! - Own business: approving a payee declares it part of the business (staff, branch, shop):
//!   the declaration is recorded with its time ([`declare_staff`]) and shown to the operator.

use serde::{Deserialize, Serialize};
use shoukuan_core::collection::FieldError;
use shoukuan_core::routing::{is_valid_sub_mchid, DeploymentModel};
use shoukuan_core::session::Openid;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::config::PayConfig;
use crate::error::ApiError;
use crate::http;
use crate::session::{now_secs, require_operator};

/// A payee's row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PayeeMerchant {
    /// The payee.
    pub openid: String,
    /// Platform: its sub-merchant.
    pub sub_mchid: Option<String>,
    /// Own business: when the operator declared it part of the business.
    pub declared_staff_at: Option<i64>,
    /// Operator's note.
    pub note: Option<String>,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The payee's row, if any.
pub async fn find(env: &Env, openid: &str) -> Result<Option<PayeeMerchant>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare("SELECT openid, sub_mchid, declared_staff_at, note, updated_at FROM payee_merchants WHERE openid = ?1")
        .bind(&[openid.into()])?
        .first::<PayeeMerchant>(None)
        .await?)
}

/// What the operator reads about a declaration (own business).
pub fn declaration_text(config: &PayConfig) -> String {
    format!(
        "已声明该收款人属于本商户「{}」（员工、分店或门店）：其商户收款进入本商户号 {}，属于本商户自己的营业收入",
        config.merchant_name.as_deref().unwrap_or("未命名商户"),
        config.mchid
    )
}

/// Records (approve = true) or withdraws the own-business declaration that `openid` is part
/// of the business. Returns the stored row.
pub async fn declare_staff(
    env: &Env,
    openid: &str,
    declared: bool,
) -> Result<PayeeMerchant, ApiError> {
    let now = now_secs();
    let at = if declared {
        JsValue::from_f64(now as f64)
    } else {
        JsValue::NULL
    };
    env.d1("DB")?
        .prepare(
            "INSERT INTO payee_merchants (openid, declared_staff_at, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (openid) DO UPDATE SET declared_staff_at = excluded.declared_staff_at, updated_at = excluded.updated_at \
             RETURNING openid, sub_mchid, declared_staff_at, note, updated_at",
        )
        .bind(&[openid.into(), at, JsValue::from_f64(now as f64)])?
        .first::<PayeeMerchant>(None)
        .await?
        .ok_or_else(|| ApiError::Internal("upsert returned nothing".into()))
}

/// What approving (or revoking) `openid` means for the money, as JSON fields for the
/// operator's answer. Own business: approval declares the payee part of the business
/// (recorded with its time; revoking withdraws it). Platform: whether a sub-merchant is bound.
pub async fn on_approval(
    env: &Env,
    openid: &Openid,
    approve: bool,
) -> Result<serde_json::Value, ApiError> {
    let Some(config) = PayConfig::get(env) else {
        return Ok(serde_json::json!({ "model": null }));
    };
    Ok(match &config.model {
        Err(why) => serde_json::json!({ "model": null, "merchant_mode": why }),
        Ok(DeploymentModel::OwnBusiness) => {
            let row = declare_staff(env, openid.as_str(), approve).await?;
            serde_json::json!({
                "model": DeploymentModel::OwnBusiness.as_str(),
                "declared_staff_at": row.declared_staff_at,
                "declaration": if approve {
                    declaration_text(&config)
                } else {
                    "已撤回该收款人属于本商户的声明".to_string()
                },
            })
        }
        Ok(DeploymentModel::Platform) => {
            let sub_mchid = find(env, openid.as_str()).await?.and_then(|m| m.sub_mchid);
            serde_json::json!({
                "model": DeploymentModel::Platform.as_str(),
                "sub_mchid": sub_mchid,
                "merchant_mode": if sub_mchid.is_some() {
                    "商户收款进入该收款人自己的特约商户号"
                } else {
                    "尚未绑定特约商户号：绑定前只能使用个人收款码（shoukuan payees bind <openid> --sub-mchid N）"
                },
            })
        }
    })
}

#[derive(Deserialize)]
struct BindBody {
    /// The sub-merchant number, or null to unbind.
    sub_mchid: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

fn field(code: &str, message: &str) -> ApiError {
    ApiError::Invalid(vec![FieldError {
        field: "sub_mchid".into(),
        code: code.into(),
        message: message.into(),
    }])
}

/// `POST /api/operator/payees/:openid/merchant` `{"sub_mchid": "1900000109" | null, "note"?}`
/// (operator bearer): binds the payee to its sub-merchant (platform). A sub-merchant belongs
/// to one payee only: binding it to a second one is refused (409), so no payee's payment can
/// settle into another payee's account.
pub async fn bind(openid: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    require_operator(&req, env)?;
    let openid = crate::session::openid_param(openid)?;
    let body: BindBody = http::read_json(&mut req).await?;
    let sub_mchid = body.sub_mchid.map(|s| s.trim().to_string());
    if let Some(sub) = &sub_mchid {
        if !is_valid_sub_mchid(sub) {
            return Err(field(
                "INVALID_SUB_MCHID",
                "特约商户号应为 8–32 位数字（服务商平台 → 特约商户管理中可查）",
            ));
        }
    }
    let note = body
        .note
        .map(|n| n.trim().chars().take(200).collect::<String>())
        .filter(|n| !n.is_empty());
    let now = JsValue::from_f64(now_secs() as f64);
    let sub_value = sub_mchid.as_deref().map_or(JsValue::NULL, Into::into);
    // One statement: bound only if no other payee holds this sub-merchant.
    let row = env
        .d1("DB")?
        .prepare(
            "INSERT INTO payee_merchants (openid, sub_mchid, note, updated_at) \
             SELECT ?1, ?2, ?3, ?4 WHERE ?2 IS NULL OR NOT EXISTS \
               (SELECT 1 FROM payee_merchants WHERE sub_mchid = ?2 AND openid <> ?1) \
             ON CONFLICT (openid) DO UPDATE SET sub_mchid = excluded.sub_mchid, \
               note = COALESCE(excluded.note, note), updated_at = excluded.updated_at \
             RETURNING openid, sub_mchid, declared_staff_at, note, updated_at",
        )
        .bind(&[
            openid.as_str().into(),
            sub_value,
            note.as_deref().map_or(JsValue::NULL, Into::into),
            now,
        ])?
        .first::<PayeeMerchant>(None)
        .await?
        .ok_or(ApiError::Conflict(
            "SUB_MCHID_TAKEN",
            "这个特约商户号已绑定给另一位收款人：一个特约商户号只能属于一位收款人",
        ))?;
    let model = PayConfig::get(env).and_then(|c| c.model.clone().ok());
    http::json(
        200,
        &serde_json::json!({
            "openid": row.openid,
            "sub_mchid": row.sub_mchid,
            "note": row.note,
            "model": model.map(DeploymentModel::as_str),
            "effective": model == Some(DeploymentModel::Platform),
        }),
    )
}
