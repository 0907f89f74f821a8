//! `/c/:id` for a split (接龙): the live progress and list, sign-up, edit, withdraw, the
//! payee's 收款码 with 我已付款; and `/admin/:id#t=<manage token>`, the payee's view: who has
//! not paid, confirming payments, the group announcement, reminders, exports.
//!
//! The page polls `GET /api/splits/:id` with `If-None-Match`; unchanged answers are `304`s
//! and the interval backs off from 3 s to 30 s, and drops back to 3 s when something changes
//! or the person acts ([`next_delay`]).

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use shoukuan_core::checkout::PAYER_SIGN_IN_REQUIRED;
use shoukuan_core::collection::FieldError;
use shoukuan_core::deadline::Countdown;
use shoukuan_core::page::QR_CSS_PX;
use shoukuan_core::split::{
    mode_summary, progress_text, Joined, PaidBy, ParticipantStatus, ParticipantView, PayMode, Pick,
    SignUp, SplitMode, SplitView,
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

/// What this browser keeps about its own sign-up (in `localStorage`, per split).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// Participant id.
    pub pid: String,
    /// Participant token (edit, withdraw, 我已付款).
    pub token: String,
}

/// The `localStorage` key of a split's ticket.
pub fn ticket_key(id: &str) -> String {
    format!("sk-split:{id}")
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// A directed request's personal link (`#p=<participant id>&t=<token>`) makes its slot this
/// browser's own sign-up.
fn ticket_from_link(id: &str) -> Option<Ticket> {
    let hash = web_sys::window()?.location().hash().ok()?;
    let field = |name: &str| {
        hash.trim_start_matches('#')
            .split('&')
            .find_map(|pair| pair.strip_prefix(name))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let ticket = Ticket {
        pid: field("p=")?,
        token: field("t=")?,
    };
    save_ticket(id, Some(&ticket));
    Some(ticket)
}

fn load_ticket(id: &str) -> Option<Ticket> {
    if let Some(ticket) = ticket_from_link(id) {
        return Some(ticket);
    }
    let text = storage()?.get_item(&ticket_key(id)).ok().flatten()?;
    serde_json::from_str(&text).ok()
}

fn save_ticket(id: &str, ticket: Option<&Ticket>) {
    if let Some(s) = storage() {
        let key = ticket_key(id);
        let _ = match ticket.and_then(|t| serde_json::to_string(t).ok()) {
            Some(json) => s.set_item(&key, &json),
            None => s.remove_item(&key),
        };
    }
}

/// The split the worker rendered into the page (`#sk-split`).
pub fn embedded() -> Option<SplitView> {
    let text = web_sys::window()?
        .document()?
        .get_element_by_id("sk-split")?
        .text_content()?;
    serde_json::from_str(&text).ok()
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
/// countdown is as fine as it is useful (days and hours far away, a ticking clock on the day).
pub fn time_left(closed: bool, left: Option<Countdown>) -> String {
    match (closed, left) {
        (true, _) => "已关闭".to_owned(),
        (false, None) => "已截止".to_owned(),
        (false, Some(c)) if c.days > 0 => format!("还剩 {} 天 {} 小时", c.days, c.hours),
        (false, Some(c)) => format!("还剩 {}", c.text()),
    }
}

fn status_text(status: ParticipantStatus) -> &'static str {
    status.label()
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

fn picks_label(mode: &SplitMode, picks: &[Pick]) -> String {
    match mode {
        SplitMode::Itemized { items } => picks
            .iter()
            .filter_map(|p| items.get(p.item).map(|i| format!("{}×{}", i.name, p.qty)))
            .collect::<Vec<_>>()
            .join("、"),
        _ => String::new(),
    }
}

/// The payer page of a split.
#[component]
pub fn SplitPay(id: String, initial: SplitView) -> impl IntoView {
    crate::set_title(&initial.collection.title);
    crate::clipboard::handle_copy_buttons();
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    crate::pages::product::share_hook(crate::pages::product::ShareData {
        title: initial.collection.title.clone(),
        desc: format!(
            "{} · {}",
            mode_summary(&initial.spec.mode),
            progress_text(&initial.progress)
        ),
        link: format!("{origin}/c/{id}"),
        img_url: String::new(),
    });
    let live = Live::new(id.clone(), initial, None);
    let ticket = RwSignal::new(load_ticket(&id));
    let mine_full = RwSignal::new(None::<ParticipantView>);
    load_mine(live, ticket, mine_full);
    let mine = Memo::new(move |_| {
        let t = ticket.get()?;
        live.view
            .with(|v| v.participants.iter().find(|p| p.id == t.pid).cloned())
    });
    let list = move || {
        let my_pid = ticket.with(|t| t.as_ref().map(|t| t.pid.clone()));
        live.view.with(|v| {
            v.participants
                .iter()
                .map(|p| {
                    let is_me = my_pid.as_deref() == Some(p.id.as_str());
                    let picks = picks_label(&v.spec.mode, &p.picks);
                    view! {
                        <li class=format!("participant status-{}", p.status.as_str()) class:me=is_me data-pid=p.id.clone()>
                            <span class="seq">{format!("{}.", p.seq)}</span>
                            <span class="pname">{p.name.clone()}{is_me.then_some("（我）")}</span>
                            <span class="picks">{picks}</span>
                            <span class="due">{p.due.to_string()}</span>
                            <span class="pstatus">{status_text(p.status)}</span>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <main class="page">
            <article class="card split-card">
                <Header live=live />
                {move || match mine.get() {
                    Some(me) => view! { <MyEntry live=live me=me ticket=ticket mine_full=mine_full /> }.into_any(),
                    None => view! { <JoinForm live=live ticket=ticket mine_full=mine_full /> }.into_any(),
                }}
                <h2 class="section">"接龙名单"</h2>
                <ol id="participants" class="participants">{list}</ol>
                <p class="hint">"名单中的姓名和手机号已隐去部分，只有收款人能看到完整信息。"</p>
            </article>
        </main>
    }
}

#[component]
fn PickFields(mode: SplitMode, picks: RwSignal<Vec<u32>>) -> impl IntoView {
    let SplitMode::Itemized { items } = mode else {
        return ().into_any();
    };
    if picks.with_untracked(Vec::len) != items.len() {
        picks.set(vec![0; items.len()]);
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let qty_input = item.quantity;
            view! {
                <div class="pick-row">
                    <span class="pick-name">{item.name.clone()}" "{item.price.to_string()}</span>
                    {if qty_input {
                        view! {
                            <input class="pick-qty" type="number" min="0" max="99" inputmode="numeric"
                                id=format!("pick_{i}")
                                prop:value=move || picks.with(|p| p.get(i).copied().unwrap_or(0).to_string())
                                on:input=move |ev| {
                                    let n = event_target_value(&ev).trim().parse::<u32>().unwrap_or(0);
                                    picks.update(|p| if let Some(x) = p.get_mut(i) { *x = n });
                                } />
                        }.into_any()
                    } else {
                        view! {
                            <input class="pick-check" type="checkbox" id=format!("pick_{i}")
                                prop:checked=move || picks.with(|p| p.get(i).copied().unwrap_or(0) > 0)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    picks.update(|p| if let Some(x) = p.get_mut(i) { *x = u32::from(on) });
                                } />
                        }.into_any()
                    }}
                </div>
            }
        })
        .collect_view()
        .into_any()
}

fn to_picks(qty: &[u32]) -> Vec<Pick> {
    qty.iter()
        .enumerate()
        .filter(|(_, q)| **q > 0)
        .map(|(item, qty)| Pick { item, qty: *qty })
        .collect()
}

fn field_message(errors: &[FieldError], field: &str) -> Option<String> {
    crate::form::message_for(errors, field)
}

/// Loads one's own entry (full name and phone, for the edit form); forgets a ticket whose
/// entry is gone.
fn load_mine(
    live: Live,
    ticket: RwSignal<Option<Ticket>>,
    mine_full: RwSignal<Option<ParticipantView>>,
) {
    let Some(t) = ticket.get_untracked() else {
        return;
    };
    spawn_local(async move {
        let id = live.id.get_value();
        let builder = bearer(
            gloo_net::http::Request::get(&participant_path(&id, &t.pid, "")),
            &t.token,
        );
        match call::<ParticipantView>(builder.build()).await {
            Ok(p) => mine_full.set(Some(p)),
            Err(e) if e.is_not_found() || e.is_unauthorized() => {
                // Withdrawn elsewhere, or the token is gone: forget it.
                save_ticket(&id, None);
                ticket.set(None);
            }
            Err(_) => {}
        }
    });
}

/// Sign-up form (接龙).
#[component]
fn JoinForm(
    live: Live,
    ticket: RwSignal<Option<Ticket>>,
    mine_full: RwSignal<Option<ParticipantView>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let phone = RwSignal::new(String::new());
    let picks = RwSignal::new(Vec::<u32>::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let message = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let mode = StoredValue::new(live.view.with_untracked(|v| v.spec.mode.clone()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let body = SignUp {
            name: name.get_untracked(),
            phone: phone.get_untracked(),
            picks: to_picks(&picks.get_untracked()),
        };
        if let Err(e) = mode.with_value(|m| body.validate(m)) {
            errors.set(e);
            return;
        }
        errors.set(Vec::new());
        message.set(None);
        busy.set(true);
        let id = live.id.get_value();
        spawn_local(async move {
            let request =
                gloo_net::http::Request::post(&format!("/api/splits/{id}/join")).json(&body);
            match call::<Joined>(request).await {
                Ok(joined) => {
                    let t = Ticket {
                        pid: joined.participant.id.clone(),
                        token: joined.token,
                    };
                    save_ticket(&id, Some(&t));
                    ticket.set(Some(t));
                    // One's own name in full at once (the list shows the masked one).
                    mine_full.set(Some(ParticipantView {
                        rejected_at: None,
                        name: body.name.trim().to_owned(),
                        ..joined.participant.clone()
                    }));
                    // Show the new entry at once, before the next poll.
                    live.view.update(|v| {
                        if !v.participants.iter().any(|p| p.id == joined.participant.id) {
                            v.participants.push(joined.participant);
                        }
                    });
                    load_mine(live, ticket, mine_full);
                    live.kick();
                }
                Err(api::Error::Api { body, .. }) if !body.fields.is_empty() => {
                    errors.set(body.fields)
                }
                Err(e) => message.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    let accepting = move || live.view.with(|v| v.accepting);
    move || {
        if !accepting() {
            view! {
            <p id="join_closed" class="closed">{move || live.view.with(|v| if v.editable { "接龙人数已满" } else { "接龙已截止" })}</p>
        }.into_any()
        } else {
            view! {
            <form class="join form" on:submit=submit novalidate=true>
                <h2 class="section">"我要接龙"</h2>
                <div class="field">
                    <label for="join_name">"姓名"</label>
                    <input id="join_name" type="text" autocomplete="name" placeholder="群里大家认识的名字"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                    {move || errors.with(|e| field_message(e, "name")).map(|m| view! { <p class="field-error" data-field="name">{m}</p> })}
                </div>
                <div class="field">
                    <label for="join_phone">"手机号"<span class="optional">"（选填，仅收款人可见）"</span></label>
                    <input id="join_phone" type="tel" inputmode="tel" autocomplete="tel" placeholder="13812341234"
                        prop:value=move || phone.get() on:input=move |ev| phone.set(event_target_value(&ev)) />
                    {move || errors.with(|e| field_message(e, "phone")).map(|m| view! { <p class="field-error" data-field="phone">{m}</p> })}
                </div>
                <PickFields mode=mode.get_value() picks=picks />
                {move || errors.with(|e| field_message(e, "picks")).map(|m| view! { <p class="field-error" data-field="picks">{m}</p> })}
                <button id="join" class="button" type="submit" prop:disabled=move || busy.get()>
                    {move || if busy.get() { "提交中…" } else { "接龙" }}
                </button>
                {move || message.get().map(|m| view! { <p id="join_error" class="form-error" role="alert">{m}</p> })}
            </form>
    }.into_any()
        }
    }
}

fn go_to(path: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href(path);
    }
}

/// `WeixinJSBridge.invoke('getBrandWCPayRequest', params, …)`, waiting for
/// `WeixinJSBridgeReady` when the bridge is not there yet; on `ok` the order page (which waits
/// for the verified payment) takes over.
fn invoke_wechat_pay(
    params: &shoukuan_core::wechatpay::JsapiPayParams,
    order_path: &str,
) -> Result<(), String> {
    use wasm_bindgen::{closure::Closure, JsCast, JsValue};
    fn fail<E>(_: E) -> String {
        "无法调起微信支付，请在微信中打开此页面".to_owned()
    }
    let json = serde_json::to_string(params).map_err(|e| e.to_string())?;
    let params = js_sys::JSON::parse(&json).map_err(fail)?;
    let path = order_path.to_owned();
    let invoke = Closure::once_into_js(move || {
        let window: JsValue = web_sys::window().map(Into::into).unwrap_or(JsValue::NULL);
        let Ok(bridge) = js_sys::Reflect::get(&window, &"WeixinJSBridge".into()) else {
            return;
        };
        let Ok(f) = js_sys::Reflect::get(&bridge, &"invoke".into()) else {
            return;
        };
        let Ok(f) = f.dyn_into::<js_sys::Function>() else {
            return;
        };
        let done = Closure::once_into_js(move |res: JsValue| {
            let msg = js_sys::Reflect::get(&res, &"err_msg".into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            if msg == "get_brand_wcpay_request:ok" {
                go_to(&path);
            }
        });
        let _ = f.call3(&bridge, &"getBrandWCPayRequest".into(), &params, &done);
    });
    let window: JsValue = web_sys::window().map(Into::into).ok_or_else(|| fail(()))?;
    let bridge = js_sys::Reflect::get(&window, &"WeixinJSBridge".into()).unwrap_or_default();
    let invoke = invoke.unchecked_into::<js_sys::Function>();
    if bridge.is_object() {
        invoke.call0(&JsValue::NULL).map_err(fail)?;
    } else {
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or_else(|| fail(()))?;
        let add = js_sys::Reflect::get(&document, &"addEventListener".into())
            .map_err(fail)?
            .dyn_into::<js_sys::Function>()
            .map_err(|_| fail(()))?;
        add.call2(&document, &"WeixinJSBridgeReady".into(), &invoke)
            .map_err(fail)?;
    }
    Ok(())
}

/// One's own entry: amount, 收款码 or 去支付 (merchant mode), 我已付款, edit and withdraw.
#[component]
fn MyEntry(
    live: Live,
    me: ParticipantView,
    ticket: RwSignal<Option<Ticket>>,
    mine_full: RwSignal<Option<ParticipantView>>,
) -> impl IntoView {
    let message = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let editing = RwSignal::new(false);
    let act = move |method: &'static str, action: &'static str| {
        let Some(t) = ticket.get_untracked() else {
            return;
        };
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        message.set(None);
        let id = live.id.get_value();
        spawn_local(async move {
            let path = participant_path(&id, &t.pid, action);
            let builder = match method {
                "DELETE" => gloo_net::http::Request::delete(&path),
                _ => gloo_net::http::Request::post(&path),
            };
            let result = call::<serde_json::Value>(bearer(builder, &t.token).build()).await;
            match (action, result) {
                ("", Ok(_)) => {
                    save_ticket(&id, None);
                    ticket.set(None);
                    mine_full.set(None);
                }
                (_, Ok(_)) => {}
                (_, Err(e)) => message.set(Some(e.message())),
            }
            busy.set(false);
            live.kick();
        });
    };
    let withdraw = move |_| {
        let ok = web_sys::window()
            .and_then(|w| w.confirm_with_message("确定退出这次接龙吗？").ok())
            .unwrap_or(false);
        if ok {
            act("DELETE", "");
        }
    };
    // Merchant mode: an order for exactly this participant's due, then WeChat Pay (JSAPI inside
    // WeChat, otherwise the order page with its Native QR), as `core::checkout` does.
    let pay_now = move || {
        let Some(t) = ticket.get_untracked() else {
            return;
        };
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        message.set(None);
        let id = live.id.get_value();
        spawn_local(async move {
            let body = shoukuan_core::order::NewOrder {
                collection_id: id.clone(),
                amount: None,
                participant_id: Some(t.pid.clone()),
            };
            let request =
                bearer(gloo_net::http::Request::post("/api/orders"), &t.token).json(&body);
            match call::<shoukuan_core::order::CreatedOrder>(request).await {
                Ok(order) => match order.pay_params {
                    Some(params) if order.method == shoukuan_core::order::PayMethod::Jsapi => {
                        if let Err(e) = invoke_wechat_pay(&params, &order.order_path) {
                            message.set(Some(e));
                        }
                    }
                    // H5 (a phone browser): WeChat Pay's page, which returns to the order page.
                    _ => go_to(order.h5_url.as_deref().unwrap_or(&order.order_path)),
                },
                Err(api::Error::Api { body, .. }) if body.code == PAYER_SIGN_IN_REQUIRED => {
                    go_to(&format!(
                        "/oauth/start?next={}",
                        shoukuan_core::urlenc::encode_component(&format!("/c/{id}"))
                    ));
                }
                Err(e) => message.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    let (pay_code, personal) = live.view.with_untracked(|v| {
        (
            v.collection.pay_code.clone(),
            v.spec.pay_mode == PayMode::Personal,
        )
    });
    let qr = shoukuan_core::qr::png_data_url(&pay_code, QR_CSS_PX * 2).ok();
    let editable = move || live.view.with(|v| v.editable);
    let status = me.status;
    let due = me.due;
    let rejected = status == ParticipantStatus::Joined && me.rejected_at.is_some();
    let seq = me.seq;
    // The remark the payee will see in their WeChat records: place in the list and name.
    let steps = move || {
        let name = mine_full.with(|m| m.as_ref().map(|m| m.name.clone()).unwrap_or_default());
        shoukuan_core::page::personal_pay_steps(Some(due), &format!("{seq}号 {name}"))
    };
    view! {
        <section id="my_entry" class="my-entry">
            <h2 class="section">{format!("我是第 {} 位", me.seq)}</h2>
            <p class="my-line">
                <span id="my_name">{move || mine_full.with(|m| m.as_ref().map(|m| m.name.clone()))}</span>
                " · 应付 "<strong id="my_due">{due.to_string()}</strong>
            </p>
            <p id="my_status" class=format!("my-status status-{}", if rejected { "rejected" } else { status.as_str() })>
                {match status {
                    ParticipantStatus::Joined if rejected => "收款人没有查到你的付款",
                    ParticipantStatus::Joined => "未付款",
                    ParticipantStatus::Claimed => "已告知收款人，等待确认收款",
                    ParticipantStatus::Paid if me.paid_by == Some(PaidBy::VerifiedPayment) => "已通过微信支付付款",
                    ParticipantStatus::Paid => "收款人已确认收款",
                }}
            </p>
            {rejected.then(|| view! {
                <div id="rejected_notice" class="action-error">
                    <p>{format!(
                        "你点了「我已付款」，但收款人在微信收款记录里没有找到这笔 {due} 的付款，已改回未付款（{}）。",
                        shoukuan_core::deadline::Deadline::from_unix(me.rejected_at.unwrap_or_default()).to_cst_string()
                    )}</p>
                    <p>"请核对：是否扫的是下面这个收款码、金额是否为 "{due.to_string()}"。已经付过的，把微信支付凭证截图发给收款人；还没付的，付款后再点「我已付款」。"</p>
                </div>
            })}
            {(status == ParticipantStatus::Joined && personal).then(|| view! {
                <figure class="qr">
                    {qr.clone().map(|src| view! {
                        <img class="qr-img" src=src alt="收款人的微信收款码" width=QR_CSS_PX.to_string() height=QR_CSS_PX.to_string() />
                    })}
                </figure>
                <div inner_html=steps></div>
                <p class="hint">"这是收款人的个人收款码，没有到账通知：付款后请点「我已付款」，收款人确认后才算完成。"</p>
            })}
            {(status != ParticipantStatus::Paid && !personal).then(|| view! {
                <button id="pay" class="button" type="button" prop:disabled=move || busy.get()
                    on:click=move |_| pay_now()>{format!("去支付 {due}")}</button>
                <p class="hint">"通过微信支付付款，到账后自动标记为已付款。"</p>
            })}
            {(status == ParticipantStatus::Joined && personal).then(|| view! {
                <button id="claim" class="button" type="button" prop:disabled=move || busy.get()
                    on:click=move |_| act("POST", "claim")>"我已付款"</button>
            })}
            // The 微信支付 mark only where a payment happens now.
            {(status == ParticipantStatus::Joined).then(|| view! {
                <div inner_html=shoukuan_core::page::BRAND_MARK></div>
            })}
            <Show when=move || editable() && status != ParticipantStatus::Paid>
                <div class="row-actions">
                    <button id="edit" class="button small" type="button" on:click=move |_| editing.update(|e| *e = !*e)>"修改"</button>
                    {(status == ParticipantStatus::Joined).then(|| view! {
                        <button id="withdraw" class="button small danger" type="button" prop:disabled=move || busy.get() on:click=withdraw>"退出接龙"</button>
                    })}
                </div>
            </Show>
            <Show when=move || editing.get()>
                <EditForm live=live ticket=ticket mine_full=mine_full editing=editing />
            </Show>
            {move || message.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
        </section>
    }
}

#[component]
fn EditForm(
    live: Live,
    ticket: RwSignal<Option<Ticket>>,
    mine_full: RwSignal<Option<ParticipantView>>,
    editing: RwSignal<bool>,
) -> impl IntoView {
    let current = mine_full.get_untracked();
    let name = RwSignal::new(current.as_ref().map(|m| m.name.clone()).unwrap_or_default());
    let phone = RwSignal::new(
        current
            .as_ref()
            .and_then(|m| m.phone.clone())
            .unwrap_or_default(),
    );
    let mode = live.view.with_untracked(|v| v.spec.mode.clone());
    let picks = RwSignal::new({
        let n = match &mode {
            SplitMode::Itemized { items } => items.len(),
            _ => 0,
        };
        let mut q = vec![0u32; n];
        for p in current
            .as_ref()
            .map(|m| m.picks.clone())
            .unwrap_or_default()
        {
            if let Some(x) = q.get_mut(p.item) {
                *x = p.qty;
            }
        }
        q
    });
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let mode_for_submit = mode.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(t) = ticket.get_untracked() else {
            return;
        };
        let body = SignUp {
            name: name.get_untracked(),
            phone: phone.get_untracked(),
            picks: to_picks(&picks.get_untracked()),
        };
        if let Err(e) = body.validate(&mode_for_submit) {
            errors.set(e);
            return;
        }
        let id = live.id.get_value();
        spawn_local(async move {
            let request = bearer(
                gloo_net::http::Request::put(&participant_path(&id, &t.pid, "")),
                &t.token,
            )
            .json(&body);
            match call::<ParticipantView>(request).await {
                Ok(p) => {
                    mine_full.set(Some(p));
                    editing.set(false);
                    live.kick();
                }
                Err(api::Error::Api { body, .. }) if !body.fields.is_empty() => {
                    errors.set(body.fields)
                }
                Err(e) => errors.set(vec![FieldError {
                    field: "name".into(),
                    code: "ERROR".into(),
                    message: e.message(),
                }]),
            }
        });
    };
    view! {
        <form class="form edit-entry" on:submit=save novalidate=true>
            <div class="field">
                <label for="edit_name">"姓名"</label>
                <input id="edit_name" type="text" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                {move || errors.with(|e| field_message(e, "name")).map(|m| view! { <p class="field-error">{m}</p> })}
            </div>
            <div class="field">
                <label for="edit_phone">"手机号（选填）"</label>
                <input id="edit_phone" type="tel" prop:value=move || phone.get() on:input=move |ev| phone.set(event_target_value(&ev)) />
                {move || errors.with(|e| field_message(e, "phone")).map(|m| view! { <p class="field-error">{m}</p> })}
            </div>
            <PickFields mode=mode.clone() picks=picks />
            {move || errors.with(|e| field_message(e, "picks")).map(|m| view! { <p class="field-error">{m}</p> })}
            <button id="save_entry" class="button" type="submit">"保存"</button>
        </form>
    }
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
        let radio = move |value: &'static str, label: &'static str| {
            view! {
                <input type="radio" name="split_mode" id=format!("split_mode_{value}")
                    prop:checked=move || draft.mode.get() == value on:change=move |_| draft.mode.set(value) />
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
                                on:change=move |ev| { let v = event_target_value(&ev); set(&|l| l.0 = v.clone()) } />
                            <input type="text" class="item-price" id=format!("item_price_{i}") inputmode="decimal" placeholder="单价" prop:value=price
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
                    prop:value=move || draft.deadline.get() on:input=move |ev| draft.deadline.set(event_target_value(&ev)) />
                {err("split.deadline")}
            </div>
        }
    }

    fn err_line(draft: SplitDraft, field: String) -> impl IntoView {
        move || {
            draft
                .errors
                .with(|e| field_message(e, &field))
                .map(|m| view! { <p class="field-error">{m}</p> })
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
                api::interpret::<serde_json::Value>(status, &String::from_utf8_lossy(&bytes))
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
        let remind_outcome = RwSignal::new(None::<Outcome>);
        let export_outcome = RwSignal::new(None::<Outcome>);
        // Reminders need what the deployment may not have configured: ask, and say why not.
        let reminders = RwSignal::new(None::<bool>);
        spawn_local(async move {
            reminders.set(Some(
                api::config().await.map(|c| c.reminders).unwrap_or(true),
            ));
        });
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
        let remind = move |_| {
            let id = live.id.get_value();
            let token = token.get_value();
            remind_outcome.set(None);
            spawn_local(async move {
                let builder = bearer(
                    gloo_net::http::Request::post(&format!("/api/splits/{id}/remind")),
                    &token,
                );
                remind_outcome.set(Some(
                    match call::<serde_json::Value>(builder.build()).await {
                        Ok(v) => Outcome::Done(format!(
                            "已发送提醒 {} 条{}",
                            v["sent"],
                            if v["failed"].as_u64().unwrap_or(0) > 0 {
                                format!("，失败 {} 条", v["failed"])
                            } else {
                                String::new()
                            }
                        )),
                        Err(e) => Outcome::failed(&e),
                    },
                ));
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
        // Claims waiting for the payee first: they are the ones someone is waiting on.
        let unpaid_rows = move || {
            live.view.with(|v| {
                let mut rows: Vec<&ParticipantView> = v
                    .participants
                    .iter()
                    .filter(|p| p.status != ParticipantStatus::Paid)
                    .collect();
                rows.sort_by_key(|p| (p.status != ParticipantStatus::Claimed, p.seq));
                rows.into_iter().map(|p| row(p, true)).collect_view()
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
                <h2 class="section">
                    {move || match claimed_count() {
                        0 => "未付款".to_owned(),
                        n => format!("待确认 {n} 人 · 未付款"),
                    }}
                </h2>
                <ol id="unpaid" class="participants">{unpaid_rows}</ol>
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
                    <button id="remind" class="button small" type="button"
                        prop:disabled=move || reminders.get() == Some(false) on:click=remind>"公众号提醒未付款"</button>
                </div>
                <OutcomeLine outcome=copy_outcome id="copy_result" />
                <Show when=move || reminders.get() == Some(false)>
                    <p id="remind_unavailable" class="unavailable">"公众号提醒未开通（运营方没有配置提醒模板）：请复制群公告发到群里提醒。"</p>
                </Show>
                <OutcomeLine outcome=remind_outcome id="remind_result" />
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
                <a class="link" href=manage_href>"修改标题或关闭接龙"</a>
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
        assert_eq!(time_left(false, near), "还剩 01:02:05");
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

    #[test]
    fn picks_keep_only_chosen_lines() {
        assert_eq!(
            to_picks(&[0, 2, 1]),
            vec![Pick { item: 1, qty: 2 }, Pick { item: 2, qty: 1 }]
        );
        assert_eq!(ticket_key("abc123"), "sk-split:abc123");
    }
}
