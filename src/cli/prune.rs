//! `harp prune HAR --report R.json`: drop the entries a replay report says were never
//! used, keeping the HAR's layout (embedded, attached or zip).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use harp::har::{self, Storage};

use super::{bad_input, say};

/// Arguments of `harp prune`.
#[derive(Debug, clap::Args)]
pub(super) struct PruneArgs {
    /// The HAR to prune (.har, .zhar, .zip).
    pub har: PathBuf,
    /// A JSON report of a replay of this HAR (`harp replay|run --report R.json`).
    #[arg(long)]
    pub report: PathBuf,
    /// Say what would go without writing anything.
    #[arg(long)]
    pub dry_run: bool,
}

pub(crate) fn run(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let text = harp::input::read_regular_file(&args.report, 256 << 20)
        .map_err(bad_input)
        .with_context(|| format!("reading {}", args.report.display()))?;
    let report: serde_json::Value = serde_json::from_slice(&text)
        .map_err(bad_input)
        .with_context(|| format!("{} is not a JSON replay report", args.report.display()))?;
    let unused: Vec<usize> = report["unused"]
        .as_array()
        .ok_or_else(|| {
            bad_input(anyhow::anyhow!(
                "{}: no \"unused\" list (write it with --report R.json, not .xml)",
                args.report.display()
            ))
        })?
        .iter()
        .filter_map(|u| u["entry"].as_u64().map(|n| n as usize))
        .collect();
    let file = har::read_har_file(&args.har).map_err(bad_input)?;
    let total = file.har.log.entries.len();
    let reported = report["entries"].as_u64().unwrap_or(0) as usize;
    if reported != total {
        return Err(bad_input(anyhow::anyhow!(
            "{} was made from a HAR of {reported} entries; {} has {total}: replay it again and prune with the new report",
            args.report.display(),
            args.har.display()
        )));
    }
    let storage = Storage::for_path(&args.har, file.har.has_attachments());
    let mut doc = file.into_embedded().map_err(bad_input)?;
    let mut index = 0;
    doc.log.entries.retain(|_| {
        let keep = !unused.contains(&index);
        index += 1;
        keep
    });
    let removed = total - doc.log.entries.len();
    if args.dry_run {
        say(format!(
            "would prune {removed} of {total} entries from {} (entries {})",
            args.har.display(),
            unused
                .iter()
                .map(|n| format!("#{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(ExitCode::SUCCESS);
    }
    har::save(&args.har, &doc, storage)
        .with_context(|| format!("writing {}", args.har.display()))?;
    say(format!(
        "pruned {removed} of {total} entries from {} ({} left){}",
        args.har.display(),
        doc.log.entries.len(),
        if storage == Storage::Attach {
            "; payload files beside it are kept (other HARs may share them)"
        } else {
            ""
        }
    ));
    Ok(ExitCode::SUCCESS)
}
