//! Building the app (Trunk → `dist/`) and the worker (worker-build → `worker/build/`).

use anyhow::Result;

use crate::proc::{run_quiet, step};
use crate::root;
use crate::tools::Tools;

/// How much optimisation the worker gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerOpt {
    /// Release build plus wasm-opt: what ships, and what tests and benchmarks use.
    Full,
    /// Release build without wasm-opt: a faster edit-run loop for `cargo xtask dev`.
    NoWasmOpt,
}

/// `trunk build --release` into `dist/`.
pub fn app(tools: &Tools) -> Result<()> {
    step("building the app (trunk build --release)");
    run_quiet(
        "trunk build",
        tools.command("trunk").args(["build", "--release"]),
    )
}

/// `worker-build --release` into `worker/build/`.
pub fn worker(tools: &Tools, opt: WorkerOpt) -> Result<()> {
    step("building the worker (worker-build --release)");
    let mut cmd = tools.command("worker-build");
    cmd.arg("--release").current_dir(root().join("worker"));
    if opt == WorkerOpt::NoWasmOpt {
        cmd.arg("--no-opt");
    }
    run_quiet("worker-build", &mut cmd)
}

/// The `shoukuan` CLI (debug build; key generation and the simulator).
pub fn cli(tools: &Tools) -> Result<()> {
    step("building the shoukuan CLI");
    run_quiet(
        "cargo build -p shoukuan-cli",
        tools.command("cargo").args(["build", "-p", "shoukuan-cli"]),
    )
}

/// Everything the end-to-end tests and a deploy need.
pub fn all(tools: &Tools) -> Result<()> {
    app(tools)?;
    worker(tools, WorkerOpt::Full)?;
    cli(tools)
}
