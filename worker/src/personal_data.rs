//! Personal data at rest (rules in `shoukuan_core::personal_data`): sealing with the
//! operator's versioned data key (`DATA_KEY`, older versions in `DATA_KEY_PREVIOUS`), and the
//! one keyed hash of an openid ([`openid_key`]) for columns that only need equality. This
//! module reads the keys and draws the nonces; `rotate` reseals and converts stored rows.

pub mod rotate;

use shoukuan_core::personal_data::{Binding, DataKey, NONCE_LEN};
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
    /// `orders.payer_sealed`, bound to the order's id.
    pub const ORDER_PAYER: &str = "orders.payer";
    /// `oa_followups.openid_sealed`, bound to the order's id.
    pub const FOLLOWUP_OPENID: &str = "oa_followups.openid";
    /// `product_contacts.name_sealed`, bound to the contact's id.
    pub const CONTACT_NAME: &str = "product_contacts.name";
    /// `product_contacts.phone_sealed`, bound to the contact's id.
    pub const CONTACT_PHONE: &str = "product_contacts.phone";
    /// `product_contacts.address_sealed`, bound to the contact's id.
    pub const CONTACT_ADDRESS: &str = "product_contacts.address";
    /// `product_contacts.note_sealed`, bound to the contact's id.
    pub const CONTACT_NOTE: &str = "product_contacts.note";
}

/// The configured keys, or 503 `DATA_KEY_MISSING` (personal data is never stored in clear).
pub fn key(env: &Env) -> Result<DataKey, ApiError> {
    let missing = ApiError::Unavailable(
        "DATA_KEY_MISSING",
        "服务未配置个人信息加密密钥（DATA_KEY），暂不能报名",
    );
    let secret = secret_setting(env, "DATA_KEY").ok_or(missing)?;
    let previous = secret_setting(env, "DATA_KEY_PREVIOUS");
    DataKey::from_config(secret.expose(), previous.as_ref().map(|p| p.expose())).map_err(|e| {
        worker::console_error!("DATA_KEY: {e}");
        ApiError::Unavailable(
            "DATA_KEY_MISSING",
            "服务的个人信息加密密钥（DATA_KEY）无效，暂不能报名",
        )
    })
}

fn nonce() -> Result<[u8; NONCE_LEN], ApiError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut nonce).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    Ok(nonce)
}

/// Seals `plaintext` for `column` with a fresh random nonce.
pub fn seal(key: &DataKey, column: &str, plaintext: &str) -> Result<String, ApiError> {
    Ok(key.seal(column, nonce()?, plaintext))
}

/// Opens a sealed value; a value that does not open is an internal error (wrong key).
pub fn open(key: &DataKey, column: &str, sealed: &str) -> Result<String, ApiError> {
    key.open(column, sealed)
        .map_err(|e| ApiError::Internal(format!("{column}: {e}")))
}

/// Seals `plaintext` for `column` of row `row` (it opens in no other row or column).
pub fn seal_row(
    key: &DataKey,
    column: &str,
    row: &str,
    plaintext: &str,
) -> Result<String, ApiError> {
    Ok(key.seal_bound(Binding::Row(column, row), nonce()?, plaintext))
}

/// Opens what [`seal_row`] sealed for the same column and row.
pub fn open_row(key: &DataKey, column: &str, row: &str, sealed: &str) -> Result<String, ApiError> {
    key.open_bound(Binding::Row(column, row), sealed)
        .map_err(|e| ApiError::Internal(format!("{column} of {row}: {e}")))
}

/// The one keyed hash of an openid, for columns that only need equality (orders' payer,
/// scans, visits, pushes, channel followers, sign-ups, follow-ups): 32 hex digits of
/// SHA-256 over `SESSION_SECRET | payer | openid` (the value `orders.payer_key` has held since
/// it exists, so those rows need no migration).
///
/// The key is `SESSION_SECRET`, not the data key: the data key rotates, and a hash under a
/// rotated key would no longer find earlier rows. Changing `SESSION_SECRET` therefore also
/// makes earlier rows unfindable by openid (README, "Personal data at rest").
pub fn openid_key(env: &Env, openid: &str) -> Result<String, ApiError> {
    let secret = secret_setting(env, "SESSION_SECRET").ok_or(ApiError::Unavailable(
        "SESSION_SECRET_MISSING",
        "服务未配置会话密钥（SESSION_SECRET）",
    ))?;
    Ok(hash_openid(secret.expose(), openid))
}

/// [`openid_key`] with the secret at hand (the rotation converts many rows per call).
pub fn hash_openid(secret: &str, openid: &str) -> String {
    crate::secrets::token_hash(&format!("{secret}|payer|{openid}"))[..32].to_owned()
}

/// What a payer's openid becomes in an order row: its keyed hash, and the openid sealed to
/// the order (for what needs it back: points). Either is `None` when its key is missing — a
/// payment is never refused or lost for it; the error is logged.
pub fn payer_columns(
    env: &Env,
    order_id: &str,
    payer: Option<&str>,
) -> (Option<String>, Option<String>) {
    let Some(payer) = payer else {
        return (None, None);
    };
    let hash = openid_key(env, payer)
        .map_err(|e| worker::console_error!("payer hash of {order_id}: {e:?}"))
        .ok();
    let sealed = key(env)
        .and_then(|k| seal_row(&k, column::ORDER_PAYER, order_id, payer))
        .map_err(|e| worker::console_error!("payer seal of {order_id}: {e:?}"))
        .ok();
    (hash, sealed)
}

/// The payer's openid of order `order_id` from its `orders.payer_sealed` (for what needs the
/// openid itself, e.g. a points member or a customer tag; equality needs only `payer_hash`).
pub fn open_payer(key: &DataKey, order_id: &str, sealed: &str) -> Result<String, ApiError> {
    open_row(key, column::ORDER_PAYER, order_id, sealed)
}
