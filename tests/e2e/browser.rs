//! A real browser through harp: headless Chromium trusting harp's CA through its own NSS
//! database (as a developer's browser would), speaking h2 over intercepted TLS.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;

use crate::harness::*;

/// Makes Chromium under `home` trust the CA in `ca_dir` the way a user would: `harp ca
/// --trust nss` (which creates the NSS database a fresh home lacks).
fn trust_in_nss(home: &Path, ca_dir: &Path) {
    let out = Command::new(harp_bin())
        .args(["ca", "--trust", "nss", "--ca-dir"])
        .arg(ca_dir)
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "harp ca --trust nss (certutil is in libnss3-tools): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Loads `url` in headless Chromium through `proxy` and returns the rendered DOM.
fn chromium_dump(home: &Path, proxy: &str, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--proxy-bypass-list=<-loopback>",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--proxy-server={proxy}"))
        .args(["--dump-dom", url])
        .env("HOME", home)
        .output()
        .expect("chromium is required (.ci/run installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_records_then_replays_over_intercepted_h2() {
    let origin = Origin::start().await;
    let ca = origin.ca_file.display().to_string();
    // Only the origin's traffic (Chromium also calls home, to hosts that do not resolve here).
    let origin_glob = format!("https://localhost:{}/**", origin.https.port());
    let harp = Harp::start(&[
        "record",
        "--har",
        "browser.har",
        "--url",
        &origin_glob,
        "--upstream-ca",
        &ca,
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    trust_in_nss(home.path(), &harp.path("certs"));
    let url = origin.https_url("/browser");
    let (proxy, h, u) = (harp.proxy_url(), home.path().to_path_buf(), url.clone());
    let dom = tokio::task::spawn_blocking(move || chromium_dump(&h, &proxy, &u))
        .await
        .unwrap();
    assert!(dom.contains("<h1>browser page</h1>"), "{dom}");
    let stopped = harp.stop().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let har = read_har(&stopped.dir.join("browser.har"));
    let e = entries(&har);
    assert!(
        e.iter().all(|x| x["request"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&origin.https_url("/"))),
        "{e:#?}"
    );
    let page = entry_for(&e, "GET", "/browser");
    assert_eq!(
        page["request"]["httpVersion"], "HTTP/2.0",
        "Chromium negotiated h2 with harp"
    );
    assert!(har_header(&page["request"]["headers"], "user-agent")
        .unwrap()
        .contains("Chrome"));

    // Offline: the same page from the HAR, the origin untouched.
    let before = origin.connections.load(Ordering::SeqCst);
    let replay = Harp::start_in(
        stopped.into_dir(),
        &["replay", "--har", "browser.har", "--url", &origin_glob],
    )
    .await;
    let (proxy, h, u) = (replay.proxy_url(), home.path().to_path_buf(), url.clone());
    let dom = tokio::task::spawn_blocking(move || chromium_dump(&h, &proxy, &u))
        .await
        .unwrap();
    assert!(dom.contains("<h1>browser page</h1>"), "{dom}");
    let stopped = replay.stop().await;
    assert!(
        stopped.stdout.contains("from browser.har, unmatched 0"),
        "{}",
        stopped.stdout
    );
    assert!(!stopped.stdout.contains("served 0 "), "{}", stopped.stdout);
    assert_eq!(origin.connections.load(Ordering::SeqCst), before);
}
