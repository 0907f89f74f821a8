//! The order page `/o/:id` (a payer page) against its vanilla-JS baseline: a pending Native
//! order of a merchant collection, its QR shown, polled until paid.

use anyhow::{ensure, Context, Result};
use serde_json::json;

use crate::cases::{self, Ctx};
use crate::measure::Page;
use crate::payee::Payee;

/// A merchant collection of `payee` and a Native order on it (placed from a desktop browser).
pub async fn pages(ctx: &Ctx<'_>, payee: &Payee) -> Result<Vec<Page>> {
    let worker = ctx.worker;
    let collection = cases::post_as(
        worker,
        Some(&payee.cookie),
        "/api/dash/merchant-collections",
        &json!({ "payee_name": "李四商店", "title": "课程费", "amount": "8.88", "note": "" }),
    )
    .await?;
    let order = cases::post(
        worker,
        "/api/orders",
        &json!({ "collection_id": cases::id_of(&collection)?, "amount": null }),
    )
    .await?;
    ensure!(order["method"] == "native", "not a Native order: {order}");
    let id = order["id"].as_str().context("no order id")?;
    let code_url = order["code_url"]
        .as_str()
        .context("no code_url on the Native order")?;
    Ok(vec![
        Page {
            group: "order",
            role: "ours",
            url: worker.url(&format!("/o/{id}")),
            qr: Some(code_url.to_owned()),
        },
        Page {
            group: "order",
            role: "baseline",
            url: worker.url(&format!("/bench-baseline/order?id={id}")),
            qr: Some(code_url.to_owned()),
        },
    ])
}
