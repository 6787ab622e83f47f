//! Replay's lookup and near-miss ranking for arbitrary requests against the bundled
//! example HAR: `METHOD\nURL\nBODY`.
#![no_main]
use std::sync::OnceLock;

static REPLAYER: OnceLock<harp::replay::Replayer> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let replayer = REPLAYER.get_or_init(|| {
        harp::fuzzing::replayer_for(include_bytes!("../../hars/example.har")).unwrap()
    });
    harp::fuzzing::replay_matcher(replayer, data);
});
