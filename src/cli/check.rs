//! `harp check`: read HAR files the way replay will (folding a leftover journal in) and
//! report what they hold, or exactly what is wrong.

use std::path::PathBuf;
use std::process::ExitCode;

use harp::har;

use super::say;

/// Arguments of `harp check`.
#[derive(Debug, clap::Args)]
pub(super) struct CheckArgs {
    /// HAR files (.har, .zhar, .zip) to read.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub(super) fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut failed = 0;
    for path in &args.paths {
        // Entry by entry: every body is produced (and so checked) as it is read.
        let mut incomplete = 0;
        let read = har::stream_har_file(
            path,
            &har::ReadLimits::default(),
            har::Detail::Whole,
            |_, entry, _| Ok(entry.is_incomplete()),
            |_, unfinished| {
                incomplete += usize::from(unfinished);
                Ok(())
            },
        );
        match read {
            Ok(file) => {
                if let Some(n) = file.recovered {
                    say(format!(
                        "{}: recovered {n} exchange(s) from an interrupted recording",
                        path.display()
                    ));
                }
                let log = &file.har.log;
                say(format!(
                    "{}: ok, {} entries ({} incomplete), HAR {} by {} {}",
                    path.display(),
                    file.entries,
                    incomplete,
                    log.version,
                    log.creator.name,
                    log.creator.version
                ));
            }
            Err(err) => {
                failed += 1;
                eprintln!("harp: {err}");
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
