//! `harp diff A.har B.har`: what changed between two HARs, entry by entry; exit 0 when
//! they are the same, 1 when they differ, 2 on bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use harp::har;
use harp::rules::diff::diff;

use super::{bad_input, say};

/// Arguments of `harp diff`.
#[derive(Debug, clap::Args)]
pub(super) struct DiffArgs {
    /// The first HAR (.har, .zhar, .zip).
    pub first: PathBuf,
    /// The second HAR.
    pub second: PathBuf,
    /// Print the differences as JSON instead.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let first = har::read_har_file(&args.first).map_err(bad_input)?;
    let second = har::read_har_file(&args.second).map_err(bad_input)?;
    let found = diff(&first, &second).map_err(bad_input)?;
    if args.json {
        say(serde_json::to_string_pretty(&found)?);
    } else {
        for r in &found.only_in_first {
            say(format!("- {r}  only in {}", args.first.display()));
        }
        for r in &found.only_in_second {
            say(format!("+ {r}  only in {}", args.second.display()));
        }
        for c in &found.changed {
            say(format!("~ {} (#{} / #{})", c.request, c.first, c.second));
            for change in &c.changes {
                say(format!("    {change}"));
            }
        }
        say(format!(
            "{} pair(s) compared: {} changed, {} only in {}, {} only in {}",
            found.pairs,
            found.changed.len(),
            found.only_in_first.len(),
            args.first.display(),
            found.only_in_second.len(),
            args.second.display()
        ));
    }
    Ok(ExitCode::from(if found.is_same() { 0 } else { 1 }))
}
