//! `shoukuan payees …` and `shoukuan menu …`: the operator's side of the Official Account front
//! door and of the money model (approval = declaration in own business; `payees bind` = the
//! payee's sub-merchant in platform mode), through the worker's API with the operator's
//! bearer secret.
//!
//! The secret is read from the environment (`OPERATOR_SECRET`) or, for local runs, from the
//! `.dev.vars` in the current directory — never from the command line, where it would end up
//! in the shell history and the process list.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, Subcommand};
use serde_json::Value;
use shoukuan_core::menu::{MenuDef, MenuKey};

use crate::{Outcome, Run};

/// Where the worker is and how to reach its operator API.
#[derive(Debug, Args)]
pub struct Target {
    /// The worker's base URL.
    #[arg(long, env = "SHOUKUAN_URL", default_value = "http://127.0.0.1:8787")]
    pub(crate) url: String,
    /// A dotenv file to read OPERATOR_SECRET from when the environment has none.
    #[arg(long, default_value = ".dev.vars")]
    pub(crate) dev_vars: PathBuf,
}

/// `shoukuan payees …`
#[derive(Debug, Subcommand)]
pub enum PayeesCommand {
    /// List payee accounts (pending first).
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Approve an openid as a payee (it may publish and use the dashboard). With
    /// WECHATPAY_MODEL=own_business this declares the payee part of the business (staff,
    /// branch or shop), and the answer says so.
    Approve {
        /// The payee's openid (shown on its dashboard while pending).
        openid: String,
        #[command(flatten)]
        target: Target,
    },
    /// Withdraw a payee's approval.
    Revoke {
        /// The payee's openid.
        openid: String,
        #[command(flatten)]
        target: Target,
    },
    /// Platform model: bind a payee to its own sub-merchant (特约商户号, onboarded in WeChat
    /// Pay's service-provider console); its merchant-mode payments then settle there.
    Bind {
        /// The payee's openid.
        openid: String,
        /// The sub-merchant number (8–32 digits).
        #[arg(long, required_unless_present = "unbind")]
        sub_mchid: Option<String>,
        /// Remove the binding instead (merchant mode is then refused to the payee).
        #[arg(long, conflicts_with = "sub_mchid")]
        unbind: bool,
        /// A note for the operator (e.g. the merchant's name in WeChat Pay).
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

/// `shoukuan menu …`
#[derive(Debug, Subcommand)]
pub enum MenuCommand {
    /// Show the stored custom menu.
    Get {
        #[command(flatten)]
        target: Target,
    },
    /// Store a custom menu from a JSON file (`{"button":[{"name","type":"view","route"}|…]}`).
    Set {
        /// The menu JSON.
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Publish the stored menu to WeChat (view buttons → <url>/m/<route>).
    Publish {
        #[command(flatten)]
        target: Target,
    },
    /// List the menu-jump routes (`/m/<key>` → page).
    Routes {
        #[command(flatten)]
        target: Target,
    },
    /// Add a route: `/m/<key>` opens `<target>` (`/`, `/new`, `/dash`, `/c/<id>`).
    AddRoute {
        /// 1–32 of A-Z a-z 0-9 - _.
        key: String,
        /// An allow-listed page path.
        target_path: String,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a route.
    DeleteRoute {
        /// The route key.
        key: String,
        #[command(flatten)]
        target: Target,
    },
}

impl Run for PayeesCommand {
    fn run(self) -> anyhow::Result<Outcome> {
        match self {
            PayeesCommand::List { target } => {
                call(&target, Method::Get, "/api/operator/payees", None)
            }
            PayeesCommand::Approve { openid, target } => call(
                &target,
                Method::Post,
                &format!("/api/operator/payees/{}/approve", checked_openid(&openid)?),
                None,
            ),
            PayeesCommand::Revoke { openid, target } => call(
                &target,
                Method::Post,
                &format!("/api/operator/payees/{}/revoke", checked_openid(&openid)?),
                None,
            ),
            PayeesCommand::Bind {
                openid,
                sub_mchid,
                unbind: _,
                note,
                target,
            } => {
                if let Some(sub) = &sub_mchid {
                    if !shoukuan_core::routing::is_valid_sub_mchid(sub) {
                        bail!("--sub-mchid {sub:?} must be 8–32 digits");
                    }
                }
                let body = serde_json::json!({ "sub_mchid": sub_mchid, "note": note });
                call(
                    &target,
                    Method::Post,
                    &format!("/api/operator/payees/{}/merchant", checked_openid(&openid)?),
                    Some(body),
                )
            }
        }
    }
}

impl Run for MenuCommand {
    fn run(self) -> anyhow::Result<Outcome> {
        match self {
            MenuCommand::Get { target } => call(&target, Method::Get, "/api/dash/menu", None),
            MenuCommand::Set { file, target } => {
                let text = crate::read_text(&file)?;
                // Parse locally first: a typo is reported with its line, before any request.
                let menu: MenuDef = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a menu", file.display()))?;
                call(
                    &target,
                    Method::Put,
                    "/api/dash/menu",
                    Some(serde_json::to_value(menu)?),
                )
            }
            MenuCommand::Publish { target } => {
                call(&target, Method::Post, "/api/dash/menu/publish", None)
            }
            MenuCommand::Routes { target } => call(&target, Method::Get, "/api/dash/routes", None),
            MenuCommand::AddRoute {
                key,
                target_path,
                target,
            } => {
                if MenuKey::parse(&key).is_none() {
                    bail!("route key {key:?} must be 1–32 of A-Z a-z 0-9 - _");
                }
                let body = serde_json::json!({ "key": key, "target": target_path });
                call(&target, Method::Post, "/api/dash/routes", Some(body))
            }
            MenuCommand::DeleteRoute { key, target } => {
                let key = MenuKey::parse(&key)
                    .ok_or_else(|| anyhow!("route key {key:?} is malformed"))?;
                call(
                    &target,
                    Method::Delete,
                    &format!("/api/dash/routes/{}", key.as_str()),
                    None,
                )
            }
        }
    }
}

fn checked_openid(openid: &str) -> anyhow::Result<&str> {
    shoukuan_core::session::Openid::parse(openid)
        .map(|_| openid)
        .ok_or_else(|| anyhow!("openid {openid:?} must be 1–64 of A-Z a-z 0-9 - _"))
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Delete,
}

/// `OPERATOR_SECRET` from the environment, else from the dotenv file.
pub(crate) fn operator_secret(dev_vars: &std::path::Path) -> anyhow::Result<String> {
    if let Some(secret) = std::env::var("OPERATOR_SECRET")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        return Ok(secret.trim().to_string());
    }
    let from_file = std::fs::read_to_string(dev_vars).ok().and_then(|text| {
        text.lines().find_map(|line| {
            let value = line
                .trim()
                .strip_prefix("OPERATOR_SECRET=")?
                .trim()
                .trim_matches('"');
            (!value.is_empty()).then(|| value.to_string())
        })
    });
    from_file.ok_or_else(|| {
        anyhow!("OPERATOR_SECRET is not set (export it, or run where a .dev.vars holds it; see --dev-vars)")
    })
}

/// One request to the worker; the JSON answer pretty-printed, or the API's `{code, message}`
/// as the failure line.
fn call(
    target: &Target,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Outcome> {
    let json = request(target, method, path, body)?;
    Ok(Outcome::ok(serde_json::to_string_pretty(&json)?))
}

/// Calls the operator API; the JSON answer, or the error it names.
pub(crate) fn request(
    target: &Target,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let secret = operator_secret(&target.dev_vars)?;
    let url = format!("{}{path}", target.url.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (status, text) = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot build the HTTP client")?;
        let mut request = match method {
            Method::Get => client.get(&url),
            Method::Post => client.post(&url),
            Method::Put => client.put(&url),
            Method::Delete => client.delete(&url),
        }
        .bearer_auth(&secret);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.context("reading the answer")?;
        anyhow::Ok((status, text))
    })?;
    let json: Value =
        serde_json::from_str(&text).map_err(|_| anyhow!("HTTP {status} from {url}: not JSON"))?;
    if (200..300).contains(&status) {
        Ok(json)
    } else {
        bail!(
            "HTTP {status} {}: {}",
            json["code"].as_str().unwrap_or("?"),
            json["message"].as_str().unwrap_or("(no message)")
        )
    }
}
