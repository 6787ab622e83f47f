//! `harp fire`: a saved request (HAR entry or collection item) sent to a real receiver
//! (Python, verifying signatures with its own hmac module) with GitHub, Stripe and plain
//! HMAC signing, retries with backoff, refusals and give-ups.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::harness::harp_bin;

const SECRET: &str = "whsec_test_0123456789";

/// The Python receiver, on a free port.
struct Receiver {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl Receiver {
    fn start() -> Receiver {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/clients/receiver.py");
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new("python3")
            .arg(script)
            .arg(SECRET)
            .arg(log.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("port ").unwrap().parse().unwrap();
        Receiver { child, port, log }
    }

    /// The requests received so far.
    fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.log.path())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `harp fire` printed, and its exit code.
struct Fired {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `harp fire ARGS` in `dir`, with `secret` (when given) in `HOOK_SECRET`.
fn fire(dir: &Path, args: &[&str], secret: Option<&str>) -> Fired {
    let mut cmd = Command::new(harp_bin());
    cmd.arg("fire")
        .args(args)
        .current_dir(dir)
        .env_remove("HOOK_SECRET");
    if let Some(s) = secret {
        cmd.env("HOOK_SECRET", s);
    }
    let out = cmd.output().unwrap();
    Fired {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn example_har() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hars/example.har")
}

#[test]
fn a_har_entry_signed_github_style_is_accepted() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let har = example_har().display().to_string();
    let to = receiver.url("/github");
    let signed = |secret: &str| {
        fire(
            dir.path(),
            &[
                &har,
                "--entry",
                "3",
                "--to",
                &to,
                "--sign",
                "github",
                "--secret-env",
                "HOOK_SECRET",
            ],
            Some(secret),
        )
    };
    let out = signed(SECRET);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains(r#""received": true"#), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("entry 3 (POST https://api.example.test/users)"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("attempt 1: 200 OK"), "{}", out.stderr);

    // The wrong secret: refused at once, not retried.
    let out = signed("not the secret");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("attempt 1: 401 Unauthorized"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("attempt 2"), "{}", out.stderr);
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
}

#[test]
fn a_collection_item_signed_stripe_style_survives_a_flaky_receiver() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let collection = json!({
        "info": {"name": "hooks", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "variable": [{"key": "account", "value": "acct_from_collection"}],
        "item": [{"name": "Stripe", "item": [{
            "name": "payment_intent.succeeded",
            "request": {
                "method": "POST",
                "url": "{{base}}/webhooks/stripe",
                "header": [{"key": "Content-Type", "value": "application/json"},
                           {"key": "Stripe-Signature", "value": "t=1,v1=stale"}],
                "body": {"mode": "raw", "raw": "{\"type\":\"payment_intent.succeeded\",\"account\":\"{{account}}\",\"id\":\"evt_{{$randomUUID}}\"}"}
            }
        }]}]
    });
    std::fs::write(dir.path().join("hooks.json"), collection.to_string()).unwrap();
    let to = receiver.url("/flaky/stripe");
    let out = fire(
        dir.path(),
        &[
            "hooks.json",
            "--item",
            "payment_intent.succeeded",
            "--to",
            &to,
            "--var",
            "account=acct_42",
            "--sign",
            "stripe",
            "--secret-env",
            "HOOK_SECRET",
            "--backoff-ms",
            "50",
        ],
        Some(SECRET),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for n in 1..=2 {
        assert!(
            out.stderr
                .contains(&format!("attempt {n}: 503 Service Unavailable")),
            "{}",
            out.stderr
        );
    }
    assert!(out.stderr.contains("attempt 3: 200 OK"), "{}", out.stderr);
    assert!(
        out.stderr.contains("accepted after 3 attempt(s)"),
        "{}",
        out.stderr
    );
    let received = receiver.log();
    let last = received.last().unwrap();
    let body: serde_json::Value = serde_json::from_str(last["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["account"], "acct_42",
        "--var wins over the collection's variable"
    );
    assert!(
        body["id"].as_str().unwrap().starts_with("evt_")
            && !body["id"].as_str().unwrap().contains("{{")
    );
    assert_eq!(last["content_type"], "application/json");
}

#[test]
fn a_receiver_that_never_accepts_fails_the_run() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let har = example_har().display().to_string();
    let to = receiver.url("/down");
    let out = fire(
        dir.path(),
        &[
            &har,
            "--entry",
            "3",
            "--to",
            &to,
            "--attempts",
            "3",
            "--backoff-ms",
            "10",
        ],
        None,
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("attempt 3: 500 Internal Server Error"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("never accepted in 3 attempt(s)"),
        "{}",
        out.stderr
    );

    // Nobody listening: connection failures are retried too.
    let closed = format!("http://127.0.0.1:{}/hook", crate::peers::free_port());
    let out = fire(
        dir.path(),
        &[
            &har,
            "--entry",
            "3",
            "--to",
            &closed,
            "--attempts",
            "2",
            "--backoff-ms",
            "10",
        ],
        None,
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("attempt 2: "), "{}", out.stderr);

    // Bad input says what is wrong, exit 2.
    for (args, says) in [
        (
            vec![har.as_str(), "--entry", "99", "--to", to.as_str()],
            "entry 99 does not exist (the HAR has 6 entries",
        ),
        (
            vec![
                har.as_str(),
                "--entry",
                "3",
                "--to",
                to.as_str(),
                "--sign",
                "github",
                "--secret-env",
                "HOOK_SECRET",
            ],
            "HOOK_SECRET is not set",
        ),
        (
            vec![har.as_str(), "--entry", "3", "--to", "ftp://x"],
            "is not an http:// or https:// URL",
        ),
    ] {
        let out = fire(dir.path(), &args, None);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}
