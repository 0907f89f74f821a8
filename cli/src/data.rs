//! `shoukuan data rotate`: brings stored personal data to the worker's current configuration
//! through the operator API (`POST /api/operator/data/rotate`, bearer `OPERATOR_SECRET`):
//! converts rows that still hold an openid in clear (once, after migration 0014) and reseals
//! every sealed column with the current data key version. The worker does one batch per call
//! and returns where to go on; this command calls until it is done, so an interrupted run is
//! simply started again (it is idempotent), or resumed with `--step`/`--after`.

use std::collections::BTreeMap;

use anyhow::bail;
use clap::Subcommand;
use serde_json::{json, Value};

use crate::operator::{request, Method, Target};
use crate::{Outcome, Run};

/// `shoukuan data …`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert clear openids and reseal every sealed value with the current DATA_KEY version
    /// (run after deploying migration 0014, and after every change of DATA_KEY).
    Rotate {
        /// Rows per call (1–500).
        #[arg(long, default_value_t = 100)]
        batch: u32,
        /// Resume at this step (printed by an interrupted run).
        #[arg(long, default_value_t = 0)]
        step: u64,
        /// Resume after this row of the step.
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[command(flatten)]
        target: Target,
    },
}

/// Calls are bounded: a worker that never finishes is an error, not a hang.
const MAX_CALLS: usize = 100_000;

impl Run for Command {
    fn run(self) -> anyhow::Result<Outcome> {
        let Command::Rotate {
            batch,
            mut step,
            mut after,
            target,
        } = self;
        let mut changed: BTreeMap<String, u64> = BTreeMap::new();
        let mut failed: BTreeMap<String, u64> = BTreeMap::new();
        for _ in 0..MAX_CALLS {
            let body = json!({ "step": step, "after": after, "limit": batch });
            let answer = request(
                &target,
                Method::Post,
                "/api/operator/data/rotate",
                Some(body),
            )
            .map_err(|e| e.context(format!("resume with --step {step} --after {after}")))?;
            add(&mut changed, &answer["changed"]);
            add(&mut failed, &answer["failed"]);
            if answer["done"].as_bool() == Some(true) {
                let summary = json!({
                    "key_version": answer["key_version"],
                    "changed": changed,
                    "failed": failed,
                });
                let text = serde_json::to_string_pretty(&summary)?;
                return Ok(if failed.is_empty() {
                    Outcome::ok(text)
                } else {
                    Outcome::failed_with_output(
                        text,
                        "some sealed values did not open with any configured DATA_KEY version (see the worker's log); they were left unchanged",
                    )
                });
            }
            step = answer["step"].as_u64().unwrap_or(step);
            after = answer["after"].as_i64().unwrap_or(after);
        }
        bail!(
            "the worker did not finish in {MAX_CALLS} calls (last: --step {step} --after {after})"
        )
    }
}

fn add(totals: &mut BTreeMap<String, u64>, counts: &Value) {
    if let Some(counts) = counts.as_object() {
        for (name, n) in counts {
            *totals.entry(name.clone()).or_default() += n.as_u64().unwrap_or(0);
        }
    }
}
