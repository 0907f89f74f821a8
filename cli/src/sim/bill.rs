//! Bills (PROTOCOL-2 §1). `GET /v3/bill/tradebill` (`bill_type` ALL | SUCCESS | REFUND,
//! `sub_mchid` for a service provider's sub-merchant) and `GET /v3/bill/fundflowbill`
//! (`account_type` BASIC) answer `{hash_type: "SHA1", hash_value, download_url}`; the download
//! (`GET /v3/billdownload/file?token=…`, signed request, **unsigned** answer) is the file in
//! WeChat's exact format (`core::bill`), gzipped when `tar_type=GZIP` was asked for, and
//! `hash_value` is the SHA-1 of the **uncompressed** file. Links live 5 minutes.
//!
//! Bills exist only for past China days, from 10:00 the next morning: before that the answer is
//! `400 STATEMENT_CREATING`; a day without payments or refunds is `400 NO_STATEMENT_EXIST`; a
//! date more than 3 months back or in the future is `400 INVALID_REQUEST` / `PARAM_ERROR`; an
//! unrelated `sub_mchid` is `403 NO_AUTH`; an expired or unknown token `400 INVALID_REQUEST`.
//!
//! Control (`/sim/bills…`, for tests; JSON, unsigned):
//!
//! ```text
//! GET|POST /sim/bills   {clock_offset_secs?, tamper?, amounts?: {out_trade_no: fen}}
//!     clock_offset_secs: the bill clock runs this far ahead of the real one, so a test can ask
//!       for "today's" bill as if it were tomorrow 10:30 (only bills see this clock)
//!     tamper: downloads are altered after hashing (the file no longer matches hash_value)
//!     amounts: the bill shows this 订单金额 for the order instead of what was paid
//! POST /sim/bills/refund  {out_trade_no, refund (fen), out_refund_no?}: a refund made outside
//!     the merchant's system (e.g. in the merchant platform): it succeeds at once and sends no
//!     callback, so only WeChat knows it
//! ```
//!
//! A payment whose callback never arrives is `POST /sim/pay {…, "no_callback": true}`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shoukuan_core::bill::fund::{Direction, FundBill, FundRow};
use shoukuan_core::bill::trade::{TradeBill, TradeKind, TradeRow};
use shoukuan_core::bill::{gzip, parse_bill_date, sha1_hex};
use shoukuan_core::money::Fen;
use shoukuan_core::paytime::ShanghaiDay;

use super::partner;
use super::pay::{ok, query_error, PayResult, Reply, Request};
use super::state::{BillFile, Order, Refund};
use super::{now, random_alnum, random_digits, PayError, Shared, Sim};

/// How long a download link works, in seconds.
const LINK_SECS: i64 = 300;

/// The simulated merchant's fee rate: 0.6 %, i.e. 6 milli-fen per fen.
const FEE_MILLI_PER_FEN: i64 = 6;

/// Bills are made by 10:00 the next morning (China time).
const READY_SECS_AFTER_MIDNIGHT: i64 = 10 * 3600;

/// Test switches (see the module docs).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BillControls {
    /// The bill clock's lead over the real clock, seconds.
    #[serde(default)]
    pub clock_offset_secs: i64,
    /// Alter downloads after hashing.
    #[serde(default)]
    pub tamper: bool,
    /// 订单金额 shown instead of the paid amount, by out_trade_no.
    #[serde(default)]
    pub amounts: BTreeMap<String, i64>,
}

fn fee(fen: i64) -> i64 {
    fen * FEE_MILLI_PER_FEN
}

fn payment_row(order: &Order, paid_at: i64, shown: i64) -> TradeRow {
    TradeRow {
        time: paid_at,
        appid: order.appid.clone(),
        mchid: order.mchid.clone(),
        sub_mchid: order.sub_mchid.clone().unwrap_or_else(|| "0".into()),
        device: String::new(),
        transaction_id: order.transaction_id.clone().unwrap_or_default(),
        out_trade_no: order.out_trade_no.clone(),
        openid: order.openid.clone().unwrap_or_default(),
        trade_type: order.trade_type.clone(),
        state: "SUCCESS".into(),
        bank: "OTHERS".into(),
        currency: "CNY".into(),
        settled: Fen::new(shown),
        coupon: Fen::ZERO,
        refund_requested_at: None,
        refund_succeeded_at: None,
        refund_id: "0".into(),
        out_refund_no: "0".into(),
        refund: Fen::ZERO,
        coupon_refund: Fen::ZERO,
        refund_type: String::new(),
        refund_status: String::new(),
        description: order.description.clone(),
        attach: order.attach.clone().unwrap_or_default(),
        fee_milli_fen: fee(shown),
        rate: "0.60%".into(),
        total: Fen::new(shown),
        refund_requested: Fen::ZERO,
        rate_note: String::new(),
    }
}

fn refund_row(order: &Order, refund: &Refund) -> TradeRow {
    TradeRow {
        time: refund.created_at,
        state: "REFUND".into(),
        transaction_id: refund.transaction_id.clone(),
        settled: Fen::ZERO,
        total: Fen::ZERO,
        refund_requested_at: Some(refund.created_at),
        refund_succeeded_at: refund.success_time,
        refund_id: refund.refund_id.clone(),
        out_refund_no: refund.out_refund_no.clone(),
        refund: Fen::new(refund.refund),
        refund_requested: Fen::new(refund.refund),
        refund_type: "ORIGINAL".into(),
        refund_status: refund.status.clone(),
        fee_milli_fen: -fee(refund.refund),
        ..payment_row(order, refund.created_at, 0)
    }
}

/// Which orders a bill covers: one sub-merchant's, or (no `sub_mchid`) the merchant's own.
fn covers(order: &Order, sub_mchid: Option<&str>) -> bool {
    order.sub_mchid.as_deref() == sub_mchid
}

/// The trade bill of `day`, or None when nothing happened that day.
fn trade_bill(sim: &Sim, day: ShanghaiDay, kind: TradeKind, sub: Option<&str>) -> Option<String> {
    let state = sim.state();
    let mut rows = Vec::new();
    if kind != TradeKind::Refund {
        for order in state.orders.values().filter(|o| covers(o, sub)) {
            let Some(paid_at) = order.success_time else {
                continue;
            };
            if ShanghaiDay::of(paid_at) == day {
                let shown = state
                    .bill_controls
                    .amounts
                    .get(&order.out_trade_no)
                    .copied()
                    .unwrap_or(order.total);
                rows.push(payment_row(order, paid_at, shown));
            }
        }
    }
    if kind != TradeKind::Success {
        for refund in state.refunds.values() {
            let Some(order) = state.orders.get(&refund.out_trade_no) else {
                continue;
            };
            if covers(order, sub) && ShanghaiDay::of(refund.created_at) == day {
                rows.push(refund_row(order, refund));
            }
        }
    }
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| (a.time, &a.out_trade_no).cmp(&(b.time, &b.out_trade_no)));
    if kind == TradeKind::Success {
        for row in &mut rows {
            row.refund_id.clear();
            row.out_refund_no.clear();
        }
    }
    Some(TradeBill { kind, rows }.render())
}

/// The BASIC fund-flow bill of `day`: money into and out of the merchant's own basic account
/// (a service provider's account does not receive its sub-merchants' payments).
fn fund_bill(sim: &Sim, day: ShanghaiDay) -> Option<String> {
    let state = sim.state();
    let mut moves: Vec<(i64, Direction, i64, String, String, &str)> = Vec::new();
    for order in state.orders.values().filter(|o| covers(o, None)) {
        if let (Some(paid_at), Some(tx)) = (order.success_time, &order.transaction_id) {
            if ShanghaiDay::of(paid_at) == day {
                moves.push((
                    paid_at,
                    Direction::In,
                    order.total,
                    tx.clone(),
                    tx.clone(),
                    "交易",
                ));
            }
        }
    }
    for refund in state.refunds.values() {
        let direct = state
            .orders
            .get(&refund.out_trade_no)
            .is_some_and(|o| covers(o, None));
        if direct && ShanghaiDay::of(refund.created_at) == day {
            moves.push((
                refund.created_at,
                Direction::Out,
                refund.refund,
                refund.refund_id.clone(),
                format!("REF{}", refund.transaction_id),
                "退款",
            ));
        }
    }
    if moves.is_empty() {
        return None;
    }
    moves.sort_by_key(|m| m.0);
    let mut balance = 0;
    let rows = moves
        .into_iter()
        .enumerate()
        .map(
            |(i, (time, direction, amount, business_no, voucher, name))| {
                balance += if direction == Direction::In {
                    amount
                } else {
                    -amount
                };
                FundRow {
                    time,
                    business_no,
                    flow_no: format!("1900{}{:06}", day.to_date_string().replace('-', ""), i + 1),
                    name: name.into(),
                    kind: name.into(),
                    direction,
                    amount: Fen::new(amount),
                    balance: Fen::new(balance),
                    applicant: "system".into(),
                    note: String::new(),
                    voucher,
                }
            },
        )
        .collect();
    Some(FundBill { rows }.render())
}

/// The bill clock (China time as bills see it).
fn bill_now(sim: &Sim) -> i64 {
    now() + sim.state().bill_controls.clock_offset_secs
}

/// Checks `bill_date` against the bill clock: past, within 3 months, and made already.
fn check_date(sim: &Sim, request: &Request<'_>, ready_note: &str) -> Result<ShanghaiDay, PayError> {
    let text = request.query_required("bill_date")?;
    let day = parse_bill_date(&text)
        .ok_or_else(|| query_error("bill_date", "日期格式错误，应为yyyy-MM-DD"))?;
    let now = bill_now(sim);
    let today = ShanghaiDay::of(now);
    if day > today {
        return Err(query_error("bill_date", "账单日期不能晚于今天"));
    }
    let ready = day < today
        && !(day.number() + 1 == today.number() && now - today.start() < READY_SECS_AFTER_MIDNIGHT);
    if !ready {
        return Err(PayError::new(
            StatusCode::BAD_REQUEST,
            "STATEMENT_CREATING",
            format!("账单生成中，{ready_note}"),
        ));
    }
    if today.number() - day.number() > 92 {
        return Err(PayError::invalid("仅支持三个月内的账单下载申请"));
    }
    Ok(day)
}

fn no_statement() -> PayError {
    PayError::new(
        StatusCode::BAD_REQUEST,
        "NO_STATEMENT_EXIST",
        "账单文件不存在，请检查当前商户号在指定日期内是否有成功的交易",
    )
}

/// Stores a file behind a fresh token and answers the apply call.
fn offer(sim: &Sim, request: &Request<'_>, text: String) -> PayResult {
    let gzipped = match request.query_optional("tar_type").as_deref() {
        None => false,
        Some("GZIP") => true,
        Some(_) => return Err(query_error("tar_type", "枚举值错误，仅支持GZIP")),
    };
    let hash = sha1_hex(text.as_bytes());
    let token = random_alnum(32);
    sim.state().bills.insert(
        token.clone(),
        BillFile {
            csv: text,
            expires_at: now() + LINK_SECS,
            gzip: gzipped,
        },
    );
    let tar = if gzipped { "&tartype=gzip" } else { "" };
    ok(json!({
        "hash_type": "SHA1",
        "hash_value": hash,
        "download_url": format!("http://{}/v3/billdownload/file?token={token}{tar}", request.host),
    }))
}

/// `GET /v3/bill/tradebill?bill_date=…[&bill_type=ALL|SUCCESS|REFUND][&tar_type=GZIP][&sub_mchid=…]`.
pub fn trade_bill_apply(sim: &Sim, request: &Request<'_>) -> PayResult {
    let kind = match request.query_optional("bill_type").as_deref() {
        None | Some("ALL") => TradeKind::All,
        Some("SUCCESS") => TradeKind::Success,
        Some("REFUND") => TradeKind::Refund,
        Some(_) => {
            return Err(query_error(
                "bill_type",
                "枚举值错误，应为ALL、SUCCESS或REFUND",
            ))
        }
    };
    let sub = request.query_optional("sub_mchid");
    if let Some(sub) = &sub {
        partner::check_relation(&sim.state(), sub)?;
    }
    let day = check_date(sim, request, "交易账单请在次日上午10点以后下载")?;
    let text = trade_bill(sim, day, kind, sub.as_deref()).ok_or_else(no_statement)?;
    offer(sim, request, text)
}

/// `GET /v3/bill/fundflowbill?bill_date=…[&account_type=BASIC][&tar_type=GZIP]`.
pub fn fund_bill_apply(sim: &Sim, request: &Request<'_>) -> PayResult {
    match request.query_optional("account_type").as_deref() {
        None | Some("BASIC") => {}
        Some("OPERATION" | "FEES") => return Err(no_statement()),
        Some(_) => {
            return Err(query_error(
                "account_type",
                "枚举值错误，应为BASIC、OPERATION或FEES",
            ))
        }
    }
    let day = check_date(sim, request, "资金账单请在次日上午10点以后下载")?;
    let text = fund_bill(sim, day).ok_or_else(no_statement)?;
    offer(sim, request, text)
}

/// `GET /v3/billdownload/file?token=…`: the file itself (unsigned).
pub fn download(sim: &Sim, request: &Request<'_>) -> PayResult {
    let token = request.query_required("token")?;
    let mut state = sim.state();
    let now = now();
    state.bills.retain(|_, b| b.expires_at > now);
    let file = state
        .bills
        .get(&token)
        .ok_or_else(|| PayError::invalid("下载链接无效或已过期，请重新申请账单"))?;
    let mut text = file.csv.clone();
    if state.bill_controls.tamper {
        // One amount changed after hashing: what a corrupted or forged file looks like.
        text = text.replacen("`0.", "`9.", 1);
    }
    Ok(if file.gzip {
        Reply::File(gzip::gzip(text.as_bytes()), "application/x-gzip")
    } else {
        Reply::File(text.into_bytes(), "text/plain; charset=utf-8")
    })
}

/// The `/sim/bills…` control routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/sim/bills", get(get_controls).post(set_controls))
        .route("/sim/bills/refund", post(outside_refund))
}

async fn get_controls(State(sim): State<Shared>) -> Json<Value> {
    Json(json!(sim.state().bill_controls))
}

#[derive(Deserialize)]
struct SetControls {
    clock_offset_secs: Option<i64>,
    tamper: Option<bool>,
    amounts: Option<BTreeMap<String, i64>>,
}

async fn set_controls(State(sim): State<Shared>, Json(set): Json<SetControls>) -> Json<Value> {
    let mut state = sim.state();
    let controls = &mut state.bill_controls;
    if let Some(offset) = set.clock_offset_secs {
        controls.clock_offset_secs = offset;
    }
    if let Some(tamper) = set.tamper {
        controls.tamper = tamper;
    }
    if let Some(amounts) = set.amounts {
        controls.amounts.extend(amounts);
    }
    Json(json!(controls))
}

#[derive(Deserialize)]
struct OutsideRefund {
    out_trade_no: String,
    refund: i64,
    out_refund_no: Option<String>,
}

async fn outside_refund(
    State(sim): State<Shared>,
    Json(body): Json<OutsideRefund>,
) -> Result<Json<Value>, PayError> {
    let mut state = sim.state();
    let now = now();
    let order = state
        .orders
        .get_mut(&body.out_trade_no)
        .ok_or_else(|| PayError::new(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"))?;
    let Some(transaction_id) = order.transaction_id.clone() else {
        return Err(PayError::invalid("订单未支付，不能退款"));
    };
    if body.refund <= 0 || order.refunded + body.refund > order.total {
        return Err(PayError::new(
            StatusCode::BAD_REQUEST,
            "NOT_ENOUGH",
            "可退金额不足",
        ));
    }
    order.refunded += body.refund;
    order.state = super::state::OrderState::Refund;
    let refund = Refund {
        refund_id: format!(
            "5030{}{}",
            &transaction_id[4..transaction_id.len().min(16)],
            random_digits(12)
        ),
        sub_mchid: order.sub_mchid.clone(),
        out_refund_no: body
            .out_refund_no
            .unwrap_or_else(|| format!("MP{}", random_digits(16))),
        transaction_id,
        out_trade_no: body.out_trade_no.clone(),
        refund: body.refund,
        total: order.total,
        reason: Some("商户平台退款".into()),
        notify_url: None,
        funds_account: None,
        status: "SUCCESS".into(),
        created_at: now,
        success_time: Some(now),
        fingerprint: Value::Null,
    };
    let answer = json!({
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund": refund.refund,
    });
    state.refunds.insert(refund.out_refund_no.clone(), refund);
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_is_six_per_mille() {
        // 0.6 % of ¥1.00 is 0.6 fen = 0.00600 yuan in the bill.
        assert_eq!(fee(100), 600);
        assert_eq!(shoukuan_core::bill::format_fee(fee(100)), "0.00600");
    }
}
