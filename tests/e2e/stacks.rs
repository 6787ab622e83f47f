//! `harp run` sets up each client stack by environment alone: every client here fetches
//! an HTTPS URL of the bundled example through harp (replay, no network) with no flag of
//! its own, trusting harp's CA through the variable (or file) harp set for it.

use std::path::Path;
use std::process::Command;

use crate::harness::run_harp;

const USERS: &str = "https://api.example.test/users";
const ADA: &str = "Ada Lovelace";

fn example_har() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hars/example.har")
        .display()
        .to_string()
}

/// `harp run --har example.har -- ARGV` in `dir`; asserts harp and the command succeeded
/// and returns the command's stdout.
fn replay(dir: &Path, argv: &[&str]) -> String {
    let har = example_har();
    let mut args = vec!["run", "--har", &har, "--"];
    args.extend(argv);
    let out = run_harp(dir, &args);
    assert_eq!(
        out.code,
        Some(0),
        "{argv:?}: {}\n{}",
        out.stderr,
        out.stdout
    );
    out.stdout
}

#[test]
fn wget_python_requests_and_java_trust_harp_by_environment() {
    let dir = tempfile::tempdir().unwrap();
    let wget = replay(dir.path(), &["wget", "-qO-", USERS]);
    assert!(wget.contains(ADA), "wget: {wget}");

    let py = format!("import requests\nprint(requests.get('{USERS}').text)");
    let requests = replay(dir.path(), &["python3", "-c", &py]);
    assert!(requests.contains(ADA), "requests: {requests}");

    // Java: HttpClient and HttpURLConnection, through JAVA_TOOL_OPTIONS only.
    let classes = dir.path().join("classes");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/clients/Fetch.java");
    let javac = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(&source)
        .output()
        .expect("javac (scripts/test.sh installs a JDK)");
    assert!(
        javac.status.success(),
        "{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    let classes = classes.display().to_string();
    let java = replay(dir.path(), &["java", "-cp", &classes, "Fetch", USERS]);
    let lines: Vec<&str> = java.lines().collect();
    assert_eq!(lines.len(), 2, "{java}");
    assert!(
        lines[0].starts_with("HttpClient 200 [") && lines[0].contains(ADA),
        "{java}"
    );
    assert!(
        lines[1].starts_with("HttpURLConnection 200 [") && lines[1].contains(ADA),
        "{java}"
    );
}

#[test]
fn git_goes_through_harp_and_trusts_its_certificate() {
    // No git server in a HAR of JSON: git's request reaches harp over TLS it trusts (no
    // certificate error) and is answered 502 as unmatched, which harp names.
    let dir = tempfile::tempdir().unwrap();
    let har = example_har();
    let out = run_harp(
        dir.path(),
        &["run", "--har", &har, "--", "git", "ls-remote", USERS],
    );
    assert_ne!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("The requested URL returned error: 502"),
        "git reached harp and trusted it: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("SSL certificate problem"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "unmatched 1x GET https://api.example.test/users/info/refs?service=git-upload-pack"
        ),
        "{}",
        out.stderr
    );
}

/// Node's version as (major, minor).
fn node_version() -> (u32, u32) {
    let out = Command::new("node")
        .args(["-p", "process.versions.node"])
        .output()
        .expect("node");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.trim().split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn node_fetch_goes_through_harp() {
    let dir = tempfile::tempdir().unwrap();
    let fetch = format!("fetch('{USERS}').then(r => r.text()).then(t => console.log(t))");
    let (major, minor) = node_version();
    let out = if major >= 24 || (major == 22 && minor >= 21) {
        // NODE_USE_ENV_PROXY, which harp sets, is enough.
        replay(dir.path(), &["node", "-e", &fetch])
    } else {
        // Older Node: README's recipe, undici's EnvHttpProxyAgent as the global dispatcher.
        let root = Command::new("npm").args(["root", "-g"]).output().unwrap();
        let root = String::from_utf8_lossy(&root.stdout).trim().to_string();
        let preload = dir.path().join("proxy.cjs");
        std::fs::write(
            &preload,
            format!(
                "const u = require({:?});\nu.setGlobalDispatcher(new u.EnvHttpProxyAgent());\n",
                format!("{root}/undici")
            ),
        )
        .unwrap();
        let preload = preload.display().to_string();
        replay(dir.path(), &["node", "--require", &preload, "-e", &fetch])
    };
    assert!(out.contains(ADA), "node {major}.{minor} fetch: {out}");
}

#[test]
fn the_environment_names_every_stack() {
    let dir = tempfile::tempdir().unwrap();
    let out = replay(dir.path(), &["env"]);
    let var = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} is not set: {out}"))
            .to_string()
    };
    let bundle = var("SSL_CERT_FILE");
    assert!(bundle.ends_with("certs/bundle.pem"), "{bundle}");
    for name in [
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "GIT_SSL_CAINFO",
        "PIP_CERT",
        "AWS_CA_BUNDLE",
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
        "HTTPLIB2_CA_CERTS",
        "CARGO_HTTP_CAINFO",
        "DENO_CERT",
        "NIX_SSL_CERT_FILE",
    ] {
        assert_eq!(var(name), bundle, "{name}");
    }
    assert_eq!(var("NODE_USE_ENV_PROXY"), "1");
    assert!(var("NODE_EXTRA_CA_CERTS").ends_with("certs/ca.pem"));
    let wgetrc = std::fs::read_to_string(var("WGETRC")).unwrap();
    assert!(
        wgetrc.contains(&format!("ca_certificate = {bundle}")),
        "{wgetrc}"
    );
    let java = var("JAVA_TOOL_OPTIONS");
    assert!(
        java.contains("-Dhttps.proxyHost=127.0.0.1")
            && java.contains("-Djavax.net.ssl.trustStoreType=PKCS12")
            && java.contains("certs/truststore.p12"),
        "{java}"
    );
}
