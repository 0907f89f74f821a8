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

/// Who may publish collections.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// The operator's invite code; `None` (unset or empty) means anyone may publish.
    pub invite_code: Option<SecretString>,
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
        PublishConfig { invite_code: (!value.is_empty()).then_some(SecretString(value)) }
    }
}
