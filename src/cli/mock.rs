//! `harp mock`: serve a Postman collection's examples (or a HAR's entries) with
//! Postman's matching algorithm, as a plain server and as a proxy.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use harp::collection::{self, Mock, MockOptions, Variables};

use super::rules::RuleArgs;
use super::{bad_input, say, serve_proxy, ListenArgs, UpstreamArgs};

/// Arguments of `harp mock`.
#[derive(Debug, clap::Args)]
pub(super) struct MockArgs {
    /// A Postman collection (v2.0/v2.1) or a HAR (.har, .zhar, .zip).
    pub path: PathBuf,
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Private mock: answer 401 unless x-api-key carries this key.
    #[arg(long, env = "HARP_MOCK_API_KEY")]
    pub api_key: Option<String>,
    /// Delay every response by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub delay: u64,
    /// When answers go out: none, recorded (a converted HAR entry's wait and pace; a
    /// Postman example has none), scale=F, fixed=MS[,jitter=MS].
    #[arg(long, default_value = "none", value_name = "MODE")]
    pub latency: harp::pacing::Latency,
    /// Drop examples whose request body differs (like x-mock-match-request-body: true).
    #[arg(long)]
    pub match_body: bool,
    /// Drop examples whose value of these headers differs (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    pub match_headers: Vec<String>,
    /// A Postman environment file whose values resolve {{variables}} in the examples.
    #[arg(long)]
    pub env: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RuleArgs,
}

pub(super) async fn run(args: MockArgs) -> anyhow::Result<ExitCode> {
    let mock = Arc::new(load(&args)?);
    let what = describe(&mock, &args.path);
    let watcher = tokio::spawn(watch(mock.clone()));
    // A mock never forwards; the upstream client is only part of the proxy's shape.
    let upstream = UpstreamArgs {
        upstream_ca: Vec::new(),
        insecure_upstream: false,
        upstream_timeout: 60,
        upstream_proxy: None,
    };
    serve_proxy(mock.clone(), &args.listen, &upstream, "harp mock", &what).await?;
    watcher.abort();
    let (served, not_found, unauthorized) = mock.summary();
    let mut line = format!(
        "served {served} from {}, not found {not_found}",
        args.path.display()
    );
    if unauthorized > 0 {
        line.push_str(&format!(", unauthorized {unauthorized}"));
    }
    say(line);
    Ok(ExitCode::SUCCESS)
}

/// The mock of `args.path` with its environment, rules and options.
fn load(args: &MockArgs) -> anyhow::Result<Mock> {
    let env = match &args.env {
        Some(path) => collection::load_env(path).map_err(bad_input)?,
        None => Variables::default(),
    };
    if args.api_key.as_deref() == Some("") {
        return Err(bad_input(anyhow::anyhow!(
            "--api-key is empty: give the key a private mock requires, or leave the flag out for a public mock"
        )));
    }
    let loaded = args.rules.load(&args.path, &[])?;
    if let Some(note) = &loaded.note {
        say(note);
    }
    let options = MockOptions {
        api_key: args.api_key.clone(),
        delay: Duration::from_millis(args.delay),
        latency: args.latency,
        matching: collection::matcher::MatchOptions {
            match_body: args.match_body,
            match_headers: args
                .match_headers
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            rules: Arc::new(loaded.rules),
        },
    };
    Mock::load(&args.path, env, options).map_err(bad_input)
}

/// `N examples from PATH` (and how many malformed ones were dropped, each logged).
fn describe(mock: &Mock, path: &std::path::Path) -> String {
    let examples = mock.examples();
    for why in &examples.dropped {
        tracing::warn!("dropped a malformed example: {why}");
    }
    format!(
        "{} examples from {}{}",
        examples.examples.len(),
        path.display(),
        if examples.dropped.is_empty() {
            String::new()
        } else {
            format!(", {} malformed dropped", examples.dropped.len())
        }
    )
}

/// Hot reload: looks at the file twice a second, loading off the async workers so a big
/// or strange file never holds up serving or shutdown.
async fn watch(mock: Arc<Mock>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let m = mock.clone();
        let reloaded = tokio::task::spawn_blocking(move || m.reload_if_changed()).await;
        match reloaded.ok().flatten() {
            Some(Ok(n)) => tracing::info!("reloaded: {n} examples"),
            Some(Err(why)) => {
                tracing::warn!("not reloaded, still serving the previous examples: {why}")
            }
            None => {}
        }
    }
}
