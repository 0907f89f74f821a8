//! Running commands: progress for anything slow, logs kept for failures.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Prints a step header.
pub fn step(msg: &str) {
    println!("==> {msg}");
}

/// Runs a command quietly; while it runs, prints a progress line every 10 s; on failure
/// prints the end of its output.
pub fn run_quiet(label: &str, cmd: &mut Command) -> Result<()> {
    let out = capture(label, cmd, false)?;
    if !out.success {
        let tail: Vec<&str> = out.output.lines().rev().take(40).collect();
        eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        bail!("{label} failed");
    }
    Ok(())
}

/// What a command printed and whether it succeeded.
pub struct Output {
    /// stdout and stderr, interleaved as they arrived.
    pub output: String,
    /// Exit status 0.
    pub success: bool,
}

/// Runs a command, collecting stdout+stderr; with `echo` the lines are also printed live.
/// Without `echo`, a line `... <label> (1m20s)` appears every 10 s so a person knows it lives.
pub fn capture(label: &str, cmd: &mut Command, echo: bool) -> Result<Output> {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {label}: {cmd:?}"))?;
    let (tx, rx) = mpsc::channel::<String>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
    })
    .collect();
    drop(tx);
    let mut output = String::new();
    let mut last_tick = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                if echo {
                    println!("{line}");
                }
                output.push_str(&line);
                output.push('\n');
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if !echo && last_tick.elapsed() >= Duration::from_secs(10) {
            println!("    ... {label} ({})", elapsed(start));
            last_tick = Instant::now();
        }
    }
    for r in readers {
        let _ = r.join();
    }
    let status = child.wait()?;
    if start.elapsed() > Duration::from_secs(1) {
        println!(
            "    {label}: {} in {}",
            if status.success() { "done" } else { "FAILED" },
            elapsed(start)
        );
    }
    Ok(Output {
        output,
        success: status.success(),
    })
}

/// Runs a command and returns its trimmed stdout, or `None` if it cannot run or fails.
pub fn stdout_of(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn elapsed(start: Instant) -> String {
    let s = start.elapsed().as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
