//! `cargo xtask bench`: bytes and ready time of the payer pages (request, split sign-up, price
//! page, order page) and `/new`, each against its own vanilla-JS baseline, of the other payee
//! pages (`/manage`, `/admin`, `/dash`), plus the worker's wasm size and first-request latency;
//! the figures go to `bench/FIGURES.md`.
//!
//! Builds everything in release (as `cargo xtask build`), then runs the measurement in
//! `tests/src/bin/bench.rs` and `tests/src/bin/bench/` (package `shoukuan-tests`): one
//! `wrangler dev` with `shoukuan sim` as its WeChat serving every page, Debian Chromium with CPU
//! and network throttling. Extra arguments go to it, e.g.
//! `cargo xtask bench --runs 11` or `--leptos-payer-dist DIR` (a payer-only Leptos build to
//! time as well).

use anyhow::{bail, Context, Result};

use crate::proc::{run_quiet, step};
use crate::{build, tools};

pub fn run() -> Result<()> {
    // `cargo xtask bench [--runs N]`: everything after `bench`.
    let args: Vec<String> = std::env::args().skip(2).collect();
    let tools = tools::ensure_all()?;
    build::all(&tools)?;
    step("building the benchmark (cargo build -p shoukuan-tests --bin bench)");
    run_quiet(
        "cargo build --bin bench",
        tools
            .command("cargo")
            .args(["build", "-p", "shoukuan-tests", "--bin", "bench"]),
    )?;
    step("measuring the pages against their vanilla-JS baselines (about ten minutes)");
    let status = tools
        .command("cargo")
        .args([
            "run",
            "--quiet",
            "-p",
            "shoukuan-tests",
            "--bin",
            "bench",
            "--",
        ])
        .args(&args)
        .status()
        .context("running the benchmark")?;
    if !status.success() {
        bail!("the benchmark failed");
    }
    Ok(())
}
