//! Near-miss diagnostics for unmatched requests: the recorded entries closest to the
//! request, and how each differs (method, scheme, host, path, query, body).

use rustc_hash::FxHashMap;

use serde::Serialize;

use crate::calllog::{clip, MAX_URL_TEXT};

use super::matcher::{body_matches, Asked, Recorded};
use crate::rules::json_path::{differences, generalise};
use crate::rules::{Canon, Rules};

/// A recorded entry close to an unmatched request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NearMiss {
    /// Index of the entry in the HAR.
    pub entry: usize,
    /// Its method.
    pub method: String,
    /// Its URL.
    pub url: String,
    /// How it differs from the request, most telling first.
    pub differences: Vec<String>,
    /// When it differs only in query parameters or JSON fields: the rule that would
    /// have matched it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// What would make an entry match, when only ignorable parts differ.
#[derive(Default)]
struct Ignorable {
    /// False once something no rule can ignore differs (host, path, method, a non-JSON
    /// body).
    possible: bool,
    query: Vec<String>,
    json: Vec<String>,
}

impl Ignorable {
    fn rule(&self) -> Option<String> {
        if !self.possible || (self.query.is_empty() && self.json.is_empty()) {
            return None;
        }
        let mut flags = Vec::new();
        let mut toml = Vec::new();
        let quoted = |list: &[String]| {
            list.iter()
                .map(|s| serde_json::Value::from(s.as_str()).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.query.is_empty() {
            flags.extend(self.query.iter().map(|q| format!("--ignore-query {q}")));
            toml.push(format!("ignore-query = [{}]", quoted(&self.query)));
        }
        if !self.json.is_empty() {
            flags.extend(self.json.iter().map(|j| format!("--ignore-json '{j}'")));
            toml.push(format!("ignore-json = [{}]", quoted(&self.json)));
        }
        Some(format!(
            "{} (harp.toml [match]: {})",
            flags.join(" "),
            toml.join(", ")
        ))
    }
}

/// The decoded names of query pairs (`a=1` → `a`), sorted, without repeats.
fn names_of(pairs: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = pairs.iter().map(|p| crate::rules::query_name(p)).collect();
    names.sort();
    names.dedup();
    names
}

pub struct Parts<'a> {
    scheme: &'a str,
    host: &'a str,
    path: &'a str,
    query: Vec<&'a str>,
}

fn split(url: &str) -> Parts<'_> {
    let parts = crate::urls::split(url).unwrap_or(crate::urls::Parts {
        scheme: "",
        authority: "",
        path: url,
        query: None,
    });
    let (scheme, host, path) = (parts.scheme, parts.authority, parts.path);
    let mut query: Vec<&str> = parts
        .query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .collect();
    query.sort_unstable();
    Parts {
        scheme,
        host,
        path,
        query,
    }
}

/// Compares one entry with the request (URLs as the rules compare them): a distance (0
/// would be a match), the differences in words, and what a rule could ignore.
fn compare(entry: &Recorded, req: &Asked<'_>, rules: &Rules) -> (u32, Vec<String>, Ignorable) {
    let mut distance = 0;
    let mut diffs = Vec::new();
    let mut ignorable = Ignorable {
        possible: true,
        ..Ignorable::default()
    };
    let (entry_url, req_url) = (rules.match_url(&entry.url), rules.match_url(req.url));
    let (a, b) = (split(&entry_url), split(&req_url));
    if a.host != b.host {
        distance += 8;
        diffs.push(format!("host {} (request: {})", a.host, b.host));
    }
    if a.scheme != b.scheme {
        distance += 2;
        diffs.push(format!("scheme {} (request: {})", a.scheme, b.scheme));
    }
    if a.path != b.path {
        // Same shape with one segment changed (an id) is nearer than a shorter or longer path.
        let (sa, sb): (Vec<&str>, Vec<&str>) =
            (a.path.split('/').collect(), b.path.split('/').collect());
        let differing = sa.iter().zip(&sb).filter(|(x, y)| x != y).count();
        distance += 2 + differing as u32 + 2 * sa.len().abs_diff(sb.len()) as u32;
        diffs.push(format!("path {} (request: {})", a.path, b.path));
    }
    ignorable.possible = diffs.is_empty();
    if a.query != b.query {
        let (text, names, only_order) = query_difference(&a.query, &b.query);
        distance += names.len() as u32;
        if only_order {
            ignorable.possible = false;
        }
        ignorable.query = names_of(&names);
        diffs.push(text);
    }
    if entry.method != req.method {
        distance += 3;
        diffs.push(format!("method {} (request: {})", entry.method, req.method));
        ignorable.possible = false;
    }
    if !body_matches(entry, req) {
        distance += 2;
        diffs.push(body_difference(entry, req, &mut ignorable));
    }
    if diffs.is_empty() {
        diffs.push("nothing but the order of use (all matching entries were used)".into());
        ignorable.possible = false;
    }
    (distance, diffs, ignorable)
}

/// How two sorted query lists differ: the words, the parameters only one side has, and
/// whether only their order differs.
fn query_difference<'a>(recorded: &[&'a str], sent: &[&'a str]) -> (String, Vec<&'a str>, bool) {
    let missing: Vec<&str> = recorded
        .iter()
        .filter(|p| !sent.contains(p))
        .copied()
        .collect();
    let extra: Vec<&str> = sent
        .iter()
        .filter(|p| !recorded.contains(p))
        .copied()
        .collect();
    let mut text = String::from("query");
    if !missing.is_empty() {
        text.push_str(&format!(" recorded {}", missing.join("&")));
    }
    if !extra.is_empty() {
        text.push_str(&format!(
            "{} request has {}",
            if missing.is_empty() { "" } else { ";" },
            extra.join("&")
        ));
    }
    let only_order = missing.is_empty() && extra.is_empty();
    if only_order {
        text.push_str(" parameter order");
    }
    (text, [missing, extra].concat(), only_order)
}

/// How the bodies differ: JSON field by field (naming the GraphQL operation), else sizes.
fn body_difference(entry: &Recorded, req: &Asked<'_>, ignorable: &mut Ignorable) -> String {
    let (Some(Canon::Json(ours)), Some(theirs @ Canon::Json(sent))) = (&entry.canon, req.canon)
    else {
        ignorable.possible = false;
        let recorded = entry.body.as_ref().map_or(0, bytes::Bytes::len);
        return format!(
            "body ({recorded} bytes recorded, {} sent, contents differ)",
            req.body.len()
        );
    };
    let places = differences(ours, sent);
    let listed: Vec<String> = places
        .iter()
        .take(3)
        .map(|d| format!("{} (recorded {}, sent {})", d.path, d.left, d.right))
        .collect();
    let more = places.len().saturating_sub(listed.len());
    let mut text = match (
        theirs.graphql_operation(),
        entry.canon.as_ref().and_then(Canon::graphql_operation),
    ) {
        (Some(op), Some(rec)) if op != rec => {
            ignorable.possible = false;
            format!("GraphQL operation {op} (recorded: {rec}): ")
        }
        (Some(op), _) => format!("GraphQL operation {op}: "),
        _ => String::new(),
    };
    text.push_str("body JSON differs at ");
    text.push_str(&listed.join(", "));
    if more > 0 {
        text.push_str(&format!(" and {more} more place(s)"));
    }
    let mut paths: Vec<String> = places.iter().map(|d| generalise(&d.path)).collect();
    paths.sort();
    paths.dedup();
    if paths
        .iter()
        .any(|p| p == "$.query" || p == "$.operationName")
    {
        ignorable.possible = false;
    }
    ignorable.json = paths;
    text
}

/// Most entries one miss compares with, whatever the HAR's size: a miss costs a
/// bounded amount of work and cannot slow the requests that match.
const NEAR_MISS_BUDGET: usize = 2048;

/// Entries grouped by host and by host + first path segment, so a miss compares only
/// its likely neighbours.
#[derive(Debug, Clone, Default)]
pub struct Neighbours {
    by_host: FxHashMap<String, Vec<usize>>,
    by_prefix: FxHashMap<String, Vec<usize>>,
}

impl Neighbours {
    /// Groups `entries`.
    pub fn new(entries: &[Recorded]) -> Self {
        fn add(map: &mut FxHashMap<String, Vec<usize>>, key: &str, i: usize) {
            match map.get_mut(key) {
                Some(list) => list.push(i),
                None => {
                    map.insert(key.to_string(), vec![i]);
                }
            }
        }
        let mut me = Self::default();
        let mut prefix = String::new();
        for (i, e) in entries.iter().enumerate() {
            let host = prefix_key(&e.url, &mut prefix);
            add(&mut me.by_host, host, i);
            add(&mut me.by_prefix, &prefix, i);
        }
        me
    }

    /// At most [`NEAR_MISS_BUDGET`] entries to compare with `url`, in file order: those
    /// with its host and first path segment, then its host, then any.
    fn candidates(&self, url: &str, total: usize) -> Vec<usize> {
        let mut prefix = String::new();
        let host = prefix_key(url, &mut prefix);
        let mut out: Vec<usize> = Vec::new();
        let groups = [self.by_prefix.get(prefix.as_str()), self.by_host.get(host)];
        for group in groups.into_iter().flatten() {
            out.extend(group.iter().take(NEAR_MISS_BUDGET));
            if out.len() >= NEAR_MISS_BUDGET {
                break;
            }
        }
        if out.is_empty() {
            out.extend(0..total.min(NEAR_MISS_BUDGET));
        }
        out.sort_unstable();
        out.dedup();
        out.truncate(NEAR_MISS_BUDGET);
        out
    }
}

/// The host of a URL; `prefix` is set to host + `/` + first path segment.
fn prefix_key<'a>(url: &'a str, prefix: &mut String) -> &'a str {
    let parts = split_host_path(url);
    let first = parts
        .1
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    prefix.clear();
    prefix.push_str(parts.0);
    prefix.push('/');
    prefix.push_str(first);
    parts.0
}

/// (host, path) of a URL, without allocating.
fn split_host_path(url: &str) -> (&str, &str) {
    match crate::urls::split(url) {
        Some(p) => (p.authority, p.path),
        None => ("", url.split('?').next().unwrap_or("")),
    }
}

/// The `n` recorded entries nearest to `req`, nearest first (earliest on ties), among
/// its neighbours (see [`Neighbours`]).
pub fn nearest(
    entries: &[Recorded],
    neighbours: &Neighbours,
    rules: &Rules,
    req: &Asked<'_>,
    n: usize,
) -> Vec<NearMiss> {
    let mut scored: Vec<(u32, usize, Vec<String>, Ignorable)> = neighbours
        .candidates(req.url, entries.len())
        .into_iter()
        .map(|i| {
            let (d, diffs, ignorable) = compare(&entries[i], req, rules);
            (d, i, diffs, ignorable)
        })
        .collect();
    scored.sort_by_key(|(d, i, _, _)| (*d, *i));
    scored
        .into_iter()
        .take(n)
        .map(|(_, i, differences, ignorable)| NearMiss {
            rule: ignorable.rule(),
            entry: i,
            method: entries[i].method.clone(),
            url: clip(&entries[i].url, MAX_URL_TEXT),
            differences: differences
                .into_iter()
                .map(|d| clip(&d, MAX_DIFF_TEXT))
                .collect(),
        })
        .collect()
}

/// Longest single difference kept in diagnostics.
const MAX_DIFF_TEXT: usize = 256;

/// The 502 body for an unmatched request.
pub(crate) fn unmatched_text(req: &Asked<'_>, har: &str, near: &[NearMiss]) -> String {
    let mut text = format!(
        "harp: no entry in {har} matches {} {}\n",
        req.method, req.url
    );
    if near.is_empty() {
        text.push_str("the HAR has no entries\n");
    } else {
        text.push_str("nearest entries:\n");
        for m in near {
            text.push_str(&format!(
                "  #{} {} {}\n    differs in: {}\n",
                m.entry,
                m.method,
                m.url,
                m.differences.join("; ")
            ));
            if let Some(rule) = &m.rule {
                text.push_str(&format!("    would match with: {rule}\n"));
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(method: &str, url: &str, body: Option<&[u8]>) -> Recorded {
        Recorded {
            method: method.into(),
            url: url.into(),
            headers: vec![],
            body: body.map(bytes::Bytes::copy_from_slice),
            canon: body.map(|b| Canon::of("application/json", b, &Rules::default())),
            incomplete: false,
        }
    }

    #[test]
    fn names_the_closest_entries_and_what_differs() {
        let entries = vec![
            rec("GET", "https://api.test/users?page=2", None),
            rec("GET", "https://other.test/users?page=3", None),
            rec("POST", "https://api.test/users?page=3", Some(b"{}")),
            rec("GET", "https://api.test/orders", None),
        ];
        let req = Asked {
            method: "GET",
            url: "https://api.test/users?page=3",
            headers: &[],
            body: b"",
            canon: None,
        };
        let hood = Neighbours::new(&entries);
        let near = nearest(&entries, &hood, &Rules::default(), &req, 3);
        assert_eq!(near[0].entry, 0);
        assert_eq!(
            near[0].differences,
            vec!["query recorded page=2; request has page=3"]
        );
        assert_eq!(near[1].entry, 2);
        assert_eq!(near[1].differences, vec!["method POST (request: GET)"]);
        assert_eq!(near[2].entry, 3);
        let text = unmatched_text(&req, "x.har", &near);
        assert!(text.contains("#0 GET https://api.test/users?page=2"));

        let req = Asked {
            method: "POST",
            url: "https://api.test/users?page=3",
            headers: &[],
            body: b"[1]",
            canon: None,
        };
        let near = nearest(&entries, &hood, &Rules::default(), &req, 1);
        assert_eq!(near[0].entry, 2);
        assert!(near[0].differences[0].starts_with("body (2 bytes recorded, 3 sent"));

        let ids = vec![
            rec("GET", "https://api.test/users", None),
            rec("GET", "https://api.test/users/1", None),
        ];
        let by_id = Asked {
            method: "GET",
            url: "https://api.test/users/9",
            headers: &[],
            body: b"",
            canon: None,
        };
        assert_eq!(
            nearest(&ids, &Neighbours::new(&ids), &Rules::default(), &by_id, 1)[0].entry,
            1,
            "same shape, one id changed"
        );
    }

    #[test]
    fn a_miss_that_a_rule_would_match_names_the_rule() {
        let entries = vec![
            rec("GET", "https://api.test/items?page=1&t=100", None),
            rec("POST", "https://api.test/items", Some(br#"{"name":"a","requestId":"r1"}"#)),
            rec("POST", "https://api.test/graphql", Some(br#"{"operationName":"GetUser","query":"query GetUser { me { id } }","variables":{"id":1}}"#)),
        ];
        let hood = Neighbours::new(&entries);
        let rules = Rules::default();
        let get = Asked {
            method: "GET",
            url: "https://api.test/items?page=1&t=200",
            headers: &[],
            body: b"",
            canon: None,
        };
        let near = nearest(&entries, &hood, &rules, &get, 1);
        assert_eq!(near[0].entry, 0);
        let rule = near[0].rule.as_deref().unwrap();
        assert!(
            rule.starts_with("--ignore-query t (harp.toml [match]: ignore-query = [\"t\"])"),
            "{rule}"
        );

        let body = br#"{"requestId":"r2","name":"a"}"#;
        let canon = Canon::of("application/json", body, &rules);
        let post = Asked {
            method: "POST",
            url: "https://api.test/items",
            headers: &[],
            body,
            canon: Some(&canon),
        };
        let near = nearest(&entries, &hood, &rules, &post, 1);
        assert_eq!(near[0].entry, 1);
        assert!(
            near[0].differences[0]
                .starts_with("body JSON differs at $.requestId (recorded \"r1\", sent \"r2\")"),
            "{:?}",
            near[0].differences
        );
        assert!(near[0]
            .rule
            .as_deref()
            .unwrap()
            .starts_with("--ignore-json '$.requestId'"));

        let body = br#"{"operationName":"GetUser","query":"query GetUser {\n  me { id }\n}","variables":{"id":2}}"#;
        let canon = Canon::of("application/json", body, &rules);
        let gql = Asked {
            url: "https://api.test/graphql",
            body,
            canon: Some(&canon),
            ..post
        };
        let near = nearest(&entries, &hood, &rules, &gql, 1);
        assert_eq!(near[0].entry, 2);
        assert!(
            near[0].differences[0]
                .starts_with("GraphQL operation GetUser: body JSON differs at $.variables.id"),
            "{:?}",
            near[0].differences
        );

        let other_path = Asked {
            method: "GET",
            url: "https://api.test/other?t=1",
            ..get
        };
        let near = nearest(&entries, &hood, &rules, &other_path, 1);
        assert_eq!(
            near[0].rule, None,
            "a different path is not a rule's business"
        );
    }

    #[test]
    fn a_miss_compares_a_bounded_number_of_neighbours() {
        let mut entries: Vec<Recorded> = (0..10_000)
            .map(|i| rec("GET", &format!("https://bulk.test/items/{i}"), None))
            .collect();
        entries.push(rec("GET", "https://api.test/users/1", None));
        let hood = Neighbours::new(&entries);
        let req = Asked {
            method: "GET",
            url: "https://api.test/users/2",
            headers: &[],
            body: b"",
            canon: None,
        };
        assert_eq!(hood.candidates(req.url, entries.len()), vec![10_000]);
        assert_eq!(
            nearest(&entries, &hood, &Rules::default(), &req, 1)[0].entry,
            10_000
        );
        let other = hood.candidates("https://bulk.test/items/x", entries.len());
        assert_eq!(other.len(), NEAR_MISS_BUDGET);
        let unknown = hood.candidates("https://nowhere.test/", entries.len());
        assert_eq!(unknown.len(), NEAR_MISS_BUDGET);
    }
}
