//! `shoukuan mp …`: Official Account push signatures and safe-mode encryption by hand.

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;
use shoukuan_core::mp::{self, EncodingAesKey, RANDOM_LEN};

use crate::{random_string, read_bytes, Outcome, Run};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// `signature` (3 inputs) or, with --encrypt, `msg_signature`; prints hex SHA-1.
    Signature {
        /// The server-configuration token.
        #[arg(long, allow_hyphen_values = true)]
        token: String,
        /// `timestamp` URL parameter.
        #[arg(long, allow_hyphen_values = true)]
        timestamp: String,
        /// `nonce` URL parameter.
        #[arg(long, allow_hyphen_values = true)]
        nonce: String,
        /// The `Encrypt` value, for msg_signature.
        #[arg(long, allow_hyphen_values = true)]
        encrypt: Option<String>,
    },
    /// Decrypt a safe-mode `Encrypt` value; prints the message (XML).
    Decrypt {
        /// The 43-character EncodingAESKey.
        #[arg(long, allow_hyphen_values = true)]
        aes_key: String,
        /// The account's AppID (checked against the message).
        #[arg(long)]
        appid: String,
        /// The base64 `Encrypt` value.
        #[arg(long, allow_hyphen_values = true)]
        encrypt: String,
    },
    /// Encrypt a file's exact bytes for safe mode; prints base64 `Encrypt`.
    Encrypt {
        /// The 43-character EncodingAESKey.
        #[arg(long, allow_hyphen_values = true)]
        aes_key: String,
        /// The account's AppID.
        #[arg(long)]
        appid: String,
        /// The message to encrypt.
        #[arg(long)]
        xml_file: PathBuf,
        /// The 16-byte random prefix (default: fresh random); fix it to reproduce a vector.
        #[arg(long, allow_hyphen_values = true)]
        random: Option<String>,
    },
}

const RANDOM_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

impl Run for Command {
    fn run(self) -> anyhow::Result<Outcome> {
        match self {
            Command::Signature {
                token,
                timestamp,
                nonce,
                encrypt,
            } => Ok(Outcome::ok(match encrypt {
                Some(encrypt) => mp::msg_signature(&token, &timestamp, &nonce, &encrypt),
                None => mp::url_signature(&token, &timestamp, &nonce),
            })),
            Command::Decrypt {
                aes_key,
                appid,
                encrypt,
            } => {
                let key = EncodingAesKey::parse(&aes_key)?;
                Ok(Outcome::ok(mp::decrypt(&key, &appid, &encrypt)?.msg))
            }
            Command::Encrypt {
                aes_key,
                appid,
                xml_file,
                random,
            } => {
                let key = EncodingAesKey::parse(&aes_key)?;
                let random = random.unwrap_or_else(|| random_string(RANDOM_ALPHABET, RANDOM_LEN));
                let Ok(random) = <[u8; RANDOM_LEN]>::try_from(random.as_bytes()) else {
                    bail!(
                        "--random must be exactly {RANDOM_LEN} bytes, got {}",
                        random.len()
                    );
                };
                let message = read_bytes(&xml_file)?;
                Ok(Outcome::ok(mp::encrypt(&key, &appid, &message, &random)))
            }
        }
    }
}
