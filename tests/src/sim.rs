//! The WeChat simulator (`shoukuan sim`) for end-to-end tests: fresh dev keys
//! (`shoukuan keys dev --out <tmp>`), the simulator on a free port, and a worker whose
//! `.dev.vars` are those keys with the WeChat base URLs pointing at this simulator.
//!
//! Requires the CLI build (`cargo xtask build` builds it; or `cargo build -p shoukuan-cli`).

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::worker::Worker;
use crate::{free_port, kill_group, repo_root, spawn_guarded};

/// A running simulator with its keys. Dropping it stops the simulator.
pub struct Sim {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// The worker's `.dev.vars` generated with the simulator's keys (base URLs not yet
    /// rewritten; see [`Sim::worker_vars`]).
    pub dev_vars: Vec<(String, String)>,
    dir: tempfile::TempDir,
    child: Option<Child>,
    log: PathBuf,
}

/// The `shoukuan` binary of the debug build.
pub fn shoukuan_bin() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .map(|p| {
            if p.is_relative() {
                repo_root().join(p)
            } else {
                p
            }
        })
        .unwrap_or_else(|| repo_root().join("target"))
        .join("debug/shoukuan")
}

/// Reads a dotenv file as `shoukuan keys dev` writes it: `KEY=value`, values optionally in
/// double quotes with `\n` escapes.
pub fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) => inner
                    .replace("\\n", "\n")
                    .replace("\\\"", "\"")
                    .replace("\\\\", "\\"),
                None => v.to_string(),
            };
            (k.trim().to_string(), v)
        })
        .collect()
}

impl Sim {
    /// Generates keys and starts the simulator; waits for `/sim/health`.
    pub async fn start() -> Result<Sim> {
        Self::start_with(&[]).await
    }

    /// [`Sim::start`] with extra `shoukuan sim` arguments (e.g. `--time-scale 0.1`).
    pub async fn start_with(extra_args: &[&str]) -> Result<Sim> {
        Self::start_model("own_business", extra_args).await
    }

    /// A simulator whose keys were made by `shoukuan keys dev --model <model>`:
    /// `own_business` or `platform` (the service provider with two sub-merchants, see
    /// [`Sim::sub_merchants`]; `.dev.vars` then has `WECHATPAY_MODEL=platform`).
    pub async fn start_model(model: &str, extra_args: &[&str]) -> Result<Sim> {
        let bin = shoukuan_bin();
        if !bin.exists() {
            bail!(
                "{} is missing: run `cargo xtask build` (or `cargo build -p shoukuan-cli`) first",
                bin.display()
            );
        }
        let dir = tempfile::Builder::new().prefix("shoukuan-sim-").tempdir()?;
        let out = std::process::Command::new(&bin)
            .args(["keys", "dev", "--model", model, "--out"])
            .arg(dir.path())
            .output()
            .context("running shoukuan keys dev")?;
        if !out.status.success() {
            bail!(
                "shoukuan keys dev failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let dev_vars = parse_dotenv(&std::fs::read_to_string(dir.path().join(".dev.vars"))?);
        let port = free_port();
        let log = dir.path().join("sim.log");
        let args: Vec<std::ffi::OsString> = vec![
            "sim".into(),
            "--config".into(),
            dir.path().join("sim.json").into_os_string(),
            "--addr".into(),
            format!("127.0.0.1:{port}").into(),
        ]
        .into_iter()
        .chain(extra_args.iter().map(Into::into))
        .collect();
        let child = spawn_guarded(&bin, &args, &[], &log)?;
        let mut sim = Sim {
            base: format!("http://127.0.0.1:{port}"),
            dev_vars,
            dir,
            child: Some(child),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(resp) = reqwest::get(sim.url("/sim/health")).await {
                if resp.status().is_success() {
                    return Ok(sim);
                }
            }
            if Instant::now() > deadline {
                let log = sim.log();
                sim.stop();
                bail!("shoukuan sim did not answer /sim/health in 30 s; log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An absolute URL on the simulator.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A dev var (e.g. `WECHAT_TOKEN`).
    pub fn var(&self, name: &str) -> String {
        self.dev_vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// What the worker stores for `openid` where only equality is needed
    /// (`worker::personal_data::openid_key`: SHA-256 of `SESSION_SECRET|payer|openid`, 32 hex
    /// digits), for tests that look rows up by openid.
    pub fn openid_key(&self, openid: &str) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("{}|payer|{openid}", self.var("SESSION_SECRET")));
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// The worker's vars: the generated `.dev.vars` with every WeChat base URL pointing here.
    /// `PUBLISH_ACCESS` (open publishing for local runs) is left out, so these workers run
    /// with the production default (`payees` with an Official Account) unless a test sets it.
    pub fn worker_vars(&self) -> Vec<(String, String)> {
        self.dev_vars
            .iter()
            .filter(|(k, _)| k != "PUBLISH_ACCESS")
            .map(|(k, v)| match k.as_str() {
                "WECHATPAY_BASE_URL" | "WECHAT_API_BASE_URL" | "WECHAT_OPEN_BASE_URL" => {
                    (k.clone(), self.base.clone())
                }
                _ => (k.clone(), v.clone()),
            })
            .collect()
    }

    /// Starts a worker with [`Sim::worker_vars`] plus `extra` (which win), and points the
    /// simulator's pushes at its `/wechat/mp`.
    pub async fn start_worker(&self, extra: &[(&str, &str)]) -> Result<Worker> {
        let mut vars = self.worker_vars();
        for (k, v) in extra {
            vars.retain(|(name, _)| name != k);
            vars.push((k.to_string(), v.to_string()));
        }
        let borrowed: Vec<(&str, &str)> =
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let worker = Worker::start(&borrowed).await?;
        self.post(
            "/sim/config",
            &json!({ "mp_url": worker.url("/wechat/mp") }),
        )
        .await?;
        Ok(worker)
    }

    /// Bills: moves the bill clock so WeChat's bills are made as if it were `at` (Unix
    /// seconds), e.g. tomorrow 10:31 China time for today's bill (`/sim/bills`).
    pub async fn set_bill_clock(&self, at: i64) -> Result<Value> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64;
        self.post("/sim/bills", &json!({ "clock_offset_secs": at - now }))
            .await
    }

    /// Bills: `tamper` (downloads no longer match their hash) and `amounts` shown in bills
    /// (`{out_trade_no: fen}`).
    pub async fn set_bill_switches(&self, switches: &Value) -> Result<Value> {
        self.post("/sim/bills", switches).await
    }

    /// A refund only WeChat knows (made outside the merchant's system; no callback).
    pub async fn outside_refund(&self, out_trade_no: &str, fen: i64) -> Result<Value> {
        self.post(
            "/sim/bills/refund",
            &json!({ "out_trade_no": out_trade_no, "refund": fen }),
        )
        .await
    }

    /// Pays an order as `openid` without ever delivering its callback.
    pub async fn pay_without_callback(&self, out_trade_no: &str, openid: &str) -> Result<Value> {
        self.post(
            "/sim/pay",
            &json!({ "out_trade_no": out_trade_no, "openid": openid, "no_callback": true }),
        )
        .await
    }

    /// `GET` a control-API path, as JSON.
    pub async fn get(&self, path: &str) -> Result<Value> {
        // A client per call: tests run on separate runtimes, and a pooled connection does not
        // survive the runtime that opened it.
        let resp = reqwest::Client::new().get(self.url(path)).send().await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    }

    /// `POST` JSON to a control-API path.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let resp = reqwest::Client::new()
            .post(self.url(path))
            .json(body)
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    /// Creates a simulated WeChat user; returns its openid.
    pub async fn create_payer(&self, subscribed: bool) -> Result<String> {
        let payer = self
            .post("/sim/payers", &json!({ "subscribed": subscribed }))
            .await?;
        payer["openid"]
            .as_str()
            .map(str::to_string)
            .context("no openid")
    }

    /// `/sim/mp/stats`: token requests, tickets issued, pushes.
    pub async fn stats(&self) -> Result<Value> {
        self.get("/sim/mp/stats").await
    }

    /// The sub-merchants `shoukuan keys dev --model platform` registered in sim.json
    /// (`[{sub_mchid, name, h5, max_ratio}]`; empty for own business). Those added later are
    /// listed by `GET /sim/sub-merchants`.
    pub fn sub_merchants(&self) -> Result<Vec<Value>> {
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir().join("sim.json"))?)?;
        Ok(config["sub_merchants"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Registers (or updates) a sub-merchant of the simulated service provider: `h5` allows H5
    /// pay, `max_ratio` (1/10 000) is the 服务商分账 ratio it authorised (0 = none).
    pub async fn add_sub_merchant(
        &self,
        sub_mchid: &str,
        name: &str,
        h5: bool,
        max_ratio: u32,
    ) -> Result<Value> {
        self.post(
            "/sim/sub-merchants",
            &json!({ "sub_mchid": sub_mchid, "name": name, "h5": h5, "max_ratio": max_ratio }),
        )
        .await
    }

    /// Sets the ratio a sub-merchant authorised (what `merchant-configs/{sub_mchid}` answers).
    pub async fn set_max_ratio(&self, sub_mchid: &str, max_ratio: u32) -> Result<Value> {
        self.post(
            "/sim/sub-merchants",
            &json!({ "sub_mchid": sub_mchid, "max_ratio": max_ratio }),
        )
        .await
    }

    /// Sets the direct merchant's profit-sharing max ratio (1/10 000; default 3000).
    pub async fn set_direct_max_ratio(&self, max_ratio: u32) -> Result<Value> {
        self.post("/sim/config", &json!({ "max_ratio": max_ratio }))
            .await
    }

    /// Everything the simulator keeps about an order (`/sim/orders/{out_trade_no}`).
    pub async fn order(&self, out_trade_no: &str) -> Result<Value> {
        self.get(&format!("/sim/orders/{out_trade_no}")).await
    }

    /// The body of the last prepay request for `out_trade_no`, as the worker sent it.
    pub async fn prepay_request(&self, out_trade_no: &str) -> Result<Value> {
        Ok(self.order(out_trade_no).await?["request"].clone())
    }

    /// Pays an order as a simulated user (`openid` required for Native and H5 orders); the
    /// callback goes out as `variant` (`normal`, `duplicate`, `wrong_amount`,
    /// `wrong_sub_mchid`, …). Answers `{out_trade_no, transaction_id, deliveries}`.
    pub async fn pay_order(
        &self,
        out_trade_no: &str,
        openid: Option<&str>,
        variant: &str,
    ) -> Result<Value> {
        let mut body = json!({ "out_trade_no": out_trade_no, "variant": variant });
        if let Some(openid) = openid {
            body["openid"] = json!(openid);
        }
        self.post("/sim/pay", &body).await
    }

    /// Sends a paid order's TRANSACTION.SUCCESS callback again, as `variant`.
    pub async fn send_callback(&self, out_trade_no: &str, variant: &str) -> Result<Value> {
        self.post(
            "/sim/notify",
            &json!({ "out_trade_no": out_trade_no, "variant": variant }),
        )
        .await
    }

    /// Profit sharing as the simulator sees it: `{receivers, orders, returns}`.
    pub async fn profit_sharing(&self) -> Result<Value> {
        self.get("/sim/profitsharing").await
    }

    /// What `account` (an openid or a mchid) got by profit sharing, per sharer:
    /// `[{from, type, account, received, pending, returned, net}]` (fen).
    pub async fn received(&self, account: &str) -> Result<Vec<Value>> {
        let got = self
            .get(&format!("/sim/profitsharing/received?account={account}"))
            .await?;
        Ok(got.as_array().cloned().unwrap_or_default())
    }

    /// The simulator's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The directory with `sim.json` and `.dev.vars`.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_values_are_unquoted_and_unescaped() {
        let vars = parse_dotenv("# c\nA=1\nB=\"x\\ny\"\nC=\n");
        assert_eq!(
            vars,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "x\ny".into()),
                ("C".into(), String::new())
            ]
        );
    }
}
