//! `/manage/:id#t=<token>`, the private manage page: edit the texts and the amount, or close
//! the collection. The token stays in the fragment so it never reaches a server log.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shoukuan_core::collection::{CollectionView, Status};

use crate::components::{AmountField, FormError, FormState, NameAndTitle, NoteField};
use crate::form::Draft;
use crate::route::{manage_token, Route};
use crate::{api, form};

const WRONG_TOKEN: &str =
    "管理链接不正确或不完整：请使用发布时保存的完整管理链接（含 #t= 之后的部分）。";

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Loading,
    Ready(CollectionView),
    NotFound,
    Failed(String),
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
        return view! {
            <main class="page">
                <article class="card error-card">
                    <h1 class="title">"缺少管理密钥"</h1>
                    <p class="hint">{WRONG_TOKEN}</p>
                </article>
            </main>
        }
        .into_any();
    };
    let state = RwSignal::new(State::Loading);
    let load = move |id: String| {
        state.set(State::Loading);
        spawn_local(async move {
            state.set(match api::get(&id).await {
                Ok(view) => State::Ready(view),
                Err(e) if e.is_not_found() => State::NotFound,
                Err(e) => State::Failed(e.message()),
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
        State::Failed(message) => {
            let id = id.clone();
            view! {
                <article class="card error-card">
                    <h1 class="title">"加载失败"</h1>
                    <p class="hint">{message}</p>
                    <button id="retry" class="button" type="button" on:click=move |_| load(id.clone())>
                        "重试"
                    </button>
                </article>
            }
            .into_any()
        }
        State::Ready(view) => view! { <Editor view=view token=token.clone() /> }.into_any(),
    };
    view! { <main class="page">{body}</main> }.into_any()
}

#[component]
fn Editor(view: CollectionView, token: String) -> impl IntoView {
    let form = FormState::new(Draft::from_view(&view));
    let id = view.id.clone();
    let status = RwSignal::new(view.status);
    let busy = RwSignal::new(false);
    let saved = RwSignal::new(None::<&'static str>);
    let token = StoredValue::new(token);
    let id = StoredValue::new(id);
    let fail = move |e: api::Error| {
        if e.is_unauthorized() {
            form.server_errors.set(Vec::new());
            form.form_error.set(Some(WRONG_TOKEN.to_owned()));
        } else {
            form.refused(&e);
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.submitted.set(true);
        saved.set(None);
        let Ok(body) = form.draft().check(false) else {
            form.form_error.set(Some("请先修改标红的内容".to_owned()));
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match api::update(&id.get_value(), &token.get_value(), &body).await {
                Ok(view) => {
                    status.set(view.status);
                    saved.set(Some("已保存"));
                }
                Err(e) => fail(e),
            }
            busy.set(false);
        });
    };
    let close = move |_| {
        let confirmed = web_sys::window()
            .and_then(|w| {
                w.confirm_with_message("关闭后付款人将看不到收款码，确定关闭吗？")
                    .ok()
            })
            .unwrap_or(false);
        if !confirmed || busy.get_untracked() {
            return;
        }
        busy.set(true);
        saved.set(None);
        spawn_local(async move {
            match api::close(&id.get_value(), &token.get_value()).await {
                Ok(view) => {
                    status.set(view.status);
                    saved.set(Some("已关闭收款"));
                }
                Err(e) => fail(e),
            }
            busy.set(false);
        });
    };
    let pay_path = Route::Pay(view.id.clone()).path();
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let share = form::absolute_url(&origin, &pay_path);
    view! {
        <form class="card form" on:submit=save novalidate=true>
            <h1 class="title">"管理收款"</h1>
            <p class="status-line">
                {move || if status.get() == Status::Open { "收款中" } else { "已关闭" }}
                " · "
                <a href=pay_path>{share}</a>
            </p>
            <NameAndTitle form=form />
            <AmountField form=form />
            <NoteField form=form />
            <button id="save" class="button" type="submit" prop:disabled=move || busy.get()>
                "保存修改"
            </button>
            <p class="status ok" aria-live="polite">{move || saved.get()}</p>
            <FormError form=form />
            <Show when=move || status.get() == Status::Open>
                <button id="close" class="button danger" type="button" prop:disabled=move || busy.get() on:click=close>
                    "关闭收款"
                </button>
            </Show>
        </form>
    }
}
