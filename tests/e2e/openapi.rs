//! OpenAPI: real public definitions (Petstore 3.0 and 3.1 in YAML, Train Travel 3.1,
//! USPTO and the large STAPI definition; provenance in tests/fixtures/openapi/MANIFEST.md)
//! converted into collections that validate against Postman's schema, mocked directly,
//! and run by newman against the mock.

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::*;

fn definition(name: &str) -> PathBuf {
    fixtures().join("openapi").join(name)
}

const DEFINITIONS: &[&str] = &[
    "petstore-3.0.yaml",
    "petstore-3.1.yaml",
    "train-travel-3.1.json",
    "uspto-3.0.json",
    "star-trek-3.0.json",
];

/// Operations in a JSON definition (the YAML ones hold 20, as their JSON twins do).
fn operations(doc: &Value) -> usize {
    const METHODS: &[&str] = &[
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| METHODS.iter().filter(|m| item.get(**m).is_some()).count())
        .sum()
}

/// Requests and examples in a collection.
fn count(items: &Value) -> (usize, usize) {
    items
        .as_array()
        .unwrap()
        .iter()
        .fold((0, 0), |(r, e), item| match item.get("item") {
            Some(children) => {
                let (cr, ce) = count(children);
                (r + cr, e + ce)
            }
            None => (r + 1, e + item["response"].as_array().map_or(0, Vec::len)),
        })
}

#[test]
fn every_definition_converts_into_a_valid_collection_with_an_item_per_operation() {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("schemas/postman-collection-v2.1.0.draft-07.bundled.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options().build(&schema).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in DEFINITIONS {
        let input = definition(name).display().to_string();
        let out = run_harp(dir.path(), &["convert", &input, "-o", "c.json"]);
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
        let collection: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("c.json")).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&collection)
            .take(3)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let (requests, examples) = count(&collection["item"]);
        let expected = if name.ends_with(".json") {
            let doc: Value =
                serde_json::from_slice(&std::fs::read(definition(name)).unwrap()).unwrap();
            operations(&doc)
        } else {
            20
        };
        assert_eq!(requests, expected, "{name}");
        assert!(
            examples >= requests,
            "{name}: {examples} examples for {requests} requests"
        );
        assert!(
            out.stdout.contains(&format!(
                "converted {requests} operations with {examples} examples"
            )),
            "{}",
            out.stdout
        );
    }
    // Not OpenAPI: said plainly, exit 2.
    std::fs::write(
        dir.path().join("swagger.yaml"),
        "swagger: '2.0'\npaths: {}\n",
    )
    .unwrap();
    let out = run_harp(dir.path(), &["convert", "swagger.yaml", "-o", "x.json"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("Swagger 2.0"), "{}", out.stderr);
    std::fs::write(dir.path().join("broken.yaml"), "openapi: [3.0\n").unwrap();
    let out = run_harp(dir.path(), &["convert", "broken.yaml", "-o", "x.json"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("broken.yaml"), "{}", out.stderr);
}

#[tokio::test]
async fn the_mock_serves_a_yaml_definition_under_its_servers_base_path() {
    for name in ["petstore-3.0.yaml", "petstore-3.1.yaml"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(definition(name), dir.path().join(name)).unwrap();
        let mock = Harp::start_in(dir, &["mock", name]).await;
        let plain = reqwest::Client::builder().no_proxy().build().unwrap();
        let get = |path: &str| plain.get(format!("http://{}{path}", mock.addr));

        // Any id matches the path template; the example is generated from the schema.
        let r = get("/v2/pet/42").send().await.unwrap();
        assert_eq!(r.status(), 200, "{name}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("json"));
        let pet: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(pet["name"], "doggie", "{name}: {pet}");
        assert_eq!(pet["status"], "available", "{name}: enum's first value");

        let r = get("/v2/pet/findByStatus?status=sold")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        assert!(serde_json::from_str::<Value>(&r.text().await.unwrap())
            .unwrap()
            .is_array());

        // The documented error responses are there too, by x-mock-response-code.
        let r = get("/v2/pet/42")
            .header("x-mock-response-code", "404")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{name}");

        // Outside the base path: not found.
        let r = get("/pet/42").send().await.unwrap();
        assert_eq!(r.status(), 404, "{name}");
        mock.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newman_runs_the_large_definitions_collection_against_the_mock() {
    let dir = tempfile::tempdir().unwrap();
    let input = definition("star-trek-3.0.json").display().to_string();
    let out = run_harp(dir.path(), &["convert", &input, "-o", "stapi.json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mock = Harp::start_in(dir, &["mock", &input]).await;
    let newman = tokio::process::Command::new("newman")
        .args(["run", "stapi.json", "--env-var"])
        .arg(format!("baseUrl=http://{}/api/v1/rest", mock.addr))
        .args([
            "--reporters",
            "json",
            "--reporter-json-export",
            "newman.json",
        ])
        .current_dir(mock.dir.path())
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .await
        .expect("newman (scripts/test.sh installs it)");
    assert!(
        newman.status.success(),
        "{}",
        String::from_utf8_lossy(&newman.stderr)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(mock.path("newman.json")).unwrap()).unwrap();
    let executions = report["run"]["executions"].as_array().unwrap();
    assert_eq!(executions.len(), 120);
    for x in executions {
        let code = x["response"]["code"].as_u64().unwrap();
        assert!((200..300).contains(&code), "{}: {code}", x["item"]["name"]);
    }
    let stopped = mock.stop().await;
    assert!(
        stopped.stdout.contains("served 120") && stopped.stdout.contains("not found 0"),
        "{}",
        stopped.stdout
    );
}
