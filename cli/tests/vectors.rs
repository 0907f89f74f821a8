//! The `shoukuan` binary against the shared protocol vectors: each command reproduces the
//! published values, and each failure is one stderr line naming the failed check.

mod common;

use common::{failure, s, shoukuan, success, vectors, write};
use serde_json::Value;
use shoukuan_core::wechatpay::Authorization;

/// Splits a five-line request message into (method, url, timestamp, nonce, body).
fn request_parts(message: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let mut parts = message.splitn(5, '\n');
    let method = parts.next()?;
    if !method.chars().all(|c| c.is_ascii_uppercase()) || method.is_empty() {
        return None;
    }
    let (url, ts, nonce, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((method, url, ts, nonce, rest.strip_suffix('\n')?))
}

#[test]
fn sign_reproduces_every_signing_vector() {
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for v in vectors("wechatpay_rsa_sha256.json") {
        let Some(pem) = v.get("private_key_pem").and_then(Value::as_str) else {
            continue;
        };
        let key = write(dir.path(), "key.pem", pem);
        let message = write(dir.path(), "message", s(&v, "message"));
        let out = shoukuan()
            .args(["wechatpay", "sign", "--key"])
            .arg(&key)
            .arg("--message-file")
            .arg(&message)
            .output()
            .unwrap();
        assert_eq!(success(out), s(&v, "expected_signature_b64"), "{}", v["id"]);
        ran += 1;
    }
    assert_eq!(ran, 10, "every vector with a private key");
}

#[test]
fn authorization_signs_every_request_vector() {
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for v in vectors("wechatpay_rsa_sha256.json") {
        let (Some(pem), Some(message)) = (
            v.get("private_key_pem").and_then(Value::as_str),
            v.get("message").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Some((method, url, ts, nonce, body)) = request_parts(message) else {
            continue;
        };
        let key = write(dir.path(), "key.pem", pem);
        let mut cmd = shoukuan();
        cmd.args(["wechatpay", "authorization", "--key"])
            .arg(&key)
            .args([
                "--mchid",
                "1900007291",
                "--serial",
                "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB",
            ])
            .args([
                "--method",
                &method.to_lowercase(),
                "--url",
                url,
                "--timestamp",
                ts,
                "--nonce",
                nonce,
            ]);
        if !body.is_empty() {
            cmd.arg("--body-file").arg(write(dir.path(), "body", body));
        }
        let header = success(cmd.output().unwrap());
        let auth = Authorization::parse(&header).unwrap();
        assert_eq!(
            auth.signature,
            s(&v, "expected_signature_b64"),
            "{}",
            v["id"]
        );
        assert_eq!(auth.nonce_str, nonce);
        assert_eq!(auth.timestamp.to_string(), ts);

        // Where the vector spells out the whole header, every field matches it.
        if let Some(note) = v.get("note").and_then(Value::as_str) {
            if let Some(expected) = note.split("Authorization header would be: ").nth(1) {
                let expected = expected.replace("<this>", s(&v, "expected_signature_b64"));
                assert_eq!(
                    auth,
                    Authorization::parse(&expected).unwrap(),
                    "{}",
                    v["id"]
                );
            }
        }
        ran += 1;
    }
    assert_eq!(ran, 6, "every five-line request vector");
}

#[test]
fn authorization_defaults_to_a_fresh_timestamp_and_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let v = &vectors("wechatpay_rsa_sha256.json")[0];
    let key = write(dir.path(), "key.pem", s(v, "private_key_pem"));
    let run = || {
        let out = shoukuan()
            .args(["wechatpay", "authorization", "--key"])
            .arg(&key)
            .args([
                "--mchid",
                "1",
                "--serial",
                "AB",
                "--method",
                "GET",
                "--url",
                "/v3/certificates",
            ])
            .output()
            .unwrap();
        Authorization::parse(&success(out)).unwrap()
    };
    let (a, b) = (run(), run());
    assert_ne!(a.nonce_str, b.nonce_str);
    assert_eq!(a.nonce_str.len(), 32);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((a.timestamp - now).abs() < 60);
}

#[test]
fn verify_accepts_the_response_vectors_and_names_each_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for v in vectors("wechatpay_rsa_sha256.json") {
        let Some(message) = v.get("message").and_then(Value::as_str) else {
            continue;
        };
        let lines: Vec<&str> = message.splitn(3, '\n').collect();
        if lines.len() != 3 || lines[0].is_empty() || !lines[0].bytes().all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let (ts, nonce, body) = (lines[0], lines[1], lines[2].strip_suffix('\n').unwrap());
        let pem = v
            .get("certificate_pem")
            .or_else(|| v.get("public_key_pem"))
            .and_then(Value::as_str)
            .unwrap();
        let key = write(dir.path(), "key.pem", pem);
        let body_file = write(dir.path(), "body", body);
        let signature = s(&v, "expected_signature_b64");
        let verify = |signature: &str, body_file: &std::path::Path, now: i64| {
            shoukuan()
                .args(["wechatpay", "verify", "--key"])
                .arg(&key)
                .args([
                    "--timestamp",
                    ts,
                    "--nonce",
                    nonce,
                    "--signature",
                    signature,
                ])
                .arg("--body-file")
                .arg(body_file)
                .args(["--now", &now.to_string()])
                .output()
                .unwrap()
        };
        let now: i64 = ts.parse().unwrap();
        assert_eq!(
            success(verify(signature, &body_file, now)),
            "ok",
            "{}",
            v["id"]
        );

        let line = failure(verify(signature, &body_file, now + 1000), "clock skew");
        assert!(line.contains("1000"), "{line}");
        let probe = format!("WECHATPAY/SIGNTEST/{}", &signature[..16]);
        failure(verify(&probe, &body_file, now), "signature probe");
        let altered = write(dir.path(), "altered", format!("{body} "));
        failure(verify(signature, &altered, now), "bad signature");
        let with_newline = write(dir.path(), "newline", format!("{body}\n"));
        failure(verify(signature, &with_newline, now), "ends with a newline");
        ran += 1;
    }
    assert_eq!(ran, 2);
}

#[test]
fn paysign_matches_the_official_jsapi_vector() {
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for v in vectors("wechatpay_rsa_sha256.json") {
        let Some(message) = v.get("message").and_then(Value::as_str) else {
            continue;
        };
        let lines: Vec<&str> = message.split('\n').collect();
        let Some(prepay_id) = lines.get(3).and_then(|l| l.strip_prefix("prepay_id=")) else {
            continue;
        };
        let key = write(dir.path(), "key.pem", s(&v, "private_key_pem"));
        let out = shoukuan()
            .args(["wechatpay", "paysign", "--key"])
            .arg(&key)
            .args([
                "--appid",
                lines[0],
                "--timestamp",
                lines[1],
                "--nonce",
                lines[2],
                "--prepay-id",
                prepay_id,
            ])
            .output()
            .unwrap();
        assert_eq!(success(out), s(&v, "expected_signature_b64"));
        ran += 1;
    }
    assert_eq!(ran, 1);
}

#[test]
fn decrypt_handles_every_aead_vector_and_refuses_the_flagged_ones() {
    let mut ran = 0;
    for v in vectors("wechatpay_aead_aes_256_gcm.json") {
        let out = shoukuan()
            .args(["wechatpay", "decrypt"])
            .args(["--apiv3-key", s(&v, "key_utf8")])
            .args(["--nonce", s(&v, "nonce_utf8")])
            .args(["--associated-data", s(&v, "associated_data_utf8")])
            .args(["--ciphertext", s(&v, "ciphertext_b64")])
            .output()
            .unwrap();
        if v["key_len_bytes"] != 32 {
            failure(out, "APIv3 key is 16 bytes");
        } else if v["nonce_len_bytes"] != 12 {
            failure(out, "nonce is 16 bytes");
        } else {
            assert_eq!(success(out), s(&v, "plaintext_utf8"), "{}", v["id"]);
        }
        ran += 1;
    }
    assert_eq!(ran, 7);
}

#[test]
fn decrypt_with_a_wrong_key_says_the_apiv3_key_is_likely_wrong() {
    let v = &vectors("wechatpay_aead_aes_256_gcm.json")[0];
    let wrong_key: String = s(v, "key_utf8").chars().rev().collect();
    let out = shoukuan()
        .args(["wechatpay", "decrypt", "--apiv3-key", &wrong_key])
        .args([
            "--nonce",
            s(v, "nonce_utf8"),
            "--associated-data",
            s(v, "associated_data_utf8"),
        ])
        .args(["--ciphertext", s(v, "ciphertext_b64")])
        .output()
        .unwrap();
    failure(out, "APIv3 key is likely wrong");
}

#[test]
fn inspect_notify_replays_the_full_go_notification() {
    let dir = tempfile::tempdir().unwrap();
    let vs = vectors("wechatpay_notification_full.json");
    assert_eq!(vs.len(), 1);
    let v = &vs[0];
    let headers = v["headers"].as_object().unwrap();
    let header_lines = |skip: &str| -> String {
        let mut text =
            String::from("POST /wechatpay/notify HTTP/1.1\r\nContent-Type: application/json\r\n");
        for (name, value) in headers {
            if name != skip {
                // Captured header names arrive in any case.
                text.push_str(&format!(
                    "{}: {}\r\n",
                    name.to_lowercase(),
                    value.as_str().unwrap()
                ));
            }
        }
        text
    };
    let headers_file = write(dir.path(), "headers", header_lines(""));
    let body_file = write(dir.path(), "body", s(v, "body"));
    let cert = write(dir.path(), "cert.pem", s(v, "platform_certificate_pem"));
    let serial = headers["Wechatpay-Serial"].as_str().unwrap();
    let ts = headers["Wechatpay-Timestamp"].as_str().unwrap();
    let inspect = |headers_file: &std::path::Path, key_id: &str, now: &str| {
        shoukuan()
            .args(["wechatpay", "inspect-notify", "--headers-file"])
            .arg(headers_file)
            .arg("--body-file")
            .arg(&body_file)
            .args(["--apiv3-key", s(v, "apiv3_key_utf8")])
            .arg("--key")
            .arg(format!("{key_id}={}", cert.display()))
            .args(["--now", now])
            .output()
            .unwrap()
    };
    // The signature passes; the vector's 16-byte key (AES-128) is then refused.
    failure(inspect(&headers_file, serial, ts), "APIv3 key is 16 bytes");
    failure(inspect(&headers_file, serial, "2000000000"), "clock skew");
    let without_nonce = write(dir.path(), "no-nonce", header_lines("Wechatpay-Nonce"));
    failure(
        inspect(&without_nonce, serial, ts),
        "Wechatpay-Nonce is missing",
    );
    failure(inspect(&headers_file, "0123", ts), "has serial");
}

#[test]
fn mp_signature_matches_every_vector() {
    let mut ran = 0;
    for v in vectors("oa_message_signature.json") {
        let inputs = &v["inputs"];
        let mut cmd = shoukuan();
        cmd.args(["mp", "signature", "--token", s(inputs, "token")])
            .args([
                "--timestamp",
                s(inputs, "timestamp"),
                "--nonce",
                s(inputs, "nonce"),
            ]);
        if let Some(encrypt) = inputs.get("encrypt").or_else(|| inputs.get("echostr")) {
            cmd.args(["--encrypt", encrypt.as_str().unwrap()]);
        }
        assert_eq!(
            success(cmd.output().unwrap()),
            s(&v, "expected"),
            "{}",
            v["id"]
        );
        ran += 1;
    }
    assert_eq!(ran, 7);
}

#[test]
fn mp_decrypt_and_encrypt_match_every_vector() {
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for v in vectors("oa_safe_mode_aes_cbc.json") {
        let (key, appid) = (s(&v, "encoding_aes_key"), s(&v, "appid"));
        match s(&v, "direction") {
            "decrypt" => {
                let out = shoukuan()
                    .args(["mp", "decrypt", "--aes-key", key, "--appid", appid])
                    .args(["--encrypt", s(&v, "encrypt_b64")])
                    .output()
                    .unwrap();
                assert_eq!(success(out), s(&v, "expected_msg"), "{}", v["id"]);
                let out = shoukuan()
                    .args([
                        "mp",
                        "decrypt",
                        "--aes-key",
                        key,
                        "--appid",
                        "wx0000000000000000",
                    ])
                    .args(["--encrypt", s(&v, "encrypt_b64")])
                    .output()
                    .unwrap();
                failure(out, "appid mismatch");
            }
            _ => {
                let xml_file = write(dir.path(), "msg.xml", s(&v, "msg"));
                let out = shoukuan()
                    .args([
                        "mp",
                        "encrypt",
                        "--aes-key",
                        key,
                        "--appid",
                        appid,
                        "--xml-file",
                    ])
                    .arg(&xml_file)
                    .args(["--random", s(&v, "random16")])
                    .output()
                    .unwrap();
                assert_eq!(success(out), s(&v, "expected_encrypt_b64"), "{}", v["id"]);
            }
        }
        ran += 1;
    }
    assert_eq!(ran, 7);
}

#[test]
fn mp_encrypt_refuses_a_random_that_is_not_16_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let xml_file = write(dir.path(), "msg.xml", "<xml/>");
    let out = shoukuan()
        .args([
            "mp",
            "encrypt",
            "--aes-key",
            &"A".repeat(43),
            "--appid",
            "wx1",
            "--xml-file",
        ])
        .arg(&xml_file)
        .args(["--random", "short"])
        .output()
        .unwrap();
    failure(out, "--random must be exactly 16 bytes");
    let out = shoukuan()
        .args([
            "mp",
            "decrypt",
            "--aes-key",
            "tooshort",
            "--appid",
            "wx1",
            "--encrypt",
            "AAAA",
        ])
        .output()
        .unwrap();
    failure(out, "EncodingAESKey must be 43 characters");
}

#[test]
fn jssdk_sign_matches_every_vector() {
    let mut ran = 0;
    for v in vectors("jssdk_signature.json") {
        let out = shoukuan()
            .args([
                "jssdk",
                "sign",
                "--ticket",
                s(&v, "jsapi_ticket"),
                "--noncestr",
                s(&v, "noncestr"),
            ])
            .args([
                "--timestamp",
                &v["timestamp"].to_string(),
                "--url",
                &format!("{}#/x", s(&v, "url")),
            ])
            .output()
            .unwrap();
        assert_eq!(success(out), s(&v, "expected_signature"), "{}", v["id"]);
        ran += 1;
    }
    assert_eq!(ran, 4);
}

#[test]
fn usage_errors_are_one_line_and_exit_1() {
    let out = shoukuan().args(["wechatpay", "sign"]).output().unwrap();
    failure(out, "required");
    let out = shoukuan().args(["no-such-command"]).output().unwrap();
    failure(out, "unrecognized");
    let out = shoukuan().output().unwrap();
    failure(out, "a subcommand is required");
    let out = shoukuan()
        .args(["wechatpay", "verify", "--key", "k.pem"])
        .output()
        .unwrap();
    let line = failure(out, "--body-file");
    assert!(line.contains("--signature"), "{line}");
}

#[test]
fn a_missing_file_is_named() {
    let out = shoukuan()
        .args([
            "wechatpay",
            "sign",
            "--key",
            "/nonexistent/key.pem",
            "--message-file",
            "/nonexistent/m",
        ])
        .output()
        .unwrap();
    failure(out, "/nonexistent/key.pem");
}
