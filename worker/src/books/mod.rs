//! Books that agree with WeChat Pay (issue 11): the daily bill download and reconciliation.
//!
//! After 10:30 Asia/Shanghai the cron applies for yesterday's trade bill (`ALL`, gzip) — one per
//! sub-merchant in the platform model (`sub_mchid`, signed by the service provider), the
//! merchant's own otherwise — and, for the merchant's own account, the fund-flow bill (`BASIC`).
//! While WeChat answers `STATEMENT_CREATING` / `NO_STATEMENT_EXIST` (or nothing) it tries again
//! every 30 minutes; at 12:00 a bill still missing is flagged (`NO_STATEMENT_EXIST` counts as "no
//! trades" only when our ledger has no money that day either). A download is checked against its
//! `hash_value` (SHA-1 of the uncompressed file); a file that does not match is refused and
//! reported, nothing parsed. The original is kept sealed (DATA_KEY) in R2 (`BOOKS`).
//!
//! The bill is matched with our orders and refunds (`core::bill::reconcile`); every discrepancy
//! is written with its evidence. A payment WeChat has and we do not show as paid is healed: the
//! order is queried and WeChat's answer applied through the one transition
//! (`pay::apply::apply_transaction`, `Source::Reconcile`); what the heal did is written next to
//! the discrepancy. Discrepancy rows are never deleted or rewritten, so re-running a day gives
//! the same report.
//!
//! Routes (`routes.rs`): `GET /api/dash/books?month=YYYY-MM` (calendar), `GET
//! /api/dash/books/:date` (day report) — the operator sees every payee, a payee its own — and
//! `POST /api/operator/books/reconcile {date}` (re-run a day).

mod fetch;
mod ledger;
mod report;
mod routes;

use serde_json::json;
use shoukuan_core::bill::fund::FundBill;
use shoukuan_core::bill::reconcile::reconcile;
use shoukuan_core::bill::trade::TradeBill;
use shoukuan_core::bill::{self, DiscrepancyKind};
use shoukuan_core::paytime::{ShanghaiDay, CST_OFFSET_SECS};
use shoukuan_core::routing::DeploymentModel;
use worker::Env;

pub use report::day_report;
pub use routes::{handle, BooksRoute};

use crate::error::ApiError;
use crate::pay::apply::{self, Outcome, Source};
use crate::pay::client;
use crate::pay::config::PayConfig;
use fetch::Fetched;

/// The job starts at 10:30 China time (bills are ready by about 10:00).
const START_SECS: i64 = 10 * 3600 + 30 * 60;
/// After 12:00 a bill that has not come is flagged.
const GIVE_UP_SECS: i64 = 12 * 3600;
/// Tries are 30 minutes apart.
const RETRY_SECS: i64 = 30 * 60;
/// Bills tried per cron run (two calls each to WeChat Pay): the rest wait for the next minute.
const BILLS_PER_RUN: usize = 10;

/// Sealing columns of the R2 originals.
const TRADE_COLUMN: &str = "books.trade_bill";
const FUND_COLUMN: &str = "books.fund_bill";

/// Whose bill: the merchant's own, or one sub-merchant's.
#[derive(Debug, Clone)]
pub struct Target {
    /// `mchid` or `sub_mchid`: the key of the day's row.
    pub merchant: String,
    /// Set in the platform model.
    pub sub_mchid: Option<String>,
    /// The sub-merchant's payee (platform).
    pub payee: Option<String>,
}

/// The minute cron's step: yesterday's bills once it is past 10:30 in China.
pub async fn scheduled(env: &Env, now: i64) {
    let into_day = (now + CST_OFFSET_SECS).rem_euclid(86_400);
    if into_day < START_SECS {
        return;
    }
    let Some(config) = PayConfig::get(env) else {
        return;
    };
    // No money model yet: no merchant to ask for bills (the configuration says why elsewhere).
    if config.model.is_err() {
        return;
    }
    let day = ShanghaiDay::from_number(ShanghaiDay::of(now).number() - 1);
    if let Err(e) = run_day(env, &config, day, now, false).await {
        worker::console_error!("books {}: {e:?}", day.to_date_string());
    }
}

/// The bills of a day: the merchant's own, or each bound sub-merchant's.
async fn targets(env: &Env, config: &PayConfig) -> Result<Vec<Target>, ApiError> {
    Ok(match config.require_model()? {
        DeploymentModel::OwnBusiness => vec![Target {
            merchant: config.mchid.clone(),
            sub_mchid: None,
            payee: None,
        }],
        DeploymentModel::Platform => ledger::sub_merchants(env)
            .await?
            .into_iter()
            .map(|(payee, sub)| Target {
                merchant: sub.clone(),
                sub_mchid: Some(sub),
                payee: Some(payee),
            })
            .collect(),
    })
}

/// Downloads and reconciles the bills of `day` that are due (all of them with `force`: the
/// operator's re-run).
pub async fn run_day(
    env: &Env,
    config: &PayConfig,
    day: ShanghaiDay,
    now: i64,
    force: bool,
) -> Result<(), ApiError> {
    let date = day.to_date_string();
    let known = ledger::book_days_of(env, &date).await?;
    let mut tried = 0;
    for target in targets(env, config).await? {
        let row = known.iter().find(|r| r.merchant == target.merchant);
        let due = match row {
            None => true,
            Some(_) if force => true,
            Some(r) if r.state == "waiting" => {
                r.last_attempt_at.is_none_or(|t| now - t >= RETRY_SECS)
            }
            Some(_) => false,
        };
        if !due {
            continue;
        }
        if !force && tried >= BILLS_PER_RUN {
            break;
        }
        tried += 1;
        if let Err(e) = attempt(env, config, day, &target, now).await {
            worker::console_error!("books {date} {}: {e:?}", target.merchant);
        }
    }
    Ok(())
}

/// One try at one bill.
async fn attempt(
    env: &Env,
    config: &PayConfig,
    day: ShanghaiDay,
    target: &Target,
    now: i64,
) -> Result<(), ApiError> {
    let date = day.to_date_string();
    ledger::start_attempt(env, &date, target, now).await?;
    let after_noon = (now + CST_OFFSET_SECS).rem_euclid(86_400) >= GIVE_UP_SECS;
    let path = bill::trade_bill_path(&date, target.sub_mchid.as_deref());
    let (text, hash) = match fetch::fetch(env, config, &path).await {
        Fetched::File { text, hash } => (text, hash),
        Fetched::NoStatement if !ledger::has_money(env, day, target).await? => {
            return ledger::finish(env, &date, target, "no_bill", Some("当日无交易"), now).await;
        }
        Fetched::NoStatement => {
            return not_yet(env, &date, target, "NO_STATEMENT_EXIST", after_noon, now).await
        }
        Fetched::NotYet(why) => return not_yet(env, &date, target, &why, after_noon, now).await,
        Fetched::Refused(why) => return refuse(env, &date, target, &why, now).await,
    };
    let trade = match TradeBill::parse(&text) {
        Ok(trade) => trade,
        Err(e) => return refuse(env, &date, target, &e.to_string(), now).await,
    };
    // The fund-flow bill is the signing merchant's own account: fetched with its own bill.
    let fund = if target.sub_mchid.is_none() {
        match fetch::fetch(env, config, &bill::fund_bill_path(&date)).await {
            Fetched::File { text, hash } => match FundBill::parse(&text) {
                Ok(parsed) => Some((text, hash, parsed)),
                Err(e) => return refuse(env, &date, target, &format!("资金账单：{e}"), now).await,
            },
            Fetched::Refused(why) => {
                return refuse(env, &date, target, &format!("资金账单：{why}"), now).await
            }
            Fetched::NoStatement | Fetched::NotYet(_) => None,
        }
    } else {
        None
    };
    // The originals first: nothing is reconciled from a file that is not kept.
    let key = crate::personal_data::key(env)?;
    let trade_key = format!("bills/{date}/{}/trade-all.csv.sealed", target.merchant);
    ledger::keep_original(env, &key, &trade_key, TRADE_COLUMN, &text).await?;
    let fund_summary = match &fund {
        Some((text, hash, parsed)) => {
            let fund_key = format!("bills/{date}/{}/fund-basic.csv.sealed", target.merchant);
            ledger::keep_original(env, &key, &fund_key, FUND_COLUMN, text).await?;
            let t = parsed.totals();
            Some((hash.clone(), fund_key, t.income.get(), t.expense.get()))
        }
        None => None,
    };
    let (orders, refunds) = ledger::our_side(env, day, target, &trade).await?;
    let found = reconcile(day, &trade, &orders, &refunds, target.payee.as_deref());
    for d in &found.discrepancies {
        ledger::record_discrepancy(env, &date, &target.merchant, d, now).await?;
    }
    ledger::record_totals(env, &date, &target.merchant, &found.totals).await?;
    heal(env, config, &date, target, now).await?;
    ledger::finish_done(
        env,
        &date,
        target,
        &hash,
        &trade_key,
        fund_summary,
        found.matched_payments + found.matched_refunds,
        now,
    )
    .await
}

/// WeChat has no bill for us yet: wait, or flag once it is past noon.
async fn not_yet(
    env: &Env,
    date: &str,
    target: &Target,
    why: &str,
    after_noon: bool,
    now: i64,
) -> Result<(), ApiError> {
    if !after_noon {
        return ledger::note_waiting(env, date, target, why, now).await;
    }
    apply::flag(
        env,
        &format!("books_missing:{date}:{}", target.merchant),
        None,
        target.payee.as_deref(),
        "books_missing",
        &format!("{date} 的微信支付账单到中午仍未取得（{why}），请稍后重新对账"),
    )
    .await?;
    ledger::finish(env, date, target, "missing", Some(why), now).await
}

/// A file that is not what WeChat described: refused, reported, nothing parsed.
async fn refuse(
    env: &Env,
    date: &str,
    target: &Target,
    why: &str,
    now: i64,
) -> Result<(), ApiError> {
    worker::console_error!("books {date} {}: bill refused", target.merchant);
    apply::flag(
        env,
        &format!("books_refused:{date}:{}", target.merchant),
        None,
        target.payee.as_deref(),
        "books_refused",
        &format!("{date} 的微信支付账单未通过校验，已拒收：{why}"),
    )
    .await?;
    ledger::finish(env, date, target, "refused", Some(why), now).await
}

/// Heals every open "paid at WeChat, not here" of the day whose order exists here: the order
/// is queried and WeChat's answer applied through the one transition.
async fn heal(
    env: &Env,
    config: &PayConfig,
    date: &str,
    target: &Target,
    now: i64,
) -> Result<(), ApiError> {
    for (id, out_trade_no) in
        ledger::open_discrepancies(env, date, &target.merchant, DiscrepancyKind::PaidNotHere)
            .await?
    {
        let Some(order) = apply::order_by_out_trade_no(env, &out_trade_no).await? else {
            continue;
        };
        let routing = crate::pay::routing::for_order(&order, config);
        let tx = match client::query_order(env, config, &routing, &out_trade_no).await {
            Ok(Some(tx)) => tx,
            Ok(None) => {
                ledger::record_heal(
                    env,
                    id,
                    None,
                    "查询结果：微信支付无此订单，未处理",
                    &json!({}),
                )
                .await?;
                continue;
            }
            Err(e) => {
                worker::console_error!("books heal query of {out_trade_no}: {e}");
                continue;
            }
        };
        let evidence = json!({
            "trade_state": format!("{:?}", tx.trade_state),
            "transaction_id": tx.transaction_id,
            "amount_total": tx.amount.total,
            "success_time": tx.success_time,
        });
        let (outcome, _) = apply::apply_transaction(
            env,
            config,
            &tx,
            Source::Reconcile,
            &format!("reconcile:{out_trade_no}"),
        )
        .await?;
        let (healed_at, text) = match outcome {
            Outcome::Applied(state) => (
                Some(now),
                format!("已查询微信支付并更新订单为 {}", state.as_str()),
            ),
            Outcome::Duplicate => (Some(now), "订单已是最新状态，无需处理".to_string()),
            Outcome::NotYet => (None, "微信支付查询显示未支付，未处理".to_string()),
            Outcome::Flagged(_) => (None, "查询结果与订单不符，已提示收款人核对".to_string()),
            Outcome::Refused(state) => (None, format!("微信支付状态 {state:?}，未处理")),
            Outcome::UnknownOrder => (None, "本地无此订单".to_string()),
        };
        ledger::record_heal(env, id, healed_at, &text, &evidence).await?;
    }
    Ok(())
}
