//! The manage page's 「买家联系方式」 section of a price page: what buyers left through the
//! page's form, read with the manage token (never public).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;

/// The list, newest first, with a refresh button.
#[component]
pub fn BuyerContacts(id: String, token: String) -> impl IntoView {
    let state: RwSignal<Option<Result<api::Contacts, String>>> = RwSignal::new(None);
    let load = move || {
        let (id, token) = (id.clone(), token.clone());
        state.set(None);
        spawn_local(async move {
            state.set(Some(
                api::contacts(&id, &token).await.map_err(|e| e.message()),
            ));
        });
    };
    load();
    let rows = move || {
        match state.get() {
        None => view! { <p class="hint">"加载中…"</p> }.into_any(),
        Some(Err(m)) => view! { <p id="contacts_error" class="action-error">{m}</p> }.into_any(),
        Some(Ok(list)) if list.contacts.is_empty() => {
            view! { <p id="contacts_empty" class="hint">"还没有买家留下联系方式。"</p> }.into_any()
        }
        Some(Ok(list)) => view! {
            <ul id="contacts_list" class="contact-list">
                {list.contacts.into_iter().map(|c| {
                    let c = c.contact;
                    view! {
                        <li class="contact-row">
                            <div><strong>{c.name}</strong>" "<a href=format!("tel:{}", c.phone)>{c.phone.clone()}</a></div>
                            {(!c.address.is_empty()).then(|| view! { <div class="contact-address">{c.address}</div> })}
                            {(!c.note.is_empty()).then(|| view! { <div class="hint">"备注："{c.note}</div> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any(),
    }
    };
    let reload = load.clone();
    view! {
        <article class="card" id="buyer_contacts">
            <h2 class="section-title">"买家联系方式"</h2>
            <p class="hint">"买家在付款页留下的称呼、手机号和地址，只有你能看到。"</p>
            {rows}
            <button id="contacts_refresh" class="button secondary" type="button" on:click=move |_| reload()>
                "刷新"
            </button>
        </article>
    }
}
