//! Where a payee's money goes: the deployment model and, per order, the merchant ids every
//! WeChat Pay request carries and every verified answer must match.
//!
//! - **Own business** (direct merchant): the operator *is* the seller and its payees are its
//!   own staff, branches or shops. Every order is the operator's (`appid` + `mchid`,
//!   `/v3/pay/transactions/…`).
//! - **Platform** (服务商 + 特约商户): each payee is bound to its own sub-merchant. Orders use
//!   the partner endpoints (`/v3/pay/partner/transactions/…`) with `sp_appid`, `sp_mchid` and
//!   the payee's `sub_mchid`; the money settles straight into the sub-merchant's account. The
//!   service provider signs everything (its keys), and the payer's openid is the one under
//!   `sp_appid` (`payer.sp_openid`): one Official Account serves every payee, so no
//!   `sub_appid` is ever bound or sent (PROTOCOL-3 §1.2).
//!
//! A [`PayeeRouting`] is fixed when an order is created and stored with it, so callbacks,
//! queries, closes and refunds of that order go to (and are checked against) exactly the
//! merchant it was made for, whatever the configuration says later.

use serde_json::{json, Map, Value};

use crate::order::PayMethod;

/// How the deployment takes merchant payments (`WECHATPAY_MODEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentModel {
    /// `own_business`: a direct merchant selling its own goods through its staff.
    OwnBusiness,
    /// `platform`: a service provider whose payees are its sub-merchants.
    Platform,
}

/// The setting that names the model.
pub const MODEL_SETTING: &str = "WECHATPAY_MODEL";

impl DeploymentModel {
    /// The config value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentModel::OwnBusiness => "own_business",
            DeploymentModel::Platform => "platform",
        }
    }

    /// Parses a config value (exactly `own_business` or `platform`).
    pub fn parse(s: &str) -> Option<DeploymentModel> {
        match s.trim() {
            "own_business" => Some(DeploymentModel::OwnBusiness),
            "platform" => Some(DeploymentModel::Platform),
            _ => None,
        }
    }

    /// What an operator reads about the model, in Chinese.
    pub fn label(self) -> &'static str {
        match self {
            DeploymentModel::OwnBusiness => {
                "自营商户（收款人为本商户员工或门店，款项进入本商户号）"
            }
            DeploymentModel::Platform => {
                "服务商平台（每位收款人绑定自己的特约商户号，款项直接结算给收款人）"
            }
        }
    }
}

/// Why merchant mode is off although WeChat Pay keys may be set: the message names the setting.
pub fn model_problem(value: Option<&str>) -> Option<String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Some(format!(
            "未配置 {MODEL_SETTING}：请设为 own_business（自营商户）或 platform（服务商平台）后再使用商户收款"
        )),
        Some(v) if DeploymentModel::parse(v).is_none() => Some(format!(
            "{MODEL_SETTING}={v} 无效：只能是 own_business（自营商户）或 platform（服务商平台）"
        )),
        Some(_) => None,
    }
}

/// A sub-merchant number as WeChat Pay issues them: 8–32 digits.
pub fn is_valid_sub_mchid(s: &str) -> bool {
    (8..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// The merchant ids of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayeeRouting {
    /// Own business: the operator's merchant and AppID.
    Direct {
        /// `appid` (the Official Account the payer's openid belongs to).
        appid: String,
        /// `mchid` (receives the money and signs).
        mchid: String,
    },
    /// Platform: the service provider signs, the payee's sub-merchant receives.
    Partner {
        /// `sp_appid` (the platform's Official Account; the payer's `sp_openid` is under it).
        sp_appid: String,
        /// `sp_mchid` (signs every request; never receives).
        sp_mchid: String,
        /// `sub_mchid` (the payee; receives the money).
        sub_mchid: String,
    },
}

impl PayeeRouting {
    /// The model this routing belongs to.
    pub fn model(&self) -> DeploymentModel {
        match self {
            PayeeRouting::Direct { .. } => DeploymentModel::OwnBusiness,
            PayeeRouting::Partner { .. } => DeploymentModel::Platform,
        }
    }

    /// The payee's sub-merchant (platform only).
    pub fn sub_mchid(&self) -> Option<&str> {
        match self {
            PayeeRouting::Direct { .. } => None,
            PayeeRouting::Partner { sub_mchid, .. } => Some(sub_mchid),
        }
    }

    /// The merchant whose key signs (`mchid` | `sp_mchid`).
    pub fn signing_mchid(&self) -> &str {
        match self {
            PayeeRouting::Direct { mchid, .. } => mchid,
            PayeeRouting::Partner { sp_mchid, .. } => sp_mchid,
        }
    }

    /// The AppID the payer's openid is under, and the `appId` of the JSAPI paySign.
    pub fn appid(&self) -> &str {
        match self {
            PayeeRouting::Direct { appid, .. } => appid,
            PayeeRouting::Partner { sp_appid, .. } => sp_appid,
        }
    }

    fn partner(&self) -> bool {
        matches!(self, PayeeRouting::Partner { .. })
    }

    /// `POST` path of the prepay for `method`.
    pub fn prepay_path(&self, method: PayMethod) -> &'static str {
        match (self.partner(), method) {
            (false, PayMethod::Jsapi) => "/v3/pay/transactions/jsapi",
            (false, PayMethod::Native) => "/v3/pay/transactions/native",
            (false, PayMethod::H5) => "/v3/pay/transactions/h5",
            (true, PayMethod::Jsapi) => "/v3/pay/partner/transactions/jsapi",
            (true, PayMethod::Native) => "/v3/pay/partner/transactions/native",
            (true, PayMethod::H5) => "/v3/pay/partner/transactions/h5",
        }
    }

    /// The merchant ids of a prepay body.
    pub fn prepay_ids(&self) -> Map<String, Value> {
        let mut ids = Map::new();
        match self {
            PayeeRouting::Direct { appid, mchid } => {
                ids.insert("appid".into(), appid.as_str().into());
                ids.insert("mchid".into(), mchid.as_str().into());
            }
            PayeeRouting::Partner {
                sp_appid,
                sp_mchid,
                sub_mchid,
            } => {
                ids.insert("sp_appid".into(), sp_appid.as_str().into());
                ids.insert("sp_mchid".into(), sp_mchid.as_str().into());
                ids.insert("sub_mchid".into(), sub_mchid.as_str().into());
            }
        }
        ids
    }

    /// The JSAPI `payer` object for `openid` (under [`PayeeRouting::appid`]).
    pub fn payer(&self, openid: &str) -> Value {
        if self.partner() {
            json!({ "sp_openid": openid })
        } else {
            json!({ "openid": openid })
        }
    }

    /// A complete prepay body: the merchant ids, `common` (description, out_trade_no,
    /// amount, …), the payer for JSAPI and `scene_info` for H5. `common` must not carry ids.
    pub fn prepay_body(
        &self,
        method: PayMethod,
        common: Map<String, Value>,
        payer_openid: Option<&str>,
        payer_client_ip: Option<&str>,
    ) -> Value {
        let mut body = self.prepay_ids();
        body.extend(common);
        match method {
            PayMethod::Jsapi => {
                body.insert("payer".into(), self.payer(payer_openid.unwrap_or_default()));
            }
            PayMethod::Native => {}
            PayMethod::H5 => {
                body.insert(
                    "scene_info".into(),
                    json!({
                        "payer_client_ip": payer_client_ip.unwrap_or_default(),
                        "h5_info": { "type": "Wap" },
                    }),
                );
            }
        }
        Value::Object(body)
    }

    /// `GET` path (with query) of the order query by `out_trade_no`.
    pub fn query_path(&self, out_trade_no: &str) -> String {
        match self {
            PayeeRouting::Direct { mchid, .. } => {
                format!("/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid}")
            }
            PayeeRouting::Partner {
                sp_mchid,
                sub_mchid,
                ..
            } => format!(
                "/v3/pay/partner/transactions/out-trade-no/{out_trade_no}?sp_mchid={sp_mchid}&sub_mchid={sub_mchid}"
            ),
        }
    }

    /// `POST` path of the close call.
    pub fn close_path(&self, out_trade_no: &str) -> String {
        if self.partner() {
            format!("/v3/pay/partner/transactions/out-trade-no/{out_trade_no}/close")
        } else {
            format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close")
        }
    }

    /// The close call's body.
    pub fn close_body(&self) -> Value {
        match self {
            PayeeRouting::Direct { mchid, .. } => json!({ "mchid": mchid }),
            PayeeRouting::Partner {
                sp_mchid,
                sub_mchid,
                ..
            } => json!({ "sp_mchid": sp_mchid, "sub_mchid": sub_mchid }),
        }
    }

    /// Ids to add to a refund, profit-sharing or bill request body: `sub_mchid` in partner
    /// mode ("服务商模式下必须传递此参数"), nothing for a direct merchant.
    pub fn request_ids(&self) -> Map<String, Value> {
        let mut ids = Map::new();
        if let Some(sub) = self.sub_mchid() {
            ids.insert("sub_mchid".into(), sub.into());
        }
        ids
    }

    /// `GET` path of a refund query.
    pub fn refund_query_path(&self, out_refund_no: &str) -> String {
        match self.sub_mchid() {
            None => format!("/v3/refund/domestic/refunds/{out_refund_no}"),
            Some(sub) => format!("/v3/refund/domestic/refunds/{out_refund_no}?sub_mchid={sub}"),
        }
    }

    /// Checks the merchant ids of a verified refund notice: a direct refund names `mchid`; a
    /// partner one `sp_mchid` + `sub_mchid`, or (as an official example shows) only `mchid`
    /// = the service provider (PROTOCOL-3, Uncertain 3). Every disagreement, in Chinese.
    pub fn check_refund_ids(
        &self,
        mchid: Option<&str>,
        sp_mchid: Option<&str>,
        sub_mchid: Option<&str>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let mut expect = |what: &str, expected: &str, got: Option<&str>| {
            if got != Some(expected) {
                problems.push(format!(
                    "退款通知的{what}不一致（通知中为 {}）",
                    got.unwrap_or("空")
                ));
            }
        };
        match self {
            PayeeRouting::Direct { mchid: ours, .. } => {
                expect("商户号", ours, mchid);
                if sp_mchid.is_some() || sub_mchid.is_some() {
                    problems.push("直连商户的退款通知不应带服务商字段".to_string());
                }
            }
            PayeeRouting::Partner {
                sp_mchid: ours,
                sub_mchid: our_sub,
                ..
            } => match (sp_mchid, sub_mchid) {
                (None, None) => expect("商户号", ours, mchid),
                _ => {
                    expect("服务商商户号", ours, sp_mchid);
                    expect("子商户号", our_sub, sub_mchid);
                }
            },
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct() -> PayeeRouting {
        PayeeRouting::Direct {
            appid: "wx0123456789abcdef".into(),
            mchid: "1900000100".into(),
        }
    }

    fn partner() -> PayeeRouting {
        PayeeRouting::Partner {
            sp_appid: "wx0123456789abcdef".into(),
            sp_mchid: "1900000100".into(),
            sub_mchid: "1900000109".into(),
        }
    }

    #[test]
    fn the_model_is_named_exactly_and_a_missing_one_says_what_to_set() {
        assert_eq!(
            DeploymentModel::parse("platform"),
            Some(DeploymentModel::Platform)
        );
        assert_eq!(
            DeploymentModel::parse("own_business"),
            Some(DeploymentModel::OwnBusiness)
        );
        assert_eq!(DeploymentModel::parse("Platform"), None);
        assert!(model_problem(None).unwrap().contains("WECHATPAY_MODEL"));
        assert!(model_problem(Some("direct")).unwrap().contains("无效"));
        assert_eq!(model_problem(Some("platform")), None);
    }

    #[test]
    fn sub_mchids_are_digits() {
        assert!(is_valid_sub_mchid("1900000109"));
        assert!(!is_valid_sub_mchid("1234567"));
        assert!(!is_valid_sub_mchid("19000001O9"));
        assert!(!is_valid_sub_mchid(&"1".repeat(33)));
    }

    #[test]
    fn partner_orders_use_the_partner_endpoints_and_sp_openid() {
        let mut common = Map::new();
        common.insert("out_trade_no".into(), "SK1".into());
        let body = partner().prepay_body(PayMethod::Jsapi, common.clone(), Some("o-sp"), None);
        assert_eq!(body["sp_mchid"], "1900000100");
        assert_eq!(body["sub_mchid"], "1900000109");
        assert_eq!(body["sp_appid"], "wx0123456789abcdef");
        assert_eq!(body["payer"]["sp_openid"], "o-sp");
        assert!(body.get("mchid").is_none() && body.get("appid").is_none());
        assert_eq!(
            partner().prepay_path(PayMethod::H5),
            "/v3/pay/partner/transactions/h5"
        );
        let direct_body = direct().prepay_body(PayMethod::Jsapi, common, Some("o-1"), None);
        assert_eq!(direct_body["payer"]["openid"], "o-1");
        assert!(direct_body.get("sub_mchid").is_none());
    }

    #[test]
    fn h5_carries_the_client_ip_and_wap_native_has_no_payer() {
        let body = direct().prepay_body(PayMethod::H5, Map::new(), None, Some("203.0.113.7"));
        assert_eq!(body["scene_info"]["payer_client_ip"], "203.0.113.7");
        assert_eq!(body["scene_info"]["h5_info"]["type"], "Wap");
        let native = partner().prepay_body(PayMethod::Native, Map::new(), Some("o"), None);
        assert!(native.get("payer").is_none() && native.get("scene_info").is_none());
    }

    #[test]
    fn query_close_and_refund_name_the_sub_merchant_in_partner_mode() {
        assert_eq!(
            partner().query_path("SK1"),
            "/v3/pay/partner/transactions/out-trade-no/SK1?sp_mchid=1900000100&sub_mchid=1900000109"
        );
        assert_eq!(
            direct().query_path("SK1"),
            "/v3/pay/transactions/out-trade-no/SK1?mchid=1900000100"
        );
        assert_eq!(partner().close_body()["sub_mchid"], "1900000109");
        assert_eq!(direct().close_body()["mchid"], "1900000100");
        assert_eq!(partner().request_ids()["sub_mchid"], "1900000109");
        assert!(direct().request_ids().is_empty());
        assert!(partner()
            .refund_query_path("RF1")
            .ends_with("?sub_mchid=1900000109"));
    }

    #[test]
    fn refund_notices_accept_either_partner_shape_but_not_another_sub_merchant() {
        let p = partner();
        assert!(p
            .check_refund_ids(None, Some("1900000100"), Some("1900000109"))
            .is_empty());
        assert!(p
            .check_refund_ids(Some("1900000100"), None, None)
            .is_empty());
        assert_eq!(
            p.check_refund_ids(None, Some("1900000100"), Some("1900000200"))
                .len(),
            1
        );
        assert!(direct()
            .check_refund_ids(Some("1900000100"), None, None)
            .is_empty());
        assert!(!direct()
            .check_refund_ids(Some("1900000100"), Some("1900000100"), Some("1900000109"))
            .is_empty());
    }
}
