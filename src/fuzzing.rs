//! Entry points for the fuzz targets in `fuzz/` and for the regression tests that replay
//! the inputs they found (`tests/fuzz_regressions/`): one function per target, so both
//! run exactly the same code. Each must never panic, whatever the bytes.

use std::path::Path;

use crate::collection::matcher::{choose, choose_indexed, MatchOptions, MockRequest};
use crate::collection::{model, Examples, Variables};
use crate::har::{parse_har, read_har_file_with, HarFile, ReadLimits};
use crate::replay::{diagnose, Asked, Index, ReplayOptions, Replayer};
use crate::rules::{Canon, RuleSpec, Rules};

/// The lenient HAR reader, then replay's index and the converter over what it accepts;
/// and the entry splitter that streaming reads use, against a whole parse.
pub fn har_json(data: &[u8]) {
    let path = Path::new("fuzz.har");
    if let Ok(har) = parse_har(data, path) {
        let file = HarFile::from_har(har, path.to_path_buf());
        let _ = Index::new(&file, Rules::default());
        let _ = crate::collection::convert::har_to_collection(&file, "fuzz");
    }
    split_agrees(data);
}

/// When the splitter accepts a document and every entry it found parses as JSON, the
/// whole document parses too, with exactly those entries, and the rest of it is the
/// splitter's envelope. (Where it gives up, the plain reader decides.)
fn split_agrees(data: &[u8]) {
    use serde_json::Value;
    let mut entries = Vec::new();
    let mut parsed = true;
    let split = crate::har::split::split(data, u64::MAX, |batch| {
        for range in batch.entries {
            match serde_json::from_slice::<Value>(&batch.text[range]) {
                Ok(entry) => entries.push(entry),
                Err(_) => parsed = false,
            }
        }
        true
    });
    let Ok(split) = split else { return };
    let Ok(envelope) = serde_json::from_slice::<Value>(&split.envelope) else {
        return;
    };
    if !parsed {
        return;
    }
    let text = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let mut whole: Value =
        serde_json::from_slice(text).expect("the splitter accepted what a whole parse refuses");
    assert_eq!(whole["log"]["entries"], Value::Array(entries), "entries");
    whole["log"]["entries"] = Value::Array(Vec::new());
    assert_eq!(whole, envelope, "envelope");
}

/// The bytes read as a `.zip` archive and as a zlib `.zhar`, under small limits.
pub fn har_archive(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let limits = ReadLimits {
        max_json: 1 << 20,
        max_payload: 1 << 20,
        max_total: 4 << 20,
    };
    for name in ["a.zip", "a.zhar"] {
        let path = dir.path().join(name);
        if std::fs::write(&path, data).is_ok() {
            let _ = read_har_file_with(&path, &limits);
        }
    }
}

/// The lenient collection reader on arbitrary JSON.
pub fn collection(data: &[u8]) {
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = model::examples_from(&doc, &Variables::default());
    }
}

/// Glob compilation and matching: the first line is the glob, the rest the URL.
pub fn glob(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (glob, url) = text
        .split_once('\n')
        .unwrap_or((text, "https://example.com/"));
    if let Ok(globs) = crate::glob::UrlGlobs::new(&[glob]) {
        let _ = globs.is_match(url);
    }
}

/// A replayer over `har` (HAR JSON) for [`replay_matcher`].
pub fn replayer_for(har: &[u8]) -> Option<Replayer> {
    let har = parse_har(har, Path::new("fuzz.har")).ok()?;
    let mut spec = RuleSpec::default();
    spec.matching.ignore_query = vec!["t".into()];
    spec.matching.ignore_json = vec!["$.id".into(), "/items/*/ts".into()];
    let rules = Rules::compile(&spec).ok()?;
    let index = Index::new(&HarFile::from_har(har, "fuzz.har".into()), rules).ok()?;
    let options = ReplayOptions {
        follow_redirects: true,
        ..ReplayOptions::default()
    };
    Some(Replayer::new(index, options))
}

/// Replay's lookup and near-miss ranking for a request `METHOD\nURL\nBODY`.
pub fn replay_matcher(replayer: &Replayer, data: &[u8]) {
    let (method, target, body) = three_parts(data);
    let headers = vec![("content-type".to_string(), "application/json".to_string())];
    let canon = Canon::of("application/json", body, &replayer.index().rules);
    let req = Asked {
        method: &method,
        url: &target,
        headers: &headers,
        body,
        canon: Some(&canon),
    };
    let _ = replayer.find(&req);
    let index = replayer.index();
    let _ = diagnose::nearest(&index.recorded, index.neighbours(), &index.rules, &req, 3);
}

/// Examples of a collection (JSON) for [`mock_matcher`].
pub fn examples_for(collection: &[u8]) -> Option<Examples> {
    let doc = serde_json::from_slice(collection).ok()?;
    model::examples_from(&doc, &Variables::default()).ok()
}

/// The Postman mock matcher for a request `METHOD\nPATH?QUERY\nBODY`.
pub fn mock_matcher(examples: &Examples, data: &[u8]) {
    let (method, target, body) = three_parts(data);
    let headers = vec![("x-mock-match-request-body".to_string(), "true".to_string())];
    let req = MockRequest::new(&method, &target, &headers, body);
    let opts = MatchOptions {
        match_body: true,
        match_headers: vec!["content-type".into()],
        ..MatchOptions::default()
    };
    let full = choose(&examples.examples, &req, &opts);
    let indexed = choose_indexed(&examples.examples, &examples.index, &req, &opts);
    assert_eq!(full, indexed, "the index changed the mock's answer");
    let plain = MatchOptions::default();
    assert_eq!(
        choose(&examples.examples, &req, &plain),
        choose_indexed(&examples.examples, &examples.index, &req, &plain),
        "the index changed the mock's answer"
    );
}

fn three_parts(data: &[u8]) -> (String, String, &[u8]) {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let method = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let target = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    (method, target, parts.next().unwrap_or_default())
}

/// The rules on arbitrary bytes: the text as `harp.toml`, each line as a JSON path (then
/// applied to the rest as JSON), the whole as a GraphQL query and as a request body.
pub fn rules(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::rules::config::parse(&text, Path::new("harp.toml"));
    let _ = crate::rules::graphql::normalise(&text);
    let _ = crate::rules::graphql::declared_name(&text);
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(path) = crate::rules::JsonPath::parse(first) {
        if let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(rest) {
            let before = doc.clone();
            path.replace(&mut doc, &serde_json::Value::Null);
            path.remove(&mut doc);
            let _ = crate::rules::json_path::differences(&before, &doc);
        }
    }
    let _ = crate::rules::json_path::generalise(first);
    let mut spec = RuleSpec::default();
    spec.matching.ignore_json = vec!["$.a".into(), "/b/*".into()];
    if let Ok(rules) = Rules::compile(&spec) {
        for ct in [
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ] {
            let canon = Canon::of(ct, data, &rules);
            let _ = canon.matches(&canon);
            let _ = canon.graphql_operation();
        }
        let _ = rules.match_url(&text);
    }
}
