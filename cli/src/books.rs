//! `shoukuan books export --date YYYY-MM-DD [--to YYYY-MM-DD] [--kind payments|refunds|report]
//! [--format csv|json] [--out FILE]`: the accounting exports through the worker's operator API
//! (`GET /api/dash/exports/:kind` with the operator's bearer secret, every payee's rows).
//! Days are Asia/Shanghai calendar days. CSV is UTF-8 with a byte-order mark (opens in Excel
//! and WPS with Chinese intact); `--out` writes the bytes exactly as the worker sent them.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _};
use clap::Subcommand;
use shoukuan_core::export::DayRange;

use crate::operator::{operator_secret, Target};
use crate::{Outcome, Run};

/// `shoukuan books …`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Export payments or refunds of a day (or a range of days) as CSV or JSON.
    Export {
        /// The (first) day, YYYY-MM-DD, Asia/Shanghai.
        #[arg(long)]
        date: String,
        /// The last day of a range (included).
        #[arg(long)]
        to: Option<String>,
        /// `payments`, `refunds`, or `report` (the reconciliation's daily reports: WeChat's
        /// fees, the net settled amount and open discrepancies per payee; at most 31 days).
        #[arg(long, default_value = "payments", value_parser = ["payments", "refunds", "report"])]
        kind: String,
        /// `csv` or `json`.
        #[arg(long, default_value = "csv", value_parser = ["csv", "json"])]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
}

impl Run for Command {
    fn run(self) -> anyhow::Result<Outcome> {
        match self {
            Command::Export {
                date,
                to,
                kind,
                format,
                out,
                target,
            } => {
                // Checked here first: a typo is reported before any request.
                DayRange::parse(&date, to.as_deref()).map_err(|e| anyhow!("{e}"))?;
                let mut query = vec![("date", date.as_str()), ("format", format.as_str())];
                if let Some(to) = &to {
                    query.push(("to", to.as_str()));
                }
                let path = format!(
                    "/api/dash/exports/{kind}?{}",
                    shoukuan_core::urlenc::build_query(&query)
                );
                let bytes = fetch(&target, &path)?;
                match out {
                    Some(file) => {
                        std::fs::write(&file, &bytes)
                            .with_context(|| format!("cannot write {}", file.display()))?;
                        Ok(Outcome::ok(format!(
                            "wrote {} bytes to {}",
                            bytes.len(),
                            file.display()
                        )))
                    }
                    None => Ok(Outcome::ok(
                        String::from_utf8_lossy(&bytes).trim_end().to_string(),
                    )),
                }
            }
        }
    }
}

/// One GET with the operator's secret: the body on 2xx, the API's `{code, message}` otherwise.
fn fetch(target: &Target, path: &str) -> anyhow::Result<Vec<u8>> {
    let secret = operator_secret(&target.dev_vars)?;
    let url = format!("{}{path}", target.url.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (status, body) = runtime.block_on(async {
        let response = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("cannot build the HTTP client")?
            .get(&url)
            .bearer_auth(&secret)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.context("reading the answer")?;
        anyhow::Ok((status, body.to_vec()))
    })?;
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    bail!(
        "HTTP {status} {}: {}",
        json["code"].as_str().unwrap_or("?"),
        json["message"].as_str().unwrap_or("(no message)")
    )
}
