//! A `wrangler dev` instance with its own temporary D1 state.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{free_port, kill_group, repo_root, spawn_guarded, tool_path};

/// A running worker. Dropping it stops workerd; if the test process dies first, a watchdog
/// in the process group stops it within a second.
pub struct Worker {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    port: u16,
    state: tempfile::TempDir,
    vars: Vec<(String, String)>,
    /// Static assets directory that replaces the config's `dist/` (`wrangler dev --assets`).
    assets: Option<PathBuf>,
    child: Option<Child>,
    log: PathBuf,
}

impl Worker {
    /// Applies the migrations to fresh state and starts `wrangler dev` with `vars` as `.dev.vars`.
    pub async fn start(vars: &[(&str, &str)]) -> Result<Worker> {
        Self::start_inner(vars, None).await
    }

    /// [`Worker::start`] serving the static assets from `assets` instead of `dist/`
    /// (`wrangler dev --assets <dir>`; the config's binding, SPA fallback and
    /// `run_worker_first` still apply). The benchmark serves a copy of `dist/` plus its
    /// baseline page this way.
    pub async fn start_with_assets(vars: &[(&str, &str)], assets: &Path) -> Result<Worker> {
        Self::start_inner(vars, Some(assets.to_path_buf())).await
    }

    async fn start_inner(vars: &[(&str, &str)], assets: Option<PathBuf>) -> Result<Worker> {
        let root = repo_root();
        for needed in ["dist/index.html", "worker/build/index.js"] {
            if !root.join(needed).exists() {
                bail!(
                    "{needed} is missing: run `cargo xtask build` first (`cargo xtask test` does)"
                );
            }
        }
        let state = tempfile::Builder::new().prefix("shoukuan-e2e-").tempdir()?;
        let port = free_port();
        let log = state.path().join("wrangler.log");
        let mut worker = Worker {
            base: format!("http://127.0.0.1:{port}"),
            port,
            // Local runs (loopback): open publishing without an invite code is allowed only
            // with LOCAL_DEV=1, as in `cargo xtask dev`; the abuse limits are off (the suite is
            // one client address making thousands of requests). A test may override either.
            vars: [("LOCAL_DEV", "1"), ("ABUSE_LIMITS", "off")]
                .into_iter()
                .filter(|(k, _)| !vars.iter().any(|(name, _)| name == k))
                .chain(vars.iter().copied())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            assets,
            state,
            child: None,
            log,
        };
        worker.write_dev_vars()?;
        worker.wrangler(&["d1", "migrations", "apply", "DB", "--local"])?;
        worker.spawn().await?;
        Ok(worker)
    }

    fn write_dev_vars(&self) -> Result<()> {
        let text: String = self
            .vars
            .iter()
            .map(|(k, v)| format!("{k}={}\n", serde_json::to_string(v).unwrap()))
            .collect();
        std::fs::write(self.state.path().join(".dev.vars"), text)?;
        Ok(())
    }

    fn persist_dir(&self) -> PathBuf {
        self.state.path().join("state")
    }

    fn base_command(&self) -> Command {
        let mut cmd = Command::new(repo_root().join("node_modules/.bin/wrangler"));
        with_wrangler_env(&mut cmd);
        cmd
    }

    /// Runs a one-off wrangler command against this instance's local state.
    fn wrangler(&self, args: &[&str]) -> Result<String> {
        let out = self
            .base_command()
            .args(args)
            .args(["--config", "worker/wrangler.toml", "--persist-to"])
            .arg(self.persist_dir())
            .stdin(Stdio::null())
            .output()
            .context("running wrangler")?;
        if !out.status.success() {
            bail!(
                "wrangler {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    async fn spawn(&mut self) -> Result<()> {
        let mut args: Vec<std::ffi::OsString> = [
            "dev",
            "--config",
            "worker/wrangler.toml",
            "--ip",
            "127.0.0.1",
            "--port",
            &self.port.to_string(),
            "--show-interactive-dev-session=false",
            // `/__scheduled` runs the cron handler on demand (payments re-query / close).
            "--test-scheduled",
            "--inspector-port",
            &free_port().to_string(),
            "--persist-to",
        ]
        .iter()
        .map(Into::into)
        .chain([
            self.persist_dir().into_os_string(),
            "--env-file".into(),
            self.state.path().join(".dev.vars").into_os_string(),
        ])
        .collect();
        if let Some(assets) = &self.assets {
            args.extend(["--assets".into(), assets.clone().into_os_string()]);
        }
        let child = spawn_guarded(
            &repo_root().join("node_modules/.bin/wrangler"),
            &args,
            &[
                wrangler_env(),
                vec![("SHOUKUAN_CLEANUP", self.state.path().display().to_string())],
            ]
            .concat(),
            &self.log,
        )?;
        self.child = Some(child);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(resp) = client.get(self.url("/health")).send().await {
                if resp.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        bail!(
            "wrangler dev did not answer /health in 90 s; log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// Sets (`Some`) or removes (`None`) a var; it takes effect at the next [`Worker::restart`].
    pub fn set_var(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        self.vars.retain(|(k, _)| k != name);
        if let Some(value) = value {
            self.vars.push((name.to_string(), value.to_string()));
        }
        self.write_dev_vars()
    }

    /// Every file of the local D1 (its SQLite files, WAL included) holding `needle`'s bytes:
    /// for tests that prove a value is not stored in clear. (wrangler's own request traces,
    /// elsewhere in the state, are not the worker's storage.)
    pub fn d1_files_containing(&self, needle: &str) -> Result<Vec<PathBuf>> {
        fn walk(dir: &Path, needle: &[u8], found: &mut Vec<PathBuf>) -> Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    walk(&path, needle, found)?;
                } else if std::fs::read(&path)?
                    .windows(needle.len())
                    .any(|w| w == needle)
                {
                    found.push(path);
                }
            }
            Ok(())
        }
        let mut found = Vec::new();
        let d1 = self.persist_dir().join("v3").join("d1");
        if !d1.is_dir() {
            bail!("no local D1 under {}", d1.display());
        }
        walk(&d1, needle.as_bytes(), &mut found)?;
        Ok(found)
    }

    /// Stops workerd and starts it again on the same state.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop();
        self.spawn().await
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
            // Wait until the port is free again.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Runs the scheduled (cron) handler once, as the minute trigger would
    /// (`wrangler dev --test-scheduled`).
    pub async fn run_cron(&self) -> Result<()> {
        // `/__scheduled` is in `run_worker_first`: otherwise the assets' SPA fallback answers.
        let resp = reqwest::Client::new()
            .get(self.url("/__scheduled?cron=*+*+*+*+*"))
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() || !text.contains("Ran scheduled event") {
            bail!("/__scheduled answered {status}: {text}");
        }
        Ok(())
    }

    /// An absolute URL on this worker.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs a read-only SQL query on the local D1 and returns its rows.
    pub fn query(&self, sql: &str) -> Result<Vec<Value>> {
        let out = self.wrangler(&["d1", "execute", "DB", "--local", "--json", "--command", sql])?;
        let json: Value = serde_json::from_str(&out)
            .with_context(|| format!("wrangler d1 execute output: {out}"))?;
        Ok(json[0]["results"].as_array().cloned().unwrap_or_default())
    }

    /// `SELECT COUNT(*)` of a table.
    pub fn count(&self, table: &str) -> Result<i64> {
        let rows = self.query(&format!("SELECT COUNT(*) AS n FROM {table}"))?;
        rows.first()
            .and_then(|r| r["n"].as_i64())
            .context("no count")
    }

    /// The wrangler log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The temporary state directory.
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }
}

fn wrangler_env() -> Vec<(&'static str, String)> {
    vec![
        ("PATH", tool_path()),
        ("WRANGLER_SEND_METRICS", "false".into()),
        ("CLOUDFLARE_CF_FETCH_ENABLED", "false".into()),
        ("NO_COLOR", "1".into()),
    ]
}

fn with_wrangler_env(cmd: &mut Command) {
    cmd.envs(wrangler_env()).current_dir(repo_root());
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}
