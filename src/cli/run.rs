//! `harp run`: replay (or with `--update`, record) around one command. The proxy runs on
//! a free port; the command gets the proxy variables and a CA bundle that trusts harp;
//! harp exits with the command's status, or non-zero when replay met unmatched requests.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use harp::ca::trust;
use harp::proxy;
use harp::rules::diff::Diff;

use super::record::{Existing, RecordFlags, RecordSession};
use super::replay::{ReplayFlags, ReplaySession};
use super::rules::RuleArgs;
use super::{bind, proxy_parts, shutdown_signal, UpstreamArgs};

/// Arguments of `harp run`.
#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {
    /// The HAR to replay from (or to record into with --update).
    #[arg(long)]
    pub har: PathBuf,
    /// Record instead of replaying (Playwright's `update: true`).
    #[arg(long)]
    pub update: bool,
    /// With --update, write the HAR even when the command fails (by default a failed
    /// command leaves the HAR as it was).
    #[arg(long, requires = "update")]
    pub update_always: bool,
    /// Only URLs matching this glob are recorded or served from the HAR; repeatable.
    #[arg(long = "url", value_name = "GLOB")]
    pub urls: Vec<String>,
    #[command(flatten)]
    pub replay: ReplayFlags,
    #[command(flatten)]
    pub record: RecordFlags,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
    /// Address of the proxy (a free port by default).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Folder of the CA (ca.pem, ca-key.pem).
    #[arg(long, env = "HARP_CA_DIR", default_value = "certs")]
    pub ca_dir: PathBuf,
    #[command(flatten)]
    pub limits: super::LimitArgs,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

enum Session {
    Record(RecordSession),
    Replay(ReplaySession),
}

pub(super) async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let session = Session::prepare(&args)?;
    session.notes().iter().for_each(|n| eprintln!("{n}"));
    let (tls, upstream) = proxy_parts(&args.ca_dir, &args.upstream)?;
    let trust = Trust::write(&args.ca_dir, tls.ca().cert_pem(), tls.ca().cert_path())?;
    let listener = bind(&args.listen).await?;
    let proxy_url = format!("http://{}", listener.local_addr()?);
    // harp's own lines go to stderr here: stdout belongs to the command.
    eprintln!(
        "harp run: listening on {proxy_url} ({} {})",
        if args.update {
            "recording to"
        } else {
            "replaying"
        },
        args.har.display()
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async {
        let _ = stop_rx.await;
    };
    let config = args.limits.config();
    let server = match &session {
        Session::Record(s) => tokio::spawn(proxy::serve(
            listener,
            s.recorder.clone(),
            upstream,
            tls,
            config,
            stop,
        )),
        Session::Replay(s) => tokio::spawn(proxy::serve(
            listener,
            s.replayer.clone(),
            upstream,
            tls,
            config,
            stop,
        )),
    };
    let status = run_command(&args.command, &proxy_url, &trust).await?;
    let _ = stop_tx.send(());
    server.await.context("the proxy task failed")??;
    let code = status.code().map_or(1, |c| c.clamp(0, 255) as u8);
    let keep = code == 0 || args.update_always;
    let failed = finish(&session, &args.har, keep, code)?;
    Ok(ExitCode::from(if code == 0 && failed { 1 } else { code }))
}

impl Session {
    /// The recording (`--update`) or replay session, checked before anything listens.
    fn prepare(args: &RunArgs) -> anyhow::Result<Self> {
        if !args.update {
            return Ok(Session::Replay(ReplaySession::prepare(
                &args.har,
                &args.urls,
                &args.replay,
                &args.record,
                &args.rules,
            )?));
        }
        if args.replay.report.is_some() {
            eprintln!(
                "harp run: --report describes a replay; with --update nothing is written there"
            );
        }
        Ok(Session::Record(RecordSession::prepare(
            &args.har,
            &args.urls,
            &args.record,
            &args.rules,
            Existing::Replace,
        )?))
    }

    /// What to tell the user before traffic starts.
    fn notes(&self) -> &[String] {
        match self {
            Session::Record(s) => &s.notes,
            Session::Replay(s) => &s.notes,
        }
    }
}

/// Runs the command to its end. harp outlives a Ctrl-C aimed at the command: the command
/// decides when it is done.
async fn run_command(
    argv: &[String],
    proxy_url: &str,
    trust: &Trust,
) -> anyhow::Result<std::process::ExitStatus> {
    let signals = shutdown_signal().context("installing signal handlers")?;
    tokio::spawn(async move {
        signals.await;
        tracing::info!("signal received; waiting for the command to exit");
    });
    command_for(argv, proxy_url, trust)
        .status()
        .await
        .map_err(super::bad_input)
        .with_context(|| format!("cannot run {:?}", argv[0]))
}

/// What makes the command trust harp's CA: files written into the CA folder.
struct Trust {
    /// System roots plus harp's CA, for OpenSSL-style variables.
    bundle: PathBuf,
    /// harp's CA alone, for Node's extra certificates.
    ca_pem: PathBuf,
    /// The same roots as a PKCS#12 truststore, for Java.
    truststore: PathBuf,
    /// A wget configuration: the user's own plus `ca_certificate`.
    wgetrc: PathBuf,
}

impl Trust {
    /// Writes `bundle.pem`, `truststore.p12` and `wgetrc` into `ca_dir`.
    fn write(ca_dir: &Path, ca_pem: &str, ca_path: &Path) -> anyhow::Result<Self> {
        let write = |name: &str, bytes: &[u8]| -> anyhow::Result<PathBuf> {
            let path = ca_dir.join(name);
            harp::output::write_atomic(&path, bytes, None)
                .with_context(|| format!("writing {} for the command", path.display()))?;
            Ok(absolute(&path))
        };
        let bundle_text = trust::bundle_with(ca_pem);
        let bundle = write("bundle.pem", bundle_text.as_bytes())?;
        let truststore = write("truststore.p12", &trust::truststore(&bundle_text)?)?;
        let mut wgetrc = user_wgetrc();
        wgetrc.push_str(&format!(
            "\n# harp run: trust harp's CA\nca_certificate = {}\n",
            bundle.display()
        ));
        let wgetrc = write("wgetrc", wgetrc.as_bytes())?;
        Ok(Self {
            bundle,
            ca_pem: absolute(ca_path),
            truststore,
            wgetrc,
        })
    }
}

/// The wget configuration the user has (`WGETRC`, else `~/.wgetrc`), to extend.
fn user_wgetrc() -> String {
    let path = std::env::var_os("WGETRC")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".wgetrc")));
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}

/// Variables that name a CA bundle file, each set to the bundle (system roots plus
/// harp's CA): OpenSSL, Python requests and pip, curl, git, AWS SDKs and CLI, gRPC
/// core, httplib2, cargo, Deno and Nix.
const BUNDLE_VARIABLES: &[&str] = &[
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "PIP_CERT",
    "AWS_CA_BUNDLE",
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
    "HTTPLIB2_CA_CERTS",
    "CARGO_HTTP_CAINFO",
    "DENO_CERT",
    "NIX_SSL_CERT_FILE",
];

/// COMMAND with the proxy variables set, loopback taken out of `NO_PROXY`, and harp's
/// CA trusted by the common stacks.
fn command_for(argv: &[String], proxy_url: &str, trust: &Trust) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(&argv[0]);
    command.args(&argv[1..]);
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env(var, proxy_url);
    }
    command.env("HARP_PROXY", proxy_url);
    let no_proxy = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .map(|v| without_loopback(&v))
        .unwrap_or_default();
    for var in ["NO_PROXY", "no_proxy"] {
        if no_proxy.is_empty() {
            command.env_remove(var);
        } else {
            command.env(var, &no_proxy);
        }
    }
    for var in BUNDLE_VARIABLES {
        command.env(var, &trust.bundle);
    }
    command.env("NODE_EXTRA_CA_CERTS", &trust.ca_pem);
    // Node 24 and later: the built-in fetch and http honour HTTP(S)_PROXY with this.
    command.env("NODE_USE_ENV_PROXY", "1");
    command.env("WGETRC", &trust.wgetrc);
    if let Some(options) = java_options(proxy_url, &no_proxy, &trust.truststore) {
        command.env("JAVA_TOOL_OPTIONS", options);
    }
    command
}

/// `JAVA_TOOL_OPTIONS`: the user's own, then the proxy properties and harp's
/// truststore. None when the truststore path holds whitespace (the JVM splits the
/// variable on it); harp warns then.
fn java_options(proxy_url: &str, no_proxy: &str, truststore: &Path) -> Option<String> {
    let store = truststore.display().to_string();
    if store.contains(char::is_whitespace) {
        tracing::warn!(
            "Java is not set up: the truststore path {store:?} holds a space, which JAVA_TOOL_OPTIONS cannot carry"
        );
        return None;
    }
    let authority = proxy_url.trim_start_matches("http://");
    let (host, port) = authority.rsplit_once(':')?;
    // Java's own list, `|`-separated with `*` wildcards; empty keeps loopback proxied.
    let non_proxy: Vec<String> = no_proxy
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| match h.strip_prefix('.') {
            Some(domain) => format!("*.{domain}"),
            None => h.to_string(),
        })
        .collect();
    let mut options = std::env::var("JAVA_TOOL_OPTIONS").unwrap_or_default();
    for (name, value) in [
        ("http.proxyHost", host),
        ("http.proxyPort", port),
        ("https.proxyHost", host),
        ("https.proxyPort", port),
        ("http.nonProxyHosts", &non_proxy.join("|")),
        ("javax.net.ssl.trustStore", &store),
        ("javax.net.ssl.trustStoreType", "PKCS12"),
        (
            "javax.net.ssl.trustStorePassword",
            trust::TRUSTSTORE_PASSWORD,
        ),
    ] {
        if !options.is_empty() {
            options.push(' ');
        }
        options.push_str(&format!("-D{name}={value}"));
    }
    Some(options)
}

/// Writes what the session recorded (when `keep`: the command exited 0, or
/// `--update-always`) and prints its summary (to stderr: stdout belongs to the command);
/// true when the session failed on its own account (upstream failures while recording,
/// unmatched requests in replay).
fn finish(session: &Session, har: &Path, keep: bool, code: u8) -> anyhow::Result<bool> {
    match session {
        Session::Record(s) if !keep => {
            let lost = s.discard()?;
            eprintln!(
                "harp run: the command exited with {code}; {} is left as it was ({lost} exchange(s) not saved; --update-always keeps them)",
                har.display()
            );
            Ok(false)
        }
        Session::Record(s) => {
            let saved = s.commit()?;
            eprintln!("recorded {} exchange(s) to {}", saved.count, har.display());
            print_list(
                &format!(
                    "harp run: dropped {} failed attempt(s) that were retried:",
                    saved.retries.len()
                ),
                &saved.retries,
            );
            if let Some(changes) = &saved.changes {
                print_changes(changes);
            }
            print_list(
                &format!(
                    "harp run: {} exchange(s) failed upstream and were recorded as failed:",
                    saved.failures.len()
                ),
                &saved.failures,
            );
            Ok(!saved.failures.is_empty())
        }
        Session::Replay(s) => {
            let finished = s.finish()?;
            finished.lines.iter().for_each(|l| eprintln!("{l}"));
            let failed = finished.failed();
            if failed {
                eprintln!(
                    "harp run: failing: replay met unmatched requests, --unused fail found unused entries, or --max-age AGE:fail found old entries (listed above)"
                );
            }
            Ok(failed)
        }
    }
}

/// Lines a summary lists before saying "and N more".
const LISTED: usize = 10;

/// `title` and the first [`LISTED`] of `lines`; nothing when there are none.
fn print_list(title: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    eprintln!("{title}");
    lines.iter().take(LISTED).for_each(|l| eprintln!("  {l}"));
    if lines.len() > LISTED {
        eprintln!("  and {} more", lines.len() - LISTED);
    }
}

/// What the new HAR changed against the one it replaced.
fn print_changes(changes: &Diff) {
    if changes.is_same() {
        eprintln!("harp run: no change against the previous HAR");
        return;
    }
    let mut lines: Vec<String> = changes
        .only_in_second
        .iter()
        .map(|r| format!("+ {r}"))
        .collect();
    lines.extend(changes.only_in_first.iter().map(|r| format!("- {r}")));
    lines.extend(changes.changed.iter().map(|c| {
        let first = c.changes.first().map(String::as_str).unwrap_or_default();
        let more = match c.changes.len() {
            0 | 1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        format!("~ {}: {first}{more}", c.request)
    }));
    print_list(
        &format!(
            "harp run: against the previous HAR: {} added, {} removed, {} changed",
            changes.only_in_second.len(),
            changes.only_in_first.len(),
            changes.changed.len()
        ),
        &lines,
    );
}

/// `NO_PROXY` without loopback names, so local origins go through harp too.
fn without_loopback(value: &str) -> String {
    value
        .split(',')
        .map(str::trim)
        .filter(|h| {
            let h = h.trim_start_matches('.').to_ascii_lowercase();
            !(h.is_empty()
                || h == "localhost"
                || h.ends_with(".localhost")
                || h.starts_with("127.")
                || h == "::1"
                || h == "[::1]")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_loses_loopback_only() {
        assert_eq!(
            without_loopback("localhost,127.0.0.1,example.com,.internal,::1,[::1],foo.localhost"),
            "example.com,.internal"
        );
        assert_eq!(without_loopback("localhost"), "");
    }
}
