//! Arbitrary bytes read as a `.zip` archive and as a zlib `.zhar`, under small limits.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| harp::fuzzing::har_archive(data));
