//! Reminders and directed requests through the payee's app pages (issue 13), in Chromium at
//! 375 px with a WeChat UA, the simulator as WeChat and the cron at test-controlled times:
//! - reminder times chosen while publishing on `/new` are applied, sent by the cron once per
//!   slot, and shown in the log of `/admin/:id` with WeChat's answer; "remind now" pressed at
//!   23:00 is held and says so, and goes out at 08:00;
//! - a directed request of three debtors published on `/directed` gives three personal links;
//!   a claim with a transfer screenshot shows the image to the payee in the viewer (fetched
//!   with the manage token), never on the public page;
//! - a debtor's own due date drives that debtor's reminder slots.

use serde_json::{json, Value};
use shoukuan_tests::browser::Browser;
use shoukuan_tests::qr::write_receive_code_screenshot;
use thirtyfour::prelude::*;

use crate::notices::{cron, deadline_in_two_days, delivered, join, notify, REMINDER_TEMPLATE};
use crate::payments::{Pay, Payee, OPERATOR};
use crate::split::wait_text;
use crate::{unique_pay_code, wechat_session};

const HOUR: i64 = 3600;

/// A tiny valid PNG (1×1).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

async fn shot(browser: &Browser, name: &str) {
    if let Ok(png) = browser.full_screenshot().await {
        let _ = std::fs::write(
            std::env::temp_dir().join(format!("shoukuan-e2e-{name}.png")),
            png,
        );
    }
}

async fn type_into(browser: &Browser, css: &str, text: &str) {
    browser
        .wait_for(css)
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

async fn click(browser: &Browser, css: &str) {
    browser.wait_for(css).await.unwrap().click().await.unwrap();
}

async fn value_of(browser: &Browser, css: &str) -> String {
    browser
        .wait_for(css)
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// A phone in WeChat signed in as `payee` (the dashboard session cookie).
async fn signed_in(p: &Pay, payee: &Payee) -> Browser {
    let browser = Browser::wechat().await.unwrap();
    browser.driver.goto(p.worker.url("/health")).await.unwrap();
    let cookie = payee.cookie.split(';').next().unwrap();
    let (name, value) = cookie.split_once('=').unwrap();
    browser
        .driver
        .add_cookie(thirtyfour::Cookie::new(name.trim(), value.trim()))
        .await
        .unwrap();
    browser
}

/// Fills the collection fields every publish form has, with a recognised 收款码.
async fn fill_collection(browser: &Browser, title: &str, dir: &std::path::Path) {
    let fixture = dir.join("shoukuanma.png");
    write_receive_code_screenshot(&unique_pay_code(), &fixture).unwrap();
    type_into(browser, "#payee_name", "张老板").await;
    type_into(browser, "#title", title).await;
    type_into(browser, "#pay_code_file", fixture.to_str().unwrap()).await;
    wait_text(browser, "#pay_code_status", "已识别", 20).await;
}

/// `(id, token)` from `/manage/:id#t=…` or `/c/:id#p=…&t=…`.
fn id_and_token(url: &str) -> (String, String) {
    let (path, fragment) = url.split_once('#').unwrap();
    let id = path.rsplit('/').next().unwrap().to_string();
    let token = fragment
        .split('&')
        .find_map(|kv| kv.strip_prefix("t="))
        .unwrap()
        .to_string();
    (id, token)
}

async fn with_token(
    p: &Pay,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, p.worker.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Followers who signed up to a split of their own through the Official Account menu: their
/// participant ids (whose sealed openids the directed test lends to its debtors).
async fn oa_sign_ups(p: &Pay, payee: &Payee, followers: &[String]) -> Vec<String> {
    let (id, _) =
        crate::notices::owned_split(p, payee, json!({ "mode": "fixed", "per_person": "1" })).await;
    let key = format!("rmd{}", &id[..6]).to_lowercase();
    let resp = reqwest::Client::new()
        .post(p.worker.url("/api/dash/routes"))
        .bearer_auth(OPERATOR)
        .json(&json!({ "key": key, "target": format!("/c/{id}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let mut pids = Vec::new();
    for (i, openid) in followers.iter().enumerate() {
        let cookie = wechat_session(&p.worker, &format!("/m/{key}"), openid, "sk_payer").await;
        pids.push(join(p, &id, &format!("关注者{i}"), Some(&cookie)).await.0);
    }
    pids
}

#[tokio::test(flavor = "multi_thread")]
async fn reminder_times_chosen_when_publishing_are_sent_by_the_cron_and_logged_and_remind_now_waits_for_eight(
) {
    let p = notify().await;
    let payee = p.payee().await;
    let (deadline, typed) = deadline_in_two_days();
    let dir = tempfile::tempdir().unwrap();

    // Publishing a split with a deadline: the reminder times are part of the form.
    let browser = signed_in(p, &payee).await;
    browser.driver.goto(p.worker.url("/new")).await.unwrap();
    fill_collection(&browser, "周六聚餐", dir.path()).await;
    click(&browser, "label[for=kind_split]").await;
    click(&browser, "label[for=split_mode_fixed]").await;
    type_into(&browser, "#split_per_person", "35").await;
    wait_text(&browser, "#publish_slots", "先填写截止时间", 10).await;
    browser
        .eval(&format!(
            "const d = document.querySelector('#split_deadline'); d.value = '{typed}'; \
             d.dispatchEvent(new Event('input', {{ bubbles: true }})); return true;"
        ))
        .await
        .unwrap();
    wait_text(&browser, "#publish_slots", "22:00–08:00", 10).await;
    // 截止前24小时, 截止前2小时 and 截止后1小时 are chosen by default: drop the last.
    assert!(browser
        .wait_for("#slot_m24h")
        .await
        .unwrap()
        .is_selected()
        .await
        .unwrap());
    click(&browser, "label[for=slot_p1h]").await;
    assert!(!browser
        .wait_for("#slot_p1h")
        .await
        .unwrap()
        .is_selected()
        .await
        .unwrap());
    shot(&browser, "reminders-publish").await;
    click(&browser, "#publish").await;
    let applied = wait_text(&browser, "#slots_result", "已设置自动提醒", 20).await;
    assert_eq!(applied, "已设置自动提醒：截止前24小时、截止前2小时");
    let here = browser.driver.current_url().await.unwrap().to_string();
    let (id, manage) = id_and_token(&here);
    let (status, overview) = with_token(
        p,
        reqwest::Method::GET,
        &format!("/api/splits/{id}/reminders"),
        &manage,
        None,
    )
    .await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["slots"], json!(["-24h", "-2h"]));

    // A follower signs up through the Official Account; the cron at −24 h reminds them once.
    let follower = p.sim.create_payer(true).await.unwrap();
    let key = format!("rmn{}", &id[..6]).to_lowercase();
    let resp = reqwest::Client::new()
        .post(p.worker.url("/api/dash/routes"))
        .bearer_auth(OPERATOR)
        .json(&json!({ "key": key, "target": format!("/c/{id}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let cookie = wechat_session(&p.worker, &format!("/m/{key}"), &follower, "sk_payer").await;
    join(p, &id, "甲同学", Some(&cookie)).await;
    cron(p, deadline - 24 * HOUR + 30).await;
    cron(p, deadline - 24 * HOUR + 90).await;
    assert_eq!(delivered(p, &follower, REMINDER_TEMPLATE).await.len(), 1);

    // The payee's page at 23:00 the night before the deadline: "remind now" is held.
    let night = deadline - 19 * HOUR;
    browser
        .driver
        .goto(p.worker.url(&format!("/admin/{id}#t={manage}")))
        .await
        .unwrap();
    let log = wait_text(&browser, "#reminder_log", "已送达", 20).await;
    assert!(
        log.contains("甲同学") && log.contains("截止前24小时"),
        "{log}"
    );
    wait_text(&browser, "#remind_rule", "12 小时内最多一次", 10).await;
    browser
        .eval(&format!(
            "const f = window.fetch.bind(window); window.fetch = (u, o) => {{ \
             const r = new Request(u, o); const h = new Headers(r.headers); \
             h.set('x-test-now', '{night}'); return f(new Request(r, {{ headers: h }})); }}; \
             return true;"
        ))
        .await
        .unwrap();
    click(&browser, "#remind").await;
    let held = wait_text(&browser, "#remind_result", "暂缓", 20).await;
    assert_eq!(
        held,
        "1 条提醒暂缓：夜间 22:00–08:00 不打扰，提醒将在 08:00 发出"
    );
    wait_text(&browser, "#remind_held", "08:00 发出", 10).await;
    let log = wait_text(&browser, "#reminder_log", "立即提醒", 10).await;
    assert!(log.contains("08:00 发出"), "{log}");
    shot(&browser, "reminders-held").await;
    assert_eq!(delivered(p, &follower, REMINDER_TEMPLATE).await.len(), 1);

    // Nothing at 07:59; at 08:00 the cron sends it, and the log says so.
    cron(p, deadline - 10 * HOUR - 60).await;
    assert_eq!(delivered(p, &follower, REMINDER_TEMPLATE).await.len(), 1);
    cron(p, deadline - 10 * HOUR).await;
    cron(p, deadline - 10 * HOUR + 60).await;
    assert_eq!(delivered(p, &follower, REMINDER_TEMPLATE).await.len(), 2);
    browser.driver.refresh().await.unwrap();
    let log = wait_text(&browser, "#reminder_log", "立即提醒", 20).await;
    assert_eq!(log.matches("已送达").count(), 2, "{log}");
    assert!(log.contains("后可再次立即提醒"), "{log}");
    browser
        .driver
        .find(By::Css("#reminders"))
        .await
        .unwrap()
        .scroll_into_view()
        .await
        .unwrap();
    shot(&browser, "reminders-log").await;
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directed_request_published_in_the_app_gives_three_links_and_the_screenshot_is_for_the_payee_only(
) {
    let p = notify().await;
    let payee = p.payee().await;
    let dir = tempfile::tempdir().unwrap();
    let browser = signed_in(p, &payee).await;
    browser
        .driver
        .goto(p.worker.url("/directed"))
        .await
        .unwrap();
    fill_collection(&browser, "周六聚餐", dir.path()).await;
    click(&browser, "#add_debtor").await;
    let debtors = [("张三丰", "120"), ("李四光", "80"), ("王五福", "45.5")];
    for (i, (name, amount)) in debtors.iter().enumerate() {
        type_into(&browser, &format!("#debtor_name_{i}"), name).await;
        type_into(&browser, &format!("#debtor_amount_{i}"), amount).await;
    }
    wait_text(&browser, "#directed_total", "共 3 位，合计 ¥245.50", 10).await;
    shot(&browser, "directed-form").await;
    click(&browser, "#publish_directed").await;
    wait_text(&browser, "#directed_published", "私聊", 20).await;
    let mut links = Vec::new();
    for i in 0..3 {
        links.push(value_of(&browser, &format!("#debtor_link_{i}")).await);
    }
    let rows = browser
        .driver
        .find_all(By::Css("#debtor_links .debtor-link"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let text = wait_text(&browser, "#debtor_links", "王五福", 5).await;
    assert!(
        text.contains("张三丰 · ¥120.00") && text.contains("李四光 · ¥80.00"),
        "{text}"
    );
    let manage_link = value_of(&browser, "#manage_link").await;
    let (id, manage) = id_and_token(&manage_link);
    for link in &links {
        assert!(
            link.starts_with(&p.worker.url(&format!("/c/{id}#p="))),
            "{link}"
        );
    }
    shot(&browser, "directed-links").await;
    // A reload (or WeChat recycling the page) shows the same links again.
    browser.driver.refresh().await.unwrap();
    for (i, link) in links.iter().enumerate() {
        assert_eq!(
            &value_of(&browser, &format!("#debtor_link_{i}")).await,
            link
        );
    }

    // The first debtor attaches a screenshot and says 我已付款.
    let (_, debtor_token) = id_and_token(&links[0]);
    let pid = links[0]
        .split("#p=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let proof = format!("/api/splits/{id}/participants/{pid}/proof");
    let resp = reqwest::Client::new()
        .post(p.worker.url(&proof))
        .bearer_auth(&debtor_token)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let (status, _) = with_token(
        p,
        reqwest::Method::POST,
        &format!("/api/splits/{id}/participants/{pid}/claim"),
        &debtor_token,
        None,
    )
    .await;
    assert_eq!(status, 200);

    // The public page and API show no screenshot; its address refuses anyone but the payee.
    let page = reqwest::get(p.worker.url(&format!("/c/{id}")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let public = reqwest::get(p.worker.url(&format!("/api/splits/{id}")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in [&page, &public] {
        assert!(
            !shown.contains("/proof") && !shown.contains("proofs/") && !shown.contains("张三丰"),
            "{shown}"
        );
    }
    assert_eq!(
        reqwest::get(p.worker.url(&proof)).await.unwrap().status(),
        401
    );

    // The payee opens the split's page and views it.
    browser
        .driver
        .goto(p.worker.url(&format!("/admin/{id}#t={manage}")))
        .await
        .unwrap();
    let button = format!(".proof-view[data-pid='{pid}']");
    wait_text(&browser, &button, "查看转账凭证", 20).await;
    click(&browser, &button).await;
    wait_text(&browser, "#proof_viewer", "张三丰 的转账凭证", 10).await;
    let mut loaded = Value::Null;
    for _ in 0..50 {
        loaded = browser
            .eval(
                "const i = document.querySelector('#proof_image'); \
                 return i ? [i.complete, i.naturalWidth, i.src.slice(0, 5)] : null;",
            )
            .await
            .unwrap();
        if loaded[1] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        loaded,
        json!([true, 1, "blob:"]),
        "the screenshot, from the manage-token fetch"
    );
    shot(&browser, "directed-proof").await;
    click(&browser, "#proof_confirm").await;
    wait_text(&browser, "#proof_result", "已确认收到 张三丰 的付款", 20).await;
    let (_, view) = with_token(
        p,
        reqwest::Method::GET,
        &format!("/api/splits/{id}/admin"),
        &manage,
        None,
    )
    .await;
    assert_eq!(view["participants"][0]["status"], "paid", "{view}");
    assert_eq!(view["participants"][1]["status"], "joined");
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_debtors_own_due_date_drives_their_reminders() {
    let p = notify().await;
    let payee = p.payee().await;
    let (deadline, typed) = deadline_in_two_days();
    // 张: due a day earlier than 王; 李: no due date (so the request has no overall deadline).
    let (earlier, earlier_typed) = {
        let at = deadline - 24 * HOUR;
        let c = shoukuan_core::deadline::Deadline::from_unix(at).civil();
        (
            at,
            format!("{:04}-{:02}-{:02}T18:00", c.year, c.month, c.day),
        )
    };
    let (status, created) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/directed",
            Some(json!({
                "payee_name": "张老板",
                "title": "周六聚餐",
                "note": "",
                "pay_code": unique_pay_code(),
                "debtors": [
                    { "name": "张三丰", "amount": "120", "due": earlier_typed },
                    { "name": "李四光", "amount": "80" },
                    { "name": "王五福", "amount": "45", "due": typed },
                ],
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let manage = created["manage_token"].as_str().unwrap().to_string();
    let pids: Vec<String> = created["debtors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["participant_id"].as_str().unwrap().to_string())
        .collect();
    // Own due dates are enough for reminder times (no overall deadline).
    let (status, body) = with_token(
        p,
        reqwest::Method::PUT,
        &format!("/api/splits/{id}/reminders"),
        &manage,
        Some(json!({ "slots": ["-2h"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The debtors reachable through the Official Account (each lent a follower's sealed
    // openid: binding a debtor's link to their WeChat is not built yet).
    let mut followers = Vec::new();
    for _ in 0..3 {
        followers.push(p.sim.create_payer(true).await.unwrap());
    }
    let lenders = oa_sign_ups(p, &payee, &followers).await;
    for (debtor, lender) in pids.iter().zip(&lenders) {
        p.worker
            .query(&format!(
                "UPDATE participants SET openid_sealed = (SELECT openid_sealed FROM participants \
                 WHERE id = '{lender}') WHERE id = '{debtor}'"
            ))
            .unwrap();
    }
    let count = |i: usize| {
        let openid = followers[i].clone();
        async move { delivered(p, &openid, REMINDER_TEMPLATE).await.len() }
    };

    // 张's −2 h: only 张.
    cron(p, earlier - 2 * HOUR + 30).await;
    assert_eq!((count(0).await, count(1).await, count(2).await), (1, 0, 0));
    let first = delivered(p, &followers[0], REMINDER_TEMPLATE).await;
    assert_eq!(first[0]["data"]["amount2"]["value"], "¥120.00");
    // 王's −2 h: only 王, with their own due date in the message.
    cron(p, deadline - 2 * HOUR + 30).await;
    cron(p, deadline - 2 * HOUR + 90).await;
    assert_eq!((count(0).await, count(1).await, count(2).await), (1, 0, 1));
    let third = delivered(p, &followers[2], REMINDER_TEMPLATE).await;
    assert_eq!(third[0]["data"]["amount2"]["value"], "¥45.00");
    assert_eq!(
        third[0]["data"]["time3"]["value"],
        shoukuan_core::notice::time(deadline)
    );

    let (_, overview) = with_token(
        p,
        reqwest::Method::GET,
        &format!("/api/splits/{id}/reminders"),
        &manage,
        None,
    )
    .await;
    let dues: Vec<Value> = overview["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["due_at"].clone())
        .collect();
    assert_eq!(dues, vec![json!(earlier), Value::Null, json!(deadline)]);
    assert_eq!(overview["participants"][0]["name"], "张三丰");
    assert_eq!(overview["has_deadline"], true);
}

/// A directed debtor opens their personal link in WeChat, taps 用微信接收提醒 and comes back
/// signed in: their slot is linked to their WeChat (sealed, never replacing another's), the
/// offer goes, and the schedule reaches them at their own −2 h.
#[tokio::test]
async fn a_directed_debtor_who_asks_for_wechat_reminders_is_linked_and_reminded() {
    use shoukuan_tests::browser::WECHAT_IOS_UA;
    let p = notify().await;
    let payee = p.payee().await;
    let (deadline, typed) = deadline_in_two_days();
    let (status, created) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/directed",
            Some(json!({
                "payee_name": "张老板", "title": "周六聚餐", "note": "",
                "pay_code": unique_pay_code(),
                "debtors": [
                    { "name": "张三丰", "amount": "120", "due": typed },
                    { "name": "李四光", "amount": "80", "due": typed },
                ],
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let manage = created["manage_token"].as_str().unwrap().to_string();
    let (status, body) = with_token(
        p,
        reqwest::Method::PUT,
        &format!("/api/splits/{id}/reminders"),
        &manage,
        Some(json!({ "slots": ["-2h"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The personal link's ticket (`#p=<pid>&t=<token>`), as the page's script stores it.
    let ticket = |i: usize| {
        let link = created["debtors"][i]["link"].as_str().unwrap();
        let fragment = link.split_once('#').unwrap().1;
        let field = |k: &str| {
            fragment
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .unwrap()
                .to_string()
        };
        (
            field("p"),
            format!("sk_p_{id}={}.{}", field("p"), field("t")),
        )
    };
    let (pid, zhang) = ticket(0);
    let page = |cookies: Vec<String>| {
        let url = p.worker.url(&format!("/c/{id}"));
        async move {
            let resp = reqwest::Client::new()
                .get(url)
                .header("user-agent", WECHAT_IOS_UA)
                .header("cookie", cookies.join("; "))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.text().await.unwrap()
        }
    };
    let linked = |pid: String| {
        p.worker
            .query(&format!(
                "SELECT openid_key FROM participants WHERE id = '{pid}' AND openid_sealed IS NOT NULL"
            ))
            .unwrap()
    };

    // Before: the debtor's own entry offers WeChat reminders, and the slot has no WeChat.
    let before = page(vec![zhang.clone()]).await;
    assert!(
        before.contains(&format!(
            r#"<a id="remind_me" href="/oauth/start?next=/c/{id}">"#
        )),
        "the offer is on the debtor's own entry"
    );
    assert!(linked(pid.clone()).is_empty());
    // Someone without the ticket sees no offer (nothing of theirs to remind).
    assert!(!page(vec![]).await.contains("remind_me"));

    // The debtor taps it: OAuth through the simulator, back to the page signed in.
    let debtor = p.sim.create_payer(true).await.unwrap();
    let session = wechat_session(
        &p.worker,
        &format!("/oauth/start?next=/c/{id}"),
        &debtor,
        "sk_payer",
    )
    .await;
    let after = page(vec![zhang.clone(), session.clone()]).await;
    assert!(
        !after.contains("remind_me"),
        "linked: nothing more to offer"
    );
    let rows = linked(pid.clone());
    assert_eq!(rows.len(), 1, "the slot is linked");
    assert_eq!(rows[0]["openid_key"], p.sim.openid_key(&debtor));

    // Another WeChat holding the same ticket later never replaces the link.
    let other = p.sim.create_payer(true).await.unwrap();
    let other_session = wechat_session(
        &p.worker,
        &format!("/oauth/start?next=/c/{id}"),
        &other,
        "sk_payer",
    )
    .await;
    page(vec![zhang.clone(), other_session]).await;
    assert_eq!(linked(pid)[0]["openid_key"], p.sim.openid_key(&debtor));

    // The schedule reaches the linked debtor at −2 h, and only them (李 never linked).
    cron(p, deadline - 2 * HOUR + 30).await;
    let sent = delivered(p, &debtor, REMINDER_TEMPLATE).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["data"]["amount2"]["value"], "¥120.00");
    assert!(delivered(p, &other, REMINDER_TEMPLATE).await.is_empty());
}
