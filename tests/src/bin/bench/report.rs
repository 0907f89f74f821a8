//! The report: bytes per file, ready times, each page against its baseline and the issue's
//! targets, the worker's wasm; written with date, machine and command to `bench/FIGURES.md`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use shoukuan_tests::repo_root;

use crate::measure::{gzip9, File, Load, Page, DOWN_BPS, LATENCY_MS};
use crate::{CPU_RATE, UP_BPS};

/// Writes `bench/FIGURES.md`: date, machine, command and the report.
pub fn write_figures(report: &str) -> Result<std::path::PathBuf> {
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let uname = std::process::Command::new("uname")
        .arg("-srm")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = if args.is_empty() {
        "cargo xtask bench".to_owned()
    } else {
        format!("cargo xtask bench {}", args.join(" "))
    };
    let text = format!(
        "# Benchmark figures\n\nWritten by `{command}` (`tests/src/bin/bench.rs` and `bench/`); the README quotes this file.\n\n\
         - date: {date}\n- machine: {uname}, {cpu}, {cores} cores (shared with other work: absolute times are noisy, the interleaved ratios less so)\n\
         - command: `{command}`\n\n```text\n{report}```\n"
    );
    let dir = repo_root().join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("FIGURES.md");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The worker's wasm (raw and gzip, as uploaded) and how long `wrangler dev` took to answer.
pub fn worker_report(boot_ms: f64, first_request_ms: f64) -> Result<String> {
    let build = repo_root().join("worker/build");
    let mut wasm = Vec::new();
    for entry in walk(&build)? {
        if entry.extension().is_some_and(|e| e == "wasm") {
            wasm.push(entry);
        }
    }
    let mut out = String::from("\nWorker\n");
    for path in wasm {
        let bytes = std::fs::read(&path)?;
        let _ = writeln!(
            out,
            "{}: {} raw, {} gzip-9 (Cloudflare's free-plan limit: 3 MB compressed)",
            path.strip_prefix(repo_root()).unwrap_or(&path).display(),
            kb(bytes.len()),
            kb(gzip9(&bytes)?)
        );
    }
    let _ = writeln!(
        out,
        "wrangler dev start until /health answers: {boot_ms:.0} ms; then the first payer page \
         (/c/:id, first D1 query): {first_request_ms:.0} ms"
    );
    Ok(out)
}

fn walk(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // worker-build's staging directory (`.tmp`) is not what ships.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            out.extend(walk(&entry.path())?);
        } else {
            out.push(entry.path());
        }
    }
    Ok(out)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

fn kb(bytes: usize) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

/// What each group is held to (the issue's targets): ready-time median, brotli bytes, and
/// whether it must be at most as slow as its vanilla-JS baseline.
fn budget(group: &str) -> Option<(f64, usize, bool)> {
    match group {
        "request" | "split" | "price" | "price-ab" | "order" => Some((1000.0, 30_000, true)),
        "new" | "manage" | "admin" | "dash" => Some((2000.0, 200_000, false)),
        _ => None,
    }
}

pub fn report(
    pages: &[Page],
    files: &[Vec<File>],
    loads: &[Vec<Load>],
    product: &str,
    runs: usize,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Page benchmark: {product}, phone in WeChat (375×812 @2x), {CPU_RATE}× CPU throttling,"
    );
    let _ = writeln!(
        out,
        "network {LATENCY_MS} ms latency / {:.1} Mbit/s down / {:.2} Mbit/s up, cache disabled, \
         {runs} cold loads per page, interleaved.",
        f64::from(DOWN_BPS) * 8.0 / 1e6,
        f64::from(UP_BPS) * 8.0 / 1e6
    );
    let _ = writeln!(
        out,
        "ready = body[data-ready] set (and, on pages with a code, the QR <img> loaded); the\n\
         baselines are hand-written vanilla-JS pages with the same content and main action."
    );
    for page in pages {
        let _ = writeln!(out, "  {:<16} {}", page.name(), page.url);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Bytes each page loads (B; 1 KB = 1000 B; images not counted)"
    );
    let width = files
        .iter()
        .flatten()
        .map(|f| f.path.chars().count())
        .max()
        .unwrap_or(10)
        .clamp(10, 48);
    let row = |out: &mut String, cells: [&str; 7]| {
        let [page, file, kind, raw, gzip, brotli, wire] = cells;
        let file: String = file.chars().take(width).collect();
        let _ = writeln!(
            out,
            "{page:<16} {file:<width$} {kind:<5} {raw:>9} {gzip:>9} {brotli:>9} {wire:>9}"
        );
    };
    row(
        &mut out,
        ["page", "file", "kind", "raw", "gzip-9", "brotli-11", "wire"],
    );
    let opt = |n: Option<usize>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    let mut totals = Vec::new();
    for (page, list) in pages.iter().zip(files) {
        let name = page.name();
        for f in list {
            let (raw, gzip, brotli) = (f.raw.to_string(), f.gzip.to_string(), f.brotli.to_string());
            row(
                &mut out,
                [&name, &f.path, f.kind, &raw, &gzip, &brotli, &opt(f.wire)],
            );
        }
        let raw: usize = list.iter().map(|f| f.raw).sum();
        let gzip: usize = list.iter().map(|f| f.gzip).sum();
        let brotli: usize = list.iter().map(|f| f.brotli).sum();
        let wire: Option<usize> = list.iter().map(|f| f.wire).sum();
        totals.push(brotli);
        row(
            &mut out,
            [
                &name,
                "TOTAL",
                "",
                &kb(raw),
                &kb(gzip),
                &kb(brotli),
                &wire.map_or_else(|| "?".to_owned(), kb),
            ],
        );
    }
    let _ = writeln!(
        out,
        "wire = what Chromium received in a timed load (resource timing encodedBodySize): wrangler dev\n\
         compresses responses itself (gzip), so the emulated link carried those bytes; Cloudflare\n\
         serves brotli in production. API answers that need the page's session or manage token\n\
         are counted at their uncompressed size in every column (an upper bound)."
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "Ready time (ms after navigation start)");
    let _ = writeln!(
        out,
        "{:<16} {:>7} {:>7} {:>7}   each run",
        "page", "median", "min", "max"
    );
    let mut medians = Vec::new();
    for (page, list) in pages.iter().zip(loads) {
        let values: Vec<f64> = list.iter().map(|l| l.ready_ms).collect();
        let (lo, hi) = min_max(&values);
        let med = median(&values);
        medians.push(med);
        let all: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
        let _ = writeln!(
            out,
            "{:<16} {med:>7.0} {lo:>7.0} {hi:>7.0}   {}",
            page.name(),
            all.join(" ")
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Ours against its baseline (medians) and the issue's targets"
    );
    for (i, page) in pages.iter().enumerate() {
        if page.role != "ours" {
            continue;
        }
        let (goal_ms, goal_bytes, against_baseline) =
            budget(page.group).unwrap_or((f64::INFINITY, usize::MAX, false));
        let baseline = pages
            .iter()
            .position(|p| p.group == page.group && p.role == "baseline");
        let versus = match baseline {
            Some(j) => format!(
                " vs {:.0} ms: ratio {:.2}{}",
                medians[j],
                medians[i] / medians[j],
                if against_baseline {
                    " (goal ≤ 1.00)"
                } else {
                    ""
                }
            ),
            None => " (no baseline)".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:<8} ready {:.0} ms{versus}; median ≤ {goal_ms:.0} ms: {}; {} brotli (≤ {}): {}",
            page.group,
            medians[i],
            if medians[i] <= goal_ms {
                "met"
            } else {
                "NOT met"
            },
            kb(totals[i]),
            kb(goal_bytes),
            if totals[i] <= goal_bytes {
                "met"
            } else {
                "NOT met"
            },
        );
        if let (true, Some(j)) = (page.qr.is_some(), baseline) {
            let qr =
                |k: usize| median(&loads[k].iter().filter_map(|l| l.qr_ms).collect::<Vec<_>>());
            let _ = writeln!(
                out,
                "{:<8} QR shown {:.0} ms vs {:.0} ms: ratio {:.2}",
                "",
                qr(i),
                qr(j),
                qr(i) / qr(j)
            );
        }
    }
    if let Some(i) = pages.iter().position(|p| p.group == "leptos") {
        let _ = writeln!(
            out,
            "leptos   the other road: a payer-only Leptos build (no page data, no list yet) has\n\
             {:<8} started (TrunkApplicationStarted) at {:.0} ms median, {} brotli",
            "",
            medians[i],
            kb(totals[i])
        );
    }
    out
}
