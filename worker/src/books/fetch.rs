//! Applying for a bill and downloading it (PROTOCOL-2 §1.1): the apply call is signed and its
//! answer verified like every call; the download is a signed request whose answer WeChat does
//! not sign, so the file is checked instead — gunzipped, then its SHA-1 compared with the apply
//! answer's `hash_value`. A file that does not match is refused: nothing is parsed from it.

use serde::Deserialize;
use shoukuan_core::bill::{self, gzip, BillError};
use worker::{Env, Method};

use crate::pay::client::{self, CallError};
use crate::pay::config::PayConfig;

/// What one try gave.
pub enum Fetched {
    /// The verified, uncompressed file.
    File {
        /// Its text.
        text: String,
        /// Its SHA-1 (= `hash_value`).
        hash: String,
    },
    /// `NO_STATEMENT_EXIST`: no trade that day, or not made yet.
    NoStatement,
    /// Not now (`STATEMENT_CREATING`, a refusal, no answer): try again later.
    NotYet(String),
    /// The file was not the one described (hash, gzip, encoding): refused, not parsed.
    Refused(String),
}

#[derive(Deserialize)]
struct Applied {
    hash_type: String,
    hash_value: String,
    download_url: String,
}

/// Applies at `apply_path` and downloads the file.
pub async fn fetch(env: &Env, config: &PayConfig, apply_path: &str) -> Fetched {
    let answer = match client::call(env, config, Method::Get, apply_path, None).await {
        Ok(answer) => answer,
        Err(CallError::Refused { code, .. }) if code == "NO_STATEMENT_EXIST" => {
            return Fetched::NoStatement
        }
        Err(CallError::Refused { code, message, .. }) => {
            return Fetched::NotYet(format!("{code} {message}"))
        }
        Err(e) => return Fetched::NotYet(e.to_string()),
    };
    let applied: Applied = match serde_json::from_slice(&answer.body) {
        Ok(a) => a,
        Err(e) => return Fetched::NotYet(format!("apply answer: {e}")),
    };
    if !applied.hash_type.eq_ignore_ascii_case("SHA1") {
        return Fetched::Refused(format!("不支持的摘要类型 {}", applied.hash_type));
    }
    let Some(path) = bill::download_path(&applied.download_url) else {
        return Fetched::Refused("download_url 无效".into());
    };
    // Signed request, unsigned answer: the hash is the check (PROTOCOL-2 §1.1).
    let file = match client::exchange(config, Method::Get, path, None).await {
        Ok(file) if file.status == 200 => file,
        Ok(file) => return Fetched::NotYet(format!("download answered {}", file.status)),
        Err(e) => return Fetched::NotYet(e.to_string()),
    };
    match open(&file.body, &applied.hash_value) {
        Ok((text, hash)) => Fetched::File { text, hash },
        Err(e) => Fetched::Refused(e.to_string()),
    }
}

/// Gunzips (when gzip) and checks the hash of the uncompressed bytes, then reads UTF-8.
fn open(body: &[u8], hash_value: &str) -> Result<(String, String), BillError> {
    let raw = if body.starts_with(&[0x1f, 0x8b]) {
        gzip::gunzip(body)?
    } else {
        body.to_vec()
    };
    bill::verify_hash(&raw, hash_value)?;
    let hash = bill::sha1_hex(&raw);
    let text = String::from_utf8(raw).map_err(|_| BillError::Encoding)?;
    Ok((text, hash))
}
