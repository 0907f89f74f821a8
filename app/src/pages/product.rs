//! Price pages (`kind = product`) in the app: the poster (`/poster/:id`) — a 750-px-wide PNG
//! drawn on a canvas and shown as an `<img>` so a person can long-press to save it and post it
//! to Moments — and the JS-SDK share hook of the app's pages. The publish form's product
//! fields (with images resized in the browser before upload) are here too. The payer's page,
//! `/c/:id`, is the worker's (`shoukuan_core::product::product_body`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use shoukuan_core::product::ProductView;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Poster width in pixels.
pub const POSTER_WIDTH: u32 = 750;

/// What the share card shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareData {
    /// Card title.
    pub title: String,
    /// Card text.
    pub desc: String,
    /// The page URL (without fragment).
    pub link: String,
    /// Absolute URL of the card image (may be empty).
    pub img_url: String,
}

/// Exposes the share data as `window.__skShare` (what a crawler-less test or another script
/// can read) and, inside WeChat, configures the JS-SDK share APIs with it through
/// `GET /api/jssdk/config` (the Official Account's signature; nothing happens when the OA is
/// not configured).
pub fn share_hook(share: ShareData) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(json) = serde_json::to_string(&share) else {
        return;
    };
    let Ok(value) = js_sys::JSON::parse(&json) else {
        return;
    };
    let _ = js_sys::Reflect::set(&window, &"__skShare".into(), &value);
    let ua = window.navigator().user_agent().unwrap_or_default();
    if !ua.contains("MicroMessenger") {
        return;
    }
    let url = window.location().href().unwrap_or_default();
    let url = url.split('#').next().unwrap_or_default().to_owned();
    spawn_local(async move {
        let endpoint = format!(
            "/api/jssdk/config?url={}",
            shoukuan_core::urlenc::encode_component(&url)
        );
        let Ok(resp) = gloo_net::http::Request::get(&endpoint).send().await else {
            return;
        };
        if resp.status() != 200 {
            return;
        }
        let Ok(config) = resp.text().await else {
            return;
        };
        let Ok(config) = js_sys::JSON::parse(&config) else {
            return;
        };
        // The JS-SDK is WeChat's script; loaded only inside WeChat, only once signed.
        let setup = js_sys::Function::new_with_args(
            "cfg, share",
            "var s = document.createElement('script');\
             s.src = 'https://res.wx.qq.com/open/js/jweixin-1.6.0.js';\
             s.onload = function () {\
               wx.config({ debug: false, appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,\
                           signature: cfg.signature, jsApiList: cfg.jsApiList });\
               wx.ready(function () {\
                 wx.updateAppMessageShareData({ title: share.title, desc: share.desc, link: share.link, imgUrl: share.imgUrl });\
                 wx.updateTimelineShareData({ title: share.title, link: share.link, imgUrl: share.imgUrl });\
               });\
             };\
             document.head.appendChild(s);",
        );
        let _ = setup.call2(&JsValue::NULL, &config, &value);
    });
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// `/poster/:id`: the share poster of a price page, opened from its 生成分享海报 link. The
/// price page itself is the worker's (`shoukuan_core::product::product_body`, no app); the
/// poster needs a canvas and the QR encoder, so it lives here and loads only when asked for.
#[component]
pub fn ProductPoster(id: String) -> impl IntoView {
    crate::set_title("分享海报");
    let page_url = format!("{}/c/{id}", origin());
    let poster = RwSignal::new(None::<Result<String, String>>);
    {
        let id = id.clone();
        spawn_local(async move {
            let outcome = async {
                let resp = gloo_net::http::Request::get(&format!("/api/products/{id}"))
                    .send()
                    .await
                    .map_err(|_| "网络不太好，请重试".to_owned())?;
                let status = resp.status();
                let text = resp
                    .text()
                    .await
                    .map_err(|_| "网络不太好，请重试".to_owned())?;
                let view: ProductView =
                    crate::api::interpret(status, &text).map_err(|e| e.message())?;
                render_poster(&view, &page_url)
                    .await
                    .map_err(|_| "海报生成失败，请稍后重试".to_owned())
            }
            .await;
            poster.set(Some(outcome));
        });
    }
    view! {
        <main class="page">
            <article class="card product-card">
                {move || match poster.get() {
                    None => view! { <p class="hint" id="poster_status">"正在生成海报…"</p> }.into_any(),
                    Some(Ok(src)) => view! {
                        <figure class="poster">
                            <img id="poster" class="poster-img" src=src alt="分享海报" />
                            <figcaption class="hint">"长按图片保存，分享到朋友圈"</figcaption>
                        </figure>
                    }.into_any(),
                    Some(Err(m)) => view! { <p class="hint" id="poster_status">{m}</p> }.into_any(),
                }}
                <a class="button secondary" href=format!("/c/{id}")>"返回商品页"</a>
            </article>
        </main>
    }
}

async fn load_image(src: &str) -> Result<web_sys::HtmlImageElement, JsValue> {
    let img = web_sys::HtmlImageElement::new()?;
    img.set_src(src);
    JsFuture::from(img.decode()).await?;
    Ok(img)
}

/// Splits `text` into lines no wider than `max` pixels, at most `lines` of them (the last one
/// ends with `…` when cut).
fn wrap(
    ctx: &web_sys::CanvasRenderingContext2d,
    text: &str,
    max: f64,
    lines: usize,
) -> Vec<String> {
    let width = |s: &str| ctx.measure_text(s).map(|m| m.width()).unwrap_or(0.0);
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for ch in text.chars() {
        let candidate = format!("{line}{ch}");
        if width(&candidate) > max && !line.is_empty() {
            out.push(std::mem::take(&mut line));
            if out.len() == lines {
                if let Some(last) = out.last_mut() {
                    last.pop();
                    last.push('…');
                }
                return out;
            }
        }
        line.push(ch);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// Draws the poster (cover image, title, price, tags, the page URL's QR) and returns it as a
/// PNG data URL.
pub async fn render_poster(view: &ProductView, page_url: &str) -> Result<String, JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or(JsValue::NULL)?;
    let canvas: web_sys::HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
    let w = f64::from(POSTER_WIDTH);
    let cover = match view.product.images.first() {
        Some(k) => load_image(&k.path()).await.ok(),
        None => None,
    };
    let cover_h = if cover.is_some() { w } else { 0.0 };
    let matrix = shoukuan_core::qr::Matrix::encode(page_url).map_err(|_| JsValue::NULL)?;
    let modules = matrix.width() + 2 * shoukuan_core::qr::QUIET_ZONE;
    let module_px = (260 / modules).max(4);
    let qr_px = f64::from(modules * module_px);
    let height = cover_h + 40.0 + 120.0 + 100.0 + 60.0 + qr_px + 60.0;
    canvas.set_width(POSTER_WIDTH);
    canvas.set_height(height as u32);
    let ctx: web_sys::CanvasRenderingContext2d =
        canvas.get_context("2d")?.ok_or(JsValue::NULL)?.dyn_into()?;
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, w, height);
    if let Some(img) = cover {
        // Cover-crop the image into a square.
        let (iw, ih) = (
            f64::from(img.natural_width()),
            f64::from(img.natural_height()),
        );
        let side = iw.min(ih);
        ctx.draw_image_with_html_image_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            &img,
            (iw - side) / 2.0,
            (ih - side) / 2.0,
            side,
            side,
            0.0,
            0.0,
            w,
            w,
        )?;
    }
    let font = "\"PingFang SC\",\"Hiragino Sans GB\",\"Microsoft YaHei\",\"WenQuanYi Micro Hei\",sans-serif";
    let mut y = cover_h + 40.0;
    ctx.set_fill_style_str("#191919");
    ctx.set_font(&format!("bold 40px {font}"));
    ctx.set_text_baseline("top");
    for line in wrap(&ctx, &view.collection.title, w - 80.0, 2) {
        ctx.fill_text(&line, 40.0, y)?;
        y += 54.0;
    }
    y = y.max(cover_h + 40.0 + 120.0);
    if let Some(price) = view.price() {
        ctx.set_fill_style_str("#FA5151");
        ctx.set_font(&format!("bold 64px {font}"));
        let text = price.to_string();
        ctx.fill_text(&text, 40.0, y)?;
        let pw = ctx.measure_text(&text)?.width();
        if let Some(orig) = view.product.original_price {
            ctx.set_fill_style_str("#999999");
            ctx.set_font(&format!("32px {font}"));
            let o = orig.to_string();
            let x = 40.0 + pw + 24.0;
            ctx.fill_text(&o, x, y + 26.0)?;
            let ow = ctx.measure_text(&o)?.width();
            ctx.fill_rect(x, y + 44.0, ow, 3.0);
        }
    }
    y += 100.0;
    if !view.product.tags.is_empty() {
        ctx.set_fill_style_str("#576B95");
        ctx.set_font(&format!("28px {font}"));
        let tags: Vec<String> = view.product.tags.iter().map(|t| format!("#{t}")).collect();
        ctx.fill_text(&tags.join(" "), 40.0, y)?;
    }
    y += 60.0;
    // The page URL's QR, module by module, with its quiet zone.
    let qx = w - 40.0 - qr_px;
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(qx, y, qr_px, qr_px);
    ctx.set_fill_style_str("#000000");
    let q = i64::from(shoukuan_core::qr::QUIET_ZONE);
    let m = f64::from(module_px);
    for my in 0..i64::from(matrix.width()) {
        for mx in 0..i64::from(matrix.width()) {
            if matrix.is_dark(mx, my) {
                ctx.fill_rect(qx + ((mx + q) as f64) * m, y + ((my + q) as f64) * m, m, m);
            }
        }
    }
    ctx.set_fill_style_str("#191919");
    ctx.set_font(&format!("bold 32px {font}"));
    ctx.fill_text("长按识别二维码", 40.0, y + qr_px / 2.0 - 40.0)?;
    ctx.set_fill_style_str("#888888");
    ctx.set_font(&format!("26px {font}"));
    ctx.fill_text(
        &format!("{} · 查看详情", view.collection.payee_name),
        40.0,
        y + qr_px / 2.0 + 10.0,
    )?;
    canvas.to_data_url_with_type("image/png")
}

// --- Publish form: the product fields ------------------------------------------------------

#[cfg(feature = "payee")]
pub use payee::{ProductDraft, ProductFields};

#[cfg(feature = "payee")]
mod payee {
    use super::*;
    use shoukuan_core::collection::FieldError;
    use shoukuan_core::contact::ContactAsk;
    use shoukuan_core::product::{NewProduct, MAX_IMAGES};

    /// Longest side of an uploaded image after resizing in the browser.
    pub const UPLOAD_MAX_SIDE: u32 = 1080;

    /// The product fields as typed.
    #[derive(Clone, Copy)]
    pub struct ProductDraft {
        /// Uploaded images: (key, preview URL).
        pub images: RwSignal<Vec<(String, String)>>,
        pub original_price: RwSignal<String>,
        pub deadline: RwSignal<String>,
        pub description: RwSignal<String>,
        pub shop_name: RwSignal<String>,
        pub shop_address: RwSignal<String>,
        pub map_url: RwSignal<String>,
        pub tags: RwSignal<String>,
        /// What buyers are asked to leave (「留下联系方式」).
        pub contact: RwSignal<ContactAsk>,
        /// Errors to show (local or from the server), by `product.*` field.
        pub errors: RwSignal<Vec<FieldError>>,
        pub uploading: RwSignal<u32>,
        pub upload_error: RwSignal<Option<String>>,
    }

    impl ProductDraft {
        pub fn new() -> ProductDraft {
            ProductDraft {
                images: RwSignal::new(Vec::new()),
                original_price: RwSignal::new(String::new()),
                deadline: RwSignal::new(String::new()),
                description: RwSignal::new(String::new()),
                shop_name: RwSignal::new(String::new()),
                shop_address: RwSignal::new(String::new()),
                map_url: RwSignal::new(String::new()),
                tags: RwSignal::new(String::new()),
                contact: RwSignal::new(ContactAsk::None),
                errors: RwSignal::new(Vec::new()),
                uploading: RwSignal::new(0),
                upload_error: RwSignal::new(None),
            }
        }

        /// The `product` part of the publish body.
        pub fn to_new(self) -> NewProduct {
            NewProduct {
                description: self.description.get_untracked(),
                original_price: Some(self.original_price.get_untracked()),
                images: self
                    .images
                    .get_untracked()
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect(),
                deadline: Some(self.deadline.get_untracked()),
                shop_name: self.shop_name.get_untracked(),
                shop_address: self.shop_address.get_untracked(),
                map_url: self.map_url.get_untracked(),
                tags: split_tags(&self.tags.get_untracked()),
                contact: self.contact.get_untracked(),
            }
        }
    }

    impl Default for ProductDraft {
        fn default() -> Self {
            Self::new()
        }
    }

    /// Tags as typed: separated by spaces, commas or 、, with or without `#`.
    pub fn split_tags(typed: &str) -> Vec<String> {
        typed
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | '、' | ';' | '；'))
            .map(|t| t.trim_start_matches(['#', '＃']).trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// Resizes an image file in the browser (longest side ≤ 1080 px, JPEG) and uploads it.
    async fn upload(file: web_sys::File, invite_code: String) -> Result<(String, String), String> {
        let url = web_sys::Url::create_object_url_with_blob(&file)
            .map_err(|_| crate::decode::NOT_AN_IMAGE.to_owned())?;
        let result = resize_and_upload(&url, &invite_code).await;
        let _ = web_sys::Url::revoke_object_url(&url);
        result
    }

    /// The answer of `POST /api/images` (a missing key reads as empty, as before).
    #[derive(serde::Deserialize)]
    struct Uploaded {
        #[serde(default)]
        key: String,
    }

    async fn resize_and_upload(url: &str, invite_code: &str) -> Result<(String, String), String> {
        let not_image = || "无法打开这张图片，请选择 JPG 或 PNG 图片".to_owned();
        let img = load_image(url).await.map_err(|_| not_image())?;
        let (w, h) = crate::decode::fit(img.natural_width(), img.natural_height(), UPLOAD_MAX_SIDE);
        if w == 0 || h == 0 {
            return Err(not_image());
        }
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or_else(not_image)?;
        let canvas: web_sys::HtmlCanvasElement = document
            .create_element("canvas")
            .ok()
            .and_then(|c| c.dyn_into().ok())
            .ok_or_else(not_image)?;
        canvas.set_width(w);
        canvas.set_height(h);
        let ctx: web_sys::CanvasRenderingContext2d = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into().ok())
            .ok_or_else(not_image)?;
        // JPEG has no transparency: paint white under it.
        ctx.set_fill_style_str("#ffffff");
        ctx.fill_rect(0.0, 0.0, f64::from(w), f64::from(h));
        ctx.draw_image_with_html_image_element_and_dw_and_dh(
            &img,
            0.0,
            0.0,
            f64::from(w),
            f64::from(h),
        )
        .map_err(|_| not_image())?;
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            let _ = canvas.to_blob_with_type_and_encoder_options(
                &resolve,
                "image/jpeg",
                &JsValue::from_f64(0.85),
            );
        });
        let blob: web_sys::Blob = JsFuture::from(promise)
            .await
            .ok()
            .and_then(|b| b.dyn_into().ok())
            .ok_or_else(not_image)?;
        let preview = web_sys::Url::create_object_url_with_blob(&blob).unwrap_or_default();
        let mut builder =
            gloo_net::http::Request::post("/api/images").header("Content-Type", "image/jpeg");
        if !invite_code.trim().is_empty() {
            builder = builder.header("X-Invite-Code", invite_code.trim());
        }
        let request = builder.body(blob).map_err(|e| e.to_string())?;
        let response = request
            .send()
            .await
            .map_err(|_| "网络不太好，图片上传失败，请重试".to_owned())?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let created: Uploaded = crate::api::interpret(status, &text).map_err(|e| {
            if e.is_forbidden() {
                "请先填写正确的邀请码再上传图片".to_owned()
            } else {
                e.message()
            }
        })?;
        Ok((created.key, preview))
    }

    fn err_for(errors: &[FieldError], field: &str) -> Option<String> {
        crate::form::message_for(errors, field)
    }

    /// The product fields of the publish form.
    #[component]
    pub fn ProductFields(draft: ProductDraft, invite_code: RwSignal<String>) -> impl IntoView {
        let on_files = move |ev: leptos::ev::Event| {
            let Some(input) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            else {
                return;
            };
            let Some(files) = input.files() else {
                return;
            };
            let room = MAX_IMAGES.saturating_sub(draft.images.with_untracked(Vec::len));
            let chosen: Vec<web_sys::File> = (0..files.length())
                .filter_map(|i| files.get(i))
                .take(room)
                .collect();
            input.set_value("");
            draft.upload_error.set(None);
            for file in chosen {
                draft.uploading.update(|n| *n += 1);
                let code = invite_code.get_untracked();
                spawn_local(async move {
                    match upload(file, code).await {
                        Ok(image) => {
                            draft.images.update(|v| v.push(image));
                            draft
                                .errors
                                .update(|e| e.retain(|x| x.field != "product.images"));
                        }
                        Err(message) => draft.upload_error.set(Some(message)),
                    }
                    draft.uploading.update(|n| *n = n.saturating_sub(1));
                });
            }
        };
        // A changed field's old verdict goes at once; the shop fields are judged together
        // (any one filled makes name and address required), so editing one clears all three.
        let clear = move |field: &'static str| {
            let shop = [
                "product.shop_name",
                "product.shop_address",
                "product.map_url",
            ];
            let fields: &[&str] = if shop.contains(&field) {
                &shop
            } else {
                &[field]
            };
            if draft
                .errors
                .with_untracked(|e| e.iter().any(|x| fields.contains(&x.field.as_str())))
            {
                draft
                    .errors
                    .update(|e| e.retain(|x| !fields.contains(&x.field.as_str())));
            }
        };
        let fixed = |label: &'static str| Signal::derive(move || label);
        // Name and address turn required, in their labels too, once any shop field is filled.
        let shop_label = move |optional: &'static str, required: &'static str| {
            Signal::derive(move || {
                let any = [draft.shop_name, draft.shop_address, draft.map_url]
                    .iter()
                    .any(|f| f.with(|v| !v.trim().is_empty()));
                if any {
                    required
                } else {
                    optional
                }
            })
        };
        let text_field = move |id: &'static str,
                               label: Signal<&'static str>,
                               placeholder: &'static str,
                               value: RwSignal<String>,
                               field: &'static str| {
            view! {
                <div class="field">
                    <label for=id>{move || label.get()}</label>
                    // Prices get the phone's decimal keyboard.
                    <input id=id type="text" autocomplete="off" placeholder=placeholder
                        inputmode=if id == "original_price" { "decimal" } else { "text" }
                        prop:value=move || value.get()
                        on:input=move |ev| { value.set(event_target_value(&ev)); clear(field); } />
                    {move || draft.errors.with(|e| err_for(e, field)).map(|m| view! { <p class="field-error" data-field=field>{m}</p> })}
                </div>
            }
        };
        view! {
            <div class="field">
                <span class="label">"商品图片"<span class="optional">{format!("（最多 {MAX_IMAGES} 张，第一张为封面）")}</span></span>
                <div class="thumbs">
                    {move || draft.images.get().into_iter().enumerate().map(|(i, (_, preview))| view! {
                        <span class="thumb">
                            <img src=preview alt=format!("图片 {}", i + 1) width="64" height="64" />
                            <button type="button" class="thumb-remove" aria-label="删除"
                                on:click=move |_| draft.images.update(|v| { if i < v.len() { v.remove(i); } })>"×"</button>
                        </span>
                    }).collect_view()}
                    <label class="upload-tile" for="product_images">"+"</label>
                </div>
                <input id="product_images" class="file" type="file" accept="image/*" multiple=true on:change=on_files />
                <p id="images_status" class="status">
                    {move || if draft.uploading.get() > 0 { format!("正在上传 {} 张…", draft.uploading.get()) } else { String::new() }}
                </p>
                {move || draft.upload_error.get().map(|m| view! { <p class="field-error" data-field="product.images">{m}</p> })}
                {move || draft.errors.with(|e| err_for(e, "product.images")).map(|m| view! { <p class="field-error" data-field="product.images">{m}</p> })}
                <p class="hint">"图片会在手机上压缩到 1080 像素后上传。"</p>
            </div>
            {text_field("original_price", fixed("原价（选填）"), "如 39", draft.original_price, "product.original_price")}
            <div class="field">
                <label for="product_deadline">"优惠截止（北京时间，选填）"</label>
                <input id="product_deadline" type="datetime-local"
                    prop:value=move || draft.deadline.get()
                    on:input=move |ev| { draft.deadline.set(event_target_value(&ev)); clear("product.deadline"); } />
                {move || draft.errors.with(|e| err_for(e, "product.deadline")).map(|m| view! { <p class="field-error" data-field="product.deadline">{m}</p> })}
            </div>
            <div class="field">
                <label for="product_description">"商品描述（选填）"</label>
                <textarea id="product_description" rows="3" placeholder="最多 200 字"
                    prop:value=move || draft.description.get()
                    on:input=move |ev| { draft.description.set(event_target_value(&ev)); clear("product.description"); }></textarea>
                {move || draft.errors.with(|e| err_for(e, "product.description")).map(|m| view! { <p class="field-error" data-field="product.description">{m}</p> })}
            </div>
            <p id="shop_hint" class="hint">"店铺信息选填；填了其中任何一项（名称、地址或地图链接），店铺名称和地址就都要填。"</p>
            {text_field("shop_name", shop_label("店铺名称（选填）", "店铺名称（必填）"), "如 小满酸奶", draft.shop_name, "product.shop_name")}
            {text_field("shop_address", shop_label("店铺地址（选填）", "店铺地址（必填）"), "如 上海市黄浦区南京东路 1 号", draft.shop_address, "product.shop_address")}
            {text_field("map_url", fixed("地图链接（选填）"), "从高德/腾讯/百度地图分享的链接；不填则按地址搜索", draft.map_url, "product.map_url")}
            {text_field("product_tags", fixed("话题（选填）"), "如 #酸奶 #下午茶", draft.tags, "product.tags")}
            <div class="field">
                <label for="product_contact">"请买家留下联系方式"</label>
                <select id="product_contact"
                    on:change=move |ev| draft.contact.set(match event_target_value(&ev).as_str() {
                        "phone" => ContactAsk::Phone,
                        "phone_address" => ContactAsk::PhoneAddress,
                        _ => ContactAsk::None,
                    })>
                    <option value="none" selected=move || draft.contact.get() == ContactAsk::None>"不需要"</option>
                    <option value="phone" selected=move || draft.contact.get() == ContactAsk::Phone>"称呼和手机号"</option>
                    <option value="phone_address" selected=move || draft.contact.get() == ContactAsk::PhoneAddress>"称呼、手机号和收货地址"</option>
                </select>
                <p class="hint">"需要送货或预约时选择；买家填的信息加密保存，只有你在管理页能看到。"</p>
            </div>
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn tags_are_split_on_spaces_commas_and_enumeration_marks() {
            assert_eq!(
                split_tags(" #酸奶 下午茶，＃网红、 甜品 "),
                vec!["酸奶", "下午茶", "网红", "甜品"]
            );
            assert!(split_tags("  ").is_empty());
        }
    }
}
