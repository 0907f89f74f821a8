//! The growth section of `/dash`: A/B tests of a collection's presentation (variants, figures
//! per variant with interval and probability to beat the others, declare winner) and approval
//! before refunds (threshold, approvers invited by link, requests waiting for a decision).

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};

use super::dash::{notice_view, Notice};
use super::dash_api::{self as api, percent};

/// A probability or rate (0–1) as `12.3%` (integer formatting: `{:.1}` would add the float
/// formatter, ~5 KB, to the dashboard's bundle).
pub fn share(p: f64) -> String {
    super::dash_api::percent((p * 1000.0).round() as i64, 1000)
}

/// The invitation token in a `location.hash` such as `#invite=abc`.
pub fn invite_token(hash: &str) -> Option<String> {
    hash.trim_start_matches('#')
        .split('&')
        .find_map(|pair| pair.strip_prefix("invite="))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// One variant row of the form: label, title, note, price display, original price.
#[derive(Clone, Copy)]
struct Row {
    label: RwSignal<String>,
    title: RwSignal<String>,
    note: RwSignal<String>,
    price: RwSignal<String>,
    original: RwSignal<String>,
    blocks: RwSignal<String>,
}

impl Row {
    fn new(label: &str) -> Row {
        Row {
            label: RwSignal::new(label.to_owned()),
            title: RwSignal::new(String::new()),
            note: RwSignal::new(String::new()),
            price: RwSignal::new(String::new()),
            original: RwSignal::new(String::new()),
            blocks: RwSignal::new(String::new()),
        }
    }

    fn draft(&self) -> Value {
        json!({
            "label": self.label.get_untracked(),
            "title": self.title.get_untracked(),
            "note": self.note.get_untracked(),
            "price": self.price.get_untracked(),
            "original_price": self.original.get_untracked(),
            "blocks": self.blocks.get_untracked(),
        })
    }
}

/// The growth section (approved payees).
#[component]
pub fn Growth() -> impl IntoView {
    view! {
        <AbTests />
        <Points />
        <Approvals />
    }
}

#[component]
fn Points() -> impl IntoView {
    let notice: Notice = RwSignal::new(None);
    let programme = RwSignal::new(Value::Null);
    let per_yuan = RwSignal::new(String::new());
    let fen_per_point = RwSignal::new(String::new());
    let max_per_order = RwSignal::new(String::new());
    let expire_days = RwSignal::new(String::new());
    spawn_local(async move {
        if let Ok(body) = api::get::<Value>("/api/dash/growth/points").await {
            programme.set(body);
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let int = |s: RwSignal<String>| s.get_untracked().trim().parse::<i64>().ok();
        let body = json!({
            "per_yuan": int(per_yuan),
            "fen_per_point": int(fen_per_point).unwrap_or(0),
            "max_per_order": int(max_per_order).unwrap_or(0),
            "expire_days": int(expire_days),
        });
        spawn_local(async move {
            match api::put::<Value, _>("/api/dash/growth/points", &body).await {
                Ok(body) => {
                    programme.set(body);
                    notice.set(Some(Ok("已保存积分规则".into())));
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    view! {
        <section class="card" id="points">
            <h2 class="title">"会员积分"</h2>
            <p class="hint">{move || match programme.get()["per_yuan"].as_i64() {
                Some(n) => match programme.get()["expire_days"].as_i64() {
                    Some(d) => format!("每支付 1 元得 {n} 积分；退款按比例扣回；获得后 {d} 天过期（先得先用）"),
                    None => format!("每支付 1 元得 {n} 积分；退款按比例扣回"),
                },
                None => "还没有开启积分".to_owned(),
            }}</p>
            <form class="form" on:submit=save>
                <input class="input" placeholder="每元积分（1–100，留空关闭）" bind:value=per_yuan />
                <input class="input" placeholder="每积分抵扣（分，0＝不可抵扣）" bind:value=fen_per_point />
                <input class="input" placeholder="每单最多用多少积分" bind:value=max_per_order />
                <input class="input" placeholder="积分有效期（天，留空＝永久）" bind:value=expire_days />
                <button class="button small" type="submit">"保存"</button>
            </form>
            <p>{move || format!("会员 {} 位", programme.get()["members"].as_array().map_or(0, Vec::len))}</p>
            <a class="button small" href="/api/dash/growth/points.csv">"导出积分明细 CSV"</a>
            {notice_view(notice)}
        </section>
    }
}

#[component]
fn AbTests() -> impl IntoView {
    let collection = RwSignal::new(String::new());
    let test = RwSignal::new(Value::Null);
    let notice: Notice = RwSignal::new(None);
    let rows: Vec<Row> = ["A", "B", "C", "D"].iter().map(|l| Row::new(l)).collect();
    let count = RwSignal::new(2usize);
    let path = move || format!("/api/dash/growth/ab/{}", collection.get_untracked().trim());
    let load = move || {
        spawn_local(async move {
            match api::get::<Value>(&path()).await {
                Ok(body) => {
                    test.set(body);
                    notice.set(None);
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    let rows_for_start = rows.clone();
    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let drafts: Vec<Value> = rows_for_start[..count.get_untracked()]
            .iter()
            .map(Row::draft)
            .collect();
        spawn_local(async move {
            match api::put::<Value, _>(&path(), &json!({ "variants": drafts })).await {
                Ok(body) => {
                    test.set(body);
                    notice.set(Some(Ok("测试已开始：访客会稳定地看到其中一个版本".into())));
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    let declare = move |variant: usize| {
        spawn_local(async move {
            let url = format!("{}/winner", path());
            match api::post::<Value, _>(&url, &json!({ "variant": variant })).await {
                Ok(body) => {
                    test.set(body);
                    notice.set(Some(Ok("已选定：所有访客都会看到这个版本".into())));
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    let figures = move || {
        let body = test.get();
        if body["test"].is_null() {
            return view! { <p class="hint">"这个收款还没有进行中的测试。"</p> }.into_any();
        }
        let status = body["test"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let winner = body["test"]["winner"].as_u64();
        let suggested = body["report"]["winner"].as_u64();
        let warning = body["report"]["warning"].as_str().map(str::to_owned);
        let arms = body["report"]["arms"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let variants = body["test"]["variants"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let rows = arms
            .into_iter()
            .zip(variants)
            .enumerate()
            .map(|(i, (arm, variant))| {
                let visitors = arm["visitors"].as_i64().unwrap_or(0);
                let conversions = arm["conversions"].as_i64().unwrap_or(0);
                let interval = format!(
                    "{}–{}",
                    share(arm["low"].as_f64().unwrap_or(0.0)),
                    share(arm["high"].as_f64().unwrap_or(0.0))
                );
                let best = share(arm["prob_best"].as_f64().unwrap_or(0.0));
                let label = variant["label"].as_str().unwrap_or_default().to_owned();
                let mark = match (winner, suggested) {
                    (Some(w), _) if w == i as u64 => "（已选定）",
                    (None, Some(s)) if s == i as u64 => "（领先）",
                    _ => "",
                };
                let running = status == "running";
                view! {
                    <tr>
                        <td>{label}{mark}</td>
                        <td>{visitors}</td>
                        <td>{conversions}</td>
                        <td>{percent(conversions, visitors)}</td>
                        <td>{interval}</td>
                        <td>{best}</td>
                        <td>{running.then(|| view! {
                            <button class="button small" type="button" on:click=move |_| declare(i)>"选为最终版本"</button>
                        })}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            {warning.map(|w| view! { <p class="status error">{w}</p> })}
            <table class="table ab-table">
                <thead><tr><th>"版本"</th><th>"访客"</th><th>"转化"</th><th>"转化率"</th><th>"95% 区间"</th><th>"胜出概率"</th><th></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <p class="hint">"胜出概率按 Beta 后验计算：某个版本转化率最高的概率。≥95% 且样本足够时才建议选定。"</p>
        }
        .into_any()
    };
    let row_views = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let r = *r;
            view! {
                <fieldset class="fieldset" style:display=move || if i < count.get() { "" } else { "none" }>
                    <legend>{format!("版本 {}", i + 1)}</legend>
                    <input class="input" placeholder="版本名称" bind:value=r.label />
                    <input class="input" placeholder="标题（留空＝不改）" bind:value=r.title />
                    <input class="input" placeholder="备注（留空＝不改）" bind:value=r.note />
                    <select class="input" bind:value=r.price>
                        <option value="">"价格显示：不改"</option>
                        <option value="plain">"只显示现价 ¥68"</option>
                        <option value="original">"原价对比 原价¥88 现价¥68"</option>
                    </select>
                    <input class="input" placeholder="原价（元，原价对比时填）" bind:value=r.original />
                    <select class="input" bind:value=r.blocks>
                        <option value="">"版块顺序：不改"</option>
                        <option value="images_first">"图片在前"</option>
                        <option value="price_first">"价格和付款在前"</option>
                    </select>
                </fieldset>
            }
        })
        .collect_view();
    view! {
        <section class="card" id="ab_tests">
            <h2 class="title">"A/B 测试"</h2>
            <form class="form" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); load(); }>
                <label class="label" for="ab_collection">"收款编号"</label>
                <input id="ab_collection" class="input" type="text" bind:value=collection />
                <button class="button small" type="submit">"查看"</button>
            </form>
            {figures}
            <form class="form" on:submit=start>
                {row_views}
                <button class="button small" type="button" on:click=move |_| count.update(|c| *c = (*c + 1).min(4))>"加一个版本"</button>
                <button class="button small" type="button" on:click=move |_| count.update(|c| *c = (*c - 1).max(2))>"减一个版本"</button>
                <button class="button" type="submit">"开始新测试"</button>
            </form>
            {notice_view(notice)}
        </section>
    }
}

/// Approval before refunds: also shown to signed-in staff whose account is not approved (they
/// only approve refunds of the payee who invited them).
#[component]
pub fn Approvals() -> impl IntoView {
    let notice: Notice = RwSignal::new(None);
    let policy = RwSignal::new(Value::Null);
    let requests = RwSignal::new(Value::Null);
    let threshold = RwSignal::new(String::new());
    let approvers = RwSignal::new(String::new());
    let invite_link = RwSignal::new(String::new());
    let comment = RwSignal::new(String::new());
    let load = move || {
        spawn_local(async move {
            if let Ok(body) = api::get::<Value>("/api/dash/growth/refund-policy").await {
                policy.set(body);
            }
            match api::get::<Value>("/api/dash/growth/refund-requests").await {
                Ok(body) => requests.set(body),
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    load();
    // An invitation link opened by the invited person.
    if let Some(token) = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .and_then(|h| invite_token(&h))
    {
        spawn_local(async move {
            match api::post::<Value, _>(
                "/api/dash/growth/approver-invites/accept",
                &json!({ "token": token }),
            )
            .await
            {
                Ok(_) => notice.set(Some(Ok("已接受邀请：你可以审批对方的退款了".into()))),
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    }
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let list: Vec<String> = approvers
            .get_untracked()
            .split([',', '，', ' ', '\n'])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let body = json!({ "threshold": threshold.get_untracked(), "approvers": list });
        spawn_local(async move {
            match api::put::<Value, _>("/api/dash/growth/refund-policy", &body).await {
                Ok(body) => {
                    policy.set(body);
                    notice.set(Some(Ok("已保存审批规则".into())));
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    let invite = move |_| {
        spawn_local(async move {
            match api::post::<Value, _>("/api/dash/growth/approver-invites", &json!({})).await {
                Ok(body) => {
                    let origin = web_sys::window()
                        .and_then(|w| w.location().origin().ok())
                        .unwrap_or_default();
                    invite_link.set(format!(
                        "{origin}{}",
                        body["path"].as_str().unwrap_or_default()
                    ));
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    let decide = move |id: String, decision: &'static str| {
        let body = json!({ "decision": decision, "comment": comment.get_untracked() });
        spawn_local(async move {
            let url = format!("/api/dash/growth/refund-requests/{id}/decide");
            match api::post::<Value, _>(&url, &body).await {
                Ok(_) => {
                    notice.set(Some(Ok("已提交".into())));
                    comment.set(String::new());
                    load();
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    let list = move || {
        let body = requests.get();
        let me = body["me"].as_str().unwrap_or_default().to_owned();
        body["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let id = r["id"].as_str().unwrap_or_default().to_owned();
                let step = r["step"].as_u64().unwrap_or(0) as usize;
                let my_turn = r["status"] == "pending"
                    && r["chain"].get(step).and_then(Value::as_str) == Some(me.as_str());
                let amount = shoukuan_core::money::Fen::new(r["amount_fen"].as_i64().unwrap_or(0));
                let status = match r["status"].as_str().unwrap_or_default() {
                    "pending" => format!("待第 {} 位审批", step + 1),
                    "rejected" => "已驳回".to_owned(),
                    "refunded" => "已退款".to_owned(),
                    "failed" => format!("退款失败：{}", r["failure"].as_str().unwrap_or_default()),
                    other => other.to_owned(),
                };
                let (approve_id, reject_id) = (id.clone(), id.clone());
                view! {
                    <li>
                        {format!("{amount} · {} · {status}", r["reason"].as_str().unwrap_or_default())}
                        {my_turn.then(|| view! {
                            <button class="button small" type="button" on:click=move |_| decide(approve_id.clone(), "approve")>"同意"</button>
                            <button class="button small" type="button" on:click=move |_| decide(reject_id.clone(), "reject")>"驳回"</button>
                        })}
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <section class="card" id="refund_approvals">
            <h2 class="title">"退款审批"</h2>
            <p class="hint">{move || match policy.get()["threshold_fen"].as_i64() {
                Some(fen) => format!("超过 {} 的退款需要审批", shoukuan_core::money::Fen::new(fen)),
                None => "目前退款不需要审批".to_owned(),
            }}</p>
            <form class="form" on:submit=save>
                <input class="input" placeholder="审批门槛（元）" bind:value=threshold />
                <input class="input" placeholder="审批人编号，按顺序用逗号分隔（1–3 位）" bind:value=approvers />
                <p class="hint">{move || format!("已接受邀请的人：{}", policy.get()["candidates"].as_array().map(|c| c.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("，")).unwrap_or_default())}</p>
                <button class="button small" type="submit">"保存"</button>
            </form>
            <button class="button small" type="button" on:click=invite>"生成审批人邀请链接"</button>
            <p><code>{move || invite_link.get()}</code></p>
            <input class="input" placeholder="审批意见" bind:value=comment />
            <ul class="list">{list}</ul>
            {notice_view(notice)}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_tokens_come_from_the_fragment() {
        assert_eq!(invite_token("#invite=abc"), Some("abc".into()));
        assert_eq!(invite_token("#t=x&invite=abc"), Some("abc".into()));
        assert_eq!(invite_token("#invite="), None);
        assert_eq!(invite_token(""), None);
    }

    #[test]
    fn shares_read_as_percent() {
        assert_eq!(share(0.1234), "12.3%");
        assert_eq!(share(1.0), "100.0%");
    }
}
