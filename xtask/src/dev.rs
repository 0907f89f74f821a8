//! `cargo xtask dev`: the product running locally, with the simulator as its WeChat.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::build::{self, WorkerOpt};
use crate::proc::{run_quiet, step};
use crate::root;
use crate::tools::{self, Tools};

const WORKER_ADDR: &str = "127.0.0.1:8787";
const SIM_ADDR: &str = "127.0.0.1:8788";
const PERSIST: &str = ".wrangler/state";

pub fn run() -> Result<()> {
    let tools = tools::ensure_all()?;
    build::app(&tools)?;
    build::worker(&tools, WorkerOpt::NoWasmOpt)?;
    build::cli(&tools)?;
    let shoukuan = crate::target_dir().join("debug/shoukuan");
    if !root().join(".dev.vars").exists() {
        step("generating dev keys into .dev.vars and sim.json (shoukuan keys dev)");
        run_quiet(
            "shoukuan keys dev",
            tools.command(&shoukuan).args(["keys", "dev", "--out", "."]),
        )?;
    }
    step("applying D1 migrations locally");
    migrate(&tools, &root().join(PERSIST))?;

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the Ctrl-C handler")?;

    let mut children: Vec<(&str, Child)> = Vec::new();
    let has_sim = tools
        .command(&shoukuan)
        .args(["sim", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_sim {
        step(&format!("starting the WeChat simulator on {SIM_ADDR}"));
        let child = tools
            .command(&shoukuan)
            .args(["sim", "--config", "sim.json", "--addr", SIM_ADDR])
            .args(["--mp-url", &format!("http://{WORKER_ADDR}/wechat/mp")])
            .spawn()
            .context("starting shoukuan sim")?;
        children.push(("shoukuan sim", child));
    }
    step(&format!("starting wrangler dev on {WORKER_ADDR}"));
    let child = tools
        .wrangler()
        .args([
            "dev",
            "--config",
            "worker/wrangler.toml",
            "--ip",
            "127.0.0.1",
            "--port",
            "8787",
            // Exposes /__scheduled: wrangler dev never fires cron triggers by itself.
            "--test-scheduled",
        ])
        // Absolute paths: wrangler resolves relative ones against the config's folder (worker/),
        // where no .dev.vars exists, so the worker would silently run without its settings.
        .arg("--persist-to")
        .arg(root().join(PERSIST))
        .arg("--env-file")
        .arg(root().join(".dev.vars"))
        .arg("--show-interactive-dev-session=false")
        .spawn()
        .context("starting wrangler dev")?;
    children.push(("wrangler dev", child));

    let ready = wait_for_health(WORKER_ADDR, Duration::from_secs(60), &stop);
    if ready {
        let cron = cron_schedule()?;
        start_cron_timer(&cron, stop.clone());
        println!();
        println!("Shoukuan is running:");
        println!("  publish a collection   http://{WORKER_ADDR}/new");
        println!("  health                 http://{WORKER_ADDR}/health");
        if has_sim {
            println!("  WeChat simulator       http://{SIM_ADDR}/sim/");
        }
        println!(
            "  cron \"{cron}\"          the scheduled handler runs every minute, as in production \
             (re-query pending orders, close expired ones, sync refunds): GET {}",
            scheduled_path(&cron)
        );
        println!("Press Ctrl-C to stop.");
    }
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if let Some((name, status)) = children
            .iter_mut()
            .find_map(|(n, c)| c.try_wait().ok().flatten().map(|s| (*n, s)))
        {
            eprintln!("{name} exited ({status}); stopping");
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for (name, child) in &mut children {
        step(&format!("stopping {name}"));
        terminate(child);
    }
    if !ready {
        bail!("wrangler dev did not become ready on {WORKER_ADDR}");
    }
    Ok(())
}

/// The cron expression of `[triggers] crons` in worker/wrangler.toml (exactly one is expected).
pub fn cron_schedule() -> Result<String> {
    let toml = std::fs::read_to_string(root().join("worker/wrangler.toml"))
        .context("reading worker/wrangler.toml")?;
    parse_cron(&toml).context("worker/wrangler.toml has no `crons = [\"…\"]` line with one entry")
}

fn parse_cron(toml: &str) -> Option<String> {
    let line = toml.lines().find(|l| l.trim_start().starts_with("crons"))?;
    let list = line.split_once('=')?.1.trim();
    let inner = list.strip_prefix('[')?.strip_suffix(']')?.trim();
    let cron = inner.strip_prefix('"')?.strip_suffix('"')?;
    (!cron.is_empty() && !cron.contains('"')).then(|| cron.to_owned())
}

/// The path that runs the scheduled handler under `wrangler dev --test-scheduled`.
pub fn scheduled_path(cron: &str) -> String {
    format!("/__scheduled?cron={}", cron.replace(' ', "+"))
}

/// Every 60 s (first run at once), `GET /__scheduled` on the local worker, as Cloudflare fires
/// the cron trigger in production. wrangler dev logs each request; failures are printed here.
fn start_cron_timer(cron: &str, stop: Arc<AtomicBool>) {
    let path = scheduled_path(cron);
    std::thread::spawn(move || {
        let mut next = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            if Instant::now() >= next {
                next += Duration::from_secs(60);
                match http_status(WORKER_ADDR, &path) {
                    Some(200) => {}
                    other => eprintln!(
                        "xtask dev: the minute cron (GET {path}) answered {}",
                        other.map_or("nothing".to_string(), |s| s.to_string())
                    ),
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
}

/// Applies `worker/migrations` to the local D1 under `persist`.
pub fn migrate(tools: &Tools, persist: &std::path::Path) -> Result<()> {
    run_quiet(
        "wrangler d1 migrations apply",
        tools
            .wrangler()
            .args([
                "d1",
                "migrations",
                "apply",
                "DB",
                "--local",
                "--config",
                "worker/wrangler.toml",
            ])
            .arg("--persist-to")
            .arg(persist),
    )
}

/// SIGTERM, then SIGKILL after 5 s.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_for_health(addr: &str, timeout: Duration, stop: &AtomicBool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
        if http_status(addr, "/health") == Some(200) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    false
}

/// A bare HTTP/1.1 GET on loopback; the status code, if any answer came.
pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 32];
    // The status line arrives once the handler is done (the scheduled one may take seconds).
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let n = stream.read(&mut head).ok()?;
    let text = std::str::from_utf8(&head[..n]).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cron_comes_from_wrangler_toml_and_becomes_the_scheduled_path() {
        let cron = cron_schedule().unwrap();
        assert_eq!(cron, "* * * * *", "the README says every minute");
        assert_eq!(scheduled_path(&cron), "/__scheduled?cron=*+*+*+*+*");
        assert_eq!(
            parse_cron("[triggers]\ncrons = [\"*/5 * * * *\"]\n").as_deref(),
            Some("*/5 * * * *")
        );
        assert_eq!(parse_cron("crons = []"), None);
        assert_eq!(parse_cron("crons = [\"a\", \"b\"]"), None);
    }
}
