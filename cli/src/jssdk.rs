//! `shoukuan jssdk sign`: the JS-SDK `wx.config` signature by hand.

use clap::Subcommand;
use shoukuan_core::jssdk;

use crate::{Outcome, Run};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The wx.config signature (hex SHA-1); a `#fragment` in --url is dropped as WeChat does.
    Sign {
        /// jsapi_ticket.
        #[arg(long, allow_hyphen_values = true)]
        ticket: String,
        /// noncestr.
        #[arg(long, allow_hyphen_values = true)]
        noncestr: String,
        /// Unix seconds.
        #[arg(long, allow_hyphen_values = true)]
        timestamp: i64,
        /// The page URL.
        #[arg(long)]
        url: String,
    },
}

impl Run for Command {
    fn run(self) -> anyhow::Result<Outcome> {
        match self {
            Command::Sign {
                ticket,
                noncestr,
                timestamp,
                url,
            } => Ok(Outcome::ok(jssdk::signature(
                &ticket, &noncestr, timestamp, &url,
            ))),
        }
    }
}
