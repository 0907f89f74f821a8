//! Electronic receipts (电子回单) of our own: WeChat Pay has no receipt API for received
//! payments (only for transfers out), so a receipt here is a statement *by this deployment*
//! that it recorded a payment — confirmed either by a verified WeChat Pay notification or
//! query (商户模式), or by the payee saying they received the money (个人收款码模式, 收款人确认).
//!
//! A receipt is signed with SHA256withRSA (RSASSA-PKCS1-v1_5, the scheme WeChat Pay itself
//! uses and the one `core::wechatpay::keys` and WebCrypto already implement) over its
//! [`Receipt::canonical`] text. The key id is derived from the public key
//! ([`key_id`]), so rotating the key changes the id, and a verifier needs only the public keys
//! listed at `/.well-known/shoukuan-receipt-keys.json` — no secret.

pub mod page;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::money::Fen;
use crate::paytime::rfc3339_cst;
use crate::wechatpay::{PrivateKey, PublicKey};

/// First line of the signed text: the format version.
pub const CANONICAL_HEADER: &str = "shoukuan-receipt/1";

/// The signature algorithm named in the key list.
pub const ALGORITHM: &str = "RS256";

/// Who confirmed the payment a receipt records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmedBy {
    /// A verified WeChat Pay notification or query (merchant mode).
    WechatPay,
    /// The payee said they received the money (personal receive code).
    Payee,
}

impl ConfirmedBy {
    /// The signed value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmedBy::WechatPay => "wechat_pay",
            ConfirmedBy::Payee => "payee",
        }
    }

    /// What the receipt page says about the confirmation.
    pub fn label(self) -> &'static str {
        match self {
            ConfirmedBy::WechatPay => "微信支付确认",
            ConfirmedBy::Payee => "收款人确认",
        }
    }
}

/// The signed fields of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Public id (`/r/:id`).
    pub id: String,
    /// Id of the key that signed it ([`key_id`]).
    pub key_id: String,
    /// Who confirmed the payment.
    pub confirmed_by: ConfirmedBy,
    /// Who received the money (the merchant's name per the deployment model, or the payee).
    pub payee: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// Unix seconds of the payment (WeChat's success time, or the payee's confirmation).
    pub paid_at: i64,
    /// Our order number (`out_trade_no`), or the split entry reference in personal mode.
    pub order_no: String,
    /// WeChat Pay's transaction id, partly masked ([`mask_transaction_id`]); empty when none.
    pub transaction_id: String,
    /// The collection's id.
    pub collection_id: String,
    /// The collection's title.
    pub collection: String,
    /// Unix seconds the receipt was issued.
    pub issued_at: i64,
}

/// A receipt with its signature: what is stored (sealed), served as JSON and verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The signed fields.
    #[serde(flatten)]
    pub receipt: Receipt,
    /// Base64 SHA256withRSA over [`Receipt::canonical`].
    pub signature: String,
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No listed key has this id.
    #[error("unknown key id {0}")]
    UnknownKey(String),
    /// The signature is not base64.
    #[error("signature is not base64")]
    BadSignature,
    /// A field holds a line break or control character (never signed).
    #[error("a field holds a control character")]
    ControlCharacter,
    /// The signature does not match the fields: modified or not ours.
    #[error("signature does not match the fields")]
    Mismatch,
}

/// Replaces control characters (line breaks included) with spaces and trims: applied to every
/// text field before signing, so the canonical text has exactly one field per line.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// `4200000925202101284997714292` → `4200********************4292`: enough to match it
/// against the payer's WeChat bill, not enough to query it.
pub fn mask_transaction_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

/// The id of a public key: `rk-` and the first 16 hex digits of SHA-256 of its SPKI DER.
pub fn key_id(key: &PublicKey) -> String {
    format!("rk-{}", &hex::encode(Sha256::digest(key.spki_der()))[..16])
}

impl Receipt {
    /// The text that is signed: a header line, then one `name:value` line per field in this
    /// fixed order, each line ending in `\n`. Amount in fen; times RFC 3339 in China time.
    pub fn canonical(&self) -> String {
        let fields: [(&str, String); 11] = [
            ("id", self.id.clone()),
            ("key_id", self.key_id.clone()),
            ("confirmed_by", self.confirmed_by.as_str().to_string()),
            ("payee", self.payee.clone()),
            ("amount_fen", self.amount_fen.to_string()),
            ("paid_at", rfc3339_cst(self.paid_at)),
            ("order_no", self.order_no.clone()),
            ("transaction_id", self.transaction_id.clone()),
            ("collection_id", self.collection_id.clone()),
            ("collection", self.collection.clone()),
            ("issued_at", rfc3339_cst(self.issued_at)),
        ];
        let mut out = format!("{CANONICAL_HEADER}\n");
        for (name, value) in fields {
            out.push_str(name);
            out.push(':');
            out.push_str(&value);
            out.push('\n');
        }
        out
    }

    fn has_control_characters(&self) -> bool {
        [
            &self.id,
            &self.key_id,
            &self.payee,
            &self.order_no,
            &self.transaction_id,
            &self.collection_id,
            &self.collection,
        ]
        .iter()
        .any(|v| v.chars().any(char::is_control))
    }

    /// The amount.
    pub fn amount(&self) -> Fen {
        Fen::new(self.amount_fen)
    }

    /// The fields as the pages list them: (label, value), in the signed order.
    pub fn display_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("收款方", self.payee.clone()),
            ("金额", self.amount().to_string()),
            ("付款时间", crate::paytime::display_cst(self.paid_at)),
            ("确认方式", self.confirmed_by.label().to_string()),
            ("订单号", self.order_no.clone()),
        ];
        if !self.transaction_id.is_empty() {
            fields.push(("微信支付单号", self.transaction_id.clone()));
        }
        fields.push(("收款项目", self.collection.clone()));
        fields.push(("回单编号", self.id.clone()));
        fields.push(("开具时间", crate::paytime::display_cst(self.issued_at)));
        fields.push(("签名密钥", self.key_id.clone()));
        fields
    }
}

/// Signs `receipt` with the pure-Rust RSA (tests and the CLI; the worker may use WebCrypto over
/// the same [`Receipt::canonical`] bytes).
pub fn sign(receipt: Receipt, key: &PrivateKey) -> Result<SignedReceipt, rsa::Error> {
    use base64::Engine as _;
    let signature = key.sign_sha256(receipt.canonical().as_bytes())?;
    Ok(SignedReceipt {
        receipt,
        signature: base64::engine::general_purpose::STANDARD.encode(signature),
    })
}

/// Checks a signed receipt against the listed public keys (`(key id, key)`).
pub fn verify(signed: &SignedReceipt, keys: &[(String, PublicKey)]) -> Result<(), VerifyError> {
    use base64::Engine as _;
    let receipt = &signed.receipt;
    if receipt.has_control_characters() {
        return Err(VerifyError::ControlCharacter);
    }
    let key = keys
        .iter()
        .find(|(id, _)| *id == receipt.key_id)
        .map(|(_, key)| key)
        .ok_or_else(|| VerifyError::UnknownKey(receipt.key_id.clone()))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signed.signature.as_bytes())
        .map_err(|_| VerifyError::BadSignature)?;
    if key.verify_sha256(receipt.canonical().as_bytes(), &signature) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// One entry of the public key list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedKey {
    /// [`key_id`] of the key.
    pub key_id: String,
    /// [`ALGORITHM`].
    pub alg: String,
    /// `current` (signs new receipts) or `retired` (verifies old ones).
    pub status: String,
    /// SPKI `BEGIN PUBLIC KEY` PEM.
    pub public_key_pem: String,
}

/// The document at `/.well-known/shoukuan-receipt-keys.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// How a receipt is signed, in one sentence.
    pub scheme: String,
    /// The keys, current first.
    pub keys: Vec<ListedKey>,
}

impl KeyList {
    /// The list for a current key and any retired ones.
    pub fn new(current: &PublicKey, retired: &[PublicKey]) -> KeyList {
        let entry = |key: &PublicKey, status: &str| ListedKey {
            key_id: key_id(key),
            alg: ALGORITHM.to_string(),
            status: status.to_string(),
            public_key_pem: key.to_pem(),
        };
        let mut keys = vec![entry(current, "current")];
        keys.extend(retired.iter().map(|k| entry(k, "retired")));
        KeyList {
            scheme: format!(
                "RSASSA-PKCS1-v1_5 SHA-256 over the canonical text: the line `{CANONICAL_HEADER}`, then \
                 `name:value` lines for id, key_id, confirmed_by, payee, amount_fen, paid_at, order_no, \
                 transaction_id, collection_id, collection, issued_at (times RFC 3339 +08:00), each ending in \\n"
            ),
            keys,
        }
    }

    /// The keys with their ids, for [`verify`]. Entries whose PEM does not parse are skipped.
    pub fn public_keys(&self) -> Vec<(String, PublicKey)> {
        self.keys
            .iter()
            .filter_map(|k| {
                PublicKey::from_pem(&k.public_key_pem)
                    .ok()
                    .map(|key| (k.key_id.clone(), key))
            })
            .collect()
    }
}

/// Every `BEGIN PUBLIC KEY` block in `pems` (retired keys, concatenated in one setting).
pub fn parse_public_keys(pems: &str) -> Vec<PublicKey> {
    const END: &str = "-----END PUBLIC KEY-----";
    pems.split_inclusive(END)
        .filter(|block| block.contains(END))
        .filter_map(|block| PublicKey::from_pem(block.trim()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechatpay::PrivateKey;

    fn key() -> PrivateKey {
        use rsa::RsaPrivateKey;
        // A small key keeps the test quick; the scheme does not depend on the size.
        PrivateKey::from(RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap())
    }

    fn receipt(key: &PrivateKey) -> Receipt {
        Receipt {
            id: "r_abc".into(),
            key_id: key_id(&key.public_key()),
            confirmed_by: ConfirmedBy::WechatPay,
            payee: "收款示例商店".into(),
            amount_fen: 1234,
            paid_at: 1_764_322_031,
            order_no: "SK20261129".into(),
            transaction_id: mask_transaction_id("4200000925202101284997714292"),
            collection_id: "c1".into(),
            collection: "课程费".into(),
            issued_at: 1_764_322_040,
        }
    }

    #[test]
    fn a_genuine_receipt_verifies_and_a_changed_amount_does_not() {
        let key = key();
        let keys = KeyList::new(&key.public_key(), &[]).public_keys();
        let signed = sign(receipt(&key), &key).unwrap();
        assert_eq!(verify(&signed, &keys), Ok(()));

        let mut changed = signed.clone();
        changed.receipt.amount_fen = 123_400;
        assert_eq!(verify(&changed, &keys), Err(VerifyError::Mismatch));

        let mut renamed = signed.clone();
        renamed.receipt.confirmed_by = ConfirmedBy::Payee;
        assert_eq!(verify(&renamed, &keys), Err(VerifyError::Mismatch));
    }

    #[test]
    fn an_unknown_key_or_a_smuggled_line_is_refused() {
        let key = key();
        let other = key_id(&self::key().public_key());
        let keys = KeyList::new(&key.public_key(), &[]).public_keys();
        let signed = sign(receipt(&key), &key).unwrap();
        let mut foreign = signed.clone();
        foreign.receipt.key_id = other.clone();
        assert_eq!(verify(&foreign, &keys), Err(VerifyError::UnknownKey(other)));
        let mut smuggled = signed;
        smuggled.receipt.payee = "A\namount_fen:1".into();
        assert_eq!(verify(&smuggled, &keys), Err(VerifyError::ControlCharacter));
    }

    #[test]
    fn retired_keys_still_verify_old_receipts() {
        let old = key();
        let new = key();
        let signed = sign(receipt(&old), &old).unwrap();
        let list = KeyList::new(&new.public_key(), &[old.public_key()]);
        assert_eq!(list.keys[1].status, "retired");
        assert_eq!(verify(&signed, &list.public_keys()), Ok(()));
        let both = format!(
            "{}\n{}",
            old.public_key().to_pem(),
            new.public_key().to_pem()
        );
        assert_eq!(parse_public_keys(&both).len(), 2);
    }

    #[test]
    fn canonical_text_is_one_field_per_line_in_china_time() {
        let key = key();
        let text = receipt(&key).canonical();
        assert!(text.starts_with("shoukuan-receipt/1\nid:r_abc\nkey_id:rk-"));
        assert!(text.contains("\namount_fen:1234\n"));
        assert!(text.contains("+08:00\n"));
        assert_eq!(text.lines().count(), 12);
        assert_eq!(clean(" a\nb\t"), "a b");
    }

    #[test]
    fn transaction_ids_keep_four_digits_each_side() {
        assert_eq!(
            mask_transaction_id("4200000925202101284997714292"),
            "4200********************4292"
        );
        assert_eq!(mask_transaction_id("1234"), "****");
    }

    #[test]
    fn serialized_receipts_round_trip() {
        let key = key();
        let signed = sign(receipt(&key), &key).unwrap();
        let json = serde_json::to_string(&signed).unwrap();
        assert!(json.contains("\"confirmed_by\":\"wechat_pay\""));
        assert_eq!(
            serde_json::from_str::<SignedReceipt>(&json).unwrap(),
            signed
        );
    }
}
