//! `/directed`, publishing a directed request (定向催收, issue 13): "张三 ¥120，李四 ¥80" — the
//! usual collection fields, then 1–20 rows of name, amount and optional due date. The result
//! shows each debtor's personal link with a copy button (each to be sent privately: the link
//! is that person's own sign-up; kept in this tab's `sessionStorage` so a reload shows it
//! again), and the links to the split's payee page, where each debtor's
//! state, 我已付款 claim and transfer screenshot are seen and confirmed. Data: `POST
//! /api/directed` (`shoukuan_core::directed`, checked here with the same code first).

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use shoukuan_core::collection::FieldError;
use shoukuan_core::directed::{NewDebtor, NewDirected, MAX_DEBTORS};
use shoukuan_core::money::Fen;

use crate::api;
use crate::components::{
    CopyRow, ErrorText, FormError, FormState, NameAndTitle, NoteField, Outcome, OutcomeLine,
};
use crate::form::{self, AmountMode, Draft};
use crate::pages::new::PayCodeUpload;
use crate::pages::publish_kinds::AdminLink;

/// One debtor's personal link, as `POST /api/directed` answers it (once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DebtorLink {
    name: String,
    amount_fen: i64,
    due: Option<String>,
    link: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Published {
    id: String,
    manage_token: String,
    debtors: Vec<DebtorLink>,
}

/// Where the answer is kept for this tab: WeChat may reload or recycle the page, and the links
/// are answered only once.
const RESULT_KEY: &str = "shoukuan.directed_result";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.session_storage().ok().flatten())
}

fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// The error of a debtor field (`debtors.<i>.name`), local or from the server.
fn row_error(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.clone())
}

/// The page.
#[component]
pub fn Directed() -> impl IntoView {
    crate::set_title("定向催收");
    let form = FormState::new(Draft::default());
    form.amount_mode.set(AmountMode::PayerEntered);
    let rows = RwSignal::new(Vec::<Row>::new());
    rows.update(|v| {
        for _ in 0..2 {
            let row = new_row(v);
            v.push(row);
        }
    });
    let row_errors = RwSignal::new(Vec::<FieldError>::new());
    let busy = RwSignal::new(false);
    let published = RwSignal::new(
        storage()
            .and_then(|s| s.get_item(RESULT_KEY).ok().flatten())
            .and_then(|json| serde_json::from_str::<Published>(&json).ok()),
    );
    spawn_local(async move {
        if let Ok(config) = api::config().await {
            form.invite_required.set(config.invite_required);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.submitted.set(true);
        let collection = form.draft().check(form.invite_required.get_untracked());
        let body = NewDirected {
            collection: collection.clone().unwrap_or_default(),
            debtors: rows.with_untracked(|v| v.iter().map(|(_, d)| d.get_untracked()).collect()),
        };
        let local = body.debtors(now_secs()).err().unwrap_or_default();
        row_errors.set(local.clone());
        if collection.is_err() || !local.is_empty() {
            form.form_error.set(Some("请先修改标红的内容".to_owned()));
            return;
        }
        busy.set(true);
        form.form_error.set(None);
        spawn_local(async move {
            let answer: Result<Published, _> =
                api::send(gloo_net::http::Request::post("/api/directed").json(&body)).await;
            match answer {
                Ok(p) => {
                    if let (Some(s), Ok(json)) = (storage(), serde_json::to_string(&p)) {
                        let _ = s.set_item(RESULT_KEY, &json);
                    }
                    published.set(Some(p));
                    if let Some(w) = web_sys::window() {
                        w.scroll_to_with_x_and_y(0.0, 0.0);
                    }
                }
                Err(e) => {
                    if e.is_forbidden() {
                        form.invite_required.set(true);
                    }
                    form.refused(&e);
                    if let api::Error::Api { body, .. } = &e {
                        row_errors.set(
                            body.fields
                                .iter()
                                .filter(|f| f.field.starts_with("debtors"))
                                .cloned()
                                .collect(),
                        );
                    }
                }
            }
            busy.set(false);
        });
    };
    view! {
        <main class="page">
            {move || match published.get() {
                Some(p) => view! { <Result published=p /> }.into_any(),
                None => view! {
                    <form class="card form" id="directed_form" on:submit=submit novalidate=true>
                        <h1 class="title">"定向催收"</h1>
                        <p class="hint">"向指定的人收款：每人一个专属链接，只有 TA 自己能看到自己的名字和金额，别人看到的都是「第1位」这样的编号。"</p>
                        <NameAndTitle form=form kind=shoukuan_core::collection::Kind::Request />
                        <PayCodeUpload form=form />
                        <NoteField form=form kind=shoukuan_core::collection::Kind::Request />
                        <Debtors rows=rows errors=row_errors />
                        <Show when=move || form.invite_required.get()>
                            <div class="field">
                                <label for="invite_code">"邀请码"</label>
                                <input id="invite_code" type="text" autocomplete="off" placeholder="向运营者索取"
                                    prop:value=move || form.invite_code.get()
                                    on:input=move |ev| { form.invite_code.set(event_target_value(&ev)); form.edited("invite_code"); } />
                                <ErrorText form=form field="invite_code" />
                            </div>
                        </Show>
                        <button id="publish_directed" class="button" type="submit" prop:disabled=move || busy.get()>
                            {move || if busy.get() { "发布中…" } else { "生成专属链接" }}
                        </button>
                        <FormError form=form />
                    </form>
                }.into_any(),
            }}
        </main>
    }
}

/// A debtor row being typed: a stable key (the list re-renders rows, never the one typed in).
type Row = (u32, RwSignal<NewDebtor>);

fn new_row(rows: &[Row]) -> Row {
    let key = rows.iter().map(|(k, _)| k + 1).max().unwrap_or(0);
    (key, RwSignal::new(NewDebtor::default()))
}

/// The debtor rows.
#[component]
fn Debtors(rows: RwSignal<Vec<Row>>, errors: RwSignal<Vec<FieldError>>) -> impl IntoView {
    let err = move |field: Signal<String>| {
        move || {
            let field = field.get();
            errors
                .with(|e| row_error(e, &field))
                .map(|m| view! { <p class="field-error" data-field=field.clone()>{m}</p> })
        }
    };
    let row_view = move |(key, debtor): Row| {
        let index = move || rows.with(|v| v.iter().position(|(k, _)| *k == key).unwrap_or(0));
        let field =
            move |name: &'static str| Signal::derive(move || format!("debtors.{}.{name}", index()));
        view! {
            <div class="debtor-row" data-row=key>
                <span class="seq">{move || format!("{}.", index() + 1)}</span>
                <input type="text" class="debtor-name" id=format!("debtor_name_{key}") placeholder="姓名，如 张三"
                    autocomplete="off" prop:value=move || debtor.with(|d| d.name.clone())
                    on:input=move |ev| debtor.update(|d| d.name = event_target_value(&ev)) />
                <input type="text" class="debtor-amount" id=format!("debtor_amount_{key}") inputmode="decimal"
                    placeholder="金额（元）" prop:value=move || debtor.with(|d| d.amount.clone())
                    on:input=move |ev| debtor.update(|d| d.amount = event_target_value(&ev)) />
                <label class="debtor-due-label" for=format!("debtor_due_{key}")>"付款截止（选填）"</label>
                <input type="datetime-local" class="debtor-due" id=format!("debtor_due_{key}")
                    prop:value=move || debtor.with(|d| d.due.clone().unwrap_or_default())
                    on:input=move |ev| debtor.update(|d| d.due = Some(event_target_value(&ev)).filter(|s| !s.is_empty())) />
                <Show when=move || rows.with(|v| v.len() > 1)>
                    <button type="button" class="thumb-remove" aria-label="删除这一位"
                        on:click=move |_| rows.update(|v| { if v.len() > 1 { v.retain(|(k, _)| *k != key); } })>"×"</button>
                </Show>
                {err(field("name"))}
                {err(field("amount"))}
                {err(field("due"))}
            </div>
        }
    };
    let total = move || {
        rows.with(|v| {
            v.iter()
                .filter_map(|(_, d)| d.with(|d| Fen::parse_yuan(&d.amount).ok()))
                .fold(Fen::new(0), |a, b| Fen::new(a.get() + b.get()))
        })
    };
    view! {
        <fieldset class="field" id="debtors">
            <legend>{format!("向谁收、各多少（1–{MAX_DEBTORS} 位）")}</legend>
            <For each=move || rows.get() key=|(k, _)| *k children=row_view />
            <button id="add_debtor" type="button" class="button small secondary"
                prop:disabled=move || rows.with(|v| v.len() >= MAX_DEBTORS)
                on:click=move |_| rows.update(|v| if v.len() < MAX_DEBTORS { let row = new_row(v); v.push(row) })>
                "再加一位"
            </button>
            <p class="hint" id="directed_total">{move || format!("共 {} 位，合计 {}", rows.with(Vec::len), total())}</p>
            {err(Signal::derive(|| "debtors".to_owned()))}
        </fieldset>
    }
}

/// One debtor's link with its copy button.
#[component]
fn LinkRow(i: usize, label: String, link: String) -> impl IntoView {
    let copied = RwSignal::new(None::<Outcome>);
    let input_id = format!("debtor_link_{i}");
    let copy = {
        let (link, input_id) = (link.clone(), input_id.clone());
        move |_| {
            let (link, input_id) = (link.clone(), input_id.clone());
            spawn_local(async move {
                copied.set(Some(Outcome::Done(
                    if crate::clipboard::copy_text(&link, &input_id).await {
                        "已复制，请私聊发给 TA".to_owned()
                    } else {
                        "已选中，请长按复制".to_owned()
                    },
                )));
            });
        }
    };
    view! {
        <div class="debtor-link" data-row=i>
            <label for=input_id.clone()><strong>{label}</strong></label>
            <div class="copy-row">
                <input id=input_id type="text" readonly=true value=link />
                <button id=format!("copy_debtor_{i}") class="button small" type="button" on:click=copy>"复制"</button>
            </div>
            <OutcomeLine outcome=copied />
        </div>
    }
}

/// After publishing: each debtor's link, once.
#[component]
fn Result(published: Published) -> impl IntoView {
    crate::set_title("定向催收已发布");
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let manage = form::absolute_url(
        &origin,
        &form::manage_path(&published.id, &published.manage_token),
    );
    let links = published
        .debtors
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let label = format!(
                "{} · {}{}",
                d.name,
                Fen::new(d.amount_fen),
                d.due
                    .as_deref()
                    .map(|due| format!(" · {due} 前"))
                    .unwrap_or_default()
            );
            let full = form::absolute_url(&origin, &d.link);
            view! { <LinkRow i=i label=label link=full /> }
        })
        .collect_view();
    view! {
        <article class="card result" id="directed_published">
            <h1 class="title">"定向催收已发布"</h1>
            <div class="warning">
                <p><strong>"请把每个链接单独私聊发给对应的人，不要发到群里"</strong></p>
                <p>"链接里带着 TA 的身份：拿到链接的人能以 TA 的名义说「我已付款」。关闭这个页面后就看不到这些链接了，请现在逐个发送。"</p>
            </div>
            <div id="debtor_links">{links}</div>
            <AdminLink id=published.id.clone() token=published.manage_token.clone() />
            <div class="warning">
                <p><strong>"管理链接：只给自己"</strong></p>
                <CopyRow label="管理链接" input_id="manage_link" button_id="copy_manage"
                    value=manage done_text="已复制，去「文件传输助手」粘贴保存吧" />
            </div>
            <button id="directed_again" class="button small secondary" type="button"
                on:click=|_| {
                    if let Some(s) = storage() {
                        let _ = s.remove_item(RESULT_KEY);
                    }
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().reload();
                    }
                }>"再发起一个"</button>
        </article>
    }
}
