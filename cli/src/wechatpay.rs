//! `shoukuan wechatpay …`: each WeChat Pay v3 step by hand, and `inspect-notify`, which replays a
//! captured callback through every check and names the first that fails.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _};
use clap::Subcommand;
use shoukuan_core::wechatpay::{
    aead_decrypt_to_string, sign_base64, verify_signed, verify_with_key, ApiV3Key, Authorization,
    JsapiPayParams, KeySet, Notification, NotifyError, PrivateKey, SignedHeaders, VerifyError,
    VerifyingPem,
};

use crate::{now_unix, random_string, read_bytes, read_text, Outcome, Run, NONCE_ALPHABET};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Base64 SHA256withRSA signature of a file's exact bytes.
    Sign {
        /// Private key PEM file (PKCS#8 or PKCS#1).
        #[arg(long)]
        key: PathBuf,
        /// File whose exact bytes are signed.
        #[arg(long)]
        message_file: PathBuf,
    },
    /// The `Authorization` header value for a request.
    Authorization {
        /// Merchant private key PEM file.
        #[arg(long)]
        key: PathBuf,
        /// Merchant id.
        #[arg(long)]
        mchid: String,
        /// Merchant API certificate serial.
        #[arg(long)]
        serial: String,
        /// HTTP method.
        #[arg(long)]
        method: String,
        /// Path and query exactly as sent, e.g. /v3/pay/transactions/jsapi.
        #[arg(long)]
        url: String,
        /// Request body file (omit for GET / no body).
        #[arg(long)]
        body_file: Option<PathBuf>,
        /// Unix seconds (default: now).
        #[arg(long, allow_hyphen_values = true)]
        timestamp: Option<i64>,
        /// Nonce (default: 32 random characters).
        #[arg(long, allow_hyphen_values = true)]
        nonce: Option<String>,
    },
    /// Verify a WeChat Pay signature over timestamp, nonce and body; prints `ok`.
    Verify {
        /// WeChat Pay public key or platform certificate PEM file.
        #[arg(long)]
        key: PathBuf,
        /// Wechatpay-Timestamp.
        #[arg(long, allow_hyphen_values = true)]
        timestamp: String,
        /// Wechatpay-Nonce.
        #[arg(long, allow_hyphen_values = true)]
        nonce: String,
        /// Wechatpay-Signature.
        #[arg(long, allow_hyphen_values = true)]
        signature: String,
        /// Raw body file.
        #[arg(long)]
        body_file: PathBuf,
        /// Unix seconds to check the timestamp against (default: now).
        #[arg(long, allow_hyphen_values = true)]
        now: Option<i64>,
    },
    /// Decrypt an AEAD_AES_256_GCM resource; prints the plaintext.
    Decrypt {
        /// The 32-character APIv3 key.
        #[arg(long, allow_hyphen_values = true)]
        apiv3_key: String,
        /// resource.nonce (12 characters).
        #[arg(long, allow_hyphen_values = true)]
        nonce: String,
        /// resource.associated_data (may be empty).
        #[arg(long, allow_hyphen_values = true)]
        associated_data: String,
        /// resource.ciphertext (base64).
        #[arg(long, allow_hyphen_values = true)]
        ciphertext: String,
    },
    /// The JSAPI paySign for a prepay id.
    Paysign {
        /// Merchant private key PEM file.
        #[arg(long)]
        key: PathBuf,
        /// appId.
        #[arg(long)]
        appid: String,
        /// timeStamp.
        #[arg(long, allow_hyphen_values = true)]
        timestamp: String,
        /// nonceStr.
        #[arg(long, allow_hyphen_values = true)]
        nonce: String,
        /// prepay_id (without the `prepay_id=` prefix).
        #[arg(long)]
        prepay_id: String,
    },
    /// Replay a captured callback through every check; prints the decrypted resource JSON.
    InspectNotify {
        /// File of `Name: value` header lines as captured.
        #[arg(long)]
        headers_file: PathBuf,
        /// Raw body file.
        #[arg(long)]
        body_file: PathBuf,
        /// The 32-character APIv3 key.
        #[arg(long, allow_hyphen_values = true)]
        apiv3_key: String,
        /// ID=PEM_FILE: a platform certificate serial or PUB_KEY_ID_…, and its certificate or
        /// public key. Repeat for each key.
        #[arg(long = "key", required = true)]
        keys: Vec<String>,
        /// Unix seconds to check the timestamp against (default: now).
        #[arg(long, allow_hyphen_values = true)]
        now: Option<i64>,
    },
}

impl Run for Command {
    fn run(self) -> anyhow::Result<Outcome> {
        match self {
            Command::Sign { key, message_file } => {
                let key = private_key(&key)?;
                let message = read_bytes(&message_file)?;
                Ok(Outcome::ok(sign_base64(&key, &message)?))
            }
            Command::Authorization {
                key,
                mchid,
                serial,
                method,
                url,
                body_file,
                timestamp,
                nonce,
            } => {
                let key = private_key(&key)?;
                let body = match body_file {
                    Some(path) => read_bytes(&path)?,
                    None => Vec::new(),
                };
                let timestamp = timestamp.unwrap_or_else(now_unix);
                let nonce = nonce.unwrap_or_else(|| random_string(NONCE_ALPHABET, 32));
                let method = method.to_ascii_uppercase();
                let auth = Authorization::sign(
                    &key, &mchid, &serial, &method, &url, timestamp, &nonce, &body,
                )?;
                Ok(Outcome::ok(auth.header_value()))
            }
            Command::Verify {
                key,
                timestamp,
                nonce,
                signature,
                body_file,
                now,
            } => {
                let key = VerifyingPem::from_pem(&read_text(&key)?)
                    .with_context(|| format!("cannot read key {}", key.display()))?;
                let body = read_bytes(&body_file)?;
                verify_with_key(
                    key.public_key(),
                    &timestamp,
                    &nonce,
                    &signature,
                    &body,
                    now.unwrap_or_else(now_unix),
                )
                .map_err(|e| explain_verify(e, &body))?;
                Ok(Outcome::ok("ok"))
            }
            Command::Decrypt {
                apiv3_key,
                nonce,
                associated_data,
                ciphertext,
            } => {
                let key = ApiV3Key::new(apiv3_key.as_bytes())?;
                let plaintext = aead_decrypt_to_string(
                    &key,
                    nonce.as_bytes(),
                    associated_data.as_bytes(),
                    &ciphertext,
                )?;
                Ok(Outcome::ok(plaintext))
            }
            Command::Paysign {
                key,
                appid,
                timestamp,
                nonce,
                prepay_id,
            } => {
                let key = private_key(&key)?;
                let params = JsapiPayParams::sign(&key, &appid, &timestamp, &nonce, &prepay_id)?;
                Ok(Outcome::ok(params.pay_sign))
            }
            Command::InspectNotify {
                headers_file,
                body_file,
                apiv3_key,
                keys,
                now,
            } => inspect_notify(&headers_file, &body_file, &apiv3_key, &keys, now),
        }
    }
}

fn private_key(path: &std::path::Path) -> anyhow::Result<PrivateKey> {
    PrivateKey::from_pem(&read_text(path)?)
        .with_context(|| format!("cannot read private key {}", path.display()))
}

/// Adds the hint people need most often to a bad signature: a file saved with a final newline.
fn explain_verify(error: VerifyError, body: &[u8]) -> anyhow::Error {
    if error == VerifyError::BadSignature && body.ends_with(b"\n") {
        anyhow!("{error}; note: the body file ends with a newline, which is signed too (was it added when saving?)")
    } else {
        anyhow!(error)
    }
}

/// `Name: value` lines; request lines, blank lines and anything without a colon are skipped.
fn parse_headers_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| !name.trim().is_empty() && !name.contains(' '))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect()
}

fn key_set(specs: &[String]) -> anyhow::Result<KeySet> {
    let mut keys = KeySet::new();
    for spec in specs {
        let (id, path) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("--key {spec}: expected ID=PEM_FILE"))?;
        let path = PathBuf::from(path);
        let pem = VerifyingPem::from_pem(&read_text(&path)?)
            .with_context(|| format!("cannot read key {}", path.display()))?;
        match pem {
            VerifyingPem::Certificate(cert) => {
                if !cert.serial().eq_ignore_ascii_case(id) {
                    bail!(
                        "--key {id}: the certificate in {} has serial {}, not {id}",
                        path.display(),
                        cert.serial()
                    );
                }
                keys.add_certificate(&cert);
            }
            VerifyingPem::PublicKey(public) => keys.add_public_key(id, public),
        }
    }
    Ok(keys)
}

fn inspect_notify(
    headers_file: &std::path::Path,
    body_file: &std::path::Path,
    apiv3_key: &str,
    key_specs: &[String],
    now: Option<i64>,
) -> anyhow::Result<Outcome> {
    let keys = key_set(key_specs)?;
    let headers = SignedHeaders::from_pairs(parse_headers_file(&read_text(headers_file)?))?;
    let body = read_bytes(body_file)?;
    verify_signed(&headers, &body, &keys, now.unwrap_or_else(now_unix))
        .map_err(|e| explain_verify(e, &body))?;
    let notification = Notification::parse(&body)?;
    // The key is checked only now, so a wrong-length key does not hide signature problems.
    let key = ApiV3Key::new(apiv3_key.as_bytes()).map_err(NotifyError::Decrypt)?;
    Ok(Outcome::ok(notification.decrypt(&key)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_file_skips_request_line_and_blank_lines() {
        let text = "POST /wechatpay/notify HTTP/1.1\r\nHost: example.com\r\n\r\nwechatpay-serial:  ABC \r\n";
        let pairs = parse_headers_file(text);
        assert_eq!(
            pairs,
            vec![
                ("Host".to_string(), "example.com".to_string()),
                ("wechatpay-serial".to_string(), "ABC".to_string())
            ]
        );
    }
}
