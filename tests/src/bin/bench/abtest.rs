//! The A/B timing case (issue 15): does a running A/B test slow the payer page? Two price pages
//! with the same content: `price-ab/ours` has a running test of two variants (B: another title,
//! the price shown plain, price first), `price-ab/baseline` has none. The bench loads them
//! interleaved with every other page, cold, throttled, `--runs` times (≥ 7 by default), and its
//! report prints the medians side by side (ratio goal ≤ 1.00 within noise).
//!
//! The test row is written straight into the local D1 (`wrangler d1 execute`): the bench's
//! worker has no Official Account to sign a payee in with, and what is timed is only how the
//! worker renders a page with a test — assignment, variant, exposure — which reads that row.

use anyhow::{Context, Result};
use serde_json::Value;
use shoukuan_core::abtest::{check_variants, VariantDraft};
use shoukuan_core::money::Fen;
use shoukuan_tests::worker::Worker;

use super::{id_of, post, Page};

/// The pair of pages of this case (register with one line: `pages.extend(abtest::pages(…))`).
pub async fn pages(worker: &Worker, product: &str) -> Result<Vec<Page>> {
    let view: Value = reqwest::get(worker.url(&format!("/api/products/{product}")))
        .await?
        .json()
        .await?;
    let image = view["product"]["images"][0]
        .as_str()
        .context("the price page's image")?
        .to_owned();
    let twin = |title: &str| {
        serde_json::json!({
            "kind": "product", "payee_name": "小满酸奶", "title": title,
            "amount": "29", "note": "", "pay_code": super::PAY_CODE,
            "product": {
                "description": "每日现做，冷链配送", "original_price": "39",
                "images": [image], "shop_name": "小满酸奶",
                "shop_address": "上海市黄浦区南京东路 1 号", "tags": ["酸奶", "下午茶"],
            },
        })
    };
    let with_test = id_of(&post(worker, "/api/collections", &twin("手工酸奶 6 杯装")).await?)?;
    let without = id_of(&post(worker, "/api/collections", &twin("手工酸奶 6 杯装")).await?)?;
    let variants = check_variants(
        &[
            VariantDraft {
                label: "A".into(),
                ..VariantDraft::default()
            },
            VariantDraft {
                label: "B".into(),
                title: Some("手工酸奶 6 杯装 · 今日现做".into()),
                price: Some("plain".into()),
                blocks: Some("price_first".into()),
                ..VariantDraft::default()
            },
        ],
        &[],
        Some(Fen::new(2900)),
    )
    .map_err(|e| anyhow::anyhow!("bench variants: {e:?}"))?;
    let variants = serde_json::to_string(&variants)?.replace('\'', "''");
    worker.query(&format!(
        "INSERT INTO ab_tests (id, collection_id, owner_openid, salt, variants, status, created_at) \
         VALUES ('bench-{with_test}', '{with_test}', 'bench', 'bench-salt', '{variants}', 'running', 0)"
    ))?;
    Ok(vec![
        Page {
            group: "price-ab",
            role: "ours",
            url: worker.url(&format!("/c/{with_test}")),
            qr: true,
        },
        Page {
            group: "price-ab",
            role: "baseline",
            url: worker.url(&format!("/c/{without}")),
            qr: true,
        },
    ])
}
