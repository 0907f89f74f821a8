//! The payee's and the payer's journeys as a first-time user walks them on a phone in WeChat
//! (issue 17): publishing lands on a page whose URL keeps both links, server errors are shown
//! where they happened, the CSV keeps its BOM through the app, a rejected claim tells the payer
//! why, each kind has its own manage page, and money reads as money (one ¥, separators).

use std::time::Duration;

use serde_json::{json, Value};
use shoukuan_tests::browser::Browser;
use shoukuan_tests::qr::write_receive_code_screenshot;
use shoukuan_tests::worker::Worker;
use thirtyfour::prelude::*;

use crate::split::{publish_split, wait_text, worker, Published};
use crate::unique_pay_code;

/// Saves a screenshot next to the other e2e pictures (looked at by people, asserted by nobody).
pub(crate) async fn shot(browser: &Browser, name: &str) {
    if let Ok(png) = browser.full_screenshot().await {
        let _ = std::fs::write(
            std::env::temp_dir().join(format!("shoukuan-e2e-{name}.png")),
            png,
        );
    }
}

pub(crate) async fn type_into(browser: &Browser, css: &str, text: &str) {
    browser
        .wait_for(css)
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

pub(crate) async fn click(browser: &Browser, css: &str) {
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

async fn publish_api(worker: &Worker, body: Value) -> (String, String) {
    let resp = reqwest::Client::new()
        .post(worker.url("/api/collections"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_string(),
        body["manage_token"].as_str().unwrap().to_string(),
    )
}

/// Records what `window.confirm` asks and answers yes.
const CAPTURE_CONFIRM: &str =
    "window.__asked = []; window.confirm = function (m) { window.__asked.push(m); return true; }; return true;";

#[tokio::test(flavor = "multi_thread")]
async fn after_publishing_a_reload_keeps_both_links() {
    let worker = worker().await;
    let dir = tempfile::tempdir().unwrap();
    let code = unique_pay_code();
    let fixture = dir.path().join("shoukuanma.png");
    write_receive_code_screenshot(&code, &fixture).unwrap();

    let browser = Browser::wechat().await.unwrap();
    browser.driver.goto(worker.url("/new")).await.unwrap();
    type_into(&browser, "#payee_name", "刘小明").await;
    type_into(&browser, "#title", "周五聚餐 AA").await;
    type_into(&browser, "#pay_code_file", fixture.to_str().unwrap()).await;
    wait_text(&browser, "#pay_code_status", "已识别", 20).await;
    click(&browser, "label[for=amount_mode_fixed]").await;
    type_into(&browser, "#amount", "88.5").await;
    click(&browser, "#publish").await;

    let share = value_of(&browser, "#share_link").await;
    let manage = value_of(&browser, "#manage_link").await;
    assert!(share.starts_with(&worker.url("/c/")), "{share}");
    assert!(
        manage.starts_with(&worker.url("/manage/")) && manage.contains("#t="),
        "{manage}"
    );
    // The page's own address is the manage page: nothing lives only in memory.
    let here = browser.driver.current_url().await.unwrap().to_string();
    assert!(here.starts_with(&manage), "{here} vs {manage}");
    let text = wait_text(&browser, "#published", "文件传输助手", 10).await;
    assert!(text.contains("收款已发布"), "{text}");
    browser.wait_for("#copy_link").await.unwrap();
    browser.wait_for("#copy_manage").await.unwrap();
    shot(&browser, "journey-published").await;

    // A reload, or WeChat recycling the page, shows the same links again.
    browser.driver.refresh().await.unwrap();
    assert_eq!(value_of(&browser, "#share_link").await, share);
    assert_eq!(value_of(&browser, "#manage_link").await, manage);
    // And the editor of this collection under them.
    assert_eq!(value_of(&browser, "#title").await, "周五聚餐 AA");

    // The payer's card says the amount is typed, with one-tap copies.
    browser.driver.goto(&share).await.unwrap();
    let card = wait_text(&browser, ".pay-card", "¥88.50", 20).await;
    assert!(card.contains("收款码不会自动填入金额"), "{card}");
    let copies: Value = browser
        .eval("return [...document.querySelectorAll('[data-copy]')].map(b => b.getAttribute('data-copy'));")
        .await
        .unwrap();
    assert_eq!(copies, json!(["88.50", "周五聚餐 AA"]));
    shot(&browser, "journey-payer-steps").await;
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_over_limit_message_has_one_yuan_sign() {
    let worker = worker().await;
    let resp = reqwest::Client::new()
        .post(worker.url("/api/collections"))
        .json(&json!({
            "payee_name": "张三", "title": "学费", "amount": "50000.01",
            "note": "", "pay_code": unique_pay_code(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    let message = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "amount")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(message, "单笔金额不能超过 ¥50,000.00");

    let browser = Browser::wechat().await.unwrap();
    browser.driver.goto(worker.url("/new")).await.unwrap();
    type_into(&browser, "#amount", "50000.01").await;
    click(&browser, "#note").await;
    let shown = wait_text(
        &browser,
        ".field-error[data-field=amount]",
        "¥50,000.00",
        10,
    )
    .await;
    assert_eq!(shown.matches('¥').count(), 1, "{shown}");
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_has_its_own_manage_page() {
    let worker = worker().await;
    let (request, request_token) = publish_api(
        worker,
        json!({ "payee_name": "张三", "title": "班费", "amount": "200", "note": "", "pay_code": unique_pay_code() }),
    )
    .await;
    let (product, product_token) = publish_api(
        worker,
        json!({
            "kind": "product", "payee_name": "小满酸奶", "title": "手工酸奶", "amount": "29",
            "note": "", "pay_code": unique_pay_code(),
            "product": { "description": "每日现做" },
        }),
    )
    .await;
    let Published {
        id: split,
        token: split_token,
    } = publish_split(worker, json!({ "mode": "fixed", "per_person": "30" })).await;

    let browser = Browser::wechat().await.unwrap();
    let open = |id: &str, token: &str| worker.url(&format!("/manage/{id}#t={token}"));

    // A payment request: the amount and its 付款人填写 option.
    browser
        .driver
        .goto(open(&request, &request_token))
        .await
        .unwrap();
    wait_text(&browser, "#manage_kind", "收款", 20).await;
    assert!(browser
        .wait_for("label[for=amount_mode_payer]")
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());
    // Its 收款码 can be replaced.
    let dir = tempfile::tempdir().unwrap();
    let new_code = unique_pay_code();
    let fixture = dir.path().join("new-code.png");
    write_receive_code_screenshot(&new_code, &fixture).unwrap();
    click(&browser, "#pay_code_change summary").await;
    type_into(&browser, "#pay_code_file", fixture.to_str().unwrap()).await;
    wait_text(&browser, "#pay_code_status", "已识别", 20).await;
    click(&browser, "#save").await;
    wait_text(&browser, "#save_result", "已保存", 20).await;
    let view: Value = reqwest::get(worker.url(&format!("/api/collections/{request}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["pay_code"], new_code.as_str(), "{view}");
    shot(&browser, "journey-manage-request").await;

    // A price page: a price, never 付款人填写; saving edits what it has.
    browser.driver.goto("about:blank").await.unwrap();
    browser
        .driver
        .goto(open(&product, &product_token))
        .await
        .unwrap();
    wait_text(&browser, "#manage_kind", "价格页", 20).await;
    let payer_option = browser
        .wait_for("label[for=amount_mode_payer]")
        .await
        .unwrap();
    assert!(!payer_option.is_displayed().await.unwrap());
    let price = browser.wait_for("#amount").await.unwrap();
    assert_eq!(
        price.prop("value").await.unwrap().unwrap_or_default(),
        "29.00"
    );
    price.clear().await.unwrap();
    price.send_keys("25").await.unwrap();
    // Its details and images, as published.
    assert_eq!(value_of(&browser, "#product_description").await, "每日现做");
    type_into(&browser, "#product_description", "，当天送达").await;
    let photo = dir.path().join("photo.png");
    std::fs::write(&photo, crate::product::photo_png(640, 480)).unwrap();
    type_into(&browser, "#product_images", photo.to_str().unwrap()).await;
    browser.wait_for(".thumbs .thumb img").await.unwrap();
    type_into(&browser, "#original_price", "39").await;
    click(&browser, "#save").await;
    wait_text(&browser, "#save_result", "已保存", 20).await;
    let view: Value = reqwest::get(worker.url(&format!("/api/products/{product}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["collection"]["amount"]["fen"], 2500, "{view}");
    assert_eq!(
        view["product"]["description"], "每日现做，当天送达",
        "{view}"
    );
    assert_eq!(view["product"]["original_price"], 3900, "{view}");
    assert_eq!(
        view["product"]["images"].as_array().unwrap().len(),
        1,
        "{view}"
    );
    // A reload shows what was saved.
    browser.driver.refresh().await.unwrap();
    wait_text(&browser, "#manage_kind", "价格页", 20).await;
    browser.wait_for(".thumbs .thumb img").await.unwrap();
    assert_eq!(
        value_of(&browser, "#product_description").await,
        "每日现做，当天送达"
    );
    shot(&browser, "journey-manage-product").await;

    // A split: no amount at all here (its amounts are its settings), the way to the list, and a
    // close dialog that speaks of 接龙; once closed nothing offers 保存修改.
    browser.driver.goto("about:blank").await.unwrap();
    browser
        .driver
        .goto(open(&split, &split_token))
        .await
        .unwrap();
    wait_text(&browser, "#manage_kind", "接龙", 20).await;
    browser.wait_for("#admin_entry").await.unwrap();
    assert!(browser.driver.find(By::Css("#amount")).await.is_err());
    assert!(browser
        .driver
        .find(By::Css("#amount_mode_payer"))
        .await
        .is_err());
    // Its settings: the cap (never below the sign-ups) and the deadline.
    join(worker, &split, "张三").await;
    join(worker, &split, "李四").await;
    type_into(&browser, "#split_cap", "1").await;
    click(&browser, "#save").await;
    wait_text(&browser, "[data-field='split.cap']", "已有 2 人", 20).await;
    browser
        .wait_for("#split_cap")
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_into(&browser, "#split_cap", "5").await;
    click(&browser, "#save").await;
    wait_text(&browser, "#save_result", "已保存", 20).await;
    let view: Value = reqwest::get(worker.url(&format!("/api/splits/{split}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["spec"]["cap"], 5, "{view}");
    assert_eq!(view["spec"]["per_person"], 3000, "the amounts stay: {view}");
    browser.eval(CAPTURE_CONFIRM).await.unwrap();
    click(&browser, "#close").await;
    wait_text(&browser, "#closed_notice", "已关闭", 20).await;
    let asked = browser.eval("return window.__asked;").await.unwrap();
    assert!(
        asked[0].as_str().unwrap_or_default().contains("不能再接龙"),
        "{asked}"
    );
    assert!(browser.driver.find(By::Css("#save")).await.is_err());
    shot(&browser, "journey-manage-split-closed").await;
    browser.driver.refresh().await.unwrap();
    wait_text(&browser, "#closed_notice", "已关闭", 20).await;
    assert!(browser.driver.find(By::Css("#save")).await.is_err());
    // A closed item can be reopened: payers can sign up again, the list is kept.
    wait_text(&browser, "#closed_notice", "名单", 20).await;
    click(&browser, "#reopen").await;
    wait_text(&browser, "#manage_status", "接龙中", 20).await;
    browser.wait_for("#save").await.unwrap();
    let view: Value = reqwest::get(worker.url(&format!("/api/collections/{split}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "open", "{view}");
    let joined = reqwest::Client::new()
        .post(worker.url(&format!("/api/splits/{split}/join")))
        .json(&json!({ "name": "重开后" }))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 201);

    // A wrong token: an error, never a form that fails only on save.
    browser.driver.goto("about:blank").await.unwrap();
    browser
        .driver
        .goto(open(&request, "not-the-token"))
        .await
        .unwrap();
    wait_text(&browser, "#manage_error", "管理链接不正确", 20).await;
    assert!(browser.driver.find(By::Css("#save")).await.is_err());
    assert!(browser.driver.find(By::Css("#title")).await.is_err());
    browser.quit().await.unwrap();
}

/// Signs up through the API: `(pid, participant token)`.
async fn join(worker: &Worker, id: &str, name: &str) -> (String, String) {
    let resp = reqwest::Client::new()
        .post(worker.url(&format!("/api/splits/{id}/join")))
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    (
        body["participant"]["id"].as_str().unwrap().to_string(),
        body["token"].as_str().unwrap().to_string(),
    )
}

async fn claim(worker: &Worker, id: &str, pid: &str, token: &str) {
    let resp = reqwest::Client::new()
        .post(worker.url(&format!("/api/splits/{id}/participants/{pid}/claim")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn participant_status(worker: &Worker, id: &str, pid: &str) -> String {
    let view: Value = reqwest::get(worker.url(&format!("/api/splits/{id}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == pid)
        .map(|p| p["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_payee_rejects_a_claim_deliberately_and_the_payer_is_told_why() {
    let worker = worker().await;
    let split = publish_split(worker, json!({ "mode": "fixed", "per_person": "66" })).await;
    let (_first, _) = join(worker, &split.id, "王小明").await;
    let (pid, token) = join(worker, &split.id, "李雷").await;
    claim(worker, &split.id, &pid, &token).await;

    let payee = Browser::desktop().await.unwrap();
    payee
        .driver
        .goto(worker.url(&format!("/admin/{}#t={}", split.id, split.token)))
        .await
        .unwrap();
    // The claim somebody waits on has its own list, apart from those who said nothing yet.
    wait_text(&payee, "#claimed", "李雷", 20).await;
    let claimed_rows: Value = payee
        .eval("return [...document.querySelectorAll('#claimed li')].map(li => li.getAttribute('data-pid'));")
        .await
        .unwrap();
    assert_eq!(claimed_rows, json!([pid]));
    let unpaid = wait_text(&payee, "#unpaid", "王小明", 20).await;
    assert!(!unpaid.contains("李雷"), "{unpaid}");
    shot(&payee, "journey-admin-pending").await;

    // 未收到 can be undone; undone, nothing is sent.
    click(&payee, &format!("#claimed li[data-pid='{pid}'] .reject")).await;
    click(
        &payee,
        &format!("#claimed li[data-pid='{pid}'] .undo-button"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(participant_status(worker, &split.id, &pid).await, "claimed");
    // Not undone, it is sent after the undo window.
    click(&payee, &format!("#claimed li[data-pid='{pid}'] .reject")).await;
    let mut status = String::new();
    for _ in 0..100 {
        status = participant_status(worker, &split.id, &pid).await;
        if status == "joined" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, "joined");

    // The payer's page says what happened and what to do.
    let payer = Browser::wechat().await.unwrap();
    payer
        .driver
        .goto(worker.url(&format!("/c/{}", split.id)))
        .await
        .unwrap();
    payer.wait_for("#app").await.unwrap();
    payer
        .eval(&format!(
            "localStorage.setItem('sk-split:{}', JSON.stringify({{pid: '{pid}', token: '{token}'}})); return true;",
            split.id
        ))
        .await
        .unwrap();
    payer.driver.refresh().await.unwrap();
    let notice = wait_text(&payer, "#rejected_notice", "没有找到", 20).await;
    assert!(
        notice.contains("¥66.00") && notice.contains("我已付款"),
        "{notice}"
    );
    wait_text(&payer, "#my_status", "没有查到", 5).await;
    // They can pay and claim again: the code and the button are back.
    payer.wait_for("#my_entry img.qr-img").await.unwrap();
    payer.wait_for("#claim").await.unwrap();
    shot(&payer, "journey-payer-rejected").await;
    payer.quit().await.unwrap();
    payee.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_show_their_message_and_the_csv_keeps_its_bom() {
    let worker = worker().await;
    let split = publish_split(worker, json!({ "mode": "fixed", "per_person": "20" })).await;
    join(worker, &split.id, "韩梅梅").await;

    let payee = Browser::wechat().await.unwrap();
    payee
        .driver
        .goto(worker.url(&format!("/admin/{}#t={}", split.id, split.token)))
        .await
        .unwrap();
    wait_text(&payee, "#unpaid", "韩梅梅", 20).await;

    // This deployment has no reminder template: the action says so instead of failing.
    wait_text(&payee, "#remind_unavailable", "提醒", 10).await;
    assert!(!payee
        .wait_for("#remind")
        .await
        .unwrap()
        .is_enabled()
        .await
        .unwrap());

    // A 5xx with a message: that message, under the export button, in the error style.
    payee
        .eval(concat!(
            "window.__fetch = window.fetch;",
            "window.fetch = function (r, o) {",
            "  const url = typeof r === 'string' ? r : r.url;",
            "  if (url.includes('export.csv')) return Promise.resolve(new Response(",
            "    JSON.stringify({ code: 'MAINTENANCE', message: '导出正在维护，请十分钟后再试' }),",
            "    { status: 503, headers: { 'content-type': 'application/json' } }));",
            "  return window.__fetch(r, o);",
            "}; return true;"
        ))
        .await
        .unwrap();
    click(&payee, "#export_csv").await;
    let error = wait_text(&payee, "#export_result", "导出正在维护", 10).await;
    assert!(!error.contains("网络"), "{error}");
    let class = payee
        .wait_for("#export_result")
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(class.contains("action-error"), "{class}");
    shot(&payee, "journey-admin-error").await;

    // The real export: the bytes handed to the download start with the UTF-8 BOM.
    payee
        .eval(concat!(
            "window.fetch = window.__fetch; window.__blobs = [];",
            "const create = URL.createObjectURL;",
            "URL.createObjectURL = function (b) { window.__blobs.push(b); return create.call(URL, b); };",
            "return true;"
        ))
        .await
        .unwrap();
    click(&payee, "#export_csv").await;
    wait_text(&payee, "#export_result", "已导出", 10).await;
    let head = payee
        .driver
        .execute_async(
            concat!(
                "const done = arguments[arguments.length - 1];",
                "window.__blobs[0].arrayBuffer().then(b => done({",
                "  head: Array.from(new Uint8Array(b).slice(0, 3)),",
                "  text: new TextDecoder().decode(b) }));"
            ),
            vec![],
        )
        .await
        .unwrap()
        .json()
        .clone();
    assert_eq!(head["head"], json!([0xEF, 0xBB, 0xBF]), "{head}");
    assert!(
        head["text"].as_str().unwrap_or_default().contains("韩梅梅"),
        "{head}"
    );
    payee.quit().await.unwrap();
}

/// `/dash` signed out in a desktop browser: the way in, in plain words; signed in but not yet
/// approved: the account id with copy and refresh, and whom to send it to.
#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_speaks_plainly_before_approval() {
    let p = crate::payments::pay().await;
    let desktop = Browser::desktop().await.unwrap();
    desktop.driver.goto(p.worker().url("/dash")).await.unwrap();
    let text = wait_text(&desktop, "#open_in_wechat", "文件传输助手", 20).await;
    assert!(!text.contains("公众号"), "{text}");
    assert!(value_of(&desktop, "#dash_link").await.ends_with("/dash"));
    desktop.quit().await.unwrap();

    let browser = Browser::wechat().await.unwrap();
    browser.driver.goto(p.worker().url("/dash")).await.unwrap();
    let text = wait_text(&browser, "main", "微信登录", 20).await;
    assert!(!text.contains("关键词") && !text.contains("渠道"), "{text}");
    click(&browser, "#sign_in").await;
    let waiting = wait_text(&browser, "#waiting", "等待开通", 20).await;
    assert!(waiting.contains("管理员"), "{waiting}");
    let openid = browser
        .wait_for("#openid")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shoukuan_core::session::Openid::parse(&openid).is_some());
    browser.wait_for("#refresh").await.unwrap();
    click(&browser, "#copy_openid").await;
    wait_text(&browser, "#waiting .status", "复制", 10).await;
    shot(&browser, "journey-dash-waiting").await;
    browser.quit().await.unwrap();
}

/// The simulator's page fits a 375-px phone and plays a transfer to a personal 收款码.
#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_page_fits_a_phone_and_plays_a_personal_code_transfer() {
    let p = crate::payments::pay().await;
    let browser = Browser::wechat().await.unwrap();
    browser.driver.goto(p.sim.url("/sim/")).await.unwrap();
    browser.wait_for("#t_code").await.unwrap();
    let widths = browser
        .eval("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await
        .unwrap();
    assert!(
        widths[0].as_f64().unwrap() <= widths[1].as_f64().unwrap(),
        "no sideways scrolling: {widths}"
    );
    type_into(&browser, "#t_code", "not a code").await;
    type_into(&browser, "#t_amount", "88.5").await;
    click(&browser, ".transfer button").await;
    wait_text(&browser, "#t_result", "wxp://", 10).await;
    let code = unique_pay_code();
    browser
        .wait_for("#t_code")
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_into(&browser, "#t_code", &code).await;
    type_into(&browser, "#t_note", "刘小明").await;
    click(&browser, ".transfer button").await;
    wait_text(&browser, "#t_result", "¥88.50", 10).await;
    wait_text(&browser, "#transfers", "刘小明", 10).await;
    shot(&browser, "journey-sim-375").await;
    browser.quit().await.unwrap();
}
