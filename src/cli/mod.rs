//! Command-line definitions (clap) and one module per command that wires library parts
//! together. Only this layer reads the environment, prints, and chooses exit codes.

mod ca;
mod check;
mod record;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Create the local CA if missing; print where it is and how to trust it.
    Ca(ca::CaArgs),
    /// Read HAR files as replay would (folding in an interrupted recording) and report.
    Check(check::CheckArgs),
}

/// Flags every proxy command shares.
#[derive(Debug, clap::Args)]
pub struct ListenArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Folder of the CA (ca.pem, ca-key.pem).
    #[arg(long, env = "HARP_CA_DIR", default_value = "certs")]
    pub ca_dir: PathBuf,
}

/// An error caused by what the user gave (flags, files): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BadInput(#[from] pub anyhow::Error);

/// Wraps an error as bad input (exit code 2).
pub fn bad_input(err: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(BadInput(err.into()))
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
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
            Command::Ca(args) => ca::run(args),
            Command::Check(args) => check::run(args),
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
            eprintln!("harp: {err:#}");
            ExitCode::from(code)
        }
    }
}

fn init_logging() {
    let filter = std::env::var("HARP_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "harp=info".to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Prints a line to stdout and flushes it (scripts wait for these lines).
pub fn say(line: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Installs the SIGINT and SIGTERM handlers now (so a signal that arrives right after
/// the listening line is not fatal) and returns a future that completes on either.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
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
