//! The inspector page in a real browser: headless Chromium (Debian's) driven by
//! playwright-core (`tests/e2e/inspector/inspect.js`), through harp as its proxy and on a
//! mock's own port. Screenshots of each view land in `target/inspector-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

fn shots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/inspector-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the browser script for `scenario` with `env`; returns what it saw.
async fn browse(scenario: &str, env: &[(&str, String)]) -> Value {
    let npm_root = Command::new("npm")
        .args(["root", "-g"])
        .output()
        .expect("npm is required (scripts/test.sh installs it)");
    let npm_root = String::from_utf8_lossy(&npm_root.stdout).trim().to_string();
    assert!(
        Path::new(&npm_root).join("playwright-core").exists(),
        "playwright-core is required: npm install -g playwright-core (scripts/test.sh installs it)"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/inspector/inspect.js");
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .arg(scenario)
        .env("NODE_PATH", npm_root)
        .env("SHOTS", shots_dir())
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("node is required"))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "inspector {scenario}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn har_entry(url: &str, mime: &str, text: &str) -> Value {
    json!({
        "startedDateTime": "2024-01-01T00:00:00.000Z", "time": 1,
        "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": [{"name": "Accept", "value": "*/*"}],
                    "queryString": [], "cookies": [], "headersSize": -1, "bodySize": -1},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                     "headers": [{"name": "Content-Type", "value": mime}], "cookies": [],
                     "content": {"size": text.len(), "mimeType": mime, "text": text},
                     "redirectURL": "", "headersSize": -1, "bodySize": -1},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_inspector_shows_calls_live_and_explains_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let har = json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": [
        har_entry("http://app.test/list?page=1&t=100", "application/json", r#"{"users":["ada","linus"]}"#),
        har_entry("http://app.test/unused", "text/plain", "never asked"),
    ]}});
    std::fs::write(dir.path().join("i.har"), har.to_string()).unwrap();
    let harp = Harp::start_in(dir, &["replay", "--har", "i.har"]).await;
    let seen = browse(
        "replay",
        &[
            ("HARP_PROXY", harp.proxy_url()),
            ("PAGE_URL", "http://harp.local/".into()),
            ("SERVED_URL", "http://app.test/list?page=1&t=100".into()),
            ("MISSED_URL", "http://app.test/list?page=1&t=200".into()),
        ],
    )
    .await;
    assert_eq!(seen["servedStatus"], 200, "{seen}");
    assert_eq!(seen["missedStatus"], 502, "{seen}");
    assert!(
        seen["servedBody"].as_str().unwrap().contains("\"ada\""),
        "pretty JSON body: {seen}"
    );
    assert_eq!(seen["nearestEntry"], "0", "{seen}");
    assert!(
        seen["rule"].as_str().unwrap().contains("--ignore-query t"),
        "{seen}"
    );
    let diff_cells: Vec<&str> = seen["diffCells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        diff_cells.contains(&"200") && diff_cells.contains(&"100"),
        "the differing parameter is highlighted: {seen}"
    );
    assert!(
        !diff_cells.contains(&"app.test"),
        "the host is the same: {seen}"
    );
    assert_eq!(seen["unused"], json!(["1"]), "{seen}");
    harp.stop().await;
    for view in ["calls", "served", "miss", "entries"] {
        assert!(shots_dir().join(format!("replay-{view}.png")).exists());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn private_mock_inspector_needs_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let collection = json!({
        "info": {"name": "m", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": [{"name": "user", "request": {"method": "GET", "url": "{{baseUrl}}/users/:id"},
                  "response": [{"name": "ok", "code": 200, "header": [{"key": "Content-Type", "value": "application/json"}],
                                "body": "{\"id\":\"{{id}}\"}", "originalRequest": {"method": "GET", "url": "{{baseUrl}}/users/:id"}}]}]
    });
    std::fs::write(dir.path().join("m.json"), collection.to_string()).unwrap();
    let harp = Harp::start_in(dir, &["mock", "m.json", "--api-key", "s3cret"]).await;
    let base = format!("http://{}", harp.addr);
    let plain = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for path in [
        "/__harp/",
        "/__harp/calls",
        "/__harp/events",
        "/__harp/entries",
    ] {
        let r = plain.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = plain
            .get(format!("{base}{path}?key=wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let seen = browse(
        "mock",
        &[
            ("PAGE_URL", format!("{base}/__harp/?key=s3cret")),
            ("API_KEY", "s3cret".into()),
        ],
    )
    .await;
    assert_eq!(seen["callStatus"], 200, "{seen}");
    assert!(
        seen["servedBody"].as_str().unwrap().contains("\"42\""),
        "{seen}"
    );
    harp.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn record_inspector_lists_entries_as_they_are_recorded() {
    let origin = Origin::start().await;
    let harp = Harp::start(&["record", "--har", "r.har"]).await;
    let seen = browse(
        "record",
        &[
            ("HARP_PROXY", harp.proxy_url()),
            ("PAGE_URL", "http://harp.local/".into()),
            ("SERVED_URL", origin.http_url("/page")),
        ],
    )
    .await;
    assert_eq!(seen["status"], 200, "{seen}");
    let rows: Vec<&str> = seen["recorded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        rows.iter().any(|r| r.contains(&origin.http_url("/page"))),
        "{seen}"
    );
    let stopped = harp.stop().await;
    assert!(stopped.stdout.contains("recorded"), "{}", stopped.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn record_missing_entries_reach_the_inspector_live() {
    use futures_core::Stream;
    use std::pin::Pin;
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let har = json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": [
        har_entry("http://app.test/known", "text/plain", "known"),
    ]}});
    std::fs::write(dir.path().join("m.har"), har.to_string()).unwrap();
    let harp = Harp::start_in(dir, &["replay", "--har", "m.har", "--record-missing"]).await;
    let c = harp.client(Http::One);
    // The event stream, open before the call.
    let events = c
        .get("http://harp.local/__harp/events")
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut stream: Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>> =
        Box::pin(events.bytes_stream());
    let r = c.get(origin.http_url("/page")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "<h1>hi</h1>");
    let mut text = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !(text.contains("\"type\":\"entry\"") && text.contains("\"type\":\"call\"")) {
        assert!(
            std::time::Instant::now() < deadline,
            "events so far: {text}"
        );
        let next = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx));
        match tokio::time::timeout(Duration::from_secs(10), next).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("event stream ended: {other:?}; so far: {text}"),
        }
    }
    assert!(text.contains("/page"), "{text}");
    let entries: Value = serde_json::from_slice(
        &c.get("http://harp.local/__harp/entries")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(entries["entries"][0]["url"], "http://app.test/known");
    assert_eq!(
        entries["recorded"][0]["url"],
        origin.http_url("/page"),
        "{entries}"
    );
    // Health and Prometheus metrics, as a probe or a scraper reads them.
    let health = c
        .get("http://harp.local/__harp/health")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let health: Value = serde_json::from_slice(&health.bytes().await.unwrap()).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["mode"], "replay");
    let metrics = c
        .get("http://harp.local/__harp/metrics")
        .send()
        .await
        .unwrap();
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("harp_entries{mode=\"replay\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("harp_calls_total{mode=\"replay\",outcome=\"recorded\"} 1\n"),
        "{metrics}"
    );
    // An open event stream does not hold up stopping: the page keeps reading it (as a
    // browser's EventSource does) and harp ends it.
    let reader = tokio::spawn(async move {
        while let Some(Ok(_)) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {}
    });
    let started = std::time::Instant::now();
    let stopped = harp.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stop took {:?}: {}",
        started.elapsed(),
        stopped.stderr
    );
    assert!(
        stopped.stdout.contains("now holds 2 exchange(s)"),
        "{}",
        stopped.stdout
    );
    tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the event stream ended when harp stopped")
        .unwrap();
}
