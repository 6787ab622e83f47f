//! Shared test harness: the origin server, the harp process, and clients.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

pub const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R', 0xff,
    0xfe, 0x00, 0x80,
];

/// A local origin on 127.0.0.1: one plain HTTP port and one HTTPS port (h2 + http/1.1)
/// with a certificate for `localhost` and `127.0.0.1` from its own test CA.
pub struct Origin {
    pub http: SocketAddr,
    pub https: SocketAddr,
    /// PEM of the origin's test CA, for `--upstream-ca`.
    pub ca_file: PathBuf,
    /// The origin's leaf certificate (for `localhost` and `127.0.0.1`) and key, PEM, for
    /// other real servers (nginx, gRPC) that the same `--upstream-ca` then trusts.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Connections accepted so far on both ports.
    pub connections: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Origin {
    pub async fn start() -> Origin {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "origin test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca_file = dir.path().join("origin-ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let cert_file = dir.path().join("origin-cert.pem");
        let key_file = dir.path().join("origin-key.pem");
        std::fs::write(&cert_file, leaf.pem()).unwrap();
        std::fs::write(&key_file, leaf_key.serialize_pem()).unwrap();
        let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let http_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let https_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = http_listener.local_addr().unwrap();
        let https = https_listener.local_addr().unwrap();

        let (c1, r1) = (connections.clone(), requests.clone());
        let plain = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = http_listener.accept().await else {
                    return;
                };
                c1.fetch_add(1, Ordering::SeqCst);
                let r = r1.clone();
                tokio::spawn(serve_conn(TokioIo::new(stream), r));
            }
        });
        let (c2, r2) = (connections.clone(), requests.clone());
        let secure = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = https_listener.accept().await else {
                    return;
                };
                c2.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                let r = r2.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        serve_conn(TokioIo::new(tls), r).await;
                    }
                });
            }
        });
        Origin {
            http,
            https,
            ca_file,
            cert_file,
            key_file,
            connections,
            _dir: dir,
            tasks: vec![plain, secure],
        }
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http.port())
    }

    pub fn https_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https.port())
    }
}

async fn serve_conn<I>(io: TokioIo<I>, requests: Arc<Mutex<Vec<String>>>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let requests = requests.clone();
        async move { Ok::<_, std::convert::Infallible>(route_streaming(req, requests).await) }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection_with_upgrades(io, service)
        .await;
}

/// A streamed origin body.
pub type StreamedBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// Routes that stream: server-sent events (`/sse?n=N&ms=MS`, endless without `n`) and a
/// chunked body with trailers (`/trailers`); everything else answers whole.
async fn route_streaming(
    req: Request<Incoming>,
    requests: Arc<Mutex<Vec<String>>>,
) -> Response<StreamedBody> {
    let path = req.uri().path().to_string();
    let query: std::collections::HashMap<String, String> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    match path.as_str() {
        "/sse" => {
            requests
                .lock()
                .unwrap()
                .push(format!("GET {path} {:?}", req.version()));
            let count: Option<u64> = query.get("n").and_then(|n| n.parse().ok());
            let gap =
                Duration::from_millis(query.get("ms").and_then(|n| n.parse().ok()).unwrap_or(100));
            let events = futures_util::stream::unfold(0u64, move |i| async move {
                if count.is_some_and(|n| i >= n) {
                    return None;
                }
                if i > 0 {
                    tokio::time::sleep(gap).await;
                }
                let frame =
                    hyper::body::Frame::data(Bytes::from(format!("id: {i}\ndata: event {i}\n\n")));
                Some((Ok::<_, std::convert::Infallible>(frame), i + 1))
            });
            let mut r = Response::new(
                http_body_util::StreamBody::new(events)
                    .map_err(|e| match e {})
                    .boxed(),
            );
            r.headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            r.headers_mut()
                .insert("cache-control", "no-cache".parse().unwrap());
            r
        }
        "/big" => {
            // `mb` MiB of a repeating pattern, streamed in 64 KiB chunks.
            let mb: usize = query.get("mb").and_then(|n| n.parse().ok()).unwrap_or(1);
            let chunk = Bytes::from(big_chunk());
            let chunks = (0..mb * 16).map(move |_| {
                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(chunk.clone()))
            });
            let mut r = Response::new(
                http_body_util::StreamBody::new(futures_util::stream::iter(chunks))
                    .map_err(|e| match e {})
                    .boxed(),
            );
            r.headers_mut()
                .insert("content-type", "application/octet-stream".parse().unwrap());
            r.headers_mut().insert(
                "content-length",
                (mb * 1024 * 1024).to_string().parse().unwrap(),
            );
            r
        }
        p if p.starts_with("/flaky/") => {
            // One in five (by a hash of the path) breaks off mid-body: the origin drops
            // the exchange after sending part of it.
            let fails = p
                .bytes()
                .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
                % 5
                == 0;
            let head = Bytes::from(format!("start of {p};"));
            let tail: Result<hyper::body::Frame<Bytes>, std::io::Error> = if fails {
                Err(std::io::Error::other("origin dropped the connection"))
            } else {
                Ok(hyper::body::Frame::data(Bytes::from_static(b"end")))
            };
            let frames = vec![Ok(hyper::body::Frame::data(head)), tail];
            // A pause between the parts, so the client has the head before the break.
            let frames =
                futures_util::StreamExt::then(futures_util::stream::iter(frames), |f| async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    f
                });
            let body = http_body_util::StreamBody::new(frames);
            let mut r = Response::new(body.boxed());
            r.headers_mut()
                .insert("content-type", "text/plain".parse().unwrap());
            r
        }
        "/trailers" => {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("x-checksum", "abc123".parse().unwrap());
            let frames = vec![
                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from_static(
                    b"part one, ",
                ))),
                Ok(hyper::body::Frame::data(Bytes::from_static(b"part two"))),
                Ok(hyper::body::Frame::trailers(trailers)),
            ];
            let mut r = Response::new(
                http_body_util::StreamBody::new(futures_util::stream::iter(frames))
                    .map_err(|e| match e {})
                    .boxed(),
            );
            r.headers_mut()
                .insert("content-type", "text/plain".parse().unwrap());
            r.headers_mut()
                .insert("trailer", "x-checksum".parse().unwrap());
            r
        }
        _ => route(req, requests)
            .await
            .map(|b| b.map_err(|e| match e {}).boxed()),
    }
}

/// 64 KiB of the pattern `/big` repeats.
pub fn big_chunk() -> Vec<u8> {
    (0..64 * 1024).map(|i| (i % 251) as u8).collect()
}

fn resp(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    for (k, v) in headers {
        r.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn brotli(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).unwrap();
    }
    out
}

/// `Sec-WebSocket-Accept` for a key (RFC 6455).
pub fn websocket_accept(key: &str) -> String {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

async fn route(
    mut req: Request<Incoming>,
    requests: Arc<Mutex<Vec<String>>>,
) -> Response<Full<Bytes>> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    if path == "/ws" {
        // A WebSocket handshake, then an echo of every message (tungstenite as the server).
        requests.lock().unwrap().push(format!("UPGRADE {path}"));
        let key = req
            .headers()
            .get("sec-websocket-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                use futures_util::{SinkExt, StreamExt};
                let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    tokio_tungstenite::tungstenite::protocol::Role::Server,
                    None,
                )
                .await;
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_close() || ws.send(message).await.is_err() {
                        break;
                    }
                }
            }
        });
        return resp(
            101,
            &[
                ("upgrade", "websocket"),
                ("connection", "Upgrade"),
                ("sec-websocket-accept", &websocket_accept(&key)),
            ],
            "",
        );
    }
    requests
        .lock()
        .unwrap()
        .push(format!("{} {} {:?}", req.method(), path, req.version()));
    let method = req.method().clone();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let p = path.split('?').next().unwrap_or("");
    let counter = requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.contains(" /counter "))
        .count();
    let unsteady = requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.contains(" /unsteady "))
        .count();
    match p {
        // Fails every other time: 503 first, then 200.
        "/unsteady" if unsteady % 2 == 1 => resp(503, &[("retry-after", "0")], "busy"),
        "/unsteady" => resp(200, &[("content-type", "text/plain")], "steady now"),
        "/counter" => resp(
            200,
            &[("content-type", "text/plain")],
            format!("count {counter}"),
        ),
        "/r1" => resp(302, &[("location", "r2")], ""),
        "/r2" => resp(301, &[("location", "/api/users")], ""),
        "/loop" => resp(302, &[("location", "/loop")], ""),
        "/upload" => resp(
            200,
            &[("content-type", "text/plain")],
            format!("{} bytes", body.len()),
        ),
        "/api/users" => resp(
            200,
            &[("content-type", "application/json")],
            r#"{"users":["ada","linus"]}"#,
        ),
        "/api/echo" => resp(
            if method == http::Method::POST {
                201
            } else {
                200
            },
            &[
                ("content-type", &content_type),
                ("x-method", method.as_str()),
            ],
            body,
        ),
        "/gzip" => resp(
            200,
            &[("content-type", "text/plain"), ("content-encoding", "gzip")],
            gzip(b"hello gzip world"),
        ),
        "/br" => resp(
            200,
            &[
                ("content-type", "application/json"),
                ("content-encoding", "br"),
            ],
            brotli(br#"{"compressed":"br"}"#),
        ),
        "/bin" => resp(200, &[("content-type", "image/png")], PNG),
        // A page for browsers: no favicon request, so what a browser asks is deterministic.
        "/browser" => resp(
            200,
            &[("content-type", "text/html; charset=utf-8")],
            "<!doctype html><html><head><link rel=\"icon\" href=\"data:,\"></head><body><h1>browser page</h1></body></html>",
        ),
        "/wspage" => resp(
            200,
            &[("content-type", "text/html")],
            "<html><body><script>\n\
             const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');\n\
             ws.onopen = () => ws.send('hi from chromium');\n\
             ws.onmessage = (e) => { document.title = 'got: ' + e.data; ws.close(1000, 'seen'); };\n\
             ws.onerror = () => { document.title = 'error'; };\n\
             </script></body></html>",
        ),
        "/page" => resp(
            200,
            &[("content-type", "text/html; charset=utf-8")],
            "<h1>hi</h1>",
        ),
        "/redirect" => resp(302, &[("location", "/api/users")], ""),
        "/cookies" => resp(
            200,
            &[
                ("content-type", "text/plain"),
                ("set-cookie", "a=1; Path=/; HttpOnly"),
                ("set-cookie", "b=2; Secure"),
            ],
            "cookies",
        ),
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            resp(200, &[], "late")
        }
        _ => resp(
            200,
            &[("content-type", "text/plain")],
            format!("path {path}"),
        ),
    }
}

/// A running `harp` process.
pub struct Harp {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    /// The rest of stdout and all of stderr, drained by tasks so a chatty harp never
    /// blocks on a full pipe.
    stdout: Option<tokio::task::JoinHandle<String>>,
    stderr: Option<tokio::task::JoinHandle<String>>,
    /// Everything printed up to and including the listening line.
    pub first_line: String,
}

/// What a stopped harp printed.
pub struct Stopped {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The folder harp ran in (kept alive as long as this value).
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

pub fn harp_bin() -> &'static str {
    env!("CARGO_BIN_EXE_harp")
}

/// Which HTTP versions a test client may speak to harp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http {
    /// HTTP/1.1 only.
    One,
    /// HTTP/2 where TLS offers it (ALPN), else HTTP/1.1.
    Negotiated,
}

/// A stopping signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT, as Ctrl-C sends.
    Interrupt,
    /// SIGTERM, as service managers send.
    Terminate,
}

/// Reads everything `from` still has, as text.
fn drain<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    mut from: R,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut text = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut from, &mut text).await;
        String::from_utf8_lossy(&text).into_owned()
    })
}

impl Harp {
    /// Starts `harp ARGS --listen 127.0.0.1:0` in a fresh temp dir (its cwd, so `certs/`
    /// lands there) and waits for the listening line.
    pub async fn start(args: &[&str]) -> Harp {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, args).await
    }

    pub async fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Harp {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(harp_bin())
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env_remove("HARP_CA_DIR")
            .env("HARP_LOG", "harp=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = drain(child.stderr.take().unwrap());
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
        let mut preamble = String::new();
        let listening = async {
            let mut line = String::new();
            loop {
                line.clear();
                if stdout.read_line(&mut line).await.unwrap() == 0 {
                    return None;
                }
                preamble.push_str(&line);
                if line.contains("listening on http://") {
                    return Some(line);
                }
            }
        };
        let line = match tokio::time::timeout(Duration::from_secs(20), listening).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!("harp exited before listening: {}", stderr.await.unwrap()),
            Err(_) => panic!("no listening line within 20 s"),
        };
        let addr = line
            .split("listening on http://")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Harp {
            child,
            addr,
            dir,
            stdout: Some(drain(stdout)),
            stderr: Some(stderr),
            first_line: preamble,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.path("certs/ca.pem")).unwrap()
    }

    /// A reqwest client going through harp and trusting harp's CA; it does not decode
    /// content codings, so it sees bodies exactly as sent.
    pub fn client(&self, http: Http) -> reqwest::Client {
        self.client_builder(http)
            .no_gzip()
            .no_brotli()
            .build()
            .unwrap()
    }

    /// A client that decodes gzip and br, as browsers do.
    pub fn decoding_client(&self, http: Http) -> reqwest::Client {
        self.client_builder(http).build().unwrap()
    }

    pub fn client_builder(&self, http: Http) -> reqwest::ClientBuilder {
        let b = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(self.proxy_url()).unwrap())
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca_pem()).unwrap())
            .timeout(Duration::from_secs(20));
        match http {
            Http::One => b.http1_only(),
            Http::Negotiated => b,
        }
    }

    /// Sends `signal` and waits (at most 30 s) for the process to exit.
    pub async fn stop_with(mut self, signal: Stop) -> Stopped {
        use nix::sys::signal::{kill, Signal};
        let pid = nix::unistd::Pid::from_raw(self.child.id().expect("harp runs") as i32);
        let signal = match signal {
            Stop::Interrupt => Signal::SIGINT,
            Stop::Terminate => Signal::SIGTERM,
        };
        kill(pid, signal).unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("harp did not stop within 30 s")
            .unwrap();
        let mut stdout = self.first_line.clone();
        stdout.push_str(&self.stdout.take().unwrap().await.unwrap());
        let stderr = self.stderr.take().unwrap().await.unwrap();
        let tmp = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Stopped {
            code: status.code(),
            stdout,
            stderr,
            dir: tmp.path().to_path_buf(),
            _tmp: Some(tmp),
        }
    }

    /// Kills harp (SIGKILL, no chance to clean up) and waits for it to be gone.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("harp runs")
    }

    /// Stops harp as Ctrl-C does.
    pub async fn stop(self) -> Stopped {
        self.stop_with(Stop::Interrupt).await
    }
}

impl Stopped {
    /// The folder harp ran in, to start another harp there.
    pub fn into_dir(mut self) -> tempfile::TempDir {
        self._tmp.take().expect("a folder made by Harp::start")
    }
}

/// Runs harp to completion (for commands that do not listen); a harp still running after
/// 60 s is killed and the test fails, rather than hanging the suite.
pub fn run_harp(dir: &Path, args: &[&str]) -> Stopped {
    let mut child = Command::new(harp_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("HARP_CA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = from.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "harp {args:?} still running after 60 s: {}",
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Stopped {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        dir: dir.to_path_buf(),
        _tmp: None,
    }
}

/// Reads a HAR written by harp as JSON.
/// A recording's journal as it stands: its lines, without the zeros of the mapped
/// window that a journal being written ends in.
pub fn journal_lines(path: &Path) -> Vec<u8> {
    let mut text = std::fs::read(path).unwrap();
    let end = text.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    text.truncate(end);
    text
}

pub fn read_har(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The entries of a HAR.
pub fn entries(har: &serde_json::Value) -> Vec<serde_json::Value> {
    har["log"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The value of header `name` (case-insensitive) in a HAR header list.
pub fn har_header(list: &serde_json::Value, name: &str) -> Option<String> {
    list.as_array()?
        .iter()
        .find(|h| {
            h["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|h| h["value"].as_str().map(str::to_string))
}

/// The one entry whose URL ends with `suffix`.
pub fn entry_for(entries: &[serde_json::Value], method: &str, suffix: &str) -> serde_json::Value {
    let found: Vec<_> = entries
        .iter()
        .filter(|e| {
            e["request"]["method"] == method
                && e["request"]["url"].as_str().unwrap().ends_with(suffix)
        })
        .collect();
    assert_eq!(found.len(), 1, "entries for {method} {suffix}: {found:#?}");
    found[0].clone()
}

/// The fixtures made by other tools, copied into the repo with their provenance
/// (`tests/fixtures/*/MANIFEST.md`), so a clone stands alone.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Asserts that `har_json` (a HAR harp wrote) passes the strict `har` crate and the HAR
/// 1.2 JSON schema of tests/fixtures/schemas.
pub fn assert_valid_har(har_json: &[u8]) {
    if let Err(err) = har::from_slice(har_json) {
        panic!(
            "the har crate refuses harp's output: {err}\n{}",
            String::from_utf8_lossy(har_json)
        );
    }
    let dir = fixtures()
        .join("schemas/har-schema-2.0.0")
        .canonicalize()
        .unwrap();
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("har.json")).unwrap()).unwrap();
    let validator = jsonschema::options()
        .with_base_uri(format!("file://{}/", dir.display()))
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(har_json).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
}
