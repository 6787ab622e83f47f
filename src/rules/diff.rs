//! `harp diff`: a semantic diff of two HARs (beside `harp noise`, the other comparison of
//! two recordings): entries paired by method and URL (in order of
//! occurrence), then what changed in each pair: the request body, the status, the
//! response headers (framing headers and `date` aside) and the response body (JSON by
//! value, field by field). Key order, whitespace, timings and sizes never count.

use std::collections::HashMap;

use serde::Serialize;

use super::json_path::differences;
use super::{Canon, Rules};
use crate::har::{HarError, HarFile, Header};

/// One paired entry that changed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Changed {
    /// `METHOD URL`.
    pub request: String,
    /// Its index in the first HAR.
    pub first: usize,
    /// Its index in the second.
    pub second: usize,
    /// What changed, one line each.
    pub changes: Vec<String>,
}

/// How two HARs differ.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Diff {
    /// Requests (`METHOD URL`, with the entry index) only in the first HAR.
    pub only_in_first: Vec<String>,
    /// Requests only in the second.
    pub only_in_second: Vec<String>,
    /// Paired entries that differ.
    pub changed: Vec<Changed>,
    /// Pairs compared.
    pub pairs: usize,
}

impl Diff {
    /// True when nothing differs.
    pub fn is_same(&self) -> bool {
        self.only_in_first.is_empty() && self.only_in_second.is_empty() && self.changed.is_empty()
    }
}

/// Headers that differ between any two recordings of the same response.
const VOLATILE: &[&str] = &["date", "age"];

/// Compares `first` with `second`.
pub fn diff(first: &HarFile, second: &HarFile) -> Result<Diff, HarError> {
    let key = |f: &HarFile, i: usize| {
        let r = &f.har.log.entries[i].request;
        format!(
            "{} {}",
            r.method.to_ascii_uppercase(),
            crate::urls::normalise(&r.url)
        )
    };
    let mut theirs: HashMap<String, Vec<usize>> = HashMap::new();
    for j in 0..second.har.log.entries.len() {
        theirs.entry(key(second, j)).or_default().push(j);
    }
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut out = Diff::default();
    for i in 0..first.har.log.entries.len() {
        let k = key(first, i);
        let n = used.entry(k.clone()).or_insert(0);
        match theirs.get(&k).and_then(|list| list.get(*n)) {
            Some(&j) => {
                *n += 1;
                out.pairs += 1;
                let changes = compare(first, i, second, j)?;
                if !changes.is_empty() {
                    out.changed.push(Changed {
                        request: k,
                        first: i,
                        second: j,
                        changes,
                    });
                }
            }
            None => out.only_in_first.push(format!("{k} (#{i})")),
        }
    }
    for (k, list) in &theirs {
        let paired = used.get(k).copied().unwrap_or(0);
        for &j in list.iter().skip(paired) {
            out.only_in_second.push(format!("{k} (#{j})"));
        }
    }
    out.only_in_second.sort_by_key(|s| {
        s.rsplit("(#")
            .next()
            .and_then(|n| n.trim_end_matches(')').parse::<usize>().ok())
    });
    Ok(out)
}

fn compare(a: &HarFile, i: usize, b: &HarFile, j: usize) -> Result<Vec<String>, HarError> {
    let (ea, eb) = (&a.har.log.entries[i], &b.har.log.entries[j]);
    let mut changes = Vec::new();
    let request_types = (
        ea.request
            .post_data
            .as_ref()
            .map_or("", |p| p.mime_type.as_str()),
        eb.request
            .post_data
            .as_ref()
            .map_or("", |p| p.mime_type.as_str()),
    );
    let (qa, qb) = (
        a.request_body(i)?.unwrap_or_default(),
        b.request_body(j)?.unwrap_or_default(),
    );
    body_changes(
        "request body",
        (&qa, request_types.0),
        (&qb, request_types.1),
        &mut changes,
    );
    if ea.response.status != eb.response.status {
        changes.push(format!(
            "status {} → {}",
            ea.response.status, eb.response.status
        ));
    }
    header_changes(&ea.response.headers, &eb.response.headers, &mut changes);
    let (ra, rb) = (a.response_body(i)?, b.response_body(j)?);
    body_changes(
        "response body",
        (&ra, ea.response.content.mime_type.as_str()),
        (&rb, eb.response.content.mime_type.as_str()),
        &mut changes,
    );
    Ok(changes)
}

fn header_changes(a: &[Header], b: &[Header], out: &mut Vec<String>) {
    let norm = |list: &[Header]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = list
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
            .filter(|(n, _)| {
                !n.starts_with(':')
                    && !crate::proxy::is_framing(n)
                    && !VOLATILE.contains(&n.as_str())
            })
            .collect();
        v.sort();
        v
    };
    let (ha, hb) = (norm(a), norm(b));
    let mut names: Vec<&str> = ha.iter().chain(&hb).map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let values = |h: &[(String, String)]| {
            h.iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (va, vb) = (values(&ha), values(&hb));
        if va != vb {
            let shown = |v: &str| {
                if v.is_empty() {
                    "absent".to_string()
                } else {
                    crate::calllog::clip(v, 80)
                }
            };
            out.push(format!("header {name}: {} → {}", shown(&va), shown(&vb)));
        }
    }
}

fn body_changes(what: &str, a: (&[u8], &str), b: (&[u8], &str), out: &mut Vec<String>) {
    if a.0 == b.0 {
        return;
    }
    let none = Rules::default();
    match (Canon::of(a.1, a.0, &none), Canon::of(b.1, b.0, &none)) {
        (Canon::Json(x), Canon::Json(y)) => {
            for d in differences(&x, &y) {
                out.push(format!("{what} {}: {} → {}", d.path, d.left, d.right));
            }
        }
        (x, y) if x.matches(&y) => {}
        _ => out.push(format!(
            "{what}: {} bytes → {} bytes, contents differ",
            a.0.len(),
            b.0.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::har::Har;
    use serde_json::json;

    fn file(entries: serde_json::Value) -> HarFile {
        let har: Har = serde_json::from_value(json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": entries}})).unwrap();
        HarFile::from_har(har, "t.har".into())
    }

    fn entry(url: &str, status: i64, headers: serde_json::Value, text: &str) -> serde_json::Value {
        json!({
            "startedDateTime": "2024-01-01T00:00:00Z", "time": 1,
            "request": {"method": "GET", "url": url},
            "response": {"status": status, "headers": headers, "content": {"mimeType": "application/json", "text": text}}
        })
    }

    #[test]
    fn pairs_entries_and_names_what_changed() {
        let a = file(json!([
            entry(
                "https://a.test/x",
                200,
                json!([{"name": "Content-Type", "value": "application/json"}, {"name": "Date", "value": "Mon"}]),
                r#"{"a":1,"b":[1,2]}"#
            ),
            entry("https://a.test/gone", 200, json!([]), "{}"),
            entry("https://a.test/same", 200, json!([]), r#"{"k":1, "j":2}"#),
        ]));
        let b = file(json!([
            entry("https://a.test/same", 200, json!([]), r#"{"j":2,"k":1}"#),
            entry(
                "https://a.test/x",
                404,
                json!([{"name": "content-type", "value": "text/plain"}, {"name": "Date", "value": "Tue"}]),
                r#"{"a":2,"b":[1,2]}"#
            ),
            entry("https://a.test/new", 200, json!([]), "{}"),
        ]));
        let d = diff(&a, &b).unwrap();
        assert!(!d.is_same());
        assert_eq!(d.pairs, 2);
        assert_eq!(d.only_in_first, ["GET https://a.test/gone (#1)"]);
        assert_eq!(d.only_in_second, ["GET https://a.test/new (#2)"]);
        assert_eq!(d.changed.len(), 1, "{d:?}");
        assert_eq!(
            d.changed[0].changes,
            [
                "status 200 → 404",
                "header content-type: application/json → text/plain",
                "response body $.a: 1 → 2"
            ]
        );
        assert!(diff(&a, &a).unwrap().is_same());
    }
}
