//! The payee's side of A/B tests (`/api/dash/growth/ab/:collection_id`): set 2–4 variants
//! (checked by `core::abtest`, compliance lint included), read the figures
//! (`core::abtest::stats`), declare a winner, stop. Only the collection's owner sees or
//! changes its test.

use serde::{Deserialize, Serialize};
use shoukuan_core::abtest::stats::{report, Arm, Report};
use shoukuan_core::abtest::{check_variants, Variant, VariantDraft};
use shoukuan_core::money::Fen;
use shoukuan_core::session::Openid;
use worker::{Env, Request, Response};

use super::ab::{current_test, TestRow};
use crate::error::ApiError;
use crate::http::{self, num};
use crate::session::{now_secs, require_approved_payee};

#[derive(Deserialize)]
struct Owned {
    kind: String,
    owner_openid: Option<String>,
    amount_fen: Option<i64>,
}

/// The collection if `payee` owns it (404 otherwise: another payee's ids are not confirmed).
async fn owned(env: &Env, id: &str, payee: &Openid) -> Result<Owned, ApiError> {
    let row = env
        .d1("DB")?
        .prepare("SELECT kind, owner_openid, amount_fen FROM collections WHERE id = ?1")
        .bind(&[id.into()])?
        .first::<Owned>(None)
        .await?;
    row.filter(|r| r.owner_openid.as_deref() == Some(payee.as_str()))
        .ok_or(ApiError::NotFound)
}

/// A test as the dashboard shows it.
#[derive(Serialize)]
struct TestView {
    id: String,
    status: String,
    winner: Option<i64>,
    created_at: i64,
    ended_at: Option<i64>,
    variants: Vec<Variant>,
}

/// Conversions of one variant by kind.
#[derive(Serialize, Default, Clone)]
struct Kinds {
    paid: u64,
    signup: u64,
    claim: u64,
}

#[derive(Serialize)]
struct Answer {
    collection_id: String,
    test: Option<TestView>,
    report: Option<Report>,
    kinds: Vec<Kinds>,
}

#[derive(Deserialize)]
struct Count {
    variant: i64,
    n: i64,
}

#[derive(Deserialize)]
struct KindCount {
    variant: i64,
    kind: String,
    n: i64,
}

async fn counts(env: &Env, test_id: &str, sql: &str) -> Result<Vec<Count>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(sql)
        .bind(&[test_id.into()])?
        .all()
        .await?
        .results::<Count>()?)
}

async fn answer(env: &Env, id: &str, test: Option<TestRow>) -> Result<Answer, ApiError> {
    let Some(test) = test else {
        return Ok(Answer {
            collection_id: id.to_owned(),
            test: None,
            report: None,
            kinds: vec![],
        });
    };
    let variants = test.variants()?;
    let n = variants.len();
    let mut arms = vec![Arm::default(); n];
    let slot = |v: i64| usize::try_from(v).ok().filter(|&i| i < n);
    for c in counts(
        env,
        &test.id,
        "SELECT variant, COUNT(*) AS n FROM ab_exposures WHERE test_id = ?1 GROUP BY variant",
    )
    .await?
    {
        if let Some(i) = slot(c.variant) {
            arms[i].visitors = c.n.max(0) as u64;
        }
    }
    for c in counts(
        env,
        &test.id,
        "SELECT variant, COUNT(DISTINCT visitor) AS n FROM ab_conversions WHERE test_id = ?1 GROUP BY variant",
    )
    .await?
    {
        if let Some(i) = slot(c.variant) {
            arms[i].conversions = c.n.max(0) as u64;
        }
    }
    let mut kinds = vec![Kinds::default(); n];
    let rows = env
        .d1("DB")?
        .prepare("SELECT variant, kind, COUNT(*) AS n FROM ab_conversions WHERE test_id = ?1 GROUP BY variant, kind")
        .bind(&[test.id.as_str().into()])?
        .all()
        .await?
        .results::<KindCount>()?;
    for r in rows {
        if let Some(k) = slot(r.variant).map(|i| &mut kinds[i]) {
            let n = r.n.max(0) as u64;
            match r.kind.as_str() {
                "paid" => k.paid = n,
                "signup" => k.signup = n,
                _ => k.claim = n,
            }
        }
    }
    Ok(Answer {
        collection_id: id.to_owned(),
        report: Some(report(&arms)),
        kinds,
        test: Some(TestView {
            id: test.id,
            status: test.status,
            winner: test.winner,
            created_at: test.created_at,
            ended_at: test.ended_at,
            variants,
        }),
    })
}

/// `GET /api/dash/growth/ab/:id`: the current test with its figures (`test: null` without one).
pub async fn get(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    owned(env, id, &payee).await?;
    let test = current_test(env, id).await?;
    http::json(200, &answer(env, id, test).await?)
}

#[derive(Deserialize)]
struct PutBody {
    variants: Vec<VariantDraft>,
}

/// `PUT /api/dash/growth/ab/:id {"variants": [...]}`: starts a test with 2–4 variants; a
/// current test is stopped (its figures are kept, the new test counts from zero).
pub async fn put(id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(&req, env).await?;
    let collection = owned(env, id, &payee).await?;
    let body: PutBody = http::read_json(&mut req).await?;
    let images = if collection.kind == "product" {
        crate::products::find_view(id, env)
            .await?
            .map(|p| p.product.images)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let price = collection.amount_fen.map(Fen::new);
    let variants = check_variants(&body.variants, &images, price).map_err(ApiError::Invalid)?;
    let variants_json =
        serde_json::to_string(&variants).map_err(|e| ApiError::Internal(e.to_string()))?;
    let test_id = crate::secrets::new_public_id()?;
    let salt = crate::secrets::new_token()?;
    let now = now_secs();
    let db = env.d1("DB")?;
    db.batch(vec![
        db.prepare(
            "UPDATE ab_tests SET status = 'stopped', ended_at = ?2 \
             WHERE collection_id = ?1 AND status IN ('running', 'decided')",
        )
        .bind(&[id.into(), num(now)])?,
        db.prepare(
            "INSERT INTO ab_tests (id, collection_id, owner_openid, salt, variants, status, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6)",
        )
        .bind(&[
            test_id.as_str().into(),
            id.into(),
            payee.as_str().into(),
            salt.as_str().into(),
            variants_json.as_str().into(),
            num(now),
        ])?,
    ])
    .await?;
    let test = current_test(env, id).await?;
    http::json(201, &answer(env, id, test).await?)
}

#[derive(Deserialize)]
struct WinnerBody {
    variant: i64,
}

/// `POST /api/dash/growth/ab/:id/winner {"variant": n}`: from now on every visitor sees
/// variant `n` (0-based) and nothing more is counted. Only a running test.
pub async fn declare_winner(id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(&req, env).await?;
    owned(env, id, &payee).await?;
    let body: WinnerBody = http::read_json(&mut req).await?;
    let test = current_test(env, id).await?.ok_or(ApiError::NotFound)?;
    let n = test.variants()?.len() as i64;
    if !(0..n).contains(&body.variant) {
        return Err(ApiError::Pay(
            400,
            "INVALID_VARIANT",
            format!("没有这个版本（共 {n} 个）"),
        ));
    }
    let changed = env
        .d1("DB")?
        .prepare(
            "UPDATE ab_tests SET status = 'decided', winner = ?2, ended_at = ?3 \
             WHERE id = ?1 AND status = 'running'",
        )
        .bind(&[test.id.as_str().into(), num(body.variant), num(now_secs())])?
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if changed == 0 {
        return Err(ApiError::Conflict("TEST_DECIDED", "这个测试已经选定了版本"));
    }
    let test = current_test(env, id).await?;
    http::json(200, &answer(env, id, test).await?)
}

/// `DELETE /api/dash/growth/ab/:id`: stops the test; the page shows as published again.
pub async fn stop(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    owned(env, id, &payee).await?;
    env.d1("DB")?
        .prepare(
            "UPDATE ab_tests SET status = 'stopped', ended_at = ?2 \
             WHERE collection_id = ?1 AND status IN ('running', 'decided')",
        )
        .bind(&[id.into(), num(now_secs())])?
        .run()
        .await?;
    http::json(200, &answer(env, id, None).await?)
}
