//! `/o/:id`, the order page: where a payer waits after paying (JSAPI) or scans the Native QR
//! (outside WeChat), with the order's real state — polled with backoff (1 s doubling to 15 s,
//! jittered; `refresh=1` lets the worker ask WeChat Pay itself while it waits) until it is
//! settled — and the receipt once paid. `ok` from WeChat's cashier never counts here: only the
//! worker's state, confirmed by a verified callback or query, does.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shoukuan_core::money::Fen;
use shoukuan_core::order::{poll_delay_ms, OrderState, OrderView, PayMethod};
use shoukuan_core::page::QR_CSS_PX;
use shoukuan_core::{paytime, qr};

use crate::api;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Loading,
    Ready(OrderView),
    NotFound,
    Failed(String),
}

/// Polls of one page view before it asks the payer to reload (≈ 30 minutes at 15 s).
const MAX_POLLS: u32 = 120;

fn jitter() -> u32 {
    (js_sys::Math::random() * 1000.0) as u32
}

/// The order page.
#[component]
pub fn Order(id: String) -> impl IntoView {
    crate::set_title("订单");
    let state = RwSignal::new(State::Loading);
    poll(id, state, 0);
    let body = move || {
        match state.get() {
        State::Loading => view! {
            <article class="card loading-card" aria-busy="true"><p class="hint">"加载中…"</p></article>
        }
        .into_any(),
        State::NotFound => view! {
            <article class="card empty-card">
                <h1 class="title">"找不到这个订单"</h1>
                <p class="hint">"链接可能不完整，请回到收款页面重新付款。"</p>
            </article>
        }
        .into_any(),
        State::Failed(message) => view! {
            <article class="card error-card">
                <h1 class="title">"网络不太好"</h1>
                <p class="hint">{message}</p>
                <button class="button" type="button" on:click=|_| reload()>"重试"</button>
            </article>
        }
        .into_any(),
        State::Ready(order) => order_card(order).into_any(),
    }
    };
    view! { <main class="page">{body}</main> }
}

fn reload() {
    if let Some(w) = web_sys::window() {
        let _ = w.location().reload();
    }
}

/// Loads the order now and, while it is not settled, again after the backoff delay.
fn poll(id: String, state: RwSignal<State>, n: u32) {
    spawn_local(async move {
        let refresh = n > 0;
        match api::order(&id, refresh).await {
            Ok(order) => {
                let settled = order.is_settled();
                crate::set_title(order.state.label());
                state.set(State::Ready(order));
                if settled {
                    return;
                }
            }
            Err(e) if e.is_not_found() => {
                state.set(State::NotFound);
                return;
            }
            // Keep what is shown and try again: a phone network drops now and then.
            Err(e) => {
                if state.with_untracked(|s| *s == State::Loading) {
                    state.set(State::Failed(e.message()));
                }
            }
        }
        if n < MAX_POLLS {
            let delay = poll_delay_ms(n, jitter());
            set_timeout(
                move || poll(id, state, n + 1),
                Duration::from_millis(u64::from(delay)),
            );
        }
    });
}

fn row(label: &'static str, value: String, id: &'static str) -> impl IntoView {
    view! { <div class="receipt-row"><span class="label">{label}</span><span id=id>{value}</span></div> }
}

fn order_card(order: OrderView) -> impl IntoView {
    let amount = Fen::new(order.amount_fen).to_string();
    let status = match order.state {
        OrderState::Pending => match order.method {
            PayMethod::Native => "等待扫码付款",
            PayMethod::Jsapi | PayMethod::H5 => "正在等待微信支付确认…",
        },
        other => other.label(),
    };
    let detail = match (order.state, order.method, order.code_url.clone()) {
        (OrderState::Pending, PayMethod::Native, Some(code_url)) => {
            let src = qr::png_data_url(&code_url, QR_CSS_PX * 2).unwrap_or_default();
            view! {
                <figure class="qr">
                    <img id="order-qr" class="qr-img" src=src alt="微信支付二维码" width=QR_CSS_PX height=QR_CSS_PX />
                    <figcaption class="qr-hint">"请用微信「扫一扫」扫描二维码付款"</figcaption>
                </figure>
                <p class="hint">"在手机微信里点右上角「+」→「扫一扫」对准屏幕上的二维码。长按识别或从相册识别无法完成支付。付款后本页自动更新。"</p>
            }
            .into_any()
        }
        (OrderState::Pending, _, _) => view! {
            <p class="hint">"付款后本页会自动更新，无需刷新。微信显示支付成功后，到账以微信支付的确认为准。"</p>
        }
        .into_any(),
        (OrderState::Closed, _, _) => view! {
            <p class="closed">"订单已关闭（超时未支付或已取消），没有扣款。"</p>
            <a class="button" href=format!("/c/{}", order.collection_id)>"重新付款"</a>
        }
        .into_any(),
        (_, _, _) => {
            let paid_at = order.paid_at.map(paytime::display_cst).unwrap_or_default();
            let refunded = (order.refunded_fen > 0).then(|| {
                row("已退款", Fen::new(order.refunded_fen).to_string(), "receipt-refunded")
            });
            view! {
                <section id="receipt" class="receipt">
                    <h2 class="subtitle">"付款凭证"</h2>
                    {row("收款方", order.payee_name.clone(), "receipt-payee")}
                    {row("金额", amount.clone(), "receipt-amount")}
                    {row("支付时间", paid_at, "receipt-time")}
                    {row("微信支付单号", order.transaction_id.clone().unwrap_or_default(), "receipt-transaction")}
                    {row("订单号", order.out_trade_no.clone(), "receipt-order")}
                    {refunded}
                </section>
            }
            .into_any()
        }
    };
    view! {
        <article class="card pay-card order-card">
            <header class="payee">
                <div class="avatar" aria-hidden="true">{order.payee_name.chars().take(1).collect::<String>()}</div>
                <div><div class="payee-name">{order.payee_name.clone()}</div><div class="payee-sub">{order.title.clone()}</div></div>
            </header>
            <div class="amount">{amount.clone()}</div>
            <p id="order-state" class="order-state" data-state=order.state.as_str() aria-live="polite">{status}</p>
            {detail}
        </article>
    }
}
