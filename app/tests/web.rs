//! DOM tests in headless Chromium: `cargo test -p shoukuan-app --target wasm32-unknown-unknown`
//! (with `CHROMEDRIVER=/usr/bin/chromedriver`). The test server answers every `/api/*` call
//! with 404, which is what an unknown collection looks like.

#![cfg(target_arch = "wasm32")]

use shoukuan_app::{mount, Route};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
#[cfg(feature = "payee")]
use web_sys::HtmlInputElement;
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// A fresh mount point in the body, optionally with server-rendered content.
fn app_root(server_html: &str) -> HtmlElement {
    let app: HtmlElement = document()
        .create_element("div")
        .unwrap()
        .dyn_into()
        .unwrap();
    app.set_inner_html(server_html);
    document().body().unwrap().append_child(&app).unwrap();
    app
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Waits (up to 5 s) for `selector` inside `root`.
async fn find(root: &Element, selector: &str) -> Element {
    for _ in 0..100 {
        if let Some(el) = root.query_selector(selector).unwrap() {
            return el;
        }
        sleep(50).await;
    }
    panic!("{selector} never appeared in {}", root.inner_html());
}

#[cfg(feature = "payee")]
fn type_into(input: &HtmlInputElement, text: &str) {
    input.set_value(text);
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
}

// The payer pages (`/c/:id`) are the worker's, without this app (`core::page`); what the app
// promises every page is the readiness signal, and the price page's poster lives here.

#[wasm_bindgen_test]
async fn every_mounted_page_signals_that_it_is_ready() {
    let body = document().body().unwrap();
    body.remove_attribute("data-ready").unwrap();
    let app = app_root("");
    mount(app.clone(), Route::parse("/no/such/page"));
    // Set one timer after the mount (a page without API calls has nothing more to wait for).
    for _ in 0..20 {
        if body.get_attribute("data-ready").is_some() {
            break;
        }
        sleep(10).await;
    }
    assert_eq!(body.get_attribute("data-ready").as_deref(), Some("1"));
    app.remove();
}

#[cfg(feature = "payee")]
#[wasm_bindgen_test]
async fn a_page_is_ready_only_once_the_calls_its_mount_started_have_answered() {
    // The dashboard asks the API who is signed in (404 here) while mounting.
    let body = document().body().unwrap();
    body.remove_attribute("data-ready").unwrap();
    let app = app_root("");
    mount(app.clone(), Route::Dash);
    assert_eq!(body.get_attribute("data-ready"), None);
    for _ in 0..200 {
        if body.get_attribute("data-ready").is_some() {
            break;
        }
        sleep(25).await;
    }
    assert_eq!(body.get_attribute("data-ready").as_deref(), Some("1"));
    // By then the answer is on the page.
    let text = app.text_content().unwrap();
    assert!(
        text.contains("加载失败") && !text.contains("加载中"),
        "{text}"
    );
    app.remove();
}

#[wasm_bindgen_test]
async fn the_poster_of_an_unknown_price_page_says_so_instead_of_drawing() {
    let app = app_root("");
    mount(app.clone(), Route::Poster("nOsUcH0004".into()));
    let status = find(&app, "#poster_status").await;
    for _ in 0..100 {
        if status.text_content().unwrap() != "正在生成海报…" {
            break;
        }
        sleep(50).await;
    }
    let text = status.text_content().unwrap();
    assert!(text != "正在生成海报…" && !text.is_empty(), "{text}");
    assert!(app.query_selector("img#poster").unwrap().is_none());
    app.remove();
}

#[cfg(feature = "payee")]
#[wasm_bindgen_test]
async fn the_note_counter_counts_characters_live() {
    let app = app_root("");
    mount(app.clone(), Route::New);
    let note: HtmlInputElement = find(&app, "#note").await.dyn_into().unwrap();
    let counter = find(&app, "#note_counter").await;
    assert_eq!(counter.text_content().unwrap(), "0/30");
    type_into(&note, "请备注姓名");
    sleep(20).await;
    assert_eq!(counter.text_content().unwrap(), "5/30");
    type_into(&note, &"字".repeat(31));
    let error = find(&app, r#".field-error[data-field="note"]"#).await;
    assert_eq!(counter.text_content().unwrap(), "31/30");
    assert!(counter.class_list().contains("over"));
    assert!(error.text_content().unwrap().contains("备注最多 30 个字"));
    app.remove();
}

#[cfg(feature = "payee")]
#[wasm_bindgen_test]
async fn publishing_an_empty_form_marks_every_missing_field() {
    let app = app_root("");
    mount(app.clone(), Route::New);
    let publish: HtmlElement = find(&app, "#publish").await.dyn_into().unwrap();
    // Nothing shows before the person did anything.
    assert!(app.query_selector(".field-error").unwrap().is_none());
    publish.click();
    for field in ["payee_name", "title", "pay_code", "amount"] {
        find(&app, &format!(r#".field-error[data-field="{field}"]"#)).await;
    }
    assert!(find(&app, "#form_error")
        .await
        .text_content()
        .unwrap()
        .contains("标红"));
    app.remove();
}

#[cfg(feature = "payee")]
#[wasm_bindgen_test]
async fn switching_to_payer_entered_hides_the_amount_and_its_error() {
    let app = app_root("");
    mount(app.clone(), Route::New);
    let publish: HtmlElement = find(&app, "#publish").await.dyn_into().unwrap();
    publish.click();
    find(&app, r#".field-error[data-field="amount"]"#).await;
    let payer: HtmlElement = find(&app, "#amount_mode_payer").await.dyn_into().unwrap();
    payer.click();
    sleep(20).await;
    assert!(app
        .query_selector(r#".field-error[data-field="amount"]"#)
        .unwrap()
        .is_none());
    let amount: HtmlInputElement = find(&app, "#amount").await.dyn_into().unwrap();
    assert!(amount.disabled());
    app.remove();
}

#[wasm_bindgen_test]
async fn unknown_paths_get_a_not_found_card() {
    let app = app_root("");
    mount(app.clone(), Route::parse("/no/such/page"));
    let card = find(&app, ".empty-card").await;
    assert!(card.text_content().unwrap().contains("页面不存在"));
    app.remove();
}

/// An object URL for `bytes` as a file of type `mime`.
#[cfg(feature = "payee")]
fn object_url(bytes: &[u8], mime: &str) -> String {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).unwrap();
    web_sys::Url::create_object_url_with_blob(&blob).unwrap()
}

#[cfg(feature = "payee")]
#[wasm_bindgen_test]
async fn an_uploaded_png_is_decoded_through_the_browser_canvas() {
    // The pages read the QR in a Web Worker (its script is not served here: the end-to-end
    // publish tests upload through it); this checks the browser's part on the page.
    use shoukuan_app::decode::{
        read_pay_code_in_page as read_pay_code_from_url, NOT_AN_IMAGE, NO_QR,
    };

    let code = "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5";
    // Larger than the 1200 px limit, so the downscaling path runs too.
    let png = shoukuan_core::qr::png(code, 1500).unwrap();
    assert_eq!(
        read_pay_code_from_url(&object_url(&png, "image/png"))
            .await
            .unwrap()
            .as_str(),
        code
    );

    let alipay = shoukuan_core::qr::png("https://qr.alipay.com/fkx12345abc", 400).unwrap();
    assert_eq!(
        read_pay_code_from_url(&object_url(&alipay, "image/png"))
            .await
            .unwrap_err(),
        "这是支付宝收款码，请上传微信收款码"
    );

    let white_rows: Vec<u8> = (0..60)
        .flat_map(|_| std::iter::once(0).chain(std::iter::repeat_n(255, 80)))
        .collect();
    let blank = shoukuan_core::qr::encode_png(80, 60, 8, 0, &white_rows);
    assert_eq!(
        read_pay_code_from_url(&object_url(&blank, "image/png"))
            .await
            .unwrap_err(),
        NO_QR
    );

    assert_eq!(
        read_pay_code_from_url(&object_url(b"not an image", "image/png"))
            .await
            .unwrap_err(),
        NOT_AN_IMAGE
    );
}
