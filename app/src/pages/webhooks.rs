//! The dashboard's 推送到财务系统 section: the accounting webhook endpoints (`/api/dash/webhooks`),
//! the signing secret shown once when one is added, and each endpoint's delivery log with a
//! resend button.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use serde_json::{json, Value};

use super::dash::notice_view;
use super::dash_api as api;

/// An endpoint in `GET /api/dash/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Endpoint {
    /// Id.
    pub id: String,
    /// Where events go.
    pub url: String,
    /// Unix seconds, when disabled.
    pub disabled_at: Option<i64>,
}

/// A delivery with its attempts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Delivery {
    /// Id.
    pub id: String,
    /// `payment.succeeded`, `refund.succeeded`.
    pub event_type: String,
    /// `pending`, `delivered`, `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Every attempt.
    #[serde(default)]
    pub log: Vec<Value>,
}

/// A delivery state in Chinese.
pub fn state_label(state: &str) -> &'static str {
    match state {
        "delivered" => "已送达",
        "failed" => "已放弃（可重发）",
        _ => "等待重试",
    }
}

/// One attempt in a few words: `200` or the network error.
pub fn attempt_summary(attempt: &Value) -> String {
    match attempt["status"].as_i64() {
        Some(status) => format!("HTTP {status}"),
        None => attempt["error"].as_str().unwrap_or("网络错误").to_string(),
    }
}

#[component]
fn Log(endpoint: String) -> impl IntoView {
    let items = RwSignal::new(Vec::<Delivery>::new());
    let notice = RwSignal::new(None::<String>);
    let path = format!("/api/dash/webhooks/{endpoint}/deliveries");
    let load = {
        let path = path.clone();
        move || {
            let path = path.clone();
            spawn_local(async move {
                match api::get::<Value>(&path).await {
                    Ok(body) => items.set(
                        serde_json::from_value(body["deliveries"].clone()).unwrap_or_default(),
                    ),
                    Err(e) => notice.set(Some(e.message())),
                }
            })
        }
    };
    load();
    let resend = move |id: String| {
        let load = load.clone();
        spawn_local(async move {
            let path = format!("/api/dash/webhooks/deliveries/{id}/resend");
            match api::post::<Value, _>(&path, &json!({})).await {
                Ok(v) if v["delivered"] == true => notice.set(Some("已重发并送达".into())),
                Ok(_) => notice.set(Some("重发失败，请检查接收地址".into())),
                Err(e) => notice.set(Some(e.message())),
            }
            load();
        })
    };
    view! {
        <ul class="list">
            {move || items.get().into_iter().map(|d| {
                let id = d.id.clone();
                let resend = resend.clone();
                let tries = d.log.iter().map(attempt_summary).collect::<Vec<_>>().join("，");
                view! {
                    <li class="delivery">
                        <span>{d.event_type.clone()}" · "{state_label(&d.state)}" · 共 "{d.attempts}" 次："{tries}</span>
                        <button class="link" type="button" on:click=move |_| resend(id.clone())>"重发"</button>
                    </li>
                }
            }).collect_view()}
        </ul>
        {move || notice.get().map(|n| view! { <p class="status" aria-live="polite">{n}</p> })}
    }
}

/// 推送到财务系统.
#[component]
pub fn Webhooks() -> impl IntoView {
    let items = RwSignal::new(Vec::<Endpoint>::new());
    let url = RwSignal::new(String::new());
    let secret = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<Result<String, String>>);
    let load = move || {
        spawn_local(async move {
            match api::get::<Value>("/api/dash/webhooks").await {
                Ok(body) => {
                    items.set(serde_json::from_value(body["endpoints"].clone()).unwrap_or_default())
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    load();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = json!({ "url": url.get_untracked().trim() });
        spawn_local(async move {
            match api::post::<Value, _>("/api/dash/webhooks", &body).await {
                Ok(created) => {
                    secret.set(created["secret"].as_str().map(str::to_string));
                    notice.set(Some(Ok("已添加推送地址".into())));
                    url.set(String::new());
                    load();
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    let remove = move |id: String| {
        spawn_local(async move {
            match api::delete(&format!("/api/dash/webhooks/{id}")).await {
                Ok(_) => load(),
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    view! {
        <section class="card" id="webhooks">
            <h2 class="title">"推送到财务系统"</h2>
            <p class="hint">"每笔确认到账的收款和退款会以 JSON 推送到你的地址，请求头 Shoukuan-Signature 带签名；失败会在一天内自动重试。"</p>
            <ul class="list">
                {move || items.get().into_iter().filter(|e| e.disabled_at.is_none()).map(|e| {
                    let id = e.id.clone();
                    view! {
                        <li>
                            <code>{e.url.clone()}</code>" "
                            <button class="link" type="button" on:click=move |_| remove(id.clone())>"删除"</button>
                            <Log endpoint=e.id.clone() />
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form class="form" on:submit=add>
                <input id="webhook_url" class="input" type="url" placeholder="https://erp.example.com/hooks/shoukuan" bind:value=url />
                <button id="webhook_add" class="button small" type="submit">"添加推送地址"</button>
            </form>
            {move || secret.get().map(|s| view! {
                <p class="status ok">"签名密钥（只显示这一次，请保存）："<code id="webhook_secret">{s}</code></p>
            })}
            {notice_view(notice)}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_and_states_read_in_chinese() {
        assert_eq!(attempt_summary(&json!({"status": 500})), "HTTP 500");
        assert_eq!(
            attempt_summary(&json!({"status": null, "error": "no answer in 10 s"})),
            "no answer in 10 s"
        );
        assert_eq!(state_label("delivered"), "已送达");
        assert_eq!(state_label("pending"), "等待重试");
    }
}
