//! The Postman mock matcher for arbitrary requests against a real collection:
//! `METHOD\nPATH?QUERY\nBODY`.
#![no_main]
use std::sync::OnceLock;

static EXAMPLES: OnceLock<harp::collection::Examples> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let examples = EXAMPLES.get_or_init(|| {
        let collection =
            include_bytes!("../../tests/fixtures/postman/postman2openapi/echo.postman.json");
        harp::fuzzing::examples_for(collection).unwrap()
    });
    harp::fuzzing::mock_matcher(examples, data);
});
