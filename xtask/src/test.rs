//! `cargo xtask test`: every check and test, ending with one line
//! `N passed, M failed, K skipped`.
//!
//! Counting: each `cargo test` contributes its own passed/failed test counts (run with
//! `--no-fail-fast`, so one failing test binary does not hide the others); fmt, each clippy
//! run, each build and the deploy dry run count as one check each, so a broken build can never
//! hide behind zero failed tests. Skipped: tests marked `#[ignore]` (benchmarks run by hand)
//! and stages left out on purpose (`--no-e2e`), each named in the output.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::proc::{capture, step};
use crate::tools::{self, Tools};
use crate::{build, deploy};

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    skipped: u64,
    failures: Vec<String>,
    skips: Vec<String>,
}

impl Tally {
    fn check(&mut self, name: &str, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            self.failures.push(name.to_owned());
        }
    }

    fn skip(&mut self, name: &str, why: &str) {
        println!("(skipped: {name} — {why})");
        self.skipped += 1;
        self.skips.push(name.to_owned());
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let skip_e2e = args.iter().any(|a| a == "--no-e2e");
    let mut tally = Tally::default();

    step("checking system packages");
    let mut missing = missing_system_packages();
    if !missing.is_empty() {
        match tools::ensure_debian_packages(&missing) {
            Ok(true) => missing = missing_system_packages(),
            Ok(false) => {}
            Err(e) => eprintln!("{e:#}"),
        }
    }
    if !missing.is_empty() {
        println!(
            "missing Debian packages: {} — install them with:\n    {}",
            missing.join(", "),
            tools::apt_command(&missing)
        );
    }
    tally.check("system packages", missing.is_empty());

    let tools = tools::ensure_all()?;

    step("cargo fmt --check");
    tally.check(
        "cargo fmt --check",
        cargo(&tools, &["fmt", "--all", "--", "--check"], true),
    );

    step("clippy (native)");
    tally.check(
        "clippy native",
        cargo(
            &tools,
            &[
                "clippy",
                "--workspace",
                "--exclude",
                "shoukuan-worker",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            true,
        ),
    );
    step("clippy (wasm32)");
    tally.check(
        "clippy wasm32 (core, worker)",
        cargo(
            &tools,
            &[
                "clippy",
                "-p",
                "shoukuan-core",
                "-p",
                "shoukuan-worker",
                "--lib",
                "--target",
                "wasm32-unknown-unknown",
                "--",
                "-D",
                "warnings",
            ],
            true,
        ),
    );
    tally.check(
        "clippy wasm32 (app)",
        cargo(
            &tools,
            &[
                "clippy",
                "-p",
                "shoukuan-app",
                "--all-targets",
                "--target",
                "wasm32-unknown-unknown",
                "--",
                "-D",
                "warnings",
            ],
            true,
        ),
    );

    step("unit and integration tests (native)");
    cargo_test(
        &tools,
        &mut tally,
        "native tests",
        &[
            "test",
            "--workspace",
            "--exclude",
            "shoukuan-worker",
            "--exclude",
            "shoukuan-tests",
            "--no-fail-fast",
        ],
        &[],
    );

    step("app tests in headless Chromium (wasm-bindgen-test)");
    cargo_test(
        &tools,
        &mut tally,
        "app wasm tests",
        &[
            "test",
            "-p",
            "shoukuan-app",
            "--target",
            "wasm32-unknown-unknown",
            "--no-fail-fast",
        ],
        &[
            ("CHROMEDRIVER", "/usr/bin/chromedriver"),
            ("WASM_BINDGEN_TEST_TIMEOUT", "120"),
        ],
    );

    if skip_e2e {
        for stage in ["release build", "deploy dry run", "end-to-end suite"] {
            tally.skip(stage, "--no-e2e");
        }
    } else {
        step("building app, worker and CLI for the end-to-end suite");
        let built = build::all(&tools).map_err(|e| eprintln!("{e:#}")).is_ok();
        tally.check("release build", built);
        if built {
            step("cargo xtask deploy --dry-run (wrangler deploy --dry-run, offline)");
            let dry_run = deploy::dry_run(&tools, deploy::Build::AlreadyBuilt);
            if let Err(e) = &dry_run {
                eprintln!("{e:#}");
            }
            tally.check("deploy dry run", dry_run.is_ok());
        } else {
            tally.check("deploy dry run (not run: the build failed)", false);
        }
        if built && missing.is_empty() {
            step(
                "end-to-end suite (wrangler dev + D1 + Chromium + contract tests with Python SDKs)",
            );
            cargo_test(
                &tools,
                &mut tally,
                "end-to-end tests",
                &[
                    "test",
                    "-p",
                    "shoukuan-tests",
                    "--no-fail-fast",
                    "--",
                    "--test-threads=2",
                ],
                &[],
            );
        } else {
            tally.check(
                "end-to-end suite (not run: build or system packages missing)",
                false,
            );
        }
    }

    println!();
    if !tally.skips.is_empty() {
        println!("skipped: {}", tally.skips.join("; "));
    }
    if !tally.failures.is_empty() {
        println!("failed: {}", tally.failures.join("; "));
    }
    println!(
        "{} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.skipped
    );
    if tally.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn cargo(tools: &Tools, args: &[&str], echo: bool) -> bool {
    capture(
        &format!("cargo {}", args.join(" ")),
        tools.command("cargo").args(args),
        echo,
    )
    .map(|o| o.success)
    .unwrap_or(false)
}

/// Runs `cargo test …`, adding up every `test result:` line. A run that fails without
/// reporting a failed test (a compile error, a crashed binary) counts as one failure.
fn cargo_test(tools: &Tools, tally: &mut Tally, name: &str, args: &[&str], envs: &[(&str, &str)]) {
    let mut cmd = tools.command("cargo");
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let Ok(out) = capture(name, &mut cmd, true) else {
        tally.check(name, false);
        return;
    };
    let counts = count_results(&out.output);
    tally.passed += counts.passed;
    tally.failed += counts.failed;
    if counts.failed > 0 {
        tally
            .failures
            .push(format!("{name}: {} failed", counts.failed));
    }
    if counts.ignored > 0 {
        tally.skipped += counts.ignored;
        tally
            .skips
            .push(format!("{name}: {} ignored (run by hand)", counts.ignored));
    }
    if !out.success && counts.failed == 0 {
        tally.check(&format!("{name} (did not complete)"), false);
    }
}

/// What the `test result:` lines of one `cargo test` add up to.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

/// Sums `test result: ok. 3 passed; 1 failed; 2 ignored; …` lines.
fn count_results(output: &str) -> Counts {
    let mut totals = Counts::default();
    for line in output
        .lines()
        .filter(|l| l.trim_start().starts_with("test result:"))
    {
        let number_before = |word: &str| -> u64 {
            let words: Vec<&str> = line
                .split(|c: char| c.is_whitespace() || c == ';' || c == '.')
                .filter(|w| !w.is_empty())
                .collect();
            words
                .windows(2)
                .find(|w| w[1] == word)
                .and_then(|w| w[0].parse().ok())
                .unwrap_or(0)
        };
        totals.passed += number_before("passed");
        totals.failed += number_before("failed");
        totals.ignored += number_before("ignored");
    }
    totals
}

fn missing_system_packages() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !Path::new("/usr/bin/chromium").exists() {
        missing.push("chromium");
    }
    if !Path::new("/usr/bin/chromedriver").exists() {
        missing.push("chromium-driver");
    }
    let has_cjk_font = Command::new("fc-list")
        .arg(":lang=zh")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .to_lowercase()
                .contains("wenquanyi")
        })
        .unwrap_or(false);
    if !has_cjk_font {
        missing.push("fonts-wqy-microhei");
    }
    // npm installs wrangler and Node 22 (tools::ensure_all would ask for it on its own).
    if tools::which("npm").is_none() {
        missing.extend(["nodejs", "npm"]);
    }
    // The contract tests' pinned SDKs live in a venv of Debian's Python (tests/contract).
    if !Path::new(PYTHON).exists() {
        missing.extend(["python3", "python3-venv"]);
    } else if !Command::new(PYTHON)
        .args(["-c", "import ensurepip, venv"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        missing.push("python3-venv");
    }
    missing
}

/// The Python the contract tests' venv is made from (`shoukuan_tests::python` uses the same).
const PYTHON: &str = "/usr/bin/python3";

#[cfg(test)]
mod tests {
    use super::{count_results, Counts};

    #[test]
    fn counts_every_cargo_test_summary_line() {
        let out = "test result: ok. 30 passed; 0 failed; 0 ignored\nfoo\n   test result: FAILED. 2 passed; 3 failed; 1 ignored; 0 measured\n";
        assert_eq!(
            count_results(out),
            Counts {
                passed: 32,
                failed: 3,
                ignored: 1
            }
        );
        assert_eq!(count_results("no tests here"), Counts::default());
    }
}
