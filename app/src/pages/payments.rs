//! The payments part of `/dash` (first version): today's receipts against the ¥50 000 daily
//! limit (with the 80 % warning), notifications that need the payee's attention, publishing a
//! collection paid through WeChat Pay, collections with their totals, and recent orders with
//! a refund button and, for orders created for profit sharing, who got what and when (or why
//! not). Data: `GET /api/dash/payments`, `GET /api/dash/shares`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use serde_json::{json, Value};
use shoukuan_core::limits::DayStatus;
use shoukuan_core::money::Fen;
use shoukuan_core::order::OrderState;
use shoukuan_core::paytime;
use shoukuan_core::refund::RefundView;

use super::dash_api as api;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct CollectionTotals {
    id: String,
    title: String,
    status: String,
    pay_mode: String,
    amount_fen: Option<i64>,
    paid_count: i64,
    paid_fen: i64,
    refunded_fen: i64,
    pending_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct OrderLine {
    id: String,
    out_trade_no: String,
    title: Option<String>,
    amount_fen: i64,
    state: OrderState,
    trade_type: String,
    refunded_fen: i64,
    created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct FlagLine {
    id: i64,
    order_id: Option<String>,
    kind: String,
    message: String,
    created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Overview {
    merchant_configured: bool,
    today: DayStatus,
    collections: Vec<CollectionTotals>,
    orders: Vec<OrderLine>,
    refunds: Vec<RefundView>,
    flags: Vec<FlagLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct ShareReceiver {
    source: String,
    receiver_type: String,
    account: String,
    amount_fen: i64,
    wanted_fen: i64,
    result: String,
    fail_label: Option<String>,
    finished_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct ShareReturn {
    return_mchid: String,
    amount_fen: i64,
    result: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct OrderShares {
    order_id: String,
    status: String,
    status_label: String,
    receivers: Vec<ShareReceiver>,
    returns: Vec<ShareReturn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct ShareList {
    orders: Vec<OrderShares>,
}

/// One receiver's line: `平台服务费 1900000109 ¥1.00 · 已分账 11-29 10:00`.
fn share_line(r: &ShareReceiver) -> String {
    let who = if r.source == "fee" {
        "平台服务费".to_string()
    } else if r.receiver_type == "MERCHANT_ID" {
        format!("商户 {}", r.account)
    } else {
        format!("个人 {}…", r.account.chars().take(8).collect::<String>())
    };
    let outcome = match r.result.as_str() {
        "SUCCESS" => format!(
            "已分账{}",
            r.finished_at
                .map(|t| format!(" {}", paytime::display_cst(t)))
                .unwrap_or_default()
        ),
        "CLOSED" => format!(
            "分账失败：{}",
            r.fail_label.clone().unwrap_or_else(|| "原因未知".into())
        ),
        _ => "处理中".to_string(),
    };
    let capped = if r.amount_fen < r.wanted_fen {
        format!("（按最大分账比例由 {} 减为）", Fen::new(r.wanted_fen))
    } else {
        String::new()
    };
    format!("{who} {capped}{} · {outcome}", Fen::new(r.amount_fen))
}

/// The payments section of the dashboard.
#[component]
pub fn Payments() -> impl IntoView {
    let data = RwSignal::new(None::<Overview>);
    let error = RwSignal::new(None::<String>);
    let shares = RwSignal::new(Vec::<OrderShares>::new());
    let load = move || {
        spawn_local(async move {
            // Sharing is an extra: the payments list shows without it.
            if let Ok(list) = api::get::<ShareList>("/api/dash/shares").await {
                shares.set(list.orders);
            }
        });
        spawn_local(async move {
            match api::get::<Overview>("/api/dash/payments").await {
                Ok(overview) => {
                    data.set(Some(overview));
                    error.set(None);
                }
                Err(e) => error.set(Some(e.message())),
            }
        })
    };
    load();
    view! {
        <section class="card" id="payments">
            <h2 class="title">"微信支付收款"</h2>
            {move || error.get().map(|e| view! { <p class="status bad" role="alert">{e}</p> })}
            {move || data.get().map(|overview| view! {
                <Today today=overview.today.clone() />
                <Flags flags=overview.flags.clone() reload=load />
                {overview.merchant_configured.then(|| view! { <NewMerchantCollection reload=load /> })}
                <CollectionList collections=overview.collections.clone() />
                <Orders orders=overview.orders.clone() refunds=overview.refunds.clone() shares=shares reload=load />
            })}
        </section>
    }
}

#[component]
fn Today(today: DayStatus) -> impl IntoView {
    let confirmed = Fen::new(today.confirmed_fen).to_string();
    let limit = Fen::new(today.limit_fen).to_string();
    let warning = if today.identity_verified {
        None
    } else if today.blocked {
        Some("今日收款已达上限：新的订单会被拒绝，完成身份验证后可继续收款（请联系运营方）。")
    } else if today.warn {
        Some("今日收款已超过上限的 80%：超过 ¥50,000 需要完成身份验证，请提前联系运营方。")
    } else {
        None
    };
    view! {
        <div id="limit" class="limit" data-warn=today.warn.to_string() data-blocked=today.blocked.to_string()>
            <p>{format!("今日（{}）已确认收款 {confirmed}，上限 {limit}", today.day)}</p>
            {(today.reserved_fen > 0).then(|| view! {
                <p class="hint">{format!("另有 {} 的订单等待支付", Fen::new(today.reserved_fen))}</p>
            })}
            {warning.map(|w| view! { <p id="limit-warning" class="warning">{w}</p> })}
        </div>
    }
}

#[component]
fn Flags(flags: Vec<FlagLine>, reload: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    (!flags.is_empty()).then(|| {
        view! {
            <div id="flags" class="warning">
                <p><strong>"需要你处理的支付提醒"</strong></p>
                <ul class="list">
                    {flags.into_iter().map(|flag| {
                        let id = flag.id;
                        let resolve = move |_| {
                            spawn_local(async move {
                                let _ = api::post::<Value, _>(&format!("/api/dash/flags/{id}/resolve"), &json!({})).await;
                                reload();
                            });
                        };
                        view! {
                            <li class="flag" data-kind=flag.kind.clone()>
                                {flag.message.clone()}
                                <span class="hint">{format!(" · {}", paytime::display_cst(flag.created_at))}</span>
                                {flag.order_id.clone().map(|o| view! { <a href=format!("/o/{o}")>" 查看订单"</a> })}
                                " "
                                <button class="button small" type="button" on:click=resolve>"知道了"</button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </div>
        }
    })
}

#[component]
fn NewMerchantCollection(reload: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let payee_name = RwSignal::new(String::new());
    let title = RwSignal::new(String::new());
    let amount = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<String, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = json!({
            "payee_name": payee_name.get_untracked(),
            "title": title.get_untracked(),
            "amount": amount.get_untracked(),
            "note": note.get_untracked(),
        });
        spawn_local(async move {
            match api::post::<Value, _>("/api/dash/merchant-collections", &body).await {
                Ok(created) => {
                    let path = created["path"].as_str().unwrap_or_default().to_string();
                    result.set(Some(Ok(path)));
                    reload();
                }
                Err(e) => result.set(Some(Err(e.message()))),
            }
        });
    };
    view! {
        <form id="merchant-form" class="form" on:submit=submit>
            <h3 class="subtitle">"发起微信支付收款"</h3>
            <label class="label" for="m_payee">"收款方名称"</label>
            <input id="m_payee" type="text" bind:value=payee_name />
            <label class="label" for="m_title">"标题"</label>
            <input id="m_title" type="text" bind:value=title />
            <label class="label" for="m_amount">"金额（元，留空由付款人填写）"</label>
            <input id="m_amount" type="text" inputmode="decimal" bind:value=amount />
            <label class="label" for="m_note">"备注"</label>
            <input id="m_note" type="text" bind:value=note />
            <button class="button" type="submit">"发布"</button>
            {move || result.get().map(|r| match r {
                Ok(path) => view! { <p class="status ok">"已发布："<a id="merchant-link" href=path.clone()>{path.clone()}</a></p> }.into_any(),
                Err(e) => view! { <p class="status bad" role="alert">{e}</p> }.into_any(),
            })}
        </form>
    }
}

#[component]
fn CollectionList(collections: Vec<CollectionTotals>) -> impl IntoView {
    let merchant: Vec<CollectionTotals> = collections
        .into_iter()
        .filter(|c| c.pay_mode == "merchant")
        .collect();
    (!merchant.is_empty()).then(|| {
        view! {
            <h3 class="subtitle">"收款汇总"</h3>
            <ul class="list" id="merchant-collections">
                {merchant.into_iter().map(|c| view! {
                    <li data-id=c.id.clone()>
                        <a href=format!("/c/{}", c.id)>{c.title.clone()}</a>
                        {format!(
                            " · {} · {} 笔已付 {}{}{}",
                            c.amount_fen.map(|f| Fen::new(f).to_string()).unwrap_or_else(|| "付款人填写".into()),
                            c.paid_count,
                            Fen::new(c.paid_fen),
                            if c.refunded_fen > 0 { format!("，已退 {}", Fen::new(c.refunded_fen)) } else { String::new() },
                            if c.pending_count > 0 { format!("，{} 笔待支付", c.pending_count) } else { String::new() },
                        )}
                        {(c.status != "open").then_some(" · 已关闭")}
                    </li>
                }).collect_view()}
            </ul>
        }
    })
}

#[component]
fn Orders(
    orders: Vec<OrderLine>,
    refunds: Vec<RefundView>,
    shares: RwSignal<Vec<OrderShares>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    (!orders.is_empty()).then(|| {
        view! {
            <h3 class="subtitle">"最近订单"</h3>
            <ul class="list" id="orders">
                {orders.into_iter().map(|order| {
                    let order_refunds: Vec<RefundView> = refunds.iter().filter(|r| r.order_id == order.id).cloned().collect();
                    view! { <OrderItem order=order refunds=order_refunds shares=shares reload=reload /> }
                }).collect_view()}
            </ul>
        }
    })
}

#[component]
fn OrderItem(
    order: OrderLine,
    refunds: Vec<RefundView>,
    shares: RwSignal<Vec<OrderShares>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let share_id = order.id.clone();
    let order_shares = move || shares.get().into_iter().find(|s| s.order_id == share_id);
    let amount = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<String, String>>);
    let id = order.id.clone();
    let refundable = matches!(order.state, OrderState::Paid | OrderState::Refunding)
        && order.refunded_fen < order.amount_fen;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let id = id.clone();
        let body = json!({ "amount": amount.get_untracked(), "reason": reason.get_untracked() });
        spawn_local(async move {
            match api::post::<Value, _>(&format!("/api/dash/orders/{id}/refunds"), &body).await {
                Ok(_) => {
                    result.set(Some(Ok("退款已提交".into())));
                    reload();
                }
                Err(e) => result.set(Some(Err(e.message()))),
            }
        });
    };
    view! {
        <li class="order" data-id=order.id.clone() data-state=order.state.as_str()>
            <a href=format!("/o/{}", order.id)>{order.title.clone().unwrap_or_default()}</a>
            {format!(
                " · {} · {} · {} · {}",
                Fen::new(order.amount_fen),
                order.state.label(),
                if order.trade_type == "JSAPI" { "公众号支付" } else { "扫码支付" },
                paytime::display_cst(order.created_at)
            )}
            {(order.refunded_fen > 0).then(|| format!(" · 已退 {}", Fen::new(order.refunded_fen)))}
            <span class="hint">{format!(" 订单号 {}", order.out_trade_no)}</span>
            {refunds.into_iter().map(|r| view! {
                <p class="hint refund" data-state=r.state.as_str()>{format!("退款 {} · {} · {}", Fen::new(r.amount_fen), r.state.label(), r.reason)}</p>
            }).collect_view()}
            {move || order_shares().map(|s| view! {
                <div class="shares" data-status=s.status.clone()>
                    <p class="hint share-status">{format!("分账：{}", s.status_label)}</p>
                    {s.receivers.iter().map(|r| view! {
                        <p class="hint share" data-result=r.result.clone()>{share_line(r)}</p>
                    }).collect_view()}
                    {s.returns.iter().map(|r| view! {
                        <p class="hint share-return" data-result=r.result.clone()>{format!(
                            "退款前从商户 {} 回退 {} · {}",
                            r.return_mchid,
                            Fen::new(r.amount_fen),
                            match r.result.as_str() { "SUCCESS" => "已回退", "FAILED" => "回退失败", _ => "处理中" }
                        )}</p>
                    }).collect_view()}
                </div>
            })}
            {refundable.then(|| view! {
                <button class="button small refund-open" type="button" on:click=move |_| open.update(|o| *o = !*o)>"退款"</button>
            })}
            {move || open.get().then(|| view! {
                <form class="form refund-form" on:submit=submit.clone()>
                    <input class="refund-amount" type="text" inputmode="decimal" placeholder="退款金额（留空为全额）" bind:value=amount />
                    <input class="refund-reason" type="text" placeholder="退款原因（必填）" bind:value=reason />
                    <button class="button small" type="submit">"确认退款"</button>
                </form>
            })}
            {move || result.get().map(|r| match r {
                Ok(t) => view! { <p class="status ok">{t}</p> }.into_any(),
                Err(e) => view! { <p class="status bad" role="alert">{e}</p> }.into_any(),
            })}
        </li>
    }
}
