//! Official Account (公众号) server protocol, purely: push signatures, safe-mode encryption,
//! inbound XML messages and events, and passive replies.
//!
//! A safe-mode push is handled by [`open_safe_mode`]: check `msg_signature`, decrypt, check the
//! appid, parse. A plain push: [`verify_url_signature`] then [`InboundMessage::parse`].

mod crypto;
mod message;
mod reply;
mod signature;

pub use crypto::{
    decrypt, encrypt, Decrypted, EncodingAesKey, MpCryptoError, ENCODING_AES_KEY_LEN, RANDOM_LEN,
};
pub use message::{
    parse_fields, EncryptedEnvelope, InboundMessage, MessageKind, XmlError, XmlFields,
    MAX_XML_BYTES,
};
pub use reply::{
    cdata, encrypted_reply, news_reply, text_reply, Article, ReplyError, MAX_ARTICLES,
};
pub use signature::{
    msg_signature, sha1_sorted, url_signature, verify_msg_signature, verify_url_signature,
};

/// Why a safe-mode push was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafeModeError {
    /// The body or the decrypted message is not acceptable XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// `msg_signature` does not match (wrong token, or not from WeChat).
    #[error("msg_signature does not match: wrong token, or the push is not from WeChat")]
    BadMsgSignature,
    /// Decryption failed (see the inner cause).
    #[error(transparent)]
    Crypto(#[from] MpCryptoError),
}

/// The URL parameters of a safe-mode push that take part in its verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeModeParams<'a> {
    /// `timestamp`.
    pub timestamp: &'a str,
    /// `nonce`.
    pub nonce: &'a str,
    /// `msg_signature` (not `signature`).
    pub msg_signature: &'a str,
}

/// Opens a safe-mode push: envelope, `msg_signature`, decryption with the appid check, parsing.
pub fn open_safe_mode(
    token: &str,
    key: &EncodingAesKey,
    appid: &str,
    params: SafeModeParams<'_>,
    body: &str,
) -> Result<InboundMessage, SafeModeError> {
    let envelope = EncryptedEnvelope::parse(body)?;
    if !verify_msg_signature(
        token,
        params.timestamp,
        params.nonce,
        &envelope.encrypt,
        params.msg_signature,
    ) {
        return Err(SafeModeError::BadMsgSignature);
    }
    let decrypted = decrypt(key, appid, &envelope.encrypt)?;
    Ok(InboundMessage::parse(&decrypted.msg)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_safe_mode_push_opens_and_a_tampered_one_does_not() {
        let key = EncodingAesKey::parse(&"A".repeat(43)).unwrap();
        let inner = text_reply("gh_1", "o_user", 1714112445, "hello");
        let envelope = encrypted_reply("tok", &key, "wx1", &inner, "1714112445", "n1", &[9; 16]);
        // The reply envelope has the same shape as a push (Encrypt + MsgSignature).
        let fields = parse_fields(&envelope).unwrap();
        let signature = fields.get("MsgSignature").unwrap().to_string();
        let params = SafeModeParams {
            timestamp: "1714112445",
            nonce: "n1",
            msg_signature: &signature,
        };
        let message = open_safe_mode("tok", &key, "wx1", params, &envelope).unwrap();
        assert_eq!(message.to_user_name, "gh_1");

        let wrong_token = open_safe_mode("other", &key, "wx1", params, &envelope);
        assert_eq!(wrong_token, Err(SafeModeError::BadMsgSignature));
        let wrong_appid = open_safe_mode("tok", &key, "wx2", params, &envelope);
        assert!(matches!(
            wrong_appid,
            Err(SafeModeError::Crypto(MpCryptoError::AppidMismatch { .. }))
        ));
    }
}
