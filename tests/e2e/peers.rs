//! Real peers started by the tests on 127.0.0.1: nginx (TLS, HTTP/2 on) as an upstream,
//! a Python gRPC server, and the command-line clients (curl, Python) that drive harp.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Origin;

/// A port free right now on 127.0.0.1 (for servers that cannot bind port 0 and say so).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{what} did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// nginx serving TLS with HTTP/2 (`listen … ssl http2`, as nginx 1.22 spells it) for `localhost` (the origin's certificate, so
/// harp trusts it with `--upstream-ca origin.ca_file`), with a few fixed answers.
pub struct Nginx {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nginx binary, where Debian puts it.
pub fn nginx_bin() -> PathBuf {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("nginx is not installed: run scripts/test.sh, which installs it");
}

/// The bytes nginx serves at `/big.bin` (5 MiB).
pub fn nginx_big() -> Vec<u8> {
    (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(31) % 253) as u8)
        .collect()
}

impl Nginx {
    pub fn start(origin: &Origin) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("www");
        std::fs::create_dir_all(root.join("api")).unwrap();
        std::fs::write(
            root.join("api/users.json"),
            r#"{"users":["ada","grace","linus"]}"#,
        )
        .unwrap();
        std::fs::write(root.join("index.html"), "<h1>nginx</h1>\n").unwrap();
        std::fs::write(root.join("big.bin"), nginx_big()).unwrap();
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    types {{ application/json json; text/html html; application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port} ssl http2;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root};
        location = /post {{ default_type application/json; return 201 '{{"created":true}}'; }}
        location = /teapot {{ default_type text/plain; return 418 'short and stout'; }}
        location = /moved {{ return 302 /api/users.json; }}
        location = /empty {{ return 204; }}
    }}
}}
"#,
            cert = origin.cert_file.display(),
            key = origin.key_file.display(),
            root = root.display(),
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut child = Command::new(nginx_bin())
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx");
        wait_for_port(port, &mut child, "nginx");
        Nginx {
            port,
            child,
            _dir: dir,
        }
    }

    /// Stops nginx (so a replay provably uses no network).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gRPC peer script.
pub fn grpc_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/peers/grpc_peer.py")
}

/// A Python gRPC server (TLS, the origin's certificate for localhost).
pub struct GrpcServer {
    pub port: u16,
    child: Child,
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl GrpcServer {
    pub fn start(origin: &Origin) -> GrpcServer {
        let mut child = Command::new("python3")
            .arg(grpc_script())
            .arg("serve")
            .arg(&origin.cert_file)
            .arg(&origin.key_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with grpcio (scripts/test.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("port ")
            .unwrap_or_else(|| panic!("gRPC server said {line:?}"))
            .parse()
            .unwrap();
        GrpcServer { port, child }
    }
}

/// Runs a command with harp as its proxy (both variable spellings) and returns its
/// output; `NO_PROXY` is cleared so loopback goes through harp too.
pub fn through_proxy(cmd: &mut Command, proxy: &str) -> Output {
    cmd.env("HTTPS_PROXY", proxy)
        .env("https_proxy", proxy)
        .env("HTTP_PROXY", proxy)
        .env("http_proxy", proxy)
        .env("grpc_proxy", proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// tinyproxy, a real forward proxy, as the "corporate proxy" harp goes through
/// (`--upstream-proxy`), with Basic credentials `alice:s3cret`.
pub struct Tinyproxy {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tinyproxy {
    pub fn start() -> Tinyproxy {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{d}/tinyproxy.log\"\nLogLevel Info\nPidFile \"{d}/tinyproxy.pid\"\nMaxClients 64\nBasicAuth alice s3cret\n"
        );
        let conf_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy (scripts/test.sh installs it)");
        wait_for_port(port, &mut child, "tinyproxy");
        Tinyproxy { port, child, dir }
    }

    /// What tinyproxy logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tinyproxy.log")).unwrap_or_default()
    }
}
