//! The customer-tags section of `/dash`: the payee's people (who paid or signed up), their tags
//! in groups (班级 → 三年二班), assigned one by one or to everyone ticked, the list filtered by a
//! tag, a reminder to a tag's unpaid people of a split, and the payments export of a tag.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};

use super::dash::{notice_view, Notice};
use super::dash_api as api;

/// A tag as the list shows it: `班级 · 三年二班` (a tag without a group is its name).
pub fn tag_label(tag: &Value) -> String {
    let group = tag["group"].as_str().unwrap_or_default();
    let name = tag["name"].as_str().unwrap_or_default();
    if group.is_empty() {
        name.to_owned()
    } else {
        format!("{group} · {name}")
    }
}

/// The payments export of a tag on a day (`YYYY-MM-DD`).
pub fn export_link(day: &str, tag: &str) -> String {
    format!("/api/dash/exports/payments?date={day}&tag={tag}")
}

/// The customer-tags section (approved payees).
#[component]
pub fn Tags() -> impl IntoView {
    let notice: Notice = RwSignal::new(None);
    let tags = RwSignal::new(Vec::<Value>::new());
    let people = RwSignal::new(Vec::<Value>::new());
    let filter = RwSignal::new(String::new());
    let ticked = RwSignal::new(Vec::<String>::new());
    let group = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let target = RwSignal::new(String::new());
    let split = RwSignal::new(String::new());
    let day = RwSignal::new(String::new());
    let load = move || {
        spawn_local(async move {
            if let Ok(body) = api::get::<Value>("/api/dash/tags").await {
                tags.set(body["tags"].as_array().cloned().unwrap_or_default());
            }
            let f = filter.get_untracked();
            let path = if f.is_empty() {
                "/api/dash/tags/people".to_owned()
            } else {
                format!("/api/dash/tags/people?tag={f}")
            };
            match api::get::<Value>(&path).await {
                Ok(body) => people.set(body["people"].as_array().cloned().unwrap_or_default()),
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    load();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = json!({ "group": group.get_untracked(), "name": name.get_untracked() });
        spawn_local(async move {
            match api::post::<Value, _>("/api/dash/tags", &body).await {
                Ok(_) => {
                    name.set(String::new());
                    notice.set(Some(Ok("已添加标签".into())));
                    load();
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    let change = move |on: bool| {
        let tag = target.get_untracked();
        let chosen = ticked.get_untracked();
        if tag.is_empty() || chosen.is_empty() {
            notice.set(Some(Err("请先勾选客户并选择标签".into())));
            return;
        }
        let verb = if on { "assign" } else { "unassign" };
        spawn_local(async move {
            let url = format!("/api/dash/tags/{tag}/{verb}");
            match api::post::<Value, _>(&url, &json!({ "people": chosen })).await {
                Ok(body) => {
                    let n = body["changed"].as_i64().unwrap_or(0);
                    notice.set(Some(Ok(format!("已更新 {n} 人的标签"))));
                    ticked.set(Vec::new());
                    load();
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    let remind = move |_| {
        let tag = target.get_untracked();
        let body = json!({ "collection_id": split.get_untracked().trim() });
        spawn_local(async move {
            let url = format!("/api/dash/tags/{tag}/remind");
            match api::post::<Value, _>(&url, &body).await {
                Ok(b) => notice.set(Some(Ok(format!(
                    "该标签未付款 {} 人：已提醒 {} 人，失败 {} 人，{} 人未通过公众号报名无法提醒",
                    b["matched"], b["sent"], b["failed"], b["unreachable"]
                )))),
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    let options = move || {
        tags.get()
            .into_iter()
            .map(|t| {
                let id = t["id"].to_string();
                let label = format!("{}（{}人）", tag_label(&t), t["people"]);
                view! { <option value=id>{label}</option> }
            })
            .collect_view()
    };
    let names_of = move |ids: &Value| -> String {
        let all = tags.get();
        ids.as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| all.iter().find(|t| t["id"] == *id))
                    .map(tag_label)
                    .collect::<Vec<_>>()
                    .join("、")
            })
            .unwrap_or_default()
    };
    let rows = move || {
        people
            .get()
            .into_iter()
            .map(|p| {
                let key = p["person"].as_str().unwrap_or_default().to_owned();
                let key_for_check = key.clone();
                let checked = move || ticked.get().contains(&key_for_check);
                let toggle = move |_| {
                    let key = key.clone();
                    ticked.update(|t| match t.iter().position(|k| *k == key) {
                        Some(i) => {
                            t.remove(i);
                        }
                        None => t.push(key),
                    })
                };
                let paid = shoukuan_core::money::Fen::new(p["paid_fen"].as_i64().unwrap_or(0));
                let activity = format!(
                    "付款 {} 笔 {paid} · 报名 {}（未付 {}）",
                    p["payments"], p["signups"], p["unpaid_signups"]
                );
                let reach = if p["reachable"].as_bool().unwrap_or(false) {
                    ""
                } else {
                    "（无法消息提醒）"
                };
                view! {
                    <li class="person">
                        <label><input type="checkbox" prop:checked=checked on:change=toggle />
                            " " {p["label"].as_str().unwrap_or_default().to_owned()} {reach}</label>
                        <div class="hint">{activity}</div>
                        <div class="hint">{names_of(&p["tags"])}</div>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <section class="card" id="tags">
            <h2 class="title">"客户标签"</h2>
            <form class="form" on:submit=create>
                <input class="input" placeholder="分组（如 班级，可不填）" bind:value=group />
                <input class="input" placeholder="标签（如 三年二班）" bind:value=name />
                <button class="button small" type="submit">"添加标签"</button>
            </form>
            <label class="label" for="tag_filter">"按标签筛选"</label>
            <select id="tag_filter" class="input" bind:value=filter on:change=move |_| load()>
                <option value="">"全部客户"</option>
                {options}
            </select>
            <ul class="people">{rows}</ul>
            <label class="label" for="tag_target">"对勾选的客户"</label>
            <select id="tag_target" class="input" bind:value=target>
                <option value="">"选择标签"</option>
                {options}
            </select>
            <button class="button small" type="button" on:click=move |_| change(true)>"打上标签"</button>
            <button class="button small secondary" type="button" on:click=move |_| change(false)>"去掉标签"</button>
            <p class="hint">"提醒所选标签中还没付款的人（接龙编号）："</p>
            <input class="input" placeholder="接龙编号" bind:value=split />
            <button class="button small" type="button" on:click=remind>"发送提醒"</button>
            <p class="hint">"导出所选标签的付款："</p>
            <input class="input" type="date" bind:value=day />
            <a class="button small" href=move || export_link(&day.get(), &target.get())>"导出 CSV"</a>
            {notice_view(notice)}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_read_as_group_and_name() {
        assert_eq!(
            tag_label(&json!({ "group": "班级", "name": "三年二班" })),
            "班级 · 三年二班"
        );
        assert_eq!(tag_label(&json!({ "group": "", "name": "VIP" })), "VIP");
        assert_eq!(
            export_link("2026-11-29", "7"),
            "/api/dash/exports/payments?date=2026-11-29&tag=7"
        );
    }
}
