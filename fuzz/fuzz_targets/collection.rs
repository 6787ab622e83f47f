//! The lenient Postman collection reader on arbitrary JSON.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harp::fuzzing::collection(data));
