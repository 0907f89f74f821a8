//! The transfer-screenshot viewer (转账凭证, issue 13) of a split's payee page: the image is
//! fetched with the manage token (`GET /api/splits/:id/participants/:pid/proof`, never a
//! public address) and shown from a `blob:` URL, with 确认收款 / 未收到 beside it — the same
//! actions as the list's, without leaving the image.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::{Outcome, OutcomeLine};

/// What the viewer shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    Loading,
    Image(String),
    Failed(String),
}

/// The screenshot as a `blob:` URL.
async fn fetch_image(id: &str, pid: &str, token: &str) -> Result<String, api::Error> {
    let fetch = |e: gloo_net::Error| api::Error::Fetch(e.to_string());
    let response =
        gloo_net::http::Request::get(&format!("/api/splits/{id}/participants/{pid}/proof"))
            .header("Authorization", &format!("Bearer {token}"))
            .send()
            .await
            .map_err(fetch)?;
    let status = response.status();
    if !(200..300).contains(&status) {
        let text = response.text().await.map_err(fetch)?;
        return Err(api::interpret::<serde::de::IgnoredAny>(status, &text)
            .err()
            .unwrap_or(api::Error::Server(status)));
    }
    let mime = response
        .headers()
        .get("content-type")
        .unwrap_or_else(|| "image/png".to_owned());
    let bytes = response.binary().await.map_err(fetch)?;
    let array = js_sys::Uint8Array::from(bytes.as_slice());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&mime);
    let unusable = |_| api::Error::Fetch("blob".to_owned());
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(
        &js_sys::Array::of1(&array),
        &options,
    )
    .map_err(unusable)?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(unusable)
}

/// The viewer; `viewing` is the participant (id, name) whose screenshot to show.
#[component]
pub fn ProofViewer(
    id: String,
    token: String,
    viewing: RwSignal<Option<(String, String)>>,
) -> impl IntoView {
    let id = StoredValue::new(id);
    let token = StoredValue::new(token);
    let shown = RwSignal::new(Shown::Loading);
    let outcome = RwSignal::new(None::<Outcome>);
    let forget = move || {
        if let Shown::Image(url) = shown.get_untracked() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    };
    Effect::new(move |_| {
        let Some((pid, _)) = viewing.get() else {
            return;
        };
        forget();
        shown.set(Shown::Loading);
        outcome.set(None);
        spawn_local(async move {
            shown.set(
                match fetch_image(&id.get_value(), &pid, &token.get_value()).await {
                    Ok(url) => Shown::Image(url),
                    Err(e) => Shown::Failed(e.message()),
                },
            );
        });
    });
    let act = move |action: &'static str| {
        let Some((pid, name)) = viewing.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let path = format!("/api/splits/{}/participants/{pid}/{action}", id.get_value());
            let answer: Result<serde::de::IgnoredAny, _> = api::send(
                gloo_net::http::Request::post(&path)
                    .header("Authorization", &format!("Bearer {}", token.get_value()))
                    .build(),
            )
            .await;
            outcome.set(Some(match answer {
                Ok(_) if action == "confirm" => Outcome::Done(format!("已确认收到 {name} 的付款")),
                Ok(_) => Outcome::Done(format!("已告诉 {name} 没有收到付款，TA 的页面会提示核对")),
                Err(e) => Outcome::failed(&e),
            }));
        });
    };
    let close = move |_| {
        forget();
        viewing.set(None);
        shown.set(Shown::Loading);
    };
    view! {
        <Show when=move || viewing.with(Option::is_some)>
            <div id="proof_viewer" class="proof-viewer" role="dialog" aria-modal="true">
                <div class="card">
                    <h2 class="section">
                        {move || viewing.get().map(|(_, name)| format!("{name} 的转账凭证")).unwrap_or_default()}
                    </h2>
                    {move || match shown.get() {
                        Shown::Loading => view! { <p class="hint">"加载中…"</p> }.into_any(),
                        Shown::Image(url) => view! {
                            <img id="proof_image" class="proof-image" src=url alt="转账凭证截图" />
                        }.into_any(),
                        Shown::Failed(message) => view! {
                            <p class="action-error" role="alert">{message}</p>
                        }.into_any(),
                    }}
                    <p class="hint">"核对截图里的金额、时间和收款人，再到微信「收付款 → 收款记录」里确认到账。"</p>
                    <div class="row-actions">
                        <button id="proof_confirm" class="button small" type="button"
                            on:click=move |_| act("confirm")>"确认收款"</button>
                        <button id="proof_reject" class="button small danger" type="button"
                            on:click=move |_| act("reject")>"未收到"</button>
                        <button id="proof_close" class="button small secondary" type="button"
                            on:click=close>"关闭"</button>
                    </div>
                    <OutcomeLine outcome=outcome id="proof_result" />
                </div>
            </div>
        </Show>
    }
}
