//! The 20:00 digest (Asia/Shanghai): for each payee who switched it on, once a day, the day's
//! payments (verified orders and confirmed split payments), their total and the 我已付款
//! claims still waiting. A day with nothing to say sends nothing (recorded as skipped).

use serde::Deserialize;
use shoukuan_core::money::Fen;
use shoukuan_core::notice::{digest_day, Digest, NoticeKind};
use shoukuan_core::paytime::ShanghaiDay;
use worker::Env;

use super::{db, record_and_send, record_skipped, template, NewNotice, NOTICE_TEMPLATE};
use crate::error::ApiError;
use crate::http::num;

#[derive(Deserialize)]
struct Sum {
    n: i64,
    fen: i64,
}

async fn digest_of(env: &Env, payee: &str, day: ShanghaiDay) -> Result<Digest, ApiError> {
    let db = db(env)?;
    let (from, to) = (num(day.start()), num(day.end()));
    let orders = db
        .prepare(
            "SELECT COUNT(*) AS n, COALESCE(SUM(amount_fen), 0) AS fen FROM orders \
             WHERE payee_openid = ?1 AND paid_at >= ?2 AND paid_at < ?3",
        )
        .bind(&[payee.into(), from.clone(), to.clone()])?;
    let confirmed = db
        .prepare(
            "SELECT COUNT(*) AS n, COALESCE(SUM(p.paid_fen), 0) AS fen FROM participants p \
             JOIN collections c ON c.id = p.collection_id WHERE c.owner_openid = ?1 \
             AND p.paid_by = 'payee_confirmed' AND p.paid_at >= ?2 AND p.paid_at < ?3",
        )
        .bind(&[payee.into(), from, to])?;
    let claims = db
        .prepare(
            "SELECT COUNT(*) AS n, 0 AS fen FROM participants p JOIN collections c ON c.id = p.collection_id \
             WHERE c.owner_openid = ?1 AND p.status = 'claimed'",
        )
        .bind(&[payee.into()])?;
    let mut sums = Vec::new();
    for result in db.batch(vec![orders, confirmed, claims]).await? {
        let row = result
            .results::<Sum>()?
            .into_iter()
            .next()
            .unwrap_or(Sum { n: 0, fen: 0 });
        sums.push(row);
    }
    let count = |s: &Sum| u32::try_from(s.n).unwrap_or(u32::MAX);
    Ok(Digest {
        count: count(&sums[0]).saturating_add(count(&sums[1])),
        total: Fen::new(sums[0].fen + sums[1].fen),
        unconfirmed_claims: count(&sums[2]),
    })
}

/// The cron: between 20:00 and 22:00, each payee with the digest on who has not had today's.
pub async fn send_due(env: &Env, now: i64) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Payee {
        openid: String,
    }
    let Some(day) = digest_day(now) else {
        return Ok(());
    };
    let Some(template_id) = template(env, NOTICE_TEMPLATE) else {
        return Ok(());
    };
    let suffix = format!(":{}", day.number());
    let payees = db(env)?
        .prepare(
            "SELECT s.openid FROM notice_settings s WHERE s.digest = 1 AND NOT EXISTS \
             (SELECT 1 FROM notices n WHERE n.event_key = 'digest:' || s.openid || ?1) LIMIT 50",
        )
        .bind(&[suffix.as_str().into()])?
        .all()
        .await?
        .results::<Payee>()?;
    for payee in payees {
        let digest = digest_of(env, &payee.openid, day).await?;
        let notice = NewNotice {
            key: format!("digest:{}{suffix}", payee.openid),
            kind: NoticeKind::Digest,
            payee: Some(payee.openid.clone()),
            collection_id: None,
            participant_id: None,
            template_id: template_id.clone(),
            data: digest.notice(now).data(),
            path: Some("/dash".into()),
        };
        if digest.is_empty() {
            record_skipped(env, notice, now).await?;
        } else {
            record_and_send(env, notice, now).await?;
        }
    }
    Ok(())
}
