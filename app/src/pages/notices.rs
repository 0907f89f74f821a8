//! The notices part of `/dash` (issue 13): whether this site sends notices at all (template
//! ids are configuration; without them the section says so), the payee's two switches
//! (a message for every payment, refund and 我已付款 claim; the 20:00 digest) and the latest
//! messages with WeChat's answer for each (e.g. 43004: the payee does not follow the Official
//! Account). Data: `GET /api/dash/notices`, `PUT /api/dash/notices/settings`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shoukuan_core::paytime;

use super::dash_api as api;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Settings {
    notices: bool,
    digest: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Line {
    kind: String,
    fields: Option<serde_json::Map<String, Value>>,
    state: String,
    errcode: Option<i64>,
    explanation: Option<String>,
    at: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Overview {
    configured: bool,
    off_reason: Option<String>,
    settings: Settings,
    recent: Vec<Line>,
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "paid" => "到账",
        "refund" => "退款",
        "claim" => "待确认",
        "digest" => "每日汇总",
        "reminder" => "催付提醒",
        _ => "消息",
    }
}

fn state_label(line: &Line) -> String {
    match (line.state.as_str(), line.errcode) {
        ("sent", _) => "已送达".into(),
        ("failed", Some(code)) => format!(
            "未送达（{code}：{}）",
            line.explanation.as_deref().unwrap_or("")
        ),
        ("pending", _) => "发送中，稍后重试".into(),
        _ => "未发送".into(),
    }
}

fn field(line: &Line, key: &str) -> String {
    line.fields
        .as_ref()
        .and_then(|f| f.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The section.
#[component]
pub fn Notices() -> impl IntoView {
    let overview = RwSignal::new(None::<Result<Overview, String>>);
    let load = move || {
        spawn_local(async move {
            overview.set(Some(
                api::get::<Overview>("/api/dash/notices")
                    .await
                    .map_err(|e| e.message()),
            ));
        })
    };
    load();
    let save = move |settings: Settings| {
        spawn_local(async move {
            match api::put::<Settings, _>("/api/dash/notices/settings", &settings).await {
                Ok(_) => load(),
                Err(e) => overview.set(Some(Err(e.message()))),
            }
        })
    };
    let body = move || match overview.get() {
        None => view! { <p class="hint">"加载中…"</p> }.into_any(),
        Some(Err(message)) => {
            view! { <p class="status error" role="alert">{message}</p> }.into_any()
        }
        Some(Ok(o)) => {
            let s = o.settings;
            let off = (!o.configured).then(|| {
                view! { <p id="notices_off" class="status error">{o.off_reason.clone().unwrap_or_default()}</p> }
            });
            let lines = o
                .recent
                .iter()
                .map(|line| {
                    view! {
                        <li class="notice-line">
                            <span class="tag">{kind_label(&line.kind)}</span>
                            " " {field(line, "thing1")} " " {field(line, "amount2")} " "
                            <span class="hint">{field(line, "thing3")}</span>
                            <br />
                            <span class="hint">{paytime::display_cst(line.at)} " · " {state_label(line)}</span>
                        </li>
                    }
                })
                .collect_view();
            view! {
                {off}
                <label class="check">
                    <input id="notices_on" type="checkbox" prop:checked=s.notices disabled=!o.configured
                        on:change=move |ev| save(Settings { notices: event_target_checked(&ev), ..s }) />
                    " 每笔收款、退款和「我已付款」都发公众号消息给我"
                </label>
                <label class="check">
                    <input id="digest_on" type="checkbox" prop:checked=s.digest disabled=!o.configured
                        on:change=move |ev| save(Settings { digest: event_target_checked(&ev), ..s }) />
                    " 每天 20:00 发送当日汇总（笔数、金额、待确认）"
                </label>
                <p class="hint">"需关注本站公众号才能收到消息。"</p>
                <ul class="notice-list">{lines}</ul>
            }
            .into_any()
        }
    };
    view! {
        <article class="card" id="notices">
            <h2 class="title">"到账提醒"</h2>
            {body}
        </article>
    }
}
