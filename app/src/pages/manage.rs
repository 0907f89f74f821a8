//! `/manage/:id#t=<token>`, the private manage page, one per kind: what was just published
//! (both links, copy buttons, where to keep the manage link), then what that kind can edit, and
//! closing. The token stays in the fragment so it never reaches a server log; it is checked
//! before any form shows (`GET /api/collections/:id/manage`), so a wrong link never shows a
//! form that would only fail on save.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shoukuan_core::collection::FieldError;
use shoukuan_core::collection::{CollectionView, Kind, Status};
use shoukuan_core::product::Product;
use shoukuan_core::publish::PublishBody;
use shoukuan_core::split::{NewSplit, SplitMode, SplitSpec};

use crate::api;
use crate::components::{
    AmountField, CopyRow, FormError, FormState, NameAndTitle, NoteField, Outcome, OutcomeLine,
};
use crate::form::{self, AmountMode, Draft};
use crate::pages::new::PayCodeUpload;
use crate::pages::product::{ProductDraft, ProductFields};
use crate::pages::publish_kinds::{self, AdminLink};
use crate::pages::split::SplitDraft;
use crate::route::{manage_token, Route};

const WRONG_TOKEN: &str =
    "管理链接不正确或不完整：请使用发布时保存的完整管理链接（含 #t= 之后的部分）。";

/// What a kind adds to the collection, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Extra {
    None,
    Product(Product),
    Split(SplitSpec),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Loading,
    /// The collection, and what its kind adds.
    Ready(Box<(CollectionView, Extra)>),
    NotFound,
    WrongToken,
    Failed(String),
}

fn error_card(title: &'static str, message: String) -> impl IntoView {
    view! {
        <article class="card error-card">
            <h1 class="title">{title}</h1>
            <p id="manage_error" class="hint">{message}</p>
            <a class="link" href="/new">"发起新的收款"</a>
        </article>
    }
}

/// The manage page.
#[component]
pub fn Manage(id: String) -> impl IntoView {
    crate::set_title("管理收款");
    // Pasting another manage link only changes the fragment, which reloads nothing.
    let _ = window_event_listener(leptos::ev::hashchange, |_| {
        if let Some(w) = web_sys::window() {
            let _ = w.location().reload();
        }
    });
    let hash = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    let Some(token) = manage_token(&hash) else {
        return view! { <main class="page">{error_card("缺少管理密钥", WRONG_TOKEN.to_owned())}</main> }
            .into_any();
    };
    let published = form::is_just_published(&hash);
    let state = RwSignal::new(State::Loading);
    let token = StoredValue::new(token);
    let load = move |id: String| {
        state.set(State::Loading);
        spawn_local(async move {
            let managed = api::get_managed(&id, &token.get_value()).await;
            // What the kind adds, to edit it (not secret: the payer page shows it).
            let extra = match &managed {
                Ok(view) if view.kind == Kind::Product => {
                    api::product(&id).await.map(Extra::Product)
                }
                Ok(view) if view.kind == Kind::Split => {
                    api::split_spec(&id).await.map(Extra::Split)
                }
                _ => Ok(Extra::None),
            };
            state.set(match (managed, extra) {
                (Ok(_), Err(e)) => State::Failed(e.message()),
                (Ok(view), Ok(extra)) => State::Ready(Box::new((view, extra))),
                (Err(e), _) if e.is_not_found() => State::NotFound,
                (Err(e), _) if e.is_unauthorized() => State::WrongToken,
                (Err(e), _) => State::Failed(e.message()),
            });
        });
    };
    load(id.clone());
    let body = move || match state.get() {
        State::Loading => view! {
            <article class="card loading-card" aria-busy="true">
                <p class="hint">"加载中…"</p>
            </article>
        }
        .into_any(),
        State::NotFound => {
            view! { <div inner_html=shoukuan_core::page::not_found_card()></div> }.into_any()
        }
        State::WrongToken => error_card("管理链接不正确", WRONG_TOKEN.to_owned()).into_any(),
        State::Failed(message) => {
            let id = id.clone();
            view! {
                <article class="card error-card">
                    <h1 class="title">"加载失败"</h1>
                    <p id="manage_error" class="action-error">{message}</p>
                    <button id="retry" class="button" type="button" on:click=move |_| load(id.clone())>
                        "重试"
                    </button>
                </article>
            }
            .into_any()
        }
        State::Ready(ready) => {
            let (view, extra) = *ready;
            view! {
            {published.then(|| view! { <Published view=view.clone() token=token.get_value() /> })}
            {(view.kind == Kind::Product).then(|| view! { <crate::pages::contacts::BuyerContacts id=view.id.clone() token=token.get_value() /> })}
            {(view.kind == Kind::Split).then(|| view! { <article class="card"><crate::pages::reminders::Reminders id=view.id.clone() token=token.get_value() /></article> })}
            <Editor view=view extra=extra token=token.get_value() />
            }
            .into_any()
        }
    };
    view! { <main class="page">{body}</main> }.into_any()
}

/// Right after publishing: both links with copy buttons and where to keep the manage link.
/// This page's own URL is the manage link, so reloading it shows all of this again.
#[component]
fn Published(view: CollectionView, token: String) -> impl IntoView {
    let noun = form::kind_noun(view.kind);
    crate::set_title(&format!("{noun}已发布"));
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let pay_path = Route::Pay(view.id.clone()).path();
    let share = form::absolute_url(&origin, &pay_path);
    let manage = form::absolute_url(&origin, &form::manage_path(&view.id, &token));
    // WeChat's 「发送给朋友」 would share this page (the manage link): share the payer page.
    crate::pages::product::share_hook(crate::pages::product::ShareData {
        title: view.title.clone(),
        desc: format!("{} 向你发起{noun}", view.payee_name),
        link: share.clone(),
        img_url: String::new(),
    });
    view! {
        <article class="card result" id="published">
            <h1 class="title">{format!("{noun}已发布")}</h1>
            <CopyRow label="付款链接（发到群里或朋友）" input_id="share_link" button_id="copy_link"
                value=share done_text="已复制，去微信里粘贴发送吧" />
            <a class="button" href=pay_path>"打开付款页看看"</a>
            <div class="warning">
                <p><strong>"管理链接：只给自己，不要发到群里"</strong></p>
                <p>"用它修改或关闭这个"{noun}"。丢失后无法找回：请复制后发到微信的「文件传输助手」保存（微信里搜索「文件传输助手」，粘贴发送）。"</p>
                <CopyRow label="管理链接" input_id="manage_link" button_id="copy_manage"
                    value=manage done_text="已复制，去「文件传输助手」粘贴保存吧" />
                <p>"这个页面的地址就是管理链接：刷新或稍后再打开它，内容都还在。"</p>
            </div>
            {(view.kind == Kind::Split).then(|| view! {
                <AdminLink id=view.id.clone() token=token.clone() />
            })}
            <a class="link" href="/new">"再发起一个"</a>
        </article>
    }
}

/// What each kind can change after publishing, and what it cannot.
fn fixed_after_publishing(kind: Kind) -> &'static str {
    match kind {
        Kind::Request => "保存后付款页立即更新；已付款的人不受影响。",
        Kind::Split => {
            "人数上限和截止时间可以在这里修改；分摊方式和金额发布后不能修改（已接龙的人按发布时的规则付款）。名单、确认收款和导出在「接龙管理」。"
        }
        Kind::Product => "图片、描述、原价、截止时间、店铺和话题都可以在这里修改，保存后付款页立即更新。",
    }
}

/// A price page's details as the publish form's draft, to edit them.
fn product_draft(product: &Product) -> ProductDraft {
    let draft = ProductDraft::new();
    draft.images.set(
        product
            .images
            .iter()
            .map(|k| (k.as_str().to_owned(), k.path()))
            .collect(),
    );
    draft.original_price.set(
        product
            .original_price
            .map(|f| f.to_yuan_string())
            .unwrap_or_default(),
    );
    draft.deadline.set(
        product
            .deadline
            .map(|d| d.to_input_value())
            .unwrap_or_default(),
    );
    draft.description.set(product.description.clone());
    if let Some(shop) = &product.location {
        draft.shop_name.set(shop.name.clone());
        draft.shop_address.set(shop.address.clone());
        draft.map_url.set(shop.map_url.clone());
    }
    draft.tags.set(product.tags.join(" "));
    draft.contact.set(product.contact);
    draft
}

/// What reopening does, per kind.
fn reopen_hint(kind: Kind) -> &'static str {
    match kind {
        Kind::Split => {
            "重新打开后，付款链接恢复可用，原有名单和付款记录都保留；已过截止时间的接龙仍不能报名。"
        }
        Kind::Request | Kind::Product => {
            "重新打开后，原来的付款链接恢复可用，付款人又能看到收款码。"
        }
    }
}

#[component]
fn Editor(view: CollectionView, extra: Extra, token: String) -> impl IntoView {
    let kind = view.kind;
    let noun = form::kind_noun(kind);
    let form = FormState::new(Draft::from_view(&view));
    let details = match &extra {
        Extra::Product(product) => Some(product_draft(product)),
        _ => None,
    };
    let settings = match &extra {
        Extra::Split(spec) => Some(SplitSettings::of(spec)),
        _ => None,
    };
    // A personal-code collection has a 收款码 to replace; a WeChat Pay one has none.
    let has_pay_code = !view.pay_code.is_empty();
    // Images uploaded here are this collection's: the manage link is the credential.
    let upload_credential = RwSignal::new(format!("manage {} {token}", view.id));
    if kind == Kind::Product {
        // A price page always has a price (the server refuses 付款人填写).
        form.amount_mode.set(AmountMode::Fixed);
    }
    let status = RwSignal::new(view.status);
    let busy = RwSignal::new(false);
    let saved = RwSignal::new(None::<Outcome>);
    let closing = RwSignal::new(None::<Outcome>);
    let token = StoredValue::new(token);
    let id = StoredValue::new(view.id.clone());
    // The code payers see now: a different one in the form is an explicit replacement.
    let current_code = StoredValue::new(view.pay_code.clone());
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.submitted.set(true);
        saved.set(None);
        let mut draft = form.draft();
        if kind == Kind::Split {
            // A split's amounts live in its own settings.
            draft.amount_mode = AmountMode::PayerEntered;
        }
        let Ok(body) = draft.check(false) else {
            form.form_error.set(Some("请先修改标红的内容".to_owned()));
            return;
        };
        if details.is_some_and(|d| d.uploading.get_untracked() > 0) {
            form.form_error.set(Some("图片还在上传，请稍等".to_owned()));
            return;
        }
        let replace_pay_code = has_pay_code && body.pay_code != current_code.get_value();
        let body = PublishBody {
            collection: body,
            kind: None,
            split: settings.map(SplitSettings::to_new),
            product: details.map(ProductDraft::to_new),
            replace_pay_code,
        };
        if let Some(settings) = settings {
            settings.errors.set(Vec::new());
        }
        busy.set(true);
        form.form_error.set(None);
        spawn_local(async move {
            match api::update(&id.get_value(), &token.get_value(), &body).await {
                Ok(view) => {
                    current_code.set_value(view.pay_code.clone());
                    status.set(view.status);
                    saved.set(Some(Outcome::Done("已保存".to_owned())));
                }
                Err(e) if e.is_unauthorized() => {
                    saved.set(Some(Outcome::Failed(WRONG_TOKEN.to_owned())));
                }
                Err(e) => {
                    // Field problems go under their fields; anything else under the button.
                    if matches!(&e, api::Error::Api { body, .. } if !body.fields.is_empty()) {
                        form.refused(&e);
                        if let Some(details) = details {
                            publish_kinds::refused(&e, &SplitDraft::new(), &details);
                        }
                        if let (Some(settings), api::Error::Api { body, .. }) = (settings, &e) {
                            settings.errors.set(body.fields.clone());
                        }
                    } else {
                        saved.set(Some(Outcome::failed(&e)));
                    }
                }
            }
            busy.set(false);
        });
    };
    let close = move |_| {
        let confirmed = web_sys::window()
            .and_then(|w| w.confirm_with_message(form::close_prompt(kind)).ok())
            .unwrap_or(false);
        if !confirmed || busy.get_untracked() {
            return;
        }
        busy.set(true);
        closing.set(None);
        spawn_local(async move {
            match api::close(&id.get_value(), &token.get_value()).await {
                Ok(view) => status.set(view.status),
                Err(e) => closing.set(Some(Outcome::failed(&e))),
            }
            busy.set(false);
        });
    };
    let reopen = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        closing.set(None);
        spawn_local(async move {
            match api::reopen(&id.get_value(), &token.get_value()).await {
                Ok(view) => status.set(view.status),
                Err(e) => closing.set(Some(Outcome::failed(&e))),
            }
            busy.set(false);
        });
    };
    let pay_path = Route::Pay(view.id.clone()).path();
    let admin_href = format!("/admin/{}#t={}", view.id, token.get_value());
    let open = move || status.get() == Status::Open;
    view! {
        <article class="card form" id="manage">
            <h1 class="title">
                {format!("管理{noun}")}
                <span class="kind-badge" id="manage_kind">{noun}</span>
            </h1>
            <p class="status-line">
                <span id="manage_status">{move || if open() { format!("{noun}中") } else { "已关闭".to_owned() }}</span>
                " · "
                <a href=pay_path.clone()>"查看付款页"</a>
            </p>
            {(kind == Kind::Split).then(|| view! {
                <a id="admin_entry" class="button" href=admin_href.clone()>"接龙管理：名单、确认收款、导出"</a>
            })}
            <Show
                when=open
                fallback=move || view! {
                    <div id="closed_notice" class="closed">
                        <p>{format!("这个{noun}已关闭，付款人看不到收款码。")}</p>
                        <p>{reopen_hint(kind)}</p>
                    </div>
                    <button id="reopen" class="button" type="button" prop:disabled=move || busy.get() on:click=reopen>
                        {format!("重新打开{noun}")}
                    </button>
                    <OutcomeLine outcome=closing id="reopen_result" />
                }
            >
                <form on:submit=save novalidate=true>
                    <NameAndTitle form=form kind=Signal::derive(move || kind) />
                    {match kind {
                        Kind::Request => view! { <AmountField form=form /> }.into_any(),
                        Kind::Product => view! { <AmountField form=form fixed_only=true /> }.into_any(),
                        Kind::Split => ().into_any(),
                    }}
                    <NoteField form=form kind=Signal::derive(move || kind) />
                    {details.map(|draft| view! {
                        <ProductFields draft=draft invite_code=upload_credential />
                    })}
                    {settings.map(|settings| view! { <SplitSettingsFields settings=settings /> })}
                    {has_pay_code.then(|| view! {
                        <details id="pay_code_change" class="field">
                            <summary>"更换收款码"</summary>
                            <p class="hint">"上传新的收款码截图后保存，付款页立即换成新码。管理链接能换码，请只自己保存。"</p>
                            <PayCodeUpload form=form />
                        </details>
                    })}
                    <p class="hint">{fixed_after_publishing(kind)}</p>
                    <button id="save" class="button" type="submit" prop:disabled=move || busy.get()>
                        "保存修改"
                    </button>
                    <OutcomeLine outcome=saved id="save_result" />
                    <FormError form=form />
                </form>
                <button id="close" class="button danger" type="button" prop:disabled=move || busy.get() on:click=close>
                    {format!("关闭{noun}")}
                </button>
                <OutcomeLine outcome=closing id="close_result" />
            </Show>
        </article>
    }
}

/// A split's settings that may change after publishing (`core::split_settings`).
#[derive(Clone, Copy)]
struct SplitSettings {
    /// An equal split's head count is everybody's share: shown, not editable.
    equal: bool,
    cap: RwSignal<String>,
    deadline: RwSignal<String>,
    errors: RwSignal<Vec<FieldError>>,
}

impl SplitSettings {
    fn of(spec: &SplitSpec) -> SplitSettings {
        SplitSettings {
            equal: matches!(spec.mode, SplitMode::Equal { .. }),
            cap: RwSignal::new(spec.cap.map(|c| c.to_string()).unwrap_or_default()),
            deadline: RwSignal::new(
                spec.deadline
                    .map(|d| d.to_input_value())
                    .unwrap_or_default(),
            ),
            errors: RwSignal::new(Vec::new()),
        }
    }

    fn to_new(self) -> NewSplit {
        NewSplit {
            cap: Some(self.cap.get_untracked()),
            deadline: Some(self.deadline.get_untracked()),
            ..NewSplit::default()
        }
    }

    fn error(self, field: &'static str) -> impl IntoView {
        move || {
            self.errors
                .with(|e| form::message_for(e, field))
                .map(|m| view! { <p class="field-error" data-field=field role="alert">{m}</p> })
        }
    }
}

#[component]
fn SplitSettingsFields(settings: SplitSettings) -> impl IntoView {
    view! {
        <div class="field">
            <label for="split_cap">"人数上限"</label>
            <input id="split_cap" type="text" inputmode="numeric" placeholder="不填则不限人数"
                prop:disabled=settings.equal
                prop:value=move || settings.cap.get()
                on:input=move |ev| settings.cap.set(event_target_value(&ev)) />
            <p class="hint">{if settings.equal {
                "均摊的人数决定每人金额，发布后不能修改。"
            } else {
                "可以调大或去掉上限；不能少于已接龙的人数。"
            }}</p>
            {settings.error("split.cap")}
        </div>
        <div class="field">
            <label for="split_deadline">"截止时间（北京时间，选填）"</label>
            <input id="split_deadline" type="datetime-local"
                prop:value=move || settings.deadline.get()
                on:input=move |ev| settings.deadline.set(event_target_value(&ev)) />
            <p class="hint">"到时间后不能再报名、修改或退出；清空则不截止。"</p>
            {settings.error("split.deadline")}
        </div>
    }
}
