//! Replay lookup cost against the number of entries, and index build time.
//!
//! `cargo bench --bench lookup` prints one line per size: the time to build the index and
//! the mean time of one lookup (hit and miss) through the same code path replay uses.

use std::time::Instant;

use harp::har::{Entry, Har, HarFile};
use harp::replay::{Index, ReplayOptions, Replayer};

fn entry(i: usize) -> Entry {
    serde_json::from_value(serde_json::json!({
        "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
        "request": {"method": "GET", "url": format!("https://api.bench.test/items/{i}?page={}", i % 7),
                    "headers": [{"name": "accept", "value": "application/json"}]},
        "response": {"status": 200, "headers": [{"name": "content-type", "value": "application/json"}],
                     "content": {"mimeType": "application/json", "text": format!("{{\"id\":{i}}}")}}
    }))
    .unwrap()
}

fn main() {
    println!("| entries | index build | lookup (hit) | lookup (miss) | first miss: grouping | near-miss ranking, same host | near-miss ranking, other host |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &[10usize, 1_000, 100_000, 1_000_000] {
        let mut har = Har::default();
        har.log.entries = (0..n).map(entry).collect();
        let file = HarFile::from_har(har, "bench.har".into());
        let t = Instant::now();
        let index = Index::new(&file, harp::rules::Rules::default()).unwrap();
        let build = t.elapsed();
        let replayer = Replayer::new(index, ReplayOptions::default());
        let headers = vec![("accept".to_string(), "application/json".to_string())];
        let rounds = 200_000;
        let urls: Vec<String> = (0..1024)
            .map(|k| {
                let i = (k * 7919) % n;
                format!("https://api.bench.test/items/{i}?page={}", i % 7)
            })
            .collect();
        let t = Instant::now();
        let mut found = 0;
        for r in 0..rounds {
            found += replayer
                .find(&harp::replay::Asked {
                    method: "GET",
                    url: &urls[r % urls.len()],
                    headers: &headers,
                    body: b"",
                    canon: None,
                })
                .is_some() as usize;
        }
        let hit = t.elapsed() / rounds as u32;
        assert_eq!(found, rounds);
        let misses: Vec<String> = (0..1024)
            .map(|k| format!("https://api.bench.test/none/{k}"))
            .collect();
        let t = Instant::now();
        for r in 0..rounds {
            found += replayer
                .find(&harp::replay::Asked {
                    method: "GET",
                    url: &misses[r % misses.len()],
                    headers: &headers,
                    body: b"",
                    canon: None,
                })
                .is_some() as usize;
        }
        let miss = t.elapsed() / rounds as u32;
        assert_eq!(found, rounds, "a miss was found");
        // What a 502 costs on top: grouping the entries by host and path once, at the
        // first miss; then ranking the nearest entries (bounded neighbours).
        let index = replayer.index();
        let t = Instant::now();
        index.neighbours();
        let grouping = t.elapsed();
        let near = |url: &str| {
            let rounds = 200;
            let t = Instant::now();
            for _ in 0..rounds {
                let req = harp::replay::Asked {
                    method: "GET",
                    url,
                    headers: &headers,
                    body: b"",
                    canon: None,
                };
                let found = harp::replay::diagnose::nearest(
                    &index.recorded,
                    index.neighbours(),
                    &index.rules,
                    &req,
                    3,
                );
                assert!(!found.is_empty());
            }
            t.elapsed() / rounds
        };
        let same_host = near("https://api.bench.test/items/none?page=1");
        let other_host = near("https://elsewhere.test/x");
        println!("| {n} | {build:.1?} | {hit:?} | {miss:?} | {grouping:.1?} | {same_host:.1?} | {other_host:.1?} |");
    }
}
