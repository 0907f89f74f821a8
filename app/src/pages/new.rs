//! `/new`, the publish page: the form and the in-browser 收款码 decoding. Publishing lands on
//! the manage page (`/manage/:id#t=…&published=1`), which shows both links: its URL holds
//! everything, so a reload or WeChat recycling the page loses nothing.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shoukuan_core::collection::Kind;
use wasm_bindgen::JsCast;

use crate::components::{AmountField, ErrorText, FormError, FormState, NameAndTitle, NoteField};
use crate::form::{self, Draft};
use crate::pages::product::{ProductDraft, ProductFields};
use crate::pages::publish_kinds::{self, KindPicker};
use crate::pages::split::{SplitDraft, SplitFields};
use crate::{api, decode};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Upload {
    Idle,
    Reading,
    /// Recognised; the object URL of the image for the preview.
    Recognised(String),
    Refused(String),
}

/// What the button's line says while a field is red.
const FIX_RED: &str = "请先修改标红的内容";

/// The publish page.
#[component]
pub fn New() -> impl IntoView {
    crate::set_title("发起收款");
    let form = FormState::new(Draft::default());
    // 收款 / 群接龙 / 价格页, and the fields only some kinds have.
    let kind = RwSignal::new(Kind::Request);
    let split = SplitDraft::new();
    let product = ProductDraft::new();
    spawn_local(async move {
        // Without an answer the field stays hidden; the server still refuses a missing code
        // with 403 and the field then appears with the message.
        if let Ok(config) = api::config().await {
            form.invite_required.set(config.invite_required);
        }
    });
    view! { <PublishForm form=form kind=kind split=split product=product /> }
}

#[component]
fn PublishForm(
    form: FormState,
    kind: RwSignal<Kind>,
    split: SplitDraft,
    product: ProductDraft,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    Effect::new(move |_| {
        if kind.get() == Kind::Product {
            form.amount_mode.set(crate::form::AmountMode::Fixed);
        }
    });
    // 「请先修改标红的内容」 goes once nothing is red any more (a server's message stays).
    Effect::new(move |_| {
        let red = form.errors.with(|e| !e.is_empty())
            || split.errors.with(|e| !e.is_empty())
            || product.errors.with(|e| !e.is_empty());
        if !red
            && form
                .form_error
                .with_untracked(|m| m.as_deref() == Some(FIX_RED))
        {
            form.form_error.set(None);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.submitted.set(true);
        match publish_kinds::body(kind.get_untracked(), &form, &split, &product).ok_or(()) {
            Err(_) => {
                form.form_error.set(Some(FIX_RED.to_owned()));
                scroll_to_first_error();
            }
            Ok(body) => {
                busy.set(true);
                form.form_error.set(None);
                spawn_local(async move {
                    match publish_kinds::publish(&body).await {
                        Ok(created) => {
                            // `replace`: going back must not land on a form that would publish
                            // the same thing twice.
                            if let Some(w) = web_sys::window() {
                                let path = form::published_path(&created.id, &created.manage_token);
                                let _ = w.location().replace(&path);
                            }
                            // Stays busy: the page is about to change.
                            return;
                        }
                        Err(e) => {
                            if e.is_forbidden() {
                                // The operator requires a code after all (config was stale or
                                // failed to load): show the field.
                                form.invite_required.set(true);
                            }
                            form.refused(&e);
                            publish_kinds::refused(&e, &split, &product);
                            scroll_to_first_error();
                        }
                    }
                    busy.set(false);
                });
            }
        }
    };
    view! {
        <main class="page">
            <form class="card form" on:submit=submit novalidate=true>
                <h1 class="title">"发起收款"</h1>
                <KindPicker kind=kind />
                <NameAndTitle form=form kind=kind />
                <PayCodeUpload form=form />
                <Show when=move || kind.get() == Kind::Request>
                    <AmountField form=form />
                </Show>
                // A price page always has a price: no 付款人填写 (the server refuses it).
                <Show when=move || kind.get() == Kind::Product>
                    <AmountField form=form fixed_only=true />
                </Show>
                <NoteField form=form kind=kind />
                <Show when=move || kind.get() == Kind::Split>
                    <SplitFields draft=split />
                </Show>
                <crate::pages::reminders::PublishSlots kind=kind deadline=split.deadline />
                <Show when=move || kind.get() == Kind::Product>
                    <ProductFields draft=product invite_code=form.invite_code />
                </Show>
                <Show when=move || form.invite_required.get()>
                    <div class="field">
                        <label for="invite_code">"邀请码"</label>
                        <input
                            id="invite_code"
                            name="invite_code"
                            type="text"
                            autocomplete="off"
                            placeholder="向运营者索取"
                            prop:value=move || form.invite_code.get()
                            on:input=move |ev| {
                                form.invite_code.set(event_target_value(&ev));
                                form.edited("invite_code");
                            }
                        />
                        <ErrorText form=form field="invite_code" />
                    </div>
                </Show>
                <button id="publish" class="button" type="submit" prop:disabled=move || busy.get()>
                    {move || if busy.get() { "发布中…" } else { publish_kinds::publish_label(kind.get()) }}
                </button>
                <FormError form=form />
            </form>
        </main>
    }
}

/// The 收款码 upload, decoded in the browser (the publish form, and the manage page's 更换).
#[component]
pub fn PayCodeUpload(form: FormState) -> impl IntoView {
    let upload = RwSignal::new(Upload::Idle);
    // Only the latest choice may update the form when two decodes overlap.
    let latest = StoredValue::new(0u32);
    let on_change = move |ev: leptos::ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        // So that choosing the same file again after a refusal fires `change` again.
        input.set_value("");
        if let Upload::Recognised(old) = upload.get_untracked() {
            let _ = web_sys::Url::revoke_object_url(&old);
        }
        form.pay_code.set(String::new());
        let Ok(url) = web_sys::Url::create_object_url_with_blob(&file) else {
            upload.set(Upload::Refused(decode::NOT_AN_IMAGE.to_owned()));
            return;
        };
        latest.update_value(|n| *n += 1);
        let this = latest.get_value();
        upload.set(Upload::Reading);
        spawn_local(async move {
            let result = decode::read_pay_code_from_url(&url).await;
            // `try_`: the form may be gone (published) by the time decoding ends.
            if latest.try_get_value() != Some(this) {
                let _ = web_sys::Url::revoke_object_url(&url);
                return;
            }
            match result {
                Ok(code) => {
                    form.pay_code.set(code.into());
                    upload.set(Upload::Recognised(url));
                }
                Err(reason) => {
                    let _ = web_sys::Url::revoke_object_url(&url);
                    upload.set(Upload::Refused(reason));
                }
            }
            form.edited("pay_code");
        });
    };
    let status = move || match upload.get() {
        Upload::Idle => String::new(),
        Upload::Reading => "正在识别…".to_owned(),
        Upload::Recognised(_) => "已识别".to_owned(),
        Upload::Refused(reason) => reason,
    };
    view! {
        <div class="field">
            <span class="label">"微信收款码"</span>
            <label class="upload" for="pay_code_file">
                {move || match upload.get() {
                    Upload::Recognised(url) => view! {
                        <img class="preview" src=url alt="收款码预览" width="64" height="64" />
                    }
                    .into_any(),
                    _ => view! { <span class="upload-icon" aria-hidden="true">"+"</span> }.into_any(),
                }}
                <span class="upload-text">
                    {move || if matches!(upload.get(), Upload::Recognised(_)) { "重新选择" } else { "选择收款码截图" }}
                </span>
            </label>
            <input id="pay_code_file" class="file" type="file" accept="image/*" on:change=on_change />
            <p
                id="pay_code_status"
                class="status"
                class:ok=move || matches!(upload.get(), Upload::Recognised(_))
                class:bad=move || matches!(upload.get(), Upload::Refused(_))
                aria-live="polite"
            >
                {status}
            </p>
            <p class="hint">"先在微信「我 → 服务 → 收付款 → 二维码收款」里保存收款码图片，再在这里选择它。图片只在你的手机上识别，不会发到服务器。"</p>
            <ErrorText form=form field="pay_code" />
        </div>
    }
}

/// Brings the first error into view: on a phone the button is far below the fields.
fn scroll_to_first_error() {
    // After the reactive update has rendered the error lines.
    spawn_local(async {
        if let Some(el) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector(".field-error").ok().flatten())
        {
            el.scroll_into_view_with_bool(false);
        }
    });
}
