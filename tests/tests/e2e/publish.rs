//! The first user flow in a real browser: a payee publishes from a phone in WeChat, a payer
//! opens the link, and the QR on the payer's screen is the payee's own code.

use serde_json::Value;
use shoukuan_tests::browser::Browser;
use shoukuan_tests::qr::{decode_png, write_picture_without_qr, write_receive_code_screenshot};
use thirtyfour::prelude::*;

use crate::{good_body, open_worker, publish, unique_pay_code};

#[tokio::test(flavor = "multi_thread")]
async fn a_payee_publishes_in_wechat_and_the_payer_page_shows_the_same_code() {
    let worker = open_worker().await;
    let dir = tempfile::tempdir().unwrap();
    let code = unique_pay_code();
    let fixture = dir.path().join("shoukuanma.png");
    write_receive_code_screenshot(&code, &fixture).unwrap();
    let not_a_qr = dir.path().join("photo.png");
    write_picture_without_qr(&not_a_qr).unwrap();

    let browser = Browser::wechat().await.unwrap();
    let d = &browser.driver;
    d.goto(worker.url("/new")).await.unwrap();

    // An image without a QR is explained, not silently accepted.
    browser
        .wait_for("#pay_code_file")
        .await
        .unwrap()
        .send_keys(not_a_qr.to_str().unwrap())
        .await
        .unwrap();
    let status = browser.wait_for("#pay_code_status").await.unwrap();
    wait_text(&status, "没有在图片中找到二维码").await;

    browser
        .wait_for("#payee_name")
        .await
        .unwrap()
        .send_keys("张三")
        .await
        .unwrap();
    browser
        .wait_for("#title")
        .await
        .unwrap()
        .send_keys("周五聚餐 AA")
        .await
        .unwrap();
    // People tap the label; the radio itself is visually replaced by it.
    browser
        .wait_for("label[for=amount_mode_fixed]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for("#amount")
        .await
        .unwrap()
        .send_keys("12.34")
        .await
        .unwrap();
    browser
        .wait_for("#note")
        .await
        .unwrap()
        .send_keys("请备注姓名")
        .await
        .unwrap();
    browser
        .wait_for("#pay_code_file")
        .await
        .unwrap()
        .send_keys(fixture.to_str().unwrap())
        .await
        .unwrap();
    wait_text(
        &browser.wait_for("#pay_code_status").await.unwrap(),
        "已识别",
    )
    .await;
    browser
        .wait_for("#publish")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let link = browser.wait_for("#share_link").await.unwrap();
    let share_url = link.prop("value").await.unwrap().unwrap_or_default();
    assert!(
        share_url.starts_with(&worker.url("/c/")),
        "share link {share_url:?}"
    );
    assert!(browser.wait_for("#copy_link").await.is_ok());
    assert!(browser.wait_for("#manage_link").await.is_ok());

    // The payer opens the link in WeChat.
    d.goto(&share_url).await.unwrap();
    let img = browser.wait_for("img.qr-img").await.unwrap();
    let src = img.attr("src").await.unwrap().unwrap_or_default();
    assert!(
        src.starts_with("data:image/png;base64,"),
        "QR is not an inline PNG <img>"
    );
    let geometry: Value = browser
        .eval("const i = document.querySelector('img.qr-img'); return { w: i.getBoundingClientRect().width, natural: i.naturalWidth, complete: i.complete };")
        .await
        .unwrap();
    assert!(
        geometry["w"].as_f64().unwrap() >= 240.0,
        "QR narrower than 240 CSS px: {geometry}"
    );
    assert!(
        geometry["natural"].as_f64().unwrap() > 0.0 && geometry["complete"] == true,
        "QR not loaded: {geometry}"
    );
    let text = d.find(By::Tag("body")).await.unwrap().text().await.unwrap();
    for expected in [
        "张三",
        "¥12.34",
        "请备注姓名",
        "长按识别二维码",
        "收款码不会自动填入金额",
    ] {
        assert!(
            text.contains(expected),
            "payer page lacks {expected}: {text}"
        );
    }
    assert!(
        !text.contains("微信支付"),
        "no WeChat Pay mark under a personal code: {text}"
    );
    assert_plain_html(&browser, &share_url).await;
    let shot = browser.full_screenshot().await.unwrap();
    std::fs::write(
        std::env::temp_dir().join("shoukuan-e2e-payer-wechat.png"),
        &shot,
    )
    .unwrap();
    assert_eq!(
        decode_png(&shot).unwrap(),
        vec![code],
        "the QR on screen is not the uploaded code"
    );
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_desktop_browser_sees_the_same_payer_page() {
    let worker = open_worker().await;
    let code = unique_pay_code();
    let created = publish(worker, &good_body(&code)).await;
    let browser = Browser::desktop().await.unwrap();
    browser
        .driver
        .goto(worker.url(created["path"].as_str().unwrap()))
        .await
        .unwrap();
    browser.wait_for("img.qr-img").await.unwrap();
    let shot = browser.full_screenshot().await.unwrap();
    assert_eq!(decode_png(&shot).unwrap(), vec![code]);
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_collection_shows_a_friendly_page_in_the_browser() {
    let worker = open_worker().await;
    let browser = Browser::wechat().await.unwrap();
    browser
        .driver
        .goto(worker.url("/c/doesNotExist42"))
        .await
        .unwrap();
    let card = browser.wait_for(".empty-card").await.unwrap();
    wait_text(&card, "找不到这个收款").await;
    browser.quit().await.unwrap();
}

/// What the README promises for every payer page in WeChat (request, split, price page):
/// complete as HTML, so the browser loads no app script, no WebAssembly and preloads nothing —
/// checked on the HTML as served to WeChat's user agent and on what Chromium actually fetched
/// (performance entries) — and it says it is ready (`body[data-ready="1"]`).
pub async fn assert_plain_html(browser: &Browser, url: &str) {
    let served = reqwest::Client::new()
        .get(url)
        .header("user-agent", shoukuan_tests::browser::WECHAT_IOS_UA)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let script_tags_with_src = served
        .split("<script")
        .skip(1)
        .filter(|tag| tag.split('>').next().unwrap_or_default().contains("src"))
        .count();
    assert_eq!(
        script_tags_with_src, 0,
        "served HTML has <script src>: {served}"
    );
    assert!(!served.contains("modulepreload"), "{served}");
    assert!(!served.contains(".wasm"), "{served}");

    let page: Value = browser
        .eval(
            "return {
               scripts: [...document.querySelectorAll('script[src]')].map(s => s.src),
               preloads: [...document.querySelectorAll('link[rel=modulepreload], link[rel=preload]')].map(l => l.href),
               fetched: performance.getEntriesByType('resource').map(e => e.name),
               navigation: performance.getEntriesByType('navigation').map(e => e.name),
               ready: document.body.dataset.ready || null,
             };",
        )
        .await
        .unwrap();
    assert_eq!(page["scripts"], serde_json::json!([]), "{page}");
    assert_eq!(page["preloads"], serde_json::json!([]), "{page}");
    assert_eq!(page["ready"], "1", "the readiness signal: {page}");
    // The entries are real (the page's own navigation is one), and none is WebAssembly.
    assert_eq!(page["navigation"], serde_json::json!([url]), "{page}");
    let fetched: Vec<&str> = page["fetched"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        fetched
            .iter()
            .all(|name| !name.contains(".wasm") && !name.ends_with(".js")),
        "the payer page fetched app code: {fetched:?}"
    );
}

/// Waits up to 20 s for an element's text to contain `needle`.
async fn wait_text(el: &WebElement, needle: &str) {
    let mut last = String::new();
    for _ in 0..200 {
        last = el.text().await.unwrap_or_default();
        if last.contains(needle) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("expected text containing {needle:?}, got {last:?}");
}
