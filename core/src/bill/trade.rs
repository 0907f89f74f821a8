//! The trade bill (交易账单): `ALL` (27 columns), `SUCCESS` (20) and `REFUND` (29) column sets,
//! then `总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额`.
//! In `ALL` a refund is its own row with `交易状态 = REFUND`.

use serde::{Deserialize, Serialize};

use super::{
    check_total, format_cst_time, format_fee, format_fen, lines, parse_cst_time, parse_fee,
    parse_fen, read, values, write_line, BillError, Columns,
};
use crate::money::Fen;

/// The column set of a trade bill (`bill_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TradeKind {
    /// Payments and refunds.
    All,
    /// Payments only.
    Success,
    /// Refunds only, with request and success times.
    Refund,
}

impl TradeKind {
    /// The header line WeChat writes.
    pub fn header(self) -> &'static str {
        match self {
            TradeKind::All => ALL_HEADER,
            TradeKind::Success => SUCCESS_HEADER,
            TradeKind::Refund => REFUND_HEADER,
        }
    }

    /// `bill_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            TradeKind::All => "ALL",
            TradeKind::Success => "SUCCESS",
            TradeKind::Refund => "REFUND",
        }
    }
}

/// `ALL`.
pub const ALL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
/// `SUCCESS`.
pub const SUCCESS_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注";
/// `REFUND`.
pub const REFUND_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
/// The summary header of every trade bill.
pub const SUMMARY_HEADER: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

/// One detail row. Columns a bill type does not have read as empty / zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeRow {
    /// 交易时间 (Unix seconds; payment time, or the refund's initiation time).
    pub time: i64,
    /// 公众账号ID.
    pub appid: String,
    /// 商户号 (the service provider in the partner model).
    pub mchid: String,
    /// 特约商户号 (`0` for a direct merchant).
    pub sub_mchid: String,
    /// 设备号.
    pub device: String,
    /// 微信订单号 (`transaction_id`).
    pub transaction_id: String,
    /// 商户订单号 (`out_trade_no`).
    pub out_trade_no: String,
    /// 用户标识 (openid).
    pub openid: String,
    /// 交易类型 (`JSAPI`, `NATIVE`, `MWEB`, …).
    pub trade_type: String,
    /// 交易状态: `SUCCESS`, `REFUND`, `REVOKED`.
    pub state: String,
    /// 付款银行.
    pub bank: String,
    /// 货币种类.
    pub currency: String,
    /// 应结订单金额.
    pub settled: Fen,
    /// 代金券金额.
    pub coupon: Fen,
    /// 退款申请时间 (`REFUND` bills).
    pub refund_requested_at: Option<i64>,
    /// 退款成功时间 (`REFUND` bills; empty while processing).
    pub refund_succeeded_at: Option<i64>,
    /// 微信退款单号 (`refund_id`; `0` on payment rows).
    pub refund_id: String,
    /// 商户退款单号 (`out_refund_no`; `0` on payment rows).
    pub out_refund_no: String,
    /// 退款金额 (settled refund).
    pub refund: Fen,
    /// 充值券退款金额.
    pub coupon_refund: Fen,
    /// 退款类型.
    pub refund_type: String,
    /// 退款状态.
    pub refund_status: String,
    /// 商品名称 (the order's `description`).
    pub description: String,
    /// 商户数据包 (`attach`).
    pub attach: String,
    /// 手续费, in 1/1000 fen (five decimals of a yuan; negative on refund rows).
    pub fee_milli_fen: i64,
    /// 费率, e.g. `0.60%`.
    pub rate: String,
    /// 订单金额.
    pub total: Fen,
    /// 申请退款金额.
    pub refund_requested: Fen,
    /// 费率备注.
    pub rate_note: String,
}

impl TradeRow {
    /// A refund row (`交易状态 = REFUND`).
    pub fn is_refund(&self) -> bool {
        self.state == "REFUND"
    }
}

/// The summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TradeTotals {
    /// 总交易单数.
    pub count: u64,
    /// 应结订单总金额.
    pub settled: Fen,
    /// 退款总金额.
    pub refund: Fen,
    /// 充值券退款总金额.
    pub coupon_refund: Fen,
    /// 手续费总金额 (1/1000 fen).
    pub fee_milli_fen: i64,
    /// 订单总金额.
    pub total: Fen,
    /// 申请退款总金额.
    pub refund_requested: Fen,
}

/// A parsed trade bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeBill {
    /// Its column set.
    pub kind: TradeKind,
    /// Detail rows, in file order.
    pub rows: Vec<TradeRow>,
}

impl TradeBill {
    /// What the summary line of these rows says.
    pub fn totals(&self) -> TradeTotals {
        let mut t = TradeTotals {
            count: self.rows.len() as u64,
            ..TradeTotals::default()
        };
        let add = |a: Fen, b: Fen| Fen::new(a.get() + b.get());
        for r in &self.rows {
            t.settled = add(t.settled, r.settled);
            t.refund = add(t.refund, r.refund);
            t.coupon_refund = add(t.coupon_refund, r.coupon_refund);
            t.fee_milli_fen += r.fee_milli_fen;
            t.total = add(t.total, r.total);
            t.refund_requested = add(t.refund_requested, r.refund_requested);
        }
        t
    }

    /// The file, exactly as WeChat writes it (`\r\n`, no BOM).
    pub fn render(&self) -> String {
        let mut out = String::from(self.kind.header());
        out.push_str("\r\n");
        for r in &self.rows {
            write_line(&mut out, &row_values(self.kind, r));
        }
        out.push_str(SUMMARY_HEADER);
        out.push_str("\r\n");
        let t = self.totals();
        write_line(
            &mut out,
            &[
                t.count.to_string(),
                format_fen(t.settled),
                format_fen(t.refund),
                format_fen(t.coupon_refund),
                format_fee(t.fee_milli_fen),
                format_fen(t.total),
                format_fen(t.refund_requested),
            ],
        );
        out
    }

    /// Reads a trade bill; the summary line must equal the sum of the rows.
    pub fn parse(text: &str) -> Result<TradeBill, BillError> {
        let lines = lines(text);
        let header = lines.first().ok_or(BillError::Empty)?;
        let columns = Columns::new(header);
        let kind = if columns.has("退款申请时间") {
            TradeKind::Refund
        } else if columns.has("微信退款单号") {
            TradeKind::All
        } else {
            TradeKind::Success
        };
        let summary_at = lines
            .iter()
            .position(|l| l.starts_with("总交易单数"))
            .ok_or(BillError::NoSummary)?;
        if summary_at + 2 != lines.len() {
            return Err(BillError::NoSummary);
        }
        let reader = RowReader::new(&columns, kind)?;
        let rows = lines[1..summary_at]
            .iter()
            .enumerate()
            .map(|(i, line)| reader.read(line, i + 2))
            .collect::<Result<Vec<_>, _>>()?;
        let bill = TradeBill { kind, rows };
        check_summary(
            lines[summary_at],
            lines[summary_at + 1],
            summary_at + 2,
            &bill.totals(),
        )?;
        Ok(bill)
    }
}

fn opt_time(t: Option<i64>) -> String {
    t.map(format_cst_time).unwrap_or_default()
}

fn row_values(kind: TradeKind, r: &TradeRow) -> Vec<String> {
    let mut v = vec![
        format_cst_time(r.time),
        r.appid.clone(),
        r.mchid.clone(),
        r.sub_mchid.clone(),
        r.device.clone(),
        r.transaction_id.clone(),
        r.out_trade_no.clone(),
        r.openid.clone(),
        r.trade_type.clone(),
        r.state.clone(),
        r.bank.clone(),
        r.currency.clone(),
        format_fen(r.settled),
        format_fen(r.coupon),
    ];
    if kind == TradeKind::Refund {
        v.push(opt_time(r.refund_requested_at));
        v.push(opt_time(r.refund_succeeded_at));
    }
    if kind != TradeKind::Success {
        v.extend([
            r.refund_id.clone(),
            r.out_refund_no.clone(),
            format_fen(r.refund),
            format_fen(r.coupon_refund),
            r.refund_type.clone(),
            r.refund_status.clone(),
        ]);
    }
    v.extend([
        r.description.clone(),
        r.attach.clone(),
        format_fee(r.fee_milli_fen),
        r.rate.clone(),
        format_fen(r.total),
    ]);
    if kind != TradeKind::Success {
        v.push(format_fen(r.refund_requested));
    }
    v.push(r.rate_note.clone());
    v
}

/// Column indexes of one bill, looked up by name once.
struct RowReader {
    width: usize,
    idx: Vec<usize>,
    refund_times: Option<(usize, usize)>,
    refund: Option<[usize; 7]>,
}

const COMMON: [&str; 19] = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
];
const REFUND_COLUMNS: [&str; 7] = [
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "申请退款金额",
];

impl RowReader {
    fn new(columns: &Columns, kind: TradeKind) -> Result<RowReader, BillError> {
        let mut idx = COMMON
            .iter()
            .map(|c| columns.index(c))
            .collect::<Result<Vec<_>, _>>()?;
        idx.push(columns.index("费率备注")?);
        let refund_times = match kind {
            TradeKind::Refund => Some((
                columns.index("退款申请时间")?,
                columns.index("退款成功时间")?,
            )),
            _ => None,
        };
        let refund = match kind {
            TradeKind::Success => None,
            _ => {
                let mut r = [0; 7];
                for (slot, name) in r.iter_mut().zip(REFUND_COLUMNS) {
                    *slot = columns.index(name)?;
                }
                Some(r)
            }
        };
        Ok(RowReader {
            width: columns.width(),
            idx,
            refund_times,
            refund,
        })
    }

    fn read(&self, line: &str, number: usize) -> Result<TradeRow, BillError> {
        let v = values(line, number)?;
        if v.len() != self.width {
            return Err(BillError::Width {
                line: number,
                expected: self.width,
                found: v.len(),
            });
        }
        let text = |i: usize| v[self.idx[i]].to_string();
        let fen = |i: usize| read(&v, self.idx[i], number, COMMON[i], parse_fen);
        let optional_time = |i: usize, column: &'static str| {
            read(&v, i, number, column, |s| {
                if s.is_empty() {
                    Some(None)
                } else {
                    parse_cst_time(s).map(Some)
                }
            })
        };
        let mut row = TradeRow {
            time: read(&v, self.idx[0], number, COMMON[0], parse_cst_time)?,
            appid: text(1),
            mchid: text(2),
            sub_mchid: text(3),
            device: text(4),
            transaction_id: text(5),
            out_trade_no: text(6),
            openid: text(7),
            trade_type: text(8),
            state: text(9),
            bank: text(10),
            currency: text(11),
            settled: fen(12)?,
            coupon: fen(13)?,
            refund_requested_at: None,
            refund_succeeded_at: None,
            refund_id: String::new(),
            out_refund_no: String::new(),
            refund: Fen::ZERO,
            coupon_refund: Fen::ZERO,
            refund_type: String::new(),
            refund_status: String::new(),
            description: text(14),
            attach: text(15),
            fee_milli_fen: read(&v, self.idx[16], number, COMMON[16], parse_fee)?,
            rate: text(17),
            total: fen(18)?,
            refund_requested: Fen::ZERO,
            rate_note: v[self.idx[19]].to_string(),
        };
        if let Some((requested, succeeded)) = self.refund_times {
            row.refund_requested_at = optional_time(requested, "退款申请时间")?;
            row.refund_succeeded_at = optional_time(succeeded, "退款成功时间")?;
        }
        if let Some(r) = self.refund {
            let refund_fen = |k: usize| read(&v, r[k], number, REFUND_COLUMNS[k], parse_fen);
            row.refund_id = v[r[0]].to_string();
            row.out_refund_no = v[r[1]].to_string();
            row.refund = refund_fen(2)?;
            row.coupon_refund = refund_fen(3)?;
            row.refund_type = v[r[4]].to_string();
            row.refund_status = v[r[5]].to_string();
            row.refund_requested = refund_fen(6)?;
        }
        Ok(row)
    }
}

fn check_summary(
    header: &str,
    line: &str,
    number: usize,
    computed: &TradeTotals,
) -> Result<(), BillError> {
    let columns = Columns::new(header);
    let v = values(line, number)?;
    if v.len() != columns.width() {
        return Err(BillError::NoSummary);
    }
    let at = |name: &'static str| columns.index(name).map(|i| v[i]);
    let count = i64::try_from(computed.count).unwrap_or(i64::MAX);
    check_total("总交易单数", at("总交易单数")?, 0, count)?;
    let fen_totals = [
        ("应结订单总金额", computed.settled),
        ("退款总金额", computed.refund),
        ("充值券退款总金额", computed.coupon_refund),
        ("订单总金额", computed.total),
        ("申请退款总金额", computed.refund_requested),
    ];
    for (name, value) in fen_totals {
        // Older files lack the last two coupon / requested-refund totals.
        if columns.has(name) {
            check_total(name, at(name)?, 2, value.get())?;
        }
    }
    check_total(
        "手续费总金额",
        at("手续费总金额")?,
        5,
        computed.fee_milli_fen,
    )?;
    Ok(())
}
