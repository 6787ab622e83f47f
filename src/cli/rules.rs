//! The matching-rule flags every command shares, merged with the `harp.toml` beside the
//! HAR or collection.

use std::path::Path;

use harp::rules::{self, RuleSpec, Rules};

use super::bad_input;

/// Matching rules (also read from harp.toml beside the HAR: [match] and [redact]).
#[derive(Debug, Clone, Default, clap::Args)]
pub(super) struct RuleArgs {
    /// Leave this query parameter out of URL matching (globs: utm_*); repeatable or comma-separated.
    #[arg(long = "ignore-query", value_name = "NAME", value_delimiter = ',')]
    pub ignore_query: Vec<String>,
    /// Leave this header out of the header tiebreak and of mock header matching; repeatable.
    #[arg(long = "ignore-header", value_name = "NAME", value_delimiter = ',')]
    pub ignore_header: Vec<String>,
    /// Leave this JSON field out of body matching ($.a.b[*].c or /a/b); repeatable.
    #[arg(long = "ignore-json", value_name = "PATH")]
    pub ignore_json: Vec<String>,
    /// Record this query parameter's value as [REDACTED] (and never match on it); repeatable.
    #[arg(long = "redact-query", value_name = "NAME", value_delimiter = ',')]
    pub redact_query: Vec<String>,
    /// Record this JSON field's value as [REDACTED] in request and response bodies (and never match on it); repeatable.
    #[arg(long = "redact-json", value_name = "PATH")]
    pub redact_json: Vec<String>,
    /// Do not read harp.toml beside the HAR or collection.
    #[arg(long)]
    pub no_rules_file: bool,
}

/// The compiled rules, and a line saying where file rules came from (if any).
pub(super) struct Loaded {
    pub rules: Rules,
    pub note: Option<String>,
}

impl RuleArgs {
    /// The flags' rules plus `redact_header` (from `--redact-header`).
    fn spec(&self, redact_header: &[String]) -> RuleSpec {
        let mut spec = RuleSpec::default();
        spec.matching.ignore_query = self.ignore_query.clone();
        spec.matching.ignore_header = self.ignore_header.clone();
        spec.matching.ignore_json = self.ignore_json.clone();
        spec.redact.query = self.redact_query.clone();
        spec.redact.json = self.redact_json.clone();
        spec.redact.header = redact_header.to_vec();
        spec
    }

    /// The flags merged with `harp.toml` beside `path` (unless `--no-rules-file`),
    /// compiled; a bad rule is bad input naming the file or flag.
    pub(super) fn load(&self, path: &Path, redact_header: &[String]) -> anyhow::Result<Loaded> {
        let mut spec = self.spec(redact_header);
        let mut note = None;
        if !self.no_rules_file {
            if let Some((file, from_file)) = rules::load_beside(path).map_err(bad_input)? {
                if !from_file.is_empty() {
                    note = Some(format!("matching rules from {}", file.display()));
                }
                spec.merge(&from_file);
            }
        }
        let rules = Rules::compile(&spec).map_err(bad_input)?;
        Ok(Loaded { rules, note })
    }
}
