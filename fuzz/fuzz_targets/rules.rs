//! Matching rules on arbitrary bytes: harp.toml text, JSON paths, GraphQL queries and
//! body reduction.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harp::fuzzing::rules(data));
