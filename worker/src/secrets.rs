//! Random identifiers, tokens and their hashes.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

const ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    Ok(buf)
}

/// A public collection id: 12 characters from an alphabet without look-alikes (≈ 70 bits).
pub fn new_public_id() -> Result<String, ApiError> {
    let n = ID_ALPHABET.len() as u8;
    // Rejection sampling keeps every character equally likely.
    let limit = u8::MAX - (u8::MAX % n);
    let mut id = String::with_capacity(12);
    while id.len() < 12 {
        for b in random_bytes::<32>()? {
            if b < limit && id.len() < 12 {
                id.push(ID_ALPHABET[usize::from(b % n)] as char);
            }
        }
    }
    Ok(id)
}

/// A manage token: 32 random bytes, base64url without padding.
pub fn new_token() -> Result<String, ApiError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// SHA-256 of a token, hex: what is stored instead of the token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time string equality for secrets.
pub fn secret_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
