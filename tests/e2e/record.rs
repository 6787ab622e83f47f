//! `harp record` end to end.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;

use rustls::pki_types::pem::PemObject;

use crate::harness::*;

fn upstream_ca_args(origin: &Origin) -> Vec<String> {
    vec!["--upstream-ca".into(), origin.ca_file.display().to_string()]
}

fn record_args<'a>(har: &'a str, extra: &'a [String]) -> Vec<&'a str> {
    let mut args = vec!["record", "--har", har];
    args.extend(extra.iter().map(String::as_str));
    args
}

#[tokio::test]
async fn records_http_and_https_over_h1_and_h2_field_by_field() {
    let origin = Origin::start().await;
    let extra = upstream_ca_args(&origin);
    let harp = Harp::start(&record_args("out.har", &extra)).await;
    let h2 = harp.client(Http::Negotiated);
    let h1 = harp.client(Http::One);

    let r = h1
        .get(origin.http_url("/api/users?page=2&q=a%20b"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"users":["ada","linus"]}"#);

    let r = h2
        .get(origin.https_url("/page"))
        .header("Authorization", "Bearer s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.text().await.unwrap(), "<h1>hi</h1>");

    let r = h1
        .post(origin.https_url("/api/echo"))
        .header("content-type", "application/json")
        .body(r#"{"name":"grace"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), http::Version::HTTP_11);
    assert_eq!(r.status(), 201);
    assert_eq!(r.text().await.unwrap(), r#"{"name":"grace"}"#);

    // The client gets the body exactly as the server sent it (still gzip-encoded here,
    // since this client does not decode); the HAR stores it decoded.
    let r = h2.get(origin.https_url("/gzip")).send().await.unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        gzip(b"hello gzip world").as_slice()
    );
    let r = h2.get(origin.https_url("/br")).send().await.unwrap();
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        brotli(br#"{"compressed":"br"}"#).as_slice()
    );
    let r = h2.get(origin.https_url("/bin")).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    let r = h1
        .get(origin.http_url("/cookies"))
        .header("cookie", "session=abc; theme=dark")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);

    let stopped = harp.stop().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert!(
        stopped.stdout.contains("recorded 7 exchange(s) to out.har"),
        "{}",
        stopped.stdout
    );

    assert_valid_har(&std::fs::read(stopped.dir.join("out.har")).unwrap());
    let har = read_har(&stopped.dir.join("out.har"));
    assert_eq!(har["log"]["version"], "1.2");
    assert_eq!(har["log"]["creator"]["name"], "harp");
    let entries = entries(&har);
    assert_eq!(entries.len(), 7);

    // Start order.
    let starts: Vec<&str> = entries
        .iter()
        .map(|e| e["startedDateTime"].as_str().unwrap())
        .collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
    for e in &entries {
        assert!(e["startedDateTime"].as_str().unwrap().ends_with('Z'));
        assert!(e["time"].as_f64().unwrap() >= 0.0);
        assert!(e["timings"]["wait"].as_f64().unwrap() >= 0.0);
        assert!(e["timings"]["receive"].as_f64().unwrap() >= 0.0);
        assert_eq!(e["serverIPAddress"], "127.0.0.1");
        assert_eq!(e["cache"], serde_json::json!({}));
    }

    let users = entry_for(&entries, "GET", "/api/users?page=2&q=a%20b");
    assert_eq!(
        users["request"]["url"],
        origin.http_url("/api/users?page=2&q=a%20b")
    );
    assert_eq!(users["request"]["httpVersion"], "HTTP/1.1");
    assert_eq!(
        users["request"]["queryString"][0],
        serde_json::json!({"name": "page", "value": "2"})
    );
    assert_eq!(
        users["request"]["queryString"][1],
        serde_json::json!({"name": "q", "value": "a b"})
    );
    assert!(users["request"]["postData"].is_null());
    assert_eq!(users["response"]["status"], 200);
    assert_eq!(users["response"]["statusText"], "OK");
    assert_eq!(users["response"]["content"]["mimeType"], "application/json");
    assert_eq!(users["response"]["content"]["size"], 25);
    assert_eq!(
        users["response"]["content"]["text"],
        r#"{"users":["ada","linus"]}"#
    );
    assert_eq!(
        har_header(&users["response"]["headers"], "content-type").unwrap(),
        "application/json"
    );

    let page = entry_for(&entries, "GET", "/page");
    assert_eq!(page["request"]["url"], origin.https_url("/page"));
    assert_eq!(page["request"]["httpVersion"], "HTTP/2.0");
    assert_eq!(page["response"]["httpVersion"], "HTTP/2.0");
    assert_eq!(
        har_header(&page["request"]["headers"], "authorization").unwrap(),
        "[REDACTED]"
    );
    assert_eq!(page["response"]["content"]["text"], "<h1>hi</h1>");

    let echo = entry_for(&entries, "POST", "/api/echo");
    assert_eq!(echo["request"]["postData"]["mimeType"], "application/json");
    assert_eq!(echo["request"]["postData"]["text"], r#"{"name":"grace"}"#);
    assert_eq!(echo["request"]["bodySize"], 16);
    assert_eq!(echo["response"]["status"], 201);
    assert_eq!(echo["response"]["statusText"], "Created");

    let gz = entry_for(&entries, "GET", "/gzip");
    assert_eq!(gz["response"]["content"]["text"], "hello gzip world");
    assert_eq!(gz["response"]["content"]["size"], 16);
    assert_eq!(gz["response"]["bodySize"], gzip(b"hello gzip world").len());
    assert_eq!(
        har_header(&gz["response"]["headers"], "content-encoding").unwrap(),
        "gzip"
    );
    let br = entry_for(&entries, "GET", "/br");
    assert_eq!(br["response"]["content"]["text"], r#"{"compressed":"br"}"#);

    let bin = entry_for(&entries, "GET", "/bin");
    assert_eq!(bin["response"]["content"]["encoding"], "base64");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(bin["response"]["content"]["text"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, PNG);

    let cookies = entry_for(&entries, "GET", "/cookies");
    assert_eq!(cookies["request"]["cookies"][0]["name"], "session");
    assert_eq!(cookies["request"]["cookies"][0]["value"], "[REDACTED]");
    assert_eq!(
        har_header(&cookies["request"]["headers"], "cookie").unwrap(),
        "[REDACTED]"
    );
    assert_eq!(cookies["response"]["cookies"][0]["name"], "a");
    assert_eq!(cookies["response"]["cookies"][0]["httpOnly"], true);
    assert_eq!(cookies["response"]["cookies"][1]["secure"], true);
    let set_cookies: Vec<_> = cookies["response"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["name"] == "set-cookie")
        .collect();
    assert_eq!(set_cookies.len(), 2);
}

#[tokio::test]
async fn url_globs_select_what_is_recorded_and_the_rest_still_flows() {
    let origin = Origin::start().await;
    let mut extra = upstream_ca_args(&origin);
    extra.extend([
        "--url".into(),
        "**/api/**".into(),
        "--url".into(),
        "**/{bin,none}".into(),
    ]);
    let harp = Harp::start(&record_args("api.har", &extra)).await;
    let client = harp.client(Http::Negotiated);
    for path in ["/api/users", "/page", "/bin", "/gzip", "/api/echo?x=1"] {
        let r = client.get(origin.https_url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let stopped = harp.stop().await;
    let har = read_har(&stopped.dir.join("api.har"));
    let urls: Vec<String> = entries(&har)
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        urls,
        vec![
            origin.https_url("/api/users"),
            origin.https_url("/bin"),
            origin.https_url("/api/echo?x=1")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_through_the_proxy_over_https_http_and_ip_literals() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("curl is required for this test");
    }
    let origin = Origin::start().await;
    let extra = upstream_ca_args(&origin);
    let harp = Harp::start(&record_args("curl.har", &extra)).await;
    let ca = harp.path("certs/ca.pem");
    let run = |url: String, more: &[&str]| {
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "20",
                "--proxy",
                &harp.proxy_url(),
                "--cacert",
            ])
            .arg(&ca)
            .args(more)
            .arg(&url)
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        run(origin.https_url("/api/users"), &[]),
        r#"{"users":["ada","linus"]}"#
    );
    // An IP literal: no SNI, so the leaf is issued for the CONNECT host with an IP SAN.
    let ip_url = format!("https://127.0.0.1:{}/page", origin.https.port());
    assert_eq!(run(ip_url.clone(), &["--http1.1"]), "<h1>hi</h1>");
    assert_eq!(
        run(origin.http_url("/api/echo"), &["-d", "a=1&b=two"]),
        "a=1&b=two"
    );
    assert_eq!(
        run(origin.https_url("/gzip"), &["--compressed"]),
        "hello gzip world"
    );

    let stopped = harp.stop().await;
    assert_eq!(stopped.code, Some(0));
    let har = read_har(&stopped.dir.join("curl.har"));
    let entries = entries(&har);
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[1]["request"]["url"], ip_url);
    let form = entry_for(&entries, "POST", "/api/echo");
    assert_eq!(
        form["request"]["postData"]["mimeType"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        form["request"]["postData"]["params"][1],
        serde_json::json!({"name": "b", "value": "two"})
    );
    assert_eq!(
        har_header(&form["request"]["headers"], "user-agent")
            .unwrap()
            .split('/')
            .next(),
        Some("curl")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_answer_502_naming_upstream_and_reason() {
    let origin = Origin::start().await;
    // No --upstream-ca: the origin's certificate cannot be verified.
    let harp = Harp::start(&["record", "--har", "fail.har", "--upstream-timeout", "1"]).await;
    let client = harp.client(Http::Negotiated);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = client
        .get(format!("http://127.0.0.1:{closed_port}/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    assert!(
        text.contains(&format!("127.0.0.1:{closed_port}")) && text.contains("refused"),
        "{text}"
    );

    let r = client
        .get(origin.https_url("/api/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    assert!(
        text.contains(&format!("localhost:{}", origin.https.port())),
        "{text}"
    );
    assert!(text.contains("certificate"), "{text}");

    let r = client.get(origin.http_url("/hang")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    assert!(text.contains("no response within 1 s"), "{text}");

    // Still serving others.
    let r = client.get(origin.http_url("/page")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let stopped = harp.stop().await;
    assert_eq!(stopped.code, Some(0));
    assert_valid_har(&std::fs::read(stopped.dir.join("fail.har")).unwrap());
    let har = read_har(&stopped.dir.join("fail.har"));
    let entries = entries(&har);
    assert_eq!(entries.len(), 4);
    for e in &entries[..3] {
        assert_eq!(e["response"]["status"], 0, "{e:#}");
        assert!(e["response"]["_error"]
            .as_str()
            .unwrap()
            .contains("upstream"));
    }
    assert_eq!(entries[3]["response"]["status"], 200);
}

#[tokio::test]
async fn insecure_upstream_skips_verification_with_a_warning() {
    let origin = Origin::start().await;
    let harp = Harp::start(&["record", "--har", "x.har", "--insecure-upstream"]).await;
    let r = harp
        .client(Http::Negotiated)
        .get(origin.https_url("/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stopped = harp.stop().await;
    assert!(
        stopped.stderr.contains("NOT verified"),
        "{}",
        stopped.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusting_client_and_hostile_input_do_not_disturb_others() {
    let origin = Origin::start().await;
    let extra = upstream_ca_args(&origin);
    let harp = Harp::start(&record_args("hostile.har", &extra)).await;

    // A client that does not trust harp's CA aborts the handshake.
    let untrusting = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(harp.proxy_url()).unwrap())
        .build()
        .unwrap();
    assert!(untrusting
        .get(origin.https_url("/page"))
        .send()
        .await
        .is_err());

    let raw = |bytes: &[u8]| -> String {
        let mut s = TcpStream::connect(harp.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(bytes);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    // A malformed request line.
    let answer = raw(b"THIS IS NOT HTTP\r\n\r\n");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    // A huge header.
    let mut huge = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nX-Big: ",
        origin.http_url("/page")
    )
    .into_bytes();
    huge.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    huge.extend(b"\r\n\r\n");
    let answer = raw(&huge);
    assert!(
        answer.is_empty()
            || answer.starts_with("HTTP/1.1 431")
            || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    // A client that disconnects mid-body.
    {
        let mut s = TcpStream::connect(harp.addr).unwrap();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nonly part",
            origin.http_url("/api/echo")
        );
        s.write_all(head.as_bytes()).unwrap();
        drop(s);
    }
    // CONNECT without a port.
    let answer = raw(b"CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // An origin-form request to the proxy itself is not forwarded (it would loop).
    let answer = raw(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");

    // Others are still served and recorded.
    let r = harp
        .client(Http::Negotiated)
        .get(origin.https_url("/api/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = harp.stop().await;
    assert_eq!(stopped.code, Some(0));
    assert_eq!(
        stopped
            .stderr
            .matches("a client rejected harp's certificate for localhost")
            .count(),
        1,
        "one WARN naming the host and `harp ca`: {}",
        stopped.stderr
    );
    assert!(stopped.stderr.contains("harp ca"));
    assert!(!stopped.stderr.contains("still busy"), "{}", stopped.stderr);
    let har = read_har(&stopped.dir.join("hostile.har"));
    let urls: Vec<_> = entries(&har)
        .iter()
        .map(|e| e["request"]["url"].clone())
        .collect();
    assert_eq!(
        urls,
        vec![serde_json::json!(origin.https_url("/api/users"))]
    );
}

#[tokio::test]
async fn fifty_concurrent_https_clients_are_each_recorded_once() {
    let origin = Origin::start().await;
    let extra = upstream_ca_args(&origin);
    let harp = Harp::start(&record_args("many.har", &extra)).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        // A client each: 50 connections, 50 TLS handshakes with harp.
        let client = harp.client(if i % 2 == 0 {
            Http::One
        } else {
            Http::Negotiated
        });
        let url = origin.https_url(&format!("/item/{i}"));
        tasks.push(tokio::spawn(async move {
            let r = client.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), format!("path /item/{i}"));
    }
    let stopped = harp.stop().await;
    let har = read_har(&stopped.dir.join("many.har"));
    let mut urls: Vec<String> = entries(&har)
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(urls.len(), 50);
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len(), 50, "every exchange exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_inside_connect_is_recorded() {
    let origin = Origin::start().await;
    let harp = Harp::start(&["record", "--har", "t.har"]).await;
    let mut s = TcpStream::connect(harp.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let target = format!("127.0.0.1:{}", origin.http.port());
    s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s.write_all(b"GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200") && out.ends_with("<h1>hi</h1>"),
        "{out}"
    );
    let stopped = harp.stop().await;
    // Plain HTTP inside the tunnel is recognised and recorded like absolute-form HTTP
    // (undici's ProxyAgent and https-proxy-agent send http:// this way).
    let har = read_har(&stopped.dir.join("t.har"));
    let all = entries(&har);
    assert_eq!(all.len(), 1, "{har:#}");
    assert_eq!(all[0]["request"]["url"], origin.http_url("/page"));
    assert_eq!(all[0]["response"]["content"]["text"], "<h1>hi</h1>");

    // And replayed the same way, with no network.
    let replay = Harp::start_in(stopped.into_dir(), &["replay", "--har", "t.har"]).await;
    let before = origin.connections.load(std::sync::atomic::Ordering::SeqCst);
    let mut s = TcpStream::connect(replay.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .unwrap();
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s.write_all(b"GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200") && out.ends_with("<h1>hi</h1>"),
        "{out}"
    );
    let stopped = replay.stop().await;
    assert!(stopped.stdout.contains("served 1"), "{}", stopped.stdout);
    assert_eq!(
        origin.connections.load(std::sync::atomic::Ordering::SeqCst),
        before
    );
}

#[tokio::test]
async fn sigterm_writes_the_har_and_minimal_mode_omits_details() {
    let origin = Origin::start().await;
    let harp = Harp::start(&[
        "record",
        "--har",
        "min.har",
        "--mode",
        "minimal",
        "--content",
        "omit",
    ])
    .await;
    let r = harp
        .client(Http::One)
        .get(origin.http_url("/cookies"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stopped = harp.stop_with(Stop::Terminate).await;
    assert_eq!(stopped.code, Some(0));
    assert!(stopped.stdout.contains("recorded 1 exchange(s)"));
    assert_valid_har(&std::fs::read(stopped.dir.join("min.har")).unwrap());
    let e = &entries(&read_har(&stopped.dir.join("min.har")))[0];
    assert_eq!(e["time"], 0);
    assert_eq!(
        e["timings"],
        serde_json::json!({"send": -1, "wait": -1, "receive": -1})
    );
    assert_eq!(e["request"]["cookies"], serde_json::json!([]));
    assert_eq!(e["response"]["cookies"], serde_json::json!([]));
    assert_eq!(e["response"]["bodySize"], -1);
    assert!(e.get("serverIPAddress").is_none());
    assert!(e["response"]["content"].get("text").is_none());
    assert_eq!(e["response"]["content"]["size"], 7);
}

#[tokio::test]
async fn in_flight_exchange_finishes_before_the_har_is_written() {
    let origin = Origin::start().await;
    let harp = Harp::start(&["record", "--har", "slow.har"]).await;
    let client = harp.client(Http::One);
    let url = origin.http_url("/api/echo");
    let pending = tokio::spawn(async move {
        // The body arrives in two parts, 300 ms apart.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
        tokio::spawn(async move {
            tx.send(Ok(bytes::Bytes::from_static(b"first ")))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(600)).await;
            tx.send(Ok(bytes::Bytes::from_static(b"second")))
                .await
                .unwrap();
        });
        let stream = futures_stream(rx);
        client
            .post(url)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = harp.stop().await;
    assert_eq!(pending.await.unwrap(), "first second");
    assert_eq!(stopped.code, Some(0));
    let e = &entries(&read_har(&stopped.dir.join("slow.har")))[0];
    assert_eq!(e["request"]["postData"]["text"], "first second");
}

fn futures_stream(
    rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    struct S(tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>);
    impl futures_core::Stream for S {
        type Item = Result<bytes::Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            self.0.poll_recv(cx)
        }
    }
    S(rx)
}

#[test]
fn unwritable_har_path_fails_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    // A missing folder is made, but a file where the folder should be cannot be.
    std::fs::write(dir.path().join("blocker"), "x").unwrap();
    let out = run_harp(
        dir.path(),
        &[
            "record",
            "--har",
            "blocker/dir/x.har",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(!out.stdout.contains("listening"), "{}", out.stdout);
    assert!(out.stderr.contains("blocker/dir"), "{}", out.stderr);

    let out = run_harp(
        dir.path(),
        &[
            "record",
            "--har",
            "x.har",
            "--url",
            "{a,b",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("{a,b"), "{}", out.stderr);

    let out = run_harp(
        dir.path(),
        &[
            "record",
            "--har",
            "x.har",
            "--upstream-ca",
            "missing.pem",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("missing.pem"), "{}", out.stderr);
}

const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Sends a WebSocket handshake for `target` (absolute or origin form) on `io`, checks the
/// 101, then checks that messages echo through.
async fn websocket_round_trip<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    io: &mut S,
    target: &str,
    host: &str,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let handshake = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    io.write_all(handshake.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            io.read(&mut byte).await.unwrap(),
            1,
            "connection closed during the handshake: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains(&format!(
            "sec-websocket-accept: {}",
            websocket_accept(WS_KEY).to_ascii_lowercase()
        )),
        "{head}"
    );
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        io,
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    for message in [
        Message::Text("hello".into()),
        Message::Binary(vec![1, 2, 3].into()),
    ] {
        ws.send(message.clone()).await.unwrap();
        let echo = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echo, message);
    }
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_pass_through_while_recording() {
    let origin = Origin::start().await;
    let extra = upstream_ca_args(&origin);
    let harp = Harp::start(&record_args("ws.har", &extra)).await;

    // ws:// through the plain proxy (absolute form).
    let mut plain = tokio::net::TcpStream::connect(harp.addr).await.unwrap();
    let target = format!("http://127.0.0.1:{}/ws", origin.http.port());
    websocket_round_trip(
        &mut plain,
        &target,
        &format!("127.0.0.1:{}", origin.http.port()),
    )
    .await;

    // wss:// as a browser does it: CONNECT, TLS with harp's certificate, then the handshake.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(harp.addr).await.unwrap();
    let authority = format!("localhost:{}", origin.https.port());
    tcp.write_all(format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&harp.ca_pem()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    websocket_round_trip(&mut tls, "/ws", &authority).await;
    drop(tls);
    drop(plain);

    let stopped = harp.stop().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let e = entries(&read_har(&stopped.dir.join("ws.har")));
    assert_eq!(e.len(), 2);
    for entry in &e {
        assert_eq!(entry["response"]["status"], 101);
        assert_eq!(
            har_header(&entry["request"]["headers"], "upgrade").unwrap(),
            "websocket"
        );
        let said: Vec<&str> = entry["_webSocketMessages"]
            .as_array()
            .unwrap_or_else(|| panic!("no messages: {entry}"))
            .iter()
            .map(|m| m["data"].as_str().unwrap())
            .collect();
        assert_eq!(said[..4], ["hello", "hello", "AQID", "AQID"], "{said:?}");
    }
    assert_eq!(e[1]["request"]["url"], origin.https_url("/ws"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_and_idle_tunnels_are_closed_port_zero_refused() {
    let harp = Harp::start(&[
        "record",
        "--har",
        "idle.har",
        "--header-timeout",
        "1",
        "--tunnel-idle-timeout",
        "1",
        "--body-idle-timeout",
        "1",
    ])
    .await;
    // A connection that never sends a byte is closed after the header time-out.
    let mut silent = TcpStream::connect(harp.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(silent.read(&mut buf).unwrap_or(0), 0, "closed by harp");

    // A client that stalls mid-body gets an answer (or a close), not a hang.
    let origin = Origin::start().await;
    let mut stalled = TcpStream::connect(harp.addr).unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stalled,
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten..",
        origin.http_url("/upload")
    )
    .unwrap();
    let started = std::time::Instant::now();
    let _ = stalled.read(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    // CONNECT to port 0 is refused.
    let mut s = TcpStream::connect(harp.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"CONNECT example.com:0 HTTP/1.1\r\nHost: example.com:0\r\n\r\n")
        .unwrap();
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 400"));

    // A raw tunnel (not TLS, not HTTP) that goes quiet is closed on both sides.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = server.local_addr().unwrap();
    let mut s = TcpStream::connect(harp.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .unwrap();
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s.write_all(b"SSH-2.0-test\r\n").unwrap();
    let (mut far, _) = server.accept().unwrap();
    far.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = far.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"SSH-2.0-test\r\n");
    assert_eq!(far.read(&mut buf).unwrap_or(0), 0, "upstream side closed");
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "client side closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_clients_wait_until_one_closes() {
    let origin = Origin::start().await;
    let harp = Harp::start(&["record", "--har", "max.har", "--max-connections", "1"]).await;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\n\r\n",
        origin.http_url("/page")
    );
    let read_answer = |s: &mut TcpStream| -> std::io::Result<String> {
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    // The one slot: a keep-alive connection that stays open.
    let mut first = TcpStream::connect(harp.addr).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    first.write_all(request.as_bytes()).unwrap();
    assert!(read_answer(&mut first).unwrap().starts_with("HTTP/1.1 200"));
    // A second client waits in the backlog: no answer while the first is open...
    let mut second = TcpStream::connect(harp.addr).unwrap();
    second.write_all(request.as_bytes()).unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    assert!(read_answer(&mut second).is_err(), "answered past the limit");
    // ...and is served once it closes.
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(read_answer(&mut second)
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    let stopped = harp.stop().await;
    assert_eq!(stopped.code, Some(0));
}
