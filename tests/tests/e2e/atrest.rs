//! Openids and personal data at rest (issue 14) end to end: after a follower scans a channel
//! code, opens the menu, pays inside WeChat (JSAPI) and writes to the Official Account, no byte
//! of the local D1 holds their openid, while self-service, attribution and follow-ups still
//! find them; a change of data key is carried out by `shoukuan data rotate`, after which the
//! old key can go; a sealed value copied to another row does not open there.

use serde_json::{json, Value};
use shoukuan_tests::browser::WECHAT_IOS_UA;
use shoukuan_tests::sim::shoukuan_bin;

use crate::notices::{join, owned_split};
use crate::payments::{Pay, Payee, OPERATOR};
use crate::selfservice::ask;
use crate::split::DATA_KEY as KEY_A;
use crate::wechat_session;

const KEY_B: &str = "MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWY=";
const KEY_C: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A simulator and a worker of this test's own (its keys change), sealing with `KEY_A`.
async fn started() -> Pay {
    Pay::start(
        "own_business",
        &[("WECHATPAY_MODEL", "own_business"), ("DATA_KEY", KEY_A)],
    )
    .await
}

/// A menu-jump route `/m/<key>` to `collection`, made by its payee.
async fn route(p: &Pay, payee: &Payee, collection: &str) -> String {
    let key = crate::unique("ar");
    let (status, body) = p
        .as_payee(
            payee,
            reqwest::Method::POST,
            "/api/dash/routes",
            Some(json!({ "key": key, "target": format!("/c/{collection}") })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    key
}

/// A JSAPI order by the follower whose payer session is `cookie`.
async fn jsapi_order(p: &Pay, cookie: &str, collection: &str) -> Value {
    let order: Value = reqwest::Client::new()
        .post(p.worker.url("/api/orders"))
        .header("user-agent", WECHAT_IOS_UA)
        .header("cookie", cookie)
        .json(&json!({ "collection_id": collection }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["method"], "jsapi", "{order}");
    order
}

/// Pays `order` in the simulator as `openid` and waits for the worker to confirm it.
async fn pay_as(p: &Pay, order: &Value, openid: &str) {
    p.sim
        .post(
            "/sim/pay",
            &json!({ "out_trade_no": order["out_trade_no"], "openid": openid, "variant": "normal", "count": 1 }),
        )
        .await
        .unwrap();
    p.wait_state(order["id"].as_str().unwrap(), "paid", 20)
        .await;
}

fn count(p: &Pay, sql: &str) -> i64 {
    p.worker.query(sql).unwrap()[0]["n"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_scan_a_visit_a_jsapi_payment_and_pushes_no_stored_byte_holds_the_followers_openid()
{
    let p = started().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("9.90")).await;
    let key = route(&p, &payee, &collection).await;
    let (status, channel) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/channels",
            Some(json!({ "name": "门店海报", "kind": "permanent", "route": key })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let channel_id = channel["id"].as_str().unwrap();
    let ticket = p
        .worker
        .query(&format!(
            "SELECT qr_ticket FROM channels WHERE id = '{channel_id}'"
        ))
        .unwrap()[0]["qr_ticket"]
        .as_str()
        .unwrap()
        .to_string();

    // A follower scans the channel's code, opens the menu (a visit and a payer session), pays
    // one JSAPI order, leaves another pending and asks for their orders.
    let follower = p.sim.create_payer(true).await.unwrap();
    let pushed = p
        .sim
        .post(
            "/sim/mp/push",
            &json!({ "openid": follower, "kind": "scan", "ticket": ticket, "safe": true }),
        )
        .await
        .unwrap();
    assert_eq!(pushed["attempts"][0]["status"], 200, "{pushed}");
    let cookie = wechat_session(&p.worker, &format!("/m/{key}"), &follower, "sk_payer").await;
    let paid = jsapi_order(&p, &cookie, &collection).await;
    pay_as(&p, &paid, &follower).await;
    let pending = jsapi_order(&p, &cookie, &collection).await;
    let reply = ask(&p, &follower, "订单").await;

    // Everything still finds the follower, by the keyed hash.
    for order in [&paid, &pending] {
        let id = order["id"].as_str().unwrap();
        assert!(reply.contains(&format!("/o/{id}")), "{reply}");
    }
    let hash = p.sim.openid_key(&follower);
    for (table, column, at_least) in [
        ("orders", "payer_hash", 2),
        ("visits", "openid_key", 1),
        ("channel_scans", "openid_key", 1),
        ("channel_followers", "openid_key", 1),
        ("channel_orders", "openid_key", 2),
        ("mp_pushes", "openid_key", 2),
        ("oa_followups", "openid_key", 1),
    ] {
        let n = count(
            &p,
            &format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = '{hash}'"),
        );
        assert!(n >= at_least, "{table}.{column}: {n} rows of the follower");
    }
    assert_eq!(
        count(
            &p,
            &format!(
                "SELECT COUNT(*) AS n FROM channel_orders WHERE channel_id = '{channel_id}' AND openid_key = '{hash}'"
            )
        ),
        2,
        "both orders are attributed to the scanned channel"
    );
    let sealed = p
        .worker
        .query(&format!(
            "SELECT payer_sealed FROM orders WHERE payer_hash = '{hash}'"
        ))
        .unwrap();
    assert!(
        sealed
            .iter()
            .all(|r| r["payer_sealed"].as_str().unwrap().starts_with("v1.")),
        "{sealed:?}"
    );

    // Not one byte of the local D1 (tables, indexes, WAL) holds the openid; the search does
    // see clear text: the payee's own openid (an account id) is there.
    let found = p.worker.d1_files_containing(&follower).unwrap();
    assert!(
        found.is_empty(),
        "the follower's openid is stored in {found:?}"
    );
    assert!(!p
        .worker
        .d1_files_containing(&payee.openid)
        .unwrap()
        .is_empty());
}

/// Every sealed value the test made: (what, value).
fn sealed_values(p: &Pay) -> Vec<(String, String)> {
    p.worker
        .query(
            "SELECT 'participants.name' AS what, name_sealed AS v FROM participants \
             UNION ALL SELECT 'participants.openid', openid_sealed FROM participants WHERE openid_sealed IS NOT NULL \
             UNION ALL SELECT 'orders.payer', payer_sealed FROM orders WHERE payer_sealed IS NOT NULL \
             UNION ALL SELECT 'oa_followups.openid', openid_sealed FROM oa_followups",
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["what"].as_str().unwrap().to_string(),
                r["v"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `shoukuan data rotate` against the worker: (exit success, printed JSON).
fn rotate(p: &Pay) -> (bool, Value) {
    let out = std::process::Command::new(shoukuan_bin())
        .args(["data", "rotate", "--batch", "2", "--url"])
        .arg(p.worker.url(""))
        .env("OPERATOR_SECRET", OPERATOR)
        .output()
        .expect("shoukuan runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {stdout} / {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), json)
}

async fn admin_name(p: &Pay, split: &str, token: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(p.worker.url(&format!("/api/splits/{split}/admin")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.unwrap()["participants"][0]["name"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_key_rotation_reseals_everything_which_then_opens_without_the_old_key() {
    let mut p = started().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("5.00")).await;
    let key = route(&p, &payee, &collection).await;
    let follower = p.sim.create_payer(true).await.unwrap();
    let cookie = wechat_session(&p.worker, &format!("/m/{key}"), &follower, "sk_payer").await;
    let (split, token) =
        owned_split(&p, &payee, json!({ "mode": "fixed", "per_person": "12" })).await;
    join(&p, &split, "陈同学", Some(&cookie)).await;
    let paid = jsapi_order(&p, &cookie, &collection).await;
    pay_as(&p, &paid, &follower).await;
    let pending = jsapi_order(&p, &cookie, &collection).await;
    ask(&p, &follower, "订单").await;
    let before = sealed_values(&p);
    assert_eq!(before.len(), 5, "{before:?}");
    assert!(
        before.iter().all(|(_, v)| v.starts_with("v1.")),
        "{before:?}"
    );

    // B becomes the current key (version 2), A stays as the previous one: old values open.
    p.worker
        .set_var("DATA_KEY", Some(&format!("2:{KEY_B}")))
        .unwrap();
    p.worker.set_var("DATA_KEY_PREVIOUS", Some(KEY_A)).unwrap();
    p.worker.restart().await.unwrap();
    assert_eq!(admin_name(&p, &split, &token).await, "陈同学");
    let (ok, report) = rotate(&p);
    assert!(ok, "{report}");
    assert_eq!(report["key_version"], 2);
    assert_eq!(report["failed"], json!({}));
    for (what, n) in [
        ("participants.name", 1),
        ("participants.openid", 1),
        ("orders.payer", 2),
        ("oa_followups.openid", 1),
    ] {
        assert_eq!(report["changed"][what], n, "{what}: {report}");
    }
    let after = sealed_values(&p);
    assert_eq!(after.len(), 5);
    assert!(after.iter().all(|(_, v)| v.starts_with("v2.")), "{after:?}");
    // Run again: nothing left to do.
    let (ok, again) = rotate(&p);
    assert!(ok && again["changed"] == json!({}), "{again}");

    // A removed: everything still opens — the payee's view, the self-service answer and the
    // customer-service follow-up when the pending order is paid.
    p.worker.set_var("DATA_KEY_PREVIOUS", None).unwrap();
    p.worker.restart().await.unwrap();
    assert_eq!(admin_name(&p, &split, &token).await, "陈同学");
    pay_as(&p, &pending, &follower).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let all = p.sim.get("/sim/mp/custom-messages").await.unwrap();
        let sent = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["message"]["touser"] == follower.as_str())
            .count();
        if sent == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no follow-up to the follower: {all}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }

    // A payer sealed for one order, copied onto another order, does not open there: the next
    // rotation reseals the genuine one and reports the copy as failed, leaving it as it is.
    let other = p.order(&collection, None).await;
    let other_id = other["id"].as_str().unwrap();
    p.worker
        .query(&format!(
            "UPDATE orders SET payer_sealed = (SELECT payer_sealed FROM orders WHERE id = '{}') WHERE id = '{other_id}'",
            paid["id"].as_str().unwrap()
        ))
        .unwrap();
    p.worker
        .set_var("DATA_KEY", Some(&format!("3:{KEY_C}")))
        .unwrap();
    p.worker
        .set_var("DATA_KEY_PREVIOUS", Some(&format!("2:{KEY_B}")))
        .unwrap();
    p.worker.restart().await.unwrap();
    let (ok, report) = rotate(&p);
    assert!(
        !ok,
        "a value that does not open fails the command: {report}"
    );
    assert_eq!(report["failed"], json!({ "orders.payer": 1 }), "{report}");
    assert_eq!(report["changed"]["orders.payer"], 2, "{report}");
    let copy = p
        .worker
        .query(&format!(
            "SELECT payer_sealed FROM orders WHERE id = '{other_id}'"
        ))
        .unwrap();
    assert!(copy[0]["payer_sealed"].as_str().unwrap().starts_with("v2."));
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_stored_in_clear_before_migration_0014_are_converted_by_the_rotate_command() {
    let p = started().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("7.00")).await;
    let key = route(&p, &payee, &collection).await;
    let follower = p.sim.create_payer(true).await.unwrap();
    let cookie = wechat_session(&p.worker, &format!("/m/{key}"), &follower, "sk_payer").await;
    let (split, _) = owned_split(&p, &payee, json!({ "mode": "fixed", "per_person": "12" })).await;
    join(&p, &split, "陈同学", Some(&cookie)).await;
    let order = p.order(&collection, None).await;
    let id = order["id"].as_str().unwrap();

    // What a worker before 0014 stored: the openid in clear on the order, a push (its event
    // key naming the openid), a scan, a visit, the follower's channel, a channel order and a
    // follow-up owed; the sign-up findable by the older hash under DATA_KEY.
    let t = crate::payments::now();
    let f = follower.as_str();
    p.worker
        .query(&format!(
            "UPDATE orders SET payer_openid = '{f}' WHERE id = '{id}'; \
             INSERT INTO mp_pushes (dedup_key, openid, kind, detail, reply, created_at) \
               VALUES ('evt:{f}:{t}:SCAN', '{f}', 'scan', 'ch_old', '<xml><ToUserName>{f}</ToUserName></xml>', {t}); \
             INSERT INTO channel_scans (channel_id, openid, subscribed, created_at) VALUES ('old', '{f}', 1, {t}); \
             INSERT INTO visits (target, channel_id, openid, in_wechat, created_at) VALUES ('/c/{collection}', 'old', '{f}', 1, {t}); \
             INSERT INTO openid_channels (openid, channel_id, scanned_at) VALUES ('{f}', 'old', {t}); \
             INSERT INTO channel_orders (out_trade_no, channel_id, openid, amount_fen, created_at) \
               VALUES ('{}', 'old', '{f}', 700, {t}); \
             INSERT INTO oa_followups_clear (order_id, openid, asked_at) VALUES ('{id}', '{f}', {t}); \
             UPDATE participants SET openid_key = '{}' WHERE collection_id = '{split}'",
            order["out_trade_no"].as_str().unwrap(),
            "ab".repeat(32)
        ))
        .unwrap();

    let (ok, report) = rotate(&p);
    assert!(ok, "{report}");
    assert_eq!(
        report["changed"],
        json!({
            "convert:followers": 1,
            "convert:oa_followups": 1,
            "convert:orders.payer": 1,
            "rehash:participants.openid_key": 1,
        }),
        "{report}"
    );

    // No clear openid is left; every row holds the keyed hash instead.
    let hash = p.sim.openid_key(&follower);
    for sql in [
        "SELECT COUNT(*) AS n FROM orders WHERE payer_openid IS NOT NULL",
        &format!(
            "SELECT COUNT(*) AS n FROM mp_pushes WHERE openid IS NOT NULL OR reply LIKE '%{f}%'"
        ),
        "SELECT COUNT(*) AS n FROM channel_scans WHERE openid IS NOT NULL",
        "SELECT COUNT(*) AS n FROM visits WHERE openid IS NOT NULL",
        "SELECT COUNT(*) AS n FROM channel_orders WHERE openid IS NOT NULL",
        "SELECT COUNT(*) AS n FROM openid_channels",
        "SELECT COUNT(*) AS n FROM oa_followups_clear",
    ] {
        assert_eq!(count(&p, sql), 0, "{sql}");
    }
    for (table, column) in [
        ("orders", "payer_hash"),
        ("mp_pushes", "openid_key"),
        ("channel_scans", "openid_key"),
        ("channel_orders", "openid_key"),
        ("channel_followers", "openid_key"),
        ("oa_followups", "openid_key"),
        ("participants", "openid_key"),
    ] {
        let n = count(
            &p,
            &format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = '{hash}'"),
        );
        assert_eq!(n, 1, "{table}.{column}");
    }
    // The menu visit of the sign-up (written since) and the converted one.
    assert_eq!(
        count(
            &p,
            &format!("SELECT COUNT(*) AS n FROM visits WHERE openid_key = '{hash}'")
        ),
        2
    );
    assert_eq!(
        count(
            &p,
            &format!("SELECT COUNT(*) AS n FROM mp_pushes WHERE dedup_key = 'evt:{hash}:{t}:SCAN'")
        ),
        1
    );

    // The converted rows work: the follower's 订单 lists the order and the sign-up, and the
    // follow-up, sealed to its order, reaches them when the order is paid. A second run has
    // nothing left to do.
    let reply = ask(&p, &follower, "订单").await;
    assert!(reply.contains(&format!("/o/{id}")), "{reply}");
    assert!(reply.contains(&format!("/c/{split}")), "{reply}");
    pay_as(&p, &order, &follower).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !p
        .sim
        .get("/sim/mp/custom-messages")
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["message"]["touser"] == f)
    {
        assert!(std::time::Instant::now() < deadline, "no follow-up");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let (ok, again) = rotate(&p);
    assert!(ok && again["changed"] == json!({}), "{again}");
}
