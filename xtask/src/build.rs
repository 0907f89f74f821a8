//! Building the app (Trunk → `dist/`) and the worker (worker-build → `worker/build/`).

use anyhow::{ensure, Result};

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

/// The payee pages' own bundles (`app/src/bundle.rs`): `dist/p/<name>/`, served by the worker
/// for their paths (`worker/src/pages.rs`).
pub const PAGE_BUNDLES: [&str; 5] = ["new", "manage", "admin", "dash", "books"];

/// `--cfg erase_components` for the app's wasm: Leptos then builds each component and each
/// `view!` child as a type-erased `AnyView` instead of one nested generic type per view, which
/// the page bundles' monomorphised render code shrinks by (measured with `cargo xtask build`:
/// /manage 192.4 → 176.4 KB brotli wasm, /dash 179.6 → 156.4 KB). The pages behave the same;
/// only the app's Trunk builds get the flag (its artefacts sit next to the worker's, apart).
const APP_RUSTFLAGS: &str = "--cfg erase_components";

/// `trunk …` with the app's wasm flags ([`APP_RUSTFLAGS`]) added to any `RUSTFLAGS` given.
fn trunk(tools: &Tools) -> std::process::Command {
    let mut cmd = tools.command("trunk");
    let rustflags = match std::env::var("RUSTFLAGS") {
        Ok(given) if !given.trim().is_empty() => format!("{given} {APP_RUSTFLAGS}"),
        _ => APP_RUSTFLAGS.to_owned(),
    };
    cmd.env("RUSTFLAGS", rustflags);
    cmd
}

/// `trunk build --release` into `dist/` (the main bundle and the QR reader's worker), then once
/// per page bundle into `dist/p/<name>/`, from a copy of `app/index.html` naming that bundle's
/// binary.
pub fn app(tools: &Tools) -> Result<()> {
    step("building the app (trunk build --release)");
    run_quiet("trunk build", trunk(tools).args(["build", "--release"]))?;
    let index = std::fs::read_to_string(root().join("app/index.html"))?;
    let main_bin = r#"data-bin="shoukuan-app""#;
    ensure!(
        index.contains(main_bin),
        "app/index.html names no {main_bin}"
    );
    // The QR reader's worker is built once, into dist/ (its link names `data-type="worker"`).
    let index: String = index
        .lines()
        .filter(|line| !line.contains(r#"data-type="worker""#))
        .map(|line| format!("{line}\n"))
        .collect();
    for name in PAGE_BUNDLES {
        step(&format!(
            "building the /{name} bundle (trunk build --release)"
        ));
        // Next to index.html, so that its relative links resolve the same (git ignores it).
        let html = root().join(format!("app/index.{name}.html"));
        std::fs::write(
            &html,
            index.replace(main_bin, &format!(r#"data-bin="shoukuan-app-{name}""#)),
        )?;
        run_quiet(
            "trunk build",
            trunk(tools).args([
                "build".as_ref(),
                "--release=true".as_ref(),
                html.as_os_str(),
                "--dist".as_ref(),
                root().join(format!("dist/p/{name}")).as_os_str(),
                "--public-url".as_ref(),
                format!("/p/{name}/").as_ref(),
            ]),
        )?;
    }
    Ok(())
}

/// `worker-build --release` into `worker/build/`; with wasm-opt, the names section is then
/// stripped (see [`strip_worker_names`]).
pub fn worker(tools: &Tools, opt: WorkerOpt) -> Result<()> {
    step("building the worker (worker-build --release)");
    let mut cmd = tools.command("worker-build");
    cmd.arg("--release").current_dir(root().join("worker"));
    if opt == WorkerOpt::NoWasmOpt {
        cmd.arg("--no-opt");
    }
    run_quiet("worker-build", &mut cmd)?;
    if opt == WorkerOpt::Full {
        strip_worker_names(tools)?;
    }
    Ok(())
}

/// worker-build always keeps the wasm's names section (it passes `--debuginfo` to wasm-opt
/// after the profile's flags): about 400 KB raw, 110 KB gzip of the worker (measured
/// 2026-11-29: 3043 KB / 1145 KB gzip-9 with it, 2637 KB / 1034 KB without). Production does
/// not need it: workers-rs's panic hook logs every panic's message and source location. For a
/// trap's stack trace (`wasm-function[N]`), the names are kept beside the wasm as
/// `index_bg.functions.txt` (`N:name`, from the same build; not uploaded, nothing imports it).
fn strip_worker_names(tools: &Tools) -> Result<()> {
    step("stripping the worker's names section (wasm-opt --strip-debug)");
    let build = root().join("worker/build");
    let wasm = build.join("index_bg.wasm");
    let map = tools
        .command(&tools.wasm_opt)
        .arg(&wasm)
        .arg("--print-function-map")
        .args(WASM_FEATURES)
        .output()?;
    ensure!(
        map.status.success(),
        "wasm-opt --print-function-map failed: {}",
        String::from_utf8_lossy(&map.stderr)
    );
    std::fs::write(build.join("index_bg.functions.txt"), &map.stdout)?;
    run_quiet(
        "wasm-opt --strip-debug",
        tools
            .command(&tools.wasm_opt)
            .arg(&wasm)
            .arg("-o")
            .arg(&wasm)
            .arg("--strip-debug")
            .args(WASM_FEATURES),
    )
}

/// The wasm features worker-build enables for wasm-opt (an explicit list, so that binaryen
/// emits no encoding workerd does not read yet).
const WASM_FEATURES: [&str; 7] = [
    "--enable-mutable-globals",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-reference-types",
    "--enable-exception-handling",
];

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
