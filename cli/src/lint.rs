//! `shoukuan lint`: the compliance lint of `shoukuan_core::lint` over a text file, one line per
//! banned word (`start-end<TAB>word<TAB>reason`, character offsets, end exclusive).

use std::path::PathBuf;

use shoukuan_core::lint;

use crate::{read_text, Outcome, Run};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// UTF-8 text file to check.
    #[arg(long)]
    text_file: PathBuf,
}

impl Run for Args {
    fn run(self) -> anyhow::Result<Outcome> {
        let text = read_text(&self.text_file)?;
        let hits = lint::check(&text);
        if hits.is_empty() {
            return Ok(Outcome::ok(""));
        }
        let lines: Vec<String> = hits
            .iter()
            .map(|hit| {
                format!(
                    "{}-{}\t{}\t{}",
                    hit.start_char, hit.end_char, hit.word, hit.reason
                )
            })
            .collect();
        Ok(Outcome::failed_with_output(
            lines.join("\n"),
            format!(
                "lint: {} banned word(s) in {}",
                hits.len(),
                self.text_file.display()
            ),
        ))
    }
}
