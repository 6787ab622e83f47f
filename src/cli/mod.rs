//! Command-line definitions (clap) and one module per command that wires library parts
//! together. Only this layer reads the environment, prints, and chooses exit codes.

mod ca;
mod check;
mod convert;
mod diff;
mod fire;
mod mock;
mod noise;
mod nss;
mod prune;
mod record;
mod replay;
mod rules;
mod run;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use harp::ca::LeafIssuer;
use harp::proxy::{self, Handler, ProxyConfig, Upstream, UpstreamConfig, UpstreamProxy};

/// harp: record HTTP(S) traffic into HAR files, replay it offline, mock APIs.
#[derive(Debug, Parser)]
#[command(name = "harp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a recording proxy: forward every request and write matching exchanges to a HAR.
    Record(record::RecordArgs),
    /// Run a replaying proxy: answer from a HAR with no network.
    Replay(replay::ReplayArgs),
    /// Run COMMAND with its traffic replayed from (or, with --update, recorded into) a HAR.
    Run(run::RunArgs),
    /// Convert a HAR into a Postman Collection v2.1.
    Convert(convert::ConvertArgs),
    /// Serve a Postman collection's examples (or a HAR) with Postman's mock matching.
    Mock(mock::MockArgs),
    /// Read HAR files as replay would (folding in an interrupted recording) and report.
    Check(check::CheckArgs),
    /// Create the local CA if missing; print where it is and how to trust it.
    Ca(ca::CaArgs),
    /// Compare two recordings of one session; print the rules that would make them match.
    Noise(noise::NoiseArgs),
    /// Drop the entries a replay report says were never used.
    Prune(prune::PruneArgs),
    /// What changed between two HARs, entry by entry (exit 0 same, 1 different, 2 bad input).
    Diff(diff::DiffArgs),
    /// Send a saved request (a webhook payload) to the application, signed, with retries.
    Fire(fire::FireArgs),
}

/// Where the proxy listens and where its CA lives.
#[derive(Debug, clap::Args)]
pub(crate) struct ListenArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Folder of the CA (ca.pem, ca-key.pem).
    #[arg(long, env = "HARP_CA_DIR", default_value = "certs")]
    pub ca_dir: PathBuf,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Limits and time-outs of the listening side.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LimitArgs {
    /// Most client connections served at once; more wait to be accepted.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds a client may take to send a request head (and its first byte).
    #[arg(long, default_value_t = 30)]
    pub header_timeout: u64,
    /// Seconds a raw (non-TLS, non-HTTP) CONNECT tunnel may stay silent before it is closed.
    #[arg(long, default_value_t = 300)]
    pub tunnel_idle_timeout: u64,
    /// Seconds a client may pause in the middle of sending a request body.
    #[arg(long, default_value_t = 60)]
    pub body_idle_timeout: u64,
}

impl LimitArgs {
    /// The proxy configuration these flags give.
    pub(crate) fn config(&self) -> ProxyConfig {
        ProxyConfig {
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_timeout.max(1)),
            tunnel_idle_timeout: Duration::from_secs(self.tunnel_idle_timeout.max(1)),
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout.max(1)),
            ..ProxyConfig::default()
        }
    }
}

/// How harp reaches real servers (recording, fallback, --record-missing).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct UpstreamArgs {
    /// Also trust the CA certificates in this PEM file for upstream TLS; repeatable.
    #[arg(long = "upstream-ca", value_name = "PEM")]
    pub upstream_ca: Vec<PathBuf>,
    /// Do not verify upstream certificates (dangerous; warned about).
    #[arg(long)]
    pub insecure_upstream: bool,
    /// Seconds to wait for an upstream's response head.
    #[arg(long, default_value_t = 60)]
    pub upstream_timeout: u64,
    /// Reach the network through this HTTP proxy (http://[user:pass@]host:port):
    /// CONNECT for https and raw tunnels, absolute-form for http.
    #[arg(long, env = "HARP_UPSTREAM_PROXY", value_name = "URL")]
    pub upstream_proxy: Option<String>,
}

/// An error caused by what the user gave (flags, files): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct BadInput(#[from] pub anyhow::Error);

/// Wraps an error as bad input (exit code 2).
pub(crate) fn bad_input(err: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(BadInput(err.into()))
}

/// Parses the command line and runs it.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("harp: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Record(args) => record::run(args).await,
            Command::Replay(args) => replay::run(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Check(args) => check::run(args),
            Command::Convert(args) => convert::run(args),
            Command::Mock(args) => mock::run(args).await,
            Command::Ca(args) => ca::run(args),
            Command::Noise(args) => noise::run(args),
            Command::Prune(args) => prune::run(args),
            Command::Diff(args) => diff::run(args),
            Command::Fire(args) => fire::run(args).await,
        }
    });
    // Connection tasks may still be parked on idle keep-alive sockets: don't wait for them.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(err) => {
            let code = if err.chain().any(|e| e.is::<BadInput>()) {
                2
            } else {
                1
            };
            eprintln!("harp: {}", describe(&err));
            ExitCode::from(code)
        }
    }
}

/// The error chain as one line, each cause once: library errors often display their
/// source already, and repeating it ("No such file (os error 2): No such file (os
/// error 2)") reads as two problems.
fn describe(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || parts.iter().any(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

fn init_logging() {
    use std::io::IsTerminal;
    let filter = std::env::var("HARP_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "harp=info".to_string());
    // Colour only for a person at a terminal, and never with NO_COLOR set.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .try_init();
}

/// Prints a line to stdout and flushes it (scripts wait for these lines).
pub(crate) fn say(line: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The CA-backed leaf issuer and the upstream client every proxy command needs.
/// The client harp reaches servers with: `--upstream-ca`, `--insecure-upstream` (warned
/// about), `--upstream-timeout`, `--upstream-proxy`.
pub(crate) fn upstream_client(upstream: &UpstreamArgs) -> anyhow::Result<Upstream> {
    if upstream.insecure_upstream {
        tracing::warn!("--insecure-upstream: upstream certificates are NOT verified; anyone on the path can read and change this traffic");
    }
    let proxy = upstream
        .upstream_proxy
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(UpstreamProxy::parse)
        .transpose()
        .map_err(|e| bad_input(anyhow::anyhow!("--upstream-proxy {e}")))?;
    Upstream::new(&UpstreamConfig {
        proxy,
        extra_ca_files: upstream.upstream_ca.clone(),
        insecure: upstream.insecure_upstream,
        response_timeout: Duration::from_secs(upstream.upstream_timeout),
        ..UpstreamConfig::default()
    })
    .map_err(bad_input)
}

pub(crate) fn proxy_parts(
    ca_dir: &std::path::Path,
    upstream: &UpstreamArgs,
) -> anyhow::Result<(Arc<LeafIssuer>, Upstream)> {
    let ca = ca::load_ca(ca_dir)?;
    if ca.was_created() {
        tracing::info!(
            "created a new CA: {} (run `harp ca` for how to trust it)",
            ca.cert_path().display()
        );
    }
    let tls = Arc::new(LeafIssuer::new(Arc::new(ca)).context("preparing TLS interception")?);
    let client = upstream_client(upstream)?;
    Ok((tls, client))
}

/// Serves `handler` on `listen` until SIGINT or SIGTERM: loads the CA and the upstream
/// client, binds, installs the signal handlers, prints `{label}: listening on
/// http://ADDR ({what})`, then lets in-flight exchanges finish.
pub(crate) async fn serve_proxy<H: Handler>(
    handler: Arc<H>,
    listen: &ListenArgs,
    upstream: &UpstreamArgs,
    label: &str,
    what: &str,
) -> anyhow::Result<()> {
    let (tls, client) = proxy_parts(&listen.ca_dir, upstream)?;
    let listener = bind(&listen.listen).await?;
    let addr = listener.local_addr()?;
    let shutdown = shutdown_signal().context("installing signal handlers")?;
    say(format!("{label}: listening on http://{addr} ({what})"));
    proxy::serve(
        listener,
        handler,
        client,
        tls,
        listen.limits.config(),
        shutdown,
    )
    .await?;
    Ok(())
}

/// Binds `addr` (port 0 picks one).
pub(crate) async fn bind(addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (another process may use that port: pick another with --listen, or --listen 127.0.0.1:0 for a free one)")
    })
}

/// Installs the SIGINT and SIGTERM handlers now (so a signal that arrives right after
/// the listening line is not fatal) and returns a future that completes on either.
pub(crate) fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
