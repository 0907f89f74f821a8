//! `/c/:id`, the payer page: the payer card from `shoukuan_core::page`, the same markup the
//! worker renders into the HTML, so what the payer saw before the app started stays as it is.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shoukuan_core::collection::CollectionView;
use shoukuan_core::page::{not_found_card, payer_card};

use crate::api;
use crate::boot::Boot;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Loading,
    Ready(CollectionView),
    NotFound,
    Failed,
}

/// The payer page.
#[component]
pub fn Pay(id: String, boot: Boot) -> impl IntoView {
    let initial = match (boot.collection_for(&id), &boot) {
        (Some(view), _) => State::Ready(view),
        (None, Boot::NotFound) => State::NotFound,
        (None, _) => State::Loading,
    };
    let state = RwSignal::new(initial);
    let load = move |id: String| {
        state.set(State::Loading);
        spawn_local(async move {
            state.set(match api::get(&id).await {
                Ok(view) => State::Ready(view),
                Err(e) if e.is_not_found() => State::NotFound,
                Err(_) => State::Failed,
            });
        });
    };
    if state.with_untracked(|s| *s == State::Loading) {
        load(id.clone());
    }
    Effect::new(move || match &*state.read() {
        State::Ready(view) => crate::set_title(&view.title),
        State::NotFound => crate::set_title("找不到这个收款"),
        _ => {}
    });
    let body = move || match &*state.read() {
        State::Ready(view) => {
            view! { <div class="pay" inner_html=payer_card(view)></div> }.into_any()
        }
        State::NotFound => view! { <div inner_html=not_found_card()></div> }.into_any(),
        State::Loading => view! {
            <article class="card loading-card" aria-busy="true">
                <p class="hint">"加载中…"</p>
            </article>
        }
        .into_any(),
        State::Failed => {
            let id = id.clone();
            view! {
                <article class="card error-card">
                    <h1 class="title">"网络不太好，加载失败"</h1>
                    <p class="hint">"请检查网络后重试。"</p>
                    <button id="retry" class="button" type="button" on:click=move |_| load(id.clone())>
                        "重试"
                    </button>
                </article>
            }
            .into_any()
        }
    };
    view! { <main class="page">{body}</main> }
}
