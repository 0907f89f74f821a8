//! `/dash/books` (对账): a month of days as WeChat Pay's bills left them — 已核对一致, 有差异,
//! 等待账单, 账单被拒收 — and, for a chosen day, its report: each bill, the money per payee
//! (payments, refunds, WeChat's fees, net settled) and every discrepancy with its evidence and
//! what healed it. Data: `GET /api/dash/books?month=YYYY-MM`, `GET /api/dash/books/:date`
//! (a payee sees its own money only). Phone first: one column at 375 px.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use shoukuan_core::bill::reconcile::{DayReport, Discrepancy};
use shoukuan_core::money::Fen;
use shoukuan_core::paytime::{self, ShanghaiDay};

use super::dash_api as api;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct CalendarDay {
    date: String,
    status: String,
    status_label: String,
    discrepancies: u32,
    open: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Calendar {
    month: String,
    days: Vec<CalendarDay>,
}

/// `YYYY-MM` moved by `delta` months.
fn shift_month(month: &str, delta: i32) -> String {
    let (y, m) = month.split_once('-').unwrap_or(("2026", "01"));
    let total = y.parse::<i32>().unwrap_or(2026) * 12 + m.parse::<i32>().unwrap_or(1) - 1 + delta;
    format!(
        "{:04}-{:02}",
        total.div_euclid(12),
        total.rem_euclid(12) + 1
    )
}

fn this_month() -> String {
    let now = (js_sys::Date::now() / 1000.0) as i64;
    ShanghaiDay::of(now).to_date_string()[..7].to_string()
}

fn fen(n: i64) -> String {
    Fen::new(n).to_string()
}

/// The books page.
#[component]
pub fn Books() -> impl IntoView {
    let month = RwSignal::new(this_month());
    let calendar = RwSignal::new(None::<Calendar>);
    let report = RwSignal::new(None::<DayReport>);
    let error = RwSignal::new(None::<String>);
    let load_month = move || {
        let m = month.get_untracked();
        spawn_local(async move {
            match api::get::<Calendar>(&format!("/api/dash/books?month={m}")).await {
                Ok(c) => {
                    calendar.set(Some(c));
                    error.set(None);
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let open_day = move |date: String| {
        spawn_local(async move {
            match api::get::<DayReport>(&format!("/api/dash/books/{date}")).await {
                Ok(r) => report.set(Some(r)),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    load_month();
    let go = move |delta: i32| {
        month.update(|m| *m = shift_month(m, delta));
        report.set(None);
        load_month();
    };
    view! {
        <main class="page" id="books">
            <p><a href="/dash">"← 返回工作台"</a></p>
            <h1 class="title">"对账"</h1>
            <p class="hint">"每天上午 10:30 后自动下载前一天的微信支付账单，与本地订单逐笔核对。"</p>
            {move || error.get().map(|e| view! { <p class="status bad" role="alert">{e}</p> })}
            <div class="row">
                <button class="secondary" on:click=move |_| go(-1)>"上个月"</button>
                <strong>{move || month.get()}</strong>
                <button class="secondary" on:click=move |_| go(1)>"下个月"</button>
            </div>
            {move || calendar.get().map(|c| {
                if c.days.is_empty() {
                    view! { <p class="hint">{format!("{} 还没有账单记录", c.month)}</p> }.into_any()
                } else {
                    view! {
                        <ul class="list" id="book-days">
                            {c.days.into_iter().map(|d| {
                                let date = d.date.clone();
                                let counts = if d.discrepancies > 0 {
                                    format!("差异 {} 笔，未处理 {} 笔", d.discrepancies, d.open)
                                } else {
                                    String::new()
                                };
                                view! {
                                    <li data-status=d.status.clone()>
                                        <button class="link" on:click=move |_| open_day(date.clone())>
                                            {format!("{} · {}", d.date, d.status_label)}
                                        </button>
                                        <span class="hint">{counts}</span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            })}
            {move || report.get().map(|r| view! { <Report report=r /> })}
        </main>
    }
}

#[component]
fn Report(report: DayReport) -> impl IntoView {
    view! {
        <section class="card" id="book-report" data-status=format!("{:?}", report.status)>
            <h2 class="title">{format!("{} · {}", report.date, report.status_label)}</h2>
            <p>{format!("核对一致 {} 笔", report.matched)}</p>
            <ul class="list">
                {report.bills.into_iter().map(|b| {
                    let fund = match (b.fund_income_fen, b.fund_expense_fen) {
                        (Some(i), Some(e)) => format!("；资金账单收入 {}，支出 {}", fen(i), fen(e)),
                        _ => String::new(),
                    };
                    view! {
                        <li>
                            {format!("商户号 {}：{}{fund}", b.merchant, bill_state_label(&b.state))}
                            {b.message.map(|m| view! { <p class="hint">{m}</p> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {report.totals.into_iter().map(|t| view! {
                <div class="limit">
                    <p>{format!("收款 {} 笔 {}，退款 {} 笔 {}", t.payments, fen(t.paid_fen), t.refunds, fen(t.refunded_fen))}</p>
                    <p>{format!("微信支付手续费 {}，净结算 {}", fen(t.fees_fen), fen(t.net_fen))}</p>
                </div>
            }).collect_view()}
            {(!report.discrepancies.is_empty()).then(|| view! {
                <h3>"差异"</h3>
                <ul class="list" id="book-discrepancies">
                    {report.discrepancies.into_iter().map(|d| view! { <DiscrepancyLine d=d /> }).collect_view()}
                </ul>
            })}
        </section>
    }
}

fn bill_state_label(state: &str) -> &'static str {
    match state {
        "done" => "已下载并核对",
        "no_bill" => "当日无交易",
        "refused" => "账单未通过校验，已拒收",
        "missing" => "中午前仍未取得账单",
        _ => "等待账单",
    }
}

#[component]
fn DiscrepancyLine(d: Discrepancy) -> impl IntoView {
    let healed = d.healed_at.map(|t| {
        format!(
            "已自动处理（{}）：{}",
            paytime::display_cst(t),
            d.heal.clone().unwrap_or_default()
        )
    });
    let pending_heal = match (&d.healed_at, &d.heal) {
        (None, Some(h)) => Some(h.clone()),
        _ => None,
    };
    view! {
        <li data-kind=d.kind.as_str()>
            <p><strong>{d.kind.label()}</strong></p>
            <p>{d.message.clone()}</p>
            {d.transaction_id.clone().map(|t| view! { <p class="hint">{format!("微信订单号 {t}")}</p> })}
            {healed.map(|h| view! { <p class="status good">{h}</p> })}
            {pending_heal.map(|h| view! { <p class="warning">{h}</p> })}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_shift_across_years() {
        assert_eq!(shift_month("2026-01", -1), "2025-12");
        assert_eq!(shift_month("2026-12", 1), "2027-01");
        assert_eq!(shift_month("2026-11", 0), "2026-11");
    }
}
