//! Our side of a bill: the orders and refunds it is matched with, read from D1.

use serde::Deserialize;
use shoukuan_core::bill::reconcile::{OurOrder, OurRefund};
use shoukuan_core::bill::trade::TradeBill;
use shoukuan_core::money::Fen;
use shoukuan_core::paytime::ShanghaiDay;
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::Target;
use crate::error::ApiError;
use crate::http::num;

fn opt(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, Into::into)
}

/// D1 binds at most 100 parameters: lookups by number go in chunks.
const CHUNK: usize = 80;

/// Whether our ledger has a payment or a refund on `day` for this bill's merchant.
pub async fn has_money(env: &Env, day: ShanghaiDay, target: &Target) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let n = env
        .d1("DB")?
        .prepare(
            "SELECT (SELECT COUNT(*) FROM orders o WHERE o.paid_at >= ?1 AND o.paid_at < ?2 \
               AND o.sub_mchid IS ?3) + \
             (SELECT COUNT(*) FROM refunds r JOIN orders o ON o.id = r.order_id \
               WHERE r.created_at >= ?1 AND r.created_at < ?2 AND o.sub_mchid IS ?3) AS n",
        )
        .bind(&[
            num(day.start()),
            num(day.end()),
            opt(target.sub_mchid.as_deref()),
        ])?
        .first::<Count>(None)
        .await?
        .map_or(0, |c| c.n);
    Ok(n > 0)
}

#[derive(Deserialize)]
struct OrderFacts {
    out_trade_no: String,
    transaction_id: Option<String>,
    amount_fen: i64,
    state: String,
    paid_at: Option<i64>,
    payee_openid: String,
}

impl From<OrderFacts> for OurOrder {
    fn from(o: OrderFacts) -> OurOrder {
        OurOrder {
            paid: matches!(o.state.as_str(), "paid" | "refunding" | "refunded"),
            out_trade_no: o.out_trade_no,
            transaction_id: o.transaction_id,
            amount: Fen::new(o.amount_fen),
            paid_at: o.paid_at,
            payee: Some(o.payee_openid),
        }
    }
}

#[derive(Deserialize)]
struct RefundFacts {
    out_refund_no: String,
    out_trade_no: String,
    amount_fen: i64,
    state: String,
    created_at: i64,
    payee_openid: String,
}

impl From<RefundFacts> for OurRefund {
    fn from(r: RefundFacts) -> OurRefund {
        OurRefund {
            succeeded: r.state == "success",
            out_refund_no: r.out_refund_no,
            out_trade_no: r.out_trade_no,
            amount: Fen::new(r.amount_fen),
            created_at: r.created_at,
            payee: Some(r.payee_openid),
        }
    }
}

const ORDER_FACTS: &str =
    "o.out_trade_no, o.transaction_id, o.amount_fen, o.state, o.paid_at, o.payee_openid";
const REFUND_FACTS: &str =
    "r.out_refund_no, o.out_trade_no, r.amount_fen, r.state, r.created_at, o.payee_openid";

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of `select … IN (keys)` (`select` ends with the column), in chunks of [`CHUNK`]
/// bound parameters.
async fn select_in<T: serde::de::DeserializeOwned>(
    db: &worker::D1Database,
    select: &str,
    keys: &[&str],
) -> Result<Vec<T>, ApiError> {
    let mut rows = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let params: Vec<JsValue> = chunk.iter().map(|&s| s.into()).collect();
        rows.extend(
            db.prepare(format!("{select} IN ({})", placeholders(1, chunk.len())))
                .bind(&params)?
                .all()
                .await?
                .results::<T>()?,
        );
    }
    Ok(rows)
}

/// Our orders and refunds to match the bill with: those it names, and those of `day` for
/// this bill's merchant.
pub async fn our_side(
    env: &Env,
    day: ShanghaiDay,
    target: &Target,
    bill: &TradeBill,
) -> Result<(Vec<OurOrder>, Vec<OurRefund>), ApiError> {
    let db = env.d1("DB")?;
    let range = [
        num(day.start()),
        num(day.end()),
        opt(target.sub_mchid.as_deref()),
    ];
    let mut orders: Vec<OrderFacts> = db
        .prepare(format!(
            "SELECT {ORDER_FACTS} FROM orders o WHERE o.paid_at >= ?1 AND o.paid_at < ?2 AND o.sub_mchid IS ?3"
        ))
        .bind(&range)?
        .all()
        .await?
        .results()?;
    let mut refunds: Vec<RefundFacts> = db
        .prepare(format!(
            "SELECT {REFUND_FACTS} FROM refunds r JOIN orders o ON o.id = r.order_id \
             WHERE r.created_at >= ?1 AND r.created_at < ?2 AND o.sub_mchid IS ?3"
        ))
        .bind(&range)?
        .all()
        .await?
        .results()?;
    // The orders the bill names (payments and refunded ones: the latter for their payee) and
    // the refunds it names, wherever their day was here.
    let mut trade_nos: Vec<&str> = bill.rows.iter().map(|r| r.out_trade_no.as_str()).collect();
    trade_nos.sort_unstable();
    trade_nos.dedup();
    orders.extend(
        select_in::<OrderFacts>(
            &db,
            &format!("SELECT {ORDER_FACTS} FROM orders o WHERE o.out_trade_no"),
            &trade_nos,
        )
        .await?,
    );
    let refund_nos: Vec<&str> = bill
        .rows
        .iter()
        .filter(|r| r.is_refund())
        .map(|r| r.out_refund_no.as_str())
        .collect();
    refunds.extend(
        select_in::<RefundFacts>(
            &db,
            &format!(
                "SELECT {REFUND_FACTS} FROM refunds r JOIN orders o ON o.id = r.order_id \
                 WHERE r.out_refund_no"
            ),
            &refund_nos,
        )
        .await?,
    );
    let mut orders: Vec<OurOrder> = orders.into_iter().map(Into::into).collect();
    orders.sort_by(|a, b| a.out_trade_no.cmp(&b.out_trade_no));
    orders.dedup_by(|a, b| a.out_trade_no == b.out_trade_no);
    let mut refunds: Vec<OurRefund> = refunds.into_iter().map(Into::into).collect();
    refunds.sort_by(|a, b| a.out_refund_no.cmp(&b.out_refund_no));
    refunds.dedup_by(|a, b| a.out_refund_no == b.out_refund_no);
    Ok((orders, refunds))
}
