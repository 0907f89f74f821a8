//! The payer's points on a merchant collection's page (`pay::merchant_card`, one call): when the
//! payee runs a programme, a signed-in payer sees their balance with this payee and its history
//! and can tick a box to redeem at checkout (`core::points::checkout_box`; the pay script sends
//! `POST /api/orders?points=n`, reserved by `points::reserve`). A payer who is not signed in
//! gets a link to sign in through the Official Account. Rendered by the worker, no WebAssembly.

use serde::Deserialize;
use shoukuan_core::collection::{AmountRule, CollectionView};
use shoukuan_core::page::escape;
use shoukuan_core::points::{checkout_box, EntryKind, PayerPoints};
use shoukuan_core::session::Role;
use worker::{Env, Request};

use super::points::{member_of, programme_of};
use crate::error::ApiError;
use crate::session;

/// Entries of the history shown at most.
const HISTORY: usize = 20;

/// The points box of `view` (owned by `payee`), or nothing (no programme, an error — logged).
pub async fn checkout_block(
    view: &CollectionView,
    payee: Option<&str>,
    req: &Request,
    env: &Env,
) -> String {
    let Some(payee) = payee else {
        return String::new();
    };
    match try_block(view, payee, req, env).await {
        Ok(html) => html,
        Err(e) => {
            worker::console_error!("points box of {}: {e:?}", view.id);
            String::new()
        }
    }
}

async fn try_block(
    view: &CollectionView,
    payee: &str,
    req: &Request,
    env: &Env,
) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Line {
        delta: i64,
        kind: String,
        created_at: i64,
    }
    let Some(programme) = programme_of(env, payee).await? else {
        return Ok(String::new());
    };
    let member = session::current(req, env, Role::Payer).and_then(|o| member_of(env, o.as_str()));
    let Some(member) = member else {
        return Ok(format!(
            r#"<p class="hint points-signin">本店有会员积分：<a href="/oauth/start?next={}">微信授权后查看和使用积分</a></p>"#,
            escape(&format!("/c/{}", view.id))
        ));
    };
    let lines = env
        .d1("DB")?
        .prepare(
            "SELECT delta, kind, created_at FROM points_ledger WHERE payee_openid = ?1 AND member = ?2 ORDER BY id DESC",
        )
        .bind(&[payee.into(), member.as_str().into()])?
        .all()
        .await?
        .results::<Line>()?;
    let balance: i64 = lines.iter().map(|l| l.delta).sum();
    let amount = match view.amount {
        AmountRule::Fixed { fen } => Some(fen),
        AmountRule::PayerEntered => None,
    };
    let history = lines
        .iter()
        .filter(|l| l.delta != 0)
        .take(HISTORY)
        .filter_map(|l| Some((l.created_at, EntryKind::parse(&l.kind)?, l.delta)))
        .collect();
    Ok(checkout_box(&PayerPoints {
        payee_name: view.payee_name.clone(),
        balance,
        usable: programme.usable(balance, amount),
        fen_per_point: programme.fen_per_point,
        amount,
        history,
    }))
}
