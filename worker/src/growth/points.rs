//! Membership points (`core::points`): a payee's programme, points credited once per verified
//! payment ([`credit`], from `events::order_paid`) and taken back in proportion when it is
//! refunded ([`reverse`], from `events::refund_succeeded`), the payee's members and CSV ledger,
//! and the payer's own balances. The ledger is append-only (triggers in 0012); a balance is
//! the sum of a member's entries.

use serde::{Deserialize, Serialize};
use shoukuan_core::csv::Csv;
use shoukuan_core::money::Fen;
use shoukuan_core::points::{reversal, EntryKind, Programme};
use shoukuan_core::session::{Openid, Role};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use crate::error::ApiError;
use crate::http::{self, num};
use crate::pay::apply::OrderRow;
use crate::pay::refunds::RefundRow;
use crate::session::{self, now_secs, require_approved_payee};

/// The member key of an openid: a keyed hash, so the ledger never holds the openid. Customer
/// tags know a person by the same key (`growth::people`).
pub(crate) fn member_of(env: &Env, openid: &str) -> Option<String> {
    let key = session::key(env)?;
    Some(hex::encode(
        &key.mac("points-member", openid.as_bytes())[..16],
    ))
}

#[derive(Deserialize)]
struct ProgrammeRow {
    per_yuan: i64,
    fen_per_point: i64,
    max_per_order: i64,
    expire_days: Option<i64>,
}

/// The payee's programme, if it runs one.
pub(crate) async fn programme_of(env: &Env, payee: &str) -> Result<Option<Programme>, ApiError> {
    let row = env
        .d1("DB")?
        .prepare("SELECT per_yuan, fen_per_point, max_per_order, expire_days FROM points_programmes WHERE payee_openid = ?1")
        .bind(&[payee.into()])?
        .first::<ProgrammeRow>(None)
        .await?;
    Ok(row.and_then(|r| {
        Programme::with_redemption(r.per_yuan, r.fen_per_point, r.max_per_order)
            .and_then(|p| p.expiring(r.expire_days))
            .ok()
    }))
}

#[derive(Deserialize)]
struct RedeemQuery {
    #[serde(default)]
    points: Option<i64>,
}

/// Points redeemed at checkout (`POST /api/orders?points=n`, the payer signed in): reserved
/// by a conditional insert — it books only while the member's balance covers it, so any
/// number of concurrent redemptions spend at most the balance — and the discounted amount is
/// returned: it is what the order stores, what WeChat Pay is asked for and what the callback
/// is checked against. Without `points` the amount is unchanged.
#[allow(clippy::too_many_arguments)]
pub async fn reserve(
    env: &Env,
    req: &Request,
    payer: Option<&Openid>,
    payee: &str,
    for_split: bool,
    amount: Fen,
    order_id: &str,
    out_trade_no: &str,
) -> Result<Fen, ApiError> {
    let points = req
        .query::<RedeemQuery>()
        .ok()
        .and_then(|q| q.points)
        .unwrap_or(0);
    if points == 0 {
        return Ok(amount);
    }
    let refuse = |status: u16, code: &'static str, message: String| {
        Err(ApiError::Pay(status, code, message))
    };
    if for_split {
        return refuse(400, "POINTS_NOT_HERE", "接龙的份额不能用积分抵扣".into());
    }
    let Some(member) = payer.and_then(|o| member_of(env, o.as_str())) else {
        return refuse(
            401,
            "PAYER_SIGN_IN_REQUIRED",
            "用积分抵扣需先在微信中授权".into(),
        );
    };
    let Some(programme) = programme_of(env, payee).await? else {
        return refuse(400, "POINTS_OFF", "这位收款方没有开启积分".into());
    };
    let discount = match programme.discount(points, amount) {
        Ok(d) => d,
        Err(message) => return refuse(400, "INVALID_POINTS", message),
    };
    let booked = env
        .d1("DB")?
        .prepare(
            "INSERT INTO points_ledger (payee_openid, member, delta, kind, ref, order_id, created_at)              SELECT ?1, ?2, ?3, 'redeem', ?4, ?5, ?6              WHERE (SELECT COALESCE(SUM(delta), 0) FROM points_ledger WHERE payee_openid = ?1 AND member = ?2) >= ?7",
        )
        .bind(&[
            payee.into(),
            member.as_str().into(),
            num(-points),
            format!("redeem:{out_trade_no}").into(),
            order_id.into(),
            num(now_secs()),
            num(points),
        ])?
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if booked == 0 {
        return refuse(409, "POINTS_SHORT", "积分不足".into());
    }
    amount
        .checked_sub(discount)
        .ok_or_else(|| ApiError::Internal("discount over amount".into()))
}

/// Returns the points reserved for an order that was not created or closed unpaid (once).
pub async fn release(env: &Env, out_trade_no: &str) {
    let outcome = async {
        env.d1("DB")?
            .prepare(
                "INSERT OR IGNORE INTO points_ledger (payee_openid, member, delta, kind, ref, order_id, created_at)                  SELECT payee_openid, member, -delta, 'release', ?2, order_id, ?3 FROM points_ledger WHERE ref = ?1",
            )
            .bind(&[
                format!("redeem:{out_trade_no}").into(),
                format!("release:{out_trade_no}").into(),
                num(now_secs()),
            ])?
            .run()
            .await?;
        Ok::<(), ApiError>(())
    };
    if let Err(e) = outcome.await {
        worker::console_error!("points release for {out_trade_no}: {e:?}");
    }
}

/// The cron: points reserved by orders that closed unpaid go back (idempotent), then points
/// past their programme's life expire (`points_expiry`).
pub async fn scheduled(env: &Env, now: i64) {
    let outcome = async {
        env.d1("DB")?
            .prepare(
                "INSERT OR IGNORE INTO points_ledger (payee_openid, member, delta, kind, ref, order_id, created_at)                  SELECT l.payee_openid, l.member, -l.delta, 'release', 'release:' || substr(l.ref, 8), l.order_id, ?1                  FROM points_ledger l JOIN orders o ON o.id = l.order_id                  WHERE l.kind = 'redeem' AND o.state = 'closed'",
            )
            .bind(&[num(now)])?
            .run()
            .await?;
        Ok::<(), ApiError>(())
    };
    if let Err(e) = outcome.await {
        worker::console_error!("points release job: {e:?}");
    }
    if let Err(e) = super::points_expiry::run(env, now).await {
        worker::console_error!("points expiry job: {e:?}");
    }
}

#[derive(Deserialize)]
struct Payer {
    payer_sealed: Option<String>,
}

/// An order just became paid: its payer earns points under the payee's programme, once.
pub async fn credit(env: &Env, order: &OrderRow) {
    if let Err(e) = try_credit(env, order).await {
        worker::console_error!("points for order {}: {e:?}", order.out_trade_no);
    }
}

async fn try_credit(env: &Env, order: &OrderRow) -> Result<(), ApiError> {
    let Some(programme) = programme_of(env, &order.payee_openid).await? else {
        return Ok(());
    };
    let earned = programme.earned(Fen::new(order.amount_fen));
    if earned <= 0 {
        return Ok(());
    }
    let db = env.d1("DB")?;
    // The payer's openid is sealed to the order (issue 14, openids at rest).
    let sealed = db
        .prepare("SELECT payer_sealed FROM orders WHERE id = ?1")
        .bind(&[order.id.as_str().into()])?
        .first::<Payer>(None)
        .await?
        .and_then(|p| p.payer_sealed);
    let payer = match sealed {
        Some(sealed) => Some(crate::personal_data::open_payer(
            &crate::personal_data::key(env)?,
            &order.id,
            &sealed,
        )?),
        None => None,
    };
    let Some(member) = payer.as_deref().and_then(|o| member_of(env, o)) else {
        return Ok(());
    };
    db.prepare(
        "INSERT OR IGNORE INTO points_ledger (payee_openid, member, delta, kind, ref, order_id, created_at) \
         VALUES (?1, ?2, ?3, 'earn', ?4, ?5, ?6)",
    )
    .bind(&[
        order.payee_openid.as_str().into(),
        member.as_str().into(),
        num(earned),
        format!("earn:{}", order.out_trade_no).into(),
        order.id.as_str().into(),
        num(now_secs()),
    ])?
    .run()
    .await?;
    Ok(())
}

/// A refund just succeeded: the points of its order are taken back in proportion, once.
pub async fn reverse(env: &Env, refund: &RefundRow) {
    if let Err(e) = try_reverse(env, refund).await {
        worker::console_error!("points reversal for {}: {e:?}", refund.out_refund_no);
    }
}

#[derive(Deserialize)]
struct Facts {
    earned: i64,
    paid: i64,
    refunded: i64,
    reversed: i64,
}

async fn try_reverse(env: &Env, refund: &RefundRow) -> Result<(), ApiError> {
    let db = env.d1("DB")?;
    // A racing reversal of the same order changes `reversed`: the insert is conditional on it,
    // so the loser computes again from the new totals.
    for _ in 0..5 {
        let Some(f) = db
            .prepare(
                "SELECT e.delta AS earned, o.amount_fen AS paid, \
                 (SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE order_id = ?1 AND state = 'success') AS refunded, \
                 (SELECT COALESCE(SUM(delta), 0) FROM points_ledger WHERE order_id = ?1 AND kind = 'reverse') AS reversed \
                 FROM points_ledger e JOIN orders o ON o.id = e.order_id WHERE e.order_id = ?1 AND e.kind = 'earn'",
            )
            .bind(&[refund.order_id.as_str().into()])?
            .first::<Facts>(None)
            .await?
        else {
            return Ok(());
        };
        // What the order has lost in all once every successful refund is counted, minus what
        // earlier reversals took.
        let target = reversal(f.earned, Fen::new(f.paid), Fen::ZERO, Fen::new(f.refunded));
        let delta = -(target + f.reversed).max(0);
        let changes = db
            .prepare(
                "INSERT OR IGNORE INTO points_ledger (payee_openid, member, delta, kind, ref, order_id, created_at) \
                 SELECT payee_openid, member, ?2, 'reverse', ?3, order_id, ?4 FROM points_ledger \
                 WHERE order_id = ?1 AND kind = 'earn' \
                 AND (SELECT COALESCE(SUM(delta), 0) FROM points_ledger WHERE order_id = ?1 AND kind = 'reverse') = ?5",
            )
            .bind(&[
                refund.order_id.as_str().into(),
                num(delta),
                format!("reverse:{}", refund.out_refund_no).into(),
                num(now_secs()),
                num(f.reversed),
            ])?
            .run()
            .await?
            .meta()?
            .and_then(|m| m.changes)
            .unwrap_or(0);
        let booked = db
            .prepare("SELECT 1 AS n FROM points_ledger WHERE ref = ?1")
            .bind(&[format!("reverse:{}", refund.out_refund_no).into()])?
            .first::<serde_json::Value>(None)
            .await?
            .is_some();
        if changes > 0 || booked {
            return Ok(());
        }
    }
    Err(ApiError::Internal("points reversal kept racing".into()))
}

#[derive(Deserialize)]
struct ProgrammeBody {
    /// `null` ends the programme (balances stay).
    per_yuan: Option<i64>,
    /// What a redeemed point is worth, fen (0 or absent: no redemption).
    #[serde(default)]
    fen_per_point: i64,
    /// Most points per order.
    #[serde(default)]
    max_per_order: i64,
    /// Days points live (absent or `null`: forever).
    #[serde(default)]
    expire_days: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct MemberRow {
    member: String,
    balance: i64,
    earned: i64,
    entries: i64,
}

/// `GET /api/dash/growth/points`: the programme and every member's balance.
pub async fn get(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let programme = programme_of(env, payee.as_str()).await?;
    let members = env
        .d1("DB")?
        .prepare(
            "SELECT member, SUM(delta) AS balance, SUM(CASE WHEN kind = 'earn' THEN delta ELSE 0 END) AS earned, \
             COUNT(*) AS entries FROM points_ledger WHERE payee_openid = ?1 GROUP BY member ORDER BY balance DESC",
        )
        .bind(&[payee.as_str().into()])?
        .all()
        .await?
        .results::<MemberRow>()?;
    http::json(
        200,
        &serde_json::json!({
            "per_yuan": programme.map(|p| p.per_yuan),
            "fen_per_point": programme.map(|p| p.fen_per_point),
            "max_per_order": programme.map(|p| p.max_per_order),
            "expire_days": programme.and_then(|p| p.expire_days),
            "members": members,
        }),
    )
}

/// `PUT /api/dash/growth/points {"per_yuan": n}`: start or change the programme (`null` ends it).
pub async fn put(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(&req, env).await?;
    let body: ProgrammeBody = http::read_json(&mut req).await?;
    let db = env.d1("DB")?;
    match body.per_yuan {
        None => {
            db.prepare("DELETE FROM points_programmes WHERE payee_openid = ?1")
                .bind(&[payee.as_str().into()])?
                .run()
                .await?;
        }
        Some(n) => {
            let p = Programme::with_redemption(n, body.fen_per_point, body.max_per_order)
                .and_then(|p| p.expiring(body.expire_days))
                .map_err(|m| ApiError::Pay(400, "INVALID_PROGRAMME", m))?;
            db.prepare(
                "INSERT INTO points_programmes (payee_openid, per_yuan, fen_per_point, max_per_order, expire_days, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?6, ?5) ON CONFLICT (payee_openid) DO UPDATE SET per_yuan = ?2, \
                 fen_per_point = ?3, max_per_order = ?4, expire_days = ?6, updated_at = ?5",
            )
            .bind(&[
                payee.as_str().into(),
                num(p.per_yuan),
                num(p.fen_per_point),
                num(p.max_per_order),
                num(now_secs()),
                p.expire_days.map_or(JsValue::NULL, num),
            ])?
            .run()
            .await?;
        }
    }
    get(&req, env).await
}

#[derive(Serialize, Deserialize)]
struct Entry {
    member: String,
    delta: i64,
    kind: String,
    order_id: String,
    created_at: i64,
}

/// `GET /api/dash/growth/points.csv`: the payee's whole ledger (UTF-8 with BOM).
pub async fn export_csv(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let entries = env
        .d1("DB")?
        .prepare(
            "SELECT member, delta, kind, order_id, created_at FROM points_ledger \
             WHERE payee_openid = ?1 ORDER BY id",
        )
        .bind(&[payee.as_str().into()])?
        .all()
        .await?
        .results::<Entry>()?;
    let mut csv = Csv::new();
    csv.row(&["时间（北京时间）", "会员", "积分变动", "类型", "订单"]);
    for e in &entries {
        let when = shoukuan_core::deadline::Deadline::from_unix(e.created_at).to_cst_string();
        let kind = EntryKind::parse(&e.kind).map_or("", EntryKind::label);
        csv.row(&[
            when,
            e.member.clone(),
            e.delta.to_string(),
            kind.to_owned(),
            e.order_id.clone(),
        ]);
    }
    let mut resp = Response::from_bytes(csv.finish().into_bytes())?;
    resp.headers_mut()
        .set("content-type", "text/csv; charset=utf-8")?;
    resp.headers_mut()
        .set("content-disposition", "attachment; filename=\"points.csv\"")?;
    Ok(resp)
}

/// `GET /api/growth/points` (payer session): the payer's balance and history per payee.
pub async fn mine(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let openid = session::current(req, env, Role::Payer).ok_or(ApiError::SignInRequired)?;
    let member = member_of(env, openid.as_str())
        .ok_or_else(|| ApiError::Internal("SESSION_SECRET".into()))?;
    #[derive(Serialize, Deserialize)]
    struct Line {
        payee_openid: String,
        delta: i64,
        kind: String,
        created_at: i64,
    }
    let lines = env
        .d1("DB")?
        .prepare(
            "SELECT payee_openid, delta, kind, created_at FROM points_ledger WHERE member = ?1 ORDER BY id",
        )
        .bind(&[member.as_str().into()])?
        .all()
        .await?
        .results::<Line>()?;
    #[derive(Deserialize)]
    struct Name {
        payee_name: String,
    }
    let mut per_payee: Vec<serde_json::Value> = Vec::new();
    let mut payees: Vec<&str> = lines.iter().map(|l| l.payee_openid.as_str()).collect();
    payees.sort_unstable();
    payees.dedup();
    for p in payees {
        let history: Vec<&Line> = lines.iter().filter(|l| l.payee_openid == p).collect();
        let balance: i64 = history.iter().map(|l| l.delta).sum();
        let history: Vec<serde_json::Value> = history
            .iter()
            .map(|l| serde_json::json!({ "delta": l.delta, "kind": l.kind, "created_at": l.created_at }))
            .collect();
        // The payee by the name on its latest collection (its openid is not the payer's business).
        let name = env
            .d1("DB")?
            .prepare("SELECT payee_name FROM collections WHERE owner_openid = ?1 ORDER BY created_at DESC LIMIT 1")
            .bind(&[p.into()])?
            .first::<Name>(None)
            .await?
            .map(|n| n.payee_name)
            .unwrap_or_default();
        per_payee.push(
            serde_json::json!({ "payee_name": name, "balance": balance, "history": history }),
        );
    }
    http::json(200, &serde_json::json!({ "programmes": per_payee }))
}
