//! `harp replay` and `harp run` end to end.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::harness::*;

const MULTIPART_A: &str = "multipart/form-data; boundary=XXAAAXX";
const MULTIPART_B: &str = "multipart/form-data; boundary=YYBBBYY";

fn multipart(boundary: &str) -> Vec<u8> {
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\nBINARY\u{1}\u{2}\r\n--{boundary}--\r\n"
    )
    .into_bytes()
}

/// One request of the session, and what the client saw.
struct Seen {
    what: &'static str,
    status: u16,
    body: Vec<u8>,
    content_type: Option<String>,
    set_cookies: usize,
}

async fn session(harp: &Harp, origin: &Origin, multipart_type: &str, boundary: &str) -> Vec<Seen> {
    let h2 = harp.decoding_client(Http::Negotiated);
    let h1 = harp.decoding_client(Http::One);
    let mut seen = Vec::new();
    let push = |what: &'static str, r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let set_cookies = r.headers().get_all("set-cookie").iter().count();
        let body = r.bytes().await.unwrap().to_vec();
        Seen {
            what,
            status,
            body,
            content_type,
            set_cookies,
        }
    };
    seen.push(
        push(
            "json h2",
            h2.get(origin.https_url("/api/users")).send().await.unwrap(),
        )
        .await,
    );
    seen.push(
        push(
            "html h1",
            h1.get(origin.http_url("/page")).send().await.unwrap(),
        )
        .await,
    );
    seen.push(
        push(
            "binary",
            h2.get(origin.https_url("/bin")).send().await.unwrap(),
        )
        .await,
    );
    seen.push(
        push(
            "gzip",
            h2.get(origin.https_url("/gzip")).send().await.unwrap(),
        )
        .await,
    );
    seen.push(push("br", h1.get(origin.https_url("/br")).send().await.unwrap()).await);
    seen.push(
        push(
            "cookies",
            h1.get(origin.http_url("/cookies")).send().await.unwrap(),
        )
        .await,
    );
    seen.push(
        push(
            "redirect chain",
            h2.get(origin.https_url("/r1")).send().await.unwrap(),
        )
        .await,
    );
    seen.push(
        push(
            "post json",
            h2.post(origin.https_url("/api/echo"))
                .header("content-type", "application/json")
                .body(r#"{"n":1}"#)
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    seen.push(
        push(
            "post json 2",
            h2.post(origin.https_url("/api/echo"))
                .header("content-type", "application/json")
                .body(r#"{"n":2}"#)
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    seen.push(
        push(
            "multipart",
            h1.post(origin.https_url("/upload"))
                .header("content-type", multipart_type)
                .body(multipart(boundary))
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    seen.push(
        push(
            "counter 1",
            h1.get(origin.http_url("/counter")).send().await.unwrap(),
        )
        .await,
    );
    seen.push(
        push(
            "counter 2",
            h1.get(origin.http_url("/counter")).send().await.unwrap(),
        )
        .await,
    );
    seen
}

async fn replay_in(dir: tempfile::TempDir, extra: &[&str]) -> Harp {
    let mut args = vec!["replay", "--har", "rec.har"];
    args.extend_from_slice(extra);
    Harp::start_in(dir, &args).await
}

#[tokio::test]
async fn recorded_session_replays_byte_for_byte_with_no_network() {
    let origin = Origin::start().await;
    let ca = origin.ca_file.display().to_string();
    let recorder = Harp::start(&["record", "--har", "rec.har", "--upstream-ca", &ca]).await;
    let recorded = session(&recorder, &origin, MULTIPART_A, "XXAAAXX").await;
    assert_eq!(recorded[10].body, b"count 1");
    assert_eq!(recorded[11].body, b"count 2");
    let stopped = recorder.stop().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let dir = stopped.into_dir();
    let before = origin.connections.load(Ordering::SeqCst);

    // Default: the first matching entry, always.
    let replayer = replay_in(dir, &[]).await;
    let replayed = session(&replayer, &origin, MULTIPART_B, "YYBBBYY").await;
    for (r, p) in recorded.iter().zip(&replayed) {
        assert_eq!(r.status, p.status, "{}", r.what);
        if r.what != "counter 2" {
            assert_eq!(
                r.body,
                p.body,
                "{}: {:?} vs {:?}",
                r.what,
                String::from_utf8_lossy(&r.body),
                String::from_utf8_lossy(&p.body)
            );
        }
        assert_eq!(r.content_type, p.content_type, "{}", r.what);
        assert_eq!(r.set_cookies, p.set_cookies, "{}", r.what);
    }
    assert_eq!(
        replayed[11].body, b"count 1",
        "without --sequence the first entry repeats"
    );
    assert_eq!(
        recorded[6].body, br#"{"users":["ada","linus"]}"#,
        "the chain was followed when recording"
    );
    // gzip and br bodies arrive decoded, with no content-encoding the body does not have.
    let raw = replayer
        .client(Http::One)
        .get(origin.https_url("/gzip"))
        .send()
        .await
        .unwrap();
    assert!(raw.headers().get("content-encoding").is_none());
    assert_eq!(raw.headers()["content-length"], "16");
    assert_eq!(raw.bytes().await.unwrap().as_ref(), b"hello gzip world");
    let stopped = replayer.stop().await;
    assert_eq!(stopped.code, Some(0));
    assert!(stopped.stdout.contains("unmatched 0"), "{}", stopped.stdout);
    assert_eq!(
        origin.connections.load(Ordering::SeqCst),
        before,
        "replay opened an upstream connection"
    );

    // --sequence: recorded order, the last one repeating.
    let replayer = replay_in(stopped.into_dir(), &["--sequence"]).await;
    let client = replayer.client(Http::One);
    for expected in ["count 1", "count 2", "count 2"] {
        let body = client
            .get(origin.http_url("/counter"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, expected);
    }
    let stopped = replayer.stop().await;

    // --follow-redirects: the final response straight away; without it, the 302.
    let no_follow = |h: &Harp| {
        h.client_builder(Http::Negotiated)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    let replayer = replay_in(stopped.into_dir(), &["--follow-redirects"]).await;
    let r = no_follow(&replayer)
        .get(origin.https_url("/r1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"users":["ada","linus"]}"#);
    let stopped = replayer.stop().await;
    let replayer = replay_in(stopped.into_dir(), &[]).await;
    let r = no_follow(&replayer)
        .get(origin.https_url("/r1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "r2");
    replayer.stop().await;
    assert_eq!(origin.connections.load(Ordering::SeqCst), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misses_are_explained_logged_and_summarised() {
    let origin = Origin::start().await;
    let ca = origin.ca_file.display().to_string();
    let recorder = Harp::start(&["record", "--har", "rec.har", "--upstream-ca", &ca]).await;
    let c = recorder.client(Http::Negotiated);
    c.get(origin.https_url("/api/users?page=1"))
        .send()
        .await
        .unwrap();
    c.post(origin.https_url("/api/echo"))
        .body("one")
        .send()
        .await
        .unwrap();
    c.get(origin.https_url("/loop")).send().await.unwrap_err(); // too many redirects
    let dir = recorder.stop().await.into_dir();
    let before = origin.connections.load(Ordering::SeqCst);

    let replayer = replay_in(dir, &["--follow-redirects"]).await;
    let c = replayer.client(Http::Negotiated);
    let r = c
        .get(origin.https_url("/api/users?page=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["x-harp-unmatched"], "1");
    let text = r.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "matches GET {}",
            origin.https_url("/api/users?page=2")
        )),
        "{text}"
    );
    assert!(
        text.contains("query recorded page=1; request has page=2"),
        "{text}"
    );
    let r = c
        .post(origin.https_url("/api/echo"))
        .body("two")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("body (3 bytes recorded, 3 sent, contents differ)"));
    let r = c.get(origin.https_url("/loop")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("redirect cycle"));

    let calls: serde_json::Value = c
        .get("http://harp.local/__harp/calls")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(calls["summary"]["unmatched"], 3);
    let log = calls["calls"].as_array().unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["outcome"], "unmatched");
    assert_eq!(
        log[0]["nearest"][0]["url"],
        origin.https_url("/api/users?page=1")
    );
    assert_eq!(log[2]["outcome"], "redirect-cycle");
    // The log is reachable over intercepted HTTPS too.
    let calls: serde_json::Value = c
        .get("https://harp.local/__harp/calls")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();
    // page=1, the post, and the eleven /loop hops the recording client followed.
    assert_eq!(calls["entries"], 13);

    // Plain HTTP inside a CONNECT tunnel is replayed like absolute-form HTTP: this URL
    // was never recorded, so it is a miss, counted, and no network is used.
    let mut s = TcpStream::connect(replayer.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let target = format!("127.0.0.1:{}", origin.http.port());
    s.write_all(
        format!(
            "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    while !out.contains("x-harp-unmatched: 1") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(out.contains("HTTP/1.1 502 Bad Gateway"), "{out}");
    assert!(out.contains("x-harp-unmatched: 1"), "{out}");

    let stopped = replayer.stop().await;
    assert_eq!(stopped.code, Some(0));
    assert!(
        stopped
            .stdout
            .contains("served 0 from rec.har, unmatched 4"),
        "{}",
        stopped.stdout
    );
    assert!(
        stopped.stdout.contains(&format!(
            "unmatched 1x GET {}",
            origin.https_url("/api/users?page=2")
        )),
        "{}",
        stopped.stdout
    );
    assert_eq!(origin.connections.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn fallback_and_record_missing_use_the_network() {
    let origin = Origin::start().await;
    let ca = origin.ca_file.display().to_string();
    let recorder = Harp::start(&["record", "--har", "rec.har"]).await;
    recorder
        .client(Http::One)
        .get(origin.http_url("/page"))
        .send()
        .await
        .unwrap();
    let dir = recorder.stop().await.into_dir();

    let replayer = replay_in(dir, &["--not-found", "fallback", "--upstream-ca", &ca]).await;
    let r = replayer
        .client(Http::Negotiated)
        .get(origin.https_url("/api/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stopped = replayer.stop().await;
    assert!(
        stopped.stdout.contains("forwarded (fallback) 1"),
        "{}",
        stopped.stdout
    );
    assert_eq!(
        entries(&read_har(&stopped.dir.join("rec.har"))).len(),
        1,
        "fallback does not record"
    );

    let replayer = replay_in(
        stopped.into_dir(),
        &["--record-missing", "--upstream-ca", &ca],
    )
    .await;
    let c = replayer.client(Http::Negotiated);
    assert_eq!(
        c.get(origin.https_url("/api/users"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(origin.http_url("/page"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "<h1>hi</h1>"
    );
    let stopped = replayer.stop().await;
    assert!(
        stopped.stdout.contains("rec.har now holds 2 exchange(s)"),
        "{}",
        stopped.stdout
    );

    // Now offline: both are served.
    let before = origin.connections.load(Ordering::SeqCst);
    let replayer = replay_in(stopped.into_dir(), &[]).await;
    let c = replayer.client(Http::Negotiated);
    assert_eq!(
        c.get(origin.https_url("/api/users"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        r#"{"users":["ada","linus"]}"#
    );
    replayer.stop().await;
    assert_eq!(origin.connections.load(Ordering::SeqCst), before);
}

/// Expected answer for entry `i` of a loaded HAR: (status, body), or None for a 502.
fn expectation(file: &harp::har::HarFile, i: usize) -> Option<(u16, Vec<u8>)> {
    let e = &file.har.log.entries[i];
    if e.is_incomplete() || e.response.status < 200 {
        return None;
    }
    let status = e.response.status as u16;
    let body = if matches!(status, 204 | 304) || e.request.method == "HEAD" {
        Vec::new()
    } else {
        file.response_body(i).unwrap().to_vec()
    };
    Some((status, body))
}

async fn replay_fixture(rel: &str) -> usize {
    let src = fixtures().join("har").join(rel);
    let dir = tempfile::tempdir().unwrap();
    let name = Path::new(rel)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    std::fs::copy(&src, dir.path().join(&name)).unwrap();
    if rel.ends_with("har-sha1.har") {
        std::fs::copy(
            src.with_file_name("har-sha1-main-response.txt"),
            dir.path().join("har-sha1-main-response.txt"),
        )
        .unwrap();
    }
    let file = harp::har::read_har_file(&dir.path().join(&name)).unwrap();
    let harp = Harp::start_in(dir, &["replay", "--har", &name]).await;
    let client = harp
        .client_builder(Http::Negotiated)
        .no_gzip()
        .no_brotli()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut checked = 0;
    let mut seen = std::collections::HashSet::new();
    for (i, e) in file.har.log.entries.iter().enumerate() {
        let req = &e.request;
        let body = file.request_body(i).unwrap().unwrap_or_default();
        let key = (
            req.method.clone(),
            harp::urls::normalise(&req.url),
            body.clone(),
        );
        // Only the entry replay must choose: the first complete one for this request.
        let same: Vec<usize> = file
            .har
            .log
            .entries
            .iter()
            .enumerate()
            .filter(|(j, o)| {
                (
                    o.request.method.clone(),
                    harp::urls::normalise(&o.request.url),
                    file.request_body(*j).unwrap().unwrap_or_default(),
                ) == key
            })
            .map(|(j, _)| j)
            .collect();
        let chosen = same
            .iter()
            .copied()
            .find(|&j| !file.har.log.entries[j].is_incomplete())
            .unwrap_or(same[0]);
        if chosen != i || !seen.insert(key.clone()) {
            continue;
        }
        // Glob- and regex-looking URLs (har-url-matcher) are not requests a client can send.
        if req.url.contains('\\') {
            continue;
        }
        let Ok(url) = reqwest::Url::parse(&req.url) else {
            continue;
        };
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none_or(|h| h.contains('\\'))
        {
            continue;
        }
        let Ok(method) = reqwest::Method::from_bytes(req.method.as_bytes()) else {
            continue;
        };
        let mut rb = client.request(method, url);
        if !body.is_empty() {
            if let Some(ct) = req
                .post_data
                .as_ref()
                .map(|p| p.mime_type.clone())
                .filter(|m| !m.is_empty())
            {
                rb = rb.header("content-type", ct);
            }
            rb = rb.body(body.to_vec());
        }
        let started = Instant::now();
        let r = rb
            .send()
            .await
            .unwrap_or_else(|e| panic!("{rel} #{i} {}: {e}", req.url));
        let status = r.status().as_u16();
        let incomplete = r.headers().contains_key("x-harp-incomplete");
        let got = r.bytes().await.unwrap().to_vec();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{rel} #{i}: slow answer"
        );
        match expectation(&file, i) {
            Some((want_status, want_body)) => {
                assert_eq!(
                    status,
                    want_status,
                    "{rel} #{i} {}: {}",
                    req.url,
                    String::from_utf8_lossy(&got)
                );
                assert!(
                    got == want_body,
                    "{rel} #{i} {}: {} bytes served, {} recorded",
                    req.url,
                    got.len(),
                    want_body.len()
                );
            }
            None => {
                assert_eq!(status, 502, "{rel} #{i}");
                assert!(incomplete, "{rel} #{i}: {}", String::from_utf8_lossy(&got));
            }
        }
        checked += 1;
    }
    let stopped = harp.stop().await;
    assert!(
        stopped.stdout.contains("unmatched 0"),
        "{rel}: {}",
        stopped.stdout
    );
    checked
}

#[tokio::test]
async fn every_servable_playwright_and_mitmproxy_entry_replays() {
    let mut total = 0;
    for rel in [
        "playwright/har-fulfill.har",
        "playwright/har-redirect.har",
        "playwright/har-sha1.har",
        "playwright/har-unstable-network.har",
        "playwright/har-url-matcher.har",
        "mitmproxy/flows__compressed.zhar",
        "mitmproxy/flows__corrupted_gzip_body.har",
        "mitmproxy/flows__diff_data.har",
        "mitmproxy/flows__error_log.har",
        "mitmproxy/flows__websocket.har",
        "mitmproxy/har_files__charles.har",
        "mitmproxy/har_files__chrome.har",
        "mitmproxy/har_files__firefox.har",
        "mitmproxy/har_files__insomnia.har",
        "mitmproxy/har_files__safari.har",
        "mitmproxy/har_files__with-bom.har",
    ] {
        let n = replay_fixture(rel).await;
        assert!(n > 0, "{rel}: nothing replayed");
        total += n;
    }
    assert!(total >= 60, "only {total} entries replayed");
}

fn example_har() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hars/example.har")
        .display()
        .to_string()
}

#[test]
fn harp_run_replays_for_curl_and_python_offline_and_fails_on_misses() {
    let dir = tempfile::tempdir().unwrap();
    let har = example_har();
    let out = run_harp(
        dir.path(),
        &[
            "run",
            "--har",
            &har,
            "--",
            "curl",
            "-sS",
            "https://api.example.test/users",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        r#"[{"id": 1, "name": "Ada Lovelace"}, {"id": 2, "name": "Linus Torvalds"}]"#
    );
    assert!(out.stderr.contains("served 1 from"), "{}", out.stderr);

    let py = "import urllib.request, json\nr = urllib.request.urlopen(urllib.request.Request('https://api.example.test/users', data=json.dumps({'name': 'Grace Hopper'}).encode(), headers={'content-type': 'application/json'}))\nprint(r.status, r.read().decode())";
    let out = run_harp(
        dir.path(),
        &["run", "--har", &har, "--", "python3", "-c", py],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        r#"201 {"id": 3, "name": "Grace Hopper"}"#
    );

    let out = run_harp(
        dir.path(),
        &[
            "run",
            "--har",
            &har,
            "--",
            "curl",
            "-sS",
            "http://www.example.test/",
        ],
    );
    assert!(out.stdout.contains("Served by harp"), "{}", out.stdout);

    // A miss: the command itself succeeds (curl prints the 502 body), harp fails and names it.
    let out = run_harp(
        dir.path(),
        &[
            "run",
            "--har",
            &har,
            "--",
            "curl",
            "-sS",
            "https://api.example.test/users/9",
        ],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("unmatched 1x GET https://api.example.test/users/9"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("nearest: #2 GET https://api.example.test/users/1"),
        "{}",
        out.stderr
    );

    // The command's own status wins.
    let out = run_harp(
        dir.path(),
        &["run", "--har", &har, "--", "sh", "-c", "exit 7"],
    );
    assert_eq!(out.code, Some(7));
    let out = run_harp(
        dir.path(),
        &["run", "--har", &har, "--", "no-such-command-xyz"],
    );
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("no-such-command-xyz"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harp_run_update_records_around_a_command() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let url = origin.https_url("/api/users");
    let ca = origin.ca_file.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        run_harp(
            &d,
            &[
                "run",
                "--update",
                "--har",
                "new.har",
                "--upstream-ca",
                &ca,
                "--",
                "curl",
                "-sS",
                &url,
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, r#"{"users":["ada","linus"]}"#);
    assert!(
        out.stderr.contains("recorded 1 exchange(s)"),
        "{}",
        out.stderr
    );
    let har = read_har(&dir.path().join("new.har"));
    assert_eq!(
        entries(&har)[0]["request"]["url"],
        origin.https_url("/api/users")
    );

    // And it replays offline.
    let before = origin.connections.load(Ordering::SeqCst);
    let d = dir.path().to_path_buf();
    let url = origin.https_url("/api/users");
    let out = tokio::task::spawn_blocking(move || {
        run_harp(&d, &["run", "--har", "new.har", "--", "curl", "-sS", &url])
    })
    .await
    .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, r#"{"users":["ada","linus"]}"#);
    assert_eq!(origin.connections.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn misses_are_bounded_paged_and_summarised_briefly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example_har(), dir.path().join("example.har")).unwrap();
    let harp = Harp::start_in(dir, &["replay", "--har", "example.har"]).await;
    let client = harp.client(Http::One);
    // 1,030 distinct misses, one of them with a 60 KB URL.
    let huge = format!("http://api.example.test/{}", "x".repeat(60_000));
    assert_eq!(client.get(&huge).send().await.unwrap().status(), 502);
    for i in 0..1_029 {
        let r = client
            .get(format!("http://api.example.test/miss/{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
    }
    let page: serde_json::Value = client
        .get("http://harp.local/__harp/calls?offset=1&limit=5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(page["total"], 1_030);
    assert_eq!(page["calls"].as_array().unwrap().len(), 5);
    assert_eq!(page["calls"][0]["url"], "http://api.example.test/miss/0");
    assert_eq!(page["unmatched"].as_array().unwrap().len(), 1_000);
    assert_eq!(page["unmatchedNotListed"], 30);
    let first: serde_json::Value = client
        .get("http://harp.local/__harp/calls?limit=1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();
    let clipped = first["calls"][0]["url"].as_str().unwrap();
    assert!(
        clipped.len() < 1_100 && clipped.ends_with('…'),
        "{}",
        clipped.len()
    );
    let stopped = harp.stop().await;
    assert!(
        stopped
            .stdout
            .contains("and 1010 more distinct unmatched request(s)"),
        "{}",
        stopped.stdout
    );
    assert!(
        stopped.stdout.len() < 64 * 1024,
        "{} bytes",
        stopped.stdout.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_makes_the_folder_and_upstream_failures_fail_the_update() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    // The origin's HTTPS port without --upstream-ca: a certificate harp does not trust.
    let url = origin.https_url("/api/users");
    let out = tokio::task::spawn_blocking(move || {
        run_harp(
            &d,
            &[
                "run",
                "--update",
                "--har",
                "hars/first.har",
                "--",
                "curl",
                "-sS",
                &url,
            ],
        )
    })
    .await
    .unwrap();
    assert!(dir.path().join("hars/first.har").exists(), "hars/ was made");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("1 exchange(s) failed upstream"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--upstream-ca"),
        "the hint: {}",
        out.stderr
    );
    assert!(
        out.stdout.contains("--upstream-ca"),
        "the 502 says it too: {}",
        out.stdout
    );
    assert!(
        !out.stderr.contains("\u{1b}["),
        "no colour in a pipe: {}",
        out.stderr
    );

    // A bad --har path says the problem once.
    std::fs::write(dir.path().join("plain-file"), "x").unwrap();
    let out = run_harp(
        dir.path(),
        &[
            "record",
            "--har",
            "plain-file/x.har",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(out.stderr.matches("(os error").count(), 1, "{}", out.stderr);
    assert!(!dir.path().join("plain-file/x.har.harp-journal").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_update_keeps_the_fixture_of_a_passing_command_only() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let base = origin.http_url("");
    let run = |args: Vec<String>| {
        let d = dir.path().to_path_buf();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all: Vec<&str> = vec!["run", "--update", "--har", "hars/x.har"];
                all.extend(args.iter().map(String::as_str));
                run_harp(&d, &all)
            })
            .await
            .unwrap()
        }
    };
    let script = |s: &str| -> Vec<String> {
        let s = s.replace("$U", &base);
        ["--", "sh", "-c", &s]
            .iter()
            .map(|a| a.to_string())
            .collect()
    };

    // A retried request keeps its last attempt.
    let out = run(script(
        "curl -sS $U/api/users >/dev/null && curl -sS $U/unsteady && curl -sS $U/unsteady",
    ))
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "busysteady now");
    assert!(
        out.stderr
            .contains("dropped 1 failed attempt(s) that were retried")
            && out.stderr.contains("/unsteady → 503"),
        "{}",
        out.stderr
    );
    let har_path = dir.path().join("hars/x.har");
    let first = std::fs::read(&har_path).unwrap();
    let recorded = entries(&serde_json::from_slice(&first).unwrap());
    let statuses: Vec<_> = recorded
        .iter()
        .map(|e| e["response"]["status"].clone())
        .collect();
    assert_eq!(statuses, [200, 200]);

    // A failing command leaves the HAR (and the folder) as they were.
    let mut args = vec!["--content".to_string(), "attach".to_string()];
    args.extend(script("curl -sS $U/counter >/dev/null; exit 3"));
    let out = run(args).await;
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("is left as it was (1 exchange(s) not saved"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&har_path).unwrap(), first);
    let files: Vec<_> = std::fs::read_dir(dir.path().join("hars"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, ["x.har"], "no journal, no payload left behind");

    // --update-always keeps it anyway, and says what changed.
    let mut args = vec!["--update-always".to_string()];
    args.extend(script("curl -sS $U/counter >/dev/null; exit 3"));
    let out = run(args).await;
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("against the previous HAR: 1 added, 2 removed, 0 changed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("+ GET ") && out.stderr.contains("/counter"),
        "{}",
        out.stderr
    );
    assert_eq!(entries(&read_har(&har_path)).len(), 1);
}

/// GETs `url` through `harp` and returns when the head came (after sending) and when
/// each body chunk came (after the head), with the body.
async fn timed_get(harp: &Harp, url: &str) -> (Duration, Vec<Duration>, String) {
    use futures_util::StreamExt;
    let sent = std::time::Instant::now();
    let r = harp.client(Http::One).get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let head = sent.elapsed();
    let head_at = std::time::Instant::now();
    let mut stream = r.bytes_stream();
    let (mut times, mut body) = (Vec::new(), String::new());
    while let Some(chunk) = stream.next().await {
        body.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        times.push(head_at.elapsed());
    }
    (head, times, body)
}

#[tokio::test]
async fn latency_recorded_replays_a_stream_at_its_recorded_pace() {
    let origin = Origin::start().await;
    let url = origin.http_url("/sse?n=4&ms=300");
    let recorder = Harp::start(&["record", "--har", "s.har"]).await;
    let (_, _, recorded_body) = timed_get(&recorder, &url).await;
    let stopped = recorder.stop().await;
    let har = read_har(&stopped.dir.join("s.har"));
    let chunks = entries(&har)[0]["response"]["_harpChunks"].clone();
    let offsets: Vec<u64> = chunks
        .as_array()
        .unwrap_or_else(|| panic!("no _harpChunks: {har}"))
        .iter()
        .map(|c| c[0].as_u64().unwrap())
        .collect();
    assert_eq!(offsets.len(), 4, "{chunks}");
    assert!(offsets[3] >= 850, "recorded offsets {offsets:?}");

    // At once by default...
    let replay = Harp::start_in(stopped.into_dir(), &["replay", "--har", "s.har"]).await;
    let (_, times, body) = timed_get(&replay, &url).await;
    assert_eq!(body, recorded_body);
    assert!(
        times.last().unwrap() < &Duration::from_millis(250),
        "{times:?}"
    );
    let dir = replay.stop().await.into_dir();

    // ...at the recorded pace with --latency recorded...
    let replay = Harp::start_in(dir, &["replay", "--har", "s.har", "--latency", "recorded"]).await;
    let (_, times, body) = timed_get(&replay, &url).await;
    assert_eq!(body, recorded_body);
    assert!(times.len() >= 3, "arrived in parts: {times:?}");
    assert!(
        times.last().unwrap() >= &Duration::from_millis(850),
        "{times:?}"
    );
    let dir = replay.stop().await.into_dir();

    // ...twice as fast with scale=0.5, and a fixed wait before the head.
    let replay = Harp::start_in(dir, &["replay", "--har", "s.har", "--latency", "scale=0.5"]).await;
    let (_, times, _) = timed_get(&replay, &url).await;
    let last = *times.last().unwrap();
    assert!(
        last >= Duration::from_millis(420) && last < Duration::from_millis(850),
        "{times:?}"
    );
    let dir = replay.stop().await.into_dir();
    let replay = Harp::start_in(
        dir,
        &[
            "replay",
            "--har",
            "s.har",
            "--latency",
            "fixed=400,jitter=50",
        ],
    )
    .await;
    let (head, times, _) = timed_get(&replay, &url).await;
    assert!(head >= Duration::from_millis(350), "{head:?}");
    assert!(
        times.last().unwrap() < &Duration::from_millis(250),
        "{times:?}"
    );
    replay.stop().await;
}
