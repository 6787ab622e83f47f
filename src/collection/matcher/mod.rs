//! Postman's mock matching algorithm, step by step, as pure functions:
//! method, `x-mock-response-code|id|name`, path score, query score, optional header and
//! body matching, then the highest score (ties: status 200 first, then file order).

use rustc_hash::FxHashMap;
use std::sync::Arc;

use serde::Serialize;

use super::model::{Example, RequestBody, Segment};
use crate::rules::{Canon, Rules};
use crate::urls::query_pairs;

/// The request as the matcher sees it.
#[derive(Debug, Clone)]
pub struct MockRequest<'a> {
    /// Upper-case method.
    pub method: &'a str,
    /// Path, percent-encoded as sent, starting with `/`.
    pub path: &'a str,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-case.
    pub headers: &'a [(String, String)],
    /// Body bytes.
    pub body: &'a [u8],
}

impl<'a> MockRequest<'a> {
    /// Splits `path_and_query` into path and decoded query pairs.
    pub fn new(
        method: &'a str,
        path_and_query: &'a str,
        headers: &'a [(String, String)],
        body: &'a [u8],
    ) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method,
            path,
            query: query_pairs(query),
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Matching switches: header names to match (lower-case), body matching, and the rules
/// (ignored query parameters, headers and JSON fields).
#[derive(Debug, Clone, Default)]
pub struct MatchOptions {
    /// Drop examples whose body differs (`--match-body`).
    pub match_body: bool,
    /// Drop examples whose value of these headers differs (`--match-headers`).
    pub match_headers: Vec<String>,
    /// What matching ignores.
    pub rules: Arc<Rules>,
}

/// An example that took part in matching, with its score.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Scored {
    /// Index into the example list.
    pub index: usize,
    /// Its final score, or `None` when a step dropped it.
    pub score: Option<i32>,
    /// Which step dropped it, or how the path matched.
    pub note: String,
    /// Edit distance between the example's path and the request's, computed when nothing
    /// matched (for ranking misses); 0 otherwise.
    pub distance: usize,
}

fn is_id(segment: &str) -> bool {
    let numeric = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    let uuid = segment.len() == 36
        && segment.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    numeric || uuid
}

fn segments(path: &str) -> (Vec<String>, bool) {
    let trailing = path.len() > 1 && path.ends_with('/');
    let segs = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(crate::urls::decode_segment)
        .collect();
    (segs, trailing)
}

fn seg_eq(example: &Segment, request: &str, case_insensitive: bool, wildcards: bool) -> bool {
    match example {
        Segment::Var(_) => wildcards,
        Segment::Text(t) if case_insensitive => t.eq_ignore_ascii_case(request),
        Segment::Text(t) => t == request,
    }
}

fn paths_eq(
    example: &[Segment],
    request: &[String],
    case_insensitive: bool,
    wildcards: bool,
) -> bool {
    example.len() == request.len()
        && example
            .iter()
            .zip(request)
            .all(|(e, r)| seg_eq(e, r, case_insensitive, wildcards))
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j + 1] + 1)
                .min(cur[j] + 1)
                .min(prev[j] + usize::from(ca != *cb));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Step 4: the path score, starting from 100, or `None` when no step matches.
///
/// exact 100; trailing slash ignored 95; case-insensitive 90; both 85; unresolved
/// `{{var}}`/`:var` segments as wildcards 80; numeric and UUID segments ignored 79;
/// trailing slash and ids 75; nearest by edit distance 70 (at most 2 edits and 20% of the
/// longer path, case-insensitive).
pub(crate) fn path_score(
    example: &[Segment],
    example_trailing: bool,
    request_path: &str,
) -> Option<(i32, &'static str)> {
    let (req, req_trailing) = segments(request_path);
    let has_wildcard = example.iter().any(|s| matches!(s, Segment::Var(_)));
    let same_slash = example_trailing == req_trailing;
    if !has_wildcard {
        if same_slash && paths_eq(example, &req, false, false) {
            return Some((100, "exact"));
        }
        if paths_eq(example, &req, false, false) {
            return Some((95, "trailing slash ignored"));
        }
        if same_slash && paths_eq(example, &req, true, false) {
            return Some((90, "case-insensitive"));
        }
        if paths_eq(example, &req, true, false) {
            return Some((85, "case-insensitive, trailing slash ignored"));
        }
    }
    if has_wildcard && paths_eq(example, &req, true, true) {
        return Some((80, "variables as wildcards"));
    }
    // Numeric and UUID segments stand for any id on both sides (same shape required:
    // `/users/7` is near `/users/42`, not `/users`).
    let ex_has_ids = example
        .iter()
        .any(|s| matches!(s, Segment::Text(t) if is_id(t)));
    if ex_has_ids || req.iter().any(|s| is_id(s)) {
        let ids_eq = |case_insensitive: bool| {
            example.len() == req.len()
                && example.iter().zip(&req).all(|(e, r)| match e {
                    Segment::Var(_) => true,
                    Segment::Text(t) if is_id(t) => is_id(r),
                    Segment::Text(t) if case_insensitive => t.eq_ignore_ascii_case(r),
                    Segment::Text(t) => t == r,
                })
        };
        if same_slash && ids_eq(false) {
            return Some((79, "ids ignored"));
        }
        if ids_eq(true) {
            return Some((75, "ids and trailing slash ignored"));
        }
    }
    let (req_text, ex_text) = (req.join("/"), path_text(example));
    let distance = path_distance(example, request_path);
    let longer = ex_text.chars().count().max(req_text.chars().count());
    if distance <= 2 && distance * 5 <= longer {
        return Some((70, "nearest by edit distance"));
    }
    None
}

/// The values the request gives an example's named path variables (`/users/{{id}}` or
/// `/users/:id` against `/users/42`: `id` = `42`), decoded, for the response to use.
pub fn path_captures(example: &[Segment], request_path: &str) -> Vec<(String, String)> {
    let (req, _) = segments(request_path);
    if req.len() != example.len() {
        return Vec::new();
    }
    example
        .iter()
        .zip(req)
        .filter_map(|(e, r)| match e {
            Segment::Var(name) if !name.is_empty() => Some((name.clone(), r)),
            _ => None,
        })
        .collect()
}

/// An example's path as lower-case text, wildcards as `*`.
fn path_text(example: &[Segment]) -> String {
    example
        .iter()
        .map(|s| match s {
            Segment::Text(t) => t.to_ascii_lowercase(),
            Segment::Var(_) => "*".into(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Edit distance between an example's path and a request path (lower-case).
fn path_distance(example: &[Segment], request_path: &str) -> usize {
    levenshtein(
        &path_text(example),
        &segments(request_path).0.join("/").to_ascii_lowercase(),
    )
}

/// Step 5: the query score: all parameters equal +10; some +10 × the share that match;
/// none −(number of the example's parameters missing, at most 10). Names compare
/// exactly, values case-insensitively (as Postman does).
pub(crate) fn query_score(example: &[(String, String)], request: &[(String, String)]) -> i32 {
    if example.is_empty() && request.is_empty() {
        return 10;
    }
    let matched = example
        .iter()
        .filter(|(k, v)| {
            request
                .iter()
                .any(|(rk, rv)| rk == k && rv.eq_ignore_ascii_case(v))
        })
        .count();
    let total = example.len().max(request.len());
    if matched == example.len() && example.len() == request.len() {
        10
    } else if matched > 0 {
        (10 * matched / total) as i32
    } else {
        let missing = example
            .iter()
            .filter(|(k, _)| !request.iter().any(|(rk, _)| rk == k))
            .count();
        -(missing.min(10) as i32)
    }
}

/// Step 6 (headers): every named header has the same value on both sides, compared
/// case-insensitively as Postman does (absent on both counts as equal).
fn headers_match(example: &Example, request: &MockRequest<'_>, names: &[String]) -> bool {
    names.iter().all(|name| {
        let ex = example
            .request_headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim());
        match (ex, request.header(name).map(str::trim)) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    })
}

/// True when `given` (an `x-mock-response-id`) names the example with id `id`: equal,
/// or either in Postman's UID form `<ownerId>-<id>`.
pub(crate) fn response_id_matches(id: &str, given: &str) -> bool {
    // `<ownerId>-<uuid>`: digits, a dash, then a whole 36-character UUID.
    fn bare(uid: &str) -> &str {
        match uid.split_once('-') {
            Some((owner, rest))
                if !owner.is_empty()
                    && owner.bytes().all(|b| b.is_ascii_digit())
                    && rest.len() == 36
                    && is_id(rest) =>
            {
                rest
            }
            _ => uid,
        }
    }
    let given = given.trim();
    id == given || bare(id) == bare(given)
}

/// Step 6 (body): the request body equals the example's: JSON by value (the rules'
/// ignored fields left out), forms as key/value lists, text exactly (or trimmed).
pub(crate) fn body_matches(example: &Example, request: &MockRequest<'_>, rules: &Rules) -> bool {
    match &example.request_body {
        RequestBody::None => request.body.is_empty(),
        RequestBody::Raw(text) => {
            if text.as_bytes() == request.body {
                return true;
            }
            let ours = example
                .request_headers
                .iter()
                .find(|(k, _)| k == "content-type")
                .map_or("", |(_, v)| v.as_str());
            let theirs = request.header("content-type").unwrap_or("");
            match (
                Canon::of(ours, text.as_bytes(), rules),
                Canon::of(theirs, request.body, rules),
            ) {
                (Canon::Raw(_), _) | (_, Canon::Raw(_)) => {
                    text.trim().as_bytes() == request.body.trim_ascii()
                }
                (a, b) => a.matches(&b),
            }
        }
        RequestBody::Form(pairs) => {
            let mut got = query_pairs(&String::from_utf8_lossy(request.body));
            let mut want = pairs.clone();
            got.sort();
            want.sort();
            got == want
        }
        RequestBody::Multipart(fields) => {
            let got = multipart_text_fields(request);
            fields.iter().all(|f| got.contains(f))
        }
    }
}

/// Text fields of a `multipart/form-data` body (name → value).
fn multipart_text_fields(request: &MockRequest<'_>) -> Vec<(String, String)> {
    let content_type = request.header("content-type").unwrap_or("");
    crate::codec::multipart_parts(request.body, content_type)
        .into_iter()
        .filter(|p| p.filename.is_none())
        .map(|p| (p.name, p.value))
        .collect()
}

/// The outcome of matching.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// Serve this example.
    Example(usize),
    /// Nothing matched; the candidates and their scores, best first.
    NotFound(Vec<Scored>),
}

fn prefer(examples: &[Example], a: usize, b: usize) -> usize {
    // Ties: status 200 first, then file order.
    let key = |i: usize| (examples[i].code != 200, examples[i].order);
    if key(b) < key(a) {
        b
    } else {
        a
    }
}

/// The highest total an example can reach by a pattern (variables 80, ids 79 or 75) plus
/// at most +10 for the query and +5 for an equal body. A winner among the examples
/// whose path equals the request's (ignoring case and a trailing slash) that scores more
/// cannot be beaten by any pattern.
const PATTERN_MAX: i32 = 80 + 10 + 5;

/// The highest total an example can reach by edit distance alone (70), plus query and
/// body. A winner among the textual and pattern candidates that scores more cannot be
/// beaten by any other example.
const EDIT_DISTANCE_MAX: i32 = 70 + 10 + 5;

/// Examples indexed for the mock: by method and path (lower-case, trailing slash
/// ignored) for the examples whose path is plain text, and by method and segment count
/// for those with variables or id segments. A request scores only the examples that can
/// match it, then more only when those cannot decide.
#[derive(Debug, Clone, Default)]
pub struct MockIndex {
    exact: FxHashMap<(String, String), Vec<usize>>,
    patterns: FxHashMap<(String, usize), Vec<usize>>,
}

/// An example's path as an index key (`None` when it has a variable).
fn text_key(path: &[Segment]) -> Option<String> {
    let mut key = String::new();
    for s in path {
        let Segment::Text(t) = s else { return None };
        key.push('/');
        key.push_str(&t.to_ascii_lowercase());
    }
    Some(key)
}

impl MockIndex {
    /// Indexes `examples`.
    pub fn new(examples: &[Example]) -> Self {
        let mut me = Self::default();
        for (i, e) in examples.iter().enumerate() {
            let method = e.method.to_ascii_uppercase();
            if let Some(key) = text_key(&e.path) {
                me.exact.entry((method.clone(), key)).or_default().push(i);
            }
            let pattern = e.path.iter().any(|s| match s {
                Segment::Var(_) => true,
                Segment::Text(t) => is_id(t),
            });
            if pattern {
                me.patterns
                    .entry((method, e.path.len()))
                    .or_default()
                    .push(i);
            }
        }
        me
    }

    /// Examples whose path equals `path` as text (case and trailing slash aside).
    fn exact(&self, method: &str, path: &str) -> Vec<usize> {
        let (segs, _) = segments(path);
        let key: String = segs
            .iter()
            .map(|s| format!("/{}", s.to_ascii_lowercase()))
            .collect();
        self.exact
            .get(&(method.to_ascii_uppercase(), key))
            .cloned()
            .unwrap_or_default()
    }

    /// `pool` plus the pattern examples with as many segments as `path`, in file order.
    fn with_patterns(&self, mut pool: Vec<usize>, method: &str, path: &str) -> Vec<usize> {
        let (segs, _) = segments(path);
        if let Some(list) = self
            .patterns
            .get(&(method.to_ascii_uppercase(), segs.len()))
        {
            pool.extend(list);
            pool.sort_unstable();
            pool.dedup();
        }
        pool
    }
}

/// Runs the algorithm on the examples that can match best first: those whose path
/// equals the request's, then those a pattern can match, and the whole collection only
/// when those cannot decide (a miss, a win by edit distance, or `x-mock-response-id`,
/// which may name any example). Same answers as [`choose`], at a cost that does not
/// grow with the collection.
pub(crate) fn choose_indexed(
    examples: &[Example],
    index: &MockIndex,
    req: &MockRequest<'_>,
    opts: &MatchOptions,
) -> Choice {
    if req.header("x-mock-response-id").is_none() {
        let exact = index.exact(req.method, req.path);
        if let (Choice::Example(i), Some(score)) = choose_among(examples, Some(&exact), req, opts) {
            if score > PATTERN_MAX {
                return Choice::Example(i);
            }
        }
        let pool = index.with_patterns(exact, req.method, req.path);
        if let (Choice::Example(i), Some(score)) = choose_among(examples, Some(&pool), req, opts) {
            if score > EDIT_DISTANCE_MAX {
                return Choice::Example(i);
            }
        }
    }
    choose(examples, req, opts)
}

/// Runs the whole algorithm over `examples`.
pub fn choose(examples: &[Example], req: &MockRequest<'_>, opts: &MatchOptions) -> Choice {
    choose_among(examples, None, req, opts).0
}

/// The algorithm over `pool` (all examples when `None`): the choice and, when an
/// example won on score, that score.
fn choose_among(
    examples: &[Example],
    pool: Option<&[usize]>,
    req: &MockRequest<'_>,
    opts: &MatchOptions,
) -> (Choice, Option<i32>) {
    let mut candidates = narrow(examples, pool, req);
    if let Some(id) = req.header("x-mock-response-id") {
        let found = candidates.iter().copied().find(|&i| {
            examples[i]
                .id
                .as_deref()
                .is_some_and(|e| response_id_matches(e, id))
        });
        return match found {
            Some(i) => (Choice::Example(i), None),
            None => (Choice::NotFound(Vec::new()), None),
        };
    }
    // Names repeat across requests ("200 OK"): the name narrows the candidates, and the
    // path still has to match. Ids are unique: an id picks its example outright.
    if let Some(name) = req.header("x-mock-response-name") {
        candidates.retain(|&i| examples[i].name == name.trim());
    }
    let scoring = Scoring::new(req, opts);
    let mut scored = Vec::new();
    let mut best: Option<(i32, usize)> = None;
    for i in candidates {
        let s = scoring.score(&examples[i], i, req);
        if let Some(score) = s.score {
            best = match best {
                None => Some((score, i)),
                Some((b, _)) if score > b => Some((score, i)),
                Some((b, k)) if score == b => Some((b, prefer(examples, k, i))),
                keep => keep,
            };
        }
        scored.push(s);
    }
    match best {
        Some((score, i)) => (Choice::Example(i), Some(score)),
        None if pool.is_some() => (Choice::NotFound(Vec::new()), None),
        None => {
            for s in &mut scored {
                s.distance = path_distance(&examples[s.index].path, req.path);
            }
            scored.sort_by_key(|s| (std::cmp::Reverse(s.score), s.distance, s.index));
            (Choice::NotFound(scored), None)
        }
    }
}

/// Steps 2 and 3: the examples of `pool` (or all) with the request's method and, with
/// `x-mock-response-code`, that status.
fn narrow(examples: &[Example], pool: Option<&[usize]>, req: &MockRequest<'_>) -> Vec<usize> {
    let of_method = |&i: &usize| examples[i].method.eq_ignore_ascii_case(req.method);
    let mut candidates: Vec<usize> = match pool {
        Some(pool) => pool.iter().copied().filter(of_method).collect(),
        None => (0..examples.len()).filter(of_method).collect(),
    };
    if let Some(code) = req
        .header("x-mock-response-code")
        .and_then(|c| c.trim().parse::<u16>().ok())
    {
        candidates.retain(|&i| examples[i].code == code);
    }
    candidates
}

/// Steps 4 to 6 for one request: the switches it and the options turn on, ready to
/// score each example.
struct Scoring<'o> {
    match_headers: Vec<String>,
    match_body: bool,
    req_query: Vec<(String, String)>,
    rules: &'o Rules,
}

impl<'o> Scoring<'o> {
    fn new(req: &MockRequest<'_>, opts: &'o MatchOptions) -> Self {
        let mut match_headers = opts.match_headers.clone();
        if let Some(list) = req.header("x-mock-match-request-headers") {
            match_headers.extend(
                list.split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty()),
            );
        }
        match_headers.retain(|h| !opts.rules.ignores_header(h));
        let match_body = opts.match_body
            || req
                .header("x-mock-match-request-body")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let rules = &*opts.rules;
        Self {
            match_headers,
            match_body,
            req_query: kept_query(&req.query, rules),
            rules,
        }
    }

    /// The example's score, or the step that dropped it.
    fn score(&self, e: &Example, index: usize, req: &MockRequest<'_>) -> Scored {
        let dropped = |note: String| Scored {
            index,
            score: None,
            note,
            // Filled in only when nothing matches: it ranks the misses.
            distance: 0,
        };
        let Some((path, how)) = path_score(&e.path, e.trailing_slash, req.path) else {
            return dropped("path does not match".into());
        };
        let mut score = path + query_score(&kept_query(&e.query, self.rules), &self.req_query);
        if !self.match_headers.is_empty() && !headers_match(e, req, &self.match_headers) {
            return dropped(format!(
                "headers differ ({})",
                self.match_headers.join(", ")
            ));
        }
        let same_body = body_matches(e, req, self.rules);
        if self.match_body && !same_body {
            return dropped("body differs".into());
        }
        if !self.match_body && same_body && !req.body.is_empty() {
            score += 5;
        }
        Scored {
            index,
            score: Some(score),
            note: how.into(),
            distance: 0,
        }
    }
}

/// Query parameters minus those the rules ignore.
fn kept_query(query: &[(String, String)], rules: &Rules) -> Vec<(String, String)> {
    query
        .iter()
        .filter(|(k, _)| !rules.ignores_query(k))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
