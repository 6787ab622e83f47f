//! HAR storage: the lenient reader on real exports, round trips, attach and zip layouts,
//! hostile archives and `_file` escapes, the crash journal, and bad input at the CLI.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use harp::har::{self, HarError, ReadLimits, Storage};
use serde_json::Value;

use crate::harness::*;

/// Every file under fixtures/har with what reading it must give: an entry count, or the
/// start of the error.
const FIXTURES: &[(&str, Result<usize, &str>)] = &[
    ("harviewer/data-url.har", Ok(1)),
    ("harviewer/issue-21__post-empty-post-data.har", Ok(1)),
    ("harviewer/issue-61__ie11.fiddler.har", Ok(11)),
    ("harviewer/issue-62__svg.base64.har", Ok(1)),
    ("harviewer/multiple-pages.har", Ok(9)),
    (
        "harviewer/not-valid.har",
        Err("not a HAR: \"log\" has no \"entries\" array"),
    ),
    (
        "mitmproxy/corrupted_har__brokenfile.har",
        Err("invalid JSON at line 5, column 1"),
    ),
    ("mitmproxy/flows__compressed.zhar", Ok(2)),
    ("mitmproxy/flows__corrupted_gzip_body.har", Ok(1)),
    ("mitmproxy/flows__diff_data.har", Ok(5)),
    ("mitmproxy/flows__error_log.har", Ok(2)),
    ("mitmproxy/flows__websocket.har", Ok(3)),
    ("mitmproxy/har_files__charles.har", Ok(1)),
    ("mitmproxy/har_files__chrome.har", Ok(3)),
    ("mitmproxy/har_files__firefox.har", Ok(14)),
    ("mitmproxy/har_files__insomnia.har", Ok(1)),
    ("mitmproxy/har_files__safari.har", Ok(19)),
    ("mitmproxy/har_files__with-bom.har", Ok(1)),
    ("pagexray/browsertime-recalculate-style.har", Ok(7)),
    ("pagexray/en.wikipedia.org.spdy-wpt.har", Ok(102)),
    ("pagexray/redirect-and-redirect-back.har", Ok(50)),
    ("playwright/har-fulfill.har", Ok(5)),
    ("playwright/har-redirect.har", Ok(3)),
    ("playwright/har-sha1.har", Ok(1)),
    ("playwright/har-unstable-network.har", Ok(2)),
    ("playwright/har-url-matcher.har", Ok(5)),
    ("pollyjs/node-fetch-gzip-hexchunks.har", Ok(1)),
    ("pollyjs/node-http-binary-https.har", Ok(1)),
    ("pollyjs/puppeteer-request-order.har", Ok(10)),
];

fn fixture(rel: &str) -> PathBuf {
    fixtures().join("har").join(rel)
}

/// Fixtures are read-only and shared: copy one into a temp dir before anything might
/// write beside it (journal recovery never should, but the tests must not depend on it).
fn har_files() -> Vec<String> {
    let root = fixtures().join("har");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if matches!(
                f.extension().and_then(|e| e.to_str()),
                Some("har" | "zhar" | "zip")
            ) {
                out.push(f.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_fixture_loads_with_its_entry_count_or_is_refused_by_name() {
    let listed: Vec<String> = FIXTURES.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        har_files(),
        listed,
        "a fixture was added or removed: update FIXTURES"
    );
    for (rel, expected) in FIXTURES {
        let path = fixture(rel);
        let result = har::read_har_file(&path).and_then(|f| f.validate_bodies().map(|_| f));
        match (result, expected) {
            (Ok(file), Ok(count)) => assert_eq!(file.har.log.entries.len(), *count, "{rel}"),
            (Err(err), Err(start)) => {
                let text = err.to_string();
                assert!(
                    text.contains(rel),
                    "{rel}: error does not name the file: {text}"
                );
                assert!(text.contains(start), "{rel}: {text}");
            }
            (Ok(_), Err(_)) => panic!("{rel} loaded but should be refused"),
            (Err(err), Ok(_)) => panic!("{rel}: {err}"),
        }
    }
}

#[test]
fn fixture_details_survive_the_lenient_reader() {
    // Playwright's _file sidecar.
    let f = har::read_har_file(&fixture("playwright/har-sha1.har")).unwrap();
    assert_eq!(f.response_body(0).unwrap().as_ref(), b"Hello, world");
    // Base64 SVG with a content-encoding header over an already decoded body.
    let f = har::read_har_file(&fixture("harviewer/issue-62__svg.base64.har")).unwrap();
    assert!(String::from_utf8_lossy(&f.response_body(0).unwrap()).contains("<svg"));
    // zlib-compressed .zhar.
    let f = har::read_har_file(&fixture("mitmproxy/flows__compressed.zhar")).unwrap();
    assert_eq!(f.har.log.entries.len(), 2);
    // Status -1 entries are loaded and marked incomplete.
    let f = har::read_har_file(&fixture("playwright/har-unstable-network.har")).unwrap();
    assert!(f.har.log.entries[0].is_incomplete());
    assert!(!f.har.log.entries[1].is_incomplete());
    // Glob-looking URLs are kept as strings.
    let f = har::read_har_file(&fixture("playwright/har-url-matcher.har")).unwrap();
    assert!(f
        .har
        .log
        .entries
        .iter()
        .any(|e| e.request.url.contains('*')));
    // HAR 1.1 with postData params and no text.
    let f = har::read_har_file(&fixture("harviewer/multiple-pages.har")).unwrap();
    assert_eq!(f.har.log.version, "1.1");
    assert!(f.har.log.entries.iter().any(|e| e
        .request
        .post_data
        .as_ref()
        .is_some_and(|p| p.params.is_some())));
}

/// Every `_`-prefixed key anywhere in `value`, with its JSON path and value.
fn underscore_fields(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{path}/{k}");
                if k.starts_with('_') {
                    out.insert(p.clone(), v.clone());
                }
                underscore_fields(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                underscore_fields(v, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn read_write_read_keeps_every_unknown_and_underscore_field() {
    let dir = tempfile::tempdir().unwrap();
    for (rel, expected) in FIXTURES {
        if expected.is_err() {
            continue;
        }
        let loaded = har::read_har_file(&fixture(rel)).unwrap();
        let first = loaded.har.clone();
        // Sidecar payloads go along, as a user copying the HAR would copy them.
        for (i, e) in first.log.entries.iter().enumerate() {
            if let Some(name) = &e.response.content.file {
                std::fs::write(dir.path().join(name), loaded.response_body(i).unwrap()).unwrap();
            }
        }
        let out = dir.path().join("copy.har");
        har::save(&out, &first, Storage::Embed).unwrap();
        let second = har::read_har_file(&out).unwrap().har;
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            serde_json::to_value(&second).unwrap(),
            "{rel}: round trip changed the document"
        );
        // Against the original bytes: every `_` field is still there, unchanged.
        let mut raw = std::fs::read(fixture(rel)).unwrap();
        if rel.ends_with(".zhar") {
            let mut inflated = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::ZlibDecoder::new(&raw[..]),
                &mut inflated,
            )
            .unwrap();
            raw = inflated;
        }
        let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw);
        let original: Value = serde_json::from_slice(raw).unwrap();
        let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
        underscore_fields(&original, String::new(), &mut a);
        underscore_fields(&written, String::new(), &mut b);
        assert_eq!(a, b, "{rel}: `_` fields changed");
        // Unknown non-underscore fields at the log level too.
        let known = [
            "version", "creator", "browser", "pages", "entries", "comment",
        ];
        for (k, v) in original["log"].as_object().unwrap() {
            if !known.contains(&k.as_str()) {
                assert_eq!(&written["log"][k], v, "{rel}: log.{k}");
            }
        }
    }
}

#[test]
fn the_schema_check_is_not_vacuous() {
    let result = std::panic::catch_unwind(|| {
        assert_valid_har(br#"{"log":{"version":"1.2","entries":[{"request":{}}]}}"#)
    });
    assert!(result.is_err());
}

#[tokio::test]
async fn attach_mode_stores_each_body_once_beside_the_har() {
    let origin = Origin::start().await;
    let harp = Harp::start(&["record", "--har", "att.har", "--content", "attach"]).await;
    let client = harp.client(Http::One);
    for _ in 0..2 {
        client
            .get(origin.http_url("/api/users"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    client
        .get(origin.http_url("/bin"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    client
        .post(origin.http_url("/api/echo"))
        .header("content-type", "application/json")
        .body("{\"a\":1}")
        .send()
        .await
        .unwrap();
    let stopped = harp.stop().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let json = std::fs::read(stopped.dir.join("att.har")).unwrap();
    assert_valid_har(&json);
    let value: Value = serde_json::from_slice(&json).unwrap();
    let e = entries(&value);
    assert_eq!(e.len(), 4);
    let users_file = e[0]["response"]["content"]["_file"].as_str().unwrap();
    assert!(
        users_file.ends_with(".json") && users_file.len() == 45,
        "{users_file}"
    );
    assert_eq!(
        e[1]["response"]["content"]["_file"], users_file,
        "same body, same file"
    );
    assert!(e[0]["response"]["content"].get("text").is_none());
    assert!(e[2]["response"]["content"]["_file"]
        .as_str()
        .unwrap()
        .ends_with(".png"));
    let post_file = e[3]["request"]["postData"]["_file"].as_str().unwrap();
    assert_eq!(
        std::fs::read(stopped.dir.join(post_file)).unwrap(),
        b"{\"a\":1}"
    );
    let mut files: Vec<String> = std::fs::read_dir(&stopped.dir)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "certs")
        .collect();
    files.sort();
    // att.har, the users JSON, the PNG, the posted JSON and the echoed JSON (same bytes as
    // the post, same name): four files and the HAR, no journal left.
    assert_eq!(files.len(), 4, "{files:?}");
    let file = har::read_har_file(&stopped.dir.join("att.har")).unwrap();
    assert_eq!(file.response_body(2).unwrap().as_ref(), PNG);
    assert_eq!(
        file.request_body(3).unwrap().unwrap().as_ref(),
        b"{\"a\":1}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_output_is_playwrights_layout_and_reads_back() {
    let origin = Origin::start().await;
    let harp = Harp::start(&["record", "--har", "rec.zip"]).await;
    let client = harp.client(Http::One);
    assert_eq!(
        client
            .get(origin.http_url("/page"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(origin.http_url("/bin"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let stopped = harp.stop().await;
    assert_eq!(
        stopped.code,
        Some(0),
        "{}\n{}",
        stopped.stdout,
        stopped.stderr
    );
    let zip_path = stopped.dir.join("rec.zip");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"har.har".to_string()));
    assert!(names.iter().all(|n| !n.contains('/')), "flat layout");
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name("har.har").unwrap(), &mut json).unwrap();
    assert_valid_har(&json);
    let file = har::read_har_file(&zip_path).unwrap();
    assert_eq!(file.response_body(0).unwrap().as_ref(), b"<h1>hi</h1>");
    assert_eq!(file.response_body(1).unwrap().as_ref(), PNG);
    // `harp check` reads it too.
    let out = run_harp(&stopped.dir, &["check", "rec.zip"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("ok, 2 entries"), "{}", out.stdout);
}

fn write_zip(path: &Path, files: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

const ONE_ENTRY: &str = r#"{"log":{"version":"1.2","creator":{"name":"t","version":"1"},"entries":[
 {"startedDateTime":"2024-01-01T00:00:00.000Z","time":1,
  "request":{"method":"GET","url":"http://x/","httpVersion":"HTTP/1.1","cookies":[],"headers":[],"queryString":[],"headersSize":-1,"bodySize":0},
  "response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","cookies":[],"headers":[],
   "content":{"size":5,"mimeType":"text/plain","_file":"FILE"},"redirectURL":"","headersSize":-1,"bodySize":5},
  "cache":{},"timings":{"send":0,"wait":1,"receive":0}}]}}"#;

fn har_with_file(file: &str) -> String {
    ONE_ENTRY.replace("FILE", file)
}

#[test]
fn decompression_bombs_are_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 64 << 20];
    let limits = ReadLimits {
        max_json: 1 << 20,
        max_payload: 1 << 20,
        max_total: 2 << 20,
    };
    // The HAR itself is the bomb.
    let bomb = dir.path().join("bomb.zip");
    write_zip(&bomb, &[("har.har", &zeros)]);
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let started = std::time::Instant::now();
    let err = har::read_har_file_with(&bomb, &limits).unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert!(
        err.to_string()
            .contains("declares 67108864 bytes uncompressed, over the 2097152-byte limit"),
        "the archive's declared total is checked before anything inflates: {err}"
    );
    let generous = ReadLimits {
        max_total: 1 << 30,
        ..limits.clone()
    };
    let err = har::read_har_file_with(&bomb, &generous).unwrap_err();
    assert!(
        err.to_string().contains("over the 1048576-byte limit"),
        "{err}"
    );
    // A payload is the bomb.
    let bomb = dir.path().join("payload-bomb.zip");
    write_zip(
        &bomb,
        &[
            ("har.har", har_with_file("big.dat").as_bytes()),
            ("big.dat", &zeros),
        ],
    );
    let err = har::read_har_file_with(&bomb, &generous).unwrap_err();
    assert!(matches!(err, HarError::Entry { index: 0, .. }), "{err}");
    assert!(err.to_string().contains("big.dat"), "{err}");
    // A zlib .zhar bomb.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&zeros).unwrap();
    let zhar = dir.path().join("bomb.zhar");
    std::fs::write(&zhar, z.finish().unwrap()).unwrap();
    let err = har::read_har_file_with(&zhar, &limits).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}

#[test]
fn file_references_never_leave_the_har_folder() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("link.txt"),
    )
    .unwrap();
    let secret = outside.path().join("secret.txt").display().to_string();
    let cases: Vec<(String, &str)> = vec![
        ("../secret.txt".into(), "climbs out"),
        (secret.clone(), "absolute path"),
        ("link.txt".into(), "outside the HAR's folder"),
        ("adir".into(), "not a regular file"),
        ("missing.txt".into(), "missing.txt"),
    ];
    for (file, reason) in cases {
        let path = dir.path().join("x.har");
        std::fs::write(&path, har_with_file(&file.replace('\\', "\\\\"))).unwrap();
        let err = har::read_har_file(&path).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, HarError::Entry { index: 0, .. }),
            "{file}: {text}"
        );
        assert!(
            text.contains("x.har") && text.contains("entry 0") && text.contains(reason),
            "{file}: {text}"
        );
        assert!(!text.contains("top secret"));
    }
    // Inside an archive: exact names only, no climbing.
    let zip_path = dir.path().join("z.zip");
    write_zip(
        &zip_path,
        &[("har.har", har_with_file("../secret.txt").as_bytes())],
    );
    let err = har::read_har_file(&zip_path).unwrap_err();
    assert!(err.to_string().contains("climbs out"), "{err}");
}

#[test]
fn bad_input_exits_2_with_one_line_naming_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let full = std::fs::read_to_string(fixture("playwright/har-fulfill.har")).unwrap();
    std::fs::write(d.join("truncated.har"), &full[..full.len() / 2]).unwrap();
    std::fs::write(d.join("missing-payload.har"), har_with_file("gone.txt")).unwrap();
    std::fs::create_dir(d.join("dir-payload")).unwrap();
    std::fs::write(d.join("dir.har"), har_with_file("dir-payload")).unwrap();
    write_zip(&d.join("nohar.zip"), &[("readme.txt", b"hello")]);
    std::fs::write(d.join("notzip.zip"), b"just text").unwrap();
    let cases = [
        ("truncated.har", "invalid JSON at line"),
        ("missing-payload.har", "entry 0: _file \"gone.txt\""),
        ("dir.har", "entry 0: _file \"dir-payload\""),
        ("nohar.zip", "holds no .har file"),
        ("notzip.zip", "not a readable zip archive"),
        ("absent.har", "absent.har"),
    ];
    for (file, expect) in cases {
        let out = run_harp(d, &["check", file]);
        assert_eq!(out.code, Some(2), "{file}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim_end().lines().count(),
            1,
            "{file}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(file) && out.stderr.contains(expect),
            "{file}: {}",
            out.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_finished_exchange() {
    let origin = Origin::start().await;
    let mut harp = Harp::start(&["record", "--har", "crash.har"]).await;
    let client = harp.client(Http::One);
    for i in 0..3 {
        let r = client
            .get(origin.http_url(&format!("/n/{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let journal = harp.path("crash.har.harp-journal");
    assert_eq!(
        String::from_utf8(journal_lines(&journal))
            .unwrap()
            .lines()
            .count(),
        4,
        "header + 3 exchanges"
    );
    harp.kill().await; // SIGKILL
    assert!(!harp.path("crash.har").exists());

    // Any harp command on the path folds the journal in.
    let out = run_harp(harp.dir.path(), &["check", "crash.har"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("recovered 3 exchange(s)"),
        "{}",
        out.stdout
    );
    assert!(!journal.exists());
    let urls: Vec<String> = entries(&read_har(&harp.path("crash.har")))
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        urls,
        (0..3)
            .map(|i| origin.http_url(&format!("/n/{i}")))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_new_recording_after_a_crash_resumes_and_append_adds() {
    let origin = Origin::start().await;
    let mut first = Harp::start(&["record", "--har", "r.zip"]).await;
    first
        .client(Http::One)
        .get(origin.http_url("/bin"))
        .send()
        .await
        .unwrap();
    first.kill().await;
    let dir = std::mem::replace(&mut first.dir, tempfile::tempdir().unwrap());
    drop(first);

    let second = Harp::start_in(dir, &["record", "--har", "r.zip"]).await;
    assert!(
        second.first_line.contains("recovered 1 exchange(s)"),
        "{}",
        second.first_line
    );
    second
        .client(Http::One)
        .get(origin.http_url("/page"))
        .send()
        .await
        .unwrap();
    let stopped = second.stop().await;
    assert!(
        stopped.stdout.contains("recovered 1 exchange(s)"),
        "{}",
        stopped.stdout
    );
    assert!(
        stopped.stdout.contains("recorded 2 exchange(s)"),
        "{}",
        stopped.stdout
    );
    let file = har::read_har_file(&stopped.dir.join("r.zip")).unwrap();
    assert_eq!(file.response_body(0).unwrap().as_ref(), PNG);
    assert_eq!(file.response_body(1).unwrap().as_ref(), b"<h1>hi</h1>");

    // --append adds to a finished HAR; without it the HAR is replaced.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(stopped.dir.join("r.zip"), tmp.path().join("r.zip")).unwrap();
    let third = Harp::start_in(tmp, &["record", "--har", "r.zip", "--append"]).await;
    third
        .client(Http::One)
        .get(origin.http_url("/api/users"))
        .send()
        .await
        .unwrap();
    let stopped = third.stop().await;
    assert!(
        stopped.stdout.contains("recorded 3 exchange(s)"),
        "{}",
        stopped.stdout
    );
    let file = har::read_har_file(&stopped.dir.join("r.zip")).unwrap();
    assert_eq!(file.response_body(0).unwrap().as_ref(), PNG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_appending_then_check_replay_and_record_work() {
    let origin = Origin::start().await;
    // A HAR with two entries.
    let first = Harp::start(&["record", "--har", "app.har"]).await;
    for i in 0..2 {
        first
            .client(Http::One)
            .get(origin.http_url(&format!("/old/{i}")))
            .send()
            .await
            .unwrap();
    }
    let dir = first.stop().await.into_dir();
    // Appending, killed mid-way.
    let mut second = Harp::start_in(dir, &["record", "--har", "app.har", "--append"]).await;
    second
        .client(Http::One)
        .get(origin.http_url("/new/0"))
        .send()
        .await
        .unwrap();
    second.kill().await; // SIGKILL
    assert!(
        second.path("app.har.harp-lock").exists(),
        "a stale lock is left"
    );
    let dir = std::mem::replace(&mut second.dir, tempfile::tempdir().unwrap());
    drop(second);

    // No stack overflow: check folds the journal in, keeping the old entries.
    let out = run_harp(dir.path(), &["check", "app.har"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("recovered 1 exchange(s)"),
        "{}",
        out.stdout
    );
    let urls: Vec<String> = entries(&read_har(&dir.path().join("app.har")))
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        urls,
        vec![
            origin.http_url("/old/0"),
            origin.http_url("/old/1"),
            origin.http_url("/new/0")
        ]
    );
    // A new recording takes the stale lock over.
    let third = Harp::start_in(dir, &["record", "--har", "app.har", "--append"]).await;
    let stopped = third.stop().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert_eq!(entries(&read_har(&stopped.dir.join("app.har"))).len(), 3);
    assert!(!stopped.dir.join("app.har.harp-lock").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_recorder_on_the_same_har_is_refused_naming_the_first() {
    let origin = Origin::start().await;
    let first = Harp::start(&["record", "--har", "one.har"]).await;
    first
        .client(Http::One)
        .get(origin.http_url("/a"))
        .send()
        .await
        .unwrap();
    let pid = first.pid();
    let out = run_harp(
        first.dir.path(),
        &["record", "--har", "one.har", "--listen", "127.0.0.1:0"],
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("process {pid}")),
        "{}",
        out.stderr
    );
    // Reading the HAR meanwhile leaves the live journal alone.
    let out = run_harp(first.dir.path(), &["check", "one.har"]);
    assert_ne!(out.code, Some(0), "no HAR yet: {}", out.stdout);
    assert!(first.path("one.har.harp-journal").exists());
    let stopped = first.stop().await;
    assert_eq!(entries(&read_har(&stopped.dir.join("one.har"))).len(), 1);
}

#[test]
fn fifos_devices_and_bombs_are_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("f.har");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let out = run_harp(dir.path(), &["check", "f.har"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    let out = run_harp(dir.path(), &["check", "/dev/zero"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    // A .zhar that would inflate 80 MiB (past the 64 MiB floor) from far less than 1/200
    // of that is refused at the ratio bound, not inflated whole.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(b"{\"log\":{\"entries\":[],\"x\":\"").unwrap();
    let zeros = vec![b'0'; 1 << 20];
    for _ in 0..80 {
        z.write_all(&zeros).unwrap();
    }
    std::fs::write(dir.path().join("bomb.zhar"), z.finish().unwrap()).unwrap();
    let started = std::time::Instant::now();
    let out = run_harp(dir.path(), &["check", "bomb.zhar"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("decompression bomb"), "{}", out.stderr);
    eprintln!("bomb refused in {:?}", started.elapsed());
}
