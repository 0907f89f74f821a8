//! `shoukuan keys dev` and the round trips others build on: the generated `.dev.vars` and
//! `sim.json` agree, and callbacks signed with the simulator's keys pass `inspect-notify` in
//! both platform-certificate and public-key mode.

mod common;

use std::path::Path;

use common::{failure, shoukuan, success, write};
use shoukuan_core::wechatpay::devkeys::SimConfig;
use shoukuan_core::wechatpay::{
    response_message, sign_for_test, ApiV3Key, Certificate, EncryptedResource, Notification,
    PrivateKey, PublicKey, SignedHeaders,
};

const DEV_VARS_KEYS: [&str; 24] = [
    "WECHATPAY_MCHID",
    "WECHATPAY_APPID",
    "WECHATPAY_MCH_SERIAL",
    "WECHATPAY_MCH_PRIVATE_KEY",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_PUBLIC_KEY_ID",
    "WECHATPAY_PUBLIC_KEY",
    "WECHATPAY_MODEL",
    "WECHATPAY_MERCHANT_NAME",
    "WECHAT_APPID",
    "WECHAT_APPSECRET",
    "WECHAT_TOKEN",
    "WECHAT_AES_KEY",
    "WECHAT_NOTICE_TEMPLATE_ID",
    "DATA_KEY",
    "SESSION_SECRET",
    "RECEIPT_SIGNING_KEY",
    "OPERATOR_SECRET",
    "PUBLISH_INVITE_CODE",
    "PUBLISH_ACCESS",
    "LOCAL_DEV",
    "WECHATPAY_BASE_URL",
    "WECHAT_API_BASE_URL",
    "WECHAT_OPEN_BASE_URL",
];

fn keys_dev(dir: &Path) -> (Vec<(String, String)>, SimConfig) {
    let out = shoukuan()
        .args(["keys", "dev", "--out"])
        .arg(dir)
        .output()
        .unwrap();
    let summary = success(out);
    assert!(summary.contains("sim.json"), "{summary}");
    (read_dev_vars(dir), read_sim(dir))
}

fn read_dev_vars(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join(".dev.vars"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn read_sim(dir: &Path) -> SimConfig {
    serde_json::from_str(&std::fs::read_to_string(dir.join("sim.json")).unwrap()).unwrap()
}

fn var<'a>(vars: &'a [(String, String)], key: &str) -> &'a str {
    vars.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap()
}

/// A PEM value of `.dev.vars`: one line, double-quoted, `\n` escapes.
fn unquote_pem(value: &str) -> String {
    assert!(value.starts_with('"') && value.ends_with('"'), "{value}");
    value[1..value.len() - 1].replace("\\n", "\n")
}

#[test]
fn dev_vars_has_exactly_the_documented_keys_and_matches_sim_json() {
    let dir = tempfile::tempdir().unwrap();
    let (vars, sim) = keys_dev(dir.path());
    let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, DEV_VARS_KEYS);
    let text = std::fs::read_to_string(dir.path().join(".dev.vars")).unwrap();
    assert!(text.starts_with('#') && text.contains("NOT for production"));

    assert_eq!(var(&vars, "WECHATPAY_MCHID"), sim.mchid);
    assert_eq!(sim.mchid.len(), 10);
    assert_eq!(var(&vars, "WECHATPAY_APPID"), sim.appid);
    assert_eq!(var(&vars, "WECHAT_APPID"), sim.official_account.appid);
    assert!(sim.appid.starts_with("wx") && sim.appid.len() == 18);
    assert!(sim.appid[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(var(&vars, "WECHATPAY_MCH_SERIAL"), sim.merchant_serial);
    assert_eq!(sim.merchant_serial.len(), 40);
    assert!(sim
        .merchant_serial
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
    assert_eq!(var(&vars, "WECHATPAY_APIV3_KEY"), sim.apiv3_key);
    assert!(sim.apiv3_key.len() == 32 && sim.apiv3_key.is_ascii());
    assert_eq!(var(&vars, "WECHATPAY_PUBLIC_KEY_ID"), sim.public_key_id);
    let digits = sim.public_key_id.strip_prefix("PUB_KEY_ID_").unwrap();
    assert!(digits.len() == 32 && digits.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        var(&vars, "WECHAT_APPSECRET"),
        sim.official_account.appsecret
    );
    assert_eq!(sim.official_account.appsecret.len(), 32);
    assert_eq!(var(&vars, "WECHAT_TOKEN"), sim.official_account.token);
    assert_eq!(
        var(&vars, "WECHAT_AES_KEY"),
        sim.official_account.encoding_aes_key
    );
    assert!(
        shoukuan_core::mp::EncodingAesKey::parse(&sim.official_account.encoding_aes_key).is_ok()
    );
    assert_eq!(var(&vars, "WECHATPAY_MODEL"), "own_business");
    assert_eq!(var(&vars, "WECHATPAY_MERCHANT_NAME"), sim.merchant_name);
    assert!(!sim.merchant_name.is_empty());
    assert!(sim.sub_merchants.is_empty());
    assert_eq!(var(&vars, "PUBLISH_INVITE_CODE"), "");
    assert_eq!(var(&vars, "PUBLISH_ACCESS"), "invite");
    let operator = var(&vars, "OPERATOR_SECRET");
    assert!(operator.len() == 32 && operator.bytes().all(|b| b.is_ascii_alphanumeric()));
    for url in [
        "WECHATPAY_BASE_URL",
        "WECHAT_API_BASE_URL",
        "WECHAT_OPEN_BASE_URL",
    ] {
        assert_eq!(var(&vars, url), "http://127.0.0.1:8788");
    }
    for secret in ["DATA_KEY", "SESSION_SECRET"] {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(var(&vars, secret))
            .unwrap();
        assert_eq!(bytes.len(), 32, "{secret}");
    }

    // PEMs: one quoted line each; the merchant key pairs with sim.json's public key; the
    // WeChat Pay public key is the one sim.json signs with.
    let merchant =
        PrivateKey::from_pem(&unquote_pem(var(&vars, "WECHATPAY_MCH_PRIVATE_KEY"))).unwrap();
    assert_eq!(merchant.public_key(), sim.merchant_public_key().unwrap());
    let public = PublicKey::from_pem(&unquote_pem(var(&vars, "WECHATPAY_PUBLIC_KEY"))).unwrap();
    assert_eq!(public, sim.public_key_signer().unwrap().public_key());
    let cert = Certificate::from_pem(&sim.platform_certificate_pem).unwrap();
    assert_eq!(cert.serial(), sim.platform_serial);
    assert_eq!(
        cert.public_key(),
        &sim.platform_signer().unwrap().public_key()
    );
    assert_eq!(sim.key_set().unwrap().len(), 2);
    assert!(sim.apiv3_key().is_ok());
    assert!(!format!("{sim:?}").contains("PRIVATE KEY"));
}

#[test]
fn the_platform_model_names_the_service_provider_and_registers_two_sub_merchants() {
    let dir = tempfile::tempdir().unwrap();
    let out = shoukuan()
        .args(["keys", "dev", "--model", "platform", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let summary = success(out);
    let (vars, sim) = (read_dev_vars(dir.path()), read_sim(dir.path()));
    let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
    let mut expected = DEV_VARS_KEYS.to_vec();
    let at = expected
        .iter()
        .position(|k| *k == "WECHATPAY_MERCHANT_NAME")
        .unwrap()
        + 1;
    expected.splice(at..at, ["WECHATPAY_SP_NAME", "WECHATPAY_PLATFORM_FEE_BPS"]);
    assert_eq!(names, expected);
    assert_eq!(var(&vars, "WECHATPAY_MODEL"), "platform");
    assert_eq!(var(&vars, "WECHATPAY_SP_NAME"), sim.merchant_name);
    assert_eq!(var(&vars, "WECHATPAY_PLATFORM_FEE_BPS"), "0");
    // The signing merchant is the service provider.
    assert_eq!(var(&vars, "WECHATPAY_MCHID"), sim.mchid);
    assert_eq!(sim.sub_merchants.len(), 2);
    let subs = &sim.sub_merchants;
    assert_ne!(subs[0].sub_mchid, subs[1].sub_mchid);
    for sub in subs {
        assert!(sub.sub_mchid.len() == 10 && sub.sub_mchid.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(sub.sub_mchid, sim.mchid);
        assert!(sub.max_ratio > 0 && sub.max_ratio <= 10_000);
        assert!(summary.contains(&sub.sub_mchid), "{summary}");
    }
    assert_eq!(subs.iter().filter(|s| s.h5).count(), 1);

    let out = shoukuan()
        .args(["keys", "dev", "--model", "marketplace", "--force", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn keys_dev_refuses_to_overwrite_without_force_and_regenerates_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = keys_dev(dir.path());
    let out = shoukuan()
        .args(["keys", "dev", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    failure(out, "--force");
    assert_eq!(
        read_dev_vars(dir.path()),
        first,
        "refused run must not touch the file"
    );

    let out = shoukuan()
        .args(["keys", "dev", "--force", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    success(out);
    let second = read_dev_vars(dir.path());
    for key in [
        "WECHATPAY_MCH_PRIVATE_KEY",
        "WECHATPAY_APIV3_KEY",
        "DATA_KEY",
        "WECHAT_TOKEN",
    ] {
        assert_ne!(var(&first, key), var(&second, key), "{key} must be fresh");
    }
}

#[cfg(unix)]
#[test]
fn generated_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    keys_dev(dir.path());
    for name in [".dev.vars", "sim.json"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name} is readable by others");
    }
}

#[test]
fn merchant_key_signs_what_its_public_key_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (vars, sim) = keys_dev(dir.path());
    let key = write(
        dir.path(),
        "merchant.pem",
        unquote_pem(var(&vars, "WECHATPAY_MCH_PRIVATE_KEY")),
    );
    let public = write(dir.path(), "merchant_pub.pem", &sim.merchant_public_key_pem);
    let body = r#"{"code_url":"weixin://wxpay/bizpayurl?pr=dev"}"#;
    let body_file = write(dir.path(), "body", body);
    let message = write(
        dir.path(),
        "message",
        response_message("1700000000", "n0nce", body.as_bytes()),
    );
    let out = shoukuan()
        .args(["wechatpay", "sign", "--key"])
        .arg(&key)
        .arg("--message-file")
        .arg(&message)
        .output()
        .unwrap();
    let signature = success(out);
    let out = shoukuan()
        .args(["wechatpay", "verify", "--key"])
        .arg(&public)
        .args([
            "--timestamp",
            "1700000000",
            "--nonce",
            "n0nce",
            "--signature",
            &signature,
        ])
        .arg("--body-file")
        .arg(&body_file)
        .args(["--now", "1700000100"])
        .output()
        .unwrap();
    assert_eq!(success(out), "ok");
}

struct Callback {
    headers: SignedHeaders,
    body: String,
}

fn transaction_plaintext(sim: &SimConfig) -> String {
    serde_json::json!({
        "mchid": sim.mchid, "appid": sim.appid, "out_trade_no": "c42_0001",
        "transaction_id": "4200000000202611270000000001", "trade_type": "JSAPI",
        "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
        "attach": "", "success_time": "2026-11-27T10:00:00+08:00",
        "payer": {"openid": "o_dev_payer"},
        "amount": {"total": 1234, "payer_total": 1234, "currency": "CNY", "payer_currency": "CNY"}
    })
    .to_string()
}

fn callback(
    sim: &SimConfig,
    signer: &PrivateKey,
    serial: &str,
    plaintext: &str,
    ts: i64,
) -> Callback {
    let key = ApiV3Key::new(sim.apiv3_key.as_bytes()).unwrap();
    let notification = Notification {
        id: "EV-2026112710000001".into(),
        create_time: "2026-11-27T10:00:01+08:00".into(),
        event_type: "TRANSACTION.SUCCESS".into(),
        resource_type: "encrypt-resource".into(),
        summary: "支付成功".into(),
        resource: EncryptedResource::seal(
            &key,
            "transaction",
            "n0nce0123456",
            "transaction",
            plaintext,
        )
        .unwrap(),
    };
    let body = serde_json::to_string(&notification).unwrap();
    let headers = sign_for_test(signer, serial, ts, "callbacknonce", body.as_bytes()).unwrap();
    Callback { headers, body }
}

fn inspect(
    dir: &Path,
    sim: &SimConfig,
    cb: &Callback,
    apiv3_key: &str,
    now: i64,
) -> std::process::Output {
    let header_text: String = cb
        .headers
        .to_pairs()
        .iter()
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect();
    let headers_file = write(dir, "headers.txt", header_text);
    let body_file = write(dir, "body.json", &cb.body);
    let cert = write(dir, "platform_cert.pem", &sim.platform_certificate_pem);
    let public = write(dir, "wechatpay_pub.pem", &sim.public_key_pem);
    shoukuan()
        .args(["wechatpay", "inspect-notify", "--headers-file"])
        .arg(&headers_file)
        .arg("--body-file")
        .arg(&body_file)
        .args(["--apiv3-key", apiv3_key])
        .arg("--key")
        .arg(format!("{}={}", sim.platform_serial, cert.display()))
        .arg("--key")
        .arg(format!("{}={}", sim.public_key_id, public.display()))
        .args(["--now", &now.to_string()])
        .output()
        .unwrap()
}

#[test]
fn inspect_notify_opens_callbacks_signed_either_way_and_names_each_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (_, sim) = keys_dev(dir.path());
    let plaintext = transaction_plaintext(&sim);
    let ts = 1_764_208_800;

    // Platform-certificate mode and public-key mode, side by side (WeChat's migration).
    let by_cert = callback(
        &sim,
        &sim.platform_signer().unwrap(),
        &sim.platform_serial,
        &plaintext,
        ts,
    );
    assert_eq!(
        success(inspect(dir.path(), &sim, &by_cert, &sim.apiv3_key, ts)),
        plaintext
    );
    let by_public_key = callback(
        &sim,
        &sim.public_key_signer().unwrap(),
        &sim.public_key_id,
        &plaintext,
        ts,
    );
    assert_eq!(
        success(inspect(
            dir.path(),
            &sim,
            &by_public_key,
            &sim.apiv3_key,
            ts + 300
        )),
        plaintext
    );

    // Each failure names its check.
    let line = failure(
        inspect(dir.path(), &sim, &by_cert, &sim.apiv3_key, ts + 301),
        "clock skew",
    );
    assert!(line.contains("301"), "{line}");
    let wrong_key: String = sim.apiv3_key.chars().rev().collect();
    failure(
        inspect(dir.path(), &sim, &by_cert, &wrong_key, ts),
        "APIv3 key is likely wrong",
    );
    let unknown = callback(
        &sim,
        &sim.platform_signer().unwrap(),
        "PUB_KEY_ID_0000",
        &plaintext,
        ts,
    );
    let line = failure(
        inspect(dir.path(), &sim, &unknown, &sim.apiv3_key, ts),
        "unknown serial",
    );
    assert!(
        line.contains(&sim.platform_serial) && line.contains(&sim.public_key_id),
        "{line}"
    );
    let wrong_signer = callback(
        &sim,
        &sim.platform_signer().unwrap(),
        &sim.public_key_id,
        &plaintext,
        ts,
    );
    failure(
        inspect(dir.path(), &sim, &wrong_signer, &sim.apiv3_key, ts),
        "bad signature",
    );
    let probe = Callback {
        headers: SignedHeaders {
            signature: "WECHATPAY/SIGNTEST/c2lnbmF0dXJl".into(),
            ..by_cert.headers.clone()
        },
        body: by_cert.body.clone(),
    };
    failure(
        inspect(dir.path(), &sim, &probe, &sim.apiv3_key, ts),
        "signature probe",
    );
    let tampered = Callback {
        headers: by_cert.headers.clone(),
        body: by_cert
            .body
            .replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESs"),
    };
    failure(
        inspect(dir.path(), &sim, &tampered, &sim.apiv3_key, ts),
        "bad signature",
    );

    // Correctly signed but not JSON: the envelope, then the decrypted resource.
    let signer = sim.platform_signer().unwrap();
    let not_json = Callback {
        headers: sign_for_test(&signer, &sim.platform_serial, ts, "n", b"not json").unwrap(),
        body: "not json".into(),
    };
    failure(
        inspect(dir.path(), &sim, &not_json, &sim.apiv3_key, ts),
        "malformed JSON",
    );
    let bad_resource = callback(&sim, &signer, &sim.platform_serial, "{not json", ts);
    failure(
        inspect(dir.path(), &sim, &bad_resource, &sim.apiv3_key, ts),
        "malformed JSON",
    );
}

#[test]
fn dev_vars_example_documents_every_generated_key_with_placeholders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.dev.vars.example");
    let text = std::fs::read_to_string(path).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once('=').unwrap().0)
        .collect();
    assert_eq!(names, DEV_VARS_KEYS);
    assert!(text.contains("shoukuan keys dev"));
    // The platform model's extra keys are documented as comments.
    for key in ["WECHATPAY_SP_NAME", "WECHATPAY_PLATFORM_FEE_BPS"] {
        assert!(text.contains(&format!("\n# {key}=")), "{key} undocumented");
    }
    // Placeholders only: no real key material.
    assert!(
        !text.contains("MII"),
        "a real PEM body in .dev.vars.example"
    );
}
