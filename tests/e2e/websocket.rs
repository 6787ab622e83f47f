//! WebSocket conversations recorded and replayed with a real client and server (Python's
//! `websockets`, which reaches `ws://` and `wss://` through the proxy with CONNECT), the
//! absolute-form handshake, intercepted TLS, and a HAR mitmproxy wrote.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/clients/ws.py")
}

/// The Python WebSocket server (TLS with `tls` = (cert, key)); its port.
struct Server(Child, u16);

impl Server {
    fn start(tls: Option<(&Path, &Path)>) -> Server {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(script()).arg("server");
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with websockets (scripts/test.sh installs it)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("port ")
            .unwrap_or_else(|| panic!("{line}"))
            .parse()
            .unwrap();
        Server(child, port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Python client through `harp`: what it printed, one JSON value a line.
async fn client(harp: &Harp, url: &str, messages: &[&str]) -> Vec<Value> {
    let ca = harp.path("certs/ca.pem").display().to_string();
    let out = tokio::process::Command::new("python3")
        .arg(script())
        .arg("client")
        .arg(url)
        .args(["--ca", &ca])
        .args(messages)
        .env("HTTP_PROXY", harp.proxy_url())
        .env("HTTPS_PROXY", harp.proxy_url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn texts(seen: &[Value]) -> Vec<String> {
    seen.iter().map(|v| v.to_string()).collect()
}

const SAID: &[&str] = &["one", "two", "bin:010203", "bye"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_through_connect_is_recorded_and_replayed_offline() {
    let server = Server::start(None);
    let port = server.1;
    let url = format!("ws://127.0.0.1:{port}/chat?room=1");
    let recorder = Harp::start(&["record", "--har", "ws.har"]).await;
    let live = client(&recorder, &url, SAID).await;
    assert_eq!(
        texts(&live),
        [
            r#"{"text":"hello"}"#,
            r#"{"text":"echo: one"}"#,
            r#"{"text":"echo: two"}"#,
            r#"{"binary":"030201"}"#,
            r#"{"close":4000,"reason":"done"}"#
        ]
    );
    let stopped = recorder.stop().await;
    let har = read_har(&stopped.dir.join("ws.har"));
    let entry = &entries(&har)[0];
    assert_eq!(entry["response"]["status"], 101);
    assert_eq!(entry["_resourceType"], "websocket");
    let messages = entry["_webSocketMessages"].as_array().unwrap();
    let said: Vec<(String, u64, String)> = messages
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap().to_string(),
                m["opcode"].as_u64().unwrap(),
                m["data"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("receive", 1, "hello"),
        ("send", 1, "one"),
        ("receive", 1, "echo: one"),
        ("send", 1, "two"),
        ("receive", 1, "echo: two"),
        ("send", 2, "AQID"),
        ("receive", 2, "AwIB"),
        ("send", 1, "bye"),
        ("receive", 8, "4000 done"),
    ];
    assert_eq!(
        said,
        want.map(|(t, o, d)| (t.to_string(), o, d.to_string())),
        "{messages:?}"
    );
    assert!(
        messages[0]["time"].as_f64().unwrap() > 1.7e9,
        "seconds since the epoch"
    );
    drop(server);

    // Offline: the same conversation, a message in another order matched by content, an
    // unknown one by position, one too many reported.
    let replay = Harp::start_in(stopped.into_dir(), &["replay", "--har", "ws.har"]).await;
    let again = client(&replay, &url, SAID).await;
    assert_eq!(texts(&again), texts(&live));
    let other = client(
        &replay,
        &url,
        &["two", "something new", "bin:0a", "extra", "bye"],
    )
    .await;
    assert_eq!(
        texts(&other),
        [
            r#"{"text":"hello"}"#,
            r#"{"text":"echo: two"}"#,
            r#"{"text":"echo: one"}"#,
            r#"{"binary":"030201"}"#,
            r#"{"close":4000,"reason":"done"}"#
        ],
        "the last recorded client message ('bye') answered 'extra'; 'bye' then had no counterpart"
    );

    // The absolute-form handshake (no CONNECT), by hand, then tungstenite as the client.
    let mut tcp = tokio::net::TcpStream::connect(replay.addr).await.unwrap();
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    tcp.write_all(
        format!(
            "GET {url} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        tcp,
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Text("hello".into())
    );
    ws.send(Message::Text("one".into())).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Text("echo: one".into())
    );
    drop(ws);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let stopped = replay.stop().await;
    assert!(stopped.stdout.contains("unmatched 0"), "{}", stopped.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_is_intercepted_recorded_and_replayed_at_its_pace() {
    let origin = Origin::start().await;
    let server = Server::start(Some((&origin.cert_file, &origin.key_file)));
    let url = format!("wss://localhost:{}/feed", server.1);
    let ca = origin.ca_file.display().to_string();
    let recorder = Harp::start(&["record", "--har", "wss.har", "--upstream-ca", &ca]).await;
    let live = client(&recorder, &url, &["one", "bye"]).await;
    assert_eq!(live.len(), 3, "{live:?}");
    let stopped = recorder.stop().await;
    drop(server);

    // Recorded gaps are kept with --latency recorded: stretch one to 600 ms.
    let path = stopped.dir.join("wss.har");
    let mut har = read_har(&path);
    let messages = har["log"]["entries"][0]["_webSocketMessages"]
        .as_array_mut()
        .unwrap();
    let sent_at = messages[1]["time"].as_f64().unwrap();
    messages[2]["time"] = serde_json::json!(sent_at + 0.6);
    std::fs::write(&path, serde_json::to_vec(&har).unwrap()).unwrap();
    let replay = Harp::start_in(
        stopped.into_dir(),
        &["replay", "--har", "wss.har", "--latency", "recorded"],
    )
    .await;
    let started = std::time::Instant::now();
    let again = client(&replay, &url, &["one", "bye"]).await;
    assert_eq!(texts(&again), texts(&live));
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    replay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_har_mitmproxy_wrote_replays_its_websocket_answers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("har/mitmproxy/flows__websocket.har"),
        dir.path().join("m.har"),
    )
    .unwrap();
    let replay = Harp::start_in(dir, &["replay", "--har", "m.har"]).await;
    let seen = client(&replay, "wss://demo.piesocket.com/v3/channel_123", &[]).await;
    assert_eq!(
        seen[0],
        serde_json::json!({"text": "{\"error\":\"Missing apiKey\"}"}),
        "{seen:?}"
    );
    replay.stop().await;
}

/// Chromium (through playwright-core) loads `page` through `harp`; the title its script
/// set from the WebSocket's answer.
async fn chromium_title(harp: &Harp, page: &str) -> String {
    let npm_root = std::process::Command::new("npm")
        .args(["root", "-g"])
        .output()
        .expect("npm (scripts/test.sh installs it)");
    let npm_root = String::from_utf8_lossy(&npm_root.stdout).trim().to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/clients/ws_chromium.js");
    let out = tokio::process::Command::new("node")
        .arg(script)
        .env("NODE_PATH", npm_root)
        .env("HARP_PROXY", harp.proxy_url())
        .env("PAGE_URL", page)
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .await
        .expect("node");
    assert!(
        out.status.success(),
        "chromium: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    seen["title"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_records_and_replays_a_websocket_over_intercepted_tls() {
    let origin = Origin::start().await;
    let ca = origin.ca_file.display().to_string();
    let page = origin.https_url("/wspage");
    let glob = format!("https://localhost:{}/**", origin.https.port());
    let recorder = Harp::start(&[
        "record",
        "--har",
        "c.har",
        "--url",
        &glob,
        "--upstream-ca",
        &ca,
    ])
    .await;
    assert_eq!(
        chromium_title(&recorder, &page).await,
        "got: hi from chromium"
    );
    let stopped = recorder.stop().await;
    let har = read_har(&stopped.dir.join("c.har"));
    let ws = entries(&har)
        .into_iter()
        .find(|e| e["response"]["status"] == 101)
        .unwrap_or_else(|| panic!("no WebSocket entry: {har}"));
    let data: Vec<&str> = ws["_webSocketMessages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["data"].as_str().unwrap())
        .collect();
    assert_eq!(
        data[..2],
        ["hi from chromium", "hi from chromium"],
        "{data:?}"
    );

    let before = origin.connections.load(std::sync::atomic::Ordering::SeqCst);
    let replay = Harp::start_in(
        stopped.into_dir(),
        &["replay", "--har", "c.har", "--url", &glob],
    )
    .await;
    assert_eq!(
        chromium_title(&replay, &page).await,
        "got: hi from chromium"
    );
    assert_eq!(
        origin.connections.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "offline"
    );
    let stopped = replay.stop().await;
    assert!(stopped.stdout.contains("unmatched 0"), "{}", stopped.stdout);
}
