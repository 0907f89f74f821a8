//! Points expiry: for a programme with `expire_days`, the points cron (`points::scheduled`)
//! appends one `expire` entry per member for what is left of their lots past their time
//! (`core::points::due_to_expire`, oldest first). The ledger stays append-only and a balance
//! stays its sum.
//!
//! The entry is booked only if the member's ledger is still as it was read: its `ref` names the
//! last entry id seen (`expire:<member>:<id>`, so a second cron run on the same ledger books
//! nothing) and the insert is conditional on that id still being the member's latest — a
//! redemption or refund landing in between makes it book nothing, and the next run computes
//! again from the new ledger.

use serde::Deserialize;
use shoukuan_core::points::{due_to_expire, Entry, EntryKind};
use worker::Env;

use crate::error::ApiError;
use crate::http::num;

/// Members handled per run at most (the rest wait for the next minute).
const MEMBERS_PER_RUN: usize = 200;

/// Books what expired by `now` for every programme with a life of points.
pub async fn run(env: &Env, now: i64) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Due {
        payee_openid: String,
        member: String,
        expire_days: i64,
    }
    // Members with an earning old enough to have expired (booked or not: the sum decides).
    let due = env
        .d1("DB")?
        .prepare(format!(
            "SELECT DISTINCT l.payee_openid, l.member, p.expire_days FROM points_ledger l \
             JOIN points_programmes p ON p.payee_openid = l.payee_openid \
             WHERE p.expire_days IS NOT NULL AND l.kind = 'earn' \
             AND l.created_at + p.expire_days * 86400 <= ?1 \
             AND (SELECT COALESCE(SUM(delta), 0) FROM points_ledger b \
                  WHERE b.payee_openid = l.payee_openid AND b.member = l.member) > 0 \
             LIMIT {MEMBERS_PER_RUN}"
        ))
        .bind(&[num(now)])?
        .all()
        .await?
        .results::<Due>()?;
    for d in due {
        expire_member(env, &d.payee_openid, &d.member, d.expire_days, now).await?;
    }
    Ok(())
}

async fn expire_member(
    env: &Env,
    payee: &str,
    member: &str,
    days: i64,
    now: i64,
) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Row {
        id: i64,
        kind: String,
        delta: i64,
        order_id: String,
        created_at: i64,
    }
    let db = env.d1("DB")?;
    let rows = db
        .prepare(
            "SELECT id, kind, delta, order_id, created_at FROM points_ledger \
             WHERE payee_openid = ?1 AND member = ?2 ORDER BY id",
        )
        .bind(&[payee.into(), member.into()])?
        .all()
        .await?
        .results::<Row>()?;
    let Some(last) = rows.last().map(|r| r.id) else {
        return Ok(());
    };
    let entries: Vec<Entry> = rows
        .into_iter()
        .filter_map(|r| {
            Some(Entry {
                kind: EntryKind::parse(&r.kind)?,
                delta: r.delta,
                order_id: r.order_id,
                at: r.created_at,
            })
        })
        .collect();
    let due = due_to_expire(&entries, days, now);
    if due <= 0 {
        return Ok(());
    }
    db.prepare(
        "INSERT OR IGNORE INTO points_ledger (payee_openid, member, delta, kind, ref, order_id, created_at) \
         SELECT ?1, ?2, ?3, 'expire', ?4, '', ?5 \
         WHERE (SELECT MAX(id) FROM points_ledger WHERE payee_openid = ?1 AND member = ?2) = ?6",
    )
    .bind(&[
        payee.into(),
        member.into(),
        num(-due),
        format!("expire:{member}:{last}").into(),
        num(now),
        num(last),
    ])?
    .run()
    .await?;
    Ok(())
}
