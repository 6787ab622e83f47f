//! `harp convert` and `harp mock` end to end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use harp::collection::{self, Variables};
use serde_json::{json, Value};

use crate::harness::*;

fn postman_fixtures() -> Vec<PathBuf> {
    let root = fixtures().join("postman");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                if matches!(f.extension().and_then(|e| e.to_str()), Some("json" | "har")) {
                    out.push(f);
                }
            }
        }
    }
    out.sort();
    out
}

async fn start_mock(path: &Path, extra: &[&str]) -> Harp {
    let mut args = vec!["mock", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    Harp::start(&args).await
}

/// A plain client (no proxy): the mock is used as Postman's mock URL is.
fn plain() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_brotli()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b':'
            | b'@'
            | b'$'
            | b','
            | b';'
            | b'=' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn request_target(e: &collection::Example) -> String {
    let mut path: String = e
        .path
        .iter()
        .map(|s| match s {
            collection::model::Segment::Text(t) => format!("/{}", encode_segment(t)),
            collection::model::Segment::Var(_) => "/w1".to_string(),
        })
        .collect();
    if path.is_empty() || e.trailing_slash {
        path.push('/');
    }
    if !e.query.is_empty() {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&e.query)
            .finish();
        path.push('?');
        path.push_str(&q);
    }
    path
}

#[tokio::test]
async fn every_example_of_every_fixture_collection_is_reachable() {
    let client = plain();
    let mut total = 0;
    for path in postman_fixtures() {
        let examples = collection::load_examples(&path, &Variables::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mock = start_mock(&path, &[]).await;
        let base = format!("http://{}", mock.addr);
        for e in &examples.examples {
            let target = request_target(e);
            let same_target: Vec<&collection::Example> = examples
                .examples
                .iter()
                .filter(|o| o.method == e.method && request_target(o) == target)
                .collect();
            let mut rb = client.request(
                reqwest::Method::from_bytes(e.method.as_bytes()).unwrap(),
                format!("{base}{target}"),
            );
            // Examples that nothing in the request can tell apart (same target, same name:
            // duplicated items in real exports) are equally right answers.
            let twins: Vec<&collection::Example> = same_target
                .iter()
                .copied()
                .filter(|o| o.name == e.name)
                .collect();
            if same_target.len() > 1 {
                // Several examples answer this request: name the one wanted, as Postman users do.
                rb = match (&e.id, twins.len() == 1) {
                    (Some(id), false) => rb.header("x-mock-response-id", id.as_str()),
                    _ => rb.header("x-mock-response-name", e.name.as_str()),
                };
            }
            // Send the example's own request body: examples that differ only by body
            // (SOAP calls to one endpoint) are told apart by it.
            match &e.request_body {
                collection::model::RequestBody::Raw(text) => {
                    for (k, v) in e
                        .request_headers
                        .iter()
                        .filter(|(k, _)| k == "content-type" || k == "soapaction")
                    {
                        rb = rb.header(k.as_str(), v.as_str());
                    }
                    rb = rb.body(text.clone());
                }
                collection::model::RequestBody::Form(pairs) => {
                    let body: String = form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(pairs)
                        .finish();
                    rb = rb
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body);
                }
                _ => {}
            }
            let r = rb
                .send()
                .await
                .unwrap_or_else(|err| panic!("{} {target}: {err}", path.display()));
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap();
            let what = format!("{} / {} / {} {target}", path.display(), e.item, e.name);
            let expected_body = |x: &collection::Example| -> Vec<u8> {
                if matches!(x.code, 204 | 304) || x.method == "HEAD" {
                    Vec::new()
                } else if x.body_base64 {
                    base64::engine::general_purpose::STANDARD
                        .decode(&x.body)
                        .unwrap()
                } else {
                    // Path variables in the body take the request's values, as in Postman.
                    let path = target.split('?').next().unwrap_or("");
                    let vars = collection::matcher::path_captures(&x.path, path);
                    collection::dynamic::fill(&x.body, &vars).into_bytes()
                }
            };
            let acceptable: Vec<&collection::Example> = if twins.len() > 1 && e.id.is_none() {
                twins.clone()
            } else {
                vec![e]
            };
            assert!(
                acceptable.iter().any(|x| x.code == status),
                "{what}: status {status}: {}",
                String::from_utf8_lossy(&body)
            );
            if !e.body.contains("{{$") {
                assert!(
                    acceptable.iter().any(|x| expected_body(x) == body.as_ref()),
                    "{what}: body differs ({} bytes served, {} expected)",
                    body.len(),
                    expected_body(e).len()
                );
            }
            total += 1;
        }
        let stopped = mock.stop().await;
        assert!(
            stopped.stdout.contains("not found 0"),
            "{}: {}",
            path.display(),
            stopped.stdout
        );
    }
    assert!(total >= 250, "only {total} examples checked");
}

#[test]
fn converted_fixtures_validate_against_the_v21_schema() {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("schemas/postman-collection-v2.1.0.draft-07.bundled.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options().build(&schema).unwrap();
    let mut converted = 0;
    let root = fixtures().join("har");
    let mut hars: Vec<PathBuf> = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            hars.extend(
                std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|f| f.unwrap().path())
                    .filter(|f| {
                        matches!(f.extension().and_then(|e| e.to_str()), Some("har" | "zhar"))
                    }),
            );
        }
    }
    hars.push(fixtures().join("postman/har-to-postman/patio.company.givers.original.har"));
    hars.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("hars/example.har"));
    for path in hars {
        let Ok(file) = harp::har::read_har_file(&path) else {
            continue;
        };
        let collection = harp::collection::convert::har_to_collection(&file, "t").unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&collection)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .take(5)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        // And harp reads its own output back with every entry as an example.
        let examples =
            collection::model::examples_from(&collection, &Variables::default()).unwrap();
        let convertible = file
            .har
            .log
            .entries
            .iter()
            .filter(|e| {
                e.request.url.starts_with("http") && !e.is_incomplete() && e.response.status >= 100
            })
            .count();
        assert_eq!(examples.examples.len(), convertible, "{}", path.display());
        converted += 1;
    }
    assert!(converted >= 25, "{converted}");
    let broken = json!({"info": {"name": "x", "schema": "s"}, "item": [{"request": 5}]});
    assert!(
        !validator.is_valid(&broken),
        "the schema check is not vacuous"
    );
}

#[test]
fn converter_output_snapshot() {
    let file =
        harp::har::read_har_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("hars/example.har"))
            .unwrap();
    let collection = harp::collection::convert::har_to_collection(&file, "example").unwrap();
    insta::assert_json_snapshot!("example_collection", collection);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_convert_mock_round_trip_and_newman() {
    let origin = Origin::start().await;
    let ca = origin.ca_file.display().to_string();
    let recorder = Harp::start(&["record", "--har", "s.har", "--upstream-ca", &ca]).await;
    let c = recorder.decoding_client(Http::Negotiated);
    let mut seen = Vec::new();
    for (method, url, body) in [
        ("GET", origin.https_url("/api/users"), None),
        ("GET", origin.http_url("/page"), None),
        ("GET", origin.https_url("/bin"), None),
        ("GET", origin.https_url("/gzip"), None),
        (
            "POST",
            origin.https_url("/api/echo"),
            Some(r#"{"name":"grace"}"#),
        ),
        ("GET", origin.http_url("/items/42?sort=asc"), None),
    ] {
        let mut rb = c.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            &url,
        );
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b);
        }
        let r = rb.send().await.unwrap();
        seen.push((method, url, r.status().as_u16(), r.bytes().await.unwrap()));
    }
    let dir = recorder.stop().await.into_dir();
    let out = run_harp(
        dir.path(),
        &["convert", "s.har", "-o", "s.postman_collection.json"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("converted 6 entries into 6 requests in 2 host folder(s)"),
        "{}",
        out.stdout
    );

    let mock = Harp::start_in(dir, &["mock", "s.postman_collection.json"]).await;
    let client = plain();
    for (method, url, status, body) in &seen {
        let path = &url[url.find("://").unwrap() + 3..];
        let path = &path[path.find('/').unwrap()..];
        let mut rb = client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("http://{}{path}", mock.addr),
        );
        if *method == "POST" {
            rb = rb
                .header("content-type", "application/json")
                .body(r#"{"name":"grace"}"#);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status().as_u16(), *status, "{path}");
        assert!(r.headers().get("content-encoding").is_none(), "{path}");
        assert_eq!(&r.bytes().await.unwrap(), body, "{path}");
    }

    // newman runs the converted collection against the mock: every request passes.
    let collection: Value =
        serde_json::from_slice(&std::fs::read(mock.path("s.postman_collection.json")).unwrap())
            .unwrap();
    let mut args: Vec<String> = vec!["run".into(), "s.postman_collection.json".into()];
    for var in collection["variable"].as_array().unwrap() {
        args.push("--env-var".into());
        args.push(format!(
            "{}=http://{}",
            var["key"].as_str().unwrap(),
            mock.addr
        ));
    }
    args.extend(
        [
            "--reporters",
            "json",
            "--reporter-json-export",
            "newman.json",
            "--timeout-request",
            "10000",
        ]
        .map(String::from),
    );
    let newman = std::process::Command::new("newman")
        .args(&args)
        .current_dir(mock.dir.path())
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .expect("newman is required: npm install -g newman (.ci/run installs it)");
    assert!(
        newman.status.success(),
        "newman: {}\n{}",
        String::from_utf8_lossy(&newman.stdout),
        String::from_utf8_lossy(&newman.stderr)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(mock.path("newman.json")).unwrap()).unwrap();
    let executions = report["run"]["executions"].as_array().unwrap();
    assert_eq!(executions.len(), 6);
    for x in executions {
        let name = x["item"]["name"].as_str().unwrap();
        let (_, _, status, _) = seen
            .iter()
            .find(|(m, u, _, _)| {
                name == format!(
                    "{m} {}",
                    &u[u.find("://").unwrap() + 3..]
                        [u[u.find("://").unwrap() + 3..].find('/').unwrap()..]
                )
            })
            .unwrap_or_else(|| panic!("no recorded request for item {name}"));
        assert_eq!(x["response"]["code"], *status, "{name}");
    }
    assert_eq!(report["run"]["failures"].as_array().unwrap().len(), 0);
    let stopped = mock.stop().await;
    assert!(stopped.stdout.contains("served 12"), "{}", stopped.stdout);
}

fn write_collection(dir: &Path, body: &str, extra_example: Option<Value>) -> PathBuf {
    let mut responses = vec![json!({
        "name": "ok", "code": 200, "status": "OK",
        "originalRequest": {"method": "GET", "url": {"raw": "{{host}}/hello?lang={{lang}}"}},
        "header": [{"key": "Content-Type", "value": "application/json"}, {"key": "Content-Encoding", "value": "gzip"}, {"key": "Content-Length", "value": "999"}],
        "body": body
    })];
    responses.extend(extra_example);
    let doc = json!({
        "info": {"name": "t", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "variable": [{"key": "host", "value": "https://api.test"}, {"key": "lang", "value": "en"}],
        "item": [{"name": "hello", "request": {"method": "GET", "url": "{{host}}/hello"}, "response": responses}]
    });
    let path = dir.join("c.postman_collection.json");
    let tmp = dir.join("c.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    path
}

/// GET `url` with the private mock's key and parse the JSON answer.
async fn keyed_json(client: &reqwest::Client, url: String) -> Value {
    let r = client
        .get(url)
        .header("x-api-key", "s3cret")
        .send()
        .await
        .unwrap();
    r.text().await.unwrap().parse().unwrap()
}

#[tokio::test]
async fn mock_features_key_delay_env_dynamic_headers_proxy_reload() {
    let dir = tempfile::tempdir().unwrap();
    let coll = write_collection(
        dir.path(),
        r#"{"greeting":"{{greeting}}","id":"{{$guid}}"}"#,
        None,
    );
    std::fs::write(dir.path().join("env.json"), r#"{"name":"e","values":[{"key":"greeting","value":"hi","enabled":true},{"key":"lang","value":"fr"}]}"#).unwrap();
    let mock = Harp::start_in(
        dir,
        &[
            "mock",
            coll.to_str().unwrap(),
            "--api-key",
            "s3cret",
            "--delay",
            "300",
            "--env",
            "env.json",
        ],
    )
    .await;
    let base = format!("http://{}", mock.addr);
    let client = plain();

    // Private mock.
    let r = client
        .get(format!("{base}/hello?lang=fr"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.text().await.unwrap().parse().unwrap();
    assert_eq!(v["error"]["header"], "x-api-key");
    let r = client
        .get(format!("{base}/hello?lang=fr"))
        .header("x-api-key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Delay, env variables (the environment overrides the collection's `lang`), dynamic
    // variables, and consistent headers over a body saved with a stale content-encoding.
    let started = Instant::now();
    let r = client
        .get(format!("{base}/hello?lang=fr"))
        .header("x-api-key", "s3cret")
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-encoding").is_none());
    let text = r.text().await.unwrap();
    let v: Value = text.parse().unwrap();
    assert_eq!(v["greeting"], "hi");
    assert_eq!(v["id"].as_str().unwrap().len(), 36);
    let again: Value = keyed_json(&client, format!("{base}/hello?lang=fr")).await;
    assert_ne!(v["id"], again["id"], "{{{{$guid}}}} is fresh per response");

    // As a proxy, plain and intercepted HTTPS.
    let proxied = mock.client(Http::Negotiated);
    let r = proxied
        .get("https://api.test/hello?lang=fr")
        .header("x-api-key", "s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap().parse::<Value>().unwrap()["greeting"],
        "hi"
    );
    let r = proxied
        .get("http://anything.test/hello?lang=fr")
        .header("x-api-key", "s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // No match: 404 JSON naming the closest examples.
    let r = client
        .get(format!("{base}/goodbye"))
        .header("x-api-key", "s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.text().await.unwrap().parse().unwrap();
    assert_eq!(v["error"]["name"], "mockRequestNotFoundError");
    assert_eq!(v["error"]["closest"][0]["item"], "hello");

    // Call log: private too (it holds callers' paths and tokens).
    let r = client
        .get(format!("{base}/__harp/calls"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a private mock's call log needs the key");
    let v: Value = keyed_json(&client, format!("{base}/__harp/calls")).await;
    assert_eq!(v["summary"]["served"], 4);
    assert_eq!(v["summary"]["notFound"], 1);
    assert_eq!(v["summary"]["unauthorized"], 3);
    assert_eq!(v["calls"][2]["example"], "hello / ok");

    // Hot reload: a new body is served without a restart; a broken file keeps the old one.
    write_collection(
        mock.dir.path(),
        r#"{"greeting":"reloaded"}"#,
        Some(json!({"name": "teapot", "code": 418, "body": "short and stout"})),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: Value = keyed_json(&client, format!("{base}/hello?lang=fr")).await;
        if v["greeting"] == "reloaded" {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = client
        .get(format!("{base}/hello"))
        .header("x-api-key", "s3cret")
        .header("x-mock-response-code", "418")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 418);
    std::fs::write(mock.path("c.postman_collection.json"), "{ not json").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let v: Value = keyed_json(&client, format!("{base}/hello?lang=fr")).await;
    assert_eq!(v["greeting"], "reloaded");
    let stopped = mock.stop().await;
    assert!(
        stopped
            .stderr
            .contains("not reloaded, still serving the previous examples"),
        "{}",
        stopped.stderr
    );
}

#[test]
fn bad_collections_and_envs_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("broken.json"), "{\"info\": ").unwrap();
    std::fs::write(d.join("nothing.json"), "{\"info\": {}}").unwrap();
    std::fs::write(d.join("ok.json"), r#"{"item": []}"#).unwrap();
    std::fs::write(d.join("env.json"), "[1,2]").unwrap();
    for (args, expect) in [
        (vec!["mock", "broken.json"], "invalid JSON at line 1"),
        (vec!["mock", "nothing.json"], "no \"item\" array"),
        (
            vec!["mock", "ok.json", "--env", "env.json"],
            "not a Postman environment",
        ),
        (vec!["mock", "missing.json"], "missing.json"),
        (
            vec!["convert", "missing.har", "-o", "x.json"],
            "missing.har",
        ),
    ] {
        let mut full = args.clone();
        full.extend(["--listen", "127.0.0.1:0"]);
        let full: Vec<&str> = if args[0] == "convert" {
            args.clone()
        } else {
            full
        };
        let out = run_harp(d, &full);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn an_empty_api_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let coll = fixtures().join("postman/newman/echo.postman.json");
    let coll = if coll.exists() {
        coll
    } else {
        postman_fixtures().remove(0)
    };
    let out = run_harp(
        dir.path(),
        &[
            "mock",
            coll.to_str().unwrap(),
            "--api-key",
            "",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--api-key is empty"), "{}", out.stderr);
}
