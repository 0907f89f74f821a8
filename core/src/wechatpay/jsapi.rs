//! JSAPI payment (inside WeChat): the prepay request body and the parameters the page passes to
//! `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` / `wx.chooseWXPay`, signed with `paySign`.

use serde::{Deserialize, Serialize};

use super::fields::{Attach, Description, OutTradeNo};
use super::sign::{sign_base64, SignError, Signer};

/// Path of the JSAPI prepay call.
pub const PREPAY_PATH: &str = "/v3/pay/transactions/jsapi";

/// `{ "total": fen, "currency": "CNY" }` of a prepay request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepayAmount {
    /// Amount in fen.
    pub total: i64,
    /// `CNY`.
    pub currency: String,
}

/// `{ "openid": … }` of a prepay request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepayPayer {
    /// The payer's openid under `appid`.
    pub openid: String,
}

/// `settle_info` of a prepay request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleInfo {
    /// True to freeze the funds for profit sharing.
    pub profit_sharing: bool,
}

/// Body of `POST /v3/pay/transactions/jsapi`. Constrained fields are typed, so a value that
/// serialises is one WeChat Pay accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsapiPrepayRequest {
    /// Official Account AppID bound to the merchant.
    pub appid: String,
    /// Merchant id.
    pub mchid: String,
    /// Shown in the payer's bill.
    pub description: Description,
    /// The merchant's order number.
    pub out_trade_no: OutTradeNo,
    /// RFC 3339 deadline, e.g. `2026-11-27T12:00:00+08:00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_expire: Option<String>,
    /// Echoed back in queries and the notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<Attach>,
    /// Absolute https URL without a query string.
    pub notify_url: String,
    /// Amount.
    pub amount: PrepayAmount,
    /// Payer.
    pub payer: PrepayPayer,
    /// Profit-sharing flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_info: Option<SettleInfo>,
}

/// `200 {"prepay_id": …}` of the prepay call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepayResponse {
    /// Valid for 2 hours.
    pub prepay_id: String,
}

/// The four signed lines of `paySign`: appId, timeStamp, nonceStr and `prepay_id=…`, each
/// followed by `\n`. (`signType` is not signed.)
pub fn paysign_message(app_id: &str, time_stamp: &str, nonce_str: &str, package: &str) -> String {
    format!("{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n")
}

/// The `package` value for a prepay id: `prepay_id=<id>`.
pub fn package(prepay_id: &str) -> String {
    format!("prepay_id={prepay_id}")
}

/// The object handed to `getBrandWCPayRequest` (field names as the JS bridge wants them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsapiPayParams {
    /// The Official Account AppID of the prepay call.
    pub app_id: String,
    /// Unix seconds, as a string.
    pub time_stamp: String,
    /// Random string.
    pub nonce_str: String,
    /// `prepay_id=…`.
    pub package: String,
    /// Always `RSA`.
    pub sign_type: String,
    /// Base64 SHA256withRSA of [`paysign_message`] with the merchant key.
    pub pay_sign: String,
}

impl JsapiPayParams {
    /// Signs the parameters for `prepay_id` with the merchant key (the one used for prepay).
    pub fn sign(
        signer: &(impl Signer + ?Sized),
        app_id: &str,
        time_stamp: &str,
        nonce_str: &str,
        prepay_id: &str,
    ) -> Result<Self, SignError> {
        let package = package(prepay_id);
        let pay_sign = sign_base64(
            signer,
            paysign_message(app_id, time_stamp, nonce_str, &package).as_bytes(),
        )?;
        Ok(JsapiPayParams {
            app_id: app_id.to_string(),
            time_stamp: time_stamp.to_string(),
            nonce_str: nonce_str.to_string(),
            package,
            sign_type: "RSA".to_string(),
            pay_sign,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paysign_message_has_four_terminated_lines() {
        let message = paysign_message("wx1", "1554208460", "n", &package("wx2014"));
        assert_eq!(message, "wx1\n1554208460\nn\nprepay_id=wx2014\n");
    }

    #[test]
    fn prepay_request_serialises_with_wechat_names() {
        let request = JsapiPrepayRequest {
            appid: "wx1".into(),
            mchid: "1900007291".into(),
            description: Description::parse("收款").unwrap(),
            out_trade_no: OutTradeNo::parse("order_0001").unwrap(),
            time_expire: None,
            attach: None,
            notify_url: "https://example.com/wechatpay/notify".into(),
            amount: PrepayAmount {
                total: 100,
                currency: "CNY".into(),
            },
            payer: PrepayPayer {
                openid: "o1".into(),
            },
            settle_info: None,
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["out_trade_no"], "order_0001");
        assert_eq!(json["amount"]["total"], 100);
        assert!(json.get("attach").is_none());
    }
}
