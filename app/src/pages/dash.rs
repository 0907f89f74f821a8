//! `/dash`, the payee dashboard: sign in through WeChat (the worker's `/oauth/start`), wait for
//! the operator's approval, then manage what the Official Account shows — own collections
//! (and claiming earlier ones by their manage link), keyword replies, channels with their QR
//! codes and funnels, and menu-jump routes (the custom menu is the operator's).

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};

use super::dash_api::{self as api, Channel, Me, MenuRoute, MyCollection, Rule};
use crate::api::Error;
use crate::components::{CopyRow, Outcome, OutcomeLine};

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Loading,
    SignedOut,
    Ready(Me),
    Failed(String),
}

fn in_wechat() -> bool {
    web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .is_some_and(|ua| ua.contains("MicroMessenger"))
}

/// The dashboard.
#[component]
pub fn Dash() -> impl IntoView {
    crate::set_title("收款后台");
    let state = RwSignal::new(State::Loading);
    spawn_local(async move {
        state.set(match api::get::<Me>("/api/dash/me").await {
            Ok(me) => State::Ready(me),
            Err(Error::Api { status: 401, .. }) => State::SignedOut,
            Err(e) => State::Failed(e.message()),
        });
    });
    let body = move || {
        match state.get() {
        State::Loading => view! { <article class="card"><p class="hint">"加载中…"</p></article> }.into_any(),
        State::SignedOut if in_wechat() => view! {
            <article class="card">
                <h1 class="title">"收款后台"</h1>
                <p>"用微信登录后，可以查看收到的钱、管理你发起的收款。"</p>
                <a id="sign_in" class="button" href="/oauth/start?next=/dash">"微信登录"</a>
            </article>
        }
        .into_any(),
        State::SignedOut => view! { <OpenInWeChat /> }.into_any(),
        State::Ready(me) if me.status != "approved" => view! { <Waiting me=me /> <super::growth::Approvals /> }.into_any(),
        State::Ready(_) => view! { <Board /> }.into_any(),
        State::Failed(message) => view! {
            <article class="card error-card"><h1 class="title">"加载失败"</h1><p class="hint">{message}</p></article>
        }
        .into_any(),
    }
    };
    view! { <main class="page dash">{body}</main> }
}

/// Outside WeChat: the way in, without Official Account words.
#[component]
fn OpenInWeChat() -> impl IntoView {
    let here = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    view! {
        <article class="card" id="open_in_wechat">
            <h1 class="title">"请在微信里打开"</h1>
            <p>"收款后台用微信登录，只能在微信里打开。"</p>
            <p class="hint">"复制本页链接，发给微信里的「文件传输助手」，再在微信里点开它。"</p>
            <CopyRow label="本页链接" input_id="dash_link" button_id="copy_dash_link" value=here
                done_text="已复制，去微信「文件传输助手」粘贴发送吧" />
        </article>
    }
}

/// Signed in, not (or no longer) approved: the account id to send, with copy and refresh, and
/// whom to send it to.
#[component]
fn Waiting(me: Me) -> impl IntoView {
    let revoked = me.status == "revoked";
    let copied = RwSignal::new(None::<Outcome>);
    let openid = StoredValue::new(me.openid.clone());
    let contact = RwSignal::new(None::<String>);
    spawn_local(async move {
        if let Ok(config) = crate::api::config().await {
            contact.set(config.operator_contact);
        }
    });
    let copy = move |_| {
        spawn_local(async move {
            copied.set(Some(
                if crate::clipboard::copy_text(&openid.get_value(), "openid").await {
                    Outcome::Done("已复制，去微信里粘贴发给对方吧".to_owned())
                } else {
                    Outcome::Done("请长按上面的编号复制".to_owned())
                },
            ));
        });
    };
    let reload = |_| {
        if let Some(w) = web_sys::window() {
            let _ = w.location().reload();
        }
    };
    view! {
        <article class="card" id="waiting">
            <h1 class="title">{if revoked { "账号已停用" } else { "等待开通" }}</h1>
            <p>{if revoked {
                "你的收款后台已被停用。如有疑问，请把下面的账号编号发给平台的管理员。"
            } else {
                "收款后台需要平台的管理员开通。请把下面的账号编号发给管理员，开通后点「刷新」。"
            }}</p>
            <p class="label">"账号编号"</p>
            <p><code id="openid">{me.openid.clone()}</code></p>
            <div class="actions">
                <button id="copy_openid" class="button small" type="button" on:click=copy>"复制编号"</button>
                <button id="refresh" class="button small secondary" type="button" on:click=reload>"刷新"</button>
            </div>
            <OutcomeLine outcome=copied />
            <p id="contact" class="hint">
                {move || match contact.get() {
                    Some(who) => format!("管理员联系方式：{who}"),
                    None => "管理员就是把这个收款后台介绍给你的人（通常是公众号的运营方）。".to_owned(),
                }}
            </p>
        </article>
    }
}

#[component]
fn Board() -> impl IntoView {
    view! {
        <p><a id="books-link" href="/dash/books">"对账：核对微信支付账单"</a></p>
        <super::payments::Payments />
        <super::notices::Notices />
        <Collections />
        <Keywords />
        <Channels />
        <Routes />
        <super::growth::Growth />
        <super::tags::Tags />
        <super::exports::Exports />
    }
}

/// A one-line result under a form: `Ok` in green, `Err` in red.
pub(crate) type Notice = RwSignal<Option<Result<String, String>>>;

pub(crate) fn notice_view(notice: Notice) -> impl IntoView {
    move || {
        notice.get().map(|n| match n {
            Ok(text) => view! { <p class="status ok" aria-live="polite">{text}</p> }.into_any(),
            Err(text) => view! { <p class="status error" role="alert">{text}</p> }.into_any(),
        })
    }
}

#[component]
fn Collections() -> impl IntoView {
    let items = RwSignal::new(Vec::<MyCollection>::new());
    let notice: Notice = RwSignal::new(None);
    let link = RwSignal::new(String::new());
    let load = move || {
        spawn_local(async move {
            match api::get::<Value>("/api/dash/collections").await {
                Ok(body) => items
                    .set(serde_json::from_value(body["collections"].clone()).unwrap_or_default()),
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    load();
    let claim = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some((id, token)) = api::parse_manage_link(&link.get_untracked()) else {
            notice.set(Some(Err(
                "请粘贴发布时得到的完整管理链接（含 #t= 之后的部分）".into(),
            )));
            return;
        };
        spawn_local(async move {
            match api::post::<Value, _>(
                "/api/dash/claim",
                &json!({ "id": id, "manage_token": token }),
            )
            .await
            {
                Ok(_) => {
                    notice.set(Some(Ok("已认领到你的账号".into())));
                    link.set(String::new());
                    load();
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    view! {
        <section class="card" id="collections">
            <h2 class="title">"我的收款"</h2>
            <ul class="list">
                {move || items.get().into_iter().map(|c| view! {
                    <li><a href=format!("/c/{}", c.id)>{c.title}</a>" · "{if c.status == "open" { "收款中" } else { "已关闭" }}" · "<code>{c.id}</code></li>
                }).collect_view()}
            </ul>
            <a class="button small" href="/new">"发起收款"</a>
            <form class="form" on:submit=claim>
                <label class="label" for="claim_link">"认领以前发布的收款（粘贴管理链接）"</label>
                <input id="claim_link" class="input" type="text" bind:value=link />
                <button class="button small" type="submit">"认领"</button>
            </form>
            {notice_view(notice)}
        </section>
    }
}

#[component]
fn Keywords() -> impl IntoView {
    let items = RwSignal::new(Vec::<Rule>::new());
    let notice: Notice = RwSignal::new(None);
    let trigger = RwSignal::new("exact".to_string());
    let pattern = RwSignal::new(String::new());
    let priority = RwSignal::new("0".to_string());
    let reply_kind = RwSignal::new("text".to_string());
    let reply = RwSignal::new(String::new());
    let load = move || {
        spawn_local(async move {
            match api::get::<Value>("/api/dash/keywords").await {
                Ok(body) => {
                    items.set(serde_json::from_value(body["rules"].clone()).unwrap_or_default())
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    load();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let reply_body = if reply_kind.get_untracked() == "collection" {
            json!({ "type": "collection", "id": reply.get_untracked().trim() })
        } else {
            json!({ "type": "text", "text": reply.get_untracked() })
        };
        let body = json!({
            "trigger": trigger.get_untracked(),
            "pattern": pattern.get_untracked(),
            "priority": priority.get_untracked().trim().parse::<i64>().unwrap_or(0),
            "reply": reply_body,
        });
        spawn_local(async move {
            match api::post::<Value, _>("/api/dash/keywords", &body).await {
                Ok(_) => {
                    notice.set(Some(Ok("已添加".into())));
                    pattern.set(String::new());
                    reply.set(String::new());
                    load();
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    let remove = move |id: i64| {
        spawn_local(async move {
            match api::delete(&format!("/api/dash/keywords/{id}")).await {
                Ok(_) => load(),
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    view! {
        <section class="card" id="keywords">
            <h2 class="title">"关键词回复"</h2>
            <ul class="list">
                {move || items.get().into_iter().map(|r| {
                    let id = r.id;
                    view! {
                        <li class="rule">
                            <span>{api::trigger_label(&r.trigger)}" "<b>{r.pattern.clone()}</b>" → "{api::reply_summary(&r.reply)}" （优先级 "{r.priority}"）"</span>
                            <button class="link" type="button" on:click=move |_| remove(id)>"删除"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form class="form" on:submit=create>
                <select id="kw_trigger" class="input" bind:value=trigger>
                    <option value="exact">"完全匹配"</option>
                    <option value="contains">"包含"</option>
                    <option value="subscribe">"关注时（欢迎语）"</option>
                </select>
                <input id="kw_pattern" class="input" type="text" placeholder="关键词" bind:value=pattern />
                <input id="kw_priority" class="input" type="number" placeholder="优先级" bind:value=priority />
                <select id="kw_reply_kind" class="input" bind:value=reply_kind>
                    <option value="text">"回复文字"</option>
                    <option value="collection">"回复收款卡片（收款编号）"</option>
                </select>
                <textarea id="kw_reply" class="input" placeholder="回复内容或收款编号" bind:value=reply></textarea>
                <button id="kw_add" class="button small" type="submit">"添加规则"</button>
            </form>
            {notice_view(notice)}
        </section>
    }
}

#[component]
fn Channels() -> impl IntoView {
    let items = RwSignal::new(Vec::<Channel>::new());
    let notice: Notice = RwSignal::new(None);
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new("temporary".to_string());
    let route = RwSignal::new(String::new());
    let load = move || {
        spawn_local(async move {
            match api::get::<Value>("/api/dash/channels").await {
                Ok(body) => {
                    items.set(serde_json::from_value(body["channels"].clone()).unwrap_or_default())
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    load();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let route_value = route.get_untracked().trim().to_string();
        let body = json!({
            "name": name.get_untracked(),
            "kind": kind.get_untracked(),
            "route": (!route_value.is_empty()).then_some(route_value),
        });
        spawn_local(async move {
            match api::post::<Value, _>("/api/dash/channels", &body).await {
                Ok(_) => {
                    notice.set(Some(Ok("渠道二维码已生成".into())));
                    name.set(String::new());
                    load();
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    view! {
        <section class="card" id="channels">
            <h2 class="title">"渠道二维码"</h2>
            <p class="hint">"每个渠道一个带参数的公众号二维码：扫码、访问、下单和金额分别统计。"</p>
            <ul class="list">
                {move || items.get().into_iter().map(|c| {
                    let f = c.funnel;
                    view! {
                        <li class="channel">
                            <b>{c.name.clone()}</b>" · "{if c.kind == "permanent" { "永久" } else { "临时" }}
                            <p class="funnel">
                                "扫码 "<span class="scans">{f.scans}</span>
                                " → 访问 "<span class="visits">{f.visits}</span>" ("{api::percent(f.visits, f.scans)}")"
                                " → 下单 "{f.orders}" → 已付 "{f.paid_orders}" · "{shoukuan_core::money::Fen::new(f.paid_fen).to_string()}
                            </p>
                            <img class="qr" src=c.qr_image.clone() alt="渠道二维码" width="160" height="160" />
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form class="form" on:submit=create>
                <input id="ch_name" class="input" type="text" placeholder="渠道名称，如 门店海报" bind:value=name />
                <select id="ch_kind" class="input" bind:value=kind>
                    <option value="temporary">"临时（30 天）"</option>
                    <option value="permanent">"永久"</option>
                </select>
                <input id="ch_route" class="input" type="text" placeholder="扫码后打开的入口标识（可选）" bind:value=route />
                <button id="ch_add" class="button small" type="submit">"生成二维码"</button>
            </form>
            {notice_view(notice)}
        </section>
    }
}

#[component]
fn Routes() -> impl IntoView {
    let items = RwSignal::new(Vec::<MenuRoute>::new());
    let notice: Notice = RwSignal::new(None);
    let key = RwSignal::new(String::new());
    let target = RwSignal::new(String::new());
    let load = move || {
        spawn_local(async move {
            match api::get::<Value>("/api/dash/routes").await {
                Ok(body) => {
                    items.set(serde_json::from_value(body["routes"].clone()).unwrap_or_default())
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    load();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = json!({ "key": key.get_untracked(), "target": target.get_untracked() });
        spawn_local(async move {
            match api::post::<Value, _>("/api/dash/routes", &body).await {
                Ok(_) => {
                    key.set(String::new());
                    target.set(String::new());
                    load();
                }
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        });
    };
    let remove = move |key: String| {
        spawn_local(async move {
            match api::delete(&format!("/api/dash/routes/{key}")).await {
                Ok(_) => load(),
                Err(e) => notice.set(Some(Err(e.message()))),
            }
        })
    };
    view! {
        <section class="card" id="routes">
            <h2 class="title">"菜单入口"</h2>
            <p class="hint">"入口 /m/标识 在微信里先登录再打开页面；可用于公众号菜单和渠道卡片。"</p>
            <ul class="list">
                {move || items.get().into_iter().map(|r| {
                    let k = r.key.clone();
                    view! {
                        <li><code>{format!("/m/{}", r.key)}</code>" → "{r.target}
                            <button class="link" type="button" on:click=move |_| remove(k.clone())>"删除"</button></li>
                    }
                }).collect_view()}
            </ul>
            <form class="form" on:submit=create>
                <input id="route_key" class="input" type="text" placeholder="标识，如 pay" bind:value=key />
                <input id="route_target" class="input" type="text" placeholder="页面，如 /c/收款编号" bind:value=target />
                <button class="button small" type="submit">"添加入口"</button>
            </form>
            {notice_view(notice)}
        </section>
    }
}
