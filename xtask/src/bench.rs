//! `cargo xtask bench`: payer-page bytes and time-to-QR against a vanilla-JS baseline.

use anyhow::{bail, Result};

pub fn run() -> Result<()> {
    bail!("the payer-page benchmark is not written yet")
}
