//! `cargo xtask`: the project's two commands for a fresh machine, plus build and bench.
//!
//! - `cargo xtask dev`   installs what is missing, builds, and runs the product locally.
//! - `cargo xtask test`  runs every check and test and ends with `N passed, M failed`.
//! - `cargo xtask build` builds the app and the worker (release), as `test` and `bench` do.
//! - `cargo xtask bench` measures the pages against vanilla-JS baselines (`bench/FIGURES.md`).
//! - `cargo xtask deploy [--dry-run]` deploys to Cloudflare (or checks all of it offline).

mod bench;
mod build;
mod deploy;
mod dev;
mod proc;
mod test;
mod tools;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("dev") => dev::run(),
        Some("test") => test::run(&args[1..]),
        Some("build") => tools::ensure_all().and_then(|t| build::all(&t)),
        Some("bench") => bench::run(),
        Some("deploy") => deploy::run(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <dev|test|build|bench|deploy [--dry-run]>");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (CI keeps one across runs), else
/// `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_relative() { root().join(p) } else { p })
        .unwrap_or_else(|| root().join("target"))
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent")
        .to_path_buf()
}
