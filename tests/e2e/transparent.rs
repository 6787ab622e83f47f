//! Transparency against real peers: HTTP/1.1 and h2 clients (curl, Python, reqwest)
//! through harp to nginx with TLS and HTTP/2; gRPC (unary and server streaming, with
//! trailers); server-sent events and big bodies streaming; trailers over chunked
//! HTTP/1.1; `Upgrade: h2c` offers; and a stop under load that loses nothing.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::*;
use crate::peers::*;

/// What one client saw: its name, method, path, status and body.
type Seen = (String, String, String, u16, Vec<u8>);

/// One curl request through `proxy`, trusting `ca`: (status, headers text, body).
fn curl(proxy: &str, ca: &Path, args: &[&str]) -> (u16, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body");
    let head = dir.path().join("head");
    let out = through_proxy(
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(ca)
            .arg("-o")
            .arg(&body)
            .arg("-D")
            .arg(&head)
            .args(["-w", "%{http_code}"])
            .args(args),
        proxy,
    );
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (
        status,
        std::fs::read_to_string(&head).unwrap_or_default(),
        std::fs::read(&body).unwrap_or_default(),
    )
}

/// Python's urllib (HTTP/1.1 only) through `proxy`: (status, body) per request.
fn python_urllib(proxy: &str, ca: &Path, urls: &[(&str, String)]) -> Vec<(u16, Vec<u8>)> {
    let script = r#"
import json, ssl, sys, urllib.request, urllib.error, base64
ctx = ssl.create_default_context(cafile=sys.argv[1])
out = []
for method, url in json.loads(sys.argv[2]):
    data = b'{"from":"python"}' if method == "POST" else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
            out.append([r.status, base64.b64encode(r.read()).decode()])
    except urllib.error.HTTPError as e:
        out.append([e.code, base64.b64encode(e.read()).decode()])
print(json.dumps(out))
"#;
    let list = serde_json::to_string(urls).unwrap();
    let out = through_proxy(
        Command::new("python3")
            .args(["-c", script])
            .arg(ca)
            .arg(list),
        proxy,
    );
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<(u16, String)> = serde_json::from_slice(&out.stdout).unwrap();
    use base64::Engine;
    v.into_iter()
        .map(|(s, b)| {
            (
                s,
                base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
            )
        })
        .collect()
}

/// The same session from every client: curl over HTTP/1.1 and h2, Python urllib, and
/// reqwest over both.
async fn nginx_session(harp: &Harp, nginx_port: u16) -> Vec<Seen> {
    let proxy = harp.proxy_url();
    let ca = harp.path("certs/ca.pem");
    let url = |p: &str| format!("https://localhost:{nginx_port}{p}");
    let mut seen = Vec::new();
    for version in ["--http1.1", "--http2"] {
        for path in [
            "/api/users.json",
            "/index.html",
            "/teapot",
            "/moved",
            "/empty",
        ] {
            let (status, _, body) = curl(&proxy, &ca, &[version, &url(path)]);
            seen.push((
                format!("curl {version}"),
                "GET".into(),
                path.into(),
                status,
                body,
            ));
        }
        let (status, _, body) = curl(
            &proxy,
            &ca,
            &[
                version,
                "-H",
                "content-type: application/json",
                "--data-binary",
                r#"{"a":1}"#,
                &url("/post"),
            ],
        );
        seen.push((
            format!("curl {version}"),
            "POST".into(),
            "/post".into(),
            status,
            body,
        ));
        let (status, head, _) = curl(&proxy, &ca, &[version, "-I", &url("/big.bin")]);
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default();
        seen.push((
            format!("curl {version}"),
            "HEAD".into(),
            "/big.bin".into(),
            status,
            length.into_bytes(),
        ));
        let (status, _, body) = curl(&proxy, &ca, &[version, &url("/big.bin")]);
        assert!(body == nginx_big(), "{version}: /big.bin differs");
        seen.push((
            format!("curl {version}"),
            "GET".into(),
            "/big.bin".into(),
            status,
            Vec::new(),
        ));
    }
    let py = python_urllib(
        &proxy,
        &ca,
        &[
            ("GET", url("/api/users.json")),
            ("POST", url("/post")),
            ("GET", url("/teapot")),
        ],
    );
    for ((method, path), (status, body)) in [
        ("GET", "/api/users.json"),
        ("POST", "/post"),
        ("GET", "/teapot"),
    ]
    .into_iter()
    .zip(py)
    {
        seen.push((
            "python urllib".into(),
            method.into(),
            path.into(),
            status,
            body,
        ));
    }
    for http in [Http::One, Http::Negotiated] {
        let r = harp
            .client(http)
            .get(url("/api/users.json"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.bytes().await.unwrap().to_vec();
        seen.push((
            format!("reqwest {http:?}"),
            "GET".into(),
            "/api/users.json".into(),
            status,
            body,
        ));
    }
    seen
}

#[tokio::test]
async fn http1_and_h2_clients_through_harp_to_nginx_with_http2() {
    let origin = Origin::start().await;
    let nginx = Nginx::start(&origin);
    let ca = origin.ca_file.display().to_string();
    let harp = Harp::start(&["record", "--har", "n.har", "--upstream-ca", &ca]).await;
    let recorded = nginx_session(&harp, nginx.port).await;
    for (client, method, path, status, body) in &recorded {
        let expected = match path.as_str() {
            "/post" => 201,
            "/teapot" => 418,
            "/moved" => 302,
            "/empty" => 204,
            _ => 200,
        };
        assert_eq!(
            *status,
            expected,
            "{client} {method} {path}: {}",
            String::from_utf8_lossy(body)
        );
        if method == "HEAD" {
            assert_eq!(body, b"5242880", "{client}: HEAD content-length");
        }
    }
    let stopped = harp.stop().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let har_bytes = std::fs::read(stopped.dir.join("n.har")).unwrap();
    assert_valid_har(&har_bytes);
    let har: serde_json::Value = serde_json::from_slice(&har_bytes).unwrap();
    for e in entries(&har) {
        assert_ne!(e["response"]["status"], 400, "{e:#}");
        let versions = e["response"]["httpVersion"].as_str().unwrap().to_string();
        assert_eq!(versions, "HTTP/2.0", "nginx speaks h2 to harp");
    }

    // Offline: nginx is gone; every client gets the same statuses and bytes.
    nginx.stop();
    let replay = Harp::start_in(stopped.into_dir(), &["replay", "--har", "n.har"]).await;
    let port = har["log"]["entries"][0]["request"]["url"]
        .as_str()
        .unwrap()
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let replayed = nginx_session(&replay, port).await;
    assert_eq!(replayed.len(), recorded.len());
    for (r, p) in recorded.iter().zip(&replayed) {
        assert_eq!(r, p, "replay differs from the recording");
    }
    let stopped = replay.stop().await;
    assert!(stopped.stdout.contains("unmatched 0"), "{}", stopped.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_unary_and_server_streaming_record_and_replay() {
    let origin = Origin::start().await;
    let server = GrpcServer::start(&origin);
    let ca = origin.ca_file.display().to_string();
    let harp = Harp::start(&["record", "--har", "g.har", "--upstream-ca", &ca]).await;
    let grpc_port = server.port;
    let call = |harp: &Harp| {
        let out = through_proxy(
            Command::new("python3")
                .arg(grpc_script())
                .arg("call")
                .arg(format!("localhost:{grpc_port}"))
                .arg(harp.path("certs/ca.pem")),
            &harp.proxy_url(),
        );
        assert!(
            out.status.success(),
            "grpc client: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let live = call(&harp);
    assert_eq!(live["unary"], "echo:hello", "{live}");
    assert_eq!(
        live["stream"],
        serde_json::json!(["item-0", "item-1", "item-2", "item-3"])
    );
    assert_eq!(live["unary_trailers"]["x-trailer"], "unary");
    assert_eq!(live["stream_trailers"]["x-trailer"], "stream");
    let stopped = harp.stop().await;
    let har = read_har(&stopped.dir.join("g.har"));
    let all = entries(&har);
    assert_eq!(all.len(), 2, "{har:#}");
    for e in &all {
        let trailers = e["response"]["_trailers"].as_array().expect("_trailers");
        assert!(
            trailers
                .iter()
                .any(|t| t["name"] == "grpc-status" && t["value"] == "0"),
            "{e:#}"
        );
        assert!(har_header(&e["request"]["headers"], "te").is_some_and(|v| v == "trailers"));
    }

    // Replay with the server stopped: the same answers, trailers included.
    drop(server);
    let replay = Harp::start_in(stopped.into_dir(), &["replay", "--har", "g.har"]).await;
    let replayed = call(&replay);
    assert_eq!(replayed, live);
    let stopped = replay.stop().await;
    assert!(stopped.stdout.contains("served 2"), "{}", stopped.stdout);
}

#[tokio::test]
async fn server_sent_events_stream_through_while_recording() {
    let origin = Origin::start().await;
    let ca = origin.ca_file.display().to_string();
    let harp = Harp::start(&["record", "--har", "sse.har", "--upstream-ca", &ca]).await;
    // An endless stream: a buffering proxy would never deliver a byte.
    let mut r = harp
        .client(Http::Negotiated)
        .get(origin.https_url("/sse?ms=50"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut got = String::new();
    while !got.contains("data: event 2\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk())
            .await
            .expect("events arrive while the stream goes on")
            .unwrap()
            .expect("the stream is endless");
        got.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(r);
    // A finite one, read to its end over HTTP/1.1.
    let finite = harp
        .client(Http::One)
        .get(origin.http_url("/sse?n=3&ms=20"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(finite.matches("data: event").count(), 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = harp.stop().await;
    let har = read_har(&stopped.dir.join("sse.har"));
    let endless = entry_for(&entries(&har), "GET", "/sse?ms=50");
    let text = endless["response"]["content"]["text"].as_str().unwrap();
    assert!(text.starts_with("id: 0\ndata: event 0\n\n"), "{text}");
    assert!(
        text.contains("data: event 2\n\n"),
        "what passed is kept: {text}"
    );
    assert_eq!(endless["response"]["_harpStreamClosed"], true);
    let done = entry_for(&entries(&har), "GET", "/sse?n=3&ms=20");
    assert_eq!(done["response"]["content"]["text"], finite);
    assert!(done["response"].get("_harpStreamClosed").is_none());

    let replay = Harp::start_in(stopped.into_dir(), &["replay", "--har", "sse.har"]).await;
    let again = replay
        .client(Http::One)
        .get(origin.http_url("/sse?n=3&ms=20"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(again, finite);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_over_chunked_http1_are_recorded_and_replayed() {
    let origin = Origin::start().await;
    let harp = Harp::start(&["record", "--har", "t.har"]).await;
    let raw = |addr: std::net::SocketAddr, url: &str| -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {url} HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let live = raw(harp.addr, &origin.http_url("/trailers"));
    assert!(live.contains("part one, "), "{live}");
    assert!(
        live.to_ascii_lowercase()
            .contains("\r\nx-checksum: abc123\r\n"),
        "{live}"
    );
    let stopped = harp.stop().await;
    let har = read_har(&stopped.dir.join("t.har"));
    let e = &entries(&har)[0];
    assert_eq!(e["response"]["content"]["text"], "part one, part two");
    assert_eq!(
        e["response"]["_trailers"],
        serde_json::json!([{"name": "x-checksum", "value": "abc123"}])
    );
    let replay = Harp::start_in(stopped.into_dir(), &["replay", "--har", "t.har"]).await;
    let replayed = raw(replay.addr, &origin.http_url("/trailers"));
    assert!(
        replayed.contains("transfer-encoding: chunked"),
        "{replayed}"
    );
    assert!(replayed.contains("part one, part two"), "{replayed}");
    assert!(
        replayed.ends_with("0\r\nx-checksum: abc123\r\n\r\n"),
        "{replayed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_upgrade_offer_is_dropped_and_the_bodies_recorded() {
    let origin = Origin::start().await;
    let harp = Harp::start(&["record", "--har", "h2c.har"]).await;
    let proxy = harp.proxy_url();
    let ca = harp.path("certs/ca.pem");
    // curl --http2 on http:// offers `Upgrade: h2c`; the origin answers a plain 200.
    let (status, _, body) = curl(
        &proxy,
        &ca,
        &[
            "--http2",
            "-H",
            "content-type: text/plain",
            "--data-binary",
            "ping",
            &origin.http_url("/api/echo"),
        ],
    );
    assert_eq!((status, body.as_slice()), (201, &b"ping"[..]));
    let stopped = harp.stop().await;
    let har = read_har(&stopped.dir.join("h2c.har"));
    let e = entry_for(&entries(&har), "POST", "/api/echo");
    assert_eq!(e["request"]["postData"]["text"], "ping");
    assert_eq!(e["response"]["content"]["text"], "ping");
    assert!(
        har_header(&e["request"]["headers"], "upgrade").is_some(),
        "recorded as sent"
    );
    let replay = Harp::start_in(stopped.into_dir(), &["replay", "--har", "h2c.har"]).await;
    let (status, _, body) = curl(
        &replay.proxy_url(),
        &ca,
        &[
            "--http2",
            "-H",
            "content-type: text/plain",
            "--data-binary",
            "ping",
            &origin.http_url("/api/echo"),
        ],
    );
    assert_eq!((status, body.as_slice()), (201, &b"ping"[..]));
}

#[tokio::test]
async fn a_big_attached_body_streams_to_its_payload_file() {
    let origin = Origin::start().await;
    let harp = Harp::start(&["record", "--har", "big.har", "--content", "attach"]).await;
    let body = harp
        .client(Http::One)
        .get(origin.http_url("/big?mb=24"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), 24 << 20);
    // The journal references the payload instead of holding 24 MiB of base64.
    let journal = journal_lines(&harp.path("big.har.harp-journal"));
    assert!(
        journal.len() < 64 * 1024,
        "journal is {} bytes",
        journal.len()
    );
    let stopped = harp.stop().await;
    let har = read_har(&stopped.dir.join("big.har"));
    let e = &entries(&har)[0];
    let file = e["response"]["content"]["_file"].as_str().unwrap();
    assert!(file.ends_with(".dat"), "{file}");
    assert_eq!(e["response"]["content"]["size"], 24 << 20);
    let stored = std::fs::read(stopped.dir.join(file)).unwrap();
    assert!(stored == body, "the payload file holds the body");
    use sha1::Digest;
    let digest = sha1::Sha1::digest(&stored);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(file, format!("{hex}.dat"));
    let leftovers: Vec<_> = std::fs::read_dir(&stopped.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".harp-body-"))
        .collect();
    assert!(leftovers.is_empty(), "spill files left: {leftovers:?}");
    let replay = Harp::start_in(stopped.into_dir(), &["replay", "--har", "big.har"]).await;
    let again = replay
        .client(Http::Negotiated)
        .get(origin.http_url("/big?mb=24"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(again == body);
}

#[tokio::test]
async fn stopping_under_load_keeps_every_exchange_a_client_completed() {
    let origin = Origin::start().await;
    let ca = origin.ca_file.display().to_string();
    let harp = Harp::start(&["record", "--har", "load.har", "--upstream-ca", &ca]).await;
    let done: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for client_no in 0..32 {
        // Keep-alive clients, half over h2, half over HTTP/1.1, plain and HTTPS.
        let client = harp.client(if client_no % 2 == 0 {
            Http::One
        } else {
            Http::Negotiated
        });
        let done = done.clone();
        let base = if client_no % 4 < 2 {
            origin.https_url("")
        } else {
            origin.http_url("")
        };
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                let url = format!("{base}/item/{client_no}-{n}");
                let Ok(r) = client.get(&url).send().await else {
                    break;
                };
                let expected = format!("path /item/{client_no}-{n}");
                match r.text().await {
                    Ok(text) if text == expected => {
                        done.lock().unwrap().insert(url);
                    }
                    _ => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopped = harp.stop().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    for t in tasks {
        let _ = t.await;
    }
    let completed = done.lock().unwrap().clone();
    assert!(completed.len() > 100, "load ran: {}", completed.len());
    let har = read_har(&stopped.dir.join("load.har"));
    let recorded: BTreeSet<String> = entries(&har)
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<_> = completed.difference(&recorded).collect();
    assert!(
        missing.is_empty(),
        "{} of {} completed exchanges are missing from the HAR: {:?}",
        missing.len(),
        completed.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(!stopped.dir.join("load.har.harp-journal").exists());
    let _ = origin.connections.load(Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_through_an_upstream_proxy() {
    let origin = Origin::start().await;
    let corp = Tinyproxy::start();
    let ca = origin.ca_file.display().to_string();
    let good = format!("http://alice:s3cret@127.0.0.1:{}", corp.port);
    let harp = Harp::start(&[
        "record",
        "--har",
        "via.har",
        "--upstream-ca",
        &ca,
        "--upstream-proxy",
        &good,
    ])
    .await;
    // https goes through the proxy's CONNECT, http in absolute form.
    for url in [origin.https_url("/api/users"), origin.http_url("/page")] {
        let r = harp
            .client(Http::Negotiated)
            .get(&url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}: {}", r.text().await.unwrap());
    }
    let log = corp.log();
    assert!(log.contains("CONNECT"), "{log}");
    assert!(log.contains("/page"), "{log}");
    let stopped = harp.stop().await;
    assert_eq!(entries(&read_har(&stopped.dir.join("via.har"))).len(), 2);

    // Wrong credentials: the proxy refuses, and harp says so.
    let bad = format!("http://alice:wrong@127.0.0.1:{}", corp.port);
    let harp = Harp::start(&[
        "record",
        "--har",
        "bad.har",
        "--upstream-ca",
        &ca,
        "--upstream-proxy",
        &bad,
    ])
    .await;
    let r = harp
        .client(Http::Negotiated)
        .get(origin.https_url("/api/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    // (tinyproxy 1.11 answers 401 where RFC 9110 says 407.)
    assert!(
        text.contains("refused CONNECT") && (text.contains("407") || text.contains("401")),
        "{text}"
    );
    let r = harp
        .client(Http::Negotiated)
        .get(origin.http_url("/page"))
        .send()
        .await
        .unwrap();
    assert!(
        [401, 407].contains(&r.status().as_u16()),
        "the proxy's own answer comes through: {}",
        r.status()
    );
}

#[tokio::test]
async fn load_with_origin_faults_records_each_completed_exchange_once() {
    let origin = Origin::start().await;
    let ca = origin.ca_file.display().to_string();
    let harp = Harp::start(&["record", "--har", "faults.har", "--upstream-ca", &ca]).await;
    let completed: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..16 {
        let client = harp.client(if c % 2 == 0 {
            Http::One
        } else {
            Http::Negotiated
        });
        let url = origin.https_url("");
        let (completed, failed) = (completed.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..25 {
                let url = format!("{url}/flaky/{c}-{n}");
                let body = match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => r.text().await,
                    // The origin broke off before harp had the head: a 502 naming it.
                    Ok(r) if r.status() == 502 => Ok(String::new()),
                    Ok(r) => panic!("{url}: {}", r.status()),
                    Err(e) => Err(e),
                };
                match body {
                    Ok(text) if text.ends_with(";end") => {
                        completed.lock().unwrap().push((url, text));
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let completed = completed.lock().unwrap().clone();
    let failed = failed.load(Ordering::SeqCst);
    assert_eq!(completed.len() + failed, 400);
    assert!(failed > 20 && completed.len() > 250, "{failed} failed");
    let stopped = harp.stop().await;
    let har = read_har(&stopped.dir.join("faults.har"));
    let all = entries(&har);
    for (url, text) in &completed {
        let matching: Vec<_> = all.iter().filter(|e| e["request"]["url"] == *url).collect();
        assert_eq!(matching.len(), 1, "{url}: exactly one entry");
        assert_eq!(matching[0]["response"]["content"]["text"], *text);
        assert!(matching[0]["response"].get("_error").is_none());
    }
    let broken = all
        .iter()
        .filter(|e| e["response"].get("_error").is_some())
        .count();
    assert_eq!(
        broken, failed,
        "each broken exchange is recorded once, as failed"
    );
    assert_eq!(all.len(), 400);

    // Replay serves every completed exchange as it was.
    let replay = Harp::start_in(stopped.into_dir(), &["replay", "--har", "faults.har"]).await;
    let client = replay.client(Http::Negotiated);
    for (url, text) in &completed {
        let r = client.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(&r.text().await.unwrap(), text);
    }
}
