//! The platform model (服务商 + 特约商户) end to end: real workerd + D1, `shoukuan sim` set up by
//! `shoukuan keys dev --model platform` (a service provider with sub-merchants), payees bound
//! to their own sub-merchants by the operator.
//!
//! What must hold: each payee's payment goes to (and is confirmed only for) its own
//! sub-merchant; a callback naming another sub-merchant is flagged and changes nothing; a
//! payee without a sub-merchant cannot publish in merchant mode (personal mode still works);
//! refunds are taken from the right sub-merchant; the browser decides JSAPI / H5 / Native.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shoukuan_tests::browser::WECHAT_IOS_UA;
use tokio::sync::OnceCell;

use crate::payments::{now, Pay, Payee, OPERATOR};
use crate::wechat_session;

static PLATFORM: OnceCell<Pay> = OnceCell::const_new();

async fn platform() -> &'static Pay {
    PLATFORM
        .get_or_init(|| async { Pay::start("platform", &[("WECHATPAY_MODEL", "platform")]).await })
        .await
}

const PHONE_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";

/// Binds `openid` to `sub_mchid` through the operator API.
async fn bind(p: &Pay, openid: &str, sub_mchid: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(
            p.worker()
                .url(&format!("/api/operator/payees/{openid}/merchant")),
        )
        .bearer_auth(OPERATOR)
        .json(&json!({ "sub_mchid": sub_mchid }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Binds through `shoukuan payees bind` (the operator's command).
fn bind_with_cli(p: &Pay, openid: &str, sub_mchid: &str) -> String {
    let out = std::process::Command::new(shoukuan_tests::sim::shoukuan_bin())
        .args(["payees", "bind", openid, "--sub-mchid", sub_mchid])
        .args([
            "--url",
            &p.worker().url(""),
            "--dev-vars",
            "/nonexistent/.dev.vars",
        ])
        .env("OPERATOR_SECRET", OPERATOR)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The simulator's record of an order.
async fn at_sim(p: &Pay, out_trade_no: &str) -> Value {
    let orders = p.sim.get("/sim/orders").await.unwrap();
    orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["out_trade_no"] == out_trade_no)
        .cloned()
        .unwrap_or_else(|| panic!("{out_trade_no} is not at the simulator: {orders}"))
}

fn stored_order(p: &Pay, id: &str) -> Value {
    p.worker()
        .query(&format!(
            "SELECT mchid, sub_mchid, appid, profit_sharing, trade_type, state FROM orders WHERE id = '{id}'"
        ))
        .unwrap()
        .remove(0)
}

/// Two sub-merchants registered at the simulator for one test only — the first may use H5,
/// the second may not — so tests running at the same time never take each other's.
async fn fresh_sub_merchants(p: &Pay) -> [(String, bool); 2] {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let mut subs = Vec::new();
    for h5 in [true, false] {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000;
        let sub = format!("17{nanos:09}{n:03}");
        p.sim
            .add_sub_merchant(&sub, &format!("测试特约商户{n}"), h5, 3000)
            .await
            .unwrap();
        subs.push((sub, h5));
    }
    [subs[0].clone(), subs[1].clone()]
}

/// Two bound payees (A through the CLI, B through the API) on two fresh sub-merchants, and a
/// collection of each.
pub(crate) async fn two_bound_payees(p: &Pay) -> [(Payee, String, String); 2] {
    let subs = fresh_sub_merchants(p).await;
    let a = p.payee().await;
    let b = p.payee().await;
    let printed = bind_with_cli(p, &a.openid, &subs[0].0);
    assert!(printed.contains(&subs[0].0), "{printed}");
    let (status, body) = bind(p, &b.openid, &subs[1].0).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["effective"], true);
    let ca = p.collection(&a, Some("12.00")).await;
    let cb = p.collection(&b, Some("34.00")).await;
    let [sa, sb] = [subs[0].0.clone(), subs[1].0.clone()];
    [(a, ca, sa), (b, cb, sb)]
}

/// Waits until the simulator's deliveries of `out_trade_no` are all done.
async fn deliveries_settled(p: &Pay, out_trade_no: &str) -> Vec<Value> {
    p.deliveries_done(out_trade_no, 1, 30).await
}

#[tokio::test(flavor = "multi_thread")]
async fn two_payees_on_two_sub_merchants_are_paid_and_refunded_each_on_their_own() {
    let p = platform().await;
    let [(a, ca, sa), (b, cb, sb)] = two_bound_payees(p).await;
    let oa = p.order(&ca, None).await;
    let ob = p.order(&cb, None).await;
    let (ida, noa) = (
        oa["id"].as_str().unwrap(),
        oa["out_trade_no"].as_str().unwrap(),
    );
    let (idb, nob) = (
        ob["id"].as_str().unwrap(),
        ob["out_trade_no"].as_str().unwrap(),
    );

    // Each order was made for its payee's own sub-merchant, under the service provider.
    for (id, no, sub) in [(ida, noa, &sa), (idb, nob, &sb)] {
        let stored = stored_order(p, id);
        assert_eq!(stored["sub_mchid"], sub.as_str(), "{stored}");
        assert_eq!(stored["mchid"], p.keys.mchid.as_str());
        assert_eq!(stored["profit_sharing"], 0);
        let sim = at_sim(p, no).await;
        assert_eq!(sim["sub_mchid"], sub.as_str(), "{sim}");
        assert_eq!(sim["mchid"], p.keys.mchid.as_str(), "{sim}");
    }

    // Paying A's order marks only A's order paid.
    p.sim_pay(noa, "normal", 1).await;
    p.wait_state(ida, "paid", 20).await;
    let delivered = deliveries_settled(p, noa).await;
    assert_eq!(crate::payments::statuses(&delivered[0]), vec![Some(204)]);
    assert_eq!(p.order_view_on(p.worker(), idb).await["state"], "pending");
    p.sim_pay(nob, "normal", 1).await;
    p.wait_state(idb, "paid", 20).await;
    assert_eq!(p.transitions(p.worker(), ida, "paid"), 1);
    assert_eq!(p.transitions(p.worker(), idb, "paid"), 1);

    // Each payee sees its own payment and its sub-merchant.
    for (payee, collection, sub, fen) in [(&a, &ca, &sa, 1200), (&b, &cb, &sb, 3400)] {
        let dash = p.dashboard(payee).await;
        assert_eq!(dash["money"]["model"], "platform");
        assert_eq!(dash["money"]["sub_mchid"], sub.as_str());
        let line = dash["collections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == collection.as_str())
            .unwrap()
            .clone();
        assert_eq!(line["paid_fen"], fen, "{line}");
    }

    // A refund of B's order is taken from B's sub-merchant.
    let (status, refund) = p
        .as_payee(
            &b,
            reqwest::Method::POST,
            &format!("/api/dash/orders/{idb}/refunds"),
            Some(json!({ "amount": "4.00", "reason": "多付了" })),
        )
        .await;
    assert_eq!(status, 201, "{refund}");
    let out_refund_no = refund["refund"]["out_refund_no"]
        .as_str()
        .unwrap()
        .to_string();
    // WeChat Pay took it from B's order at B's sub-merchant (the partner refund names it).
    let at_sim_b = at_sim(p, nob).await;
    assert_eq!(at_sim_b["sub_mchid"], sb.as_str(), "{at_sim_b}");
    assert_eq!(at_sim_b["refunded"], 400, "{at_sim_b}");
    assert_eq!(at_sim(p, noa).await["refunded"], 0);
    // The refund notification (partner shape) settles it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = p
            .worker()
            .query(&format!(
                "SELECT state FROM refunds WHERE out_refund_no = '{out_refund_no}'"
            ))
            .unwrap();
        if state[0]["state"] == "success" {
            break;
        }
        assert!(Instant::now() < deadline, "refund not settled: {state:?}");
        p.worker().run_cron().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let view = p.order_view_on(p.worker(), idb).await;
    assert_eq!(view["refunded_fen"], 400, "{view}");
    assert_eq!(p.order_view_on(p.worker(), ida).await["refunded_fen"], 0);
}

/// A partner `TRANSACTION.SUCCESS` for `order`, as the service provider receives it.
fn partner_callback(p: &Pay, order: &Value, sub_mchid: &str) -> crate::payments::Callback {
    let (signer, serial) = p.wechat_key();
    let (sp_appid, sp_mchid) = (p.keys.appid.clone(), p.keys.mchid.clone());
    let sub_mchid = sub_mchid.to_string();
    p.callback(
        order,
        move |tx| {
            let object = tx.as_object_mut().unwrap();
            object.remove("appid");
            object.remove("mchid");
            object.insert("sp_appid".into(), json!(sp_appid));
            object.insert("sp_mchid".into(), json!(sp_mchid));
            object.insert("sub_mchid".into(), json!(sub_mchid));
            object.insert("payer".into(), json!({ "sp_openid": "oSpPayer" }));
        },
        &signer,
        &serial,
        now(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callback_naming_another_sub_merchant_is_flagged_and_changes_nothing() {
    let p = platform().await;
    let [(a, ca, sa), (_b, _cb, sb)] = two_bound_payees(p).await;
    let order = p.order(&ca, None).await;
    let id = order["id"].as_str().unwrap();

    // Correctly signed by WeChat Pay's key, but for B's sub-merchant: a payee swap.
    let swapped = partner_callback(p, &order, &sb);
    let (status, body) = p.post_callback(&swapped).await;
    assert_eq!(
        status, 204,
        "recorded and flagged, answered success: {body}"
    );
    assert_eq!(p.order_view_on(p.worker(), id).await["state"], "pending");
    assert_eq!(p.transitions(p.worker(), id, "paid"), 0);
    let flags = p.dashboard(&a).await["flags"].as_array().cloned().unwrap();
    let flag = flags
        .iter()
        .find(|f| f["order_id"] == id && f["kind"] == "mismatch_sub_mchid")
        .unwrap_or_else(|| panic!("flagged for A: {flags:?}"));
    assert!(flag["message"].as_str().unwrap().contains(&sb), "{flag}");
    let recorded = p
        .worker()
        .query(&format!(
            "SELECT outcome FROM pay_notifications WHERE out_trade_no = '{}'",
            order["out_trade_no"].as_str().unwrap()
        ))
        .unwrap();
    assert_eq!(recorded, vec![json!({ "outcome": "flagged" })]);

    // A direct-shaped callback (the service provider as the merchant): flagged too.
    let (signer, serial) = p.wechat_key();
    let direct = p.callback(&order, |_| {}, &signer, &serial, now());
    assert_eq!(p.post_callback(&direct).await.0, 204);
    assert_eq!(p.order_view_on(p.worker(), id).await["state"], "pending");

    // The genuine one, for A's own sub-merchant: applied.
    let genuine = partner_callback(p, &order, &sa);
    assert_eq!(p.post_callback(&genuine).await.0, 204);
    let view = p.wait_state(id, "paid", 5).await;
    assert!(view["transaction_id"].as_str().is_some());
    assert_eq!(p.transitions(p.worker(), id, "paid"), 1);
    let payer = p
        .worker()
        .query(&format!("SELECT payer_hash FROM orders WHERE id = '{id}'"))
        .unwrap();
    assert_eq!(
        payer[0]["payer_hash"],
        p.sim.openid_key("oSpPayer"),
        "payer.sp_openid is the payer (stored as its keyed hash)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payee_without_a_sub_merchant_cannot_publish_merchant_mode_but_personal_mode_works() {
    let p = platform().await;
    let payee = p.payee().await;
    let merchant = json!({ "payee_name": "王五", "title": "课程费", "amount": "9.00", "note": "" });
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/merchant-collections",
            Some(merchant.clone()),
        )
        .await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("NO_SUB_MCHID")),
        "{body}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("特约商户号") && message.contains("个人收款码"),
        "{message}"
    );
    let dash = p.dashboard(&payee).await;
    assert_eq!(dash["money"]["merchant_mode_available"], false, "{dash}");
    assert!(dash["money"]["sub_mchid"].is_null());

    // A merchant-mode split is refused the same way.
    let split = json!({
        "kind": "split", "payee_name": "王五", "title": "周五聚餐 AA", "note": "",
        "pay_code": crate::unique_pay_code(),
        "split": { "mode": "equal", "total": "30.00", "people": "3", "pay_mode": "merchant" },
    });
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/collections",
            Some(split),
        )
        .await;
    assert!(
        status == 409 && body["code"] == "NO_SUB_MCHID",
        "{status} {body}"
    );

    // Personal mode (the payee's own receive code) always works.
    let (status, created) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/collections",
            Some(crate::good_body(&crate::unique_pay_code())),
        )
        .await;
    assert_eq!(status, 201, "{created}");

    // A sub-merchant already bound to another payee cannot be bound to this one.
    let [(_, _, sa), _] = two_bound_payees(p).await;
    let (status, body) = bind(p, &payee.openid, &sa).await;
    assert_eq!(
        (status, &body["code"]),
        (409, &json!("SUB_MCHID_TAKEN")),
        "{body}"
    );
    let (status, body) = bind(p, &payee.openid, "12345").await;
    assert_eq!(status, 400, "{body}");
    // Nothing of this payee reached WeChat Pay.
    let orders = p
        .worker()
        .query(&format!(
            "SELECT COUNT(*) AS n FROM orders WHERE payee_openid = '{}'",
            payee.openid
        ))
        .unwrap();
    assert_eq!(orders[0]["n"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn wechat_gets_jsapi_a_phone_gets_h5_and_a_desktop_gets_native() {
    let p = platform().await;
    let [(_, ca, sa), (_, cb, sb)] = two_bound_payees(p).await;
    // fresh_sub_merchants: the first may use H5, the second may not.
    let h5_of = |sub: &str| sub == sa.as_str();

    // Inside WeChat: JSAPI with payer.sp_openid under sp_appid, paySign appId = sp_appid.
    let payer = p.sim.create_payer(false).await.unwrap();
    let cookie = wechat_session(
        p.worker(),
        &format!("/oauth/start?next=/c/{ca}"),
        &payer,
        "sk_payer",
    )
    .await;
    let resp = reqwest::Client::new()
        .post(p.worker().url("/api/orders"))
        .header("user-agent", WECHAT_IOS_UA)
        .header("cookie", &cookie)
        .json(&json!({ "collection_id": ca }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["method"], "jsapi", "{order}");
    assert_eq!(order["pay_params"]["appId"], p.keys.appid.as_str());
    let sim = at_sim(p, order["out_trade_no"].as_str().unwrap()).await;
    assert_eq!(sim["openid"], payer.as_str(), "{sim}");
    assert_eq!(sim["sub_mchid"], sa.as_str(), "{sim}");

    // A phone browser outside WeChat: H5 (or Native where the sub-merchant may not use H5).
    for (collection, sub) in [(&ca, &sa), (&cb, &sb)] {
        let resp = reqwest::Client::new()
            .post(p.worker().url("/api/orders"))
            .header("user-agent", PHONE_UA)
            .header("cf-connecting-ip", "203.0.113.9")
            .json(&json!({ "collection_id": collection }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let order: Value = resp.json().await.unwrap();
        let id = order["id"].as_str().unwrap();
        if h5_of(sub) {
            assert_eq!(order["method"], "h5", "{order}");
            let h5_url = order["h5_url"].as_str().unwrap();
            let back =
                shoukuan_core::urlenc::encode_component(&p.worker().url(&format!("/o/{id}")));
            assert!(
                h5_url.ends_with(&format!("&redirect_url={back}")),
                "{h5_url}"
            );
            assert_eq!(stored_order(p, id)["trade_type"], "MWEB");
            let sim = at_sim(p, order["out_trade_no"].as_str().unwrap()).await;
            assert_eq!(sim["trade_type"], "MWEB", "{sim}");
        } else {
            // WeChat Pay refused H5 for this sub-merchant: the QR instead.
            assert_eq!(order["method"], "native", "{order}");
            assert!(order["code_url"].as_str().unwrap().starts_with("weixin://"));
            assert_eq!(stored_order(p, id)["trade_type"], "NATIVE");
        }
    }

    // (Without a connecting address the worker falls back to the QR; wrangler dev always sets
    // CF-Connecting-IP, so that branch is not reachable here.)

    // A desktop: Native.
    let order = p.order(&cb, None).await;
    assert_eq!(order["method"], "native");
}
