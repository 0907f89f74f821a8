//! Books (issue 11) end to end: `shoukuan sim` makes today's bills as if it were tomorrow
//! morning (its bill clock), the worker's cron runs at tomorrow 10:31 China time
//! (`POST /api/test/cron`), downloads the gzipped trade and fund-flow bills, checks their SHA-1,
//! reconciles them with D1 and heals what a query can heal.

use serde_json::{json, Value};

use shoukuan_core::paytime::ShanghaiDay;

use crate::payments::{now, Pay, Payee, OPERATOR};

/// An own-business worker on its own simulator: these tests move the simulator's bill clock.
/// The pay cron waits an hour before re-querying a pending order, so the undelivered payment
/// is left for the reconciliation to find.
async fn books() -> Pay {
    Pay::start(
        "own_business",
        &[
            ("WECHATPAY_MODEL", "own_business"),
            ("WECHATPAY_MERCHANT_NAME", "收款测试餐饮有限公司"),
            ("PAY_REQUERY_AFTER_SECS", "3600"),
        ],
    )
    .await
}

/// Today (China) as yyyy-MM-dd, and tomorrow 10:31 China time in Unix seconds.
fn today_and_next_morning() -> (String, i64) {
    let today = ShanghaiDay::of(now());
    (today.to_date_string(), today.end() + 10 * 3600 + 31 * 60)
}

async fn cron(pay: &Pay, at: i64) {
    let resp = reqwest::Client::new()
        .post(pay.worker().url("/api/test/cron"))
        // The bills job alone: the payments cron, run at a time this late, would re-query the
        // undelivered order first, and the heal to show is the reconciliation's.
        .json(&json!({ "now": at, "only": "books" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn as_operator(
    pay: &Pay,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, pay.worker().url(path))
        .bearer_auth(OPERATOR);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn report(pay: &Pay, date: &str) -> Value {
    let (status, report) = as_operator(
        pay,
        reqwest::Method::GET,
        &format!("/api/dash/books/{date}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    report
}

/// `(kind, key)` of each discrepancy, sorted.
fn kinds(report: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = report["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let key = d["out_refund_no"]
                .as_str()
                .filter(|_| d["kind"].as_str().unwrap().starts_with("refund"))
                .or(d["out_trade_no"].as_str())
                .unwrap();
            (d["kind"].as_str().unwrap().to_string(), key.to_string())
        })
        .collect();
    found.sort();
    found
}

/// A paid order of `payee`'s ¥10.00 collection; returns `(id, out_trade_no)`.
async fn paid_order(pay: &Pay, collection: &str) -> (String, String) {
    let order = pay.order(collection, None).await;
    let no = order["out_trade_no"].as_str().unwrap().to_string();
    let id = order["id"].as_str().unwrap().to_string();
    pay.sim_pay(&no, "normal", 1).await;
    pay.wait_state(&id, "paid", 30).await;
    (id, no)
}

#[tokio::test]
async fn a_day_with_three_discrepancies_is_reported_healed_and_rerun_harmlessly() {
    let pay = books().await;
    let payee: Payee = pay.payee().await;
    let other: Payee = pay.payee().await;
    let collection = pay.collection(&payee, Some("10.00")).await;

    // Four payments: one agrees, one's callback never arrives, one shows another amount in
    // WeChat's bill, and one gets a refund that only WeChat knows.
    let (_, matched) = paid_order(&pay, &collection).await;
    let undelivered = pay.order(&collection, None).await;
    let undelivered_no = undelivered["out_trade_no"].as_str().unwrap().to_string();
    let undelivered_id = undelivered["id"].as_str().unwrap().to_string();
    let payer = pay.sim.create_payer(false).await.unwrap();
    pay.sim
        .pay_without_callback(&undelivered_no, &payer)
        .await
        .unwrap();
    let (_, mismatched) = paid_order(&pay, &collection).await;
    let (_, refunded) = paid_order(&pay, &collection).await;
    pay.sim
        .set_bill_switches(&json!({ "amounts": { mismatched.clone(): 999 } }))
        .await
        .unwrap();
    let outside = pay.sim.outside_refund(&refunded, 300).await.unwrap();
    let outside_refund_no = outside["out_refund_no"].as_str().unwrap().to_string();
    assert_eq!(
        pay.order_view_on(pay.worker(), &undelivered_id).await["state"],
        "pending"
    );

    let (today, next_morning) = today_and_next_morning();
    pay.sim.set_bill_clock(next_morning).await.unwrap();
    // Before 10:30 the job does nothing.
    cron(&pay, next_morning - 3600).await;
    assert_eq!(report(&pay, &today).await["status"], "waiting");
    cron(&pay, next_morning).await;

    let first = report(&pay, &today).await;
    assert_eq!(
        kinds(&first),
        vec![
            ("amount_mismatch".to_string(), mismatched.clone()),
            ("paid_not_here".to_string(), undelivered_no.clone()),
            ("refund_not_here".to_string(), outside_refund_no.clone()),
        ],
        "{first}"
    );
    assert!(kinds(&first).iter().all(|(_, k)| *k != matched));
    // The undelivered payment was healed through a query and the one transition.
    let healed = first["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "paid_not_here")
        .unwrap();
    assert!(healed["healed_at"].is_i64(), "{healed}");
    assert!(
        healed["heal"].as_str().unwrap().contains("paid"),
        "{healed}"
    );
    assert_eq!(
        pay.order_view_on(pay.worker(), &undelivered_id).await["state"],
        "paid"
    );
    let changed_by = pay
        .worker()
        .query(&format!(
            "SELECT changed_by FROM order_events WHERE order_id = '{undelivered_id}' AND to_state = 'paid'"
        ))
        .unwrap();
    assert_eq!(changed_by, vec![json!({ "changed_by": "reconcile" })]);
    // Evidence: WeChat's amounts next to ours.
    let amount = first["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "amount_mismatch")
        .unwrap();
    assert_eq!(
        (amount["bill_fen"].as_i64(), amount["our_fen"].as_i64()),
        (Some(999), Some(1000))
    );
    assert_eq!(amount["bill_row"]["out_trade_no"], mismatched.as_str());
    // Healed days stay in the report; what is still open makes the day inconsistent.
    assert_eq!(first["status"], "discrepancies");
    // Five bill rows, three of them disputed.
    assert_eq!(first["matched"], 2, "{first}");
    let totals = &first["totals"][0];
    assert_eq!(totals["payee"], payee.openid.as_str());
    assert_eq!(
        (totals["payments"].as_i64(), totals["paid_fen"].as_i64()),
        (Some(4), Some(3999))
    );
    assert_eq!(totals["refunded_fen"], 300);
    // 0.6 % of ¥39.99 is 23.994 fen, 1.8 fen of it returned with the refund: 22 fen.
    assert_eq!(totals["fees_fen"], 22);
    assert_eq!(totals["net_fen"], 3999 - 300 - 22);
    assert_eq!(first["bills"][0]["state"], "done");
    assert_eq!(first["bills"][0]["fund_income_fen"], 4000);

    // The payee sees its own day; another payee sees nothing of it.
    let (status, own) = pay
        .as_payee(
            &payee,
            reqwest::Method::GET,
            &format!("/api/dash/books/{today}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(kinds(&own), kinds(&first));
    let (_, others) = pay
        .as_payee(
            &other,
            reqwest::Method::GET,
            &format!("/api/dash/books/{today}"),
            None,
        )
        .await;
    assert_eq!(others["discrepancies"], json!([]));
    assert_eq!(others["totals"], json!([]));
    let month = &today[..7];
    let (status, calendar) = pay
        .as_payee(
            &payee,
            reqwest::Method::GET,
            &format!("/api/dash/books?month={month}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{calendar}");
    let day = calendar["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == today.as_str())
        .unwrap();
    assert_eq!(
        (
            day["status"].as_str(),
            day["discrepancies"].as_i64(),
            day["open"].as_i64()
        ),
        (Some("discrepancies"), Some(3), Some(2))
    );
    let (status, _) = reqwest::Client::new()
        .get(pay.worker().url(&format!("/api/dash/books/{today}")))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 401);

    // Re-running the day (the cron later that morning, then the operator) changes nothing.
    cron(&pay, next_morning + 3600).await;
    let (status, rerun) = as_operator(
        &pay,
        reqwest::Method::POST,
        "/api/operator/books/reconcile",
        Some(json!({ "date": today })),
    )
    .await;
    assert_eq!(status, 200, "{rerun}");
    // The same report; only the count of tries moved on.
    assert_eq!(rerun["bills"][0]["attempts"], 2);
    let same = |mut r: Value| {
        r["bills"][0]["attempts"] = json!(null);
        r
    };
    assert_eq!(same(rerun), same(first.clone()));
    assert_eq!(same(report(&pay, &today).await), same(first));
    assert_eq!(pay.transitions(pay.worker(), &undelivered_id, "paid"), 1);
    assert_eq!(pay.worker().count("book_discrepancies").unwrap(), 3);
}

#[tokio::test]
async fn a_tampered_bill_is_refused_and_reported_and_nothing_is_parsed() {
    let pay = books().await;
    let payee: Payee = pay.payee().await;
    let collection = pay.collection(&payee, Some("10.00")).await;
    let (_, no) = paid_order(&pay, &collection).await;
    pay.sim
        .set_bill_switches(&json!({ "tamper": true, "amounts": { no.clone(): 1 } }))
        .await
        .unwrap();
    let (today, next_morning) = today_and_next_morning();
    pay.sim.set_bill_clock(next_morning).await.unwrap();
    cron(&pay, next_morning).await;

    let report = report(&pay, &today).await;
    assert_eq!(report["status"], "refused", "{report}");
    let bill = &report["bills"][0];
    assert_eq!(bill["state"], "refused");
    assert!(
        bill["message"].as_str().unwrap().contains("摘要不符"),
        "{bill}"
    );
    assert_eq!(bill["trade_hash"], Value::Null);
    // Nothing parsed: no totals, no discrepancies (the bill's wrong amount is not believed).
    assert_eq!(report["discrepancies"], json!([]));
    assert_eq!(report["totals"], json!([]));
    assert_eq!(pay.worker().count("book_totals").unwrap(), 0);
    // Reported to the payee like every flag.
    let flags = pay
        .worker()
        .query("SELECT kind, payee_openid FROM pay_flags WHERE kind = 'books_refused'")
        .unwrap();
    assert_eq!(flags.len(), 1, "{flags:?}");
    // A refused day is not retried by the cron (the operator re-runs it once WeChat's file is good).
    cron(&pay, next_morning + 3600).await;
    assert_eq!(
        pay.worker()
            .query(&format!(
                "SELECT attempts FROM book_days WHERE bill_date = '{today}'"
            ))
            .unwrap(),
        vec![json!({ "attempts": 1 })]
    );
    pay.sim
        .set_bill_switches(&json!({ "tamper": false }))
        .await
        .unwrap();
    let (status, rerun) = as_operator(
        &pay,
        reqwest::Method::POST,
        "/api/operator/books/reconcile",
        Some(json!({ "date": today })),
    )
    .await;
    assert_eq!(status, 200, "{rerun}");
    assert_eq!(rerun["status"], "discrepancies", "{rerun}");
    assert_eq!(kinds(&rerun), vec![("amount_mismatch".to_string(), no)]);
}

#[tokio::test]
async fn platform_bills_are_per_sub_merchant_and_each_payee_sees_its_own() {
    let pay = Pay::start(
        "platform",
        &[
            ("WECHATPAY_MODEL", "platform"),
            ("PAY_REQUERY_AFTER_SECS", "3600"),
        ],
    )
    .await;
    let [(a, ca, sa), (b, cb, sb)] = crate::platform::two_bound_payees(&pay).await;
    let (_, paid) = paid_order(&pay, &ca).await;
    let undelivered = pay.order(&cb, None).await;
    let undelivered_no = undelivered["out_trade_no"].as_str().unwrap().to_string();
    let undelivered_id = undelivered["id"].as_str().unwrap().to_string();
    let payer = pay.sim.create_payer(false).await.unwrap();
    pay.sim
        .pay_without_callback(&undelivered_no, &payer)
        .await
        .unwrap();
    let (today, next_morning) = today_and_next_morning();
    pay.sim.set_bill_clock(next_morning).await.unwrap();
    cron(&pay, next_morning).await;

    // One bill per sub-merchant, each reconciled.
    let all = report(&pay, &today).await;
    let mut merchants: Vec<(String, String)> = all["bills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["merchant"].as_str().unwrap().to_string(),
                b["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    merchants.sort();
    let mut expected = vec![
        (sa.clone(), "done".to_string()),
        (sb.clone(), "done".to_string()),
    ];
    expected.sort();
    assert_eq!(merchants, expected, "{all}");
    assert_eq!(
        kinds(&all),
        vec![("paid_not_here".to_string(), undelivered_no.clone())]
    );
    assert_eq!(
        pay.order_view_on(pay.worker(), &undelivered_id).await["state"],
        "paid"
    );

    // A sees its own bill and money only; B sees its own discrepancy, healed.
    let (_, of_a) = pay
        .as_payee(
            &a,
            reqwest::Method::GET,
            &format!("/api/dash/books/{today}"),
            None,
        )
        .await;
    assert_eq!(of_a["bills"].as_array().unwrap().len(), 1, "{of_a}");
    assert_eq!(of_a["bills"][0]["merchant"], sa.as_str());
    assert_eq!(of_a["discrepancies"], json!([]));
    assert_eq!(of_a["totals"][0]["paid_fen"], 1200);
    assert_eq!(of_a["status"], "matched");
    assert_eq!(of_a["matched"], 1);
    let (_, of_b) = pay
        .as_payee(
            &b,
            reqwest::Method::GET,
            &format!("/api/dash/books/{today}"),
            None,
        )
        .await;
    assert_eq!(of_b["bills"][0]["merchant"], sb.as_str());
    assert_eq!(
        kinds(&of_b),
        vec![("paid_not_here".to_string(), undelivered_no)]
    );
    assert!(of_b["discrepancies"][0]["healed_at"].is_i64(), "{of_b}");
    // Healed, nothing open: the day agrees for B too.
    assert_eq!(of_b["status"], "matched");
    assert_eq!(of_b["totals"][0]["paid_fen"], 3400);
    assert!(kinds(&all).iter().all(|(_, k)| *k != paid));

    // The page: A opens /dash/books on a 375-px phone, picks today, and reads its report.
    let browser = shoukuan_tests::browser::Browser::wechat().await.unwrap();
    browser
        .driver
        .goto(pay.worker().url("/health"))
        .await
        .unwrap();
    let cookie = a.cookie.split(';').next().unwrap();
    let (name, value) = cookie.split_once('=').unwrap();
    browser
        .driver
        .add_cookie(thirtyfour::Cookie::new(name.trim(), value.trim()))
        .await
        .unwrap();
    browser
        .driver
        .goto(pay.worker().url("/dash/books"))
        .await
        .unwrap();
    let day = browser
        .wait_for("#book-days li[data-status='matched'] button")
        .await
        .unwrap();
    assert!(day.text().await.unwrap().contains(&today));
    day.click().await.unwrap();
    let report = browser.wait_for("#book-report").await.unwrap();
    let text = report.text().await.unwrap();
    assert!(
        text.contains("已核对一致") && text.contains("¥12.00"),
        "{text}"
    );
    let width = browser
        .eval("return document.documentElement.scrollWidth")
        .await
        .unwrap();
    assert!(
        width.as_i64().unwrap() <= 375,
        "the page is {width} px wide"
    );
    browser.quit().await.unwrap();
}

#[tokio::test]
async fn a_bill_not_made_yet_is_retried_every_half_hour_then_flagged_at_noon() {
    let pay = books().await;
    let payee: Payee = pay.payee().await;
    let collection = pay.collection(&payee, Some("10.00")).await;
    paid_order(&pay, &collection).await;
    let (today, next_morning) = today_and_next_morning();
    // The simulator's clock is not moved: for it today's bill is still being made.
    let attempts = |pay: &Pay| {
        pay.worker()
            .query(&format!(
                "SELECT state, attempts FROM book_days WHERE bill_date = '{today}'"
            ))
            .unwrap()
    };
    cron(&pay, next_morning).await;
    assert_eq!(
        attempts(&pay),
        vec![json!({ "state": "waiting", "attempts": 1 })]
    );
    let waiting = report(&pay, &today).await;
    assert_eq!(waiting["status"], "waiting");
    assert!(
        waiting["bills"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("STATEMENT_CREATING"),
        "{waiting}"
    );
    cron(&pay, next_morning + 15 * 60).await;
    assert_eq!(
        attempts(&pay),
        vec![json!({ "state": "waiting", "attempts": 1 })]
    );
    cron(&pay, next_morning + 30 * 60).await;
    assert_eq!(
        attempts(&pay),
        vec![json!({ "state": "waiting", "attempts": 2 })]
    );
    // 12:01: still no bill, and our ledger has a payment that day: flagged, no longer retried.
    cron(&pay, next_morning + 90 * 60).await;
    assert_eq!(
        attempts(&pay),
        vec![json!({ "state": "missing", "attempts": 3 })]
    );
    assert_eq!(report(&pay, &today).await["status"], "missing");
    let flags = pay
        .worker()
        .query("SELECT kind FROM pay_flags WHERE kind = 'books_missing'")
        .unwrap();
    assert_eq!(flags.len(), 1);
    cron(&pay, next_morning + 150 * 60).await;
    assert_eq!(
        attempts(&pay),
        vec![json!({ "state": "missing", "attempts": 3 })]
    );
}

#[tokio::test]
async fn a_day_without_trades_on_either_side_needs_no_bill() {
    let pay = books().await;
    let today = ShanghaiDay::of(now());
    let yesterday = ShanghaiDay::from_number(today.number() - 1).to_date_string();
    let half_past_ten = today.start() + 10 * 3600 + 30 * 60;
    pay.sim.set_bill_clock(half_past_ten).await.unwrap();
    cron(&pay, half_past_ten).await;
    let report = report(&pay, &yesterday).await;
    assert_eq!(report["bills"][0]["state"], "no_bill", "{report}");
    assert_eq!(report["status"], "matched");
}
