//! Exports end to end: a payee's CSV of today's payments (Asia/Shanghai) starts with the BOM,
//! keeps Chinese intact, has the documented columns and only that payee's rows; JSON carries
//! the same rows in fen; refunds export; the operator's `shoukuan books export` writes the file
//! with every payee's rows; a bad date is a JSON 400.

use serde_json::Value;
use shoukuan_core::export::{PAYMENT_COLUMNS, REFUND_COLUMNS};
use shoukuan_core::paytime::ShanghaiDay;
use shoukuan_tests::sim::shoukuan_bin;

use crate::payments::{now, Pay, Payee, OPERATOR};
use crate::receipts::{books, paid_order};

fn today() -> String {
    ShanghaiDay::of(now()).to_date_string()
}

async fn export(p: &Pay, payee: &Payee, path: &str) -> (u16, String, Vec<u8>) {
    let resp = reqwest::Client::new()
        .get(p.worker().url(path))
        .header("cookie", &payee.cookie)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_csv_export_has_the_bom_chinese_text_and_the_documented_columns() {
    let p = books().await;
    let payee = p.payee().await;
    let other = p.payee().await;
    let first = paid_order(p, &payee, "12.34").await;
    let second = paid_order(p, &payee, "0.50").await;
    let foreign = paid_order(p, &other, "7.00").await;
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            &format!("/api/dash/orders/{}/refunds", first.id),
            Some(serde_json::json!({ "amount": "2.00", "reason": "少发了一件" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // REFUND.SUCCESS arrives from the simulator (seconds, scaled): the order is paid again
    // with ¥2.00 refunded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let view = p.order_view_on(p.worker(), &first.id).await;
        if view["state"] == "paid" && view["refunded_fen"] == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "refund not settled: {view}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }

    let day = today();
    let (status, content_type, bytes) = export(
        p,
        &payee,
        &format!("/api/dash/exports/payments?date={day}&format=csv"),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF], "UTF-8 BOM first");
    let text = String::from_utf8(bytes[3..].to_vec()).expect("valid UTF-8");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], PAYMENT_COLUMNS.join(","));
    assert_eq!(lines.len(), 3, "header + this payee's two payments: {text}");
    let row_of = |no: &str| {
        lines
            .iter()
            .find(|l| l.contains(no))
            .unwrap_or_else(|| panic!("{no} missing: {text}"))
            .split(',')
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let row = row_of(&first.out_trade_no);
    assert_eq!(row.len(), PAYMENT_COLUMNS.len());
    assert!(row[0].starts_with(&day), "paid time in China time: {row:?}");
    assert_eq!(row[2], first.transaction_id);
    assert_eq!(row[3], "课程费");
    assert_eq!(row[5], "李四商店");
    assert_eq!(&row[7..], ["12.34", "2.00", "已支付"]);
    assert_eq!(row_of(&second.out_trade_no)[7], "0.50");
    assert!(!text.contains(&foreign.out_trade_no), "another payee's row");

    // JSON: the same rows, amounts in fen.
    let (status, _, bytes) = export(
        p,
        &payee,
        &format!("/api/dash/exports/payments?date={day}&format=json"),
    )
    .await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["count"], 2);
    assert_eq!(doc["total_fen"], 1284);
    assert_eq!(doc["from"], day.as_str());

    // Refunds: the one just requested.
    let (status, _, bytes) = export(
        p,
        &payee,
        &format!("/api/dash/exports/refunds?date={day}&to={day}"),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], REFUND_COLUMNS.join(","));
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].contains(&first.out_trade_no), "{text}");
    assert!(
        lines[1].ends_with(",李四商店,2.00,少发了一件,退款成功"),
        "{text}"
    );

    // Bad input: a JSON error with a Chinese message, nothing exported.
    for (path, code) in [
        (
            "/api/dash/exports/payments?date=2026-13-01".to_string(),
            "BAD_RANGE",
        ),
        (
            format!("/api/dash/exports/payments?date={day}&format=xls"),
            "BAD_FORMAT",
        ),
    ] {
        let (status, _, bytes) = export(p, &payee, &path).await;
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!((status, body["code"].as_str()), (400, Some(code)), "{path}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    // Without a session or the operator secret: 401.
    let resp = reqwest::get(
        p.worker()
            .url(&format!("/api/dash/exports/payments?date={day}")),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);

    // The operator's CLI: every payee's rows, the file byte for byte as the worker sent it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payments.csv");
    let out = std::process::Command::new(shoukuan_bin())
        .args(["books", "export", "--date", &day, "--out"])
        .arg(&file)
        .env("SHOUKUAN_URL", p.worker().url(""))
        .env("OPERATOR_SECRET", OPERATOR)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
    let text = String::from_utf8(bytes).unwrap();
    for paid in [&first, &second, &foreign] {
        assert!(
            text.contains(&paid.out_trade_no),
            "operator sees every payee"
        );
    }
    // JSON to standard output.
    let out = std::process::Command::new(shoukuan_bin())
        .args([
            "books", "export", "--date", &day, "--format", "json", "--kind", "refunds",
        ])
        .env("SHOUKUAN_URL", p.worker().url(""))
        .env("OPERATOR_SECRET", OPERATOR)
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "refunds");
    assert!(doc["count"].as_u64().unwrap() >= 1);
    // A wrong date fails before any request, with the reason.
    let out = std::process::Command::new(shoukuan_bin())
        .args(["books", "export", "--date", "2026-02-30"])
        .env("SHOUKUAN_URL", p.worker().url(""))
        .env("OPERATOR_SECRET", OPERATOR)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_report_export_has_the_bills_fees_and_net_per_payee() {
    // Its own simulator: this test moves the simulator's bill clock to tomorrow morning.
    let p = Pay::start(
        "own_business",
        &[
            ("WECHATPAY_MODEL", "own_business"),
            ("WECHATPAY_MERCHANT_NAME", crate::receipts::MERCHANT_NAME),
        ],
    )
    .await;
    let payee = p.payee().await;
    // An accounting endpoint: it gets the day's report once the day is reconciled.
    let hook = crate::webhooks::receiver(vec![]).await;
    let (status, created) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/webhooks",
            Some(serde_json::json!({ "url": hook.url })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    paid_order(&p, &payee, "10.00").await;
    let day = ShanghaiDay::of(now());
    let next_morning = day.end() + 10 * 3600 + 31 * 60;
    p.sim.set_bill_clock(next_morning).await.unwrap();
    let cron = |at: i64| {
        let url = p.worker().url("/api/test/cron");
        async move {
            let resp = reqwest::Client::new()
                .post(url)
                .json(&serde_json::json!({ "now": at }))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        }
    };
    // 10:31: the payment's event goes out; the bill is fetched and the day reconciled.
    cron(next_morning).await;
    // The next minute: the reconciled day's report is queued and sent.
    cron(next_morning + 60).await;
    let got = crate::webhooks::seen(&hook);
    let kinds: Vec<String> = got
        .iter()
        .map(|(_, body, _)| serde_json::from_str::<Value>(body).unwrap()["type"].to_string())
        .collect();
    assert_eq!(
        kinds,
        ["\"payment.succeeded\"", "\"books.day_report\""],
        "{got:?}"
    );
    let (signature, body, _) = &got[1];
    assert_eq!(
        shoukuan_core::webhook::verify_header(
            &secret,
            signature,
            body.as_bytes(),
            next_morning + 60
        ),
        Ok(())
    );
    let event: Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["id"], format!("evt_report_{}", day.to_date_string()));
    assert_eq!(event["data"]["date"], day.to_date_string());
    assert_eq!(event["data"]["status"], "matched", "{event}");
    assert_eq!(event["data"]["totals"][0]["paid_fen"], 1000);
    assert_eq!(event["data"]["totals"][0]["payee"], payee.openid.as_str());
    // Queued once: later runs send nothing new.
    cron(next_morning + 120).await;
    assert_eq!(crate::webhooks::seen(&hook).len(), 2);

    let date = day.to_date_string();
    let (status, _, bytes) = export(
        &p,
        &payee,
        &format!("/api/dash/exports/report?date={date}&format=csv"),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], shoukuan_core::export::REPORT_COLUMNS.join(","));
    assert_eq!(lines.len(), 2, "one payee, one day: {text}");
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(&row[..2], [date.as_str(), "已核对一致"], "{text}");
    assert!(row[2].starts_with("李四商店（"), "the payee's name: {text}");
    assert_eq!(&row[3..7], ["1", "10.00", "0", "0.00"], "{text}");
    // WeChat's fee and what settles add up to the payment.
    let fen = |s: &str| shoukuan_core::money::Fen::parse_yuan(s).unwrap().get();
    assert_eq!(fen(row[7]) + fen(row[8]), 1000, "{text}");
    assert_eq!(row[9], "0");

    // The operator's CLI, JSON: the full report with its totals.
    let out = std::process::Command::new(shoukuan_bin())
        .args([
            "books", "export", "--date", &date, "--kind", "report", "--format", "json",
        ])
        .env("SHOUKUAN_URL", p.worker().url(""))
        .env("OPERATOR_SECRET", OPERATOR)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "report");
    let report = &doc["rows"][0];
    assert_eq!(report["date"], date.as_str());
    assert_eq!(report["status"], "matched", "{report}");
    assert_eq!(report["totals"][0]["paid_fen"], 1000);
    assert_eq!(report["totals"][0]["payee"], payee.openid.as_str());
    assert_eq!(report["matched"], 1, "the one payment agrees: {report}");
    // More than 31 days of reports at once is refused.
    let (status, _, bytes) = export(
        &p,
        &payee,
        "/api/dash/exports/report?date=2026-01-01&to=2026-03-01",
    )
    .await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((status, body["code"].as_str()), (400, Some("BAD_RANGE")));
}
