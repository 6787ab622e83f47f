//! `harp record`: the recording proxy.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;

use harp::ca::LeafIssuer;
use harp::glob::UrlGlobs;
use harp::har::{self, journal, Journal, Storage};
use harp::proxy::{self, ProxyConfig, Upstream, UpstreamConfig};
use harp::record::{ContentPolicy, EntryOptions, Mode, RecordOptions, Recorder, DEFAULT_REDACT};

use super::{bad_input, say, shutdown_signal, ListenArgs};

/// Where bodies go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContentArg {
    /// Inside the HAR: text as is, binary as base64.
    Embed,
    /// In files named by content hash beside the HAR (always so for a .zip).
    Attach,
    /// Not at all.
    Omit,
}

/// Detail level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Everything: timings, cookies, sizes, server address.
    Full,
    /// What replay needs only: small, stable diffs.
    Minimal,
}

/// Arguments of `harp record`.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// The HAR file to write (replaced when harp stops).
    #[arg(long)]
    pub har: PathBuf,
    /// Record only URLs matching this glob (Playwright syntax); repeatable; default all.
    #[arg(long = "url", value_name = "GLOB")]
    pub urls: Vec<String>,
    /// Where bodies go.
    #[arg(long, value_enum, default_value = "embed")]
    pub content: ContentArg,
    /// Detail level of entries.
    #[arg(long, value_enum, default_value = "full")]
    pub mode: ModeArg,
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Also trust the CA certificates in this PEM file for upstream TLS; repeatable.
    #[arg(long = "upstream-ca", value_name = "PEM")]
    pub upstream_ca: Vec<PathBuf>,
    /// Do not verify upstream certificates (dangerous; warned about).
    #[arg(long)]
    pub insecure_upstream: bool,
    /// Also redact this request or response header's value in the HAR; repeatable.
    #[arg(long = "redact-header", value_name = "NAME")]
    pub redact_header: Vec<String>,
    /// Do not redact Authorization, Proxy-Authorization and Cookie by default.
    #[arg(long)]
    pub no_default_redact: bool,
    /// Largest request or response body recorded, in bytes.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    pub max_body: usize,
    /// Add to the HAR's existing entries instead of replacing them.
    #[arg(long)]
    pub append: bool,
    /// Seconds to wait for an upstream's response head.
    #[arg(long, default_value_t = 60)]
    pub upstream_timeout: u64,
}

pub async fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    let globs = UrlGlobs::new(&args.urls).map_err(bad_input)?;
    let storage = Storage::for_path(&args.har, args.content == ContentArg::Attach);
    har::check_writable(&args.har)
        .map_err(bad_input)
        .context("cannot write the --har file")?;
    // A recording that was killed left a journal: fold it in, then carry on from there.
    let recovered = journal::recover(&args.har)
        .map_err(bad_input)
        .context("recovering an interrupted recording")?;
    if let Some(n) = recovered {
        say(format!(
            "recovered {n} exchange(s) from an interrupted recording into {}; this recording adds to them",
            args.har.display()
        ));
    }
    let base = if (args.append || recovered.is_some()) && args.har.exists() {
        har::read_har_file(&args.har)
            .and_then(|file| file.into_embedded())
            .map_err(bad_input)
            .context("reading the HAR to append to")?
            .log
            .entries
    } else {
        Vec::new()
    };
    let appending = !base.is_empty();

    let mut redact: Vec<String> = if args.no_default_redact {
        Vec::new()
    } else {
        DEFAULT_REDACT.iter().map(|h| h.to_string()).collect()
    };
    redact.extend(args.redact_header.iter().map(|h| h.to_ascii_lowercase()));
    let options = RecordOptions {
        globs,
        entry: EntryOptions {
            mode: match args.mode {
                ModeArg::Full => Mode::Full,
                ModeArg::Minimal => Mode::Minimal,
            },
            content: match args.content {
                ContentArg::Omit => ContentPolicy::Omit,
                _ => ContentPolicy::Embed,
            },
            redact,
            ..EntryOptions::default()
        },
        max_body: args.max_body,
    };

    let ca = super::ca::load_ca(&args.listen.ca_dir)?;
    if ca.was_created() {
        tracing::info!(
            "created a new CA: {} (run `harp ca` for how to trust it)",
            ca.cert_path().display()
        );
    }
    let tls = Arc::new(LeafIssuer::new(Arc::new(ca)).context("preparing TLS interception")?);
    if args.insecure_upstream {
        tracing::warn!("--insecure-upstream: upstream certificates are NOT verified; anyone on the path can read and change this traffic");
    }
    let upstream = Upstream::new(&UpstreamConfig {
        extra_ca_files: args.upstream_ca.clone(),
        insecure: args.insecure_upstream,
        response_timeout: Duration::from_secs(args.upstream_timeout),
        ..UpstreamConfig::default()
    })
    .map_err(bad_input)?;

    let listener = tokio::net::TcpListener::bind(&args.listen.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen.listen))?;
    let addr = listener.local_addr()?;
    let journal =
        Journal::create(&args.har, storage, appending).context("starting the recording journal")?;
    let shutdown = shutdown_signal().context("installing signal handlers")?;
    let recorder = Arc::new(
        Recorder::new(options)
            .with_entries(base)
            .with_journal(journal),
    );
    say(format!(
        "harp record: listening on http://{addr} (recording to {})",
        args.har.display()
    ));

    proxy::serve(
        listener,
        recorder.clone(),
        upstream,
        tls,
        ProxyConfig::default(),
        shutdown,
    )
    .await?;

    let har = recorder.to_har();
    let count = har.log.entries.len();
    har::save(&args.har, &har, storage)
        .context("writing the HAR (the journal beside it keeps every exchange)")?;
    if let Some(journal) = recorder.take_journal() {
        journal.remove()?;
    }
    say(format!(
        "recorded {count} exchange(s) to {}",
        args.har.display()
    ));
    Ok(ExitCode::SUCCESS)
}
