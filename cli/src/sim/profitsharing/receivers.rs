//! Receivers (`receivers/add`, `receivers/delete`) and the sub-merchant's authorised ratio
//! (`merchant-configs/{sub_mchid}`).

use axum::http::StatusCode;
use serde_json::json;

use super::{check_type, decrypt_name, not_authorised, refuse_sub_openid};
use crate::sim::partner::check_relation;
use crate::sim::pay::{check_appid_mchid, ok, optional_str, required_str, PayResult, Request};
use crate::sim::state::Receiver;
use crate::sim::{PayError, Shared, Sim};

const RELATIONS: [&str; 11] = [
    "SERVICE_PROVIDER",
    "STORE",
    "STAFF",
    "STORE_OWNER",
    "PARTNER",
    "HEADQUARTER",
    "BRAND",
    "DISTRIBUTOR",
    "USER",
    "SUPPLIER",
    "CUSTOM",
];

/// The registered full name of a merchant the simulator knows: the service provider (or
/// direct merchant) itself, or one of its sub-merchants.
fn known_merchant_name(sim: &Sim, mchid: &str) -> Option<String> {
    let config = &sim.keys.config;
    if mchid == config.mchid {
        return Some(config.merchant_name.clone()).filter(|n| !n.is_empty());
    }
    sim.state().sub_merchant(mchid).map(|s| s.name.clone())
}

/// `POST /v3/profitsharing/receivers/add`. Partner: `sub_mchid` names whose receiver it is and
/// `appid` is the service provider's. Re-adding is idempotent and does not overwrite.
pub fn add_receiver(sim: &Shared, request: &Request<'_>) -> PayResult {
    let body = request.json()?;
    let sub_mchid = optional_str(&body, "/sub_mchid", 32)?;
    let appid = required_str(&body, "/appid", 32)?;
    let sub_appid = optional_str(&body, "/sub_appid", 32)?;
    let kind = required_str(&body, "/type", 32)?;
    check_type("/type", kind)?;
    let account = required_str(&body, "/account", 64)?;
    let cipher = optional_str(&body, "/name", 1024)?;
    let relation_type = required_str(&body, "/relation_type", 32)?;
    if !RELATIONS.contains(&relation_type) {
        return Err(PayError::param("/relation_type", "枚举值错误"));
    }
    let custom_relation = optional_str(&body, "/custom_relation", 10)?;
    if relation_type == "CUSTOM" && custom_relation.is_none() {
        return Err(PayError::param(
            "/custom_relation",
            "relation_type为CUSTOM时必填",
        ));
    }
    if kind == "MERCHANT_ID" && cipher.is_none() {
        return Err(PayError::param(
            "/name",
            "分账接收方类型为MERCHANT_ID时必填",
        ));
    }
    if kind == "PERSONAL_SUB_OPENID" {
        return Err(refuse_sub_openid(sub_appid));
    }
    check_appid_mchid(sim, Some(appid), &sim.keys.config.mchid)?;
    if let Some(sub) = sub_mchid {
        check_relation(&sim.state(), sub)?;
    }
    let name = match cipher {
        Some(cipher) => Some(decrypt_name(sim, request, "/name", cipher)?),
        None => None,
    };
    let sharer = sub_mchid.unwrap_or(&sim.keys.config.mchid);
    if kind == "MERCHANT_ID" {
        if account == sharer {
            return Err(PayError::invalid("分账接收方不能是分账出资方自己"));
        }
        if let Some(known) = known_merchant_name(sim, account) {
            if name.as_deref() != Some(known.as_str()) {
                return Err(PayError::invalid("分账接收方全称与商户号的商户名称不一致"));
            }
        }
    }
    let mut state = sim.state();
    if kind == "PERSONAL_OPENID" && state.payer(account).is_none() {
        return Err(PayError::param("/account", "openid与appid不匹配"));
    }
    let exists = state
        .receivers
        .iter()
        .any(|r| r.sub_mchid.as_deref() == sub_mchid && r.kind == kind && r.account == account);
    if !exists {
        state.receivers.push(Receiver {
            sub_mchid: sub_mchid.map(str::to_string),
            appid: appid.to_string(),
            kind: kind.to_string(),
            account: account.to_string(),
            name,
            relation_type: relation_type.to_string(),
            custom_relation: custom_relation.map(str::to_string),
        });
    }
    let mut answer = json!({
        "type": kind,
        "account": account,
        "relation_type": relation_type,
    });
    if let Some(sub) = sub_mchid {
        answer["sub_mchid"] = json!(sub);
    }
    if let Some(cipher) = cipher {
        answer["name"] = json!(cipher);
    }
    if let Some(custom) = custom_relation {
        answer["custom_relation"] = json!(custom);
    }
    ok(answer)
}

/// `POST /v3/profitsharing/receivers/delete`.
pub fn delete_receiver(sim: &Shared, request: &Request<'_>) -> PayResult {
    let body = request.json()?;
    let sub_mchid = optional_str(&body, "/sub_mchid", 32)?;
    let appid = required_str(&body, "/appid", 32)?;
    let kind = required_str(&body, "/type", 32)?;
    check_type("/type", kind)?;
    let account = required_str(&body, "/account", 64)?;
    check_appid_mchid(sim, Some(appid), &sim.keys.config.mchid)?;
    let mut state = sim.state();
    if let Some(sub) = sub_mchid {
        check_relation(&state, sub)?;
    }
    state.receivers.retain(|r| {
        !(r.sub_mchid.as_deref() == sub_mchid && r.kind == kind && r.account == account)
    });
    let mut answer = json!({ "type": kind, "account": account });
    if let Some(sub) = sub_mchid {
        answer["sub_mchid"] = json!(sub);
    }
    ok(answer)
}

/// `GET /v3/profitsharing/merchant-configs/{sub_mchid}` → `{sub_mchid, max_ratio}` (1/10 000):
/// the ratio the sub-merchant authorised the service provider. 403 NO_AUTH for a sub-merchant
/// that is not this service provider's or authorised nothing.
pub fn merchant_config(sim: &Sim, sub_mchid: &str) -> PayResult {
    let state = sim.state();
    let sub = state
        .sub_merchant(sub_mchid)
        .ok_or_else(|| PayError::new(StatusCode::FORBIDDEN, "NO_AUTH", "非服务商下的签约子商户"))?;
    if sub.max_ratio == 0 {
        return Err(not_authorised());
    }
    ok(json!({ "sub_mchid": sub.sub_mchid, "max_ratio": sub.max_ratio }))
}
