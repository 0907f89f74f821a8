//! Scheduled reminders in the payee's app (issue 13):
//! - [`PublishSlots`], on `/new` for a split: the reminder times (截止前24小时 …) chosen while
//!   publishing. The publish call knows nothing of them; they wait in `sessionStorage` and the
//!   manage page the form lands on applies them with the manage token ([`Reminders`]);
//! - [`Reminders`], on the manage page (the times) and on the split's page `/admin/:id` (also
//!   the per-participant log — what was sent when, WeChat's answer in plain Chinese, what is
//!   held for quiet hours —, "remind now" with its once-per-12-hours rule and quiet hours, and
//!   each debtor's transfer screenshot through [`crate::pages::proof::ProofViewer`]).
//!
//! Without a reminder template on this deployment everything here is disabled and says why.
//! Data: `GET`/`PUT /api/splits/:id/reminders`, `POST /api/splits/:id/remind`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use shoukuan_core::collection::Kind;
use shoukuan_core::paytime::display_cst;
use shoukuan_core::remind_schedule::{
    held_text, label, slot_text, Slots, DEFAULT_SLOTS, PRESETS, QUIET_FROM_HOUR, QUIET_UNTIL_HOUR,
};

use crate::api;
use crate::components::{Outcome, OutcomeLine};
use crate::pages::proof::ProofViewer;

/// Where the publish form leaves the chosen times for the manage page.
const PENDING_KEY: &str = "shoukuan.reminder_slots";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.session_storage().ok().flatten())
}

fn authorized(
    builder: gloo_net::http::RequestBuilder,
    token: &str,
) -> gloo_net::http::RequestBuilder {
    builder.header("Authorization", &format!("Bearer {token}"))
}

/// One reminder as the payee sees it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct SendLine {
    slot: String,
    state: String,
    errcode: Option<i64>,
    explanation: Option<String>,
    at: i64,
    held_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Person {
    id: String,
    seq: i64,
    name: String,
    status: String,
    oa_connected: bool,
    due_at: Option<i64>,
    next_manual_at: Option<i64>,
    proof_at: Option<i64>,
    sends: Vec<SendLine>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Overview {
    configured: bool,
    has_deadline: bool,
    slots: Vec<String>,
    manual_held_until: Option<i64>,
    remind_every_hours: i64,
    participants: Vec<Person>,
}

/// `-24h` → 截止前24小时 (a label the API answered; shown as is when it is not one).
fn typed_text(typed: &str) -> String {
    Slots::parse(&[typed])
        .ok()
        .and_then(|s| s.offsets().first().copied())
        .map_or_else(|| typed.to_owned(), slot_text)
}

fn send_text(line: &SendLine) -> String {
    let what = if line.slot == "now" {
        "立即提醒".to_owned()
    } else {
        typed_text(&line.slot)
    };
    let state = match (line.state.as_str(), line.errcode) {
        ("sent", _) => "已送达".to_owned(),
        ("failed", Some(code)) => format!(
            "未送达（{code}：{}）",
            line.explanation.as_deref().unwrap_or("微信拒绝了这条消息")
        ),
        ("held", _) => line
            .held_until
            .map_or_else(|| "夜间暂缓".to_owned(), held_text),
        ("pending", _) => "发送中，稍后重试".to_owned(),
        _ => "未发送".to_owned(),
    };
    format!("{what} · {} · {state}", display_cst(line.at))
}

fn status_text(status: &str) -> &'static str {
    match status {
        "paid" => "已付款",
        "claimed" => "称已付款，待确认",
        "withdrawn" => "已退出",
        _ => "未付款",
    }
}

/// Checkboxes for the reminder times; `chosen` holds offsets in seconds.
#[component]
fn SlotPicker(chosen: RwSignal<Vec<i64>>, disabled: Signal<bool>) -> impl IntoView {
    // The presets, and any other time the payee set through the API.
    let options = move || {
        let mut all: Vec<i64> = PRESETS.to_vec();
        all.extend(chosen.get().into_iter().filter(|o| !PRESETS.contains(o)));
        all.sort_unstable();
        all
    };
    view! {
        <div class="slot-picker">
            {move || options().into_iter().map(|offset| {
                let id = format!("slot_{}", label(offset).replace('+', "p").replace('-', "m"));
                let for_id = id.clone();
                view! {
                    <label class="check slot" for=for_id>
                        <input type="checkbox" id=id data-slot=label(offset)
                            prop:checked=move || chosen.with(|c| c.contains(&offset))
                            prop:disabled=move || disabled.get()
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|c| {
                                    c.retain(|&o| o != offset);
                                    if on { c.push(offset); c.sort_unstable(); }
                                });
                            } />
                        " " {slot_text(offset)}
                    </label>
                }
            }).collect_view()}
        </div>
    }
}

fn quiet_rule() -> String {
    format!(
        "只提醒通过公众号报名、还没付款的人；每个时间点每人最多一次。夜间 {QUIET_FROM_HOUR}:00–{QUIET_UNTIL_HOUR:02}:00 不发送，顺延到 {QUIET_UNTIL_HOUR:02}:00。"
    )
}

/// The reminder times of the publish form (a split with a deadline).
#[component]
pub fn PublishSlots(kind: RwSignal<Kind>, deadline: RwSignal<String>) -> impl IntoView {
    let chosen = RwSignal::new(DEFAULT_SLOTS.to_vec());
    let configured = RwSignal::new(None::<bool>);
    spawn_local(async move {
        configured.set(Some(api::config().await.is_ok_and(|c| c.reminders)));
    });
    let has_deadline = move || !deadline.with(|d| d.trim().is_empty());
    // What the manage page will apply: only for a split with a deadline on a deployment that
    // can send reminders.
    Effect::new(move |_| {
        let Some(storage) = session_storage() else {
            return;
        };
        let wanted = kind.get() == Kind::Split && has_deadline() && configured.get() == Some(true);
        let typed: Vec<String> = chosen.get().into_iter().map(label).collect();
        let _ = match serde_json::to_string(&typed) {
            Ok(json) if wanted => storage.set_item(PENDING_KEY, &json),
            _ => storage.remove_item(PENDING_KEY),
        };
    });
    let disabled = Signal::derive(move || configured.get() != Some(true) || !has_deadline());
    view! {
        <Show when=move || kind.get() == Kind::Split>
            <fieldset class="field" id="publish_slots">
                <legend>"公众号自动提醒未付款的人"</legend>
                <SlotPicker chosen=chosen disabled=disabled />
                <p class="hint">
                    {move || match configured.get() {
                        Some(false) => "公众号提醒未开通（运营方没有配置提醒模板）：发布后可复制群公告提醒。".to_owned(),
                        _ if !has_deadline() => "先填写截止时间，才能按截止时间自动提醒。".to_owned(),
                        _ => quiet_rule(),
                    }}
                </p>
            </fieldset>
        </Show>
        <p class="hint">
            "要向指定的人收款（如 张三 ¥120，李四 ¥80）？"
            <a id="directed_link" class="link" href="/directed">"发起定向催收"</a>
        </p>
    }
}

async fn load(id: &str, token: &str) -> Result<Overview, api::Error> {
    api::send(
        authorized(
            gloo_net::http::Request::get(&format!("/api/splits/{id}/reminders")),
            token,
        )
        .build(),
    )
    .await
}

/// The body of `PUT /api/splits/:id/reminders`.
#[derive(Serialize)]
struct SlotsBody<'a> {
    slots: &'a [String],
}

/// Saves the times; the answer is not read (the section reloads the overview), so it is not
/// parsed into a `serde_json::Value` either, which keeps that code out of /manage's bundle.
async fn save(id: &str, token: &str, slots: &[String]) -> Result<IgnoredAny, api::Error> {
    api::send(
        authorized(
            gloo_net::http::Request::put(&format!("/api/splits/{id}/reminders")),
            token,
        )
        .json(&SlotsBody { slots }),
    )
    .await
}

fn saved_text(slots: &[String]) -> String {
    if slots.is_empty() {
        "已关闭自动提醒".to_owned()
    } else {
        format!(
            "已设置自动提醒：{}",
            slots
                .iter()
                .map(|s| typed_text(s))
                .collect::<Vec<_>>()
                .join("、")
        )
    }
}

/// The reminder section of a split's manage page: the times.
#[component]
pub fn Reminders(id: String, token: String) -> impl IntoView {
    section::<false>(id, token)
}

/// The reminder section of a split's `/admin` page: the times, remind now, the log and the
/// transfer screenshots.
#[component]
pub fn RemindersWithLog(id: String, token: String) -> impl IntoView {
    section::<true>(id, token)
}

/// Either section. `FULL` is a constant rather than a prop so that the manage page's bundle
/// holds none of what only `/admin` shows (remind now, the log, the screenshot viewer).
fn section<const FULL: bool>(id: String, token: String) -> impl IntoView {
    let id = StoredValue::new(id);
    let token = StoredValue::new(token);
    let overview = RwSignal::new(None::<Result<Overview, String>>);
    let chosen = RwSignal::new(Vec::<i64>::new());
    let save_outcome = RwSignal::new(None::<Outcome>);
    let remind_outcome = RwSignal::new(None::<Outcome>);
    let viewing = RwSignal::new(None::<(String, String)>);
    let refresh = move || {
        spawn_local(async move {
            let loaded = load(&id.get_value(), &token.get_value()).await;
            if let Ok(o) = &loaded {
                let offsets = Slots::parse(&o.slots)
                    .map(|s| s.offsets().to_vec())
                    .unwrap_or_default();
                chosen.set(offsets);
            }
            overview.set(Some(loaded.map_err(|e| e.message())));
        });
    };
    // Just published with times chosen in the form: apply them first.
    let pending = session_storage().and_then(|s| {
        let value = s.get_item(PENDING_KEY).ok().flatten();
        let _ = s.remove_item(PENDING_KEY);
        value
    });
    let hash = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    match pending
        .filter(|_| crate::form::is_just_published(&hash))
        .and_then(|json| serde_json::from_str::<Vec<String>>(&json).ok())
    {
        Some(slots) => spawn_local(async move {
            save_outcome.set(Some(
                match save(&id.get_value(), &token.get_value(), &slots).await {
                    Ok(_) => Outcome::Done(saved_text(&slots)),
                    Err(e) => Outcome::failed(&e),
                },
            ));
            refresh();
        }),
        None => refresh(),
    }
    let on_save = move |_| {
        let slots: Vec<String> = chosen.get_untracked().into_iter().map(label).collect();
        save_outcome.set(None);
        spawn_local(async move {
            save_outcome.set(Some(
                match save(&id.get_value(), &token.get_value(), &slots).await {
                    Ok(_) => Outcome::Done(saved_text(&slots)),
                    Err(e) => Outcome::failed(&e),
                },
            ));
            refresh();
        });
    };
    let on_remind = move |_| {
        remind_outcome.set(None);
        spawn_local(async move {
            let path = format!("/api/splits/{}/remind", id.get_value());
            let answer: Result<serde_json::Value, _> = api::send(
                authorized(gloo_net::http::Request::post(&path), &token.get_value()).build(),
            )
            .await;
            remind_outcome.set(Some(match answer {
                Ok(v) => Outcome::Done(remind_text(&v)),
                Err(e) => Outcome::failed(&e),
            }));
            refresh();
        });
    };
    let configured = move || overview.with(|o| matches!(o, Some(Ok(o)) if o.configured));
    let slots_disabled = Signal::derive(move || {
        !overview.with(|o| matches!(o, Some(Ok(o)) if o.configured && o.has_deadline))
    });
    let body = move || match overview.get() {
        None => view! { <p class="hint">"加载中…"</p> }.into_any(),
        Some(Err(message)) => {
            view! { <p class="action-error" role="alert">{message}</p> }.into_any()
        }
        Some(Ok(o)) => {
            let reason = if !o.configured {
                Some("公众号提醒未开通（运营方没有配置提醒模板）：请复制群公告发到群里提醒。")
            } else if !o.has_deadline {
                Some("这个接龙没有截止时间，不能按截止时间自动提醒：先在管理页设置截止时间。")
            } else {
                None
            };
            let full = FULL.then(|| {
                let window_rule = format!(
                    "立即提醒：每人 {} 小时内最多一次，只发给通过公众号报名、还没付款的人。",
                    o.remind_every_hours
                );
                let held = o.manual_held_until.map(held_text);
                let log = o
                    .participants
                    .iter()
                    .map(|p| person_row(p, viewing))
                    .collect_view();
                view! {
                    <p id="remind_rule" class="hint">{window_rule}</p>
                    {held.map(|h| view! { <p id="remind_held" class="status">{h}</p> })}
                    <ol id="reminder_log" class="participants">{log}</ol>
                }
            });
            view! {
                {reason.map(|r| view! { <p id="reminders_off" class="unavailable">{r}</p> })}
                <p class="hint">{quiet_rule()}</p>
                {full}
            }
            .into_any()
        }
    };
    view! {
        <section class="reminders" id="reminders">
            <h2 class="section">"自动提醒"</h2>
            <SlotPicker chosen=chosen disabled=slots_disabled />
            <div class="row-actions">
                <button id="save_slots" class="button small" type="button"
                    prop:disabled=move || slots_disabled.get() on:click=on_save>"保存提醒时间"</button>
                {FULL.then(|| view! {
                    <button id="remind" class="button small" type="button"
                        prop:disabled=move || !configured() on:click=on_remind>"立即提醒未付款"</button>
                })}
            </div>
            <OutcomeLine outcome=save_outcome id="slots_result" />
            {FULL.then(|| view! {
                <Show when=move || overview.with(|o| matches!(o, Some(Ok(o)) if !o.configured))>
                    <p id="remind_unavailable" class="unavailable">"公众号提醒未开通（运营方没有配置提醒模板）：请复制群公告发到群里提醒。"</p>
                </Show>
                <OutcomeLine outcome=remind_outcome id="remind_result" />
            })}
            {body}
            {FULL.then(|| view! { <ProofViewer id=id.get_value() token=token.get_value() viewing=viewing /> })}
        </section>
    }
}

fn remind_text(v: &serde_json::Value) -> String {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let mut parts = Vec::new();
    if let Some(until) = v["held_until"].as_i64() {
        parts.push(format!("{} 条提醒暂缓：{}", n("held"), held_text(until)));
    } else {
        parts.push(format!("已发送提醒 {} 条", n("sent")));
    }
    if n("failed") > 0 {
        parts.push(format!("失败 {} 条（原因见下方记录）", n("failed")));
    }
    parts.join("，")
}

fn person_row(p: &Person, viewing: RwSignal<Option<(String, String)>>) -> impl IntoView {
    let mut facts = vec![status_text(&p.status).to_owned()];
    if let Some(due) = p.due_at {
        facts.push(format!("应付截止 {}", &display_cst(due)[5..16]));
    }
    if !p.oa_connected {
        facts.push("未通过公众号报名，无法提醒".to_owned());
    }
    if let Some(next) = p.next_manual_at {
        facts.push(format!("{} 后可再次立即提醒", &display_cst(next)[5..16]));
    }
    let sends = p
        .sends
        .iter()
        .map(|s| view! { <li class=format!("send state-{}", s.state)>{send_text(s)}</li> })
        .collect_view();
    let proof = p.proof_at.map(|at| {
        let (pid, name) = (p.id.clone(), p.name.clone());
        view! {
            <button class="button small secondary proof-view" type="button" data-pid=pid.clone()
                on:click=move |_| viewing.set(Some((pid.clone(), name.clone())))>
                {format!("查看转账凭证（{}）", &display_cst(at)[5..16])}
            </button>
        }
    });
    view! {
        <li class=format!("participant status-{}", p.status) data-pid=p.id.clone()>
            <span class="seq">{format!("{}.", p.seq)}</span>
            <span class="pname">{p.name.clone()}</span>
            <span class="pstatus">{facts.join(" · ")}</span>
            {proof}
            <ul class="send-log">{sends}</ul>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(slot: &str, state: &str, errcode: Option<i64>, held_until: Option<i64>) -> SendLine {
        SendLine {
            slot: slot.into(),
            state: state.into(),
            errcode,
            explanation: errcode.map(|c| shoukuan_core::notice::explain(c).to_owned()),
            at: 1_796_292_000,
            held_until,
        }
    }

    #[test]
    fn log_lines_say_what_was_sent_and_what_wechat_answered() {
        assert_eq!(
            send_text(&line("-24h", "sent", None, None)),
            "截止前24小时 · 2026-12-03 18:00:00 · 已送达"
        );
        assert_eq!(
            send_text(&line("+1h", "failed", Some(43004), None)),
            "截止后1小时 · 2026-12-03 18:00:00 · 未送达（43004：对方未关注公众号，无法接收消息）"
        );
        let eight = 1_796_292_000 + 14 * 3600;
        assert_eq!(
            send_text(&line("now", "held", None, Some(eight))),
            "立即提醒 · 2026-12-03 18:00:00 · 夜间 22:00–08:00 不打扰，提醒将在 08:00 发出"
        );
    }

    #[test]
    fn the_remind_answer_reads_in_chinese() {
        let eight = 1_796_292_000 + 14 * 3600;
        assert_eq!(
            remind_text(
                &serde_json::json!({ "sent": 0, "failed": 0, "held": 2, "held_until": eight })
            ),
            "2 条提醒暂缓：夜间 22:00–08:00 不打扰，提醒将在 08:00 发出"
        );
        assert_eq!(
            remind_text(
                &serde_json::json!({ "sent": 3, "failed": 1, "held": 0, "held_until": null })
            ),
            "已发送提醒 3 条，失败 1 条（原因见下方记录）"
        );
        assert_eq!(
            saved_text(&["-24h".into(), "+1h".into()]),
            "已设置自动提醒：截止前24小时、截止后1小时"
        );
        assert_eq!(saved_text(&[]), "已关闭自动提醒");
    }
}
