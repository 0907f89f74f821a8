//! `shoukuan`, the operator's tool: does each WeChat protocol step by hand (sign, verify, decrypt,
//! inspect a captured callback), checks texts against the compliance lint, and generates
//! development keys.
//!
//! Contract (scripts call it): exit 0 with the result on stdout; exit 1 with one line on stderr
//! naming the failed check.

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

mod books;
mod data;
mod jssdk;
mod keys;
mod lint;
mod mp;
mod operator;
mod sim;
mod wechatpay;

#[derive(Debug, Parser)]
#[command(
    name = "shoukuan",
    version,
    about = "Shoukuan (收款) operator tool: WeChat Pay / Official Account diagnostics and dev keys"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Declares the subcommands and their dispatch together, so adding one (e.g.
/// `Sim(sim::SimArgs)`) is one line here plus its `mod`; its type implements [`Run`].
macro_rules! commands {
    ($($(#[$meta:meta])* $variant:ident($args:ty),)*) => {
        #[derive(Debug, Subcommand)]
        enum Command {
            $($(#[$meta])* $variant($args),)*
        }

        impl Command {
            fn run(self) -> anyhow::Result<Outcome> {
                match self {
                    $(Command::$variant(args) => args.run(),)*
                }
            }
        }
    };
}

commands! {
    /// WeChat Pay API v3: sign, verify, decrypt, paySign, inspect a captured callback.
    #[command(subcommand)]
    Wechatpay(wechatpay::Command),
    /// Official Account pushes: signature, safe-mode decrypt / encrypt.
    #[command(subcommand)]
    Mp(mp::Command),
    /// JS-SDK wx.config signature.
    #[command(subcommand)]
    Jssdk(jssdk::Command),
    /// Check a text for banned words (exit 1 if any).
    Lint(lint::Args),
    /// Generate keys.
    #[command(subcommand)]
    Keys(keys::Command),
    /// Run the local WeChat simulator (WeChat Pay v3 + Official Account).
    Sim(sim::SimArgs),
    /// Payee accounts: list, approve, revoke (the worker's operator API, OPERATOR_SECRET).
    #[command(subcommand)]
    Payees(operator::PayeesCommand),
    /// The Official Account custom menu and menu-jump routes (the worker's API, OPERATOR_SECRET).
    #[command(subcommand)]
    Menu(operator::MenuCommand),
    /// Books: export payments / refunds as CSV or JSON (the worker's operator API).
    #[command(subcommand)]
    Books(books::Command),
    /// Personal data at rest: convert clear openids, reseal after a DATA_KEY change.
    #[command(subcommand)]
    Data(data::Command),
}

/// A subcommand's work.
pub trait Run {
    /// Runs it; an `Err` is a failed check, reported as one line on stderr with exit 1.
    fn run(self) -> anyhow::Result<Outcome>;
}

/// What a command printed: text for stdout, and, when a check failed, the line for stderr.
pub struct Outcome {
    stdout: String,
    failure: Option<String>,
}

impl Outcome {
    /// Success: `stdout` is the result; one newline is added when it is printed.
    pub fn ok(stdout: impl Into<String>) -> Self {
        Outcome {
            stdout: stdout.into(),
            failure: None,
        }
    }

    /// A failed check that still has a result to show (lint hits).
    pub fn failed_with_output(stdout: impl Into<String>, failure: impl Into<String>) -> Self {
        Outcome {
            stdout: stdout.into(),
            failure: Some(failure.into()),
        }
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help / --version: print as clap formats it.
            print!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let message = match e.kind() {
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                | ErrorKind::MissingSubcommand => "error: a subcommand is required".to_string(),
                // The error text up to the usage block, which may span lines (missing arguments).
                _ => e
                    .render()
                    .to_string()
                    .lines()
                    .take_while(|line| !line.trim().is_empty() && !line.starts_with("Usage:"))
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            eprintln!("{} (see --help)", one_line(&message));
            return ExitCode::from(1);
        }
    };
    let outcome = match cli.command.run() {
        Ok(outcome) => outcome,
        Err(e) => Outcome {
            stdout: String::new(),
            failure: Some(format!("{e:#}")),
        },
    };
    if !outcome.stdout.is_empty() {
        println!("{}", outcome.stdout);
    }
    match outcome.failure {
        None => ExitCode::SUCCESS,
        Some(failure) => {
            eprintln!("{}", one_line(&failure));
            ExitCode::from(1)
        }
    }
}

/// Reads a file's exact bytes; the error names the file.
pub(crate) fn read_bytes(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

/// Reads a UTF-8 file; the error names the file.
pub(crate) fn read_text(path: &std::path::Path) -> anyhow::Result<String> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))
}

/// Current Unix time in seconds.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `len` random characters from `alphabet` (nonces, tokens, dev secrets).
pub(crate) fn random_string(alphabet: &[u8], len: usize) -> String {
    use rand::Rng as _;
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

/// Upper-case hex digits and letters, as WeChat Pay's own nonces.
pub(crate) const NONCE_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
