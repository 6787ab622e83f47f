//! `harp noise A.har B.har`: what differs between two recordings of the same session,
//! printed as rules ready to paste into `harp.toml` or onto the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use harp::har;
use harp::rules::noise::{noise, Finding};

use super::{bad_input, say};

/// Arguments of `harp noise`.
#[derive(Debug, clap::Args)]
pub(super) struct NoiseArgs {
    /// The first recording (.har, .zhar, .zip).
    pub first: PathBuf,
    /// The second recording of the same session.
    pub second: PathBuf,
    /// Print the findings as JSON instead.
    #[arg(long)]
    pub json: bool,
}

fn quoted(list: &[String]) -> String {
    list.iter()
        .map(|s| serde_json::Value::from(s.as_str()).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn section(title: &str, findings: &[Finding]) {
    if findings.is_empty() {
        return;
    }
    say(format!("{title}:"));
    for f in findings {
        say(format!(
            "  {}  in {} pair(s), e.g. {}",
            f.name, f.pairs, f.example
        ));
    }
}

pub(super) fn run(args: NoiseArgs) -> anyhow::Result<ExitCode> {
    let first = har::read_har_file(&args.first).map_err(bad_input)?;
    let second = har::read_har_file(&args.second).map_err(bad_input)?;
    let found = noise(&first, &second).map_err(bad_input)?;
    if args.json {
        say(serde_json::to_string_pretty(&found)?);
        return Ok(ExitCode::SUCCESS);
    }
    say(format!(
        "compared {} pair(s) of entries ({} request(s) only in {}, {} only in {})",
        found.pairs,
        found.only_in_first.len(),
        args.first.display(),
        found.only_in_second.len(),
        args.second.display()
    ));
    section("query parameters that differ", &found.query);
    section("request headers that differ", &found.headers);
    section("request JSON fields that differ", &found.json);
    for line in &found.other_bodies {
        say(format!("  {line}"));
    }
    let rules = found.rules();
    if rules.is_empty() {
        say("no differences a rule could ignore: the recordings match as they are");
        return Ok(ExitCode::SUCCESS);
    }
    let m = &rules.matching;
    say("");
    say("# harp.toml (beside the HAR)");
    say("[match]");
    for (key, list) in [
        ("ignore-query", &m.ignore_query),
        ("ignore-header", &m.ignore_header),
        ("ignore-json", &m.ignore_json),
    ] {
        if !list.is_empty() {
            say(format!("{key} = [{}]", quoted(list)));
        }
    }
    say("");
    say("# or as flags");
    let mut flags: Vec<String> = Vec::new();
    flags.extend(m.ignore_query.iter().map(|q| format!("--ignore-query {q}")));
    flags.extend(
        m.ignore_header
            .iter()
            .map(|h| format!("--ignore-header {h}")),
    );
    flags.extend(m.ignore_json.iter().map(|j| format!("--ignore-json '{j}'")));
    say(flags.join(" "));
    Ok(ExitCode::SUCCESS)
}
