//! Matching rules: one set, written as data (command-line flags and a `harp.toml` beside
//! the HAR), compiled once, and used the same way by record (what is redacted), replay
//! and mock (what is ignored). A redacted value is never compared: redacting a query
//! parameter, JSON field or header also ignores it when matching.
//!
//! - [`RuleSpec`]: the rules as written (names, globs, paths), mergeable.
//! - [`Rules`]: compiled: name sets and [`JsonPath`]s, with the pure functions that
//!   apply them to URLs, headers and JSON documents.
//! - [`body::Canon`]: a request body reduced to what decides a match.

pub mod body;
pub mod config;
pub mod diff;
pub mod graphql;
pub(crate) mod json_path;
pub mod noise;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use serde_json::Value;

pub use body::Canon;
pub use config::{load_beside, ConfigError};
pub use json_path::{JsonPath, JsonPathError};

use crate::har::format::REDACTED;

/// What matching ignores (`[match]` in `harp.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct MatchSpec {
    /// Query parameter names (globs: `utm_*`) left out of URL comparison.
    pub ignore_query: Vec<String>,
    /// Header names (globs, case-insensitive) left out of the header tiebreak and of
    /// the mock's header matching.
    pub ignore_header: Vec<String>,
    /// JSON paths removed from request bodies before they are compared.
    pub ignore_json: Vec<String>,
}

/// What recording redacts (`[redact]` in `harp.toml`); matching ignores it too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactSpec {
    /// Query parameter names (globs) whose values are replaced.
    pub query: Vec<String>,
    /// JSON paths whose values are replaced in request and response bodies.
    pub json: Vec<String>,
    /// Header names whose values are replaced (added to `--redact-header`).
    pub header: Vec<String>,
}

/// The rules as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSpec {
    /// `[match]`.
    #[serde(rename = "match")]
    pub matching: MatchSpec,
    /// `[redact]`.
    pub redact: RedactSpec,
}

impl RuleSpec {
    /// Adds `other`'s rules to these (duplicates dropped).
    pub fn merge(&mut self, other: &RuleSpec) {
        fn add(to: &mut Vec<String>, from: &[String]) {
            for s in from {
                if !to.contains(s) {
                    to.push(s.clone());
                }
            }
        }
        add(
            &mut self.matching.ignore_query,
            &other.matching.ignore_query,
        );
        add(
            &mut self.matching.ignore_header,
            &other.matching.ignore_header,
        );
        add(&mut self.matching.ignore_json, &other.matching.ignore_json);
        add(&mut self.redact.query, &other.redact.query);
        add(&mut self.redact.json, &other.redact.json);
        add(&mut self.redact.header, &other.redact.header);
    }

    /// True when there is no rule at all.
    pub fn is_empty(&self) -> bool {
        *self == RuleSpec::default()
    }
}

/// A rule that cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A bad JSON path.
    #[error(transparent)]
    JsonPath(#[from] JsonPathError),
    /// A bad name glob.
    #[error("invalid {what} name glob {glob:?}: {reason}")]
    Glob {
        /// Which list it is in.
        what: &'static str,
        /// The glob.
        glob: String,
        /// Why.
        reason: String,
    },
}

/// Names matched by globs (`*` any characters).
#[derive(Debug, Clone, Default)]
struct NameSet {
    set: Option<GlobSet>,
}

impl NameSet {
    fn new(
        what: &'static str,
        globs: &[String],
        case_insensitive: bool,
    ) -> Result<Self, RuleError> {
        if globs.is_empty() {
            return Ok(Self::default());
        }
        let mut builder = GlobSetBuilder::new();
        for g in globs {
            let glob = GlobBuilder::new(g)
                .case_insensitive(case_insensitive)
                .literal_separator(false)
                .build()
                .map_err(|e| RuleError::Glob {
                    what,
                    glob: g.to_string(),
                    reason: e.kind().to_string(),
                })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| RuleError::Glob {
            what,
            glob: globs
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            reason: e.to_string(),
        })?;
        Ok(Self { set: Some(set) })
    }

    fn is_empty(&self) -> bool {
        self.set.is_none()
    }

    fn contains(&self, name: &str) -> bool {
        self.set.as_ref().is_some_and(|s| s.is_match(name))
    }
}

/// The rules, compiled.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    spec: RuleSpec,
    /// Query names left out of matching: ignored and redacted ones.
    unmatched_query: NameSet,
    /// Query names whose values recording replaces.
    redacted_query: NameSet,
    /// Header names left out of matching: ignored and redacted ones.
    unmatched_headers: NameSet,
    /// JSON paths left out of matching: ignored and redacted ones.
    unmatched_json: Vec<JsonPath>,
    /// JSON paths whose values recording replaces.
    redacted_json: Vec<JsonPath>,
}

impl Rules {
    /// Compiles `spec`; a bad glob or path is an error naming it.
    pub fn compile(spec: &RuleSpec) -> Result<Self, RuleError> {
        let m = &spec.matching;
        let r = &spec.redact;
        let both = |a: &'_ [String], b: &'_ [String]| -> Vec<String> {
            let mut v = a.to_vec();
            v.extend(b.iter().filter(|x| !a.contains(x)).cloned());
            v
        };
        let paths = |list: &[String]| -> Result<Vec<JsonPath>, RuleError> {
            list.iter()
                .map(|p| JsonPath::parse(p).map_err(RuleError::from))
                .collect()
        };
        Ok(Self {
            spec: spec.clone(),
            unmatched_query: NameSet::new(
                "query parameter",
                &both(&m.ignore_query, &r.query),
                false,
            )?,
            redacted_query: NameSet::new("query parameter", &r.query, false)?,
            unmatched_headers: NameSet::new("header", &both(&m.ignore_header, &r.header), true)?,
            unmatched_json: paths(&both(&m.ignore_json, &r.json))?,
            redacted_json: paths(&r.json)?,
        })
    }

    /// The rules as written.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// True when matching ignores query parameter `name`.
    pub(crate) fn ignores_query(&self, name: &str) -> bool {
        self.unmatched_query.contains(name)
    }

    /// True when matching ignores header `name`.
    pub(crate) fn ignores_header(&self, name: &str) -> bool {
        self.unmatched_headers.contains(name)
    }

    /// `url` as matching compares it: ignored query parameters left out (the others
    /// keep their order and spelling). Unchanged when no query rule applies.
    pub(crate) fn match_url<'a>(&self, url: &'a str) -> std::borrow::Cow<'a, str> {
        if self.unmatched_query.is_empty() {
            return url.into();
        }
        match rewrite_query(url, |name, pair| {
            (!self.unmatched_query.contains(name)).then(|| pair.to_string())
        }) {
            Some(rewritten) => rewritten.into(),
            None => url.into(),
        }
    }

    /// `url` with the values of redacted query parameters replaced; `None` when nothing
    /// was redacted.
    pub(crate) fn redact_url(&self, url: &str) -> Option<String> {
        if self.redacted_query.is_empty() {
            return None;
        }
        rewrite_query(url, |name, pair| {
            Some(if self.redacted_query.contains(name) {
                let raw_name = pair.split('=').next().unwrap_or(pair);
                format!("{raw_name}=%5BREDACTED%5D")
            } else {
                pair.to_string()
            })
        })
    }

    /// True when recording replaces the value of query parameter `name`.
    pub(crate) fn redacts_query(&self, name: &str) -> bool {
        self.redacted_query.contains(name)
    }

    /// Removes every ignored (or redacted) JSON path from `doc`.
    pub(crate) fn strip_json(&self, doc: &mut Value) {
        for path in &self.unmatched_json {
            path.remove(doc);
        }
    }

    /// Replaces the values of redacted JSON paths in `doc`; returns how many.
    pub fn redact_json(&self, doc: &mut Value) -> usize {
        let with = Value::from(REDACTED);
        self.redacted_json
            .iter()
            .map(|p| p.replace(doc, &with))
            .sum()
    }

    /// True when recording redacts some JSON path.
    pub(crate) fn redacts_json(&self) -> bool {
        !self.redacted_json.is_empty()
    }
}

/// The decoded name of one raw query pair (`a%20b=1` → `a b`).
pub(crate) fn query_name(pair: &str) -> String {
    let raw = pair.split('=').next().unwrap_or(pair);
    form_urlencoded::parse(raw.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// Rebuilds the query of `url` from `keep(decoded name, raw pair)`; `None` when nothing
/// changed.
fn rewrite_query(url: &str, mut keep: impl FnMut(&str, &str) -> Option<String>) -> Option<String> {
    let (before, query) = url.split_once('?')?;
    let mut changed = false;
    let mut pairs = Vec::new();
    for pair in query.split('&') {
        match keep(&query_name(pair), pair) {
            Some(kept) => {
                changed |= kept != pair;
                pairs.push(kept);
            }
            None => changed = true,
        }
    }
    if !changed {
        return None;
    }
    Some(if pairs.is_empty() {
        before.to_string()
    } else {
        format!("{before}?{}", pairs.join("&"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(f: impl FnOnce(&mut RuleSpec)) -> Rules {
        let mut spec = RuleSpec::default();
        f(&mut spec);
        Rules::compile(&spec).unwrap()
    }

    #[test]
    fn ignored_query_parameters_leave_the_match_url() {
        let rules = compiled(|s| {
            s.matching.ignore_query = vec!["t".into(), "utm_*".into()];
            s.redact.query = vec!["api_key".into()];
        });
        assert_eq!(
            rules.match_url("https://a.test/p?q=1&t=99&utm_source=x&api_key=s&z=%20"),
            "https://a.test/p?q=1&z=%20"
        );
        assert_eq!(rules.match_url("https://a.test/p?t=1"), "https://a.test/p");
        assert_eq!(
            rules.match_url("https://a.test/p?tt=1"),
            "https://a.test/p?tt=1"
        );
        assert_eq!(rules.match_url("https://a.test/p"), "https://a.test/p");
        let none = Rules::default();
        assert_eq!(
            none.match_url("https://a.test/p?t=1"),
            "https://a.test/p?t=1"
        );
    }

    #[test]
    fn redacted_query_values_are_replaced_and_never_compared() {
        let rules = compiled(|s| s.redact.query = vec!["token".into()]);
        assert_eq!(
            rules
                .redact_url("https://a.test/p?a=1&token=s3cret&b")
                .as_deref(),
            Some("https://a.test/p?a=1&token=%5BREDACTED%5D&b")
        );
        assert_eq!(rules.redact_url("https://a.test/p?a=1"), None);
        assert_eq!(
            rules.match_url("https://a.test/p?a=1&token=%5BREDACTED%5D"),
            rules.match_url("https://a.test/p?a=1&token=live")
        );
    }

    #[test]
    fn header_rules_are_case_insensitive_globs() {
        let rules = compiled(|s| {
            s.matching.ignore_header = vec!["X-Request-*".into()];
            s.redact.header = vec!["x-api-key".into()];
        });
        assert!(rules.ignores_header("x-request-id"));
        assert!(rules.ignores_header("x-api-key"));
        assert!(!rules.ignores_header("accept"));
    }

    #[test]
    fn json_rules_strip_and_redact() {
        let rules = compiled(|s| {
            s.matching.ignore_json = vec!["$.nonce".into()];
            s.redact.json = vec!["$.password".into()];
        });
        let mut doc = serde_json::json!({"nonce": 1, "password": "p", "user": "u"});
        let mut redacted = doc.clone();
        assert_eq!(rules.redact_json(&mut redacted), 1);
        assert_eq!(redacted["password"], REDACTED);
        rules.strip_json(&mut doc);
        assert_eq!(doc, serde_json::json!({"user": "u"}));
    }

    #[test]
    fn bad_rules_are_named() {
        let mut spec = RuleSpec::default();
        spec.matching.ignore_json = vec!["a.b".into()];
        let err = Rules::compile(&spec).unwrap_err().to_string();
        assert!(err.contains("\"a.b\""), "{err}");
        let mut spec = RuleSpec::default();
        spec.matching.ignore_query = vec!["a{".into()];
        let err = Rules::compile(&spec).unwrap_err().to_string();
        assert!(
            err.contains("query parameter") && err.contains("a{"),
            "{err}"
        );
    }

    #[test]
    fn specs_merge_without_duplicates() {
        let mut a = RuleSpec::default();
        a.matching.ignore_query = vec!["t".into()];
        let mut b = RuleSpec::default();
        b.matching.ignore_query = vec!["t".into(), "u".into()];
        b.redact.json = vec!["$.p".into()];
        a.merge(&b);
        assert_eq!(a.matching.ignore_query, ["t", "u"]);
        assert_eq!(a.redact.json, ["$.p"]);
        assert!(!a.is_empty());
        assert!(RuleSpec::default().is_empty());
    }
}
