//! The lenient HAR reader on arbitrary bytes, then replay's index over what it accepts.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harp::fuzzing::har_json(data));
