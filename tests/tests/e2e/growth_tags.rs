//! Customer tags end to end (issue 15): a payee's people from real merchant payments (paid in
//! the simulator) and split sign-ups (through the Official Account menu or not), tags assigned
//! singly and in bulk, the people list and the payments export filtered by a tag, a tag's
//! batch reminder reaching exactly its unpaid followers in the simulator's template log — and
//! another payee seeing and touching none of it.

use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::notices::{join, owned_split};
use crate::payments::{now, Pay, Payee};

const REMINDER_TEMPLATE: &str = "tpl-growth-tag-reminder";

static TAGS: OnceCell<Pay> = OnceCell::const_new();

/// One simulator and worker for these tests (own business, the reminder template set).
async fn tags_env() -> &'static Pay {
    TAGS.get_or_init(|| async {
        Pay::start(
            "own_business",
            &[
                ("WECHATPAY_MODEL", "own_business"),
                ("WECHATPAY_MERCHANT_NAME", "收款测试标签有限公司"),
                ("WECHAT_REMINDER_TEMPLATE_ID", REMINDER_TEMPLATE),
            ],
        )
        .await
    })
    .await
}

async fn call(
    p: &Pay,
    payee: &Payee,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    p.as_payee(payee, method, path, body).await
}

async fn new_tag(p: &Pay, payee: &Payee, group: &str, name: &str) -> i64 {
    let (status, body) = call(
        p,
        payee,
        reqwest::Method::POST,
        "/api/dash/tags",
        Some(json!({ "group": group, "name": name })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

/// The people list (`tag`: filtered), as person key → row.
async fn people(p: &Pay, payee: &Payee, tag: Option<i64>) -> Vec<Value> {
    let path = match tag {
        Some(t) => format!("/api/dash/tags/people?tag={t}"),
        None => "/api/dash/tags/people".to_string(),
    };
    let (status, body) = call(p, payee, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{body}");
    body["people"].as_array().unwrap().clone()
}

fn keys(rows: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = rows
        .iter()
        .map(|r| r["person"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

fn key_labelled(rows: &[Value], label: &str) -> String {
    let found: Vec<&Value> = rows.iter().filter(|r| r["label"] == label).collect();
    assert_eq!(found.len(), 1, "{label} in {rows:?}");
    found[0]["person"].as_str().unwrap().to_string()
}

async fn assign(p: &Pay, payee: &Payee, tag: i64, verb: &str, people: &[&str]) -> (u16, Value) {
    call(
        p,
        payee,
        reqwest::Method::POST,
        &format!("/api/dash/tags/{tag}/{verb}"),
        Some(json!({ "people": people })),
    )
    .await
}

/// Pays a Native order in the simulator as `openid`.
async fn paid_by(p: &Pay, collection: &str, openid: &str) -> Value {
    let order = p.order(collection, None).await;
    p.sim
        .post(
            "/sim/pay",
            &json!({ "out_trade_no": order["out_trade_no"], "openid": openid, "variant": "normal", "count": 1 }),
        )
        .await
        .unwrap();
    p.wait_state(order["id"].as_str().unwrap(), "paid", 30)
        .await;
    order
}

/// An Official Account session cookie for `openid`, through a menu jump to `/c/<collection>`.
async fn follower_session(p: &Pay, payee: &Payee, collection: &str, openid: &str) -> String {
    let key = crate::unique("tag");
    let (status, body) = call(
        p,
        payee,
        reqwest::Method::POST,
        "/api/dash/routes",
        Some(json!({ "key": key, "target": format!("/c/{collection}") })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    crate::wechat_session(p.worker(), &format!("/m/{key}"), openid, "sk_payer").await
}

async fn export(p: &Pay, payee: &Payee, tag: Option<i64>) -> (u16, Value) {
    let day = shoukuan_core::paytime::ShanghaiDay::of(now()).to_date_string();
    let tag = tag.map_or(String::new(), |t| format!("&tag={t}"));
    call(
        p,
        payee,
        reqwest::Method::GET,
        &format!("/api/dash/exports/payments?date={day}&format=json{tag}"),
        None,
    )
    .await
}

fn exported(body: &Value) -> Vec<String> {
    let mut nos: Vec<String> = body["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|r| r["out_trade_no"].as_str().unwrap().to_string())
        .collect();
    nos.sort();
    nos
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_go_on_singly_and_in_bulk_filter_people_and_exports_and_stay_with_their_payee() {
    let p = tags_env().await;
    let payee = p.payee().await;
    let other = p.payee().await;

    // People: two merchant payers, a follower who signed up through the menu, a name only.
    let collection = p.collection(&payee, Some("10.00")).await;
    let (m1, m2) = (
        p.sim.create_payer(true).await.unwrap(),
        p.sim.create_payer(true).await.unwrap(),
    );
    let first = paid_by(p, &collection, &m1).await;
    let second = paid_by(p, &collection, &m2).await;
    let (split, _) = owned_split(p, &payee, json!({ "mode": "fixed", "per_person": "20" })).await;
    let f1 = p.sim.create_payer(true).await.unwrap();
    let cookie = follower_session(p, &payee, &split, &f1).await;
    join(p, &split, "甲同学", Some(&cookie)).await;
    join(p, &split, "丁同学", None).await;

    let all = people(p, &payee, None).await;
    assert_eq!(all.len(), 4, "{all:?}");
    let text = serde_json::to_string(&all).unwrap();
    for openid in [&m1, &m2, &f1] {
        assert!(
            !text.contains(openid.as_str()),
            "no openid in the list: {text}"
        );
    }
    let payers: Vec<&Value> = all.iter().filter(|r| r["payments"] == 1).collect();
    assert_eq!(payers.len(), 2, "{all:?}");
    assert!(payers
        .iter()
        .all(|r| r["paid_fen"] == 1000 && r["reachable"] == true));
    let (a, b) = (
        payers[0]["person"].as_str().unwrap().to_string(),
        payers[1]["person"].as_str().unwrap().to_string(),
    );
    let follower = key_labelled(&all, "甲**");
    let named = key_labelled(&all, "丁**");
    assert_eq!(named, "n丁**");
    let f_row = all
        .iter()
        .find(|r| r["person"] == follower.as_str())
        .unwrap();
    assert_eq!(
        (f_row["signups"].as_i64(), f_row["reachable"].as_bool()),
        (Some(1), Some(true))
    );

    // Tags: in a group or alone; the same group and name again is the same tag.
    let class = new_tag(p, &payee, "班级", "三年二班").await;
    let vip = new_tag(p, &payee, "", "VIP").await;
    let (status, again) = call(
        p,
        &payee,
        reqwest::Method::POST,
        "/api/dash/tags",
        Some(json!({ "group": " 班级 ", "name": "三年二班" })),
    )
    .await;
    assert_eq!((status, again["id"].as_i64()), (200, Some(class)));
    let (status, bad) = call(
        p,
        &payee,
        reqwest::Method::POST,
        "/api/dash/tags",
        Some(json!({ "group": "班级", "name": "  " })),
    )
    .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (400, Some("INVALID_TAG")),
        "{bad}"
    );

    // One by one, then in bulk (a repeat changes nothing); a raw openid is not a person.
    let (status, body) = assign(p, &payee, vip, "assign", &[&a]).await;
    assert_eq!((status, body["changed"].as_i64()), (200, Some(1)), "{body}");
    let (status, body) = assign(p, &payee, class, "assign", &[&b, &follower, &named]).await;
    assert_eq!((status, body["changed"].as_i64()), (200, Some(3)), "{body}");
    let (_, body) = assign(p, &payee, class, "assign", &[&b, &follower, &named]).await;
    assert_eq!(body["changed"].as_i64(), Some(0));
    let (status, body) = assign(p, &payee, class, "assign", &[&format!("o{m1}")]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_PEOPLE")),
        "{body}"
    );

    // The list filtered by each tag.
    let mut expected = vec![b.clone(), follower.clone(), named.clone()];
    expected.sort();
    assert_eq!(keys(&people(p, &payee, Some(class)).await), expected);
    assert_eq!(keys(&people(p, &payee, Some(vip)).await), vec![a.clone()]);
    // Exports: all of the day's payments, or only those of the tag's people — VIP's payer and
    // the class's payer each have their own order.
    let (status, body) = export(p, &payee, None).await;
    assert_eq!(status, 200, "{body}");
    let mut both = vec![
        first["out_trade_no"].as_str().unwrap().to_string(),
        second["out_trade_no"].as_str().unwrap().to_string(),
    ];
    both.sort();
    assert_eq!(exported(&body), both);
    let (status, body) = export(p, &payee, Some(vip)).await;
    assert_eq!(status, 200, "{body}");
    let mut split_up = exported(&body);
    let (_, body) = export(p, &payee, Some(class)).await;
    split_up.extend(exported(&body));
    split_up.sort();
    assert_eq!(split_up, both, "one order each");
    let (status, body) = call(
        p,
        &payee,
        reqwest::Method::GET,
        &format!("/api/dash/exports/report?date=2026-11-01&tag={vip}"),
        None,
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("BAD_TAG")));

    let (status, body) = assign(p, &payee, class, "unassign", &[&b]).await;
    assert_eq!((status, body["changed"].as_i64()), (200, Some(1)));
    let mut expected = vec![follower.clone(), named.clone()];
    expected.sort();
    assert_eq!(keys(&people(p, &payee, Some(class)).await), expected);
    let (_, listed) = call(p, &payee, reqwest::Method::GET, "/api/dash/tags", None).await;
    let counts: Vec<(i64, i64)> = listed["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_i64().unwrap(), t["people"].as_i64().unwrap()))
        .collect();
    assert!(
        counts.contains(&(class, 2)) && counts.contains(&(vip, 1)),
        "{listed}"
    );
    let (_, body) = export(p, &payee, Some(class)).await;
    assert!(
        exported(&body).is_empty(),
        "the class's people left paid no order: {body}"
    );

    // Another payee: no tags, no people, and the first payee's tag does not exist for them.
    let (_, theirs) = call(p, &other, reqwest::Method::GET, "/api/dash/tags", None).await;
    assert_eq!(theirs["tags"], json!([]));
    assert!(people(p, &other, None).await.is_empty());
    let (status, _) = call(
        p,
        &other,
        reqwest::Method::GET,
        &format!("/api/dash/tags/people?tag={class}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(assign(p, &other, class, "assign", &[&b]).await.0, 404);
    assert_eq!(assign(p, &other, vip, "unassign", &[&a]).await.0, 404);
    assert_eq!(export(p, &other, Some(vip)).await.0, 404);
    let (status, _) = call(
        p,
        &other,
        reqwest::Method::DELETE,
        &format!("/api/dash/tags/{vip}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        p,
        &other,
        reqwest::Method::POST,
        &format!("/api/dash/tags/{class}/remind"),
        Some(json!({ "collection_id": split })),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(keys(&people(p, &payee, Some(vip)).await), vec![a.clone()]);

    // The dashboard's section on a 375-px phone: the people, and the list filtered by a tag.
    let browser = shoukuan_tests::browser::Browser::wechat().await.unwrap();
    browser
        .driver
        .goto(p.worker().url("/health"))
        .await
        .unwrap();
    let (name, value) = payee
        .cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap();
    browser
        .driver
        .add_cookie(thirtyfour::Cookie::new(name.trim(), value.trim()))
        .await
        .unwrap();
    browser.driver.goto(p.worker().url("/dash")).await.unwrap();
    browser.wait_for("#tags li.person").await.unwrap();
    let shown = browser
        .eval("return document.querySelectorAll('#tags li.person').length")
        .await
        .unwrap();
    assert_eq!(shown, json!(4));
    let section = browser.wait_for("#tags").await.unwrap();
    std::fs::write(
        std::env::temp_dir().join("shoukuan-e2e-dash-tags.png"),
        section.screenshot_as_png().await.unwrap(),
    )
    .unwrap();
    browser.quit().await.unwrap();

    // Deleting a tag drops its assignments, not the people.
    let (status, _) = call(
        p,
        &payee,
        reqwest::Method::DELETE,
        &format!("/api/dash/tags/{vip}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(people(p, &payee, None).await.len(), 4);
    let left = p
        .worker()
        .query(&format!(
            "SELECT COUNT(*) AS n FROM person_tags WHERE tag_id = {vip}"
        ))
        .unwrap();
    assert_eq!(left[0]["n"], 0);
}

/// Template messages the simulator delivered to `openid` with the reminder template.
async fn reminders_to(p: &Pay, openid: &str) -> Vec<Value> {
    let all = p.sim.get("/sim/mp/templates").await.unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .map(|t| t["message"].clone())
        .filter(|m| m["touser"] == openid && m["template_id"] == REMINDER_TEMPLATE)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_reminder_reaches_exactly_the_tagged_unpaid_followers() {
    let p = tags_env().await;
    let payee = p.payee().await;
    let (split, manage) =
        owned_split(p, &payee, json!({ "mode": "fixed", "per_person": "35" })).await;
    let mut openids = Vec::new();
    for _ in 0..3 {
        openids.push(p.sim.create_payer(true).await.unwrap());
    }
    let (tagged_unpaid, tagged_paid, untagged) = (&openids[0], &openids[1], &openids[2]);
    let mut pids = Vec::new();
    for (openid, name) in [
        (tagged_unpaid, "甲同学"),
        (tagged_paid, "乙同学"),
        (untagged, "丙同学"),
    ] {
        let cookie = follower_session(p, &payee, &split, openid).await;
        pids.push(join(p, &split, name, Some(&cookie)).await.0);
    }
    join(p, &split, "丁同学", None).await;
    // 乙 has paid (the payee confirms it).
    let resp = reqwest::Client::new()
        .post(p.worker().url(&format!(
            "/api/splits/{split}/participants/{}/confirm",
            pids[1]
        )))
        .bearer_auth(&manage)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let all = people(p, &payee, None).await;
    let class = new_tag(p, &payee, "班级", "三年二班").await;
    let tagged = [
        key_labelled(&all, "甲**"),
        key_labelled(&all, "乙**"),
        key_labelled(&all, "丁**"),
    ];
    let refs: Vec<&str> = tagged.iter().map(String::as_str).collect();
    let (status, body) = assign(p, &payee, class, "assign", &refs).await;
    assert_eq!((status, body["changed"].as_i64()), (200, Some(3)));

    // Tagged and unpaid: 甲 (a follower) and 丁 (no Official Account: cannot be reached).
    // Pressed at noon Beijing time (`x-test-now`): quiet hours would hold them at night.
    let daytime = crate::payments::beijing_noon().to_string();
    let remind = || async {
        let resp = reqwest::Client::new()
            .post(p.worker().url(&format!("/api/dash/tags/{class}/remind")))
            .header("cookie", &payee.cookie)
            .header("x-test-now", &daytime)
            .json(&json!({ "collection_id": split }))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    };
    let (status, body) = remind().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["matched"].as_i64(),
            body["unreachable"].as_i64(),
            body["sent"].as_i64(),
            body["failed"].as_i64()
        ),
        (Some(2), Some(1), Some(1), Some(0)),
        "{body}"
    );
    let got = reminders_to(p, tagged_unpaid).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["data"]["amount2"]["value"], "¥35.00");
    assert!(got[0]["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/c/{split}")));
    assert!(
        reminders_to(p, tagged_paid).await.is_empty(),
        "the paid get nothing"
    );
    assert!(
        reminders_to(p, untagged).await.is_empty(),
        "the untagged get nothing"
    );

    // The split's own spacing holds: at once again, nobody is reminded twice …
    let (_, body) = remind().await;
    assert_eq!(body["sent"].as_i64(), Some(0), "{body}");
    assert_eq!(reminders_to(p, tagged_unpaid).await.len(), 1);
    // … while the untagged were not claimed by the tag's reminder: "remind now" reaches them.
    let resp = reqwest::Client::new()
        .post(p.worker().url(&format!("/api/splits/{split}/remind")))
        .bearer_auth(&manage)
        .header("x-test-now", &daytime)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(reminders_to(p, untagged).await.len(), 1);
    assert_eq!(reminders_to(p, tagged_unpaid).await.len(), 1);

    // Another payee's own tag cannot reach this payee's split.
    let other = p.payee().await;
    let theirs = new_tag(p, &other, "", "朋友").await;
    let (status, _) = call(
        p,
        &other,
        reqwest::Method::POST,
        &format!("/api/dash/tags/{theirs}/remind"),
        Some(json!({ "collection_id": split })),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(reminders_to(p, untagged).await.len(), 1);
}
