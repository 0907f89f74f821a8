//! The receipt signing key (`RECEIPT_SIGNING_KEY`, an RSA private key PEM kept as a wrangler
//! secret) and the public key list. The key id is derived from the public key
//! (`core::receipt::key_id`), so rotating is: put a new `RECEIPT_SIGNING_KEY`, and move the old
//! public key PEM into `RECEIPT_RETIRED_PUBLIC_KEYS` (PEM blocks one after another) so that
//! receipts signed before still verify.

use std::rc::Rc;

use base64::Engine as _;
use shoukuan_core::receipt::{self, KeyList, Receipt, SignedReceipt};
use shoukuan_core::wechatpay::{PrivateKey, PublicKey};
use worker::Env;

use crate::config::{secret_setting, setting};
use crate::error::ApiError;

/// The signing key, its id and the retired public keys, parsed once per isolate.
pub struct Signer {
    key: PrivateKey,
    der: Vec<u8>,
    /// `rk-…` of the current key.
    pub key_id: String,
    /// Every listed key (current first).
    pub list: KeyList,
}

fn missing() -> ApiError {
    ApiError::Unavailable(
        "RECEIPT_KEY_MISSING",
        "服务未配置电子回单签名密钥（RECEIPT_SIGNING_KEY），暂不能开具或验证回单",
    )
}

/// A PEM pasted into a secret may carry its line breaks as literal `\n`.
fn pem_lines(value: &str) -> String {
    value.replace("\\n", "\n")
}

fn read(env: &Env) -> Result<Signer, ApiError> {
    let pem = secret_setting(env, "RECEIPT_SIGNING_KEY").ok_or_else(missing)?;
    let key = PrivateKey::from_pem(&pem_lines(pem.expose())).map_err(|e| {
        worker::console_error!("RECEIPT_SIGNING_KEY: {e}");
        missing()
    })?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| ApiError::Internal(format!("RECEIPT_SIGNING_KEY: {e}")))?;
    let retired: Vec<PublicKey> = setting(env, "RECEIPT_RETIRED_PUBLIC_KEYS")
        .map(|pems| receipt::parse_public_keys(&pem_lines(&pems)))
        .unwrap_or_default();
    let public = key.public_key();
    Ok(Signer {
        key_id: receipt::key_id(&public),
        list: KeyList::new(&public, &retired),
        key,
        der,
    })
}

/// The configured signer (503 `RECEIPT_KEY_MISSING` without a valid key).
pub fn signer(env: &Env) -> Result<Rc<Signer>, ApiError> {
    thread_local! {
        static SIGNER: std::cell::RefCell<Option<Rc<Signer>>> = const { std::cell::RefCell::new(None) };
    }
    if let Some(signer) = SIGNER.with(|s| s.borrow().clone()) {
        return Ok(signer);
    }
    let signer = Rc::new(read(env)?);
    SIGNER.with(|s| *s.borrow_mut() = Some(signer.clone()));
    Ok(signer)
}

impl Signer {
    /// Signs with WebCrypto (the runtime's RSA), falling back to the pure-Rust RSA.
    pub async fn sign(&self, receipt: Receipt) -> Result<SignedReceipt, ApiError> {
        let message = receipt.canonical();
        let signature =
            match crate::pay::crypto::webcrypto_sign(&self.der, message.as_bytes()).await {
                Ok(signature) => signature,
                Err(e) => {
                    worker::console_error!("WebCrypto sign failed ({e}); using the Rust RSA");
                    self.key
                        .sign_sha256(message.as_bytes())
                        .map_err(|e| ApiError::Internal(format!("receipt signature: {e}")))?
                }
            };
        Ok(SignedReceipt {
            receipt,
            signature: base64::engine::general_purpose::STANDARD.encode(signature),
        })
    }

    /// Checks a receipt against every listed key.
    pub fn verify(&self, signed: &SignedReceipt) -> Result<(), receipt::VerifyError> {
        receipt::verify(signed, &self.list.public_keys())
    }
}
