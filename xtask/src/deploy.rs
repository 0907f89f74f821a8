//! `cargo xtask deploy`: from a Cloudflare account wrangler can use (`npx wrangler login`, or
//! `CLOUDFLARE_API_TOKEN` + `CLOUDFLARE_ACCOUNT_ID`) to a running deployment, in one command:
//!
//! 1. release build (app, worker with wasm-opt);
//! 2. `wrangler whoami`: stops early, saying what to do, when no account is configured;
//! 3. the D1 database and the R2 bucket named in `worker/wrangler.toml`: looked up
//!    (`wrangler d1 list --json`, `wrangler r2 bucket info`) and created when missing;
//! 4. a generated config, `<target>/deploy/wrangler.toml`: the committed one with the real
//!    `database_id` and absolute paths (the committed file keeps its placeholder id);
//! 5. `wrangler d1 migrations apply DB --remote`;
//! 6. `wrangler deploy --secrets-file .prod.vars`: code and secrets as one new version; the
//!    secrets file is the operator's, kept out of git (`.prod.vars` is git-ignored; same
//!    `KEY=value` format as `.dev.vars`) and checked first;
//! 7. the URLs to enter in the WeChat consoles.
//!
//! `--dry-run` does everything that needs no account, offline: the build, the generated config
//! (placeholder id), the secrets file check, every migration applied to a fresh local D1, and
//! `wrangler deploy --dry-run --outdir …` (bundles and validates the config, uploads nothing).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::build;
use crate::proc::{capture, run_quiet, step};
use crate::root;
use crate::tools::{self, Tools};

/// The operator's secrets file, at the repository root (git-ignored).
pub const SECRETS_FILE: &str = ".prod.vars";

/// Settings that must never reach production.
const FORBIDDEN: &[(&str, &str)] = &[(
    "PAY_TEST_HOOKS",
    "enables the end-to-end tests' fault injection (/api/test/pay/*)",
)];

/// Whether the deploy builds first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// Run the release build (the command on its own).
    Now,
    /// The caller just built (`cargo xtask test`).
    AlreadyBuilt,
}

/// `cargo xtask deploy [--dry-run]`.
pub fn run(args: &[String]) -> Result<()> {
    let dry_run = args.iter().any(|a| a == "--dry-run");
    if let Some(other) = args.iter().find(|a| *a != "--dry-run") {
        bail!("unknown argument {other}; usage: cargo xtask deploy [--dry-run]");
    }
    let tools = tools::ensure_all()?;
    if dry_run {
        dry_run_inner(&tools, Build::Now)
    } else {
        deploy(&tools)
    }
}

/// `cargo xtask deploy --dry-run`: everything that needs no Cloudflare account.
pub fn dry_run(tools: &Tools, build: Build) -> Result<()> {
    dry_run_inner(tools, build)
}

fn dry_run_inner(tools: &Tools, build: Build) -> Result<()> {
    let start = Instant::now();
    let committed = Committed::read()?;
    let secrets = check_secrets_file()?;
    if build == Build::Now {
        build::app(tools)?;
        build::worker(tools, build::WorkerOpt::Full)?;
    }
    let config = write_config(&committed, &committed.database_id)?;
    step("applying every migration to a fresh local D1 (offline check of the SQL)");
    let scratch = crate::target_dir().join("deploy/migrations-check");
    let _ = std::fs::remove_dir_all(&scratch);
    run_quiet(
        "wrangler d1 migrations apply --local",
        tools
            .wrangler()
            .args(["d1", "migrations", "apply", "DB", "--local", "--config"])
            .arg(&config)
            .arg("--persist-to")
            .arg(&scratch),
    )?;
    let _ = std::fs::remove_dir_all(&scratch);
    step("wrangler deploy --dry-run (bundle and config checked, nothing uploaded)");
    let outdir = crate::target_dir().join("deploy/dry-run");
    let mut cmd = tools.wrangler();
    cmd.args(["deploy", "--dry-run", "--config"])
        .arg(&config)
        .arg("--outdir")
        .arg(&outdir);
    let json = match secrets {
        Some(_) => Some(SecretsJson::write(&std::fs::read_to_string(
            root().join(SECRETS_FILE),
        )?)?),
        None => None,
    };
    if let Some(json) = &json {
        // wrangler reads the secrets too, uploading nothing.
        cmd.arg("--secrets-file").arg(&json.path);
    }
    let out = capture("wrangler deploy --dry-run", &mut cmd, false)?;
    drop(json);
    if !out.success {
        eprintln!("{}", out.output);
        bail!("wrangler deploy --dry-run failed");
    }
    let gzip_kib = upload_gzip_kib(&out.output)
        .context("wrangler deploy --dry-run printed no `Total Upload: … / gzip: … KiB` line")?;
    // Workers Free's limit on the compressed worker; Paid allows 10 MB.
    if gzip_kib > 3.0 * 1024.0 {
        bail!("the worker is {gzip_kib:.0} KiB gzipped: over Workers Free's 3 MiB limit");
    }
    println!(
        "deploy --dry-run: ok in {} s — worker {gzip_kib:.0} KiB gzipped (limit 3 MiB), config {}, {}",
        start.elapsed().as_secs(),
        config.display(),
        match secrets {
            Some(n) => format!("{SECRETS_FILE}: {n} settings checked"),
            None => format!("no {SECRETS_FILE} (secrets not checked)"),
        }
    );
    Ok(())
}

fn deploy(tools: &Tools) -> Result<()> {
    let committed = Committed::read()?;
    let secrets = check_secrets_file()?;
    if secrets.is_none() {
        bail!(
            "{SECRETS_FILE} is missing: write the production secrets there (KEY=value lines as in \
             .dev.vars.example; it is git-ignored), then run cargo xtask deploy again"
        );
    }
    build::app(tools)?;
    build::worker(tools, build::WorkerOpt::Full)?;

    step("checking the Cloudflare account (wrangler whoami)");
    if wrangler_output(tools, &["whoami", "--json"]).is_err() {
        bail!(
            "no Cloudflare account configured: run `npx wrangler login`, or set \
             CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID), then run cargo xtask deploy again"
        );
    }

    let database_id = match find_database(tools, &committed.database_name)? {
        Some(id) => id,
        None => {
            step(&format!(
                "creating the D1 database {}",
                committed.database_name
            ));
            // Primary near the payers; D1 read replicas are not used.
            wrangler_output(
                tools,
                &[
                    "d1",
                    "create",
                    &committed.database_name,
                    "--location",
                    "apac",
                ],
            )?;
            find_database(tools, &committed.database_name)?
                .context("the D1 database was created but `wrangler d1 list` does not show it")?
        }
    };
    println!("D1 database {}: {database_id}", committed.database_name);
    let bucket = &committed.bucket_name;
    if wrangler_output(tools, &["r2", "bucket", "info", bucket]).is_err() {
        step(&format!("creating the R2 bucket {bucket}"));
        wrangler_output(tools, &["r2", "bucket", "create", bucket])?;
    }
    println!("R2 bucket {bucket}: ok");

    let config = write_config(&committed, &database_id)?;
    let config_arg = config.to_string_lossy().into_owned();
    step("applying the D1 migrations (remote)");
    wrangler_output(
        tools,
        &[
            "d1",
            "migrations",
            "apply",
            "DB",
            "--remote",
            "--config",
            &config_arg,
        ],
    )?;
    // Code and secrets in one new version: no window where the new code runs with old
    // secrets, and no draft worker on the first deploy.
    step(&format!(
        "wrangler deploy --secrets-file <{SECRETS_FILE} as JSON>"
    ));
    let secrets_path = root().join(SECRETS_FILE);
    let json = SecretsJson::write(&std::fs::read_to_string(&secrets_path)?)?;
    let out = wrangler_output(
        tools,
        &[
            "deploy",
            "--config",
            &config_arg,
            "--secrets-file",
            &json.path.to_string_lossy(),
        ],
    );
    drop(json);
    let out = out?;
    let workers_dev = out
        .split_whitespace()
        .find(|w| w.starts_with("https://") && w.contains(".workers.dev"))
        .map(str::to_owned);
    let public = setting(&std::fs::read_to_string(&secrets_path)?, "PUBLIC_BASE_URL")
        .or_else(|| committed.public_base_url.clone());
    let base = public
        .or(workers_dev.clone())
        .context("deployed, but no URL is known: set PUBLIC_BASE_URL in .prod.vars")?;
    print_console_urls(base.trim_end_matches('/'), workers_dev.as_deref());
    Ok(())
}

/// What the WeChat consoles need, for the deployment at `base` (`https://host`).
fn print_console_urls(base: &str, workers_dev: Option<&str>) {
    let host = base
        .split_once("://")
        .map_or(base, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or(base);
    println!();
    println!("Deployed: {base}");
    if let Some(url) = workers_dev {
        println!("  (also {url})");
    }
    println!("Enter these in the WeChat consoles:");
    println!("  Official Account (mp.weixin.qq.com):");
    println!("    设置与开发 → 基本配置 → 服务器配置 → 服务器地址(URL)   {base}/wechat/mp");
    println!(
        "      (Token and EncodingAESKey: the WECHAT_TOKEN / WECHAT_AES_KEY of {SECRETS_FILE})"
    );
    println!("    设置与开发 → 公众号设置 → 功能设置 → 网页授权域名       {host}");
    println!("    设置与开发 → 公众号设置 → 功能设置 → JS接口安全域名     {host}");
    println!("  WeChat Pay merchant platform (pay.weixin.qq.com):");
    println!("    支付回调 (notify_url, sent with each order)           {base}/wechatpay/notify/transaction");
    println!(
        "    退款回调 (sent with each refund)                      {base}/wechatpay/notify/refund"
    );
    println!("    产品中心 → 开发配置 → JSAPI支付授权目录               {base}/c/");
    if host.ends_with(".workers.dev") {
        println!(
            "Note: WeChat accepts only a domain you own (ICP-filed for Official Account domains): \
             add a custom domain to the worker and set PUBLIC_BASE_URL to it."
        );
    }
}

/// Runs wrangler, returning its output; on failure prints it and fails.
fn wrangler_output(tools: &Tools, args: &[&str]) -> Result<String> {
    let out = capture(
        &format!("wrangler {}", args.join(" ")),
        tools.wrangler().args(args),
        false,
    )?;
    if !out.success {
        eprintln!("{}", out.output);
        bail!("wrangler {} failed", args.join(" "));
    }
    Ok(out.output)
}

/// The uuid of the D1 database `name`, from `wrangler d1 list --json`.
fn find_database(tools: &Tools, name: &str) -> Result<Option<String>> {
    let out = tools
        .wrangler()
        .args(["d1", "list", "--json"])
        .stdin(std::process::Stdio::null())
        .output()
        .context("running wrangler d1 list")?;
    if !out.status.success() {
        bail!(
            "wrangler d1 list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let json_start = text
        .find('[')
        .context("wrangler d1 list --json printed no list")?;
    let list: serde_json::Value = serde_json::from_str(&text[json_start..])
        .context("wrangler d1 list --json printed something that is not JSON")?;
    Ok(list.as_array().and_then(|dbs| {
        dbs.iter()
            .find(|db| db["name"] == name)
            .and_then(|db| db["uuid"].as_str())
            .map(str::to_owned)
    }))
}

/// The parts of the committed `worker/wrangler.toml` a deploy needs.
#[derive(Debug)]
struct Committed {
    text: String,
    database_name: String,
    database_id: String,
    bucket_name: String,
    public_base_url: Option<String>,
}

impl Committed {
    fn read() -> Result<Committed> {
        let text = std::fs::read_to_string(root().join("worker/wrangler.toml"))
            .context("reading worker/wrangler.toml")?;
        let get = |key: &str| {
            setting(&text, key).with_context(|| format!("worker/wrangler.toml has no {key}"))
        };
        Ok(Committed {
            database_name: get("database_name")?,
            database_id: get("database_id")?,
            bucket_name: get("bucket_name")?,
            public_base_url: setting(&text, "PUBLIC_BASE_URL"),
            text,
        })
    }
}

/// The value of `key = "value"` (TOML) or `KEY=value` / `KEY="value"` (dotenv), first match.
fn setting(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        if k.trim() != key || line.trim_start().starts_with('#') {
            return None;
        }
        let v = v.trim();
        Some(
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
                .to_owned(),
        )
    })
}

/// The committed config with `database_id` set and every path absolute, so that it works from
/// `<target>/deploy/`.
fn generate_config(committed: &str, database_id: &str, worker_dir: &Path) -> Result<String> {
    let mut out = String::from(
        "# Generated by `cargo xtask deploy` from worker/wrangler.toml: do not edit, edit that.\n",
    );
    let mut replaced = Vec::new();
    for line in committed.lines() {
        let key = line.split_once('=').map(|(k, _)| k.trim());
        let new = match key {
            Some("database_id") => Some(format!("database_id = \"{database_id}\"")),
            Some(k @ ("main" | "directory" | "migrations_dir")) => {
                let value = setting(line, k).context("malformed path line")?;
                let path = worker_dir.join(&value);
                Some(format!("{k} = \"{}\"", normalise(&path).display()))
            }
            _ => None,
        };
        match new {
            Some(new) if !line.trim_start().starts_with('#') => {
                replaced.push(key.unwrap_or_default().to_owned());
                out.push_str(&new);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    for key in ["main", "directory", "migrations_dir", "database_id"] {
        if !replaced.iter().any(|k| k == key) {
            bail!("worker/wrangler.toml has no `{key} = …` line to rewrite");
        }
    }
    Ok(out)
}

/// `a/b/../c` → `a/c` without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn write_config(committed: &Committed, database_id: &str) -> Result<PathBuf> {
    let dir = crate::target_dir().join("deploy");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("wrangler.toml");
    let text = generate_config(&committed.text, database_id, &root().join("worker"))?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Checks `.prod.vars` when present: every name one the worker reads, nothing test-only, no
/// WeChat host pointing at this machine. Returns how many settings it holds.
fn check_secrets_file() -> Result<Option<usize>> {
    let path = root().join(SECRETS_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let known = known_settings()?;
    let problems = secrets_problems(&text, &known);
    if !problems.is_empty() {
        bail!("{SECRETS_FILE}:\n  {}", problems.join("\n  "));
    }
    Ok(Some(dotenv_names(&text).len()))
}

/// Every setting name the worker reads: those documented in `.dev.vars.example` (set or
/// commented out) and the `[vars]` of the committed config.
fn known_settings() -> Result<Vec<String>> {
    let example = std::fs::read_to_string(root().join(".dev.vars.example"))
        .context("reading .dev.vars.example")?;
    let toml = std::fs::read_to_string(root().join("worker/wrangler.toml"))?;
    let mut names: Vec<String> = example
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .chain(toml.lines().map(str::trim))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .filter(|k| is_setting_name(k))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

fn is_setting_name(name: &str) -> bool {
    name.len() > 1
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The names set in a dotenv text.
fn dotenv_names(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect()
}

fn secrets_problems(text: &str, known: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            problems.push(format!("line {}: not KEY=value", number + 1));
            continue;
        };
        let name = name.trim();
        if !known.iter().any(|k| k == name) {
            problems.push(format!(
                "line {}: {name} is not a setting the worker reads (see .dev.vars.example)",
                number + 1
            ));
        }
    }
    for (name, why) in FORBIDDEN {
        if dotenv_names(text).contains(name) {
            problems.push(format!("{name} must not be set in production: it {why}"));
        }
    }
    for name in [
        "WECHATPAY_BASE_URL",
        "WECHAT_API_BASE_URL",
        "WECHAT_OPEN_BASE_URL",
        "PUBLIC_BASE_URL",
    ] {
        if let Some(value) = setting(text, name) {
            if value.contains("127.0.0.1")
                || value.contains("localhost")
                || !value.starts_with("https://")
            {
                problems.push(format!(
                    "{name}={value}: production URLs are https:// and not this machine (the simulator's are for .dev.vars)"
                ));
            }
        }
    }
    problems
}

/// `.prod.vars` handed to wrangler as JSON: its dotenv reading would expand `$VAR` inside
/// values and let the shell's environment override the file. Readable by the owner only, and
/// removed when dropped.
struct SecretsJson {
    path: PathBuf,
}

impl SecretsJson {
    fn write(dotenv: &str) -> Result<SecretsJson> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let map: serde_json::Map<String, serde_json::Value> = parse_dotenv(dotenv)
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        let path = crate::target_dir().join("deploy/secrets.json");
        let _ = std::fs::remove_file(&path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(serde_json::Value::Object(map).to_string().as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(SecretsJson { path })
    }
}

impl Drop for SecretsJson {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `KEY=value` lines as `shoukuan keys dev` writes `.dev.vars`: values optionally in double
/// quotes with `\n`, `\"` and `\\` escapes; `#` lines and blank lines skipped.
fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) => unescape(inner),
                None => v.to_owned(),
            };
            (k.trim().to_owned(), v)
        })
        .collect()
}

fn unescape(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(escaped) => out.push(escaped),
            None => out.push('\\'),
        }
    }
    out
}

/// The `gzip: 123.45 KiB` of wrangler's `Total Upload:` line.
fn upload_gzip_kib(output: &str) -> Option<f64> {
    let line = output.lines().find(|l| l.contains("Total Upload:"))?;
    let after = line.split("gzip:").nth(1)?.trim();
    let mut words = after.split_whitespace();
    let number: f64 = words.next()?.parse().ok()?;
    match words.next()? {
        "KiB" => Some(number),
        "MiB" => Some(number * 1024.0),
        "B" | "bytes" => Some(number / 1024.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_config_has_the_id_and_absolute_paths_and_keeps_the_rest() {
        let committed = std::fs::read_to_string(root().join("worker/wrangler.toml")).unwrap();
        let worker = Path::new("/srv/shoukuan/worker");
        let text =
            generate_config(&committed, "1234abcd-0000-4000-8000-000000000000", worker).unwrap();
        assert!(text.contains("database_id = \"1234abcd-0000-4000-8000-000000000000\""));
        assert!(
            text.contains("main = \"/srv/shoukuan/worker/build/index.js\""),
            "{text}"
        );
        assert!(
            text.contains("directory = \"/srv/shoukuan/dist\""),
            "{text}"
        );
        assert!(text.contains("migrations_dir = \"/srv/shoukuan/worker/migrations\""));
        assert!(text.contains("crons = [\"* * * * *\"]"));
        assert!(!text.contains("00000000-0000-0000-0000-000000000000"));
        assert!(generate_config("name = \"x\"\n", "id", worker).is_err());
    }

    #[test]
    fn the_secrets_file_check_names_each_problem() {
        let known = vec![
            "DATA_KEY".to_string(),
            "PUBLIC_BASE_URL".to_string(),
            "PAY_TEST_HOOKS".to_string(),
        ];
        assert!(secrets_problems(
            "# c\nDATA_KEY=\"abc\"\n\nPUBLIC_BASE_URL=https://pay.example.cn\n",
            &known
        )
        .is_empty());
        let problems = secrets_problems(
            "DATA_KEY=1\nDATA_KY=2\nnonsense\nPAY_TEST_HOOKS=1\nPUBLIC_BASE_URL=http://127.0.0.1:8787\n",
            &known,
        );
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("DATA_KY"));
        assert!(problems[1].contains("line 3"));
        assert!(problems[2].contains("PAY_TEST_HOOKS"));
        assert!(problems[3].contains("PUBLIC_BASE_URL"));
    }

    #[test]
    fn every_documented_setting_is_known() {
        let known = known_settings().unwrap();
        for name in [
            "WECHATPAY_MCHID",
            "WECHAT_TOKEN",
            "DATA_KEY",
            "SESSION_SECRET",
            "WECHATPAY_BASE_URL",
            "PAY_ORDER_TTL_SECS",
        ] {
            assert!(
                known.iter().any(|k| k == name),
                "{name} missing from {known:?}"
            );
        }
    }

    #[test]
    fn secrets_reach_wrangler_unexpanded_and_unescaped() {
        let vars = parse_dotenv(
            "# comment\nA=plain $HOME\nB=\"-----BEGIN-----\\nAB$C\\n\\\"q\\\" \\\\\"\n\nC=\n",
        );
        assert_eq!(
            vars,
            vec![
                ("A".to_owned(), "plain $HOME".to_owned()),
                ("B".to_owned(), "-----BEGIN-----\nAB$C\n\"q\" \\".to_owned()),
                ("C".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn the_upload_size_is_read_from_wranglers_summary() {
        let out = "Total Upload: 1234.56 KiB / gzip: 456.78 KiB\n--dry-run: exiting now.";
        assert_eq!(upload_gzip_kib(out), Some(456.78));
        assert_eq!(
            upload_gzip_kib("Total Upload: 5 MiB / gzip: 2.5 MiB"),
            Some(2560.0)
        );
        assert_eq!(upload_gzip_kib("nothing"), None);
    }
}
