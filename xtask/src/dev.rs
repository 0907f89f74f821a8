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
        println!();
        println!("Shoukuan is running:");
        println!("  publish a collection   http://{WORKER_ADDR}/new");
        println!("  health                 http://{WORKER_ADDR}/health");
        if has_sim {
            println!("  WeChat simulator       http://{SIM_ADDR}/sim/");
        }
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
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).ok()?;
    let text = std::str::from_utf8(&head[..n]).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}
