//! Latency (`--latency`): when a served answer's head goes out and when each part of its
//! body follows.
//!
//! - `none`: at once (the default).
//! - `recorded`: the head after the entry's `timings.wait`; the body in the parts it came
//!   in, at their recorded offsets (`_harpChunks`, written by harp's recorder for bodies
//!   that came in parts: event streams, slow chunked answers), else spread evenly over
//!   `timings.receive`.
//! - `scale=F`: as recorded, every time multiplied by F (`scale=0.1` is ten times faster).
//! - `fixed=MS[,jitter=MS]`: the head after MS milliseconds, give or take up to the
//!   jitter (uniformly), the body at once.
//!
//! Every wait is capped at [`MAX_DELAY`].

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use crate::har::Entry;
use crate::proxy::{boxed, Body};

/// The longest any single wait may be, whatever the HAR says.
pub const MAX_DELAY: Duration = Duration::from_secs(300);

/// How served answers are timed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Latency {
    /// At once.
    #[default]
    None,
    /// As recorded.
    Recorded,
    /// As recorded, times this factor.
    Scale(f64),
    /// A fixed wait before the head, with uniform jitter.
    Fixed {
        /// Milliseconds.
        ms: u64,
        /// Up to this many milliseconds more or less.
        jitter: u64,
    },
}

/// Why a `--latency` value is refused.
#[derive(Debug, thiserror::Error)]
#[error("--latency {0:?}: expected none, recorded, scale=F (F ≥ 0) or fixed=MS[,jitter=MS]")]
pub struct LatencyError(String);

impl std::str::FromStr for Latency {
    type Err = LatencyError;

    fn from_str(text: &str) -> Result<Self, LatencyError> {
        let bad = || LatencyError(text.to_string());
        let t = text.trim();
        match t {
            "none" => return Ok(Latency::None),
            "recorded" => return Ok(Latency::Recorded),
            _ => {}
        }
        if let Some(f) = t.strip_prefix("scale=") {
            let f: f64 = f.trim().parse().map_err(|_| bad())?;
            return (f.is_finite() && f >= 0.0)
                .then_some(Latency::Scale(f))
                .ok_or_else(bad);
        }
        let rest = t.strip_prefix("fixed=").ok_or_else(bad)?;
        let (ms, jitter) = match rest.split_once(',') {
            Some((ms, j)) => (ms, Some(j.trim().strip_prefix("jitter=").ok_or_else(bad)?)),
            None => (rest, None),
        };
        Ok(Latency::Fixed {
            ms: ms.trim().parse().map_err(|_| bad())?,
            jitter: jitter
                .map_or(Ok(0), |j| j.trim().parse())
                .map_err(|_| bad())?,
        })
    }
}

/// What an entry recorded about its timing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timing {
    /// `timings.wait`, milliseconds.
    pub wait_ms: f64,
    /// `timings.receive`, milliseconds.
    pub receive_ms: f64,
    /// `_harpChunks`: (milliseconds after the head, bytes on the wire).
    pub chunks: Vec<(u64, u64)>,
}

/// The field of a converted collection's example (a harp extension) that carries its
/// entry's timing: `{"wait": ms, "receive": ms, "chunks": [[ms, bytes], ...]}`.
pub const EXAMPLE_FIELD: &str = "_harpTimings";

impl Timing {
    /// True when nothing was recorded (every time zero, no chunks).
    pub fn is_empty(&self) -> bool {
        self.wait_ms == 0.0 && self.receive_ms == 0.0 && self.chunks.len() < 2
    }

    /// As written into a converted example ([`EXAMPLE_FIELD`]).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({"wait": self.wait_ms, "receive": self.receive_ms});
        if self.chunks.len() > 1 {
            v["chunks"] = serde_json::json!(self.chunks);
        }
        v
    }

    /// Read back from an example's [`EXAMPLE_FIELD`] (missing parts count as zero).
    pub fn from_json(v: &serde_json::Value) -> Self {
        let num = |k: &str| v.get(k).and_then(|n| n.as_f64()).unwrap_or(0.0).max(0.0);
        Self {
            wait_ms: num("wait"),
            receive_ms: num("receive"),
            chunks: chunks_of(v.get("chunks")),
        }
    }

    /// The timing `entry` recorded (negative or missing times count as zero).
    pub fn of(entry: &Entry) -> Self {
        Self {
            wait_ms: entry.timings.wait.max(0.0),
            receive_ms: entry.timings.receive.max(0.0),
            chunks: chunks_of(entry.response.extra.get(crate::har::format::CHUNKS_FIELD)),
        }
    }
}

/// `[[ms, bytes], ...]`, malformed pairs left out.
fn chunks_of(v: Option<&serde_json::Value>) -> Vec<(u64, u64)> {
    v.and_then(|v| v.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|pair| Some((pair.get(0)?.as_u64()?, pair.get(1)?.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// When things go out: the head after `head`; then each part of the body, ending at
/// byte `end`, `at` after the head.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The wait before the head.
    pub head: Duration,
    /// (offset after the head, end byte) of each part, in order; empty for no body, or
    /// when the body goes at once with the head (`none`).
    pub parts: Vec<(Duration, usize)>,
}

impl Plan {
    /// True when the body goes out in parts or later than the head (so it must be sent
    /// by [`paced_body`]).
    pub fn is_paced(&self) -> bool {
        is_paced(&self.parts)
    }
}

/// True when `parts` (a [`Plan`]'s) are more than one, or the one waits.
pub fn is_paced(parts: &[(Duration, usize)]) -> bool {
    parts.len() > 1 || parts.first().is_some_and(|(at, _)| !at.is_zero())
}

/// Parts a body is spread over when only `timings.receive` is known.
const SPREAD_PARTS: usize = 8;

fn ms(value: f64) -> Duration {
    Duration::from_secs_f64((value / 1000.0).clamp(0.0, MAX_DELAY.as_secs_f64()))
}

/// The plan for a body of `len` bytes recorded with `timing`.
pub fn plan(latency: Latency, timing: &Timing, len: usize) -> Plan {
    let whole = |head| Plan {
        head,
        parts: if len == 0 {
            Vec::new()
        } else {
            vec![(Duration::ZERO, len)]
        },
    };
    let factor = match latency {
        // At once, and without allocating: the common case, on every served answer.
        Latency::None => {
            return Plan {
                head: Duration::ZERO,
                parts: Vec::new(),
            }
        }
        Latency::Fixed { ms: base, jitter } => {
            let spread = if jitter == 0 {
                0
            } else {
                fastrand::u64(0..=2 * jitter)
            };
            let wait = (base + spread).saturating_sub(jitter);
            return whole(Duration::from_millis(wait).min(MAX_DELAY));
        }
        Latency::Recorded => 1.0,
        Latency::Scale(f) => f,
    };
    let head = ms(timing.wait_ms * factor);
    if len == 0 {
        return Plan {
            head,
            parts: Vec::new(),
        };
    }
    let parts = if timing.chunks.len() > 1 {
        // Recorded bytes are on the wire; the served body may be decoded: place each
        // part's end in proportion.
        let total: u64 = timing.chunks.iter().map(|c| c.1).sum::<u64>().max(1);
        let mut sent = 0u64;
        let mut parts: Vec<(Duration, usize)> = timing
            .chunks
            .iter()
            .map(|&(at, bytes)| {
                sent += bytes;
                let end = ((sent as u128 * len as u128) / total as u128) as usize;
                (ms(at as f64 * factor), end.min(len))
            })
            .collect();
        if let Some(last) = parts.last_mut() {
            last.1 = len;
        }
        parts.dedup_by(|b, a| b.1 == a.1);
        parts
    } else if timing.receive_ms > 0.0 {
        let n = SPREAD_PARTS.min(len);
        (1..=n)
            .map(|k| {
                (
                    ms(timing.receive_ms * factor * k as f64 / n as f64),
                    len * k / n,
                )
            })
            .collect()
    } else {
        vec![(Duration::ZERO, len)]
    };
    Plan { head, parts }
}

/// `body` sent in the plan's parts at their offsets (counted from when the body is first
/// polled, i.e. just after the head), then `trailers`.
pub fn paced_body(body: Bytes, parts: Vec<(Duration, usize)>, trailers: Option<HeaderMap>) -> Body {
    let start = tokio::time::Instant::now();
    let mut from = 0usize;
    let data = futures_util::stream::iter(parts).then(move |(at, end)| {
        let piece = body.slice(from..end);
        from = end;
        async move {
            tokio::time::sleep_until(start + at).await;
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(piece))
        }
    });
    let tail = futures_util::stream::iter(trailers.map(|t| Ok(http_body::Frame::trailers(t))));
    boxed(http_body_util::StreamBody::new(
        futures_util::StreamExt::chain(data, tail),
    ))
}

use futures_util::StreamExt as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_refuses_the_rest() {
        assert_eq!("none".parse::<Latency>().unwrap(), Latency::None);
        assert_eq!("recorded".parse::<Latency>().unwrap(), Latency::Recorded);
        assert_eq!("scale=0.5".parse::<Latency>().unwrap(), Latency::Scale(0.5));
        assert_eq!(
            "fixed=200".parse::<Latency>().unwrap(),
            Latency::Fixed { ms: 200, jitter: 0 }
        );
        assert_eq!(
            "fixed=200,jitter=50".parse::<Latency>().unwrap(),
            Latency::Fixed {
                ms: 200,
                jitter: 50
            }
        );
        for bad in [
            "slow",
            "scale=-1",
            "scale=x",
            "fixed=",
            "fixed=1,wobble=2",
            "fixed=-5",
        ] {
            assert!(bad.parse::<Latency>().is_err(), "{bad}");
        }
    }

    #[test]
    fn recorded_chunks_keep_their_offsets_in_proportion() {
        let timing = Timing {
            wait_ms: 120.0,
            receive_ms: 2000.0,
            chunks: vec![(0, 10), (1000, 10), (2000, 20)],
        };
        let p = plan(Latency::Recorded, &timing, 80);
        assert_eq!(p.head, Duration::from_millis(120));
        assert_eq!(
            p.parts,
            [
                (Duration::ZERO, 20),
                (Duration::from_secs(1), 40),
                (Duration::from_secs(2), 80)
            ]
        );
        let fast = plan(Latency::Scale(0.5), &timing, 80);
        assert_eq!(fast.head, Duration::from_millis(60));
        assert_eq!(fast.parts[2].0, Duration::from_secs(1));
    }

    #[test]
    fn without_chunks_the_body_spreads_over_receive() {
        let timing = Timing {
            wait_ms: 10.0,
            receive_ms: 800.0,
            chunks: Vec::new(),
        };
        let p = plan(Latency::Recorded, &timing, 16);
        assert_eq!(p.parts.len(), 8);
        assert_eq!(p.parts[0], (Duration::from_millis(100), 2));
        assert_eq!(p.parts[7], (Duration::from_millis(800), 16));
        assert!(plan(Latency::Recorded, &timing, 0).parts.is_empty());
        assert_eq!(plan(Latency::None, &timing, 16).head, Duration::ZERO);
    }

    #[test]
    fn fixed_stays_within_its_jitter_and_waits_are_capped() {
        for _ in 0..200 {
            let p = plan(
                Latency::Fixed {
                    ms: 100,
                    jitter: 30,
                },
                &Timing::default(),
                5,
            );
            assert!(
                (70..=130).contains(&(p.head.as_millis() as u64)),
                "{:?}",
                p.head
            );
            assert_eq!(p.parts, [(Duration::ZERO, 5)]);
        }
        let huge = Timing {
            wait_ms: 1e12,
            ..Timing::default()
        };
        assert_eq!(plan(Latency::Recorded, &huge, 0).head, MAX_DELAY);
    }
}
