//! WeChat Pay API v3, purely: request signing and the `Authorization` header, verification of
//! responses and callbacks, `AEAD_AES_256_GCM` resources, typed notifications, JSAPI `paySign`,
//! and the order-field newtypes. No I/O and no clock: callers pass `now`.
//!
//! RSA is the pure-Rust `rsa` crate (native and wasm32). Both directions leave a seam for
//! another back end such as WebCrypto: [`Signer`] / the message builders for signing,
//! [`RsaVerifier`] / [`PendingVerification`] for verifying.
//!
//! ```text
//! headers ─► SignedHeaders::from_pairs ─► verify_signed(headers, body, keys, now)
//!        └─► open_notification(…, apiv3_key, now) ─► OpenedNotification::transaction()
//! ```

mod aead;
mod der;
pub mod devkeys;
mod fields;
mod jsapi;
mod keys;
mod notify;
mod privacy;
mod sign;
mod verify;

pub use aead::{
    decrypt as aead_decrypt, decrypt_to_string as aead_decrypt_to_string, encrypt as aead_encrypt,
    AeadError, ApiV3Key, ALGORITHM,
};
pub use fields::{Attach, Description, FieldError, OutTradeNo};
pub use jsapi::{
    package, paysign_message, JsapiPayParams, JsapiPrepayRequest, PrepayAmount, PrepayPayer,
    PrepayResponse, SettleInfo, PREPAY_PATH,
};
pub use keys::{Certificate, KeyError, PrivateKey, PublicKey, VerifyingPem};
pub use notify::{
    open_notification, EncryptedResource, Notification, NotifyError, OpenedNotification, Payer,
    RefundAmount, RefundNotice, RefundStatus, TradeState, TradeType, Transaction,
    TransactionAmount, EVENT_REFUND_ABNORMAL, EVENT_REFUND_CLOSED, EVENT_REFUND_SUCCESS,
    EVENT_TRANSACTION_SUCCESS, RESOURCE_TYPE_ENCRYPTED,
};
pub use privacy::{decrypt_sensitive, encrypt_sensitive, PrivacyError};
pub use sign::{
    request_message, sign_base64, Authorization, AuthorizationError, SignError, Signer, SCHEME,
};
pub use verify::{
    check_clock_skew, decode_signature, response_message, sign_for_test, verify_signed,
    verify_with_key, KeyKind, KeySet, PendingVerification, RsaVerifier, RustRsa, SignedHeaders,
    Verified, VerifyError, HEADER_NONCE, HEADER_SERIAL, HEADER_SIGNATURE, HEADER_SIGNATURE_TYPE,
    HEADER_TIMESTAMP, MAX_CLOCK_SKEW_SECS, PUBLIC_KEY_ID_PREFIX, SIGNATURE_PROBE_PREFIX,
    SIGNATURE_TYPE_RSA,
};
