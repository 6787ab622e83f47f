//! Inputs the fuzzers once crashed harp with (`tests/fuzz_regressions/TARGET/*`), run
//! through the same entry points as the fuzz targets in `fuzz/` (`harp::fuzzing`).

use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .filter(|e| e.file_name() != ".gitkeep")
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn fuzz_regressions_no_longer_crash() {
    let replayer = harp::fuzzing::replayer_for(include_bytes!("../../hars/example.har")).unwrap();
    let examples = harp::fuzzing::examples_for(include_bytes!(
        "../fixtures/postman/postman2openapi/echo.postman.json"
    ))
    .unwrap();
    let mut ran = 0;
    for (target, run) in [
        ("har_json", &harp::fuzzing::har_json as &dyn Fn(&[u8])),
        ("har_archive", &harp::fuzzing::har_archive),
        ("collection", &harp::fuzzing::collection),
        ("glob", &harp::fuzzing::glob),
        ("rules", &harp::fuzzing::rules),
        ("replay_matcher", &|d: &[u8]| {
            harp::fuzzing::replay_matcher(&replayer, d)
        }),
        ("mock_matcher", &|d: &[u8]| {
            harp::fuzzing::mock_matcher(&examples, d)
        }),
    ] {
        for (name, data) in inputs(target) {
            eprintln!("{target}/{name}");
            run(&data);
            ran += 1;
        }
    }
    eprintln!("{ran} regression input(s) replayed");
}
