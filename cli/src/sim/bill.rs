//! Trade bills: `GET /v3/bill/tradebill` answers a `download_url` (plus the SHA-1 of the file),
//! and the download (signed request, unsigned answer) is the CSV in WeChat's format — a header
//! line, one line per payment and refund with every field prefixed by `` ` ``, then a summary
//! header and line. Amounts are in yuan. Bills exist only for past days (China time), as
//! WeChat makes yesterday's bill the next morning.

use axum::http::StatusCode;
use serde_json::json;
use sha1::{Digest as _, Sha1};

use super::pay::{ok, query_error, PayResult, Reply, Request};
use super::state::{BillFile, Order, Refund};
use super::{china_date, china_datetime, now, random_alnum, PayError, Sim};

/// How long a download link works, in seconds.
const LINK_SECS: i64 = 300;

const ALL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const SUCCESS_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注";
const REFUND_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const SUMMARY_HEADER: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

/// The simulated merchant's fee rate: 0.6 %.
const FEE_PER_MILLE: i64 = 6;

/// Fen as yuan with two decimals.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

/// The 0.6 % fee of `fen`, in yuan with five decimals (WeChat's precision).
fn fee(fen: i64) -> String {
    // fen × 6/1000 fen = fen × 6 units of 0.00001 yuan.
    let units = (fen * FEE_PER_MILLE).abs();
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:05}", units / 100_000, units % 100_000)
}

fn row(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| format!("`{}", f.replace(',', "，")))
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Default)]
struct Totals {
    count: usize,
    settled: i64,
    refunded: i64,
    fees: i64,
    ordered: i64,
    requested_refunds: i64,
}

fn payment_row(order: &Order, kind: &str) -> Vec<String> {
    let paid_at = order.success_time.unwrap_or(order.created_at);
    let mut fields = vec![
        china_datetime(paid_at),
        order.appid.clone(),
        order.mchid.clone(),
        "0".into(),
        String::new(),
        order.transaction_id.clone().unwrap_or_default(),
        order.out_trade_no.clone(),
        order.openid.clone().unwrap_or_default(),
        order.trade_type.clone(),
        "SUCCESS".into(),
        "OTHERS".into(),
        "CNY".into(),
        yuan(order.total),
        "0.00".into(),
    ];
    if kind == "ALL" {
        fields.extend([
            "0".into(),
            "0".into(),
            "0.00".into(),
            "0.00".into(),
            String::new(),
            String::new(),
        ]);
    }
    fields.extend([
        order.description.clone(),
        order.attach.clone().unwrap_or_default(),
        fee(order.total),
        "0.60%".into(),
        yuan(order.total),
    ]);
    if kind == "ALL" {
        fields.push("0.00".into());
    }
    fields.push(String::new());
    fields
}

fn refund_row(order: &Order, refund: &Refund, kind: &str) -> Vec<String> {
    let mut fields = vec![
        china_datetime(refund.created_at),
        order.appid.clone(),
        order.mchid.clone(),
        "0".into(),
        String::new(),
        refund.transaction_id.clone(),
        refund.out_trade_no.clone(),
        order.openid.clone().unwrap_or_default(),
        order.trade_type.clone(),
        "REFUND".into(),
        "OTHERS".into(),
        "CNY".into(),
        "0.00".into(),
        "0.00".into(),
    ];
    if kind == "REFUND" {
        fields.push(china_datetime(refund.created_at));
        fields.push(refund.success_time.map(china_datetime).unwrap_or_default());
    }
    fields.extend([
        refund.refund_id.clone(),
        refund.out_refund_no.clone(),
        yuan(refund.refund),
        "0.00".into(),
        "ORIGINAL".into(),
        refund.status.clone(),
        order.description.clone(),
        order.attach.clone().unwrap_or_default(),
        fee(-refund.refund),
        "0.60%".into(),
        "0.00".into(),
        yuan(refund.refund),
        String::new(),
    ]);
    fields
}

/// The bill of `date` (yyyy-MM-dd, China time), or None when nothing happened that day.
fn build(sim: &Sim, date: &str, kind: &str) -> Option<String> {
    let state = sim.state();
    let mut rows = Vec::new();
    let mut totals = Totals::default();
    if kind != "REFUND" {
        for order in state.orders.values() {
            let Some(paid_at) = order.success_time else {
                continue;
            };
            if china_date(paid_at) != date {
                continue;
            }
            rows.push((paid_at, row(&payment_row(order, kind))));
            totals.count += 1;
            totals.settled += order.total;
            totals.ordered += order.total;
            totals.fees += order.total * FEE_PER_MILLE;
        }
    }
    if kind != "SUCCESS" {
        for refund in state.refunds.values() {
            if china_date(refund.created_at) != date {
                continue;
            }
            let Some(order) = state.orders.get(&refund.out_trade_no) else {
                continue;
            };
            rows.push((refund.created_at, row(&refund_row(order, refund, kind))));
            totals.count += 1;
            totals.refunded += refund.refund;
            totals.requested_refunds += refund.refund;
            totals.fees -= refund.refund * FEE_PER_MILLE;
        }
    }
    if rows.is_empty() {
        return None;
    }
    rows.sort_by_key(|(t, _)| *t);
    let header = match kind {
        "SUCCESS" => SUCCESS_HEADER,
        "REFUND" => REFUND_HEADER,
        _ => ALL_HEADER,
    };
    let mut csv = String::from(header);
    csv.push_str("\r\n");
    for (_, line) in rows {
        csv.push_str(&line);
        csv.push_str("\r\n");
    }
    csv.push_str(SUMMARY_HEADER);
    csv.push_str("\r\n");
    let fees = {
        let units = totals.fees.abs();
        let sign = if totals.fees < 0 { "-" } else { "" };
        format!("{sign}{}.{:05}", units / 100_000, units % 100_000)
    };
    csv.push_str(&row(&[
        totals.count.to_string(),
        yuan(totals.settled),
        yuan(totals.refunded),
        "0.00".into(),
        fees,
        yuan(totals.ordered),
        yuan(totals.requested_refunds),
    ]));
    csv.push_str("\r\n");
    Some(csv)
}

/// `GET /v3/bill/tradebill?bill_date=…[&bill_type=ALL|SUCCESS|REFUND]`.
pub fn trade_bill(sim: &Sim, request: &Request<'_>) -> PayResult {
    let bill_date = request.query_required("bill_date")?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(&bill_date, format)
        .map_err(|_| query_error("bill_date", "日期格式错误，应为yyyy-MM-DD"))?;
    let kind = request
        .query_optional("bill_type")
        .unwrap_or_else(|| "ALL".into());
    if !["ALL", "SUCCESS", "REFUND"].contains(&kind.as_str()) {
        return Err(query_error(
            "bill_type",
            "枚举值错误，应为ALL、SUCCESS或REFUND",
        ));
    }
    if let Some(tar) = request.query_optional("tar_type") {
        return Err(query_error(
            "tar_type",
            &format!("{tar}：模拟器只提供不压缩的账单，请不传tar_type"),
        ));
    }
    let today_text = china_date(now());
    let today = time::Date::parse(&today_text, format).map_err(PayError::system)?;
    if date > today {
        return Err(query_error("bill_date", "账单日期不能晚于今天"));
    }
    if date == today {
        return Err(PayError::new(
            StatusCode::BAD_REQUEST,
            "STATEMENT_CREATING",
            "账单生成中，当日账单请在次日10点以后下载",
        ));
    }
    if (today - date).whole_days() > 92 {
        return Err(PayError::invalid("仅支持三个月内的账单下载申请"));
    }
    let csv = build(sim, &bill_date, &kind).ok_or_else(|| {
        PayError::new(
            StatusCode::BAD_REQUEST,
            "NO_STATEMENT_EXIST",
            "账单文件不存在，请检查当前商户号在指定日期内是否有成功的交易",
        )
    })?;
    let hash = hex::encode(Sha1::digest(csv.as_bytes()));
    let token = random_alnum(32);
    sim.state().bills.insert(
        token.clone(),
        BillFile {
            csv,
            expires_at: now() + LINK_SECS,
        },
    );
    ok(json!({
        "hash_type": "SHA1",
        "hash_value": hash,
        "download_url": format!("http://{}/v3/billdownload/file?token={token}", request.host),
    }))
}

/// `GET /v3/billdownload/file?token=…`: the CSV itself.
pub fn download(sim: &Sim, request: &Request<'_>) -> PayResult {
    let token = request.query_required("token")?;
    let mut state = sim.state();
    let now = now();
    state.bills.retain(|_, b| b.expires_at > now);
    let file = state
        .bills
        .get(&token)
        .ok_or_else(|| PayError::invalid("下载链接无效或已过期，请重新申请账单"))?;
    Ok(Reply::File(file.csv.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_in_yuan() {
        assert_eq!(yuan(1), "0.01");
        assert_eq!(yuan(12345), "123.45");
        assert_eq!(yuan(-150), "-1.50");
        assert_eq!(fee(100), "0.00600");
        assert_eq!(fee(100_000), "6.00000");
        assert_eq!(fee(-100), "-0.00600");
    }

    #[test]
    fn every_field_is_backquoted() {
        assert_eq!(row(&["a".into(), "1.00".into()]), "`a,`1.00");
    }
}
