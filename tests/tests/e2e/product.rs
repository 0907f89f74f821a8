//! Moments price pages end to end: publishing from the phone with an image resized in the
//! browser and stored in (local) R2, the share meta, the countdown that ends the offer, and
//! the poster whose QR leads back to the page.

use std::time::Duration;

use base64::Engine as _;
use image::{Rgb, RgbImage};
use serde_json::{json, Value};
use shoukuan_tests::browser::Browser;
use shoukuan_tests::qr::{decode_png, write_receive_code_screenshot};
use shoukuan_tests::worker::Worker;

use crate::split::{beijing_in, wait_text, worker};
use crate::unique_pay_code;

/// A photo-like PNG of `w`×`h` (gradients, so it is not trivially small).
pub(crate) fn photo_png(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Uploads an image through the API; returns its key.
async fn upload(worker: &Worker, bytes: Vec<u8>, content_type: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(worker.url("/api/images"))
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) fn product_body(image: &str, deadline: Option<String>) -> Value {
    json!({
        "kind": "product",
        "payee_name": "小满酸奶",
        "title": "手工酸奶 6 杯装",
        "amount": "29",
        "note": "",
        "pay_code": unique_pay_code(),
        "product": {
            "description": "每日现做，冷链配送",
            "original_price": "39",
            "images": [image],
            "deadline": deadline,
            "shop_name": "小满酸奶",
            "shop_address": "上海市黄浦区南京东路 1 号",
            "tags": ["#酸奶", "下午茶"],
        },
    })
}

async fn publish(worker: &Worker, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(worker.url("/api/collections"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn click_label(browser: &Browser, for_id: &str) {
    browser
        .wait_for(&format!("label[for={for_id}]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_product_is_published_from_the_phone_with_a_resized_image_share_meta_and_a_poster() {
    let worker = worker().await;
    let dir = tempfile::tempdir().unwrap();
    let code = unique_pay_code();
    let shoukuanma = dir.path().join("shoukuanma.png");
    write_receive_code_screenshot(&code, &shoukuanma).unwrap();
    let photo = dir.path().join("photo.png");
    std::fs::write(&photo, photo_png(1600, 1200)).unwrap();

    let browser = Browser::wechat().await.unwrap();
    browser.driver.goto(worker.url("/new")).await.unwrap();
    click_label(&browser, "kind_product").await;
    type_into(&browser, "#payee_name", "小满酸奶").await;
    type_into(&browser, "#title", "手工酸奶 6 杯装").await;
    type_into(&browser, "#pay_code_file", shoukuanma.to_str().unwrap()).await;
    wait_text(&browser, "#pay_code_status", "已识别", 20).await;
    type_into(&browser, "#amount", "29").await;
    type_into(&browser, "#product_images", photo.to_str().unwrap()).await;
    // The upload is done when its thumbnail shows.
    browser.wait_for(".thumbs .thumb img").await.unwrap();
    type_into(&browser, "#original_price", "39").await;
    type_into(&browser, "#product_description", "每日现做，冷链配送").await;
    type_into(&browser, "#shop_name", "小满酸奶").await;
    type_into(&browser, "#shop_address", "上海市黄浦区南京东路 1 号").await;
    type_into(&browser, "#product_tags", "#酸奶 下午茶").await;
    std::fs::write(
        std::env::temp_dir().join("shoukuan-e2e-new-product.png"),
        browser.full_screenshot().await.unwrap(),
    )
    .unwrap();
    browser
        .wait_for("#publish")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let share = browser.wait_for("#share_link").await.unwrap();
    let share_url = share.prop("value").await.unwrap().unwrap_or_default();
    assert!(share_url.starts_with(&worker.url("/c/")), "{share_url}");

    // What crawlers and share cards read: OpenGraph in the worker's HTML.
    let html = reqwest::get(&share_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        r#"<meta property="og:title" content="手工酸奶 6 杯装">"#,
        r#"<meta property="og:description" content="每日现做，冷链配送">"#,
        &format!(r#"<meta property="og:url" content="{share_url}">"#),
        r#"<meta property="product:price:amount" content="29.00">"#,
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    let og_image = html
        .split(r#"<meta property="og:image" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("og:image")
        .to_string();
    assert!(og_image.starts_with(&worker.url("/i/")), "{og_image}");
    // Stored once, resized: far smaller than the 1600×1200 original.
    let key = og_image.rsplit('/').next().unwrap();
    let stored = worker
        .query(&format!(
            "SELECT content_type, bytes FROM images WHERE key = '{key}'"
        ))
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["content_type"], "image/jpeg");
    let original = std::fs::metadata(&photo).unwrap().len();
    assert!(
        stored[0]["bytes"].as_u64().unwrap() < original,
        "{stored:?} vs {original}"
    );
    let image = reqwest::get(&og_image).await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/jpeg");
    assert!(image
        .bytes()
        .await
        .unwrap()
        .starts_with(&[0xFF, 0xD8, 0xFF]));

    // The payer page in WeChat.
    browser.driver.goto(&share_url).await.unwrap();
    let page = wait_text(&browser, ".product-card", "¥29.00", 20).await;
    for needle in [
        "¥39.00",
        "#酸奶",
        "#下午茶",
        "小满酸奶",
        "查看地图",
        "长按识别二维码",
        "收款码不会自动填入金额",
    ] {
        assert!(page.contains(needle), "page lacks {needle}: {page}");
    }
    let facts: Value = browser
        .eval(concat!(
            "const img = document.querySelector('.product-img');",
            "return { w: img.naturalWidth, h: img.naturalHeight, complete: img.complete,",
            "  share: window.__skShare, map: document.querySelector('#map_link').href };"
        ))
        .await
        .unwrap();
    assert_eq!(facts["w"], 1080, "resized in the browser: {facts}");
    assert_eq!(facts["h"], 810, "{facts}");
    assert_eq!(facts["share"]["title"], "手工酸奶 6 杯装");
    assert_eq!(facts["share"]["link"], share_url.as_str());
    assert_eq!(facts["share"]["imgUrl"], og_image.as_str());
    assert!(facts["map"]
        .as_str()
        .unwrap()
        .starts_with("https://uri.amap.com/search?keyword="));

    // The poster: a 750-px PNG whose QR is this page.
    browser
        .wait_for("#make_poster")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let poster = browser.wait_for("img#poster").await.unwrap();
    let src = poster.attr("src").await.unwrap().unwrap_or_default();
    let b64 = src
        .strip_prefix("data:image/png;base64,")
        .expect("the poster is a PNG data URL");
    let png = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    std::fs::write(std::env::temp_dir().join("shoukuan-e2e-poster.png"), &png).unwrap();
    let (w, h) = png_size(&png);
    assert_eq!(w, 750);
    assert!(h > 750, "cover, text and QR: {h}");
    assert_eq!(decode_png(&png).unwrap(), vec![share_url.clone()]);
    std::fs::write(
        std::env::temp_dir().join("shoukuan-e2e-product.png"),
        browser.full_screenshot().await.unwrap(),
    )
    .unwrap();
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_countdown_ends_the_offer_at_the_deadline_without_a_reload() {
    let worker = worker().await;
    let (status, image) = upload(worker, photo_png(400, 300), "image/png").await;
    assert_eq!(status, 201, "{image}");
    let key = image["key"].as_str().unwrap().to_string();
    assert!(key.ends_with(".png"));
    let (status, created) = publish(worker, &product_body(&key, Some(beijing_in(8)))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let url = worker.url(&format!("/c/{id}"));

    let browser = Browser::wechat().await.unwrap();
    browser.driver.goto(&url).await.unwrap();
    browser.wait_for("#pay_qr img.qr-img").await.unwrap();
    crate::publish::assert_plain_html(&browser, &url).await;
    wait_text(&browser, "#countdown", "距结束 00:00:0", 10).await;
    browser
        .eval("window.__sameDocument = true; return 1;")
        .await
        .unwrap();
    wait_text(&browser, "#offer_ended", "活动已结束", 20).await;
    let after: Value = browser
        .eval("return { qr: document.querySelectorAll('.qr-img').length, same: window.__sameDocument === true, countdown: document.querySelector('#countdown').textContent };")
        .await
        .unwrap();
    assert_eq!(
        after["qr"], 0,
        "the QR is gone when the offer ends: {after}"
    );
    assert_eq!(after["same"], true, "ended without a reload");
    assert_eq!(after["countdown"], "活动已结束");
    browser.quit().await.unwrap();

    // The server agrees, for anyone who opens the page later.
    let view: Value = reqwest::get(worker.url(&format!("/api/products/{id}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["offer"], "ended");
    let html = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(html.contains("活动已结束"));
    assert!(
        !html.contains(r#"<img class="qr-img""#),
        "no QR after the deadline"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_and_product_copy_are_checked() {
    let worker = worker().await;
    assert_eq!(upload(worker, b"<html>".to_vec(), "text/html").await.0, 415);
    let (status, body) = upload(worker, b"not really a png".to_vec(), "image/png").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_IMAGE"))
    );
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(1_600_000, 0);
    assert_eq!(upload(worker, big, "image/png").await.0, 413);
    assert_eq!(
        reqwest::get(worker.url("/i/abcdefghijklmnopqrstuvwx.jpg"))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        reqwest::get(worker.url("/i/..%2F..%2Fetc"))
            .await
            .unwrap()
            .status(),
        404
    );

    // An image key that was never uploaded, banned words, a bad original price.
    let (status, body) = publish(worker, &product_body("abcdefghijklmnopqrstuvwx.jpg", None)).await;
    assert_eq!(status, 400);
    assert_eq!(body["fields"][0]["field"], "product.images");
    let (_, image) = upload(worker, photo_png(64, 64), "image/png").await;
    let key = image["key"].as_str().unwrap();
    let mut bad = product_body(key, None);
    bad["product"]["description"] = json!("全网最低价，稳赚");
    bad["product"]["original_price"] = json!("10");
    bad["product"]["tags"] = json!(["第一名"]);
    let (status, body) = publish(worker, &bad).await;
    assert_eq!(status, 400, "{body}");
    let fields: Vec<(&str, &str)> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap(), f["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("product.description", "COMPLIANCE"),
            ("product.description", "COMPLIANCE"),
            ("product.original_price", "INVALID_AMOUNT"),
            ("product.tags", "COMPLIANCE"),
        ]
    );
    let mut no_price = product_body(key, None);
    no_price["amount"] = json!("");
    let (status, body) = publish(worker, &no_price).await;
    assert_eq!(
        (status, body["fields"][0]["field"].as_str()),
        (400, Some("amount"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploading_needs_the_invite_code_when_publishing_does() {
    let worker = Worker::start(&[("PUBLISH_INVITE_CODE", "e2e-invite-img")])
        .await
        .unwrap();
    let png = photo_png(32, 32);
    assert_eq!(upload(&worker, png.clone(), "image/png").await.0, 403);
    let resp = reqwest::Client::new()
        .post(worker.url("/api/images"))
        .header("content-type", "image/png")
        .header("x-invite-code", "e2e-invite-img")
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    tokio::time::sleep(Duration::from_millis(10)).await;
}
