//! The dashboard's 账务导出 section: payments and refunds of a day or a range (Asia/Shanghai
//! days) as CSV (Excel / WPS) or JSON, straight from `/api/dash/exports/:kind` (the session
//! cookie goes along with a plain link), followed by the accounting webhooks section.

use leptos::prelude::*;

/// `/api/dash/exports/<kind>?date=…[&to=…]&format=…`; `to` only when it differs from `from`.
pub fn export_href(kind: &str, from: &str, to: &str, format: &str) -> String {
    let mut href = format!(
        "/api/dash/exports/{kind}?date={}",
        shoukuan_core::urlenc::encode_component(from.trim())
    );
    if !to.trim().is_empty() && to.trim() != from.trim() {
        href.push_str(&format!(
            "&to={}",
            shoukuan_core::urlenc::encode_component(to.trim())
        ));
    }
    href.push_str(&format!("&format={format}"));
    href
}

fn today() -> String {
    let now = (js_sys::Date::now() / 1000.0) as i64;
    shoukuan_core::paytime::ShanghaiDay::of(now).to_date_string()
}

/// 账务导出 and, below it, 推送到财务系统.
#[component]
pub fn Exports() -> impl IntoView {
    let from = RwSignal::new(today());
    let to = RwSignal::new(String::new());
    let link = move |kind: &'static str, format: &'static str| {
        move || export_href(kind, &from.get(), &to.get(), format)
    };
    view! {
        <section class="card" id="exports">
            <h2 class="title">"账务导出"</h2>
            <p class="hint">"按北京时间自然日导出已支付的订单和退款。CSV 可直接用 Excel 或 WPS 打开。"</p>
            <label class="label" for="export_from">"开始日期"</label>
            <input id="export_from" class="input" type="date" bind:value=from />
            <label class="label" for="export_to">"结束日期（可不填）"</label>
            <input id="export_to" class="input" type="date" bind:value=to />
            <p>
                <a id="export_payments_csv" class="button small" href=link("payments", "csv")>"收款 CSV"</a>" "
                <a class="button small" href=link("payments", "json")>"收款 JSON"</a>" "
                <a id="export_refunds_csv" class="button small" href=link("refunds", "csv")>"退款 CSV"</a>" "
                <a class="button small" href=link("refunds", "json")>"退款 JSON"</a>" "
                <a id="export_report_csv" class="button small" href=link("report", "csv")>"对账日报 CSV（含手续费）"</a>
            </p>
        </section>
        <super::webhooks::Webhooks />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_name_the_range_only_when_it_is_one() {
        assert_eq!(
            export_href("payments", "2026-11-28", "", "csv"),
            "/api/dash/exports/payments?date=2026-11-28&format=csv"
        );
        assert_eq!(
            export_href("refunds", "2026-11-01", "2026-11-30", "json"),
            "/api/dash/exports/refunds?date=2026-11-01&to=2026-11-30&format=json"
        );
        assert_eq!(
            export_href("payments", "2026-11-28", "2026-11-28", "csv"),
            "/api/dash/exports/payments?date=2026-11-28&format=csv"
        );
    }
}
