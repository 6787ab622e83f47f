//! `harp replay`: the replaying proxy, and the replay session `harp run` reuses.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::ValueEnum;

use harp::glob::UrlGlobs;
use harp::har;
use harp::replay::{has_unmatched, Index, NotFound, ReplayOptions, Replayer};

use super::record::{Existing, RecordFlags, RecordSession};
use super::rules::RuleArgs;
use super::{bad_input, say, serve_proxy, ListenArgs, UpstreamArgs};

/// Distinct unmatched requests listed at exit; the rest are counted.
const SUMMARY_UNMATCHED: usize = 20;

/// What happens to a request no entry matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum NotFoundArg {
    /// Answer 502 (x-harp-unmatched: 1) naming the nearest entries; never touch the network.
    Abort,
    /// Forward it to the network.
    Fallback,
}

/// How replay matches and what it does with misses.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct ReplayFlags {
    /// Unmatched requests: abort (502, no network) or fallback (forward to the network).
    #[arg(long, value_enum, default_value = "abort")]
    pub not_found: NotFoundArg,
    /// Serve repeated identical requests the matching entries in recorded order (the last repeats).
    #[arg(long)]
    pub sequence: bool,
    /// Follow recorded redirects inside the HAR and serve the final response.
    #[arg(long)]
    pub follow_redirects: bool,
    /// Forward unmatched requests to the network and append them to the HAR.
    #[arg(long)]
    pub record_missing: bool,
    /// Write a report when harp stops: served, unmatched (nearest entries, why, the rule
    /// that would match) and unused entries; JSON, or JUnit XML when PATH ends in .xml.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// When harp stops, list the entries no request used (warn), or also fail (exit 1).
    #[arg(long, value_enum, value_name = "warn|fail")]
    pub unused: Option<UnusedArg>,
    /// Flag entries recorded longer ago than AGE (`30d`, `12h`, `2w`) from their
    /// `startedDateTime`: a warning at start, and with `:fail` also exit 1 when harp stops.
    #[arg(long, value_name = "AGE[:warn|fail]", value_parser = parse_max_age)]
    pub max_age: Option<MaxAge>,
    /// When answers go out: none, recorded (the entry's wait, then the body at its
    /// recorded pace), scale=F (recorded times F), fixed=MS[,jitter=MS].
    #[arg(long, default_value = "none", value_name = "MODE")]
    pub latency: harp::pacing::Latency,
}

/// `--max-age`: how old entries may be, and whether older ones fail the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MaxAge {
    age: std::time::Duration,
    /// As the user wrote it (`30d`), for messages.
    text: String,
    fail: bool,
}

impl MaxAge {
    /// The warning when entries of `har` are older than this, with whether it fails the
    /// run; None when none is.
    /// The warning for the HAR at `path` whose entries started at `dates`, when some
    /// are too old.
    fn warning(&self, path: &Path, dates: &[String]) -> Option<(String, bool)> {
        let found = har::age::stale_dates(
            dates.iter().map(String::as_str),
            self.age,
            std::time::SystemTime::now(),
        );
        let oldest = found.oldest?;
        let warning = format!(
            "{}: {} of {} entries were recorded more than {} ago (the oldest {oldest}); re-record them with harp run --update",
            path.display(),
            found.count,
            dates.len(),
            self.text
        );
        Some((warning, self.fail))
    }
}

fn parse_max_age(text: &str) -> Result<MaxAge, String> {
    let (age, policy) = match text.rsplit_once(':') {
        Some((age, policy)) => (age, policy),
        None => (text, "warn"),
    };
    let fail = match policy {
        "warn" => false,
        "fail" => true,
        other => return Err(format!("{other:?} is not warn or fail (AGE[:warn|fail])")),
    };
    let age_text = age;
    let age = humantime::parse_duration(age)
        .map_err(|e| format!("{age:?}: {e} (write it like 30d, 12h or 2w)"))?;
    Ok(MaxAge {
        age,
        text: age_text.to_string(),
        fail,
    })
}

/// What to do about entries no request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum UnusedArg {
    /// List them after the summary.
    Warn,
    /// List them and exit 1 (stale fixtures fail the build).
    Fail,
}

/// Entries listed by `--unused`; the rest are counted.
const SUMMARY_UNUSED: usize = 10;

/// Arguments of `harp replay`.
#[derive(Debug, clap::Args)]
pub(super) struct ReplayArgs {
    /// The HAR to serve (.har, .zhar, .zip; attached payloads beside it).
    #[arg(long)]
    pub har: PathBuf,
    /// Serve only URLs matching this glob from the HAR; others go to the network; repeatable.
    #[arg(long = "url", value_name = "GLOB")]
    pub urls: Vec<String>,
    #[command(flatten)]
    pub replay: ReplayFlags,
    #[command(flatten)]
    pub record: RecordFlags,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
}

/// What a finished replay says: the summary lines, and what fails a run.
pub(super) struct Finished {
    /// The summary, one line each.
    pub(super) lines: Vec<String>,
    /// Replay met requests it could not answer.
    pub(super) unmatched: bool,
    /// `--unused fail` found entries no request used.
    pub(super) unused_failed: bool,
    /// `--max-age AGE:fail` found entries older than AGE.
    pub(super) stale_failed: bool,
}

impl Finished {
    /// True when `harp run` should fail on replay's account.
    pub(super) fn failed(&self) -> bool {
        self.unmatched || self.unused_failed || self.stale_failed
    }
}

/// A replay in progress.
pub(super) struct ReplaySession {
    pub replayer: Arc<Replayer>,
    /// Things to tell the user before traffic starts (a recovered journal).
    pub notes: Vec<String>,
    /// `--record-missing`: the recording of what was not matched.
    missing: Option<RecordSession>,
    path: PathBuf,
    report: Option<PathBuf>,
    unused: Option<UnusedArg>,
    /// `--max-age`: the warning given at start, when entries are older, and whether it
    /// fails the run.
    stale: Option<(String, bool)>,
}

impl ReplaySession {
    /// Loads and indexes the HAR (folding in a leftover journal) and sets replay up.
    pub(super) fn prepare(
        path: &Path,
        urls: &[String],
        flags: &ReplayFlags,
        record: &RecordFlags,
        rule_args: &RuleArgs,
    ) -> anyhow::Result<Self> {
        let globs = UrlGlobs::new(urls).map_err(bad_input)?;
        let loaded = rule_args.load(path, &record.redact_header)?;
        if let Some(report) = &flags.report {
            har::check_writable(report)
                .map_err(bad_input)
                .context("cannot write the --report file")?;
        }
        // Read straight into the index; only the dates are kept for --max-age.
        let (index, file, dates) = Index::stream(path, loaded.rules, |entry| {
            flags
                .max_age
                .is_some()
                .then(|| entry.started_date_time.clone())
        })
        .map_err(bad_input)?;
        let dates: Vec<String> = dates.into_iter().flatten().collect();
        let mut notes: Vec<String> = loaded.note.into_iter().collect();
        if let Some(n) = file.recovered {
            notes.push(format!(
                "recovered {n} exchange(s) from an interrupted recording into {}",
                path.display()
            ));
        }
        let stale = flags
            .max_age
            .as_ref()
            .and_then(|max| max.warning(path, &dates));
        if let Some((warning, _)) = &stale {
            notes.push(format!("warning: {warning}"));
        }
        let options = ReplayOptions {
            globs,
            not_found: match flags.not_found {
                NotFoundArg::Abort => NotFound::Abort,
                NotFoundArg::Fallback => NotFound::Fallback,
            },
            sequence: flags.sequence,
            follow_redirects: flags.follow_redirects,
            latency: flags.latency,
            ..ReplayOptions::default()
        };
        let mut replayer = Replayer::new(index, options);
        let missing = if flags.record_missing {
            let session = RecordSession::prepare(path, &[], record, rule_args, Existing::Keep)?;
            notes.extend(session.notes.iter().cloned());
            session.recording.share_feed(replayer.feed());
            replayer = replayer.with_missing(session.recording.clone(), session.recording.clone());
            Some(session)
        } else {
            None
        };
        Ok(Self {
            replayer: Arc::new(replayer),
            notes,
            missing,
            path: path.to_path_buf(),
            report: flags.report.clone(),
            unused: flags.unused,
            stale,
        })
    }

    /// Writes what --record-missing recorded and the report; returns the summary lines
    /// (counts, then each unmatched request with its nearest entry, unused and old
    /// entries) and what fails the run.
    pub(super) fn finish(&self) -> anyhow::Result<Finished> {
        let mut lines = Vec::new();
        if let Some(missing) = &self.missing {
            let count = missing.finish()?;
            lines.push(format!(
                "{} now holds {count} exchange(s)",
                self.path.display()
            ));
        }
        let summary = self.replayer.summary();
        lines.push(self.counts_line(&summary));
        lines.extend(self.unmatched_lines());
        let report = self.replayer.report();
        let unused_failed = self.unused_lines(&report, &mut lines);
        let stale_failed = match &self.stale {
            Some((warning, true)) => {
                lines.push(format!("failing: --max-age: {warning}"));
                true
            }
            _ => false,
        };
        if let Some(path) = &self.report {
            write_report(path, &report)?;
            lines.push(format!("report written to {}", path.display()));
        }
        Ok(Finished {
            lines,
            unmatched: has_unmatched(&summary),
            unused_failed,
            stale_failed,
        })
    }

    /// `served N from HAR, unmatched N`, and the other outcomes that happened.
    fn counts_line(&self, s: &harp::replay::Summary) -> String {
        let mut line = format!(
            "served {} from {}, unmatched {}",
            s.served,
            self.path.display(),
            s.unmatched
        );
        for (n, what) in [
            (s.incomplete, "incomplete"),
            (s.fallback, "forwarded (fallback)"),
            (s.recorded, "recorded (missing)"),
            (s.passthrough, "outside --url"),
        ] {
            if n > 0 {
                line.push_str(&format!(", {what} {n}"));
            }
        }
        line
    }

    /// The first [`SUMMARY_UNMATCHED`] distinct unmatched requests with their nearest
    /// entry, then how many more.
    fn unmatched_lines(&self) -> Vec<String> {
        let (unmatched, not_listed) = self.replayer.unmatched();
        let shown = unmatched.len().min(SUMMARY_UNMATCHED);
        let mut lines: Vec<String> = unmatched[..shown]
            .iter()
            .map(|u| {
                let near = match u.nearest.first() {
                    Some(m) => format!(
                        " (nearest: #{} {} {}: {}{})",
                        m.entry,
                        m.method,
                        m.url,
                        m.differences.join("; "),
                        m.rule
                            .as_ref()
                            .map(|r| format!("; would match with {r}"))
                            .unwrap_or_default()
                    ),
                    None => String::new(),
                };
                format!("  unmatched {}x {} {}{near}", u.count, u.method, u.url)
            })
            .collect();
        let more = (unmatched.len() - shown) as u64 + not_listed;
        if more > 0 {
            lines.push(format!(
                "  and {more} more distinct unmatched request(s) (GET http://harp.local/__harp/calls lists them)"
            ));
        }
        lines
    }

    /// With `--unused`, the entries never used (the first [`SUMMARY_UNUSED`]); true when
    /// that fails the run.
    fn unused_lines(&self, report: &harp::replay::report::Report, lines: &mut Vec<String>) -> bool {
        let Some(policy) = self.unused else {
            return false;
        };
        if report.unused.is_empty() {
            return false;
        }
        lines.push(format!(
            "{} of {} entries never used:",
            report.unused.len(),
            report.entries
        ));
        for u in report.unused.iter().take(SUMMARY_UNUSED) {
            lines.push(format!("  #{} {} {}", u.entry, u.method, u.url));
        }
        if report.unused.len() > SUMMARY_UNUSED {
            lines.push(format!(
                "  and {} more (--report R.json lists them all; harp prune drops them)",
                report.unused.len() - SUMMARY_UNUSED
            ));
        }
        if policy == UnusedArg::Fail {
            lines.push("failing: --unused fail and entries were never used".into());
        }
        policy == UnusedArg::Fail
    }
}

/// The report at `path`: JUnit XML when it ends in `.xml`, else JSON.
fn write_report(path: &Path, report: &harp::replay::report::Report) -> anyhow::Result<()> {
    let text = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
    {
        report.to_junit()
    } else {
        report.to_json()
    };
    harp::output::write_atomic(path, text.as_bytes(), None)
        .with_context(|| format!("writing the report {}", path.display()))
}

pub(super) async fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let session = ReplaySession::prepare(
        &args.har,
        &args.urls,
        &args.replay,
        &args.record,
        &args.rules,
    )?;
    session.notes.iter().for_each(say);
    let what = format!(
        "serving {} entries from {}",
        session.replayer.index().len(),
        args.har.display()
    );
    serve_proxy(
        session.replayer.clone(),
        &args.listen,
        &args.upstream,
        "harp replay",
        &what,
    )
    .await?;
    let finished = session.finish()?;
    finished.lines.iter().for_each(say);
    // Unmatched requests alone do not fail `harp replay` (they were answered 502 and are
    // listed); `--unused fail` and `--max-age AGE:fail` do, as they ask to.
    Ok(if finished.unused_failed || finished.stale_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
