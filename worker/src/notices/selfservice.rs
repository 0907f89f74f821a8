//! Self-service answers in the Official Account (`core::selfservice`): a follower's own recent
//! orders and split sign-ups, or refunds, as the passive reply to their message — two indexed
//! reads (`orders_payer_hash`; `participants.openid_key`: keyed hashes of the openid), well
//! within WeChat's 5 s. Nobody else's data can appear: every query is bound to the openid WeChat
//! signed the push for.
//!
//! Also the optional default reply for text nothing else answered (`OA_DEFAULT_REPLY`, off
//! when unset; refused — and logged — when the compliance lint finds something in it).

use serde::Deserialize;
use shoukuan_core::keywords::{self, OwnedRule};
use shoukuan_core::money::Fen;
use shoukuan_core::order::OrderState;
use shoukuan_core::refund::RefundState;
use shoukuan_core::selfservice::{
    followup_text, payments_reply, refunds_reply, within_window, OrderLine, Query, RefundLine,
    SignUpLine, DEFAULT_ORDER_WORDS, DEFAULT_REFUND_WORDS,
};
use shoukuan_core::session::Openid;
use shoukuan_core::split::ParticipantStatus;
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::db;
use crate::config::setting;
use crate::error::ApiError;
use crate::http::num;
use crate::personal_data::{column, open_row, openid_key, seal_row};

/// How many of each kind of line an answer lists.
const RECENT: f64 = 5.0;

/// Makes a sign-up findable by its participant's openid (called once, after the sign-up).
pub async fn index_sign_up(env: &Env, participant_id: &str, openid: &str) {
    let result = async {
        let key = openid_key(env, openid)?;
        db(env)?
            .prepare("UPDATE participants SET openid_key = ?2 WHERE id = ?1")
            .bind(&[participant_id.into(), key.into()])?
            .run()
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(e) = result {
        worker::console_error!("indexing sign-up {participant_id}: {e:?}");
    }
}

/// Unsubscribe: the follower's sign-ups are no longer findable by their openid and no later
/// answer is owed to them (WeChat requires the user's data to be deleted).
pub async fn forget(env: &Env, openid: &Openid) -> Result<(), ApiError> {
    let db = db(env)?;
    let key: JsValue = openid_key(env, openid.as_str())?.into();
    db.batch(vec![
        db.prepare("DELETE FROM oa_followups WHERE openid_key = ?1")
            .bind(std::slice::from_ref(&key))?,
        db.prepare("UPDATE participants SET openid_key = NULL WHERE openid_key = ?1")
            .bind(&[key])?,
    ])
    .await?;
    Ok(())
}

/// Refuses a payee's exact keyword rule on a self-service word (订单, 退款, …): self-service
/// answers those before payees' rules, so the rule would never answer. The operator's rules
/// come first and are not refused.
pub fn refuse_shadowed(
    env: &Env,
    operator: bool,
    exact: bool,
    pattern: &str,
) -> Result<(), ApiError> {
    let order_words = setting(env, "OA_SELFSERVICE_WORDS").unwrap_or(DEFAULT_ORDER_WORDS.into());
    let refund_words = setting(env, "OA_REFUND_WORDS").unwrap_or(DEFAULT_REFUND_WORDS.into());
    match shoukuan_core::selfservice::shadowed_rule(exact, pattern, &order_words, &refund_words) {
        Some(message) if !operator => Err(ApiError::Invalid(vec![
            shoukuan_core::collection::FieldError {
                field: "pattern".into(),
                code: "SELF_SERVICE_WORD".into(),
                message,
            },
        ])),
        _ => Ok(()),
    }
}

/// The answer to a follower's text when it is a self-service word and the operator has no rule
/// for it; `None` lets the keyword rules answer.
pub async fn answer(
    env: &Env,
    origin: &str,
    openid: &Openid,
    rules: &[OwnedRule],
    text: &str,
) -> Result<Option<String>, ApiError> {
    let order_words = setting(env, "OA_SELFSERVICE_WORDS").unwrap_or(DEFAULT_ORDER_WORDS.into());
    let refund_words = setting(env, "OA_REFUND_WORDS").unwrap_or(DEFAULT_REFUND_WORDS.into());
    let Some(query) = Query::parse(text, &order_words, &refund_words) else {
        return Ok(None);
    };
    if keywords::rule_for_follower(rules, None, text).is_some() {
        return Ok(None);
    }
    Ok(Some(match query {
        Query::Payments => payments(env, origin, openid).await?,
        Query::Refunds => refunds(env, openid).await?,
    }))
}

async fn payments(env: &Env, origin: &str, openid: &Openid) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Order {
        id: String,
        title: String,
        amount_fen: i64,
        state: String,
    }
    #[derive(Deserialize)]
    struct SignUp {
        collection_id: String,
        title: String,
        status: String,
    }
    let db = db(env)?;
    let key = openid_key(env, openid.as_str())?;
    let orders = db
        .prepare(
            "SELECT o.id, c.title, o.amount_fen, o.state FROM orders o JOIN collections c ON c.id = o.collection_id \
             WHERE o.payer_hash = ?1 ORDER BY o.created_at DESC LIMIT ?2",
        )
        .bind(&[key.as_str().into(), RECENT.into()])?;
    let sign_ups = db
        .prepare(
            "SELECT p.collection_id, c.title, p.status FROM participants p JOIN collections c ON c.id = p.collection_id \
             WHERE p.openid_key = ?1 ORDER BY p.created_at DESC LIMIT ?2",
        )
        .bind(&[key.as_str().into(), RECENT.into()])?;
    let results = db.batch(vec![orders, sign_ups]).await?;
    let rows = results[0].results::<Order>()?;
    // Orders still pending: the answer must come later (customer-service message on payment).
    let asked_at = num(crate::session::now_secs());
    let pending: Vec<&Order> = rows
        .iter()
        .filter(|o| o.state == OrderState::Pending.as_str())
        .collect();
    // The customer-service message needs the openid back: sealed to each order.
    let data_key = match pending.is_empty() {
        true => None,
        false => Some(crate::personal_data::key(env)?),
    };
    let waits = pending
        .iter()
        .filter_map(|o| Some((o, data_key.as_ref()?)))
        .map(|(o, data_key)| {
            let sealed = seal_row(data_key, column::FOLLOWUP_OPENID, &o.id, openid.as_str())?;
            Ok::<_, ApiError>(
                db.prepare(
                    "INSERT INTO oa_followups (order_id, openid_key, openid_sealed, asked_at) \
                     VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (order_id) DO UPDATE SET asked_at = excluded.asked_at",
                )
                .bind(&[
                    o.id.as_str().into(),
                    key.as_str().into(),
                    sealed.into(),
                    asked_at.clone(),
                ])?,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !waits.is_empty() {
        db.batch(waits).await?;
    }
    let orders: Vec<OrderLine> = rows
        .into_iter()
        .filter_map(|o| {
            Some(OrderLine {
                url: format!("{origin}/o/{}", o.id),
                title: o.title,
                amount: Fen::new(o.amount_fen),
                state: OrderState::parse(&o.state)?,
            })
        })
        .collect();
    let sign_ups: Vec<SignUpLine> = results[1]
        .results::<SignUp>()?
        .into_iter()
        .filter_map(|s| {
            Some(SignUpLine {
                url: format!("{origin}/c/{}", s.collection_id),
                title: s.title,
                status: ParticipantStatus::parse(&s.status)?,
            })
        })
        .collect();
    Ok(payments_reply(&orders, &sign_ups))
}

async fn refunds(env: &Env, openid: &Openid) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Refund {
        title: String,
        amount_fen: i64,
        state: String,
    }
    let rows = db(env)?
        .prepare(
            "SELECT c.title, r.amount_fen, r.state FROM orders o JOIN refunds r ON r.order_id = o.id \
             JOIN collections c ON c.id = o.collection_id WHERE o.payer_hash = ?1 \
             ORDER BY r.created_at DESC LIMIT 10",
        )
        .bind(&[openid_key(env, openid.as_str())?.into()])?
        .all()
        .await?
        .results::<Refund>()?;
    let lines: Vec<RefundLine> = rows
        .into_iter()
        .filter_map(|r| {
            Some(RefundLine {
                title: r.title,
                amount: Fen::new(r.amount_fen),
                state: RefundState::parse(&r.state)?,
            })
        })
        .collect();
    Ok(refunds_reply(&lines))
}

/// An order just became paid: when its payer asked about it while it was pending, and asked
/// less than 48 h ago, tell them now with a customer-service message (once: the row is taken
/// before anything is sent). Errors are logged, never raised.
pub async fn follow_up(env: &Env, order_id: &str, title: &str, amount: Fen, now: i64) {
    #[derive(Deserialize)]
    struct Wait {
        openid_sealed: String,
        asked_at: i64,
    }
    let result = async {
        let taken = db(env)?
            .prepare(
                "DELETE FROM oa_followups WHERE order_id = ?1 RETURNING openid_sealed, asked_at",
            )
            .bind(&[order_id.into()])?
            .first::<Wait>(None)
            .await?;
        let Some(wait) = taken.filter(|w| within_window(w.asked_at, now)) else {
            return Ok(());
        };
        let openid = open_row(
            &crate::personal_data::key(env)?,
            column::FOLLOWUP_OPENID,
            order_id,
            &wait.openid_sealed,
        )?;
        let body = serde_json::json!({
            "touser": openid,
            "msgtype": "text",
            "text": { "content": followup_text(title, amount) },
        });
        let answer = crate::wechat::OaClient::new(env)?
            .call(
                worker::Method::Post,
                "/cgi-bin/message/custom/send",
                &[],
                Some(&body),
            )
            .await?;
        if let Err(failure) = shoukuan_core::oa_api::read_ok(&answer) {
            worker::console_error!("follow-up of order {order_id}: WeChat refused it: {failure}");
        }
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(e) = result {
        worker::console_error!("follow-up of order {order_id}: {e:?}");
    }
}

/// The default reply for text nothing answered: `OA_DEFAULT_REPLY` when set and clean.
pub fn default_reply(env: &Env) -> Option<String> {
    let text = setting(env, "OA_DEFAULT_REPLY").filter(|t| !t.trim().is_empty())?;
    let hits = shoukuan_core::lint::check(&text);
    if !hits.is_empty() {
        worker::console_error!(
            "OA_DEFAULT_REPLY is not sent: the compliance lint found {} problem(s) in it",
            hits.len()
        );
        return None;
    }
    Some(text)
}
