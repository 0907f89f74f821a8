//! A/B tests on the payer page: the worker picks the visitor's variant while rendering
//! ([`present`]), counts the exposure once per visitor and variant, and attributes what the
//! visitor does next — an order later paid ([`order_created`], [`order_paid`]), a split sign-up
//! ([`signed_up`]) and its 我已付款 ([`claimed`]) — to the variant seen. Every function here is a
//! statistic next to a payment or a sign-up: it logs its own errors and never fails the caller.

use serde::Deserialize;
use shoukuan_core::abtest::{assign, Variant};
use shoukuan_core::collection::CollectionView;
use shoukuan_core::product::{BlockOrder, Product, ProductView};
use shoukuan_core::split::SplitView;
use worker::{Env, Request};

use super::visitor;
use crate::error::ApiError;
use crate::http::num;
use crate::session::now_secs;

/// A page view whose presentation a variant can change.
pub trait Presentable {
    /// The collection part (title, note).
    fn collection_mut(&mut self) -> &mut CollectionView;
    /// The price page's product (cover, price display), when it is one.
    fn product_mut(&mut self) -> Option<&mut Product> {
        None
    }
    /// The price page's block order, when it is one.
    fn blocks_mut(&mut self) -> Option<&mut BlockOrder> {
        None
    }
}

impl Presentable for CollectionView {
    fn collection_mut(&mut self) -> &mut CollectionView {
        self
    }
}

impl Presentable for SplitView {
    fn collection_mut(&mut self) -> &mut CollectionView {
        &mut self.collection
    }
}

impl Presentable for ProductView {
    fn collection_mut(&mut self) -> &mut CollectionView {
        &mut self.collection
    }
    fn product_mut(&mut self) -> Option<&mut Product> {
        Some(&mut self.product)
    }
    fn blocks_mut(&mut self) -> Option<&mut BlockOrder> {
        Some(&mut self.blocks)
    }
}

/// The current (running or decided) test of a collection.
#[derive(Debug, Clone, Deserialize)]
pub struct TestRow {
    pub id: String,
    pub salt: String,
    pub variants: String,
    pub status: String,
    pub winner: Option<i64>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

impl TestRow {
    /// The stored variants.
    pub fn variants(&self) -> Result<Vec<Variant>, ApiError> {
        serde_json::from_str(&self.variants)
            .map_err(|e| ApiError::Internal(format!("ab test {}: {e}", self.id)))
    }
}

const TEST_COLUMNS: &str = "id, salt, variants, status, winner, created_at, ended_at";

/// The collection's current test, if any.
pub async fn current_test(env: &Env, collection_id: &str) -> Result<Option<TestRow>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(format!(
            "SELECT {TEST_COLUMNS} FROM ab_tests WHERE collection_id = ?1 AND status IN ('running', 'decided')"
        ))
        .bind(&[collection_id.into()])?
        .first::<TestRow>(None)
        .await?)
}

/// Shows the visitor's variant on `view` (the one call in the payer page's rendering) and
/// counts the exposure. Without a test the view is unchanged; after "declare winner" everyone
/// sees the winner and nothing is counted.
pub async fn present<V: Presentable>(view: &mut V, req: &Request, env: &Env) {
    if let Err(e) = try_present(view, req, env).await {
        worker::console_error!("ab test presentation: {e:?}");
    }
}

async fn try_present<V: Presentable>(
    view: &mut V,
    req: &Request,
    env: &Env,
) -> Result<(), ApiError> {
    let id = view.collection_mut().id.clone();
    let Some(test) = current_test(env, &id).await? else {
        return Ok(());
    };
    let variants = test.variants()?;
    let visitor = visitor::key(req, env);
    let chosen = match (test.status.as_str(), test.winner, &visitor) {
        ("decided", Some(w), _) => usize::try_from(w).unwrap_or(0),
        (_, _, Some(v)) => assign(&test.salt, v, variants.len()),
        _ => 0,
    };
    let Some(variant) = variants.get(chosen) else {
        return Ok(());
    };
    variant.apply(view.collection_mut());
    if let Some(product) = view.product_mut() {
        variant.apply_product(product);
    }
    if let (Some(order), Some(blocks)) = (variant.blocks, view.blocks_mut()) {
        *blocks = order;
    }
    if let (Some(visitor), "running") = (visitor, test.status.as_str()) {
        // Counted after the page is sent: the payer does not wait on this write.
        let (env, test_id, seen_at) = (env.clone(), test.id, now_secs());
        crate::after::defer(async move {
            if let Err(e) = record_exposure(&env, &test_id, &visitor, chosen, seen_at).await {
                worker::console_error!("ab exposure: {e:?}");
            }
        });
    }
    Ok(())
}

/// Counts the visitor's exposure to `variant` (once per visitor and variant).
async fn record_exposure(
    env: &Env,
    test_id: &str,
    visitor: &str,
    variant: usize,
    seen_at: i64,
) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare(
            "INSERT INTO ab_exposures (test_id, visitor, variant, seen_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&[
            test_id.into(),
            visitor.into(),
            num(variant as i64),
            num(seen_at),
        ])?
        .run()
        .await?;
    Ok(())
}

/// Links `reference` (an order or a sign-up) to the variant the requesting visitor last saw
/// on this collection's running test; `false` when the visitor saw none.
async fn link(
    env: &Env,
    req: &Request,
    collection_id: &str,
    reference: &str,
) -> Result<bool, ApiError> {
    let Some(visitor) = visitor::key(req, env) else {
        return Ok(false);
    };
    let result = env
        .d1("DB")?
        .prepare(
            "INSERT OR IGNORE INTO ab_links (ref, test_id, visitor, variant, created_at) \
             SELECT ?1, e.test_id, e.visitor, e.variant, ?4 FROM ab_exposures e \
             JOIN ab_tests t ON t.id = e.test_id \
             WHERE t.collection_id = ?2 AND t.status = 'running' AND e.visitor = ?3 \
             ORDER BY e.seen_at DESC LIMIT 1",
        )
        .bind(&[
            reference.into(),
            collection_id.into(),
            visitor.as_str().into(),
            num(now_secs()),
        ])?
        .run()
        .await?;
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

/// Records a conversion of `kind` for the visitor linked to `reference` (idempotent).
async fn convert(env: &Env, reference: &str, kind: &str) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare(
            "INSERT OR IGNORE INTO ab_conversions (test_id, visitor, variant, kind, ref, created_at) \
             SELECT test_id, visitor, variant, ?2, ref, ?3 FROM ab_links WHERE ref = ?1",
        )
        .bind(&[reference.into(), kind.into(), num(now_secs())])?
        .run()
        .await?;
    Ok(())
}

/// A merchant order was just created from a payer page (the payments code calls this).
pub async fn order_created(env: &Env, req: &Request, collection_id: &str, out_trade_no: &str) {
    if let Err(e) = link(env, req, collection_id, &format!("o:{out_trade_no}")).await {
        worker::console_error!("ab attribution of order {out_trade_no}: {e:?}");
    }
}

/// An order just became paid (verified): a conversion of the variant its payer saw.
pub async fn order_paid(env: &Env, out_trade_no: &str) {
    if let Err(e) = convert(env, &format!("o:{out_trade_no}"), "paid").await {
        worker::console_error!("ab conversion of order {out_trade_no}: {e:?}");
    }
}

/// A visitor just signed up to a split: a conversion (personal and merchant mode alike).
pub async fn signed_up(env: &Env, req: &Request, collection_id: &str, participant_id: &str) {
    let reference = format!("p:{participant_id}");
    let outcome = async {
        if link(env, req, collection_id, &reference).await? {
            convert(env, &reference, "signup").await?;
        }
        Ok::<(), ApiError>(())
    };
    if let Err(e) = outcome.await {
        worker::console_error!("ab conversion of sign-up {participant_id}: {e:?}");
    }
}

/// A participant just said 我已付款 (personal mode).
pub async fn claimed(env: &Env, participant_id: &str) {
    if let Err(e) = convert(env, &format!("p:{participant_id}"), "claim").await {
        worker::console_error!("ab conversion of claim {participant_id}: {e:?}");
    }
}
