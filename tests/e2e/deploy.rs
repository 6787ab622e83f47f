//! `deploy/`: the Dockerfile's command and the Kubernetes manifests' containers, run as
//! written (paths inside the image mapped to this checkout, the listen address to a
//! free loopback port) and probed where the manifests probe them. No container engine
//! runs here (the CI machine has no container daemon, and building the image pulls base
//! images from a container registry, which the test machines do not reach): this checks
//! that what the files ask of harp is what harp does.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness::{run_harp, Harp};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The YAML documents of a manifest, as JSON (through Python's yaml).
fn manifest(name: &str) -> Vec<Value> {
    let path = repo().join("deploy/k8s").join(name);
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1]))]))",
        ])
        .arg(&path)
        .output()
        .expect("python3 with yaml (scripts/test.sh installs python3-yaml)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `args` with the image's paths mapped by `paths` and `--listen` left out (the harness
/// listens on a free loopback port); also returns the port `--listen` named.
fn local_args(args: &[String], paths: &[(&str, &Path)]) -> (Vec<String>, u16) {
    let mut out = Vec::new();
    let mut port = 0;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--listen" {
            let addr = iter.next().expect("--listen has a value");
            port = addr.rsplit(':').next().unwrap().parse().unwrap();
            continue;
        }
        let mut arg = arg.clone();
        for (inside, here) in paths {
            if let Some(rest) = arg.strip_prefix(inside) {
                arg = here.join(rest).display().to_string();
            }
        }
        out.push(arg);
    }
    (out, port)
}

/// GET `path` on harp itself; the status and body.
async fn probe(harp: &Harp, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = client
        .get(format!("http://{}{path}", harp.addr))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Runs each Deployment's container of `name` with `paths` mapped, then probes its
/// readiness path and its Prometheus path, and checks the Service targets its port.
async fn deployment_serves(
    name: &str,
    dir: tempfile::TempDir,
    paths: &[(&str, &Path)],
    mode: &str,
) {
    let docs = manifest(name);
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let service = docs.iter().find(|d| d["kind"] == "Service").unwrap();
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    let args: Vec<String> = serde_json::from_value(container["args"].clone()).unwrap();
    // Every file the arguments read lies in a mounted volume.
    let mounts: Vec<&str> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    for arg in args.iter().filter(|a| a.starts_with('/')) {
        assert!(
            mounts.iter().any(|m| arg.starts_with(&format!("{m}/"))),
            "{name}: {arg} is in no volume ({mounts:?})"
        );
    }
    let (args, port) = local_args(&args, paths);
    let port_name = container["ports"][0]["name"].as_str().unwrap();
    assert_eq!(
        container["ports"][0]["containerPort"], port,
        "{name}: the port harp listens on"
    );
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"], port_name,
        "{name}"
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let harp = Harp::start_in(dir, &args).await;
    let ready = container["readinessProbe"]["httpGet"]["path"]
        .as_str()
        .unwrap();
    let (status, body) = probe(&harp, ready).await;
    assert_eq!(status, 200, "{name}: {body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["mode"], mode, "{body}");
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/port"], port.to_string());
    let (status, body) = probe(&harp, annotations["prometheus.io/path"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(body.contains("harp_up 1"), "{body}");
    harp.stop().await;
}

#[tokio::test]
async fn the_replay_manifest_runs_and_answers_its_probes() {
    let hars = repo().join("hars");
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    deployment_serves(
        "harp-replay.yaml",
        dir,
        &[("/fixtures/", &hars), ("/certs", &certs)],
        "replay",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_manifest_runs_and_answers_its_probes() {
    let dir = tempfile::tempdir().unwrap();
    let har = repo().join("hars/example.har").display().to_string();
    let converted = run_harp(
        dir.path(),
        &["convert", &har, "-o", "api.postman_collection.json"],
    );
    assert_eq!(converted.code, Some(0), "{}", converted.stderr);
    let here = dir.path().to_path_buf();
    deployment_serves("harp-mock.yaml", dir, &[("/collections/", &here)], "mock").await;
}

#[tokio::test]
async fn the_dockerfiles_command_serves_the_bundled_example() {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let json_line = |keyword: &str| -> Vec<String> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(keyword))
            .unwrap_or_else(|| panic!("no {keyword}"));
        serde_json::from_str(line.trim()).unwrap()
    };
    assert_eq!(json_line("ENTRYPOINT "), ["/harp"]);
    let cmd = json_line("CMD ");
    let hars = repo().join("hars");
    let (args, port) = local_args(&cmd, &[("/fixtures/", &hars)]);
    assert!(
        text.contains(&format!("EXPOSE {port}")),
        "EXPOSE matches --listen"
    );
    assert!(text.contains("USER 65532"), "runs as non-root");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let harp = Harp::start(&args).await;
    let (status, body) = probe(&harp, "/__harp/health").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"entries\": 6"), "{body}");
    harp.stop().await;
}
