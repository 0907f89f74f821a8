//! Issue 17, the rest of the journeys: the publish form speaks each kind's words and gives the
//! phone's right keyboard, an error goes as soon as its field is fixed, the shop fields say when
//! they become required; the 微信支付 mark appears only where WeChat Pay takes the payment; the
//! split payer's 修改 and 退出接龙 sit on one line; an unknown order's page leads on.

use std::time::Duration;

use serde_json::{json, Value};
use shoukuan_tests::browser::Browser;

use crate::journeys::{click, shot, type_into};
use crate::split::{publish_split, wait_text, worker};

/// The `inputmode` of the element `css`.
async fn keyboard(browser: &Browser, css: &str) -> String {
    browser
        .wait_for(css)
        .await
        .unwrap()
        .attr("inputmode")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Whether an element matches `css` right now.
async fn present(browser: &Browser, css: &str) -> bool {
    browser
        .eval(&format!("return !!document.querySelector({css:?});"))
        .await
        .unwrap()
        == Value::Bool(true)
}

/// Waits until nothing matches `css` (an error line removed once its field is fixed).
async fn wait_gone(browser: &Browser, css: &str) {
    for _ in 0..50 {
        if !present(browser, css).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} is still shown");
}

async fn text_of(browser: &Browser, css: &str) -> String {
    browser.wait_for(css).await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_publish_form_speaks_each_kind_and_clears_an_error_once_its_field_is_fixed() {
    let worker = worker().await;
    let browser = Browser::wechat().await.unwrap();
    browser.driver.goto(worker.url("/new")).await.unwrap();

    // 收款: money gets the decimal keyboard; the words are a payment request's.
    assert_eq!(keyboard(&browser, "#amount").await, "decimal");
    wait_text(&browser, "#publish", "发布收款", 20).await;
    assert_eq!(text_of(&browser, "label[for=title]").await, "收款标题");
    assert!(text_of(&browser, "#kind_hint").await.contains("收款码"));

    // An error goes as soon as its field is fixed, not at the next tap on the button.
    click(&browser, "#publish").await;
    browser
        .wait_for(".field-error[data-field=title]")
        .await
        .unwrap();
    wait_text(&browser, "#form_error", "标红", 10).await;
    type_into(&browser, "#title", "三班班费").await;
    wait_gone(&browser, ".field-error[data-field=title]").await;

    // 群接龙: its own words and button; amounts decimal, counts of people digits only.
    click(&browser, "label[for=kind_split]").await;
    wait_text(&browser, "#publish", "发布接龙", 10).await;
    assert_eq!(text_of(&browser, "label[for=title]").await, "接龙标题");
    assert!(text_of(&browser, "#kind_hint").await.contains("接龙"));
    assert_eq!(keyboard(&browser, "#split_total").await, "decimal");
    assert_eq!(keyboard(&browser, "#split_people").await, "numeric");
    assert_eq!(keyboard(&browser, "#split_per_person").await, "decimal");
    assert_eq!(keyboard(&browser, "#split_cap").await, "numeric");
    assert_eq!(keyboard(&browser, "#item_price_0").await, "decimal");
    type_into(&browser, "#split_total", "300").await;
    click(&browser, "#publish").await;
    browser
        .wait_for(".field-error[data-field='split.people']")
        .await
        .unwrap();
    type_into(&browser, "#split_people", "10").await;
    wait_gone(&browser, ".field-error[data-field='split.people']").await;
    shot(&browser, "journey-new-split").await;

    // 价格页: a merchant's words; the shop fields say up front when they become required.
    click(&browser, "label[for=kind_product]").await;
    wait_text(&browser, "#publish", "发布价格页", 10).await;
    assert_eq!(text_of(&browser, "label[for=title]").await, "商品名称");
    assert_eq!(text_of(&browser, "label[for=payee_name]").await, "商家名称");
    // Its errors speak its words too: a price, never 付款人填写 (a price page has none).
    wait_text(
        &browser,
        ".field-error[data-field=payee_name]",
        "商家名称",
        10,
    )
    .await;
    let price = wait_text(
        &browser,
        ".field-error[data-field=amount]",
        "请输入价格",
        10,
    )
    .await;
    assert!(!price.contains("付款人填写"), "{price}");
    assert_eq!(keyboard(&browser, "#amount").await, "decimal");
    assert_eq!(keyboard(&browser, "#original_price").await, "decimal");
    let hint = text_of(&browser, "#shop_hint").await;
    assert!(hint.contains("都要填"), "{hint}");
    assert!(text_of(&browser, "label[for=shop_address]")
        .await
        .contains("选填"));
    type_into(&browser, "#shop_name", "小满酸奶").await;
    wait_text(&browser, "label[for=shop_address]", "必填", 10).await;
    // Submitting without the address: the error under it, gone as soon as it is typed.
    click(&browser, "#publish").await;
    browser
        .wait_for(".field-error[data-field='product.shop_address']")
        .await
        .unwrap();
    type_into(&browser, "#shop_address", "上海市黄浦区南京东路 1 号").await;
    wait_gone(&browser, ".field-error[data-field='product.shop_address']").await;
    shot(&browser, "journey-new-product-fields").await;
    browser.quit().await.unwrap();
}

/// A personal-code split shows no 微信支付 mark (a transfer between people), and its 修改 and
/// 退出接龙 sit on one line; a payable merchant page shows the mark, and its order page leads
/// back to it.
#[tokio::test(flavor = "multi_thread")]
async fn the_pay_mark_shows_only_where_wechat_pay_takes_the_payment() {
    let worker = worker().await;
    let split = publish_split(worker, json!({ "mode": "fixed", "per_person": "25" })).await;
    let browser = Browser::wechat().await.unwrap();
    browser
        .driver
        .goto(worker.url(&format!("/c/{}", split.id)))
        .await
        .unwrap();
    assert!(
        !present(&browser, ".brand").await,
        "no mark before signing up"
    );
    type_into(&browser, "#join_name", "周杰").await;
    click(&browser, "#join").await;
    browser.wait_for("#claim").await.unwrap();
    browser.wait_for("#withdraw").await.unwrap();
    assert!(
        !present(&browser, ".brand").await,
        "no 微信支付 mark under a personal 收款码"
    );
    let rows = browser
        .eval(concat!(
            "const a = document.getElementById('edit').getBoundingClientRect();",
            "const b = document.getElementById('withdraw').getBoundingClientRect();",
            "return [a.top, b.top, a.height, b.height];"
        ))
        .await
        .unwrap();
    let px = |i: usize| rows[i].as_f64().unwrap();
    assert!(
        (px(0) - px(1)).abs() < 1.0 && (px(2) - px(3)).abs() < 1.0,
        "修改 and 退出接龙 on one line, the same height: {rows}"
    );
    shot(&browser, "journey-split-entry").await;
    // Opened, the edit form takes the row; 退出接龙 stays reachable under it.
    click(&browser, "#edit").await;
    assert!(browser
        .wait_for("#save_entry")
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());
    assert!(browser
        .wait_for("#withdraw")
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());
    shot(&browser, "journey-split-edit-open").await;
    browser.quit().await.unwrap();

    let p = crate::payments::pay().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("8.88")).await;
    let html = reqwest::get(p.worker().url(&format!("/c/{collection}")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"id="sk-pay""#), "payable");
    assert!(
        html.contains(r#"<div class="brand" aria-label="微信支付">"#),
        "a payable merchant page has the mark"
    );
    let order = p.order_on(p.worker(), &collection, None).await;
    let id = order["id"].as_str().unwrap();
    let page = reqwest::get(p.worker().url(&format!("/o/{id}")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            r#"id="order-back" class="link" href="/c/{collection}""#
        )),
        "{page}"
    );
}

/// `/o/<unknown>`: not a dead end — back to the payment page the payer came from, else home;
/// and no word of deletion (nothing is ever deleted).
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_order_page_leads_on() {
    let worker = worker().await;
    let split = publish_split(worker, json!({ "mode": "fixed", "per_person": "10" })).await;
    let from = worker.url(&format!("/c/{}", split.id));
    let resp = reqwest::Client::new()
        .get(worker.url("/o/zZ9yY8xX7w"))
        .header("referer", &from)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"href="/c/{}">返回付款页"#, split.id)),
        "{html}"
    );
    assert!(!html.contains("删除"), "{html}");
    // Another site's page is no collection of ours.
    let html = reqwest::Client::new()
        .get(worker.url("/o/zZ9yY8xX7w"))
        .header(
            "referer",
            format!("https://elsewhere.example/c/{}", split.id),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"href="/">返回首页"#), "{html}");

    // Opened on its own in WeChat: 返回首页 leads to the home page.
    let browser = Browser::wechat().await.unwrap();
    browser
        .driver
        .goto(worker.url("/o/zZ9yY8xX7w"))
        .await
        .unwrap();
    let text = wait_text(&browser, "main", "找不到这个订单", 20).await;
    assert!(!text.contains("删除"), "{text}");
    shot(&browser, "journey-order-not-found").await;
    click(&browser, "#order-way-on").await;
    wait_text(&browser, "#home_kinds", "群接龙", 20).await;
    browser.quit().await.unwrap();
}
