//! Matching rules end to end: redaction at record time, rules from flags and harp.toml
//! in replay and mock, JSON/form/GraphQL bodies, misses that name the rule that would
//! match, the replay report, `harp noise`, and the Playwright/Postman conformance fixes.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

/// A HAR entry as exporters write them.
fn entry(
    method: &str,
    url: &str,
    post: Option<Value>,
    status: u16,
    headers: Value,
    text: &str,
) -> Value {
    let mut request = json!({
        "method": method, "url": url, "httpVersion": "HTTP/1.1", "headers": [],
        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": -1
    });
    if let Some(post) = post {
        request["postData"] = post;
    }
    json!({
        "startedDateTime": "2024-01-01T00:00:00.000Z", "time": 1,
        "request": request,
        "response": {
            "status": status, "statusText": "", "httpVersion": "HTTP/1.1",
            "headers": headers, "cookies": [],
            "content": {"size": text.len(), "mimeType": "text/plain", "text": text},
            "redirectURL": "", "headersSize": -1, "bodySize": -1
        },
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}
    })
}

fn write_har(dir: &Path, name: &str, entries: Vec<Value>) {
    let har = json!({"log": {"version": "1.2", "creator": {"name": "exporter", "version": "1"}, "entries": entries}});
    std::fs::write(dir.join(name), serde_json::to_vec_pretty(&har).unwrap()).unwrap();
}

fn no_redirects(harp: &Harp) -> reqwest::Client {
    harp.client_builder(Http::Negotiated)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn text(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn redacted_and_ignored_values_never_decide_a_match() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("harp.toml"),
        "[match]\nignore-query = [\"t\"]\nignore-json = [\"$.requestId\"]\n\n[redact]\nquery = [\"token\"]\njson = [\"$.password\"]\n",
    )
    .unwrap();
    let harp = Harp::start_in(
        dir,
        &[
            "record",
            "--har",
            "s.har",
            "--upstream-ca",
            origin.ca_file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        harp.first_line.contains("matching rules from harp.toml"),
        "{}",
        harp.first_line
    );
    let c = harp.client(Http::Negotiated);
    let r = c
        .get(origin.https_url("/api/users?token=s3cret&t=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(origin.https_url("/api/echo"))
        .header("content-type", "application/json")
        .body(r#"{"user":"ada","password":"hunter2","requestId":"r1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(
        r.text().await.unwrap().contains("hunter2"),
        "the client still sees the real body"
    );
    let stopped = harp.stop().await;
    let raw = std::fs::read_to_string(stopped.dir.join("s.har")).unwrap();
    assert!(!raw.contains("s3cret") && !raw.contains("hunter2"), "{raw}");
    let har = read_har(&stopped.dir.join("s.har"));
    let list = entries(&har);
    let get = entry_for(&list, "GET", "/api/users?token=%5BREDACTED%5D&t=1");
    let token = get["request"]["queryString"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "token")
        .unwrap();
    assert_eq!(token["value"], "[REDACTED]");
    let post = entry_for(&list, "POST", "/api/echo");
    let sent: Value =
        serde_json::from_str(post["request"]["postData"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        sent,
        json!({"user": "ada", "password": "[REDACTED]", "requestId": "r1"})
    );
    let echoed: Value =
        serde_json::from_str(post["response"]["content"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        echoed["password"], "[REDACTED]",
        "response JSON is redacted too"
    );

    // Replay: the rules in harp.toml make redacted and ignored values irrelevant.
    let harp = Harp::start_in(stopped.into_dir(), &["replay", "--har", "s.har"]).await;
    let c = harp.client(Http::Negotiated);
    let (status, body) = text(
        c.get(origin.https_url("/api/users?token=live&t=999"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"users":["ada","linus"]}"#)
    );
    let (status, _) = text(
        c.post(origin.https_url("/api/echo"))
            .header("content-type", "application/json")
            .body("{ \"requestId\": \"r2\", \"password\": \"other\",\n  \"user\": \"ada\" }")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        status, 201,
        "JSON by value, requestId ignored, password redacted"
    );
    let r = c
        .post(origin.https_url("/api/echo"))
        .header("content-type", "application/json")
        .body(r#"{"user":"bob","password":"x","requestId":"r3"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("x-harp-unmatched").unwrap(), "1");
    let body = r.text().await.unwrap();
    assert!(body.contains("body JSON differs at $.user"), "{body}");
    let (status, _) = text(
        c.get(origin.https_url("/api/users?page=2"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 502, "a parameter no rule names still decides");
    let stopped = harp.stop().await;
    assert!(stopped.stdout.contains("served 2"), "{}", stopped.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn params_only_form_entries_check_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let form = |v: &str| json!({"mimeType": "application/x-www-form-urlencoded", "params": [{"name": "a", "value": v}, {"name": "b", "value": "x y"}]});
    write_har(
        dir.path(),
        "f.har",
        vec![
            entry(
                "POST",
                "http://forms.test/submit",
                Some(form("1")),
                200,
                json!([]),
                "one",
            ),
            entry(
                "POST",
                "http://forms.test/submit",
                Some(form("2")),
                200,
                json!([]),
                "two",
            ),
        ],
    );
    let harp = Harp::start_in(dir, &["replay", "--har", "f.har"]).await;
    let c = harp.client(Http::One);
    let post = |body: &'static str| {
        c.post("http://forms.test/submit")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    assert_eq!(
        text(post("a=2&b=x+y").await.unwrap()).await,
        (200, "two".into())
    );
    assert_eq!(
        text(post("b=x%20y&a=1").await.unwrap()).await,
        (200, "one".into())
    );
    assert_eq!(post("a=3&b=x+y").await.unwrap().status(), 502);
    harp.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_matches_on_operation_normalised_query_and_variables() {
    let dir = tempfile::tempdir().unwrap();
    let gql = |id: u32| {
        json!({"mimeType": "application/json", "text": json!({
            "operationName": "GetUser",
            "query": "query GetUser($id: ID!) {\n  user(id: $id) {\n    id\n    name # shown\n  }\n}",
            "variables": {"id": id}
        }).to_string()})
    };
    write_har(
        dir.path(),
        "g.har",
        vec![
            entry(
                "POST",
                "http://api.test/graphql",
                Some(gql(1)),
                200,
                json!([]),
                "ada",
            ),
            entry(
                "POST",
                "http://api.test/graphql",
                Some(gql(2)),
                200,
                json!([]),
                "linus",
            ),
        ],
    );
    let harp = Harp::start_in(dir, &["replay", "--har", "g.har"]).await;
    let c = harp.client(Http::Negotiated);
    let ask = |body: Value| {
        c.post("http://api.test/graphql")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let compact = "query GetUser($id:ID!){user(id:$id){id,name}}";
    let r = ask(json!({"variables": {"id": 2}, "query": compact, "operationName": "GetUser"}))
        .await
        .unwrap();
    assert_eq!(text(r).await, (200, "linus".into()));
    let r = ask(json!({"operationName": "GetUser", "query": compact, "variables": {"id": 1}}))
        .await
        .unwrap();
    assert_eq!(text(r).await, (200, "ada".into()));
    let r = ask(json!({"operationName": "GetUser", "query": compact, "variables": {"id": 3}}))
        .await
        .unwrap();
    let (status, body) = text(r).await;
    assert_eq!(status, 502);
    assert!(
        body.contains("GraphQL operation GetUser: body JSON differs at $.variables.id"),
        "{body}"
    );
    harp.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn misses_name_the_rule_and_reports_list_them_as_json_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    write_har(
        dir.path(),
        "r.har",
        vec![
            entry(
                "GET",
                "http://app.test/list?page=1&t=100",
                None,
                200,
                json!([]),
                "list",
            ),
            entry(
                "GET",
                "http://app.test/never",
                None,
                200,
                json!([]),
                "never",
            ),
        ],
    );
    let harp = Harp::start_in(
        dir,
        &["replay", "--har", "r.har", "--report", "out/report.json"],
    )
    .await;
    let c = harp.client(Http::Negotiated);
    for _ in 0..2 {
        let (status, body) = text(
            c.get("http://app.test/list?page=1&t=200")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 502);
        assert!(
            body.contains(
                "would match with: --ignore-query t (harp.toml [match]: ignore-query = [\"t\"])"
            ),
            "{body}"
        );
    }
    let stopped = harp.stop().await;
    assert!(
        stopped.stdout.contains("would match with --ignore-query t"),
        "{}",
        stopped.stdout
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(stopped.dir.join("out/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["summary"]["unmatched"], 2);
    assert_eq!(report["unmatched"][0]["count"], 2);
    assert_eq!(report["unmatched"][0]["nearest"][0]["entry"], 0);
    assert!(report["unmatched"][0]["nearest"][0]["rule"]
        .as_str()
        .unwrap()
        .starts_with("--ignore-query t"));
    let unused: Vec<u64> = report["unused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["entry"].as_u64().unwrap())
        .collect();
    assert_eq!(unused, [0, 1]);

    // With the rule (a flag this time), the same request is served; JUnit for CI.
    let harp = Harp::start_in(
        stopped.into_dir(),
        &[
            "replay",
            "--har",
            "r.har",
            "--ignore-query",
            "t",
            "--report",
            "junit.xml",
        ],
    )
    .await;
    let c = harp.client(Http::Negotiated);
    assert_eq!(
        text(
            c.get("http://app.test/list?page=2&t=5")
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        502,
        "the other parameters still count"
    );
    assert_eq!(
        text(
            c.get("http://app.test/list?page=1&t=5")
                .send()
                .await
                .unwrap()
        )
        .await,
        (200, "list".into())
    );
    let stopped = harp.stop().await;
    let xml = std::fs::read_to_string(stopped.dir.join("junit.xml")).unwrap();
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(
        xml.contains("name=\"GET http://app.test/list?page=2&amp;t=5\""),
        "{xml}"
    );
    // A real XML parser reads it (what CI systems use).
    let parsed = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); \
             print(sum(1 for _ in r.iter('testcase')), sum(1 for _ in r.iter('failure')))",
            stopped.dir.join("junit.xml").to_str().unwrap(),
        ])
        .output()
        .expect("python3 is required (scripts/test.sh installs it)");
    assert_eq!(
        String::from_utf8_lossy(&parsed.stdout).trim(),
        "2 1",
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_cycle_under_fallback_goes_to_the_network() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let to = |path: &str| json!([{"name": "Location", "value": path}]);
    write_har(
        dir.path(),
        "c.har",
        vec![
            entry(
                "GET",
                &origin.http_url("/page"),
                None,
                302,
                to("/elsewhere"),
                "",
            ),
            entry(
                "GET",
                &origin.http_url("/elsewhere"),
                None,
                302,
                to("/page"),
                "",
            ),
        ],
    );
    let harp = Harp::start_in(
        dir,
        &[
            "replay",
            "--har",
            "c.har",
            "--follow-redirects",
            "--not-found",
            "fallback",
        ],
    )
    .await;
    let (status, body) = text(
        no_redirects(&harp)
            .get(origin.http_url("/page"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, "<h1>hi</h1>"),
        "the real origin answered"
    );
    let stopped = harp.stop().await;
    let harp = Harp::start_in(
        stopped.into_dir(),
        &["replay", "--har", "c.har", "--follow-redirects"],
    )
    .await;
    let (status, body) = text(
        no_redirects(&harp)
            .get(origin.http_url("/page"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 502);
    assert!(body.contains("redirect cycle"), "{body}");
    harp.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn noise_finds_the_rules_that_make_two_recordings_replay() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = origin.ca_file.to_str().unwrap().to_string();
    let mut dir = Some(dir);
    for (run, t) in [("1", "100"), ("2", "200")] {
        let name = format!("{run}.har");
        let harp = Harp::start_in(
            dir.take().unwrap(),
            &["record", "--har", &name, "--upstream-ca", &ca],
        )
        .await;
        session(&harp, &origin, t, &format!("req-{run}")).await;
        dir = Some(harp.stop().await.into_dir());
    }
    let dir = dir.unwrap();
    let out = run_harp(dir.path(), &["noise", "1.har", "2.har"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("compared 2 pair(s)"), "{}", out.stdout);
    let toml: String = out
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("# harp.toml"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        toml,
        "[match]\nignore-query = [\"t\"]\nignore-header = [\"x-request-id\"]\nignore-json = [\"$.requestId\"]\n",
        "{}",
        out.stdout
    );
    std::fs::write(dir.path().join("harp.toml"), toml).unwrap();
    // A third session, replayed from the first recording with the rules noise found.
    let harp = Harp::start_in(dir, &["replay", "--har", "1.har"]).await;
    for (status, _) in session(&harp, &origin, "300", "req-3").await {
        assert!(status < 300, "served from 1.har");
    }
    let stopped = harp.stop().await;
    assert!(
        stopped.stdout.contains("served 2 from 1.har, unmatched 0"),
        "{}",
        stopped.stdout
    );
}

/// One session: a GET with a cache-buster and a request id, a POST with an id in its JSON.
async fn session(harp: &Harp, origin: &Origin, t: &str, id: &str) -> Vec<(u16, String)> {
    let c = harp.client(Http::Negotiated);
    let a = c
        .get(origin.https_url(&format!("/api/users?page=1&t={t}")))
        .header("x-request-id", id)
        .send()
        .await
        .unwrap();
    let b = c
        .post(origin.https_url("/api/echo"))
        .header("x-request-id", id)
        .header("content-type", "application/json")
        .body(json!({"q": "x", "requestId": id}).to_string())
        .send()
        .await
        .unwrap();
    vec![text(a).await, text(b).await]
}

#[tokio::test(flavor = "multi_thread")]
async fn url_globs_normalise_like_playwright() {
    let origin = Origin::start().await;
    let upper = format!("HTTP://127.0.0.1:{}", origin.http.port());
    let harp = Harp::start(&["record", "--har", "g.har", "--url", &upper]).await;
    let c = harp.client(Http::One);
    assert_eq!(
        c.get(origin.http_url("/")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        c.get(origin.http_url("/page"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let stopped = harp.stop().await;
    let list = entries(&read_har(&stopped.dir.join("g.har")));
    let urls: Vec<&str> = list
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [origin.http_url("/")],
        "the glob without a path means `/` only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postman_path_variables_faker_uid_and_case_rules_in_the_mock() {
    let dir = tempfile::tempdir().unwrap();
    let uid = "1f0c1d9e-2a4b-4c5d-8e6f-7a8b9c0d1e2f";
    let collection = json!({
        "info": {"name": "m", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": [
            {"name": "user", "request": {"method": "GET", "url": {"raw": "{{baseUrl}}/users/:userId", "variable": [{"key": "userId", "value": ""}]}},
             "response": [{"id": uid, "name": "user", "code": 200, "header": [{"key": "Content-Type", "value": "application/json"}, {"key": "X-User", "value": "{{userId}}"}],
                           "body": "{\"id\":\"{{userId}}\",\"email\":\"{{$randomEmail}}\",\"first\":\"{{$randomFirstName}}\",\"city\":\"{{$randomCity}}\"}",
                           "originalRequest": {"method": "GET", "url": {"raw": "{{baseUrl}}/users/:userId"}}},
                          {"id": "other-id", "name": "gone", "code": 404, "body": "gone",
                           "originalRequest": {"method": "GET", "url": {"raw": "{{baseUrl}}/users/{{userId}}"}}}]},
            {"name": "tests", "request": {"method": "GET", "url": "{{baseUrl}}/tests"},
             "response": [
                {"name": "fail", "code": 200, "body": "fail", "originalRequest": {"method": "GET", "url": {"raw": "{{baseUrl}}/tests?status=fail", "query": [{"key": "status", "value": "fail"}]}}},
                {"name": "pass", "code": 200, "body": "pass", "originalRequest": {"method": "GET", "url": {"raw": "{{baseUrl}}/tests?status=PASS", "query": [{"key": "status", "value": "PASS"}]}}}
             ]},
            {"name": "search", "request": {"method": "POST", "url": "{{baseUrl}}/search"},
             "response": [
                {"name": "json", "code": 200, "body": "json", "originalRequest": {"method": "POST", "url": "{{baseUrl}}/search", "header": [{"key": "Accept", "value": "Application/JSON"}, {"key": "Content-Type", "value": "application/json"}], "body": {"mode": "raw", "raw": "{\"q\": \"rust\", \"nonce\": 1}"}}},
                {"name": "xml", "code": 200, "body": "xml", "originalRequest": {"method": "POST", "url": "{{baseUrl}}/search", "header": [{"key": "Accept", "value": "application/xml"}], "body": {"mode": "raw", "raw": "{\"q\": \"go\"}"}}}
             ]}
        ]
    });
    std::fs::write(dir.path().join("m.json"), collection.to_string()).unwrap();
    std::fs::write(
        dir.path().join("harp.toml"),
        "[match]\nignore-json = [\"$.nonce\"]\n",
    )
    .unwrap();
    let harp = Harp::start_in(dir, &["mock", "m.json"]).await;
    let base = format!("http://{}", harp.addr);
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    let r = c.get(format!("{base}/users/42")).send().await.unwrap();
    assert_eq!(r.headers().get("x-user").unwrap(), "42");
    let user: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(
        user["id"], "42",
        "the path variable is captured into the response"
    );
    assert!(user["email"].as_str().unwrap().contains('@'), "{user}");
    for field in ["first", "city"] {
        let v = user[field].as_str().unwrap();
        assert!(!v.is_empty() && !v.contains("{{"), "{field}: {v}");
    }
    let r = c
        .get(format!("{base}/users/42"))
        .header("x-mock-response-id", format!("12345678-{uid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "Postman's UID form names the example");
    let r = c
        .get(format!("{base}/users/42"))
        .header("x-mock-response-id", "other-id")
        .send()
        .await
        .unwrap();
    assert_eq!(text(r).await, (404, "gone".into()));

    let r = c
        .get(format!("{base}/tests?status=pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        text(r).await,
        (200, "pass".into()),
        "query values compare case-insensitively"
    );

    let search = |accept: &'static str, body: &'static str| {
        c.post(format!("{base}/search"))
            .header("accept", accept)
            .header("content-type", "application/json")
            .header("x-mock-match-request-headers", "accept")
            .header("x-mock-match-request-body", "true")
            .body(body)
            .send()
    };
    let r = search("application/json", "{\"nonce\": 99, \"q\": \"rust\"}")
        .await
        .unwrap();
    assert_eq!(
        text(r).await,
        (200, "json".into()),
        "header values case-insensitive, nonce ignored by harp.toml"
    );
    let r = search("application/json", "{\"q\": \"go\"}").await.unwrap();
    assert_eq!(r.status(), 404, "the body must still match");
    harp.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn convert_names_what_it_leaves_out_and_newman_runs_the_result() {
    let dir = tempfile::tempdir().unwrap();
    write_har(
        dir.path(),
        "x.har",
        vec![
            entry(
                "GET",
                "data:text/plain,hello",
                None,
                200,
                json!([]),
                "hello",
            ),
            entry(
                "GET",
                "http://app.test/ok",
                None,
                200,
                json!([{"name": "bad header", "value": "1"}, {"name": "X-Good", "value": "1"}]),
                "ok",
            ),
            entry(
                "POST",
                "http://app.test/form",
                Some(
                    json!({"mimeType": "application/x-www-form-urlencoded", "params": [{"name": "a", "value": "1"}]}),
                ),
                200,
                json!([]),
                "posted",
            ),
        ],
    );
    let mut e = entry("GET", "http://app.test/h", None, 200, json!([]), "h");
    e["request"]["headers"] =
        json!([{"name": "bad:name", "value": "v"}, {"name": "Accept", "value": "*/*"}]);
    let har_path = dir.path().join("x.har");
    let mut har: Value = serde_json::from_slice(&std::fs::read(&har_path).unwrap()).unwrap();
    har["log"]["entries"].as_array_mut().unwrap().push(e);
    std::fs::write(&har_path, har.to_string()).unwrap();

    let out = run_harp(dir.path(), &["convert", "x.har", "-o", "x.json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("entry 0 (GET data:text/plain,hello): left out: a data: URL"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("entry 1 response: header \"bad header\" dropped"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("entry 3 request: header \"bad:name\" dropped"),
        "{}",
        out.stderr
    );
    let collection: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("x.json")).unwrap()).unwrap();
    let text = collection.to_string();
    assert!(!text.contains("bad header") && !text.contains("bad:name"));
    let form = &collection["item"][0]["item"][1]["request"]["body"];
    assert_eq!(form["mode"], "urlencoded", "{collection}");
    assert_eq!(
        form["urlencoded"][0],
        json!({"key": "a", "value": "1", "type": "text"})
    );

    // newman (which refused invalid header names with ERR_INVALID_HTTP_TOKEN) runs it
    // against harp's mock of the same collection.
    let mock = Harp::start_in(dir, &["mock", "x.json"]).await;
    let newman = std::process::Command::new("newman")
        .args([
            "run",
            "x.json",
            "--env-var",
            &format!("baseUrl0=http://{}", mock.addr),
            "--timeout-request",
            "10000",
        ])
        .current_dir(mock.dir.path())
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .expect("newman is required (scripts/test.sh installs it)");
    assert!(
        newman.status.success(),
        "newman: {}\n{}",
        String::from_utf8_lossy(&newman.stdout),
        String::from_utf8_lossy(&newman.stderr)
    );
    let stopped = mock.stop().await;
    assert!(stopped.stdout.contains("served 3"), "{}", stopped.stdout);
}

#[test]
fn bad_rules_are_bad_input_naming_the_file_or_flag() {
    let dir = tempfile::tempdir().unwrap();
    write_har(dir.path(), "a.har", vec![]);
    std::fs::write(
        dir.path().join("harp.toml"),
        "[match]\nignore-querys = [\"t\"]\n",
    )
    .unwrap();
    let out = run_harp(
        dir.path(),
        &["replay", "--har", "a.har", "--listen", "127.0.0.1:0"],
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("harp.toml") && out.stderr.contains("ignore-querys"),
        "{}",
        out.stderr
    );
    let out = run_harp(
        dir.path(),
        &[
            "replay",
            "--har",
            "a.har",
            "--no-rules-file",
            "--ignore-json",
            "id",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("invalid JSON path \"id\""),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_drops_the_entries_a_report_says_were_never_used() {
    let dir = tempfile::tempdir().unwrap();
    write_har(
        dir.path(),
        "p.har",
        vec![
            entry("GET", "http://app.test/used", None, 200, json!([]), "used"),
            entry(
                "GET",
                "http://app.test/stale",
                None,
                200,
                json!([]),
                "stale",
            ),
            entry("GET", "http://app.test/old", None, 200, json!([]), "old"),
        ],
    );
    let harp = Harp::start_in(dir, &["replay", "--har", "p.har", "--report", "r.json"]).await;
    let c = harp.client(Http::One);
    assert_eq!(
        text(c.get("http://app.test/used").send().await.unwrap()).await,
        (200, "used".into())
    );
    let dir = harp.stop().await.into_dir();
    let out = run_harp(
        dir.path(),
        &["prune", "p.har", "--report", "r.json", "--dry-run"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("would prune 2 of 3 entries from p.har (entries #1, #2)"),
        "{}",
        out.stdout
    );
    assert_eq!(
        entries(&read_har(&dir.path().join("p.har"))).len(),
        3,
        "a dry run writes nothing"
    );
    let out = run_harp(dir.path(), &["prune", "p.har", "--report", "r.json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("pruned 2 of 3 entries from p.har (1 left)"),
        "{}",
        out.stdout
    );
    let left = entries(&read_har(&dir.path().join("p.har")));
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["request"]["url"], "http://app.test/used");
    // The report no longer describes the HAR: refused, naming both.
    let out = run_harp(dir.path(), &["prune", "p.har", "--report", "r.json"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("r.json was made from a HAR of 3 entries; p.har has 1"),
        "{}",
        out.stderr
    );
}

#[test]
fn unused_entries_warn_or_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    write_har(
        dir.path(),
        "u.har",
        vec![
            entry("GET", "http://app.test/used", None, 200, json!([]), "used"),
            entry(
                "GET",
                "http://app.test/stale",
                None,
                200,
                json!([]),
                "stale",
            ),
        ],
    );
    let curl = ["curl", "-sS", "http://app.test/used"];
    let with = |policy: &str| {
        let mut args = vec!["run", "--har", "u.har", "--unused", policy, "--"];
        args.extend(curl);
        run_harp(dir.path(), &args)
    };
    let warned = with("warn");
    assert_eq!(warned.code, Some(0), "{}", warned.stderr);
    assert_eq!(warned.stdout, "used");
    assert!(
        warned
            .stderr
            .contains("1 of 2 entries never used:\n  #1 GET http://app.test/stale"),
        "{}",
        warned.stderr
    );
    let failed = with("fail");
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .contains("failing: --unused fail and entries were never used"),
        "{}",
        failed.stderr
    );
    let mut args = vec!["run", "--har", "u.har", "--"];
    args.extend(curl);
    let plain = run_harp(dir.path(), &args);
    assert_eq!(plain.code, Some(0));
    assert!(
        !plain.stderr.contains("never used"),
        "silent without --unused: {}",
        plain.stderr
    );
}

#[test]
fn diff_says_what_changed_and_exits_by_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let json_entry = |url: &str, status: u16, text: &str| {
        let mut e = entry(
            "GET",
            url,
            None,
            status,
            json!([{"name": "Content-Type", "value": "application/json"}]),
            text,
        );
        e["response"]["content"]["mimeType"] = json!("application/json");
        e
    };
    write_har(
        dir.path(),
        "a.har",
        vec![
            json_entry("http://app.test/user", 200, r#"{"name":"ada","id":1}"#),
            json_entry("http://app.test/old", 200, "{}"),
        ],
    );
    write_har(
        dir.path(),
        "b.har",
        vec![
            json_entry(
                "http://app.test/user",
                200,
                "{\n  \"id\": 1,\n  \"name\": \"grace\"\n}",
            ),
            json_entry("http://app.test/new", 201, "{}"),
        ],
    );
    let same = run_harp(dir.path(), &["diff", "a.har", "a.har"]);
    assert_eq!(same.code, Some(0), "{}{}", same.stdout, same.stderr);
    let out = run_harp(dir.path(), &["diff", "a.har", "b.har"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("- GET http://app.test/old (#1)  only in a.har"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("+ GET http://app.test/new (#1)  only in b.har"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "~ GET http://app.test/user (#0 / #0)\n    response body $.name: \"ada\" → \"grace\"\n"
        ),
        "{}",
        out.stdout
    );
    let bad = run_harp(dir.path(), &["diff", "a.har", "missing.har"]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("missing.har"), "{}", bad.stderr);
}

#[test]
fn max_age_warns_or_fails_on_old_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = entry("GET", "http://app.test/old", None, 200, json!([]), "old");
    old["startedDateTime"] = json!("2020-03-01T08:00:00.000Z");
    let mut fresh = entry("GET", "http://app.test/new", None, 200, json!([]), "new");
    fresh["startedDateTime"] = json!("2099-01-01T00:00:00.000Z");
    write_har(dir.path(), "a.har", vec![old, fresh]);
    let with = |max_age: &str| {
        run_harp(
            dir.path(),
            &[
                "run",
                "--har",
                "a.har",
                "--max-age",
                max_age,
                "--",
                "curl",
                "-sS",
                "http://app.test/new",
            ],
        )
    };
    let warned = with("30d");
    assert_eq!(warned.code, Some(0), "{}", warned.stderr);
    assert!(
        warned.stderr.contains(
            "a.har: 1 of 2 entries were recorded more than 30d ago (the oldest 2020-03-01T08:00:00.000Z)"
        ),
        "{}",
        warned.stderr
    );
    let failed = with("30d:fail");
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("failing: --max-age"),
        "{}",
        failed.stderr
    );
    let young = with("100y:fail");
    assert_eq!(young.code, Some(0), "{}", young.stderr);
    assert!(
        !young.stderr.contains("recorded more than"),
        "{}",
        young.stderr
    );
    let bad = with("soon");
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("30d, 12h or 2w"), "{}", bad.stderr);
}
