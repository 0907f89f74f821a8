//! The page benchmark; `cargo xtask bench` runs it after a release build.
//!
//! One `wrangler dev` serves every page the same way, with `shoukuan sim` as its WeChat: its
//! assets directory is a temporary copy of `dist/` plus `bench-baseline/`, hand-written
//! vanilla-JS pages with the same content and main action as ours (`bench/baselines.rs`).
//! The cases (`bench/cases.rs` registers them):
//!
//! - payer pages, each against its own baseline (`bench/payer.rs`, `bench/order.rs`): the
//!   request page, the split sign-up page and the price page (`/c/:id` of each kind), and the
//!   order page `/o/:id` (a pending Native order, its QR shown);
//! - payee pages, each its own app bundle (`bench/payee.rs`): `/new` (against a baseline),
//!   `/manage/:id`, `/admin/:id` and `/dash` (signed in through the simulator's OAuth).
//!
//! With `--leptos-payer-dist DIR` also the other road of issue 12: a payer-only Leptos build's
//! start (its `index.html` served as `/bench-leptos/`, ready at Trunk's
//! `TrunkApplicationStarted`).
//!
//! - bytes: every html/js/wasm/css file (and data fetch) each page loads, raw, gzip -9 and
//!   brotli -q 11;
//! - ready time (`bench/measure.rs`): Debian Chromium as a phone in WeChat with 4× CPU
//!   throttling and a Fast-3G-shaped network (150 ms latency, 1.6 Mbit/s down), cache disabled
//!   and cleared, cold loads interleaved; the time is `performance.now()` when
//!   `body[data-ready]` appears (every page sets it once its main action works and its first
//!   data is shown), and for pages with a QR when it has loaded too.
//!
//! Also the worker's wasm size and the first-request latency after `wrangler dev` starts, and
//! the Official Account keyword reply latency next to `/health` ([`keywords`]). The report
//! (`bench/report.rs`) is printed and written, with date, machine and command, to
//! `bench/FIGURES.md`.
//!
//! Usage: `bench [--runs N] [--leptos-payer-dist DIR]` (N ≥ 1, default 7). Every process it
//! starts ends with it.

#[path = "bench/abtest.rs"]
mod abtest;
#[path = "bench/baselines.rs"]
mod baselines;
#[path = "bench/cases.rs"]
mod cases;
#[path = "bench/keywords.rs"]
mod keywords;
#[path = "bench/measure.rs"]
mod measure;
#[path = "bench/order.rs"]
mod order;
#[path = "bench/payee.rs"]
mod payee;
#[path = "bench/payer.rs"]
mod payer;
#[path = "bench/report.rs"]
mod report;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::json;
use shoukuan_tests::browser::Browser;
use shoukuan_tests::repo_root;
use shoukuan_tests::sim::Sim;

use measure::{cdp, Page, DOWN_BPS, LATENCY_MS};

const DEFAULT_RUNS: usize = 7;
/// CPU slowdown (a mid-range phone).
pub const CPU_RATE: u32 = 4;
/// Upload throughput, bytes/s (750 kbit/s).
pub const UP_BPS: u32 = 93_750;
/// All timed loads together may take this long.
const MEASURE_BUDGET: Duration = Duration::from_secs(1500);
/// The split tests' data key (splits seal names with it).
const DATA_KEY: &str = "c2hvdWt1YW4tZTJlLWRhdGEta2V5LTMyLWJ5dGVzISE=";

/// Command-line options.
struct Options {
    runs: usize,
    leptos_payer_dist: Option<std::path::PathBuf>,
}

fn parse_options() -> Result<Options> {
    let mut options = Options {
        runs: DEFAULT_RUNS,
        leptos_payer_dist: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--runs" => {
                let n: usize = args
                    .next()
                    .context("--runs takes a number")?
                    .parse()
                    .context("--runs takes a number")?;
                ensure!((1..=50).contains(&n), "--runs must be between 1 and 50");
                options.runs = n;
            }
            "--leptos-payer-dist" => {
                options.leptos_payer_dist = Some(
                    args.next()
                        .context("--leptos-payer-dist takes a directory")?
                        .into(),
                );
            }
            _ => bail!("usage: bench [--runs N] [--leptos-payer-dist DIR]"),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = parse_options()?;
    let runs = options.runs;
    let started = Instant::now();

    // Every page from one assets directory: a copy of dist/ plus the baselines.
    let assets = tempfile::Builder::new()
        .prefix("shoukuan-bench-assets-")
        .tempdir()?;
    let dist = repo_root().join("dist");
    ensure!(
        dist.join("index.html").exists(),
        "dist/ is missing: run `cargo xtask build` first (`cargo xtask bench` does)"
    );
    copy_dir(&dist, assets.path())?;
    let baseline_dir = assets.path().join("bench-baseline");
    std::fs::create_dir_all(&baseline_dir)?;
    bundle_qrcode(&baseline_dir.join("qrcode.min.js"))?;
    cases::write_baselines(&baseline_dir)?;
    if let Some(leptos) = &options.leptos_payer_dist {
        // The payer-only Leptos build: its files at the root (Trunk's public URL is `/`; the
        // hashed names do not collide with dist/'s), its index.html under /bench-leptos/.
        for entry in std::fs::read_dir(leptos)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == "index.html" {
                std::fs::create_dir_all(assets.path().join("bench-leptos"))?;
                std::fs::copy(entry.path(), assets.path().join("bench-leptos/index.html"))?;
            } else if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), assets.path().join(&name))?;
            }
        }
    }

    println!("starting shoukuan sim and wrangler dev (fresh local D1, assets = copy of dist/ + bench-baseline/)");
    let sim = Sim::start_model("own_business", &[]).await?;
    let boot = Instant::now();
    let worker = sim
        .start_worker_with_assets(
            &[
                ("DATA_KEY", DATA_KEY),
                ("OPERATOR_SECRET", payee::OPERATOR),
                ("WECHATPAY_MODEL", "own_business"),
                ("WECHATPAY_MERCHANT_NAME", "收款测试餐饮有限公司"),
                // Open publishing on loopback (`LOCAL_DEV=1`, the harness's default).
                ("PUBLISH_ACCESS", "invite"),
            ],
            assets.path(),
        )
        .await?;
    let boot_ms = boot.elapsed().as_secs_f64() * 1000.0;
    let setup = cases::pages(&cases::Ctx {
        worker: &worker,
        sim: &sim,
    })
    .await?;
    let mut pages = setup.pages;
    if options.leptos_payer_dist.is_some() {
        pages.push(Page {
            group: "leptos",
            role: "payer",
            url: worker.url("/bench-leptos/"),
            qr: None,
        });
    }

    let browser = Browser::wechat().await?;
    let version = cdp(&browser, "Browser.getVersion", json!({})).await?;
    cdp(
        &browser,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": measure::PROBE }),
    )
    .await?;
    // The payee's session, for /dash.
    browser.driver.goto(&worker.url("/health")).await?;
    for cookie in &setup.cookies {
        let (name, value) = cookie
            .split(';')
            .next()
            .and_then(|c| c.split_once('='))
            .context("a cookie is name=value")?;
        browser
            .driver
            .add_cookie(thirtyfour::Cookie::new(name.trim(), value.trim()))
            .await?;
    }

    // Warm-up, unthrottled: proves every page is ready (and shows its code), warms workerd,
    // and lists the files each page loads.
    let mut files = Vec::new();
    let mut cpu_unthrottled = Vec::new();
    for page in &pages {
        files.push(measure::warm_up(&browser, &worker, page).await?);
        cpu_unthrottled.push(measure::busy_loop_ms(&browser).await?);
    }

    // Throttling. Network emulation does nothing unless the Network domain is enabled first.
    cdp(&browser, "Network.enable", json!({})).await?;
    cdp(
        &browser,
        "Network.emulateNetworkConditions",
        json!({ "offline": false, "latency": LATENCY_MS, "downloadThroughput": DOWN_BPS, "uploadThroughput": UP_BPS }),
    )
    .await?;
    cdp(
        &browser,
        "Network.setCacheDisabled",
        json!({ "cacheDisabled": true }),
    )
    .await?;
    cdp(
        &browser,
        "Emulation.setCPUThrottlingRate",
        json!({ "rate": CPU_RATE }),
    )
    .await?;

    println!("timing {runs} cold loads per page, interleaved");
    let deadline = Instant::now() + MEASURE_BUDGET;
    let mut loads: Vec<Vec<measure::Load>> = pages.iter().map(|_| Vec::new()).collect();
    for run in 0..runs {
        // Odd runs go through the pages backwards, so each page follows another in turn and
        // each pair's baseline goes first as often as ours: in a fixed order the A/B page
        // always came right after /dash, whose calls a fresh load still met.
        let order: Vec<usize> = if run % 2 == 0 {
            (0..pages.len()).collect()
        } else {
            (0..pages.len()).rev().collect()
        };
        for i in order {
            let page = &pages[i];
            ensure!(
                Instant::now() < deadline,
                "the timed loads took longer than {} s",
                MEASURE_BUDGET.as_secs()
            );
            let load = measure::timed_load(&browser, page).await?;
            if run == 0 {
                measure::record_wire_sizes(&browser, page, &mut files[i]).await?;
                // The same loop everywhere: the fastest unthrottled run is the reference (one
                // page's warm-up may have met a busy moment of the shared machine).
                let reference = cpu_unthrottled
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min);
                measure::check_cpu_throttling(&browser, page, reference).await?;
            }
            print!(
                "  {} #{}: ready {:.0} ms",
                page.name(),
                run + 1,
                load.ready_ms
            );
            if let Some(qr) = load.qr_ms {
                print!(", QR {qr:.0} ms");
            }
            println!();
            loads[i].push(load);
        }
    }
    browser.quit().await?;
    drop(worker);
    drop(sim);

    let product = version["product"].as_str().unwrap_or("Chromium");
    let mut text = report::report(&pages, &files, &loads, product, runs);
    text.push_str(&report::worker_report(boot_ms, setup.first_page_ms)?);
    print!("{text}");
    println!("measuring Official Account keyword replies (second wrangler dev, plain mode)");
    let kw = keywords::report(&keywords::measure().await?);
    print!("{kw}");
    text.push('\n');
    text.push_str(&kw);
    let path = report::write_figures(&text)?;
    println!("figures written to {}", path.display());
    println!("(benchmark took {} s)", started.elapsed().as_secs());
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// npm `qrcode`'s browser entry as one minified script defining `QRCode`.
fn bundle_qrcode(out: &Path) -> Result<()> {
    let root = repo_root();
    let esbuild = root.join("node_modules/@esbuild/linux-x64/bin/esbuild");
    let entry = root.join("node_modules/qrcode/lib/browser.js");
    ensure!(
        esbuild.exists() && entry.exists(),
        "npm packages missing (qrcode, esbuild): run `cargo xtask build` first"
    );
    let status = std::process::Command::new(&esbuild)
        .arg(&entry)
        .args([
            "--bundle",
            "--minify",
            "--format=iife",
            "--global-name=QRCode",
            "--log-level=warning",
        ])
        .arg(format!("--outfile={}", out.display()))
        .current_dir(&root)
        .status()
        .context("running esbuild")?;
    ensure!(status.success(), "esbuild failed to bundle qrcode");
    Ok(())
}
