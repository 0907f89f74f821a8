//! A price page that asks buyers for contact details (issue 17): the payee publishes it asking
//! for phone + address, the page shows 「留下联系方式」, a buyer leaves them (with and without
//! JavaScript), a bad phone is refused next to its field and nothing is stored, and only the
//! payee sees the details — through the manage token, never on the public page or JSON.

use std::time::Duration;

use serde_json::{json, Value};
use shoukuan_tests::browser::Browser;
use shoukuan_tests::qr::write_receive_code_screenshot;
use shoukuan_tests::worker::Worker;

use crate::journeys::{click, shot, type_into};
use crate::split::{wait_text, worker};
use crate::unique_pay_code;

const ADDRESS: &str = "上海市徐汇区漕溪北路 88 号 3 楼";

async fn contacts(worker: &Worker, id: &str, token: Option<&str>) -> (u16, Value) {
    let mut req =
        reqwest::Client::new().get(worker.url(&format!("/api/collections/{id}/contacts")));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get_text(worker: &Worker, path: &str) -> String {
    reqwest::get(worker.url(path))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
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

/// Posts the contact form as the browser's own form post (no page script involved) and waits
/// for the next document.
async fn submit_contact_form(browser: &Browser) {
    let before = browser.wait_for("#contact_form").await.unwrap();
    browser
        .driver
        .cdp()
        .send_raw(
            "Runtime.evaluate",
            json!({ "expression": "document.querySelector('#contact_form').requestSubmit()" }),
        )
        .await
        .unwrap();
    for _ in 0..200 {
        if before.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the contact form post did not load a new page");
}

async fn fill_contact(browser: &Browser, name: &str, phone: &str) {
    type_into(browser, "#contact_name", name).await;
    type_into(browser, "#contact_phone", phone).await;
    type_into(browser, "#contact_address", ADDRESS).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_price_page_collects_buyer_contacts_that_only_the_payee_sees() {
    let worker = worker().await;
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("shoukuanma.png");
    write_receive_code_screenshot(&unique_pay_code(), &fixture).unwrap();

    // The payee publishes a price page that asks for phone + address.
    let browser = Browser::wechat().await.unwrap();
    browser.driver.goto(worker.url("/new")).await.unwrap();
    click(&browser, "label[for=kind_product]").await;
    wait_text(&browser, "#publish", "发布价格页", 10).await;
    type_into(&browser, "#payee_name", "小满鲜花").await;
    type_into(&browser, "#title", "母亲节花束").await;
    type_into(&browser, "#pay_code_file", fixture.to_str().unwrap()).await;
    wait_text(&browser, "#pay_code_status", "已识别", 20).await;
    type_into(&browser, "#amount", "129").await;
    browser.wait_for("#product_contact").await.unwrap();
    browser
        .eval("const s = document.querySelector('#product_contact'); s.value = 'phone_address'; s.dispatchEvent(new Event('change', { bubbles: true })); return true;")
        .await
        .unwrap();
    click(&browser, "#publish").await;
    let share = value_of(&browser, "#share_link").await;
    let manage = value_of(&browser, "#manage_link").await;
    let id = share.rsplit('/').next().unwrap().to_string();
    let token = manage.split("#t=").nth(1).unwrap().to_string();
    wait_text(&browser, "#buyer_contacts", "还没有买家留下联系方式", 20).await;
    // The setting is kept: the manage page shows it selected.
    assert_eq!(
        value_of(&browser, "#product_contact").await,
        "phone_address"
    );

    // The buyer's page shows the form, with the address asked for.
    browser.driver.goto(&share).await.unwrap();
    let section = wait_text(&browser, "#contact", "留下联系方式", 20).await;
    assert!(section.contains("只有商家能看到"), "{section}");
    browser.wait_for("#contact_address").await.unwrap();

    // A bad phone: the message under the phone field, the typed values kept, nothing stored.
    fill_contact(&browser, "王小明", "12345").await;
    click(&browser, "#contact_submit").await;
    let error = wait_text(&browser, "#contact_phone_error", "11 位手机号", 20).await;
    assert_eq!(error, "请输入 11 位手机号，如 13812341234");
    assert_eq!(value_of(&browser, "#contact_address").await, ADDRESS);
    let (status, list) = contacts(worker, &id, Some(&token)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["contacts"], json!([]));
    shot(&browser, "contact-bad-phone").await;

    // Corrected and sent: what was saved, masked, and who sees it.
    browser
        .wait_for("#contact_phone")
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_into(&browser, "#contact_phone", "138 1234 5678").await;
    type_into(&browser, "#contact_note", "周六上午送").await;
    click(&browser, "#contact_submit").await;
    let saved = wait_text(&browser, "#contact_saved", "已保存", 20).await;
    assert!(
        saved.contains("王**") && saved.contains("138****5678"),
        "{saved}"
    );
    assert!(saved.contains("只有商家能看到"), "{saved}");
    let source = browser.driver.source().await.unwrap();
    assert!(!source.contains("13812345678") && !source.contains("漕溪北路"));
    shot(&browser, "contact-saved").await;
    browser.quit().await.unwrap();

    // The same form without JavaScript.
    let plain = Browser::wechat_without_javascript().await.unwrap();
    plain.driver.goto(&share).await.unwrap();
    fill_contact(&plain, "李四", "13900001111").await;
    submit_contact_form(&plain).await;
    let saved = wait_text(&plain, "#contact_saved", "已保存", 20).await;
    assert!(saved.contains("139****1111"), "{saved}");
    plain.quit().await.unwrap();

    // The payee sees both, in full, with the manage token only.
    let (status, list) = contacts(worker, &id, Some(&token)).await;
    assert_eq!(status, 200, "{list}");
    let rows = list["contacts"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{list}");
    let mut phones: Vec<&str> = rows.iter().map(|r| r["phone"].as_str().unwrap()).collect();
    phones.sort();
    assert_eq!(phones, ["13812345678", "13900001111"]);
    assert!(rows.iter().all(|r| r["address"] == ADDRESS), "{list}");
    assert!(rows.iter().any(|r| r["note"] == "周六上午送"), "{list}");
    let (status, body) = contacts(worker, &id, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    let (status, _) = contacts(worker, &id, Some("wrong-token")).await;
    assert_eq!(status, 401);

    // Nothing public holds them.
    for path in [
        format!("/c/{id}"),
        format!("/api/products/{id}"),
        format!("/api/collections/{id}"),
    ] {
        let text = get_text(worker, &path).await;
        for secret in ["13812345678", "13900001111", "漕溪北路", "周六上午送"] {
            assert!(!text.contains(secret), "{path} holds {secret}");
        }
    }

    // A post from another site is refused, and nothing is stored.
    let resp = reqwest::Client::new()
        .post(worker.url(&format!("/c/{id}/contact")))
        .header("origin", "https://evil.example.com")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=x&phone=13700001111&address=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let (_, list) = contacts(worker, &id, Some(&token)).await;
    assert_eq!(list["contacts"].as_array().unwrap().len(), 2);

    // The payee's manage page lists them.
    let browser = Browser::wechat().await.unwrap();
    browser.driver.goto(&manage).await.unwrap();
    let listed = wait_text(&browser, "#contacts_list", "13900001111", 20).await;
    assert!(
        listed.contains("13812345678") && listed.contains(ADDRESS),
        "{listed}"
    );
    shot(&browser, "contact-manage").await;
    browser.quit().await.unwrap();
}
