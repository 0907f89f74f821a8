//! SHA256withRSA inside workerd, two ways: WebCrypto (`crypto.subtle`, BoringSSL in the runtime)
//! or the pure-Rust `rsa` crate compiled to wasm. Both plug into `core`'s seams:
//! [`PendingVerification`] for verifying (everything but the RSA operation is checked in
//! `core` first) and the message builders for signing.
//!
//! Measured per verified callback (see the README): WebCrypto is the default; `WECHATPAY_RSA=rust`
//! switches back. Imported `CryptoKey`s are cached per isolate, so each key is imported once.

use std::cell::RefCell;
use std::collections::HashMap;

use base64::Engine as _;
use shoukuan_core::wechatpay::{PendingVerification, RsaVerifier, RustRsa, Verified, VerifyError};
use worker::js_sys::{self, Array, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;

use super::config::{PayConfig, RsaBackend};

/// A WebCrypto failure (the runtime's message).
#[derive(Debug)]
pub struct CryptoError(pub String);

impl From<JsValue> for CryptoError {
    fn from(value: JsValue) -> Self {
        let message = value
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| value.as_string())
            .unwrap_or_else(|| "WebCrypto failed".to_string());
        CryptoError(message)
    }
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn subtle() -> Result<JsValue, CryptoError> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into())?;
    Ok(Reflect::get(&crypto, &"subtle".into())?)
}

async fn call(subtle: &JsValue, method: &str, args: &Array) -> Result<JsValue, CryptoError> {
    let function: Function = Reflect::get(subtle, &method.into())?.dyn_into()?;
    let promise: Promise = function.apply(subtle, args)?.dyn_into()?;
    Ok(JsFuture::from(promise).await?)
}

fn algorithm() -> Result<Object, CryptoError> {
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"RSASSA-PKCS1-v1_5".into())?;
    Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into())?;
    Ok(algorithm)
}

thread_local! {
    /// Imported keys by (usage, DER): importing costs about as much as one verification.
    static KEYS: RefCell<HashMap<(bool, Vec<u8>), JsValue>> = RefCell::new(HashMap::new());
}

async fn import(der: &[u8], private: bool) -> Result<JsValue, CryptoError> {
    let cache_key = (private, der.to_vec());
    if let Some(key) = KEYS.with(|keys| keys.borrow().get(&cache_key).cloned()) {
        return Ok(key);
    }
    let (format, usage) = if private {
        ("pkcs8", "sign")
    } else {
        ("spki", "verify")
    };
    let args = Array::of5(
        &format.into(),
        &Uint8Array::from(der).into(),
        &algorithm()?.into(),
        &JsValue::FALSE,
        &Array::of1(&usage.into()).into(),
    );
    let key = call(&subtle()?, "importKey", &args).await?;
    KEYS.with(|keys| keys.borrow_mut().insert(cache_key, key.clone()));
    Ok(key)
}

/// `crypto.subtle.verify` of a SHA256withRSA signature under an SPKI public key.
pub async fn webcrypto_verify(
    spki_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<bool, CryptoError> {
    let key = import(spki_der, false).await?;
    let args = Array::of4(
        &algorithm()?.into(),
        &key,
        &Uint8Array::from(signature).into(),
        &Uint8Array::from(message).into(),
    );
    Ok(call(&subtle()?, "verify", &args)
        .await?
        .as_bool()
        .unwrap_or(false))
}

/// `crypto.subtle.sign` (SHA256withRSA) under a PKCS#8 private key.
pub async fn webcrypto_sign(pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = import(pkcs8_der, true).await?;
    let args = Array::of3(
        &algorithm()?.into(),
        &key,
        &Uint8Array::from(message).into(),
    );
    let buffer = call(&subtle()?, "sign", &args).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Finishes a verification prepared by `core` with the chosen back end.
pub async fn finish(
    backend: RsaBackend,
    pending: PendingVerification<'_>,
) -> Result<Verified, VerifyError> {
    match backend {
        RsaBackend::Rust => pending.verify_with(&RustRsa),
        RsaBackend::WebCrypto => {
            let valid = match webcrypto_verify(
                pending.public_key().spki_der(),
                pending.message(),
                pending.signature(),
            )
            .await
            {
                Ok(valid) => valid,
                Err(e) => {
                    // A runtime without WebCrypto RSA would be a deployment fault, not a bad
                    // signature: fall back to the pure-Rust check and say so.
                    worker::console_error!("WebCrypto verify failed ({e}); using the Rust RSA");
                    RustRsa.verify_sha256_rsa(
                        pending.public_key(),
                        pending.message(),
                        pending.signature(),
                    )
                }
            };
            pending.finish(valid)
        }
    }
}

/// SHA256withRSA of `message` with the merchant key, base64 (for `Authorization` and `paySign`).
pub async fn sign_base64(config: &PayConfig, message: &[u8]) -> Result<String, CryptoError> {
    let signature = match config.rsa {
        RsaBackend::WebCrypto => webcrypto_sign(&config.private_key_der, message).await?,
        RsaBackend::Rust => config
            .private_key
            .sign_sha256(message)
            .map_err(|e| CryptoError(e.to_string()))?,
    };
    Ok(base64::engine::general_purpose::STANDARD.encode(signature))
}
