//! `harp record`: the recording proxy, and the recording session `harp run --update` and
//! `harp replay --record-missing` reuse.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::ValueEnum;

use harp::glob::UrlGlobs;
use harp::har::{self, journal, Journal, Storage};
use harp::record::retries;
use harp::record::{
    ContentPolicy, EntryOptions, Mode, RecordOptions, Recorder, Recording, DEFAULT_REDACT,
};

use harp::rules::diff::{diff, Diff};

use super::rules::RuleArgs;
use super::{bad_input, say, serve_proxy, ListenArgs, UpstreamArgs};

/// Where bodies go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ContentArg {
    /// Inside the HAR: text as is, binary as base64.
    Embed,
    /// In files named by content hash beside the HAR (always so for a .zip).
    Attach,
    /// Not at all.
    Omit,
}

/// Detail level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ModeArg {
    /// Everything: timings, cookies, sizes, server address.
    Full,
    /// What replay needs only: small, stable diffs.
    Minimal,
}

/// How entries are recorded.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct RecordFlags {
    /// Where bodies go.
    #[arg(long, value_enum, default_value = "embed")]
    pub content: ContentArg,
    /// Detail level of entries.
    #[arg(long, value_enum, default_value = "full")]
    pub mode: ModeArg,
    /// Also redact this request or response header's value in the HAR; repeatable.
    #[arg(long = "redact-header", value_name = "NAME")]
    pub redact_header: Vec<String>,
    /// Do not redact Authorization, Proxy-Authorization and Cookie by default.
    #[arg(long)]
    pub no_default_redact: bool,
    /// Largest request or response body recorded, in bytes (it still reaches its
    /// destination whole; the entry says it was not recorded).
    #[arg(long, default_value_t = 2 * 1024 * 1024 * 1024)]
    pub max_body: u64,
    /// Add to the HAR's existing entries instead of replacing them.
    #[arg(long)]
    pub append: bool,
}

/// Arguments of `harp record`.
#[derive(Debug, clap::Args)]
pub(super) struct RecordArgs {
    /// The HAR file to write (replaced when harp stops, unless --append).
    #[arg(long)]
    pub har: PathBuf,
    /// Record only URLs matching this glob (Playwright syntax); repeatable; default all.
    #[arg(long = "url", value_name = "GLOB")]
    pub urls: Vec<String>,
    #[command(flatten)]
    pub record: RecordFlags,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
}

/// A recording in progress: the handler, and where and how it will be saved.
pub(super) struct RecordSession {
    /// The handler: forward everything, observe what matches.
    pub recorder: Arc<Recorder>,
    /// The observer that turns exchanges into entries.
    pub recording: Arc<Recording>,
    /// Things to tell the user before traffic starts (a recovered journal).
    pub notes: Vec<String>,
    path: PathBuf,
    storage: Storage,
    /// Files in the HAR's folder before the session (attached storage): payload files
    /// this session wrote are the others, removed when its recording is discarded.
    files_before: HashSet<OsString>,
    /// This process records to `path` alone; released when the session ends.
    _lock: har::Lock,
}

/// What `harp run --update` saved.
pub(super) struct Saved {
    /// Entries in the HAR.
    pub count: usize,
    /// Failed attempts dropped because the same request was sent again (`METHOD URL
    /// → status`).
    pub retries: Vec<String>,
    /// Exchanges that failed upstream and stayed (`METHOD URL: why`).
    pub failures: Vec<String>,
    /// What changed against the HAR this one replaced, when there was one.
    pub changes: Option<Diff>,
}

impl RecordSession {
    /// Checks the path (before anything listens), folds in a leftover journal, loads
    /// entries to add to (`append`, or after a recovery) and starts the journal.
    pub(super) fn prepare(
        path: &Path,
        urls: &[String],
        flags: &RecordFlags,
        rule_args: &RuleArgs,
        existing: Existing,
    ) -> anyhow::Result<Self> {
        let globs = UrlGlobs::new(urls).map_err(bad_input)?;
        let loaded = rule_args.load(path, &flags.redact_header)?;
        let mut storage = Storage::for_path(path, flags.content == ContentArg::Attach);
        har::check_writable(path)
            .map_err(bad_input)
            .context("cannot write the --har file")?;
        // Before recovery: a live recorder's journal is not a leftover.
        let lock = har::Lock::acquire(path).map_err(bad_input)?;
        // A recording that was killed left a journal: fold it in, then carry on from there.
        let recovered = journal::recover(path)
            .map_err(bad_input)
            .context("recovering an interrupted recording")?;
        let mut notes: Vec<String> = loaded.note.into_iter().collect();
        if let Some(n) = recovered {
            notes.push(format!(
                "recovered {n} exchange(s) from an interrupted recording into {}; this recording adds to them",
                path.display()
            ));
        }
        let keep = flags.append || existing == Existing::Keep || recovered.is_some();
        let base = if keep && path.exists() {
            existing_entries(path, &mut storage)?
        } else {
            Vec::new()
        };
        let appending = !base.is_empty();
        let dir = folder_of(path);
        let options = RecordOptions {
            attach: storage == Storage::Attach,
            entry: entry_options(flags, loaded.rules),
            max_body: flags.max_body,
            ..RecordOptions::in_dir(dir.clone())
        };
        let files_before = if storage == Storage::Attach {
            files_in(&dir)
        } else {
            HashSet::new()
        };
        let journal =
            Journal::create(path, storage, appending).context("starting the recording journal")?;
        let recording = Arc::new(
            Recording::new(options)
                .with_entries(base)
                .with_journal(journal),
        );
        Ok(Self {
            recorder: Arc::new(
                Recorder::new(globs, recording.clone()).with_source(path.display().to_string()),
            ),
            recording,
            notes,
            path: path.to_path_buf(),
            storage,
            files_before,
            _lock: lock,
        })
    }

    /// Writes the HAR, removes the journal, and returns how many entries it holds.
    pub(super) fn finish(&self) -> anyhow::Result<usize> {
        let recorded = self.recording.take_recorded();
        let count = recorded
            .save(&self.path, self.storage)
            .context("writing the HAR (the journal beside it keeps every exchange)")?;
        recorded.remove_journal()?;
        Ok(count)
    }

    /// `harp run --update` after a command that succeeded: drops failed attempts that
    /// were retried, writes the HAR and compares it with the one it replaced.
    pub(super) fn commit(&self) -> anyhow::Result<Saved> {
        let recorded = self.recording.take_recorded();
        let entries = recorded.entries().context(
            "reading the recorded entries back (the journal beside the HAR keeps every exchange)",
        )?;
        let (kept, dropped) = retries::drop_failed_retries(entries);
        let har = har::Har {
            log: har::Log {
                entries: kept,
                ..har::Log::default()
            },
            ..har::Har::default()
        };
        let previous = if self.path.exists() {
            // As stored: the journal beside it is this session's own.
            match har::read_stored(&self.path, &har::ReadLimits::default()) {
                Ok(file) => Some(file),
                Err(err) => {
                    tracing::warn!("not comparing with the previous HAR: {err}");
                    None
                }
            }
        } else {
            None
        };
        har::save(&self.path, &har, self.storage)
            .context("writing the HAR (the journal beside it keeps every exchange)")?;
        recorded.remove_journal()?;
        let changes = match previous {
            Some(previous) => har::read_stored(&self.path, &har::ReadLimits::default())
                .map_err(anyhow::Error::from)
                .and_then(|now| Ok(diff(&previous, &now)?))
                .map_err(|err| tracing::warn!("not comparing with the previous HAR: {err}"))
                .ok(),
            None => None,
        };
        Ok(Saved {
            count: har.log.entries.len(),
            retries: dropped.iter().map(|e| attempt_line(e, "")).collect(),
            failures: har
                .log
                .entries
                .iter()
                .filter_map(|e| {
                    let why = e.response.extra.get("_error")?.as_str().unwrap_or("failed");
                    Some(attempt_line(e, why))
                })
                .collect(),
            changes,
        })
    }

    /// `harp run --update` after a command that failed: the HAR stays as it was; the
    /// journal and the payload files this session wrote are removed. Returns how many
    /// exchanges were not saved.
    pub(super) fn discard(&self) -> anyhow::Result<usize> {
        let recorded = self.recording.take_recorded();
        let entries = recorded.entries().unwrap_or_else(|err| {
            tracing::warn!("not removing this session's payload files: {err}");
            Vec::new()
        });
        let count = recorded.len();
        recorded.remove_journal()?;
        if self.storage == Storage::Attach {
            let dir = folder_of(&self.path);
            let written = entries.iter().flat_map(|e| {
                let post = e.request.post_data.as_ref().and_then(|p| p.file.as_ref());
                e.response.content.file.iter().chain(post)
            });
            for name in written {
                if !self.files_before.contains(std::ffi::OsStr::new(name)) {
                    let _ = std::fs::remove_file(dir.join(name));
                }
            }
        }
        Ok(count)
    }
}

/// `METHOD URL → status` (or `: why` for a failure), clipped for a summary.
fn attempt_line(entry: &har::Entry, why: &str) -> String {
    let url = harp::calllog::clip(&entry.request.url, harp::calllog::MAX_URL_TEXT);
    if why.is_empty() {
        format!("{} {url} → {}", entry.request.method, entry.response.status)
    } else {
        format!("{} {url}: {why}", entry.request.method)
    }
}

/// The folder a HAR lives in (`.` for a bare file name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The names of the files in `dir` (none when it cannot be read).
fn files_in(dir: &Path) -> HashSet<OsString> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

/// What a recording does with the entries the HAR already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Existing {
    /// Replaces them, unless `--append` (or a recovered journal) says to add to them.
    Replace,
    /// Adds to them (`--record-missing`).
    Keep,
}

/// The entries of the HAR at `path`, embedded again, to add to; a HAR with attached
/// payloads keeps its layout (`storage` becomes attached).
fn existing_entries(path: &Path, storage: &mut Storage) -> anyhow::Result<Vec<har::Entry>> {
    let file = har::read_har_file(path)
        .map_err(bad_input)
        .context("reading the HAR to append to")?;
    if file.har.has_attachments() && *storage == Storage::Embed {
        *storage = Storage::Attach;
    }
    Ok(file
        .into_embedded()
        .map_err(bad_input)
        .context("reading the HAR to append to")?
        .log
        .entries)
}

/// How entries are built: detail, bodies, and what is redacted (the default headers
/// unless `--no-default-redact`, plus the rules' headers, query parameters and fields).
fn entry_options(flags: &RecordFlags, rules: harp::rules::Rules) -> EntryOptions {
    let mut redact: Vec<String> = if flags.no_default_redact {
        Vec::new()
    } else {
        DEFAULT_REDACT.iter().map(|h| h.to_string()).collect()
    };
    redact.extend(
        rules
            .spec()
            .redact
            .header
            .iter()
            .map(|h| h.to_ascii_lowercase()),
    );
    EntryOptions {
        mode: match flags.mode {
            ModeArg::Full => Mode::Full,
            ModeArg::Minimal => Mode::Minimal,
        },
        content: match flags.content {
            ContentArg::Omit => ContentPolicy::Omit,
            _ => ContentPolicy::Embed,
        },
        redact,
        rules: Arc::new(rules),
        ..EntryOptions::default()
    }
}

pub(super) async fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    let session = RecordSession::prepare(
        &args.har,
        &args.urls,
        &args.record,
        &args.rules,
        Existing::Replace,
    )?;
    session.notes.iter().for_each(say);
    let what = format!("recording to {}", args.har.display());
    serve_proxy(
        session.recorder.clone(),
        &args.listen,
        &args.upstream,
        "harp record",
        &what,
    )
    .await?;
    let count = session.finish()?;
    say(format!(
        "recorded {count} exchange(s) to {}",
        args.har.display()
    ));
    Ok(ExitCode::SUCCESS)
}
