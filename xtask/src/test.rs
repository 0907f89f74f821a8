//! `cargo xtask test`: every check and test, ending with one line `N passed, M failed`.
//!
//! Counting: each `cargo test` contributes its own passed/failed test counts; fmt, each
//! clippy run and each build count as one check each, so a broken build can never hide
//! behind zero failed tests.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::build;
use crate::proc::{capture, step};
use crate::tools::{self, Tools};

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    failures: Vec<String>,
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
}

const APT_HINT: &str =
    "apt-get update && apt-get install -y chromium chromium-driver fonts-wqy-microhei";

pub fn run(args: &[String]) -> Result<()> {
    let skip_e2e = args.iter().any(|a| a == "--no-e2e");
    let mut tally = Tally::default();

    step("checking system packages");
    let missing = missing_system_packages();
    if !missing.is_empty() {
        println!(
            "missing Debian packages: {} — install them with:\n    {APT_HINT}",
            missing.join(", ")
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
        ],
        &[
            ("CHROMEDRIVER", "/usr/bin/chromedriver"),
            ("WASM_BINDGEN_TEST_TIMEOUT", "120"),
        ],
    );

    if skip_e2e {
        println!("(end-to-end suite skipped: --no-e2e)");
    } else {
        step("building app, worker and CLI for the end-to-end suite");
        let built = build::all(&tools).map_err(|e| eprintln!("{e:#}")).is_ok();
        tally.check("release build", built);
        if built && missing.is_empty() {
            step("end-to-end suite (wrangler dev + D1 + Chromium)");
            cargo_test(
                &tools,
                &mut tally,
                "end-to-end tests",
                &["test", "-p", "shoukuan-tests", "--", "--test-threads=2"],
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
    if !tally.failures.is_empty() {
        println!("failed: {}", tally.failures.join("; "));
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
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
    let (passed, failed) = count_results(&out.output);
    tally.passed += passed;
    tally.failed += failed;
    if failed > 0 {
        tally.failures.push(format!("{name}: {failed} failed"));
    }
    if !out.success && failed == 0 {
        tally.check(&format!("{name} (did not complete)"), false);
    }
}

/// Sums `test result: ok. 3 passed; 1 failed; …` lines.
fn count_results(output: &str) -> (u64, u64) {
    let mut totals = (0, 0);
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
        totals.0 += number_before("passed");
        totals.1 += number_before("failed");
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
    missing
}

#[cfg(test)]
mod tests {
    use super::count_results;

    #[test]
    fn counts_every_cargo_test_summary_line() {
        let out = "test result: ok. 30 passed; 0 failed; 0 ignored\nfoo\n   test result: FAILED. 2 passed; 3 failed; 1 ignored; 0 measured\n";
        assert_eq!(count_results(out), (32, 3));
        assert_eq!(count_results("no tests here"), (0, 0));
    }
}
