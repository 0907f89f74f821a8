//! The payee pages, each its own app bundle: `/new` (against its vanilla-JS baseline),
//! `/manage/:id` and `/admin/:id` (the manage token in the fragment) and `/dash` (signed in
//! through the simulator's OAuth, approved by the operator).

use anyhow::{ensure, Context, Result};
use serde_json::json;
use shoukuan_tests::oauth::wechat_session;

use crate::cases::{self, Ctx, PAY_CODE};
use crate::measure::Page;

/// The operator secret the bench's worker runs with.
pub const OPERATOR: &str = "bench-operator-secret-0123456789";

/// A signed-in, approved payee.
pub struct Payee {
    /// `sk_payee=…`.
    pub cookie: String,
}

/// Signs a new simulated WeChat user in as a payee and approves them.
pub async fn sign_in(ctx: &Ctx<'_>) -> Result<Payee> {
    let openid = ctx.sim.create_payer(true).await?;
    let cookie = wechat_session(ctx.worker, "/oauth/start?next=/dash", &openid, "sk_payee").await;
    let resp = reqwest::Client::new()
        .post(
            ctx.worker
                .url(&format!("/api/operator/payees/{openid}/approve")),
        )
        .bearer_auth(OPERATOR)
        .send()
        .await?;
    ensure!(
        resp.status().is_success(),
        "approving the payee: {}",
        resp.status()
    );
    Ok(Payee { cookie })
}

/// `/new` and its baseline, a request's manage page, a split's admin page (five sign-ups) and
/// the dashboard (of the payee whose session cookie the browser holds, [`sign_in`]).
pub async fn pages(ctx: &Ctx<'_>) -> Result<Vec<Page>> {
    let worker = ctx.worker;
    let request = cases::post(
        worker,
        "/api/collections",
        &json!({
            "payee_name": "张三", "title": "周五聚餐 AA", "amount": "12.34",
            "note": "请备注姓名", "pay_code": PAY_CODE,
        }),
    )
    .await?;
    let manage_path = request["manage_path"]
        .as_str()
        .context("no manage_path in the publish answer")?
        .to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let deadline = shoukuan_core::deadline::Deadline::from_unix(now + 3 * 86_400).to_input_value();
    let split = cases::post(
        worker,
        "/api/collections",
        &json!({
            "kind": "split", "payee_name": "张三", "title": "周末徒步", "note": "",
            "pay_code": PAY_CODE,
            "split": { "mode": "fixed", "per_person": "50", "cap": "20", "deadline": deadline },
        }),
    )
    .await?;
    let split_id = cases::id_of(&split)?;
    let token = split["manage_token"]
        .as_str()
        .context("no manage_token in the publish answer")?;
    for name in ["王小明", "李华", "赵六", "钱七", "孙八"] {
        cases::post(
            worker,
            &format!("/api/splits/{split_id}/join"),
            &json!({ "name": name }),
        )
        .await?;
    }
    let page = |group, role, path: &str| Page {
        group,
        role,
        url: worker.url(path),
        qr: None,
    };
    Ok(vec![
        page("new", "ours", "/new"),
        page("new", "baseline", "/bench-baseline/new"),
        page("manage", "ours", &manage_path),
        page("admin", "ours", &format!("/admin/{split_id}#t={token}")),
        page("dash", "ours", "/dash"),
    ])
}
