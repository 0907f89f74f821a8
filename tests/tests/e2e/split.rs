//! Group splits (接龙) end to end: concurrent sign-ups, the cap, dense sequence numbers, the
//! personal-mode payment confirmation, personal data at rest and in public answers, exports,
//! and the live page in Chromium.

use std::time::Duration;

use serde_json::{json, Value};
use shoukuan_tests::browser::Browser;
use shoukuan_tests::worker::Worker;
use thirtyfour::prelude::*;
use tokio::sync::OnceCell;

use crate::unique_pay_code;

/// A development DATA_KEY (base64 of 32 bytes), as `shoukuan keys dev` makes them.
pub const DATA_KEY: &str = "c2hvdWt1YW4tZTJlLWRhdGEta2V5LTMyLWJ5dGVzISE=";

static WORKER: OnceCell<Worker> = OnceCell::const_new();

/// A worker with a DATA_KEY, shared by the split and product tests.
pub async fn worker() -> &'static Worker {
    WORKER
        .get_or_init(|| async {
            Worker::start(&[("DATA_KEY", DATA_KEY)])
                .await
                .expect("wrangler dev starts")
        })
        .await
}

/// Beijing wall-clock time `secs_from_now` seconds ahead, with seconds (`2026-12-01T18:00:05`).
pub fn beijing_in(secs_from_now: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let c = shoukuan_core::deadline::Deadline::from_unix(now + secs_from_now).civil();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// A published split: `(id, manage token)`.
pub struct Published {
    pub id: String,
    pub token: String,
}

pub async fn publish_split(worker: &Worker, split: Value) -> Published {
    let resp = reqwest::Client::new()
        .post(worker.url("/api/collections"))
        .json(&json!({
            "kind": "split",
            "payee_name": "张三",
            "title": "周五聚餐 AA",
            "note": "请备注姓名",
            "pay_code": unique_pay_code(),
            "split": split,
        }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "publish split: {body}");
    Published {
        id: body["id"].as_str().unwrap().to_string(),
        token: body["manage_token"].as_str().unwrap().to_string(),
    }
}

/// `(status, body)` of a sign-up.
async fn join(client: &reqwest::Client, worker: &Worker, id: &str, body: Value) -> (u16, Value) {
    let resp = client
        .post(worker.url(&format!("/api/splits/{id}/join")))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn public_view(worker: &Worker, id: &str) -> Value {
    let resp = reqwest::get(worker.url(&format!("/api/splits/{id}")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn send(
    method: reqwest::Method,
    worker: &Worker,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, worker.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn seqs(view: &Value) -> Vec<u64> {
    view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cap_holds_under_two_hundred_concurrent_sign_ups_with_dense_sequence_numbers() {
    let worker = worker().await;
    let split = publish_split(
        worker,
        json!({ "mode": "fixed", "per_person": "5", "cap": "150" }),
    )
    .await;
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            let id = split.id.clone();
            let base = worker.base.clone();
            tokio::spawn(async move {
                let resp = client
                    .post(format!("{base}/api/splits/{id}/join"))
                    .json(&json!({ "name": format!("接龙{i:03}") }))
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                (status, resp.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut accepted = Vec::new();
    let mut full = 0;
    for task in tasks {
        match task.await.unwrap() {
            (201, body) => accepted.push(body["participant"]["seq"].as_u64().unwrap()),
            (409, body) => {
                assert_eq!(body["code"], "SPLIT_FULL", "{body}");
                full += 1;
            }
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    eprintln!(
        "200 concurrent sign-ups (cap 150) answered in {:?}",
        started.elapsed()
    );
    accepted.sort_unstable();
    assert_eq!(accepted, (1..=150).collect::<Vec<_>>(), "seq not dense");
    assert_eq!(full, 50);
    let view = public_view(worker, &split.id).await;
    assert_eq!(seqs(&view), (1..=150).collect::<Vec<_>>());
    assert_eq!(view["progress"]["joined"], 150);
    assert_eq!(view["accepting"], false);
    let rows = worker
        .query(&format!(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT seq) AS d, MIN(seq) AS lo, MAX(seq) AS hi FROM participants WHERE collection_id = '{}'",
            split.id
        ))
        .unwrap();
    assert_eq!(rows[0], json!({ "n": 150, "d": 150, "lo": 1, "hi": 150 }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payer_is_marked_paid_only_when_the_payee_confirms() {
    let worker = worker().await;
    let split = publish_split(
        worker,
        json!({ "mode": "equal", "total": "100", "people": "3" }),
    )
    .await;
    let client = reqwest::Client::new();
    let (_, a) = join(&client, worker, &split.id, json!({ "name": "甲一" })).await;
    let (_, b) = join(&client, worker, &split.id, json!({ "name": "乙二" })).await;
    let a_id = a["participant"]["id"].as_str().unwrap();
    let a_token = a["token"].as_str().unwrap();
    let b_token = b["token"].as_str().unwrap();
    // ¥100 for 3: the first slot carries the extra fen.
    assert_eq!(a["participant"]["due"], 3334);
    assert_eq!(b["participant"]["due"], 3333);

    let claim = format!("/api/splits/{}/participants/{a_id}/claim", split.id);
    let confirm = format!("/api/splits/{}/participants/{a_id}/confirm", split.id);
    // Someone else's token cannot say 我已付款 for A.
    let (status, body) = send(reqwest::Method::POST, worker, &claim, b_token, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("NOT_PARTICIPANT"))
    );
    // A says 我已付款: waiting for the payee, not paid.
    let (status, body) = send(reqwest::Method::POST, worker, &claim, a_token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "claimed");
    // Having told the payee, A cannot silently leave the list.
    let own = format!("/api/splits/{}/participants/{a_id}", split.id);
    let (status, body) = send(reqwest::Method::DELETE, worker, &own, a_token, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("ALREADY_CLAIMED"))
    );
    let view = public_view(worker, &split.id).await;
    assert_eq!(view["progress"]["paid"], 0);
    assert_eq!(view["progress"]["claimed"], 1);
    assert_eq!(view["progress"]["collected"], 0);
    // Neither the participant's token, nothing, nor a guess confirms a payment.
    for token in [a_token, "", "guess"] {
        let (status, _) = send(reqwest::Method::POST, worker, &confirm, token, None).await;
        assert_eq!(status, 401, "confirm with {token:?}");
    }
    let (status, body) = send(reqwest::Method::POST, worker, &confirm, &split.token, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "paid");
    assert_eq!(body["paid_by"], "payee_confirmed");
    let view = public_view(worker, &split.id).await;
    assert_eq!(view["progress"]["paid"], 1);
    assert_eq!(view["progress"]["collected"], 3334);
    assert_eq!(view["progress"]["target"], 10_000);
    // Paid: no more edits or withdrawal.
    let (status, body) = send(reqwest::Method::DELETE, worker, &own, a_token, None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("ALREADY_PAID")));
    let (status, _) = send(
        reqwest::Method::PUT,
        worker,
        &own,
        a_token,
        Some(json!({ "name": "改名" })),
    )
    .await;
    assert_eq!(status, 409);

    // The payee sees who has not paid, in full; the dues still sum to the total.
    let (status, admin) = send(
        reqwest::Method::GET,
        worker,
        &format!("/api/splits/{}/admin", split.id),
        &split.token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<(&str, &str)> = admin["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(names, vec![("甲一", "paid"), ("乙二", "joined")]);
    let (_, c) = join(&client, worker, &split.id, json!({ "name": "丙三" })).await;
    let view = public_view(worker, &split.id).await;
    let dues: i64 = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["due"].as_i64().unwrap())
        .sum();
    assert_eq!(dues, 10_000);
    assert_eq!(c["participant"]["seq"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_number_never_appears_unmasked_in_public_answers_or_in_d1() {
    let worker = worker().await;
    let split = publish_split(worker, json!({ "mode": "fixed", "per_person": "20" })).await;
    let client = reqwest::Client::new();
    let (status, joined) = join(
        &client,
        worker,
        &split.id,
        json!({ "name": "王小明", "phone": "138 1234 5678" }),
    )
    .await;
    assert_eq!(status, 201, "{joined}");
    assert_eq!(joined["participant"]["name"], "王**");
    assert_eq!(joined["participant"]["phone"], "138****5678");
    let joined_text = joined.to_string();
    let mut public = vec![
        joined_text.replace(joined["token"].as_str().unwrap(), ""),
        reqwest::get(worker.url(&format!("/api/splits/{}", split.id)))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        reqwest::get(worker.url(&format!("/c/{}", split.id)))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        reqwest::get(worker.url(&format!("/api/collections/{}", split.id)))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    ];
    // Without the manage token, the payee's views answer nothing personal.
    for path in ["admin", "export.csv", "export.json"] {
        let resp = reqwest::get(worker.url(&format!("/api/splits/{}/{path}", split.id)))
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        public.push(resp.text().await.unwrap());
    }
    for text in &public {
        assert!(!text.contains("13812345678"), "phone in clear: {text}");
        assert!(!text.contains("王小明"), "name in clear: {text}");
    }
    assert!(public[1].contains("138****5678") && public[1].contains("王**"));
    assert!(public[2].contains("王**"), "the page lists the masked name");

    // At rest: sealed, and the masked forms only.
    let rows = worker
        .query(&format!(
            "SELECT * FROM participants WHERE collection_id = '{}'",
            split.id
        ))
        .unwrap();
    let dump = serde_json::to_string(&rows).unwrap();
    assert!(!dump.contains("13812345678"), "{dump}");
    assert!(!dump.contains("王小明"), "{dump}");
    assert!(rows[0]["phone_sealed"].as_str().unwrap().starts_with("v1."));
    assert_eq!(rows[0]["phone_masked"], "138****5678");

    // The payee, with the manage token, sees them in full.
    let (status, admin) = send(
        reqwest::Method::GET,
        worker,
        &format!("/api/splits/{}/admin", split.id),
        &split.token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(admin["participants"][0]["phone"], "13812345678");
    assert_eq!(admin["participants"][0]["name"], "王小明");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_csv_export_opens_with_the_right_chinese_text_and_amounts() {
    let worker = worker().await;
    let split = publish_split(
        worker,
        json!({ "mode": "itemized", "items": [
            { "name": "门票", "price": "80", "quantity": true },
            { "name": "午餐, 含饮料", "price": "35.5" }
        ] }),
    )
    .await;
    let client = reqwest::Client::new();
    let (status, a) = join(
        &client,
        worker,
        &split.id,
        json!({ "name": "李雷", "phone": "13900001111", "picks": [{ "item": 0, "qty": 2 }, { "item": 1, "qty": 1 }] }),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["participant"]["due"], 19_550);
    let (status, _) = join(
        &client,
        worker,
        &split.id,
        json!({ "name": "=HYPERLINK(\"x\")", "picks": [{ "item": 1, "qty": 1 }] }),
    )
    .await;
    assert_eq!(status, 201);
    let a_id = a["participant"]["id"].as_str().unwrap();
    send(
        reqwest::Method::POST,
        worker,
        &format!("/api/splits/{}/participants/{a_id}/confirm", split.id),
        &split.token,
        None,
    )
    .await;

    let resp = reqwest::Client::new()
        .get(worker.url(&format!("/api/splits/{}/export.csv", split.id)))
        .bearer_auth(&split.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("filename*=UTF-8''%E5%91%A8%E4%BA%94"));
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF], "UTF-8 BOM");
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "序号,姓名,手机号,项目,应付金额（元）,状态,确认方式,报名时间,确认付款时间"
    );
    assert!(
        lines[1]
            .starts_with("1,李雷,13900001111,\"门票×2、午餐, 含饮料×1\",195.50,已付款,收款人确认,"),
        "{}",
        lines[1]
    );
    // A formula typed as a name is defused, not run by the spreadsheet.
    assert!(
        lines[2].starts_with("2,\"'=HYPERLINK(\"\"x\"\")\",,\"午餐, 含饮料×1\",35.50,未付款,"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("合计,2 人,,,231.00,已付 1 人"),
        "{}",
        lines[3]
    );

    let (status, json_export) = send(
        reqwest::Method::GET,
        worker,
        &format!("/api/splits/{}/export.json", split.id),
        &split.token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json_export["participants"][0]["name"], "李雷");
    assert_eq!(json_export["participants"][0]["due"], 19_550);
    assert_eq!(json_export["progress"]["collected"], 19_550);
}

#[tokio::test(flavor = "multi_thread")]
async fn withdrawing_closes_the_gap_and_the_deadline_ends_sign_ups() {
    let worker = worker().await;
    let split = publish_split(
        worker,
        json!({ "mode": "fixed", "per_person": "10", "deadline": beijing_in(6) }),
    )
    .await;
    let client = reqwest::Client::new();
    let mut people = Vec::new();
    for name in ["一号", "二号", "三号", "四号"] {
        let (status, body) = join(&client, worker, &split.id, json!({ "name": name })).await;
        assert_eq!(status, 201, "{body}");
        people.push(body);
    }
    let second = &people[1];
    let path = format!(
        "/api/splits/{}/participants/{}",
        split.id,
        second["participant"]["id"].as_str().unwrap()
    );
    // Only its owner withdraws it.
    let (status, _) = send(
        reqwest::Method::DELETE,
        worker,
        &path,
        people[0]["token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = send(
        reqwest::Method::DELETE,
        worker,
        &path,
        second["token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let view = public_view(worker, &split.id).await;
    assert_eq!(seqs(&view), vec![1, 2, 3]);
    let names: Vec<&str> = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["一**", "三**", "四**"]);
    // Edit one's own entry (the owner sees it in full).
    let third = &people[2];
    let third_path = format!(
        "/api/splits/{}/participants/{}",
        split.id,
        third["participant"]["id"].as_str().unwrap()
    );
    let (status, body) = send(
        reqwest::Method::PUT,
        worker,
        &third_path,
        third["token"].as_str().unwrap(),
        Some(json!({ "name": "三号改", "phone": "13700001234" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "三号改");
    assert_eq!(body["seq"], 2);
    // Bad input is refused with the field.
    let (status, body) = join(
        &client,
        worker,
        &split.id,
        json!({ "name": " ", "phone": "12345" }),
    )
    .await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["name", "phone"]);

    tokio::time::sleep(Duration::from_secs(7)).await;
    let (status, body) = join(&client, worker, &split.id, json!({ "name": "迟到" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("DEADLINE_PASSED"))
    );
    let (status, _) = send(
        reqwest::Method::DELETE,
        worker,
        &third_path,
        third["token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(status, 409);
    let view = public_view(worker, &split.id).await;
    assert_eq!(view["accepting"], false);
    assert_eq!(view["progress"]["joined"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_payee_removes_a_junk_entry_and_an_entry_with_a_pending_order_stays_as_it_is() {
    let worker = worker().await;
    let split = publish_split(
        worker,
        json!({ "mode": "itemized", "items": [
            { "name": "奶茶", "price": "12" }, { "name": "蛋糕", "price": "30", "quantity": true }
        ] }),
    )
    .await;
    let client = reqwest::Client::new();
    let mut people = Vec::new();
    for name in ["一号", "刷屏", "三号"] {
        let body = json!({ "name": name, "picks": [{ "item": 0, "qty": 1 }] });
        let (status, joined) = join(&client, worker, &split.id, body).await;
        assert_eq!(status, 201, "{joined}");
        people.push(joined);
    }
    let pid = |i: usize| people[i]["participant"]["id"].as_str().unwrap().to_string();
    let sid = split.id.clone();
    let remove = |pid: String, token: String| {
        let path = format!("/api/splits/{sid}/participants/{pid}/remove");
        async move { send(reqwest::Method::POST, worker, &path, &token, None).await }
    };
    // Only with the manage token.
    let own_token = people[1]["token"].as_str().unwrap().to_string();
    assert_eq!(remove(pid(1), own_token).await.0, 401);
    let (status, body) = remove(pid(1), split.token.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(seqs(&public_view(worker, &split.id).await), vec![1, 2]);

    // A pending order for 三号's current due: picks, withdrawal and removal are locked.
    worker
        .query(&format!(
            "INSERT INTO orders (id, out_trade_no, collection_id, payee_openid, amount_fen, trade_type, state, \
             limit_day, expires_at, created_at, updated_at, participant_id) VALUES ('{o}', '{o}', '{c}', 'o-payee', \
             1200, 'NATIVE', 'pending', 20000, 9999999999, 1, 1, '{p}')",
            o = crate::unique("ord"),
            c = split.id,
            p = pid(2),
        ))
        .unwrap();
    let path = format!("/api/splits/{}/participants/{}", split.id, pid(2));
    let token = people[2]["token"].as_str().unwrap().to_string();
    let more =
        json!({ "name": "三号", "picks": [{ "item": 0, "qty": 1 }, { "item": 1, "qty": 2 }] });
    for (method, body) in [
        (reqwest::Method::PUT, Some(more.clone())),
        (reqwest::Method::DELETE, None),
    ] {
        let (status, answer) = send(method, worker, &path, &token, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (409, Some("ORDER_PENDING"))
        );
    }
    let (status, answer) = remove(pid(2), split.token.clone()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("ORDER_PENDING"))
    );
    let (_, mine) = send(reqwest::Method::GET, worker, &path, &token, None).await;
    assert_eq!(mine["due"], 1200, "{mine}");
    // Once the order is closed, the entry is the participant's again.
    worker
        .query(&format!(
            "UPDATE orders SET state = 'closed' WHERE participant_id = '{}'",
            pid(2)
        ))
        .unwrap();
    let (status, answer) = send(reqwest::Method::PUT, worker, &path, &token, Some(more)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["due"], 7200);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_splits_are_refused_and_nothing_is_stored() {
    let worker = worker().await;
    let title = format!("聚餐{}", &unique_pay_code()[10..22]);
    let cases = [
        json!({ "mode": "equal", "total": "0.01", "people": "2" }),
        json!({ "mode": "equal", "total": "100" }),
        json!({ "mode": "fixed", "per_person": "abc" }),
        json!({ "mode": "fixed", "per_person": "5", "cap": "0" }),
        json!({ "mode": "fixed", "per_person": "5", "deadline": "2020-01-01T10:00" }),
        json!({ "mode": "itemized", "items": [] }),
        json!({ "mode": "itemized", "items": [{ "name": "最佳套餐", "price": "10" }] }),
        json!({ "mode": "fixed", "per_person": "5", "pay_mode": "merchant" }),
        json!({ "mode": "lottery" }),
    ];
    for split in cases {
        let resp = reqwest::Client::new()
            .post(worker.url("/api/collections"))
            .json(&json!({
                "kind": "split", "payee_name": "张三", "title": title,
                "pay_code": unique_pay_code(), "split": split,
            }))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 400, "{split} → {body}");
        assert!(body["fields"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with("split."));
    }
    let stored = worker
        .query(&format!(
            "SELECT COUNT(*) AS n FROM collections WHERE title = '{title}'"
        ))
        .unwrap();
    assert_eq!(
        stored[0]["n"], 0,
        "a refused split left a collection behind"
    );
}

/// The polling endpoint answers 304 while nothing changed.
#[tokio::test(flavor = "multi_thread")]
async fn polling_costs_a_304_until_something_changes() {
    let worker = worker().await;
    let split = publish_split(worker, json!({ "mode": "fixed", "per_person": "1" })).await;
    let url = worker.url(&format!("/api/splits/{}", split.id));
    let first = reqwest::get(&url).await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = reqwest::Client::new()
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    join(
        &reqwest::Client::new(),
        worker,
        &split.id,
        json!({ "name": "新人" }),
    )
    .await;
    let changed = reqwest::Client::new()
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
}

/// Waits up to `secs` for an element's text to contain `needle`; returns the text.
pub async fn wait_text(browser: &Browser, css: &str, needle: &str, secs: u64) -> String {
    let mut last = String::new();
    for _ in 0..secs * 10 {
        if let Ok(el) = browser.driver.find(By::Css(css)).await {
            last = el.text().await.unwrap_or_default();
            if last.contains(needle) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: expected text containing {needle:?}, got {last:?}");
}

async fn sign_up_in_browser(browser: &Browser, url: &str, name: &str, phone: &str) {
    browser.driver.goto(url).await.unwrap();
    browser
        .wait_for("#join_name")
        .await
        .unwrap()
        .send_keys(name)
        .await
        .unwrap();
    if !phone.is_empty() {
        browser
            .wait_for("#join_phone")
            .await
            .unwrap()
            .send_keys(phone)
            .await
            .unwrap();
    }
    browser
        .wait_for("#join")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for("#my_entry").await.unwrap();
}

/// Submits the form of button `css` as a tap on it would (the browser's own form post: the
/// page runs no script) and waits for the next page to load. (A WebDriver click waits for the
/// new document's scripts, which never come with JavaScript blocked; DevTools' own evaluation
/// still works.)
async fn submit_and_wait(browser: &Browser, css: &str) {
    let before = browser.driver.find(By::Css("#split")).await.unwrap();
    browser.wait_for(css).await.unwrap();
    browser
        .driver
        .cdp()
        .send_raw(
            "Runtime.evaluate",
            json!({ "expression": format!(
                "(() => {{ const b = document.querySelector({css:?}); b.form.requestSubmit(b); }})()"
            ) }),
        )
        .await
        .unwrap();
    for _ in 0..200 {
        if before.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: the form post did not load a new page");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_javascript_the_list_shows_and_sign_up_and_claim_work_through_plain_forms() {
    let worker = worker().await;
    let split = publish_split(
        worker,
        json!({ "mode": "fixed", "per_person": "30", "cap": "10", "deadline": beijing_in(21 * 86_400) }),
    )
    .await;
    let client = reqwest::Client::new();
    for name in ["接口甲", "接口乙"] {
        let (status, body) = join(&client, worker, &split.id, json!({ "name": name })).await;
        assert_eq!(status, 201, "{body}");
    }
    // The API's own answer to a bad phone, to compare with what the form shows.
    let (status, api_error) = join(
        &client,
        worker,
        &split.id,
        json!({ "name": "王五", "phone": "123" }),
    )
    .await;
    assert_eq!(status, 400, "{api_error}");

    // What a browser without JavaScript gets from the form post: the page again with the
    // errors (the API's status), or a redirect back with the ticket cookie.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let refused = plain
        .post(worker.url(&format!("/c/{}/join", split.id)))
        .form(&[("name", "王五"), ("phone", "123")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains(r#"data-field="phone""#));
    let browser = Browser::wechat_without_javascript().await.unwrap();
    let url = worker.url(&format!("/c/{}", split.id));
    browser.driver.goto(&url).await.unwrap();
    let list = wait_text(&browser, "#participants", "接**", 20).await;
    assert_eq!(list.matches("接**").count(), 2, "{list}");
    let head = wait_text(&browser, "#sk-head", "每人 ¥30.00", 5).await;
    assert!(head.contains("已接龙 2/10 人"), "{head}");
    assert!(
        head.contains("还剩 2") && head.contains("天"),
        "days, not a ticking clock: {head}"
    );
    let body = browser.driver.find(By::Tag("body")).await.unwrap();
    assert_eq!(
        body.attr("data-ready").await.unwrap(),
        None,
        "scripts really are off"
    );

    // A refused sign-up: the page again, with what was typed and the API's message.
    browser
        .wait_for("#join_name")
        .await
        .unwrap()
        .send_keys("王五")
        .await
        .unwrap();
    browser
        .wait_for("#join_phone")
        .await
        .unwrap()
        .send_keys("123")
        .await
        .unwrap();
    submit_and_wait(&browser, "#join").await;
    let error = wait_text(&browser, ".field-error[data-field=phone]", "", 10).await;
    let api_message = api_error["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "phone")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(error, api_message);
    let name = browser.wait_for("#join_name").await.unwrap();
    assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("王五"));

    // Fixed, it goes through: back on the page with one's own entry and the code.
    let phone = browser.wait_for("#join_phone").await.unwrap();
    phone.clear().await.unwrap();
    phone.send_keys("13912345678").await.unwrap();
    submit_and_wait(&browser, "#join").await;
    let mine = wait_text(&browser, "#my_entry", "王五", 10).await;
    assert!(
        mine.contains("应付 ¥30.00") && mine.contains("未付款"),
        "{mine}"
    );
    browser.wait_for("#my_entry img.qr-img").await.unwrap();
    let list = wait_text(&browser, "#participants", "王**（我）", 5).await;
    assert!(!list.contains("13912345678"));
    submit_and_wait(&browser, "#claim").await;
    let status = wait_text(&browser, "#my_status", "等待确认", 10).await;
    assert!(status.contains("已告知收款人"), "{status}");
    assert!(
        browser
            .driver
            .find(By::Css("#my_entry img.qr-img"))
            .await
            .is_err(),
        "no code after saying 我已付款"
    );
    let view = public_view(worker, &split.id).await;
    assert_eq!(seqs(&view), vec![1, 2, 3]);
    assert_eq!(view["participants"][2]["status"], "claimed");
    browser.quit().await.unwrap();

    // Another site cannot post the form for someone.
    let resp = client
        .post(worker.url(&format!("/c/{}/join", split.id)))
        .header("origin", "https://evil.example")
        .form(&[("name", "路人")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        public_view(worker, &split.id).await["progress"]["joined"],
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_sign_ups_over_http_and_five_in_chromium_show_exact_progress_and_list_live() {
    let worker = worker().await;
    let split = publish_split(
        worker,
        json!({ "mode": "equal", "total": "400", "people": "40" }),
    )
    .await;
    let url = worker.url(&format!("/c/{}", split.id));
    // Someone keeps the page open: it must update without a reload.
    let observer = Browser::wechat().await.unwrap();
    observer.driver.goto(&url).await.unwrap();
    wait_text(&observer, "#progress_text", "已接龙 0/40 人", 20).await;
    // No app, no WebAssembly: the page is the worker's HTML and a few KB of inline script.
    observer.wait_for("body[data-ready='1']").await.unwrap();
    crate::publish::assert_plain_html(&observer, &url).await;
    observer
        .eval("window.__sameDocument = true; return 1;")
        .await
        .unwrap();

    let http = {
        let base = worker.base.clone();
        let id = split.id.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let tasks: Vec<_> = (0..30)
                .map(|i| {
                    let client = client.clone();
                    let url = format!("{base}/api/splits/{id}/join");
                    tokio::spawn(async move {
                        client
                            .post(url)
                            .json(&json!({ "name": format!("接口{i:02}号") }))
                            .send()
                            .await
                            .unwrap()
                            .status()
                            .as_u16()
                    })
                })
                .collect();
            let mut statuses = Vec::new();
            for t in tasks {
                statuses.push(t.await.unwrap());
            }
            statuses
        })
    };
    // Five people sign up through the page, each on "their own phone" (fresh storage).
    let joiner = Browser::wechat().await.unwrap();
    let names = ["网页甲", "网页乙", "网页丙", "网页丁", "网页戊"];
    for (i, name) in names.iter().enumerate() {
        sign_up_in_browser(&joiner, &url, name, if i == 0 { "13912345678" } else { "" }).await;
        let mine = wait_text(&joiner, "#my_entry", name, 20).await;
        assert!(mine.contains("应付 ¥10.00"), "{mine}");
        // The ticket is a cookie on the split's path: forget it.
        joiner.driver.delete_all_cookies().await.unwrap();
    }
    let statuses = http.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");

    // The observer's page catches up by itself.
    let progress = wait_text(&observer, "#progress_text", "已接龙 35/40 人", 60).await;
    assert!(progress.contains("已付款 0 人"), "{progress}");
    std::fs::write(
        std::env::temp_dir().join("shoukuan-e2e-split-list.png"),
        observer.full_screenshot().await.unwrap(),
    )
    .unwrap();
    let same: Value = observer
        .eval("return window.__sameDocument === true;")
        .await
        .unwrap();
    assert_eq!(same, true, "the page was reloaded");
    let rows: Value = observer
        .eval("return [...document.querySelectorAll('#participants li')].map(li => [li.querySelector('.seq').textContent, li.querySelector('.pname').textContent]);")
        .await
        .unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 35);
    let seq: Vec<String> = rows
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seq, (1..=35).map(|i| format!("{i}.")).collect::<Vec<_>>());
    let shown: Vec<&str> = rows.iter().map(|r| r[1].as_str().unwrap()).collect();
    // Masks are fixed-width (the first character and **), so the five browser sign-ups show
    // as five 网** rows after the thirty HTTP ones.
    assert_eq!(
        shown.iter().filter(|n| **n == "网**").count(),
        5,
        "{shown:?}"
    );
    assert_eq!(shown.iter().filter(|n| n.starts_with("接**")).count(), 30);
    let page = observer
        .driver
        .find(By::Tag("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("13912345678") && !page.contains("网页甲"),
        "personal data on the public page"
    );

    let view = public_view(worker, &split.id).await;
    assert_eq!(seqs(&view), (1..=35).collect::<Vec<_>>());
    assert_eq!(view["progress"]["joined"], 35);
    let dues: Vec<i64> = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["due"].as_i64().unwrap())
        .collect();
    assert!(
        dues.iter().all(|d| *d == 1000),
        "¥400 / 40 = ¥10 each: {dues:?}"
    );
    observer.quit().await.unwrap();
    joiner.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn in_the_browser_a_payer_says_paid_and_only_the_payees_confirmation_marks_it() {
    let worker = worker().await;
    let code = unique_pay_code();
    let resp = reqwest::Client::new()
        .post(worker.url("/api/collections"))
        .json(&json!({
            "kind": "split", "payee_name": "张三", "title": "团建费用",
            "pay_code": code, "split": { "mode": "fixed", "per_person": "88", "deadline": beijing_in(3600) },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let token = created["manage_token"].as_str().unwrap().to_string();
    let url = worker.url(&format!("/c/{id}"));

    let payer = Browser::wechat().await.unwrap();
    sign_up_in_browser(&payer, &url, "赵六", "").await;
    wait_text(&payer, "#my_status", "未付款", 20).await;
    // The payee's own 收款码, re-rendered for long-press, is on the payer's screen.
    payer.wait_for("#my_entry img.qr-img").await.unwrap();
    let shot = payer.full_screenshot().await.unwrap();
    std::fs::write(
        std::env::temp_dir().join("shoukuan-e2e-split-payer.png"),
        &shot,
    )
    .unwrap();
    assert_eq!(shoukuan_tests::qr::decode_png(&shot).unwrap(), vec![code]);
    assert!(wait_text(&payer, "#my_entry", "¥88.00", 5)
        .await
        .contains("长按识别二维码"));
    payer
        .wait_for("#claim")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&payer, "#my_status", "等待确认", 20).await;
    let view = public_view(worker, &id).await;
    assert_eq!(view["participants"][0]["status"], "claimed");
    assert_eq!(view["progress"]["paid"], 0, "a claim is not a payment");

    // The payee, on the private page, sees who has not paid and confirms.
    let payee = Browser::desktop().await.unwrap();
    payee
        .driver
        .goto(worker.url(&format!("/admin/{id}#t={token}")))
        .await
        .unwrap();
    let claimed = wait_text(&payee, "#claimed", "赵六", 20).await;
    assert!(claimed.contains("待确认"), "{claimed}");
    let announcement: Value = payee
        .eval("return document.querySelector('#announcement').value;")
        .await
        .unwrap();
    let announcement = announcement.as_str().unwrap();
    assert!(
        announcement.starts_with("【团建费用】请于") && announcement.contains(&format!("/c/{id}")),
        "{announcement}"
    );
    assert_eq!(
        payee
            .wait_for("#announcement_lint")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        ""
    );
    payee
        .wait_for("#claimed .confirm")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&payee, "#all_participants", "已付款", 20).await;
    std::fs::write(
        std::env::temp_dir().join("shoukuan-e2e-split-admin.png"),
        payee.full_screenshot().await.unwrap(),
    )
    .unwrap();

    // The payer's page learns it without a reload.
    wait_text(&payer, "#my_status", "收款人已确认收款", 40).await;
    wait_text(&payer, "#progress_text", "已付款 1 人", 5).await;
    let view = public_view(worker, &id).await;
    assert_eq!(view["participants"][0]["paid_by"], "payee_confirmed");
    assert_eq!(view["progress"]["collected"], 8800);
    payer.quit().await.unwrap();
    payee.quit().await.unwrap();
}

/// The OA simulator and a worker talking to it, for reminders.
mod reminders {
    use super::*;
    use shoukuan_tests::sim::Sim;

    const OPERATOR: &str = "e2e-operator-secret-split-reminders";
    const TEMPLATE: &str = "tpl-split-reminder";

    /// Opens `/m/<key>` inside "WeChat" as simulated user `openid`, follows the OAuth hops and
    /// returns the payer session cookie (`sk_payer=…`).
    async fn payer_session(worker: &Worker, key: &str, openid: &str) -> String {
        crate::wechat_session(worker, &format!("/m/{key}"), openid, "sk_payer").await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn reminders_reach_unpaid_oa_participants_once_per_twelve_hours_and_never_the_paid() {
        let sim = Sim::start().await.unwrap();
        let worker = sim
            .start_worker(&[
                ("OPERATOR_SECRET", OPERATOR),
                ("PUBLISH_ACCESS", "invite"),
                ("WECHAT_REMINDER_TEMPLATE_ID", TEMPLATE),
                // The remind route's clock (`x-test-now`): quiet hours hold reminders at night.
                ("PAY_TEST_HOOKS", "1"),
            ])
            .await
            .unwrap();
        let split = publish_split(
            &worker,
            json!({ "mode": "fixed", "per_person": "66", "deadline": beijing_in(7200) }),
        )
        .await;
        // A menu jump to the split: the way payers arrive with an OA session.
        let key = format!("rem{}", &split.id[..6]).to_lowercase();
        let resp = reqwest::Client::new()
            .post(worker.url("/api/dash/routes"))
            .bearer_auth(OPERATOR)
            .json(&json!({ "key": key, "target": format!("/c/{}", split.id) }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            201,
            "{}",
            resp.text().await.unwrap_or_default()
        );

        let join_as = |cookie: Option<String>, name: &'static str| {
            let worker = &worker;
            let id = split.id.clone();
            async move {
                let mut req = reqwest::Client::new()
                    .post(worker.url(&format!("/api/splits/{id}/join")))
                    .json(&json!({ "name": name }));
                if let Some(cookie) = cookie {
                    req = req.header("cookie", cookie);
                }
                let resp = req.send().await.unwrap();
                assert_eq!(resp.status(), 201);
                resp.json::<Value>().await.unwrap()
            }
        };
        let unpaid_openid = sim.create_payer(true).await.unwrap();
        let paid_openid = sim.create_payer(true).await.unwrap();
        let unpaid = join_as(
            Some(payer_session(&worker, &key, &unpaid_openid).await),
            "提醒甲",
        )
        .await;
        let paid = join_as(
            Some(payer_session(&worker, &key, &paid_openid).await),
            "提醒乙",
        )
        .await;
        join_as(None, "提醒丙").await;
        send(
            reqwest::Method::POST,
            &worker,
            &format!(
                "/api/splits/{}/participants/{}/confirm",
                split.id,
                paid["participant"]["id"].as_str().unwrap()
            ),
            &split.token,
            None,
        )
        .await;
        // Openids are sealed at rest like the other personal data.
        let rows = worker
            .query(&format!(
                "SELECT openid_sealed FROM participants WHERE collection_id = '{}'",
                split.id
            ))
            .unwrap();
        let dump = serde_json::to_string(&rows).unwrap();
        assert!(
            !dump.contains(&unpaid_openid) && dump.contains("v1."),
            "{dump}"
        );

        let remind = format!("/api/splits/{}/remind", split.id);
        let (status, _) = send(reqwest::Method::POST, &worker, &remind, "guess", None).await;
        assert_eq!(status, 401);
        // Pressed at a daytime hour (outside the 22:00–08:00 quiet hours, whatever the clock).
        let daytime = crate::payments::beijing_noon();
        let press = || async {
            let resp = reqwest::Client::new()
                .post(worker.url(&remind))
                .bearer_auth(&split.token)
                .header("x-test-now", daytime.to_string())
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        };
        let (status, sent) = press().await;
        assert_eq!(status, 200, "{sent}");
        assert_eq!(
            sent,
            json!({ "sent": 1, "failed": 0, "held": 0, "held_until": null })
        );
        // Within 12 hours nobody is reminded twice.
        let (_, again) = press().await;
        assert_eq!(
            again,
            json!({ "sent": 0, "failed": 0, "held": 0, "held_until": null })
        );

        let templates = sim.get("/sim/mp/templates").await.unwrap();
        let templates = templates.as_array().unwrap();
        assert_eq!(templates.len(), 1, "{templates:?}");
        let message = &templates[0]["message"];
        assert_eq!(message["touser"], unpaid_openid.as_str());
        assert_eq!(message["template_id"], TEMPLATE);
        assert_eq!(message["data"]["thing1"]["value"], "周五聚餐 AA");
        assert_eq!(message["data"]["amount2"]["value"], "¥66.00");
        assert!(message["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/c/{}", split.id)));
        assert_eq!(unpaid["participant"]["seq"], 1);
        let (_, admin) = send(
            reqwest::Method::GET,
            &worker,
            &format!("/api/splits/{}/admin", split.id),
            &split.token,
            None,
        )
        .await;
        let reachable: Vec<bool> = admin["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["oa_connected"].as_bool().unwrap_or(false))
            .collect();
        assert_eq!(reachable, vec![true, true, false]);
    }
}
