//! Points expiry and the payer's points on the page (issue 15), end to end: points expire N
//! days after they were earned, oldest first, as appended ledger entries written by the cron at
//! the test clock's time; a signed-in payer sees the balance and history with this payee on a
//! merchant collection's page, ticks the box, and the order made by the page's own script is
//! discounted by those points.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shoukuan_tests::browser::Browser;

use crate::growth::growth;
use crate::payments::{Pay, Payee};

async fn balance(p: &Pay, payee: &Payee) -> i64 {
    let (status, body) = p
        .as_payee(payee, reqwest::Method::GET, "/api/dash/growth/points", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["balance"].as_i64().unwrap())
        .sum()
}

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

async fn points_cron(p: &Pay, now: i64) {
    let resp = reqwest::Client::new()
        .post(p.worker().url("/api/test/cron"))
        .json(&json!({ "now": now, "only": "points" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn order_with(p: &Pay, collection: &str, cookie: &str, points: Option<i64>) -> Value {
    let query = points.map_or(String::new(), |n| format!("?points={n}"));
    let resp = reqwest::Client::new()
        .post(p.worker().url(&format!("/api/orders{query}")))
        .header("cookie", cookie)
        .json(&json!({ "collection_id": collection }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

async fn pay_as(p: &Pay, order: &Value, openid: &str) {
    p.sim
        .post(
            "/sim/pay",
            &json!({ "out_trade_no": order["out_trade_no"], "openid": openid, "variant": "normal", "count": 1 }),
        )
        .await
        .unwrap();
    p.wait_state(order["id"].as_str().unwrap(), "paid", 30)
        .await;
}

/// `(kind, delta, created_at)` of the payee's ledger, in order.
fn ledger(p: &Pay, payee: &Payee) -> Vec<(String, i64, i64)> {
    p.worker()
        .query(&format!(
            "SELECT kind, delta, created_at FROM points_ledger WHERE payee_openid = '{}' ORDER BY id",
            payee.openid
        ))
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["delta"].as_i64().unwrap(),
                r["created_at"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn page(p: &Pay, collection: &str, cookie: Option<&str>) -> String {
    let mut req = reqwest::Client::new().get(p.worker().url(&format!("/c/{collection}")));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn points_expire_oldest_first_at_the_clock_and_the_payer_redeems_them_on_the_page() {
    let p = growth().await;
    let payee = p.payee().await;
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::PUT,
            "/api/dash/growth/points",
            Some(json!({ "per_yuan": 1, "fen_per_point": 1, "max_per_order": 100, "expire_days": 0 })),
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
            "/api/dash/growth/points",
            Some(json!({ "per_yuan": 1, "fen_per_point": 1, "max_per_order": 100, "expire_days": 1 })),
        )
        .await;
    assert_eq!(
        (status, body["expire_days"].as_i64()),
        (200, Some(1)),
        "{body}"
    );
    let collection = p.collection(&payee, Some("68.00")).await;
    let member = p.sim.create_payer(true).await.unwrap();
    let key = crate::unique("exp");
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

    // Not signed in: a sign-in link, no balance.
    let anonymous = page(p, &collection, None).await;
    assert!(
        anonymous.contains("微信授权后查看和使用积分"),
        "{anonymous}"
    );
    assert!(!anonymous.contains("sk-points-balance"));

    // Earn 68; a second later redeem 20 and earn 67 (lots of 68 and 67, the first 20 spent).
    let first = order_with(p, &collection, &cookie, None).await;
    pay_as(p, &first, &member).await;
    wait_balance(p, &payee, 68).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = order_with(p, &collection, &cookie, Some(20)).await;
    pay_as(p, &second, &member).await;
    wait_balance(p, &payee, 115).await;

    // The payer's page: balance, history, and at most the cap (100) to redeem on ¥68.
    let html = page(p, &collection, Some(&cookie)).await;
    assert!(
        html.contains(r#"<b id="sk-points-balance">115</b>"#),
        "{html}"
    );
    assert!(html.contains(r#"id="sk-points" value="100""#), "{html}");
    assert!(html.contains("抵扣 ¥1.00，实付 ¥67.00"), "{html}");
    // Chosen before paying: the box sits above the pay button, inside the pay card.
    let (boxed, button) = (html.find("sk-points-box"), html.find(r#"id="sk-pay""#));
    assert!(boxed.is_some() && boxed < button, "{html}");
    assert!(
        html.contains("支付获得 +68") && html.contains("下单抵扣 -20"),
        "{html}"
    );
    assert!(!html.contains(member.as_str()), "no openid on the page");

    let earned: Vec<i64> = ledger(p, &payee)
        .iter()
        .filter(|e| e.0 == "earn")
        .map(|e| e.2)
        .collect();
    let (t1, t2) = (earned[0], earned[1]);
    assert!(t2 > t1, "{earned:?}");
    let day = 86_400;

    // Just before a day: nothing. At a day after the first lot: what is left of it (48).
    points_cron(p, t1 + day - 1).await;
    assert_eq!(balance(p, &payee).await, 115);
    points_cron(p, t1 + day).await;
    assert_eq!(balance(p, &payee).await, 67);
    points_cron(p, t1 + day).await;
    points_cron(p, t2 + day - 1).await;
    assert_eq!(balance(p, &payee).await, 67, "booked once");
    // A day after the second lot: the rest.
    points_cron(p, t2 + day).await;
    assert_eq!(balance(p, &payee).await, 0);
    let kinds: Vec<(String, i64)> = ledger(p, &payee)
        .into_iter()
        .map(|(k, d, _)| (k, d))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("earn".into(), 68),
            ("redeem".into(), -20),
            ("earn".into(), 67),
            ("expire".into(), -48),
            ("expire".into(), -67),
        ]
    );
    let html = page(p, &collection, Some(&cookie)).await;
    assert!(
        html.contains(r#"<b id="sk-points-balance">0</b>"#),
        "{html}"
    );
    assert!(
        html.contains("过期 -48") && !html.contains(r#"id="sk-points""#),
        "{html}"
    );
    let csv = reqwest::Client::new()
        .get(p.worker().url("/api/dash/growth/points.csv"))
        .header("cookie", &payee.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.matches(",过期,").count(), 2, "{csv}");

    // Earn again, then redeem on the page itself: tick the box, pay; the order the page's
    // script makes is ¥68 less the points.
    let third = order_with(p, &collection, &cookie, None).await;
    pay_as(p, &third, &member).await;
    wait_balance(p, &payee, 68).await;
    let browser = Browser::wechat().await.unwrap();
    browser
        .driver
        .goto(p.worker().url("/health"))
        .await
        .unwrap();
    let (name, value) = cookie.split(';').next().unwrap().split_once('=').unwrap();
    browser
        .driver
        .add_cookie(thirtyfour::Cookie::new(name.trim(), value.trim()))
        .await
        .unwrap();
    browser
        .driver
        .goto(p.worker().url(&format!("/c/{collection}")))
        .await
        .unwrap();
    let tick = browser.wait_for("#sk-points").await.unwrap();
    assert_eq!(tick.attr("value").await.unwrap().as_deref(), Some("68"));
    std::fs::write(
        std::env::temp_dir().join("shoukuan-e2e-payer-points.png"),
        browser.full_screenshot().await.unwrap(),
    )
    .unwrap();
    tick.click().await.unwrap();
    browser
        .wait_for("#sk-pay")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Inside WeChat the page asks the JS bridge to pay (absent here); the order exists already.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = p
            .worker()
            .query(&format!(
                "SELECT amount_fen FROM orders WHERE collection_id = '{collection}' ORDER BY created_at DESC LIMIT 1"
            ))
            .unwrap();
        if rows[0]["amount_fen"] == 6800 - 68 {
            break;
        }
        assert!(Instant::now() < deadline, "no discounted order: {rows:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(balance(p, &payee).await, 0, "reserved with the order");
    browser.quit().await.unwrap();
}
