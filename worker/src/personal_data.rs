//! Sealing personal data at rest with the operator's `DATA_KEY` (rules in
//! `shoukuan_core::personal_data`); this module only reads the key and draws the nonces.

use shoukuan_core::personal_data::{DataKey, NONCE_LEN};
use worker::Env;

use crate::config::secret_setting;
use crate::error::ApiError;

/// Column names bound into each sealed value (a sealed phone does not open as a name).
pub mod column {
    /// `participants.name_sealed`
    pub const NAME: &str = "participants.name";
    /// `participants.phone_sealed`
    pub const PHONE: &str = "participants.phone";
    /// `participants.openid_sealed`
    pub const OPENID: &str = "participants.openid";
    /// `product_contacts.name_sealed`
    pub const CONTACT_NAME: &str = "product_contacts.name";
    /// `product_contacts.phone_sealed`
    pub const CONTACT_PHONE: &str = "product_contacts.phone";
    /// `product_contacts.address_sealed`
    pub const CONTACT_ADDRESS: &str = "product_contacts.address";
    /// `product_contacts.note_sealed`
    pub const CONTACT_NOTE: &str = "product_contacts.note";
}

/// The configured key, or 503 `DATA_KEY_MISSING` (personal data is never stored in clear).
pub fn key(env: &Env) -> Result<DataKey, ApiError> {
    let missing = ApiError::Unavailable(
        "DATA_KEY_MISSING",
        "服务未配置个人信息加密密钥（DATA_KEY），暂不能报名",
    );
    let secret = secret_setting(env, "DATA_KEY").ok_or(missing)?;
    DataKey::from_base64(secret.expose()).map_err(|e| {
        worker::console_error!("DATA_KEY: {e}");
        ApiError::Unavailable(
            "DATA_KEY_MISSING",
            "服务的个人信息加密密钥（DATA_KEY）无效，暂不能报名",
        )
    })
}

/// Seals `plaintext` for `column` with a fresh random nonce.
pub fn seal(key: &DataKey, column: &str, plaintext: &str) -> Result<String, ApiError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut nonce).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    Ok(key.seal(column, nonce, plaintext))
}

/// Opens a sealed value; a value that does not open is an internal error (wrong key).
pub fn open(key: &DataKey, column: &str, sealed: &str) -> Result<String, ApiError> {
    key.open(column, sealed)
        .map_err(|e| ApiError::Internal(format!("{column}: {e}")))
}
