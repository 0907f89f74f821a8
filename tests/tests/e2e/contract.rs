//! Contract tests: third-party WeChat SDKs that nobody here wrote, against our simulator and
//! our worker (the Python under `tests/contract/`, in a pinned and cached venv). A simulator
//! that agreed only with our own `core` would prove nothing about WeChat.
//!
//! Also here: the worker's refusal of a callback signed with an algorithm it cannot verify.

use serde_json::{json, Value};
use shoukuan_core::wechatpay::devkeys::SimConfig;
use shoukuan_core::wechatpay::{
    sign_for_test, EncryptedResource, Notification, HEADER_SIGNATURE_TYPE, RESOURCE_TYPE_ENCRYPTED,
    SIGNATURE_TYPE_RSA,
};
use shoukuan_tests::python;
use shoukuan_tests::sim::Sim;
use shoukuan_tests::worker::Worker;
use tokio::sync::OnceCell;

use crate::unique;

/// One simulator and one merchant-mode worker with the Official Account, shared by the tests
/// below (the wechatpayv3 test talks to the simulator only).
struct Contract {
    sim: Sim,
    worker: Worker,
    keys: SimConfig,
}

static CONTRACT: OnceCell<Contract> = OnceCell::const_new();

async fn contract() -> &'static Contract {
    CONTRACT
        .get_or_init(|| async {
            let sim = Sim::start().await.expect("shoukuan sim starts");
            let worker = sim
                .start_worker(&[
                    ("WECHATPAY_MODEL", "own_business"),
                    ("WECHATPAY_MERCHANT_NAME", "契约测试商户"),
                ])
                .await
                .expect("wrangler dev starts");
            let keys =
                serde_json::from_str(&std::fs::read_to_string(sim.dir().join("sim.json")).unwrap())
                    .unwrap();
            Contract { sim, worker, keys }
        })
        .await
}

/// Runs one unittest module of `tests/contract` off the async runtime.
async fn unittest(module: &'static str, envs: Vec<(&'static str, String)>) {
    tokio::task::spawn_blocking(move || python::unittest(module, &envs))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn wechatpayv3_plays_the_merchant_against_the_simulator_in_both_signing_modes() {
    let c = contract().await;
    let mut envs = vec![("SIM_BASE", c.sim.base.clone())];
    for name in [
        "WECHATPAY_MCHID",
        "WECHATPAY_APPID",
        "WECHATPAY_MCH_SERIAL",
        "WECHATPAY_MCH_PRIVATE_KEY",
        "WECHATPAY_APIV3_KEY",
        "WECHATPAY_PUBLIC_KEY_ID",
        "WECHATPAY_PUBLIC_KEY",
    ] {
        let value = c.sim.var(name);
        assert!(!value.is_empty(), "shoukuan keys dev wrote no {name}");
        envs.push((name, value));
    }
    unittest("test_wechatpay_merchant", envs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wechatpy_plays_the_official_account_platform_against_the_worker() {
    let c = contract().await;
    let mut envs = vec![
        ("SIM_BASE", c.sim.base.clone()),
        ("WORKER_BASE", c.worker.base.clone()),
    ];
    for name in ["WECHAT_TOKEN", "WECHAT_AES_KEY", "WECHAT_APPID"] {
        envs.push((name, c.sim.var(name)));
    }
    unittest("test_official_account", envs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callback_signed_with_sm2_is_refused_with_a_message_naming_the_signature_type() {
    let c = contract().await;
    let transaction = json!({
        "appid": c.keys.appid,
        "mchid": c.keys.mchid,
        "out_trade_no": unique("contractsm2"),
        "transaction_id": unique("4200"),
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": "2026-11-27T10:00:00+08:00",
        "payer": { "openid": "oContractPayer" },
        "amount": { "total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY" },
    });
    let resource = EncryptedResource::seal(
        &c.keys.apiv3_key().unwrap(),
        "transaction",
        "n0nce0123456",
        "transaction",
        &transaction.to_string(),
    )
    .unwrap();
    let body = serde_json::to_vec(&Notification {
        id: unique("EV-contract-"),
        create_time: "2026-11-27T10:00:01+08:00".into(),
        event_type: "TRANSACTION.SUCCESS".into(),
        resource_type: RESOURCE_TYPE_ENCRYPTED.into(),
        summary: "支付成功".into(),
        resource,
    })
    .unwrap();
    // Properly signed with the key the worker trusts: only the declared algorithm differs.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let headers = sign_for_test(
        &c.keys.public_key_signer().unwrap(),
        &c.keys.public_key_id,
        now,
        &unique("nonce"),
        &body,
    )
    .unwrap();
    let post = |signature_type: &'static str| {
        let mut request = reqwest::Client::new()
            .post(c.worker.url("/wechatpay/notify/transaction"))
            .header("content-type", "application/json")
            .header(HEADER_SIGNATURE_TYPE, signature_type);
        for (name, value) in headers.to_pairs() {
            if !name.eq_ignore_ascii_case(HEADER_SIGNATURE_TYPE) {
                request = request.header(name, value);
            }
        }
        let body = body.clone();
        async move {
            let resp = request.body(body).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (status, answer) = post("WECHATPAY2-SM2-WITH-SM3").await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["code"], "FAIL", "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("WECHATPAY2-SM2-WITH-SM3") && message.contains("SM2"),
        "the refusal does not name the signature type: {answer}"
    );

    // The same callback declared as RSA passes verification (and is then refused for what it
    // is: a payment of an order this worker never created).
    let (status, answer) = post(SIGNATURE_TYPE_RSA).await;
    assert_ne!(status, 401, "{answer}");
    assert!(
        !answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("signature"),
        "{answer}"
    );
}
