//! Configuration read from wrangler `[vars]` and secrets. Secret values never print.

use std::fmt;

use worker::Env;

/// A secret string whose `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// A setting from the secrets or `[vars]`, trimmed; `None` when unset or empty.
pub fn setting(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A secret setting (see [`setting`]).
pub fn secret_setting(env: &Env, name: &str) -> Option<SecretString> {
    setting(env, name).map(SecretString)
}

/// How publishing is authorised (`PUBLISH_ACCESS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishAccess {
    /// `payees`: an approved payee session is required (the Official Account front door).
    Payees,
    /// `invite`: the first slice's rule, the invite code (or open when none is set); for
    /// deployments without an Official Account.
    Invite,
}

impl PublishAccess {
    /// The config value.
    pub fn as_str(self) -> &'static str {
        match self {
            PublishAccess::Payees => "payees",
            PublishAccess::Invite => "invite",
        }
    }
}

/// Who may publish collections.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// The operator's invite code; `None` (unset or empty) means anyone may publish.
    pub invite_code: Option<SecretString>,
    /// `PUBLISH_ACCESS`; defaults to `payees` when `WECHAT_APPID` is set, else `invite`. An
    /// unknown value fails closed (`payees`).
    pub access: PublishAccess,
}

impl PublishConfig {
    /// Reads `PUBLISH_INVITE_CODE` (a secret in production, a var or `.dev.vars` locally).
    pub fn from_env(env: &Env) -> PublishConfig {
        let value = env
            .secret("PUBLISH_INVITE_CODE")
            .map(|s| s.to_string())
            .or_else(|_| env.var("PUBLISH_INVITE_CODE").map(|v| v.to_string()))
            .unwrap_or_default();
        let value = value.trim().to_owned();
        let access = match setting(env, "PUBLISH_ACCESS").as_deref() {
            Some("invite") => PublishAccess::Invite,
            Some("payees") => PublishAccess::Payees,
            Some(other) => {
                worker::console_error!(
                    "PUBLISH_ACCESS={other:?} is not payees|invite; using payees"
                );
                PublishAccess::Payees
            }
            None if setting(env, "WECHAT_APPID").is_some() => PublishAccess::Payees,
            None => PublishAccess::Invite,
        };
        PublishConfig {
            invite_code: (!value.is_empty()).then_some(SecretString(value)),
            access,
        }
    }
}

/// `LOCAL_DEV=1`: only the `.dev.vars` that `cargo xtask dev` generates sets it. It allows
/// what a deployment must never do (publishing without an invite code), and only to requests
/// on a loopback host.
pub fn local_dev(env: &Env) -> bool {
    setting(env, "LOCAL_DEV").as_deref() == Some("1")
}
