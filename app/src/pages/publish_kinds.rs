//! What `/new` adds for the other kinds: the kind picker (收款 / 接龙 / 价格页), the publish
//! body for each kind with the same core validation as the worker, and the server's refusals
//! of `split.*` / `product.*` fields shown next to those fields.

use leptos::prelude::*;
use shoukuan_core::collection::{FieldError, Kind};
use shoukuan_core::money::Fen;
use shoukuan_core::publish::PublishBody;

use crate::api;
use crate::components::{CopyRow, FormState};
use crate::form::AmountMode;
use crate::pages::product::ProductDraft;
use crate::pages::split::SplitDraft;

fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// The kind picker.
#[component]
pub fn KindPicker(kind: RwSignal<Kind>) -> impl IntoView {
    let radio = move |value: Kind, id: &'static str, label: &'static str| {
        view! {
            <input type="radio" name="kind" id=id prop:checked=move || kind.get() == value
                on:change=move |_| kind.set(value) />
            <label for=id>{label}</label>
        }
    };
    view! {
        <div class="field">
            <div class="segmented kind-picker">
                {radio(Kind::Request, "kind_request", "收款")}
                {radio(Kind::Split, "kind_split", "群接龙")}
                {radio(Kind::Product, "kind_product", "价格页")}
            </div>
            <p id="kind_hint" class="hint">{move || kind_hint(kind.get())}</p>
        </div>
    }
}

/// What each kind is for, under the picker (first-time payees do not know the words).
pub fn kind_hint(kind: Kind) -> &'static str {
    match kind {
        Kind::Request => "向朋友收一笔钱，如 AA、班费、代购：付款人打开链接，长按你的收款码付款。",
        Kind::Split => {
            "发到群里接龙：大家报名，按均摊、每人固定或按项目算出各自应付，你来确认谁付了。"
        }
        Kind::Product => "发到朋友圈的商品页：图片、价格和店铺，顾客长按你的收款码付款。",
    }
}

/// The publish button, per kind.
pub fn publish_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Request => "发布收款",
        Kind::Split => "发布接龙",
        Kind::Product => "发布价格页",
    }
}

fn kind_fields(errors: &[FieldError], prefix: &str) -> Vec<FieldError> {
    errors
        .iter()
        .filter(|e| e.field.starts_with(prefix))
        .cloned()
        .collect()
}

/// The body to publish, or `None` after showing every local problem.
pub fn body(
    kind: Kind,
    form: &FormState,
    split: &SplitDraft,
    product: &ProductDraft,
) -> Option<PublishBody> {
    let mut draft = form.draft();
    if kind == Kind::Split {
        // A split's amounts are in its own fields.
        draft.amount_mode = AmountMode::PayerEntered;
    }
    let base = draft.check(form.invite_required.get_untracked());
    let now = now_secs();
    let mut ok = base.is_ok();
    let (split_part, product_part) = match kind {
        Kind::Request => (None, None),
        Kind::Split => {
            let new = split.to_new();
            let errors = new.validate(now).err().unwrap_or_default();
            ok &= errors.is_empty();
            split.errors.set(errors);
            (Some(new), None)
        }
        Kind::Product => {
            let new = product.to_new();
            let price = match draft.amount_mode {
                AmountMode::Fixed => Fen::parse_yuan(&draft.amount).ok(),
                AmountMode::PayerEntered => None,
            };
            let errors = new.validate(price, now).err().unwrap_or_default();
            ok &= errors.is_empty() && product.uploading.get_untracked() == 0;
            if errors.iter().any(|e| e.field == "amount") {
                form.form_error
                    .set(Some("价格页需要填写固定价格".to_owned()));
            }
            product.errors.set(kind_fields(&errors, "product."));
            (None, Some(new))
        }
    };
    let collection = base.ok()?;
    ok.then_some(PublishBody {
        collection,
        kind: Some(kind),
        split: split_part,
        product: product_part,
        replace_pay_code: false,
    })
}

/// Shows the server's refusal of kind fields next to them.
pub fn refused(err: &api::Error, split: &SplitDraft, product: &ProductDraft) {
    if let api::Error::Api { body, .. } = err {
        split.errors.set(kind_fields(&body.fields, "split."));
        product.errors.set(kind_fields(&body.fields, "product."));
    }
}

/// `POST /api/collections` with any kind.
pub async fn publish(body: &PublishBody) -> Result<shoukuan_core::collection::Created, api::Error> {
    let request = gloo_net::http::Request::post("/api/collections").json(body);
    let request = request.map_err(|e| api::Error::Fetch(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| api::Error::Fetch(e.to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| api::Error::Fetch(e.to_string()))?;
    api::interpret(status, &text)
}

/// After publishing a split: the payee's page (who has not paid, confirmations, exports).
#[component]
pub fn AdminLink(id: String, token: String) -> impl IntoView {
    let href = format!("/admin/{id}#t={token}");
    // The full address: one to keep in 文件传输助手, not a path that opens nowhere.
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let full = crate::form::absolute_url(&origin, &href);
    view! {
        <div class="warning">
            <p><strong>"接龙管理"</strong></p>
            <p>"查看未付款名单、确认收款、复制群公告和导出表格（同样请勿外传）。"</p>
            <a id="admin_link" class="button small" href=href>"打开接龙管理"</a>
            <CopyRow label="接龙管理链接" input_id="admin_link_url" button_id="copy_admin_link"
                value=full done_text="已复制，去「文件传输助手」粘贴保存吧" />
        </div>
    }
}
