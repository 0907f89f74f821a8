//! Property tests of the protocol code: round trips (sign → verify, encrypt → decrypt) and
//! tamper detection (any single-byte change to body, signature, nonce or timestamp fails).
//! RSA is slow in debug builds, so the RSA properties run few cases with a key read once.

use std::sync::OnceLock;

use base64::Engine as _;
use proptest::prelude::*;
use shoukuan_core::mp;
use shoukuan_core::wechatpay::{
    aead_decrypt, aead_encrypt, sign_for_test, verify_signed, AeadError, ApiV3Key, Authorization,
    KeySet, PrivateKey, SignedHeaders,
};

const SERIAL: &str = "PUB_KEY_ID_0114232212345678901234567890123456";

/// The official test key, read from the vectors (never generated: keygen is slow in debug).
fn signer() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors/wechatpay_rsa_sha256.json");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        PrivateKey::from_pem(json["vectors"][0]["private_key_pem"].as_str().unwrap()).unwrap()
    })
}

fn keys() -> KeySet {
    let mut keys = KeySet::new();
    keys.add_public_key(SERIAL, signer().public_key());
    keys
}

fn rsa_config() -> ProptestConfig {
    ProptestConfig::with_cases(32)
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Body,
    Signature,
    Nonce,
    Timestamp,
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        Just(Field::Body),
        Just(Field::Signature),
        Just(Field::Nonce),
        Just(Field::Timestamp)
    ]
}

/// Replaces the byte at `index % len` with another byte of the same class, keeping UTF-8 and
/// ASCII text valid.
fn change_ascii(text: &str, index: usize, delta: u8) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let i = index % bytes.len();
    let alphabet: &[u8] = if bytes[i].is_ascii_digit() {
        b"0123456789"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    };
    let pos = alphabet.iter().position(|&b| b == bytes[i]).unwrap_or(0);
    let step = 1 + usize::from(delta) % (alphabet.len() - 1);
    bytes[i] = alphabet[(pos + step) % alphabet.len()];
    String::from_utf8(bytes).unwrap()
}

proptest! {
    #![proptest_config(rsa_config())]

    #[test]
    fn signed_bodies_verify(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        nonce in "[A-Za-z0-9]{1,32}",
        timestamp in 1_500_000_000i64..2_000_000_000,
        skew in -300i64..=300,
    ) {
        let headers = sign_for_test(signer(), SERIAL, timestamp, &nonce, &body).unwrap();
        let verified = verify_signed(&headers, &body, &keys(), timestamp + skew).unwrap();
        prop_assert_eq!(verified.serial, SERIAL);
    }

    #[test]
    fn any_single_byte_change_fails_verification(
        body in proptest::collection::vec(any::<u8>(), 1..256),
        nonce in "[A-Za-z0-9]{1,32}",
        timestamp in 1_500_000_000i64..2_000_000_000,
        which in field(),
        index in any::<usize>(),
        delta in 1u8..=255,
    ) {
        let headers = sign_for_test(signer(), SERIAL, timestamp, &nonce, &body).unwrap();
        let mut body = body;
        let mut tampered = headers.clone();
        match which {
            Field::Body => {
                let i = index % body.len();
                body[i] ^= delta;
            }
            Field::Signature => {
                let engine = base64::engine::general_purpose::STANDARD;
                let mut raw = engine.decode(&headers.signature).unwrap();
                let i = index % raw.len();
                raw[i] ^= delta;
                tampered.signature = engine.encode(raw);
            }
            Field::Nonce => tampered.nonce = change_ascii(&headers.nonce, index, delta),
            Field::Timestamp => tampered.timestamp = change_ascii(&headers.timestamp, index, delta),
        }
        prop_assert!(verify_signed(&tampered, &body, &keys(), timestamp).is_err());
    }

    #[test]
    fn a_changed_signature_character_fails_verification(
        body in proptest::collection::vec(any::<u8>(), 0..64),
        index in any::<usize>(),
        delta in 1u8..=255,
    ) {
        let headers = sign_for_test(signer(), SERIAL, 1_700_000_000, "nonce", &body).unwrap();
        let tampered = SignedHeaders {
            signature: change_ascii(headers.signature.trim_end_matches('='), index, delta)
                + &"=".repeat(headers.signature.len() - headers.signature.trim_end_matches('=').len()),
            ..headers
        };
        prop_assert!(verify_signed(&tampered, &body, &keys(), 1_700_000_000).is_err());
    }

    #[test]
    fn authorization_headers_verify_and_detect_changes(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        nonce in "[A-Z0-9]{32}",
        path in "/v3/[a-z/]{1,40}(\\?[a-z]=[0-9]{1,5})?",
        index in any::<usize>(),
    ) {
        let auth = Authorization::sign(signer(), "1900007291", "408B07E7", "POST", &path, 1_700_000_000, &nonce, &body).unwrap();
        let parsed = Authorization::parse(&auth.header_value()).unwrap();
        let public = signer().public_key();
        prop_assert!(parsed.verify(&public, "POST", &path, &body, 1_700_000_100).is_ok());
        let mut changed = body.clone();
        if changed.is_empty() {
            changed.push(b'x');
        } else {
            let i = index % changed.len();
            changed[i] ^= 0x20;
        }
        prop_assert!(parsed.verify(&public, "POST", &path, &changed, 1_700_000_100).is_err());
        prop_assert!(parsed.verify(&public, "GET", &path, &body, 1_700_000_100).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gcm_round_trips_and_detects_tampering(
        key in proptest::array::uniform32(any::<u8>()),
        nonce in proptest::array::uniform12(any::<u8>()),
        aad in proptest::collection::vec(any::<u8>(), 0..32),
        plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        index in any::<usize>(),
        delta in 1u8..=255,
    ) {
        let key = ApiV3Key::new(&key).unwrap();
        let sealed = aead_encrypt(&key, &nonce, &aad, &plaintext).unwrap();
        prop_assert_eq!(aead_decrypt(&key, &nonce, &aad, &sealed).unwrap(), plaintext);

        let engine = base64::engine::general_purpose::STANDARD;
        let mut raw = engine.decode(&sealed).unwrap();
        let i = index % raw.len();
        raw[i] ^= delta;
        prop_assert_eq!(
            aead_decrypt(&key, &nonce, &aad, &engine.encode(raw)),
            Err(AeadError::TagMismatch)
        );
    }

    #[test]
    fn cbc_safe_mode_round_trips(
        key in "[A-Za-z0-9]{43}",
        appid in "wx[0-9a-f]{16}",
        msg in "\\PC{0,300}",
        random in proptest::array::uniform16(any::<u8>()),
    ) {
        let key = mp::EncodingAesKey::parse(&key).unwrap();
        let encrypted = mp::encrypt(&key, &appid, msg.as_bytes(), &random);
        let raw = base64::engine::general_purpose::STANDARD.decode(&encrypted).unwrap();
        prop_assert_eq!(raw.len() % 32, 0);
        let decrypted = mp::decrypt(&key, &appid, &encrypted).unwrap();
        prop_assert_eq!(decrypted.msg, msg);
        prop_assert_eq!(decrypted.random, random);
    }

    #[test]
    fn cbc_tampering_never_yields_the_original_silently(
        msg in "[a-z]{1,100}",
        index in any::<usize>(),
        delta in 1u8..=255,
    ) {
        let key = mp::EncodingAesKey::parse(&"k".repeat(43)).unwrap();
        let encrypted = mp::encrypt(&key, "wx0123456789abcdef", msg.as_bytes(), &[3; 16]);
        let engine = base64::engine::general_purpose::STANDARD;
        let mut raw = engine.decode(&encrypted).unwrap();
        let i = index % raw.len();
        raw[i] ^= delta;
        // CBC has no tag, so tampering is caught by padding / length / appid checks or the
        // signature; what matters is that it never decrypts to the same message.
        if let Ok(decrypted) = mp::decrypt(&key, "wx0123456789abcdef", &engine.encode(raw)) {
            prop_assert_ne!((decrypted.msg, decrypted.random), (msg, [3u8; 16]));
        }
    }

    #[test]
    fn msg_signature_detects_any_changed_input(
        token in "[A-Za-z0-9]{3,32}",
        timestamp in "[0-9]{10}",
        nonce in "[0-9]{9}",
        encrypt in "[A-Za-z0-9+/]{20,80}",
        index in any::<usize>(),
        delta in 1u8..=255,
    ) {
        let signature = mp::msg_signature(&token, &timestamp, &nonce, &encrypt);
        prop_assert!(mp::verify_msg_signature(&token, &timestamp, &nonce, &encrypt, &signature));
        let changed = change_ascii(&encrypt.replace(['+', '/'], "a"), index, delta);
        let original = encrypt.replace(['+', '/'], "a");
        let signature = mp::msg_signature(&token, &timestamp, &nonce, &original);
        prop_assert!(!mp::verify_msg_signature(&token, &timestamp, &nonce, &changed, &signature));
    }
}
