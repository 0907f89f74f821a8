//! What the bench measures: every case's baselines and pages. **Register a case here**: its
//! baseline files in [`write_baselines`] and its pages in [`pages`], one line each (and its
//! `mod` line in `bench.rs`).

use std::path::Path;

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use shoukuan_tests::sim::Sim;
use shoukuan_tests::worker::Worker;

use crate::measure::Page;
use crate::{abtest, baselines, order, payee, payer};

/// The receive code published for the benchmark (a personal WeChat code, like a real one).
pub const PAY_CODE: &str = "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5";

/// What a case may use: the worker under test and the simulator it takes for WeChat.
pub struct Ctx<'a> {
    pub worker: &'a Worker,
    pub sim: &'a Sim,
}

/// Everything the cases published, ready to be loaded.
pub struct Setup {
    /// In load order; loads are interleaved run by run.
    pub pages: Vec<Page>,
    /// Cookies (`name=value`) the browser holds for the worker's origin (a payee's session).
    pub cookies: Vec<String>,
    /// The first `GET /c/:id` after the start, ms.
    pub first_page_ms: f64,
}

/// The vanilla-JS baselines, written into `dir` (served as `/bench-baseline/`) before
/// `wrangler dev` starts.
pub fn write_baselines(dir: &Path) -> Result<()> {
    let brand = serde_json::to_string(shoukuan_core::page::BRAND_MARK)?;
    std::fs::write(dir.join("index.html"), baselines::request(&brand))?;
    std::fs::write(dir.join("split.html"), baselines::split())?;
    std::fs::write(dir.join("product.html"), baselines::product())?;
    std::fs::write(dir.join("new.html"), baselines::new_form())?;
    std::fs::write(dir.join("order.html"), baselines::order())?;
    Ok(())
}

/// Publishes what every case needs and lists its pages.
pub async fn pages(ctx: &Ctx<'_>) -> Result<Setup> {
    let published = payer::publish(ctx.worker).await?;
    let payee = payee::sign_in(ctx).await?;
    let mut pages = payer::pages(ctx.worker, &published);
    pages.extend(order::pages(ctx, &payee).await?);
    pages.extend(payee::pages(ctx).await?);
    pages.extend(abtest::pages(ctx.worker, &published.product).await?);
    Ok(Setup {
        pages,
        cookies: vec![payee.cookie],
        first_page_ms: published.first_page_ms,
    })
}

/// `POST path` with a JSON body (and a session cookie); the answer, which must be a success.
pub async fn post(worker: &Worker, path: &str, body: &Value) -> Result<Value> {
    post_as(worker, None, path, body).await
}

/// [`post`] with the session `cookie` when given.
pub async fn post_as(
    worker: &Worker,
    cookie: Option<&str>,
    path: &str,
    body: &Value,
) -> Result<Value> {
    let mut request = reqwest::Client::new().post(worker.url(path)).json(body);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let resp = request.send().await?;
    let status = resp.status();
    let answer: Value = resp.json().await.context("answer")?;
    ensure!(
        status.is_success(),
        "POST {path} failed ({status}): {answer}"
    );
    Ok(answer)
}

/// The `id` of a publish answer.
pub fn id_of(created: &Value) -> Result<String> {
    Ok(created["id"]
        .as_str()
        .context("no id in the publish answer")?
        .to_owned())
}
