//! `harp noise`: given two recordings of the same session, the query parameters,
//! request headers and JSON body fields whose values differ between corresponding
//! entries: the rules that would make the second recording replay against the first.
//!
//! Entries correspond when they share method and URL without its query, in order of
//! occurrence (the third `GET /api/items` of one with the third of the other).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::json_path::{differences, generalise};
use super::{Canon, RuleSpec, Rules};
use crate::har::format::REDACTED;
use crate::har::{HarError, HarFile};

/// One thing that differs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// The parameter or header name, or the JSON path (`$.a[*].b`).
    pub name: String,
    /// In how many entry pairs it differed.
    pub pairs: usize,
    /// One example: the request, the first value, the second.
    pub example: String,
}

/// What differs between two recordings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Noise {
    /// Entry pairs compared.
    pub pairs: usize,
    /// Requests (method and URL without query) only in the first recording.
    pub only_in_first: Vec<String>,
    /// Requests only in the second.
    pub only_in_second: Vec<String>,
    /// Query parameters whose values differ.
    pub query: Vec<Finding>,
    /// Request headers whose values differ.
    pub headers: Vec<Finding>,
    /// Request body JSON fields whose values differ.
    pub json: Vec<Finding>,
    /// Pairs whose bodies differ and are not JSON (no rule can ignore part of them).
    pub other_bodies: Vec<String>,
}

impl Noise {
    /// The findings as rules.
    pub fn rules(&self) -> RuleSpec {
        let mut spec = RuleSpec::default();
        spec.matching.ignore_query = self.query.iter().map(|f| f.name.clone()).collect();
        spec.matching.ignore_header = self.headers.iter().map(|f| f.name.clone()).collect();
        spec.matching.ignore_json = self.json.iter().map(|f| f.name.clone()).collect();
        spec
    }
}

/// Headers that say how a message travels, or follow from its body: never noise.
fn is_not_noise(name: &str) -> bool {
    crate::proxy::is_framing(name) || name.eq_ignore_ascii_case("host")
}

/// Most entries of either recording compared, so the work stays bounded.
const MAX_NOISE_ENTRIES: usize = 200_000;

struct Side<'a> {
    file: &'a HarFile,
    by_key: HashMap<(String, String), Vec<usize>>,
    order: Vec<(String, String)>,
}

fn key_of(method: &str, url: &str) -> (String, String) {
    let url = crate::urls::normalise(url);
    let without_query = url.split('?').next().unwrap_or("").to_string();
    (method.to_ascii_uppercase(), without_query)
}

fn side(file: &HarFile) -> Side<'_> {
    let mut by_key: HashMap<(String, String), Vec<usize>> = HashMap::new();
    let mut order = Vec::new();
    for (i, e) in file
        .har
        .log
        .entries
        .iter()
        .enumerate()
        .take(MAX_NOISE_ENTRIES)
    {
        let key = key_of(&e.request.method, &e.request.url);
        let list = by_key.entry(key.clone()).or_default();
        if list.is_empty() {
            order.push(key);
        }
        list.push(i);
    }
    Side {
        file,
        by_key,
        order,
    }
}

#[derive(Default)]
struct Tally(BTreeMap<String, (usize, String)>);

impl Tally {
    fn add(&mut self, name: String, example: impl FnOnce() -> String) {
        let slot = self.0.entry(name).or_insert_with(|| (0, example()));
        slot.0 += 1;
    }

    fn findings(self) -> Vec<Finding> {
        self.0
            .into_iter()
            .map(|(name, (pairs, example))| Finding {
                name,
                pairs,
                example,
            })
            .collect()
    }
}

/// Compares the corresponding entries of `first` and `second`.
pub fn noise(first: &HarFile, second: &HarFile) -> Result<Noise, HarError> {
    let (a, b) = (side(first), side(second));
    let mut out = Noise::default();
    let (mut query, mut headers, mut json) = (Tally::default(), Tally::default(), Tally::default());
    for key in &a.order {
        let ours = &a.by_key[key];
        let theirs = b.by_key.get(key).map(Vec::as_slice).unwrap_or(&[]);
        if theirs.is_empty() {
            out.only_in_first.push(format!("{} {}", key.0, key.1));
        }
        for (&i, &j) in ours.iter().zip(theirs) {
            out.pairs += 1;
            let label = format!("{} {}", key.0, key.1);
            compare_query(&a, i, &b, j, &label, &mut query);
            compare_headers(&a, i, &b, j, &label, &mut headers);
            compare_bodies(&a, i, &b, j, &label, &mut json, &mut out.other_bodies)?;
        }
    }
    for key in &b.order {
        if !a.by_key.contains_key(key) {
            out.only_in_second.push(format!("{} {}", key.0, key.1));
        }
    }
    out.query = query.findings();
    out.headers = headers.findings();
    out.json = json.findings();
    Ok(out)
}

fn query_pairs(url: &str) -> Vec<(String, String)> {
    let query = url.split('#').next().unwrap_or("");
    let query = query.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn values<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn compare_query(a: &Side<'_>, i: usize, b: &Side<'_>, j: usize, label: &str, tally: &mut Tally) {
    let qa = query_pairs(&a.file.har.log.entries[i].request.url);
    let qb = query_pairs(&b.file.har.log.entries[j].request.url);
    let mut names: Vec<&str> = qa.iter().chain(&qb).map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let (va, vb) = (values(&qa, name), values(&qb, name));
        if va != vb && !va.contains(&REDACTED) && !vb.contains(&REDACTED) {
            tally.add(name.to_string(), || {
                format!("{label}: {name}={} / {name}={}", va.join(","), vb.join(","))
            });
        }
    }
}

fn compare_headers(a: &Side<'_>, i: usize, b: &Side<'_>, j: usize, label: &str, tally: &mut Tally) {
    let list = |side: &Side<'_>, k: usize| -> Vec<(String, String)> {
        side.file.har.log.entries[k]
            .request
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
            .filter(|(n, _)| !n.starts_with(':') && !is_not_noise(n))
            .collect()
    };
    let (ha, hb) = (list(a, i), list(b, j));
    let mut names: Vec<&str> = ha.iter().chain(&hb).map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let (va, vb) = (values(&ha, name), values(&hb, name));
        if va != vb && !va.contains(&REDACTED) && !vb.contains(&REDACTED) {
            tally.add(name.to_string(), || {
                let clip = |v: Vec<&str>| crate::calllog::clip(&v.join(", "), 60);
                format!("{label}: {} / {}", clip(va), clip(vb))
            });
        }
    }
}

fn canon_of(side: &Side<'_>, k: usize) -> Result<Option<(Canon, Vec<u8>)>, HarError> {
    let entry = &side.file.har.log.entries[k];
    let Some(body) = side.file.request_body(k)?.filter(|b| !b.is_empty()) else {
        return Ok(None);
    };
    let mime = entry
        .request
        .post_data
        .as_ref()
        .map_or("", |p| p.mime_type.as_str());
    Ok(Some((
        Canon::of(mime, &body, &Rules::default()),
        body.to_vec(),
    )))
}

fn compare_bodies(
    a: &Side<'_>,
    i: usize,
    b: &Side<'_>,
    j: usize,
    label: &str,
    tally: &mut Tally,
    other: &mut Vec<String>,
) -> Result<(), HarError> {
    let (Some((ca, ra)), Some((cb, rb))) = (canon_of(a, i)?, canon_of(b, j)?) else {
        return Ok(());
    };
    if ra == rb || ca.matches(&cb) {
        return Ok(());
    }
    match (&ca, &cb) {
        (Canon::Json(x), Canon::Json(y)) => {
            for d in differences(x, y) {
                tally.add(generalise(&d.path), || {
                    format!("{label}: {} / {}", d.left, d.right)
                });
            }
        }
        _ => {
            if other.len() < 100 {
                other.push(format!(
                    "{label} (entries #{i} and #{j}): bodies differ and are not JSON"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::har::Har;

    fn file(entries: serde_json::Value) -> HarFile {
        let har: Har = serde_json::from_value(serde_json::json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": entries}})).unwrap();
        HarFile::from_har(har, "t.har".into())
    }

    fn entry(
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> serde_json::Value {
        let mut e = serde_json::json!({
            "startedDateTime": "2024-01-01T00:00:00Z", "time": 1,
            "request": {"method": method, "url": url, "headers": headers.iter().map(|(n, v)| serde_json::json!({"name": n, "value": v})).collect::<Vec<_>>()},
            "response": {"status": 200, "content": {"mimeType": "text/plain", "text": "ok"}}
        });
        if let Some(body) = body {
            e["request"]["postData"] =
                serde_json::json!({"mimeType": "application/json", "text": body});
        }
        e
    }

    #[test]
    fn finds_the_parameters_headers_and_fields_that_differ() {
        let a = file(serde_json::json!([
            entry(
                "GET",
                "https://a.test/items?page=1&t=100",
                &[("x-request-id", "r1"), ("accept", "*/*")],
                None
            ),
            entry(
                "POST",
                "https://a.test/items",
                &[],
                Some(r#"{"name":"n","requestId":"q1","items":[{"ts":1}]}"#)
            ),
            entry("GET", "https://a.test/only-a", &[], None),
        ]));
        let b = file(serde_json::json!([
            entry(
                "GET",
                "https://a.test/items?t=200&page=1",
                &[("x-request-id", "r2"), ("accept", "*/*")],
                None
            ),
            entry(
                "POST",
                "https://a.test/items",
                &[],
                Some(r#"{"requestId":"q2","name":"n","items":[{"ts":2}]}"#)
            ),
            entry("GET", "https://a.test/only-b", &[], None),
        ]));
        let n = noise(&a, &b).unwrap();
        assert_eq!(n.pairs, 2);
        let names = |f: &[Finding]| f.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&n.query), ["t"]);
        assert_eq!(names(&n.headers), ["x-request-id"]);
        assert_eq!(names(&n.json), ["$.items[*].ts", "$.requestId"]);
        assert_eq!(n.only_in_first, ["GET https://a.test/only-a"]);
        assert_eq!(n.only_in_second, ["GET https://a.test/only-b"]);
        let rules = n.rules();
        assert_eq!(rules.matching.ignore_query, ["t"]);
        // The rules found make the two recordings match.
        let compiled = Rules::compile(&rules).unwrap();
        assert_eq!(
            compiled.match_url("https://a.test/items?page=1&t=100"),
            "https://a.test/items?page=1"
        );
    }

    #[test]
    fn identical_recordings_have_no_noise() {
        let a = file(serde_json::json!([entry(
            "GET",
            "https://a.test/x?y=1",
            &[("a", "1")],
            None
        )]));
        let n = noise(&a, &a).unwrap();
        assert_eq!(n.pairs, 1);
        assert!(n.query.is_empty() && n.headers.is_empty() && n.json.is_empty());
    }
}
