//! DOM tests in headless Chromium: `cargo test -p shoukuan-app --target wasm32-unknown-unknown`
//! (with `CHROMEDRIVER=/usr/bin/chromedriver`). The test server answers every `/api/*` call
//! with 404, which is what an unknown collection looks like.

#![cfg(target_arch = "wasm32")]

use shoukuan_app::{mount, Route};
use shoukuan_core::collection::{AmountRule, CollectionView, Kind, Status};
use shoukuan_core::money::Fen;
use shoukuan_core::page::{json_for_script, not_found_card};
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

/// `<script id="sk-data">` as the worker writes it; removed when dropped.
struct SkData(Element);

impl SkData {
    fn new(view: &CollectionView) -> SkData {
        let script = document().create_element("script").unwrap();
        script.set_id("sk-data");
        script.set_attribute("type", "application/json").unwrap();
        script.set_text_content(Some(&json_for_script(view)));
        document().body().unwrap().append_child(&script).unwrap();
        SkData(script)
    }
}

impl Drop for SkData {
    fn drop(&mut self) {
        self.0.remove();
    }
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

fn view(id: &str) -> CollectionView {
    CollectionView {
        id: id.into(),
        kind: Kind::Request,
        status: Status::Open,
        payee_name: "张三".into(),
        title: "周五聚餐 AA".into(),
        amount: AmountRule::Fixed {
            fen: Fen::new(1234),
        },
        note: "请备注姓名".into(),
        pay_code: "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5".into(),
        created_at: 1,
    }
}

#[cfg(feature = "payee")]
fn type_into(input: &HtmlInputElement, text: &str) {
    input.set_value(text);
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn the_payer_page_renders_the_embedded_collection_with_a_png_qr() {
    let data = view("sKdAtA0001");
    let _sk = SkData::new(&data);
    let app = app_root(&shoukuan_core::page::payer_card(&data));
    mount(app.clone(), Route::Pay("sKdAtA0001".into()));
    // Rendered synchronously from the embedded data: no fetch, no loading state.
    let img = app
        .query_selector("img.qr-img")
        .unwrap()
        .expect("a QR image");
    assert!(img
        .get_attribute("src")
        .unwrap()
        .starts_with("data:image/png;base64,"));
    let text = app.text_content().unwrap();
    assert!(
        text.contains("¥12.34") && text.contains("长按识别二维码") && text.contains("微信支付"),
        "{text}"
    );
    assert_eq!(
        app.query_selector_all(".pay-card").unwrap().length(),
        1,
        "the server card was replaced, not duplicated"
    );
    app.remove();
}

#[wasm_bindgen_test]
async fn an_unknown_collection_shows_the_not_found_card() {
    let app = app_root("");
    mount(app.clone(), Route::Pay("nOsUcH0001".into()));
    let card = find(&app, ".empty-card").await;
    assert!(card.text_content().unwrap().contains("找不到这个收款"));
    assert!(app.query_selector("img.qr-img").unwrap().is_none());
    app.remove();
}

#[wasm_bindgen_test]
async fn embedded_data_for_another_id_is_ignored() {
    let _sk = SkData::new(&view("oThEr00001"));
    let app = app_root("");
    mount(app.clone(), Route::Pay("nOsUcH0002".into()));
    find(&app, ".empty-card").await;
    assert!(app.query_selector("img.qr-img").unwrap().is_none());
    app.remove();
}

#[wasm_bindgen_test]
async fn a_server_rendered_not_found_card_stays() {
    let app = app_root(not_found_card());
    mount(app.clone(), Route::Pay("nOsUcH0003".into()));
    assert!(
        app.query_selector(".empty-card").unwrap().is_some(),
        "{}",
        app.inner_html()
    );
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
    use shoukuan_app::decode::{read_pay_code_from_url, NOT_AN_IMAGE, NO_QR};

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
