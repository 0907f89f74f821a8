//! Membership points end to end (issue 15): credited once per verified payment whatever WeChat
//! Pay resends, taken back in proportion as refunds succeed, the balance the payee and the
//! payer see equal to the sum of the append-only ledger, exported as CSV.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::growth::growth;
use crate::payments::{Pay, Payee};

/// Pays an order in the simulator as `openid`, with `count` copies of the callback.
async fn pay_as(p: &Pay, order: &Value, openid: &str, count: usize) {
    let no = order["out_trade_no"].as_str().unwrap();
    p.sim
        .post(
            "/sim/pay",
            &json!({ "out_trade_no": no, "openid": openid, "variant": "normal", "count": count }),
        )
        .await
        .unwrap();
    p.wait_state(order["id"].as_str().unwrap(), "paid", 30)
        .await;
}

async fn refund(p: &Pay, payee: &Payee, order: &Value, amount: &str, refunded_after: i64) {
    let id = order["id"].as_str().unwrap();
    let (status, body) = p
        .as_payee(
            payee,
            reqwest::Method::POST,
            &format!("/api/dash/orders/{id}/refunds"),
            Some(json!({ "amount": amount, "reason": "退款" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while p.order_view_on(p.worker(), id).await["refunded_fen"] != refunded_after {
        assert!(Instant::now() < deadline, "refund of {amount} not settled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The one member's balance on the payee's dashboard (0 without entries).
async fn balance(p: &Pay, payee: &Payee) -> i64 {
    let (status, body) = p
        .as_payee(payee, reqwest::Method::GET, "/api/dash/growth/points", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let members = body["members"].as_array().unwrap();
    assert!(members.len() <= 1, "{body}");
    members
        .first()
        .map_or(0, |m| m["balance"].as_i64().unwrap())
}

/// Waits until the balance is `expected` (the reversal follows the refund's callback).
async fn wait_balance(p: &Pay, payee: &Payee, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = balance(p, payee).await;
        if got == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "balance {got}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn points_are_credited_once_per_payment_reversed_in_proportion_and_the_ledger_sums_up() {
    let p = growth().await;
    let payee = p.payee().await;
    let path = "/api/dash/growth/points";
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::PUT,
            path,
            Some(json!({ "per_yuan": 0 })),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_PROGRAMME"))
    );
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::PUT,
            path,
            Some(json!({ "per_yuan": 2 })),
        )
        .await;
    assert_eq!(
        (status, body["per_yuan"].as_i64()),
        (200, Some(2)),
        "{body}"
    );
    let collection = p.collection(&payee, Some("68.00")).await;
    let member = p.sim.create_payer(true).await.unwrap();

    // ¥68 at 2 points per yuan, the callback delivered three times: 136 once.
    let first = p.order(&collection, None).await;
    pay_as(p, &first, &member, 3).await;
    wait_balance(p, &payee, 136).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        balance(p, &payee).await,
        136,
        "resent callbacks add nothing"
    );
    // Half refunded: half the points go; the rest: all of them.
    refund(p, &payee, &first, "34.00", 3400).await;
    wait_balance(p, &payee, 68).await;
    refund(p, &payee, &first, "34.00", 6800).await;
    wait_balance(p, &payee, 0).await;
    // The next order earns again; ¥0.01 back takes floor(136 × 1 / 6800) = 0 points.
    let second = p.order(&collection, None).await;
    pay_as(p, &second, &member, 1).await;
    wait_balance(p, &payee, 136).await;
    refund(p, &payee, &second, "0.01", 1).await;
    let ledger_rows = |p: &Pay| {
        p.worker()
            .query(&format!(
                "SELECT COUNT(*) AS n FROM points_ledger WHERE payee_openid = '{}'",
                payee.openid
            ))
            .unwrap()[0]["n"]
            .as_i64()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while ledger_rows(p) < 5 {
        assert!(
            Instant::now() < deadline,
            "the ¥0.01 refund's entry is missing"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // An order paid by someone else is another member; this one's balance is unchanged.
    let other = p.order(&collection, None).await;
    p.sim_pay(other["out_trade_no"].as_str().unwrap(), "normal", 1)
        .await;
    p.wait_state(other["id"].as_str().unwrap(), "paid", 30)
        .await;

    // The ledger: append-only, and each member's balance is the sum of its entries.
    let rows = p
        .worker()
        .query(&format!(
            "SELECT member, delta, kind FROM points_ledger WHERE payee_openid = '{}' ORDER BY id",
            payee.openid
        ))
        .unwrap();
    let deltas: Vec<(i64, String)> = rows
        .iter()
        .map(|r| {
            (
                r["delta"].as_i64().unwrap(),
                r["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let member_key = rows[0]["member"].as_str().unwrap();
    let mine: i64 = rows
        .iter()
        .filter(|r| r["member"] == member_key)
        .map(|r| r["delta"].as_i64().unwrap())
        .sum();
    assert_eq!(mine, 136, "{deltas:?}");
    assert_eq!(
        deltas,
        vec![
            (136, "earn".into()),
            (-68, "reverse".into()),
            (-68, "reverse".into()),
            (136, "earn".into()),
            (0, "reverse".into()),
            (136, "earn".into()),
        ]
    );
    assert!(
        !rows
            .iter()
            .any(|r| r["member"].as_str() == Some(member.as_str())),
        "no raw openid"
    );
    assert!(
        p.worker()
            .query(&format!(
                "UPDATE points_ledger SET delta = 0 WHERE payee_openid = '{}'",
                payee.openid
            ))
            .is_err(),
        "the ledger refuses updates"
    );
    let (_, body) = p.as_payee(&payee, reqwest::Method::GET, path, None).await;
    let balances: Vec<i64> = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["balance"].as_i64().unwrap())
        .collect();
    assert_eq!(balances, vec![136, 136], "{body}");

    // CSV export of the ledger.
    let csv = reqwest::Client::new()
        .get(p.worker().url("/api/dash/growth/points.csv"))
        .header("cookie", &payee.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert!(lines[0].starts_with('\u{feff}'), "BOM for Excel");
    assert_eq!(lines.len(), 7, "{csv}");
    assert!(lines[2].contains(",'-68,退款扣回,"), "{csv}");

    // The payer, signed in through the Official Account, sees the same balance.
    let key = crate::unique("pts");
    let (status, _) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/routes",
            Some(json!({ "key": key, "target": format!("/c/{collection}") })),
        )
        .await;
    assert_eq!(status, 201);
    let cookie = crate::wechat_session(p.worker(), &format!("/m/{key}"), &member, "sk_payer").await;
    let mine: Value = reqwest::Client::new()
        .get(p.worker().url("/api/growth/points"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["programmes"][0]["balance"], 136, "{mine}");
    assert_eq!(mine["programmes"][0]["payee_name"], "李四商店");
    assert_eq!(
        mine["programmes"][0]["history"].as_array().unwrap().len(),
        5
    );
}

/// `POST /api/orders[?points=n]` as the signed-in payer (desktop: Native).
async fn order_with(p: &Pay, collection: &str, cookie: &str, points: Option<i64>) -> (u16, Value) {
    let query = points.map_or(String::new(), |n| format!("?points={n}"));
    let resp = reqwest::Client::new()
        .post(p.worker().url(&format!("/api/orders{query}")))
        .header("cookie", cookie)
        .json(&json!({ "collection_id": collection }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn redeemed_points_are_reserved_with_the_order_returned_when_it_expires_and_never_overspent()
{
    let p = growth().await;
    let payee = p.payee().await;
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::PUT,
            "/api/dash/growth/points",
            Some(json!({ "per_yuan": 1, "fen_per_point": 1, "max_per_order": 5000 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let collection = p.collection(&payee, Some("68.00")).await;
    let member = p.sim.create_payer(true).await.unwrap();
    let key = crate::unique("rdm");
    let (status, _) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/routes",
            Some(json!({ "key": key, "target": format!("/c/{collection}") })),
        )
        .await;
    assert_eq!(status, 201);
    let cookie = crate::wechat_session(p.worker(), &format!("/m/{key}"), &member, "sk_payer").await;

    // Earn 68 on a first order.
    let (status, first) = order_with(p, &collection, &cookie, None).await;
    assert_eq!(status, 201, "{first}");
    pay_as(p, &first, &member, 1).await;
    wait_balance(p, &payee, 68).await;

    // Redeem 50 (¥0.50): reserved at once; WeChat Pay is asked for ¥67.50 and the callback
    // for ¥67.50 is accepted; the payment earns 67 more.
    let (status, second) = order_with(p, &collection, &cookie, Some(50)).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(balance(p, &payee).await, 18, "reserved with the order");
    let no = second["out_trade_no"].as_str().unwrap();
    let prepay = p.sim.prepay_request(no).await.unwrap();
    assert_eq!(prepay["amount"]["total"], 6750, "{prepay}");
    assert_eq!(
        p.order_view_on(p.worker(), second["id"].as_str().unwrap())
            .await["amount_fen"],
        6750
    );
    pay_as(p, &second, &member, 1).await;
    wait_balance(p, &payee, 85).await;

    // More than the cap, or more than the balance: refused, nothing reserved.
    let (status, body) = order_with(p, &collection, &cookie, Some(5001)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_POINTS"))
    );
    let (status, body) = order_with(p, &collection, &cookie, Some(86)).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("POINTS_SHORT")));
    // Without a payer session there is nobody to take points from.
    let (status, _) = order_with(p, &collection, "", Some(10)).await;
    assert_eq!(status, 401);

    // An order holding 40 points expires unpaid: the cron closes it and the points come back.
    let (status, third) = order_with(p, &collection, &cookie, Some(40)).await;
    assert_eq!(status, 201, "{third}");
    assert_eq!(balance(p, &payee).await, 45);
    let third_id = third["id"].as_str().unwrap();
    let resp = reqwest::Client::new()
        .post(p.worker().url("/api/test/pay/age"))
        .json(&json!({ "order_id": third_id, "seconds": 3600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    p.worker().run_cron().await.unwrap();
    p.wait_state(third_id, "closed", 20).await;
    p.worker().run_cron().await.unwrap();
    wait_balance(p, &payee, 85).await;
    p.worker().run_cron().await.unwrap();
    assert_eq!(balance(p, &payee).await, 85, "returned once");

    // 50 orders at once each redeeming 60 of the 85 points: one gets them.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (url, cookie, collection) = (
            p.worker().url("/api/orders?points=60"),
            cookie.clone(),
            collection.clone(),
        );
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .header("cookie", cookie)
                .json(&json!({ "collection_id": collection }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => created += 1,
            409 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(balance(p, &payee).await, 25);
}
