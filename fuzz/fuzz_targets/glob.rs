//! URL glob compilation and matching: first line the glob, the rest the URL.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harp::fuzzing::glob(data));
