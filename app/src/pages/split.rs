//! `/admin/:id#t=<manage token>`, the payee's view of a split (接龙): who has not paid,
//! confirming payments, the group announcement, reminders, exports. (The payer's page, `/c/:id`,
//! is rendered by the worker from `shoukuan_core::page::split`, without this app.)
//!
//! The page polls `GET /api/splits/:id` with `If-None-Match`; unchanged answers are `304`s
//! and the interval backs off from 3 s to 30 s, and drops back to 3 s when something changes
//! or the person acts ([`next_delay`]).

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shoukuan_core::collection::FieldError;
use shoukuan_core::deadline::Countdown;
use shoukuan_core::split::{
    mode_summary, picks_label, progress_text, ParticipantStatus, ParticipantView, SplitView,
};

use crate::api;

/// Fastest polling interval.
pub const POLL_MIN_MS: u32 = 3_000;
/// Slowest polling interval.
pub const POLL_MAX_MS: u32 = 30_000;

/// The next polling interval: back to the fastest after a change, else 1.5× up to the slowest.
pub fn next_delay(current_ms: u32, changed: bool) -> u32 {
    if changed {
        POLL_MIN_MS
    } else {
        (current_ms.saturating_mul(3) / 2).clamp(POLL_MIN_MS, POLL_MAX_MS)
    }
}

/// Seconds to add to the browser's clock to get the server's.
fn clock_offset(server_now: i64) -> i64 {
    server_now - (js_sys::Date::now() / 1000.0) as i64
}

fn now_secs(offset: i64) -> i64 {
    (js_sys::Date::now() / 1000.0) as i64 + offset
}

// --- API -------------------------------------------------------------------------------

async fn raw(
    request: Result<gloo_net::http::Request, gloo_net::Error>,
) -> Result<(u16, String, Option<String>), api::Error> {
    let request = request.map_err(|e| api::Error::Fetch(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| api::Error::Fetch(e.to_string()))?;
    let etag = response.headers().get("etag");
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| api::Error::Fetch(e.to_string()))?;
    Ok((status, text, etag))
}

async fn call<T: serde::de::DeserializeOwned>(
    request: Result<gloo_net::http::Request, gloo_net::Error>,
) -> Result<T, api::Error> {
    let (status, text, _) = raw(request).await?;
    api::interpret(status, &text)
}

fn bearer(builder: gloo_net::http::RequestBuilder, token: &str) -> gloo_net::http::RequestBuilder {
    builder.header("Authorization", &format!("Bearer {token}"))
}

/// A poll's outcome.
enum Polled {
    Unchanged,
    Changed(Box<SplitView>),
}

async fn poll(id: &str, etag: &str) -> Result<Polled, api::Error> {
    use gloo_net::http::Request;
    let mut builder = Request::get(&format!("/api/splits/{id}"));
    if !etag.is_empty() {
        builder = builder.header("If-None-Match", etag);
    }
    let (status, text, _) = raw(builder.build()).await?;
    if status == 304 {
        return Ok(Polled::Unchanged);
    }
    api::interpret(status, &text).map(|v| Polled::Changed(Box::new(v)))
}

fn etag_of(view: &SplitView) -> String {
    format!("\"{}\"", view.version)
}

fn participant_path(id: &str, pid: &str, action: &str) -> String {
    if action.is_empty() {
        format!("/api/splits/{id}/participants/{pid}")
    } else {
        format!("/api/splits/{id}/participants/{pid}/{action}")
    }
}

// --- Live data shared by the payer and payee pages ---------------------------------------

/// A split's page data that refreshes itself.
#[derive(Clone, Copy)]
struct Live {
    id: StoredValue<String>,
    view: RwSignal<SplitView>,
    delay: StoredValue<u32>,
    offset: StoredValue<i64>,
    /// Payee view: the manage token (polls `/admin` instead).
    admin_token: StoredValue<Option<String>>,
}

impl Live {
    fn new(id: String, view: SplitView, admin_token: Option<String>) -> Live {
        let live = Live {
            id: StoredValue::new(id),
            offset: StoredValue::new(clock_offset(view.now)),
            view: RwSignal::new(view),
            delay: StoredValue::new(POLL_MIN_MS),
            admin_token: StoredValue::new(admin_token),
        };
        live.schedule();
        live
    }

    fn schedule(self) {
        let Some(delay) = self.delay.try_get_value() else {
            return;
        };
        set_timeout(
            move || {
                spawn_local(async move {
                    let changed = self.refresh().await;
                    self.delay.update_value(|d| *d = next_delay(*d, changed));
                    self.schedule();
                });
            },
            Duration::from_millis(u64::from(delay)),
        );
    }

    /// Fetches now; `true` when something changed.
    async fn refresh(self) -> bool {
        let Some(id) = self.id.try_get_value() else {
            return false;
        };
        let outcome = match self.admin_token.get_value() {
            Some(token) => {
                let builder = bearer(
                    gloo_net::http::Request::get(&format!("/api/splits/{id}/admin")),
                    &token,
                );
                call::<SplitView>(builder.build()).await.map(|v| {
                    if self.view.with_untracked(|old| old.version == v.version) {
                        Polled::Unchanged
                    } else {
                        Polled::Changed(Box::new(v))
                    }
                })
            }
            None => {
                let etag = self.view.with_untracked(etag_of);
                poll(&id, &etag).await
            }
        };
        match outcome {
            Ok(Polled::Changed(v)) => {
                self.offset.set_value(clock_offset(v.now));
                self.view.set(*v);
                true
            }
            _ => false,
        }
    }

    /// After the person did something: show it at once and poll fast again.
    fn kick(self) {
        self.delay.set_value(POLL_MIN_MS);
        spawn_local(async move {
            self.refresh().await;
        });
    }

    fn now(self) -> i64 {
        now_secs(self.offset.get_value())
    }
}

/// What the deadline line says in brackets: a manual close wins over time left, and the
/// countdown is as fine as it is useful, in the payer page's words
/// (`shoukuan_core::page::split::time_left_text`).
pub fn time_left(closed: bool, left: Option<Countdown>) -> String {
    match (closed, left) {
        (true, _) => "已关闭".to_owned(),
        (false, None) => "已截止".to_owned(),
        (false, Some(c)) => shoukuan_core::page::split::time_left_text(c),
    }
}

#[component]
fn Header(live: Live) -> impl IntoView {
    let view = live.view;
    let tick = RwSignal::new(0u32);
    let _ = set_interval_with_handle(
        move || tick.update(|t| *t = t.wrapping_add(1)),
        Duration::from_secs(1),
    );
    let deadline_line = move || {
        tick.track();
        view.with(|v| {
            let closed = v.collection.status == shoukuan_core::collection::Status::Closed;
            match v.spec.deadline {
                Some(d) => Some(format!(
                    "截止时间：{} 北京时间（{}）",
                    d.to_cst_string(),
                    time_left(closed, Countdown::until(d, live.now()))
                )),
                None => closed.then(|| "接龙已关闭".to_owned()),
            }
        })
    };
    view! {
        <p class="payee-sub">{move || view.with(|v| format!("{} 发起的接龙", v.collection.payee_name))}</p>
        <h1 class="title">{move || view.with(|v| v.collection.title.clone())}</h1>
        <p class="mode">{move || view.with(|v| mode_summary(&v.spec.mode))}</p>
        {move || view.with(|v| (!v.collection.note.is_empty()).then(|| view! { <p class="note">{v.collection.note.clone()}</p> }))}
        <p id="deadline" class="deadline">{deadline_line}</p>
        <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="1000"
            aria-valuenow=move || view.with(|v| v.progress.permille().to_string())>
            <div class="progress-bar" style=move || view.with(|v| format!("width:{}%", v.progress.permille() / 10))></div>
        </div>
        <p id="progress_text" class="progress-text">{move || view.with(|v| progress_text(&v.progress))}</p>
    }
}

/// The list as tab-separated text: pasted into Excel, WPS or 腾讯文档 it becomes a table
/// (what works inside WeChat, where file downloads often do not).
pub fn table_text(view: &SplitView) -> String {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut out = String::from("序号\t姓名\t手机\t项目\t金额\t状态\n");
    for p in &view.participants {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            p.seq,
            clean(&p.name),
            clean(p.phone.as_deref().unwrap_or("")),
            clean(&picks_label(&view.spec.mode, &p.picks)),
            p.due.to_yuan_string(),
            p.status.label()
        ));
    }
    out
}

fn field_message(errors: &[FieldError], field: &str) -> Option<String> {
    crate::form::message_for(errors, field)
}

// --- The payee's view --------------------------------------------------------------------

#[cfg(feature = "payee")]
pub use payee::{SplitAdmin, SplitDraft, SplitFields};

#[cfg(feature = "payee")]
mod payee {
    use super::*;
    use shoukuan_core::split::{announcement, announcement_lint, NewItem, NewSplit, PaidBy};

    use crate::components::{Outcome, OutcomeLine};

    /// The split fields of the publish form, as typed.
    #[derive(Clone, Copy)]
    pub struct SplitDraft {
        pub mode: RwSignal<&'static str>,
        pub total: RwSignal<String>,
        pub people: RwSignal<String>,
        pub per_person: RwSignal<String>,
        pub cap: RwSignal<String>,
        pub deadline: RwSignal<String>,
        /// Item lines: (name, price, quantity allowed).
        pub items: RwSignal<Vec<(String, String, bool)>>,
        /// Errors to show, by `split.*` field.
        pub errors: RwSignal<Vec<FieldError>>,
    }

    impl SplitDraft {
        pub fn new() -> SplitDraft {
            SplitDraft {
                mode: RwSignal::new("equal"),
                total: RwSignal::new(String::new()),
                people: RwSignal::new(String::new()),
                per_person: RwSignal::new(String::new()),
                cap: RwSignal::new(String::new()),
                deadline: RwSignal::new(String::new()),
                items: RwSignal::new(vec![(String::new(), String::new(), false)]),
                errors: RwSignal::new(Vec::new()),
            }
        }

        /// The `split` part of the publish body.
        pub fn to_new(self) -> NewSplit {
            let mode = self.mode.get_untracked();
            NewSplit {
                mode: mode.to_owned(),
                total: Some(self.total.get_untracked()),
                people: Some(self.people.get_untracked()),
                per_person: Some(self.per_person.get_untracked()),
                items: if mode == "itemized" {
                    self.items
                        .get_untracked()
                        .into_iter()
                        .map(|(name, price, quantity)| NewItem {
                            name,
                            price,
                            quantity,
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                cap: Some(self.cap.get_untracked()),
                deadline: Some(self.deadline.get_untracked()),
                pay_mode: None,
            }
        }
    }

    impl Default for SplitDraft {
        fn default() -> Self {
            Self::new()
        }
    }

    /// The split fields of the publish form.
    #[component]
    pub fn SplitFields(draft: SplitDraft) -> impl IntoView {
        let err = move |field: &'static str| {
            move || {
                draft
                    .errors
                    .with(|e| field_message(e, field))
                    .map(|m| view! { <p class="field-error" data-field=field>{m}</p> })
            }
        };
        // Amounts get the decimal keyboard, counts of people the digits only.
        let input = move |id: &'static str,
                          label: &'static str,
                          placeholder: &'static str,
                          mode: &'static str,
                          value: RwSignal<String>,
                          field: &'static str| {
            let keyboard = if field.ends_with("people") || field.ends_with("cap") {
                "numeric"
            } else {
                "decimal"
            };
            view! {
                <div class="field" class:hidden=move || !mode.split('|').any(|m| m == draft.mode.get())>
                    <label for=id>{label}</label>
                    <input id=id type="text" inputmode=keyboard autocomplete="off" placeholder=placeholder
                        prop:value=move || value.get()
                        on:input=move |ev| {
                            value.set(event_target_value(&ev));
                            // The old verdict no longer applies once the field changes.
                            draft.errors.update(|e| e.retain(|x| x.field != field));
                        } />
                    {err(field)}
                </div>
            }
        };
        // A changed field's old verdict goes at once (`prefix`: the field and its parts).
        let clear = move |prefix: &str| {
            draft
                .errors
                .update(|e| e.retain(|x| !x.field.starts_with(prefix)))
        };
        let radio = move |value: &'static str, label: &'static str| {
            view! {
                <input type="radio" name="split_mode" id=format!("split_mode_{value}")
                    prop:checked=move || draft.mode.get() == value
                    on:change=move |_| { draft.mode.set(value); clear("split.mode"); } />
                <label for=format!("split_mode_{value}")>{label}</label>
            }
        };
        let items = move || {
            draft
                .items
                .get()
                .into_iter()
                .enumerate()
                .map(|(i, (name, price, quantity))| {
                    let set = move |f: &dyn Fn(&mut (String, String, bool))| {
                        draft.items.update(|v| {
                            if let Some(line) = v.get_mut(i) {
                                f(line)
                            }
                        })
                    };
                    view! {
                        <div class="item-row">
                            <input type="text" class="item-name" id=format!("item_name_{i}") placeholder="项目，如 门票" prop:value=name
                                on:input=move |_| { clear(&format!("split.items.{i}.name")); clear_exact(draft, "split.items"); }
                                on:change=move |ev| { let v = event_target_value(&ev); set(&|l| l.0 = v.clone()) } />
                            <input type="text" class="item-price" id=format!("item_price_{i}") inputmode="decimal" placeholder="单价，如 35" prop:value=price
                                on:input=move |_| { clear(&format!("split.items.{i}.price")); clear_exact(draft, "split.items"); }
                                on:change=move |ev| { let v = event_target_value(&ev); set(&|l| l.1 = v.clone()) } />
                            <label class="item-qty"><input type="checkbox" prop:checked=quantity
                                on:change=move |ev| { let v = event_target_checked(&ev); set(&|l| l.2 = v) } />"可选数量"</label>
                            <button type="button" class="thumb-remove" aria-label="删除"
                                on:click=move |_| draft.items.update(|v| { if v.len() > 1 && i < v.len() { v.remove(i); } })>"×"</button>
                            {err_line(draft, format!("split.items.{i}.name"))}
                            {err_line(draft, format!("split.items.{i}.price"))}
                        </div>
                    }
                })
                .collect_view()
        };
        view! {
            <fieldset class="field">
                <legend>"分摊方式"</legend>
                <div class="segmented">
                    {radio("equal", "均摊")}
                    {radio("fixed", "每人固定")}
                    {radio("itemized", "按项目")}
                </div>
                {err("split.mode")}
            </fieldset>
            {input("split_total", "总金额（元）", "如 300", "equal", draft.total, "split.total")}
            {input("split_people", "分摊人数", "如 10", "equal", draft.people, "split.people")}
            {input("split_per_person", "每人金额（元）", "如 30", "fixed", draft.per_person, "split.per_person")}
            <div class="field" class:hidden=move || draft.mode.get() != "itemized">
                <span class="label">"项目"</span>
                {items}
                <button id="add_item" type="button" class="button small"
                    on:click=move |_| draft.items.update(|v| if v.len() < shoukuan_core::split::MAX_ITEMS { v.push((String::new(), String::new(), false)) })>
                    "添加项目"
                </button>
                {err("split.items")}
            </div>
            {input("split_cap", "人数上限（选填）", "不填则不限", "fixed|itemized", draft.cap, "split.cap")}
            <div class="field">
                <label for="split_deadline">"截止时间（北京时间，选填）"</label>
                <input id="split_deadline" type="datetime-local"
                    prop:value=move || draft.deadline.get()
                    on:input=move |ev| { draft.deadline.set(event_target_value(&ev)); clear("split.deadline"); } />
                {err("split.deadline")}
            </div>
        }
    }

    fn err_line(draft: SplitDraft, field: String) -> impl IntoView {
        move || {
            let field = field.clone();
            draft
                .errors
                .with(|e| field_message(e, &field))
                .map(|m| view! { <p class="field-error" data-field=field>{m}</p> })
        }
    }

    /// Drops the errors of exactly `field` (not of its parts).
    fn clear_exact(draft: SplitDraft, field: &str) {
        if draft
            .errors
            .with_untracked(|e| e.iter().any(|x| x.field == field))
        {
            draft.errors.update(|e| e.retain(|x| x.field != field));
        }
    }

    async fn admin_view(id: &str, token: &str) -> Result<SplitView, api::Error> {
        call(
            bearer(
                gloo_net::http::Request::get(&format!("/api/splits/{id}/admin")),
                token,
            )
            .build(),
        )
        .await
    }

    /// Downloads `bytes` as a file (a Blob URL behind a temporary `<a download>`). The bytes go
    /// through untouched: the CSV's UTF-8 BOM is what makes Excel read its Chinese.
    fn download(bytes: &[u8], filename: &str, mime: &str) -> bool {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return false;
        };
        let array = js_sys::Uint8Array::from(bytes);
        let parts = js_sys::Array::of1(&array);
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(mime);
        let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        else {
            return false;
        };
        let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
            return false;
        };
        let Ok(a) = document.create_element("a").and_then(|a| {
            wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlAnchorElement>(a).map_err(Into::into)
        }) else {
            return false;
        };
        a.set_href(&url);
        a.set_download(filename);
        let Some(body) = document.body() else {
            return false;
        };
        let _ = body.append_child(&a);
        a.click();
        a.remove();
        // Revoking at once can cancel the download in some browsers.
        set_timeout(
            move || {
                let _ = web_sys::Url::revoke_object_url(&url);
            },
            Duration::from_secs(60),
        );
        true
    }

    /// `GET /api/splits/:id/export.csv` as bytes (never through a text decoder, which would eat
    /// the BOM).
    async fn export_csv(id: &str, token: &str) -> Result<Vec<u8>, api::Error> {
        let request = bearer(
            gloo_net::http::Request::get(&format!("/api/splits/{id}/export.csv")),
            token,
        )
        .build()
        .map_err(|e| api::Error::Fetch(e.to_string()))?;
        let response = request
            .send()
            .await
            .map_err(|e| api::Error::Fetch(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .binary()
            .await
            .map_err(|e| api::Error::Fetch(e.to_string()))?;
        if status == 200 {
            Ok(bytes)
        } else {
            Err(
                api::interpret::<serde::de::IgnoredAny>(status, &String::from_utf8_lossy(&bytes))
                    .err()
                    .unwrap_or(api::Error::Server(status)),
            )
        }
    }

    /// `/admin/:id#t=<manage token>`: the payee's view of a split.
    #[component]
    pub fn SplitAdmin(id: String) -> impl IntoView {
        crate::set_title("接龙管理");
        let hash = web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .unwrap_or_default();
        let Some(token) = crate::route::manage_token(&hash) else {
            return view! {
                <main class="page"><article class="card error-card">
                    <h1 class="title">"缺少管理密钥"</h1>
                    <p class="hint">"请使用发布时保存的完整管理链接（含 #t= 之后的部分）。"</p>
                </article></main>
            }
            .into_any();
        };
        let state = RwSignal::new(None::<Result<SplitView, String>>);
        {
            let id = id.clone();
            let token = token.clone();
            spawn_local(async move {
                state.set(Some(admin_view(&id, &token).await.map_err(|e| e.message())));
            });
        }
        view! {
            <main class="page">
                {move || match state.get() {
                    None => view! { <article class="card loading-card"><p class="hint">"加载中…"</p></article> }.into_any(),
                    Some(Err(message)) => view! {
                        <article class="card error-card"><h1 class="title">"加载失败"</h1><p id="admin_error" class="hint">{message}</p></article>
                    }.into_any(),
                    Some(Ok(view)) => view! { <AdminBody id=id.clone() token=token.clone() view=view /> }.into_any(),
                }}
            </main>
        }
        .into_any()
    }

    /// A confirmation or rejection waiting out its undo window.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Pending {
        pid: String,
        action: &'static str,
        nonce: u32,
    }

    /// How long 确认收款 / 未收到 can be undone before they are sent.
    const UNDO_SECS: u64 = 5;

    #[component]
    fn AdminBody(id: String, token: String, view: SplitView) -> impl IntoView {
        let live = Live::new(id.clone(), view, Some(token.clone()));
        let token = StoredValue::new(token);
        let origin = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        let url = crate::form::absolute_url(&origin, &format!("/c/{id}"));
        let text = RwSignal::new(live.view.with_untracked(|v| {
            announcement(&v.collection.title, v.spec.deadline, &url, live.now())
        }));
        let hits = Memo::new(move |_| text.with(|t| announcement_lint(t)));
        // Each control's outcome shows under that control.
        let row_outcome = RwSignal::new(None::<(String, Outcome)>);
        let copy_outcome = RwSignal::new(None::<Outcome>);
        let export_outcome = RwSignal::new(None::<Outcome>);
        let pending = RwSignal::new(None::<Pending>);
        let nonce = StoredValue::new(0u32);
        let send = move |pid: String, action: &'static str| {
            let id = live.id.get_value();
            let token = token.get_value();
            spawn_local(async move {
                let builder = bearer(
                    gloo_net::http::Request::post(&participant_path(&id, &pid, action)),
                    &token,
                );
                match call::<ParticipantView>(builder.build()).await {
                    Ok(p) => row_outcome.set(Some((
                        pid,
                        Outcome::Done(if action == "confirm" {
                            format!("已确认收到 {} 的 {}", p.name, p.due)
                        } else {
                            format!("已告诉 {} 没有收到付款，TA 的页面会提示核对", p.name)
                        }),
                    ))),
                    Err(e) => row_outcome.set(Some((pid, Outcome::failed(&e)))),
                }
                live.kick();
            });
        };
        // Deliberate: the action waits UNDO_SECS with a 撤销 button before it is sent.
        let act = move |pid: String, action: &'static str| {
            nonce.update_value(|n| *n += 1);
            let mine = nonce.get_value();
            row_outcome.set(None);
            pending.set(Some(Pending {
                pid: pid.clone(),
                action,
                nonce: mine,
            }));
            set_timeout(
                move || {
                    if pending.with_untracked(|p| p.as_ref().is_some_and(|p| p.nonce == mine)) {
                        pending.set(None);
                        send(pid, action);
                    }
                },
                Duration::from_secs(UNDO_SECS),
            );
        };
        let export = move |_| {
            let id = live.id.get_value();
            let token = token.get_value();
            export_outcome.set(None);
            spawn_local(async move {
                match export_csv(&id, &token).await {
                    Ok(bytes) => {
                        let title = live.view.with_untracked(|v| v.collection.title.clone());
                        let ok =
                            download(&bytes, &format!("{title}.csv"), "text/csv;charset=utf-8");
                        export_outcome.set(Some(if ok {
                            Outcome::Done("已导出 CSV（用 Excel 或 WPS 打开）".to_owned())
                        } else {
                            Outcome::Failed("这个浏览器不能下载文件：请用「复制为表格」".to_owned())
                        }));
                    }
                    Err(e) => export_outcome.set(Some(Outcome::failed(&e))),
                }
            });
        };
        let copy_table = move |_| {
            let table = live.view.with_untracked(table_text);
            export_outcome.set(None);
            spawn_local(async move {
                export_outcome.set(Some(if crate::clipboard::copy_text(&table, "").await {
                    Outcome::Done("已复制表格：可粘贴到 Excel、WPS、腾讯文档或微信聊天".to_owned())
                } else {
                    Outcome::Failed("没能复制：请在浏览器里打开本页后导出 CSV".to_owned())
                }));
            });
        };
        let copy = move |_| {
            let t = text.get_untracked();
            spawn_local(async move {
                copy_outcome.set(Some(
                    if crate::clipboard::copy_text(&t, "announcement").await {
                        Outcome::Done("已复制群公告，去群里粘贴吧".to_owned())
                    } else {
                        Outcome::Done("请长按文本框复制".to_owned())
                    },
                ));
            });
        };
        let row = move |p: &ParticipantView, actions: bool| {
            let pid = p.id.clone();
            let claimed = p.status == ParticipantStatus::Claimed;
            let unpaid = p.status != ParticipantStatus::Paid;
            let by = match p.paid_by {
                Some(PaidBy::PayeeConfirmed) => "（已确认）",
                Some(PaidBy::VerifiedPayment) => "（微信支付）",
                None => "",
            };
            let rejected = p.status == ParticipantStatus::Joined && p.rejected_at.is_some();
            let name = p.name.clone();
            let due = p.due;
            let waiting = {
                let pid = pid.clone();
                move || pending.with(|x| x.as_ref().filter(|x| x.pid == pid).map(|x| x.action))
            };
            let outcome = {
                let pid = pid.clone();
                move || {
                    row_outcome.with(|o| {
                        o.as_ref().filter(|(p, _)| *p == pid).map(|(_, o)| match o {
                            Outcome::Done(t) => view! { <p class="status ok row-outcome">{t.clone()}</p> }.into_any(),
                            Outcome::Failed(t) => view! { <p class="action-error row-outcome" role="alert">{t.clone()}</p> }.into_any(),
                        })
                    })
                }
            };
            let buttons =
                {
                    let pid = pid.clone();
                    let waiting = waiting.clone();
                    move || {
                        if !(actions && unpaid) {
                            return None;
                        }
                        let pid = pid.clone();
                        let pid2 = pid.clone();
                        Some(match waiting() {
                        Some(action) => view! {
                            <div class="undo">
                                <span>{if action == "confirm" {
                                    format!("{UNDO_SECS} 秒后确认收到 {due}…")
                                } else {
                                    format!("{UNDO_SECS} 秒后告诉 TA 没收到…")
                                }}</span>
                                <button class="button small undo-button" type="button"
                                    on:click=move |_| pending.set(None)>"撤销"</button>
                            </div>
                        }.into_any(),
                        None => view! {
                            <button class="button small confirm" type="button" data-pid=pid.clone()
                                on:click=move |_| act(pid.clone(), "confirm")>"确认收款"</button>
                            {claimed.then(|| view! {
                                <button class="button small danger reject" type="button"
                                    on:click=move |_| act(pid2.clone(), "reject")>"未收到"</button>
                            })}
                        }.into_any(),
                    })
                    }
                };
            view! {
                <li class=format!("participant status-{}", p.status.as_str()) data-pid=pid.clone()>
                    <span class="seq">{format!("{}.", p.seq)}</span>
                    <span class="pname">{name.clone()}</span>
                    <span class="phone">{p.phone.clone().unwrap_or_default()}</span>
                    <span class="due">{due.to_string()}</span>
                    <span class="pstatus">{p.status.label()}{by}{p.oa_connected.then_some(" · 可提醒")}</span>
                    {rejected.then(|| view! { <span class="rejected">"已告知未收到"</span> })}
                    {buttons}
                    {outcome}
                </li>
            }
        };
        // Claims someone is waiting on, and those who have not said anything yet, apart.
        let rows_of = move |claimed: bool| {
            live.view.with(|v| {
                v.participants
                    .iter()
                    .filter(|p| match p.status {
                        ParticipantStatus::Claimed => claimed,
                        ParticipantStatus::Paid => false,
                        _ => !claimed,
                    })
                    .map(|p| row(p, true))
                    .collect_view()
            })
        };
        let all_rows = move || {
            live.view
                .with(|v| v.participants.iter().map(|p| row(p, false)).collect_view())
        };
        let claimed_count = move || live.view.with(|v| v.progress.claimed);
        let manage_href = crate::form::manage_path(&id, &token.get_value());
        let in_wechat = web_sys::window()
            .and_then(|w| w.navigator().user_agent().ok())
            .is_some_and(|ua| ua.contains("MicroMessenger"));
        view! {
            <article class="card split-card admin">
                <Header live=live />
                <Show when=move || claimed_count() != 0>
                    <h2 class="section">{move || format!("待确认 {} 人", claimed_count())}</h2>
                    <p class="hint">"他们说已经付款了：核对收款记录后确认，或点「未收到」。"</p>
                    <ol id="claimed" class="participants">{move || rows_of(true)}</ol>
                </Show>
                <h2 class="section">"未付款"</h2>
                <ol id="unpaid" class="participants">{move || rows_of(false)}</ol>
                <Show when=move || live.view.with(|v| v.participants.iter().all(|p| p.status == ParticipantStatus::Paid))>
                    <p id="all_paid" class="status ok">{move || live.view.with(|v| if v.participants.is_empty() { "还没有人接龙" } else { "全部已付款" })}</p>
                </Show>
                <p class="hint">{format!("个人收款码没有到账通知：先在微信「收付款 → 收款记录」里核对，再点「确认收款」；没查到就点「未收到」，TA 的页面会提示核对。点了之后 {UNDO_SECS} 秒内可以撤销。")}</p>
                <h2 class="section">"群公告"</h2>
                <textarea id="announcement" class="announcement" rows="4"
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                <p id="announcement_lint" class="field-error">
                    {move || hits.with(|h| h.iter().map(|h| h.message()).collect::<Vec<_>>().join("；"))}
                </p>
                <div class="row-actions">
                    <button id="copy_announcement" class="button small" type="button" prop:disabled=move || hits.with(|h| !h.is_empty()) on:click=copy>"复制群公告"</button>
                </div>
                <OutcomeLine outcome=copy_outcome id="copy_result" />
                // Scheduled reminders, remind now, the log and the transfer screenshots.
                <crate::pages::reminders::RemindersWithLog id=id.clone() token=token.get_value() />
                <h2 class="section">"全部名单"</h2>
                <ol id="all_participants" class="participants">{all_rows}</ol>
                <div class="row-actions">
                    <button id="export_csv" class="button small" type="button" on:click=export>"导出 CSV 表格"</button>
                    <button id="copy_table" class="button small" type="button" on:click=copy_table>"复制为表格"</button>
                </div>
                {in_wechat.then(|| view! {
                    <p class="hint">"微信里常常不能下载文件：可点「复制为表格」粘贴到 WPS、腾讯文档或文件传输助手；或点右上角「…」选「在默认浏览器中打开」后导出。"</p>
                })}
                <OutcomeLine outcome=export_outcome id="export_result" />
                <a class="link" href=manage_href>"修改设置、重新打开或关闭接龙"</a>
            </article>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_line_never_says_time_is_left_after_a_close() {
        let far = Countdown::until(
            shoukuan_core::deadline::Deadline::from_unix(21 * 86_400 + 7_300),
            0,
        );
        assert_eq!(time_left(false, far), "还剩 21 天 2 小时");
        assert_eq!(time_left(true, far), "已关闭");
        assert_eq!(time_left(false, None), "已截止");
        let near = Countdown::until(shoukuan_core::deadline::Deadline::from_unix(3_725), 0);
        assert_eq!(time_left(false, near), "还剩 1 小时 2 分");
    }

    #[test]
    fn polling_backs_off_to_thirty_seconds_and_snaps_back_on_change() {
        let mut d = POLL_MIN_MS;
        let mut seen = vec![d];
        for _ in 0..10 {
            d = next_delay(d, false);
            seen.push(d);
        }
        assert_eq!(&seen[..4], &[3000, 4500, 6750, 10125]);
        assert_eq!(*seen.last().unwrap(), POLL_MAX_MS);
        assert_eq!(next_delay(POLL_MAX_MS, true), POLL_MIN_MS);
    }
}
