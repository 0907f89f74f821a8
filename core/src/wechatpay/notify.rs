//! Payment and refund notifications (callbacks): the JSON envelope, its encrypted `resource`,
//! the typed plaintexts, and [`open_notification`], which runs every check in order — signature
//! first, then parsing, then decryption.

use serde::{Deserialize, Serialize};

use super::aead::{self, AeadError, ApiV3Key};
use super::verify::{verify_signed, KeySet, SignedHeaders, Verified, VerifyError};

/// `event_type` of a successful payment.
pub const EVENT_TRANSACTION_SUCCESS: &str = "TRANSACTION.SUCCESS";
/// `event_type` of a successful refund.
pub const EVENT_REFUND_SUCCESS: &str = "REFUND.SUCCESS";
/// `event_type` of a refund that needs manual handling.
pub const EVENT_REFUND_ABNORMAL: &str = "REFUND.ABNORMAL";
/// `event_type` of a closed refund.
pub const EVENT_REFUND_CLOSED: &str = "REFUND.CLOSED";
/// `resource_type` of every notification.
pub const RESOURCE_TYPE_ENCRYPTED: &str = "encrypt-resource";

/// Why a notification could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The signature check failed (see the inner cause).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The (correctly signed) body is not a notification envelope.
    #[error("malformed JSON: the notification body is not a valid envelope: {0}")]
    MalformedBody(String),
    /// The resource could not be decrypted (see the inner cause).
    #[error(transparent)]
    Decrypt(#[from] AeadError),
    /// The decrypted resource is not the JSON expected.
    #[error("malformed JSON: the decrypted resource is not valid: {0}")]
    MalformedResource(String),
}

/// The encrypted `resource` of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    /// `transaction`, `refund`, …
    #[serde(default)]
    pub original_type: String,
    /// Always `AEAD_AES_256_GCM`.
    pub algorithm: String,
    /// base64(ciphertext ‖ tag).
    pub ciphertext: String,
    /// Associated data; may be empty.
    #[serde(default)]
    pub associated_data: String,
    /// 12-character nonce.
    pub nonce: String,
}

impl EncryptedResource {
    /// Decrypts to the plaintext JSON text.
    pub fn decrypt(&self, key: &ApiV3Key) -> Result<String, AeadError> {
        if self.algorithm != aead::ALGORITHM {
            return Err(AeadError::UnsupportedAlgorithm(self.algorithm.clone()));
        }
        aead::decrypt_to_string(
            key,
            self.nonce.as_bytes(),
            self.associated_data.as_bytes(),
            &self.ciphertext,
        )
    }

    /// Encrypts `plaintext` the way WeChat Pay does (for the simulator and tests).
    pub fn seal(
        key: &ApiV3Key,
        original_type: &str,
        nonce: &str,
        associated_data: &str,
        plaintext: &str,
    ) -> Result<Self, AeadError> {
        Ok(EncryptedResource {
            original_type: original_type.to_string(),
            algorithm: aead::ALGORITHM.to_string(),
            ciphertext: aead::encrypt(
                key,
                nonce.as_bytes(),
                associated_data.as_bytes(),
                plaintext.as_bytes(),
            )?,
            associated_data: associated_data.to_string(),
            nonce: nonce.to_string(),
        })
    }
}

/// The notification envelope (the callback's JSON body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Unique notification id.
    pub id: String,
    /// RFC 3339 creation time.
    #[serde(default)]
    pub create_time: String,
    /// e.g. [`EVENT_TRANSACTION_SUCCESS`].
    pub event_type: String,
    /// Always [`RESOURCE_TYPE_ENCRYPTED`].
    #[serde(default)]
    pub resource_type: String,
    /// Human summary, e.g. 支付成功.
    #[serde(default)]
    pub summary: String,
    /// The encrypted payload.
    pub resource: EncryptedResource,
}

impl Notification {
    /// Parses the body. Call only after its signature has been verified.
    pub fn parse(body: &[u8]) -> Result<Self, NotifyError> {
        serde_json::from_slice(body).map_err(|e| NotifyError::MalformedBody(e.to_string()))
    }

    /// Decrypts the resource and checks it is JSON.
    pub fn decrypt(&self, key: &ApiV3Key) -> Result<String, NotifyError> {
        let plaintext = self.resource.decrypt(key)?;
        serde_json::from_str::<serde_json::Value>(&plaintext)
            .map_err(|e| NotifyError::MalformedResource(e.to_string()))?;
        Ok(plaintext)
    }
}

/// A verified, decrypted notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNotification {
    /// Which key signed it.
    pub verified: Verified,
    /// The envelope.
    pub notification: Notification,
    /// The decrypted resource JSON, exactly as decrypted.
    pub plaintext: String,
}

impl OpenedNotification {
    /// The resource as a payment ([`EVENT_TRANSACTION_SUCCESS`]).
    pub fn transaction(&self) -> Result<Transaction, NotifyError> {
        serde_json::from_str(&self.plaintext)
            .map_err(|e| NotifyError::MalformedResource(e.to_string()))
    }

    /// The resource as a refund (`REFUND.*`).
    pub fn refund(&self) -> Result<RefundNotice, NotifyError> {
        serde_json::from_str(&self.plaintext)
            .map_err(|e| NotifyError::MalformedResource(e.to_string()))
    }
}

/// Verifies, parses and decrypts a callback: the whole job of a notify endpoint before business
/// checks (compare `out_trade_no`, `mchid`, `appid`, `amount.total` with your own order).
pub fn open_notification(
    headers: &SignedHeaders,
    body: &[u8],
    keys: &KeySet,
    apiv3_key: &ApiV3Key,
    now: i64,
) -> Result<OpenedNotification, NotifyError> {
    let verified = verify_signed(headers, body, keys, now)?;
    let notification = Notification::parse(body)?;
    let plaintext = notification.decrypt(apiv3_key)?;
    Ok(OpenedNotification {
        verified,
        notification,
        plaintext,
    })
}

/// `trade_type` of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TradeType {
    /// In-WeChat H5 / Official Account payment.
    Jsapi,
    /// QR code scanned with WeChat.
    Native,
    /// Native app.
    App,
    /// Merchant scans the payer's code.
    Micropay,
    /// H5 outside WeChat.
    Mweb,
    /// Face payment.
    Facepay,
    /// A type this code does not know yet.
    #[serde(other)]
    Unknown,
}

/// `trade_state` of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TradeState {
    /// Paid.
    Success,
    /// Refund initiated.
    Refund,
    /// Not paid yet.
    NotPay,
    /// Closed.
    Closed,
    /// Revoked (micropay).
    Revoked,
    /// Payer is entering a password (micropay).
    UserPaying,
    /// Payment failed.
    PayError,
    /// A state this code does not know yet.
    #[serde(other)]
    Unknown,
}

/// The payer of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    /// Direct mode: the payer's openid under the order's appid (empty in queries of unpaid
    /// orders, and in partner mode).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub openid: String,
    /// Partner mode: the payer's openid under `sp_appid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_openid: Option<String>,
    /// Partner mode: the payer's openid under `sub_appid` (only when one was sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_openid: Option<String>,
}

/// Amounts of a transaction, in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionAmount {
    /// Order total.
    pub total: i64,
    /// What the payer paid (total minus discounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    /// `CNY`.
    #[serde(default)]
    pub currency: String,
    /// `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

/// A decrypted `transaction` resource (same shape as an order query). Direct orders carry
/// `appid` + `mchid`; partner (服务商) orders carry `sp_appid`, `sp_mchid`, `sub_mchid` (and
/// `sub_appid` if one was sent) instead, so both id families are optional here and the check
/// against the order's routing (`order::check_transaction`) decides what must be present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// AppID the order was made under (direct mode; empty when absent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub appid: String,
    /// Merchant id (direct mode; empty when absent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mchid: String,
    /// Partner mode: the service provider's AppID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_appid: Option<String>,
    /// Partner mode: the service provider's merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
    /// Partner mode: the sub-merchant (payee) the money settled to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
    /// Partner mode: the sub-merchant's AppID, when one was sent at prepay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_appid: Option<String>,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// WeChat Pay's order number (absent before payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// How it was paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<TradeType>,
    /// Current state.
    pub trade_state: TradeState,
    /// Human description of the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_state_desc: Option<String>,
    /// Payer's bank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    /// The `attach` given at prepay (returned once paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// RFC 3339 payment time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// The payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    /// Amounts in fen.
    pub amount: TransactionAmount,
    /// Discounts, kept raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_detail: Option<Vec<serde_json::Value>>,
    /// Scene info, kept raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_info: Option<serde_json::Value>,
}

/// `refund_status` of a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RefundStatus {
    /// Refunded.
    Success,
    /// Closed.
    Closed,
    /// In progress.
    Processing,
    /// Failed; needs manual handling.
    Abnormal,
    /// A status this code does not know yet.
    #[serde(other)]
    Unknown,
}

/// Amounts of a refund, in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmount {
    /// Original order total.
    pub total: i64,
    /// Refunded amount.
    pub refund: i64,
    /// What the payer paid.
    pub payer_total: i64,
    /// What the payer gets back.
    pub payer_refund: i64,
}

/// A decrypted `refund` resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundNotice {
    /// Merchant id (direct mode; some partner examples carry it too, as the service provider).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mchid: String,
    /// Partner mode: the service provider's merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
    /// Partner mode: the sub-merchant whose funds were refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
    /// WeChat Pay's order number.
    pub transaction_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// WeChat Pay's refund number.
    pub refund_id: String,
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// Refund state.
    pub refund_status: RefundStatus,
    /// RFC 3339 time the refund succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// Where the money went, e.g. 招商银行信用卡0403.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_received_account: Option<String>,
    /// Amounts in fen.
    pub amount: RefundAmount,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_states_do_not_break_parsing() {
        let t: TradeState = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(t, TradeState::Unknown);
        let t: TradeState = serde_json::from_str("\"NOTPAY\"").unwrap();
        assert_eq!(t, TradeState::NotPay);
        let t: TradeState = serde_json::from_str("\"USERPAYING\"").unwrap();
        assert_eq!(t, TradeState::UserPaying);
    }

    #[test]
    fn refund_notice_parses_the_documented_shape() {
        let json = r#"{"mchid":"1900000100","transaction_id":"1008450740201411110005820873","out_trade_no":"20150806125346","refund_id":"50200207182018070300011301001","out_refund_no":"7752501201407033233368018","refund_status":"SUCCESS","success_time":"2018-06-08T10:34:56+08:00","user_received_account":"招商银行信用卡0403","amount":{"total":999,"refund":999,"payer_total":999,"payer_refund":999}}"#;
        let refund: RefundNotice = serde_json::from_str(json).unwrap();
        assert_eq!(refund.refund_status, RefundStatus::Success);
        assert_eq!(refund.amount.payer_refund, 999);
        assert_eq!(refund.sub_mchid, None);
        let partner = json.replace(
            r#""mchid":"1900000100""#,
            r#""sp_mchid":"1900000100","sub_mchid":"1900000109""#,
        );
        let refund: RefundNotice = serde_json::from_str(&partner).unwrap();
        assert_eq!(refund.mchid, "");
        assert_eq!(refund.sub_mchid.as_deref(), Some("1900000109"));
    }

    #[test]
    fn a_partner_transaction_parses_without_appid_and_mchid() {
        let json = r#"{"sp_appid":"wx8888888888888888","sp_mchid":"1230000109","sub_mchid":"1900000109","out_trade_no":"SK1","transaction_id":"42","trade_type":"JSAPI","trade_state":"SUCCESS","payer":{"sp_openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"currency":"CNY"}}"#;
        let tx: Transaction = serde_json::from_str(json).unwrap();
        assert_eq!(tx.mchid, "");
        assert_eq!(tx.sub_mchid.as_deref(), Some("1900000109"));
        assert_eq!(
            tx.payer.unwrap().sp_openid.as_deref(),
            Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
        );
    }

    #[test]
    fn a_resource_with_another_algorithm_is_refused() {
        let key = ApiV3Key::new(&[b'k'; 32]).unwrap();
        let mut resource =
            EncryptedResource::seal(&key, "transaction", "123456789012", "", "{}").unwrap();
        resource.algorithm = "AEAD_SM4_GCM".into();
        assert_eq!(
            resource.decrypt(&key),
            Err(AeadError::UnsupportedAlgorithm("AEAD_SM4_GCM".into()))
        );
    }

    #[test]
    fn a_non_json_body_is_malformed() {
        assert!(matches!(
            Notification::parse(b"<xml/>"),
            Err(NotifyError::MalformedBody(_))
        ));
    }
}
