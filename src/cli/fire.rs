//! `harp fire SOURCE --item NAME|--entry N --to URL`: send one saved request (a webhook
//! payload) to the application, optionally signed, retried with backoff; exit 0 when the
//! receiver accepted it (2xx), 1 when it refused or never accepted, 2 on bad input.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use http::{HeaderName, Uri};

use harp::collection::request::item_request;
use harp::collection::{self, Variables};
use harp::fire::{deliver, Outcome, Payload, Policy, Scheme, Signing};
use harp::har;

use super::{bad_input, say, upstream_client, UpstreamArgs};

/// A signing preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum SignArg {
    /// `X-Signature: <hex HMAC-SHA256 of the body>`.
    #[value(name = "hmac-sha256")]
    HmacSha256,
    /// GitHub's `X-Hub-Signature-256: sha256=<hex>`.
    Github,
    /// Stripe's `Stripe-Signature: t=<time>,v1=<hex of HMAC("<time>.<body>")>`.
    Stripe,
}

/// Arguments of `harp fire`.
#[derive(Debug, clap::Args)]
pub(super) struct FireArgs {
    /// A Postman collection, or a HAR (.har, .zhar, .zip).
    pub source: PathBuf,
    /// The collection item to send: its name, or its `Folder/Item` path.
    #[arg(long, conflicts_with = "entry", required_unless_present = "entry")]
    pub item: Option<String>,
    /// The HAR entry to send (numbered from 0, as `harp check` and the inspector do).
    #[arg(long)]
    pub entry: Option<usize>,
    /// Where to send it: the application's handler (http:// or https://).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// A Postman environment whose values resolve `{{variables}}`.
    #[arg(long)]
    pub env: Option<PathBuf>,
    /// A variable, over the collection's and the environment's; repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// A header to add or replace; repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Sign the body: hmac-sha256, github or stripe.
    #[arg(long, value_enum, value_name = "SCHEME")]
    pub sign: Option<SignArg>,
    /// The environment variable that holds the signing secret (never the secret itself
    /// on the command line).
    #[arg(long, value_name = "VAR", requires = "sign")]
    pub secret_env: Option<String>,
    /// The header the signature goes in (default: the scheme's own).
    #[arg(long, value_name = "NAME", requires = "sign")]
    pub signature_header: Option<String>,
    /// Attempts in all before giving up.
    #[arg(long, default_value_t = 5)]
    pub attempts: u32,
    /// Milliseconds to wait after the first failed attempt (doubled after each one).
    #[arg(long, default_value_t = 500)]
    pub backoff_ms: u64,
    /// The longest wait between attempts, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub max_backoff_ms: u64,
    #[command(flatten)]
    pub upstream: UpstreamArgs,
}

pub(super) async fn run(args: FireArgs) -> anyhow::Result<ExitCode> {
    let to: Uri = args
        .to
        .parse()
        .ok()
        .filter(|u: &Uri| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
        .ok_or_else(|| {
            bad_input(anyhow!(
                "--to {:?} is not an http:// or https:// URL",
                args.to
            ))
        })?;
    let mut payload = load(&args)?;
    add_headers(&mut payload, &args.headers)?;
    let signing = signing(&args)?;
    let upstream = upstream_client(&args.upstream)?;
    let policy = Policy {
        attempts: args.attempts.max(1),
        backoff: Duration::from_millis(args.backoff_ms),
        max_backoff: Duration::from_millis(args.max_backoff_ms.max(args.backoff_ms)),
    };
    say(format!(
        "harp fire: {} → {} {to}{}",
        payload.origin,
        payload.method,
        signing
            .as_ref()
            .map(|s| format!(" (signed, {})", s.header))
            .unwrap_or_default()
    ));
    let delivery = deliver(&upstream, &payload, &to, signing.as_ref(), policy).await;
    for (i, attempt) in delivery.attempts.iter().enumerate() {
        let took = attempt.took.as_millis();
        match &attempt.answer {
            Ok((status, _)) => eprintln!("attempt {}: {status} ({took} ms)", i + 1),
            Err(why) => eprintln!("attempt {}: {why} ({took} ms)", i + 1),
        }
    }
    if let Some(Ok((_, body))) = delivery.attempts.last().map(|a| &a.answer) {
        let text = String::from_utf8_lossy(body);
        if !text.is_empty() {
            say(text);
        }
    }
    let attempts = delivery.attempts.len();
    Ok(match delivery.outcome {
        Outcome::Accepted => {
            eprintln!("harp fire: accepted after {attempts} attempt(s)");
            ExitCode::SUCCESS
        }
        Outcome::Refused => {
            eprintln!("harp fire: refused (a status retrying will not change); not retried");
            ExitCode::from(1)
        }
        Outcome::GaveUp => {
            eprintln!("harp fire: never accepted in {attempts} attempt(s)");
            ExitCode::from(1)
        }
    })
}

/// The payload: a HAR entry, or a collection item with its variables.
fn load(args: &FireArgs) -> anyhow::Result<Payload> {
    if let Some(index) = args.entry {
        if !collection::is_har_path(&args.source) {
            return Err(bad_input(anyhow!(
                "--entry names a HAR entry, but {} is not a HAR (.har, .zhar, .zip); use --item for a collection",
                args.source.display()
            )));
        }
        let file = har::read_har_file(&args.source).map_err(bad_input)?;
        return Payload::from_entry(&file, index).map_err(bad_input);
    }
    let name = args.item.as_deref().unwrap_or_default();
    let mut vars = match &args.env {
        Some(path) => collection::load_env(path).map_err(bad_input)?,
        None => Variables::default(),
    };
    for pair in &args.vars {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| bad_input(anyhow!("--var {pair:?} is not NAME=VALUE")))?;
        vars.set(k.trim(), v);
    }
    let doc = collection::read_collection(&args.source).map_err(bad_input)?;
    let item = item_request(&doc, name, &vars)
        .map_err(bad_input)
        .with_context(|| args.source.display().to_string())?;
    Payload::from_item(item).map_err(bad_input)
}

/// `-H NAME: VALUE` over the saved headers.
fn add_headers(payload: &mut Payload, headers: &[String]) -> anyhow::Result<()> {
    for h in headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| bad_input(anyhow!("--header {h:?} is not NAME: VALUE")))?;
        let name = name.trim();
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad_input(anyhow!("--header {h:?}: {name:?} is not a header name")))?;
        payload
            .headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        payload
            .headers
            .push((name.to_string(), value.trim().to_string()));
    }
    Ok(())
}

/// `--sign` with its secret (read from `--secret-env`) and header.
fn signing(args: &FireArgs) -> anyhow::Result<Option<Signing>> {
    let Some(sign) = args.sign else {
        return Ok(None);
    };
    let scheme = match sign {
        SignArg::HmacSha256 => Scheme::HmacSha256,
        SignArg::Github => Scheme::GitHub,
        SignArg::Stripe => Scheme::Stripe,
    };
    let var = args.secret_env.as_deref().ok_or_else(|| {
        bad_input(anyhow!(
            "--sign needs --secret-env VAR: the environment variable that holds the secret"
        ))
    })?;
    let secret = std::env::var(var)
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_input(anyhow!("--secret-env {var}: {var} is not set (or empty)")))?;
    let header = args
        .signature_header
        .as_deref()
        .unwrap_or(scheme.default_header());
    let header = HeaderName::from_bytes(header.trim().as_bytes()).map_err(|_| {
        bad_input(anyhow!(
            "--signature-header {header:?} is not a header name"
        ))
    })?;
    Ok(Some(Signing {
        scheme,
        secret: secret.into_bytes(),
        header,
    }))
}
