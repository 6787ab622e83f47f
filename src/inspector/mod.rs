//! The call inspector: a single web page (embedded in the binary, no build step, no CDN)
//! served at `http://harp.local/` through the proxy and at `/__harp/` on any harp port,
//! with the JSON it reads and a live event stream:
//!
//! - `GET /__harp/calls?offset=&limit=`: the call log (what replay or mock answered);
//! - `GET /__harp/calls/ID`: one call: the request, the response served, and for a miss
//!   the nearest entries with their requests, how they differ and the rule that would
//!   match;
//! - `GET /__harp/entries`: every entry (or example) and how often it was served, and
//!   what was recorded so far;
//! - `GET /__harp/events`: server-sent events, one per call or recorded entry.
//!
//! Replay, mock and record implement [`Inspect`]; this module owns the routes, the
//! bounded store of call details and the event feed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::calllog::page_of;
use crate::proxy::body::{boxed, full, json_response};
use crate::proxy::{Body, RequestContext, LOCAL_HOST};

/// The page.
const PAGE: &str = include_str!("page.html");

/// Most call details kept (request headers and body, response), newest first dropped last.
const MAX_DETAILS: usize = 1_000;

/// Most bytes of call details kept in all.
const MAX_DETAIL_BYTES: usize = 32 << 20;

/// Most bytes of one body kept for the inspector (the rest is marked as cut).
const MAX_SHOWN_BODY: usize = 256 << 10;

/// Events buffered per page; a page that falls further behind is told to reload.
const FEED_CAPACITY: usize = 1_024;

/// Live events for the inspector pages that are open.
#[derive(Debug)]
pub struct Feed {
    tx: broadcast::Sender<Arc<str>>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(FEED_CAPACITY).0,
        }
    }
}

impl Feed {
    /// True when some inspector page is open (so an event is worth building).
    pub fn is_watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Sends `{"type": kind, "data": value}` to every open page (nothing when none is).
    pub fn send(&self, kind: &str, value: &impl Serialize) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let event = json!({"type": kind, "data": value}).to_string();
        let _ = self.tx.send(event.into());
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }
}

/// A response as the inspector shows it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResponseDetail {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body (at most `MAX_SHOWN_BODY` bytes kept) and its full length.
    pub body: Bytes,
    /// The body's length before it was cut.
    pub body_len: usize,
}

/// What a call carried, kept for the inspector.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallDetail {
    /// Request headers.
    pub request_headers: Vec<(String, String)>,
    /// Request body (at most `MAX_SHOWN_BODY` bytes).
    pub request_body: Bytes,
    /// The request body's length before it was cut.
    pub request_body_len: usize,
    /// The response served, when the handler knows it at once (mock); replay rebuilds
    /// it from the entry.
    pub response: Option<ResponseDetail>,
}

/// `bytes` cut to `MAX_SHOWN_BODY` (copied, so a big body is not kept alive whole).
pub fn shown(bytes: &Bytes) -> Bytes {
    if bytes.len() <= MAX_SHOWN_BODY {
        bytes.clone()
    } else {
        Bytes::copy_from_slice(&bytes[..MAX_SHOWN_BODY])
    }
}

/// Request headers whose values the inspector never keeps: credentials, which anyone who
/// can reach harp could otherwise read back from `/__harp/calls/ID`.
const MASKED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
];

impl CallDetail {
    /// The request side of a call (credential headers masked as `[REDACTED]`).
    pub(crate) fn of_request(mut headers: Vec<(String, String)>, body: &Bytes) -> Self {
        for (name, value) in &mut headers {
            if MASKED.iter().any(|m| m.eq_ignore_ascii_case(name)) {
                *value = crate::har::format::REDACTED.to_string();
            }
        }
        Self {
            request_headers: headers,
            request_body: shown(body),
            request_body_len: body.len(),
            response: None,
        }
    }

    fn size(&self) -> usize {
        let heads =
            |h: &[(String, String)]| h.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
        self.request_body.len()
            + heads(&self.request_headers)
            + self
                .response
                .as_ref()
                .map_or(0, |r| r.body.len() + heads(&r.headers))
    }
}

/// Kept details, oldest first, with their total size.
type Kept = (VecDeque<(u64, Arc<CallDetail>)>, usize);

/// The details of the last calls, bounded by [`MAX_DETAILS`] and [`MAX_DETAIL_BYTES`].
#[derive(Debug, Default)]
pub(crate) struct Details {
    inner: Mutex<Kept>,
}

impl Details {
    /// Keeps the detail of call `id`, dropping the oldest past the bounds.
    pub(crate) fn keep(&self, id: u64, detail: CallDetail) {
        let size = detail.size();
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (list, bytes) = &mut *guard;
        list.push_back((id, Arc::new(detail)));
        *bytes += size;
        while list.len() > MAX_DETAILS || (*bytes > MAX_DETAIL_BYTES && list.len() > 1) {
            if let Some((_, old)) = list.pop_front() {
                *bytes -= old.size();
            }
        }
    }

    /// The detail of call `id`, if still kept.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<CallDetail>> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .0
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, d)| d.clone())
    }
}

/// A body for the page: text when it is UTF-8, else base64; with its type and sizes.
pub(crate) fn body_json(bytes: &[u8], full_len: usize, content_type: &str) -> Value {
    let mut out =
        json!({"size": full_len, "mimeType": content_type, "truncated": full_len > bytes.len()});
    match crate::har::encode_text(bytes, true) {
        (text, None) => out["text"] = json!(text),
        (base64, Some(_)) => out["base64"] = json!(base64),
    }
    out
}

/// Headers as `[{name, value}]`.
pub(crate) fn headers_json(headers: &[(String, String)]) -> Value {
    headers
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect()
}

/// The `content-type` among `headers`.
pub fn content_type(headers: &[(String, String)]) -> &str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map_or("", |(_, v)| v.as_str())
}

/// The request side of a detail as JSON.
pub(crate) fn request_json(detail: &CallDetail) -> Value {
    json!({
        "headers": headers_json(&detail.request_headers),
        "body": body_json(&detail.request_body, detail.request_body_len, content_type(&detail.request_headers)),
    })
}

/// A response detail as JSON.
pub(crate) fn response_json(r: &ResponseDetail) -> Value {
    json!({
        "status": r.status,
        "headers": headers_json(&r.headers),
        "body": body_json(&r.body, r.body_len, content_type(&r.headers)),
    })
}

/// Entries recorded while harp runs (`harp record`, `--record-missing`), for the
/// entries view.
pub trait RecordedSoFar: Send + Sync {
    /// `[{entry, method, url, status}]` in recorded order.
    fn recorded(&self) -> Vec<Value>;
}

/// What replay, mock and record show in the inspector.
pub trait Inspect: Send + Sync {
    /// `{kind, source, summary}`: what this harp is doing.
    fn overview(&self) -> Value;
    /// The call log page (the `/__harp/calls` JSON).
    fn calls(&self, offset: usize, limit: usize) -> Value;
    /// One call in full, if it is still kept.
    fn call(&self, id: u64) -> Option<Value>;
    /// Entries (or examples) with their use counts, and what was recorded so far.
    fn entries(&self) -> Value;
    /// The live feed.
    fn feed(&self) -> &Feed;
}

/// True when `req` is addressed to `harp.local` (through the proxy).
pub(crate) fn is_harp_local(req: &Request<Body>) -> bool {
    let host = req.uri().host().map(str::to_string).or_else(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.split(':').next().unwrap_or(h).to_string())
    });
    host.is_some_and(|h| h.eq_ignore_ascii_case(LOCAL_HOST))
}

/// Answers inspector requests: the page (at `/__harp/`, and at `/` when `root_is_page`),
/// and its data. `None` when `req` is not for the inspector.
pub fn answer(
    target: &dyn Inspect,
    req: &Request<Body>,
    ctx: &RequestContext,
    root_is_page: bool,
) -> Option<Response<Body>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    let path = req.uri().path();
    match path {
        "/__harp" | "/__harp/" | "/__harp/index.html" => Some(page()),
        "/" if root_is_page => Some(page()),
        "/__harp/calls" => {
            let (offset, limit) = page_of(req.uri());
            Some(json_response(StatusCode::OK, &target.calls(offset, limit)))
        }
        "/__harp/entries" => Some(json_response(StatusCode::OK, &target.entries())),
        "/__harp/overview" => Some(json_response(StatusCode::OK, &target.overview())),
        "/__harp/health" => {
            let o = target.overview();
            Some(json_response(
                StatusCode::OK,
                &json!({"status": "ok", "mode": o["kind"], "source": o["source"], "entries": o["entries"]}),
            ))
        }
        "/__harp/metrics" => Some(metrics(&target.overview())),
        "/__harp/events" => Some(events(target, ctx)),
        p => {
            let id = p.strip_prefix("/__harp/calls/")?;
            Some(
                match id.parse::<u64>().ok().and_then(|id| target.call(id)) {
                    Some(call) => json_response(StatusCode::OK, &call),
                    None => json_response(
                        StatusCode::NOT_FOUND,
                        &json!({"error": format!("no call {id:?} is kept (the inspector keeps the last {MAX_DETAILS})")}),
                    ),
                },
            )
        }
    }
}

/// Prometheus text exposition of the overview: `harp_up`, `harp_build_info`,
/// `harp_entries` and `harp_calls_total{mode, outcome}` (one per summary count).
fn metrics(overview: &Value) -> Response<Body> {
    let mode = overview["kind"].as_str().unwrap_or("unknown");
    let mut text =
        String::from("# HELP harp_up 1 while harp serves.\n# TYPE harp_up gauge\nharp_up 1\n");
    text.push_str(&format!(
        "# HELP harp_build_info harp's version.\n# TYPE harp_build_info gauge\nharp_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    ));
    text.push_str(&format!(
        "# HELP harp_entries Entries (or examples) served from, or recorded so far.\n# TYPE harp_entries gauge\nharp_entries{{mode=\"{mode}\"}} {}\n",
        overview["entries"].as_u64().unwrap_or(0)
    ));
    text.push_str(
        "# HELP harp_calls_total Calls by outcome since harp started.\n# TYPE harp_calls_total counter\n",
    );
    if let Some(summary) = overview["summary"].as_object() {
        for (outcome, n) in summary {
            let Some(n) = n.as_u64() else { continue };
            let outcome: String = outcome
                .chars()
                .flat_map(|c| {
                    let lower = c.to_ascii_lowercase();
                    if c.is_ascii_uppercase() {
                        vec!['_', lower]
                    } else {
                        vec![lower]
                    }
                })
                .collect();
            text.push_str(&format!(
                "harp_calls_total{{mode=\"{mode}\",outcome=\"{outcome}\"}} {n}\n"
            ));
        }
    }
    let mut resp = Response::new(full(text));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

fn page() -> Response<Body> {
    let mut resp = Response::new(full(PAGE));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The event stream: `data: {json}` per event, a comment every 15 s so idle connections
/// stay open, and the end when harp starts stopping.
fn events(target: &dyn Inspect, ctx: &RequestContext) -> Response<Body> {
    let rx = target.feed().subscribe();
    let hello = json!({"type": "hello", "data": target.overview()}).to_string();
    let stop = Box::pin(ctx.stopping.clone().stopping());
    let state = (rx, stop, Some(hello));
    let stream = futures_util::stream::unfold(state, |(mut rx, mut stop, hello)| async move {
        if let Some(hello) = hello {
            let frame = http_body::Frame::data(Bytes::from(format!("data: {hello}\n\n")));
            return Some((Ok::<_, Infallible>(frame), (rx, stop, None)));
        }
        let text = tokio::select! {
            _ = &mut stop => return None,
            got = tokio::time::timeout(Duration::from_secs(15), rx.recv()) => match got {
                Ok(Ok(event)) => format!("data: {event}\n\n"),
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                    format!("data: {}\n\n", json!({"type": "lagged", "data": n}))
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                Err(_) => ": keep-alive\n\n".to_string(),
            },
        };
        Some((
            Ok(http_body::Frame::data(Bytes::from(text))),
            (rx, stop, None),
        ))
    });
    let mut resp = Response::new(boxed(http_body_util::StreamBody::new(stream)));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_bounded_by_count_and_bytes() {
        let details = Details::default();
        for id in 0..(MAX_DETAILS as u64 + 10) {
            details.keep(
                id,
                CallDetail::of_request(vec![], &Bytes::from_static(b"x")),
            );
        }
        assert!(details.get(5).is_none());
        assert!(details.get(MAX_DETAILS as u64 + 9).is_some());
        let big = Bytes::from(vec![b'a'; MAX_SHOWN_BODY * 2]);
        for id in 0..200 {
            details.keep(10_000 + id, CallDetail::of_request(vec![], &big));
        }
        let kept = details.inner.lock().unwrap();
        assert!(kept.1 <= MAX_DETAIL_BYTES, "{}", kept.1);
        assert_eq!(kept.0.back().unwrap().1.request_body.len(), MAX_SHOWN_BODY);
        assert_eq!(
            kept.0.back().unwrap().1.request_body_len,
            MAX_SHOWN_BODY * 2
        );
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text() {
        use http_body_util::BodyExt;
        let resp = metrics(
            &json!({"kind": "mock", "entries": 3, "summary": {"served": 5, "notFound": 1}}),
        );
        let text = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(text.to_vec()).unwrap();
        assert!(text.contains("harp_up 1\n"), "{text}");
        assert!(text.contains("harp_entries{mode=\"mock\"} 3\n"), "{text}");
        assert!(
            text.contains("harp_calls_total{mode=\"mock\",outcome=\"served\"} 5\n"),
            "{text}"
        );
        assert!(
            text.contains("harp_calls_total{mode=\"mock\",outcome=\"not_found\"} 1\n"),
            "{text}"
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("harp_"), "{line}");
            value.parse::<f64>().unwrap();
        }
    }

    #[test]
    fn credentials_are_never_kept() {
        let d = CallDetail::of_request(
            vec![
                ("authorization".into(), "Bearer s3cret".into()),
                ("Cookie".into(), "sid=1".into()),
                ("accept".into(), "*/*".into()),
            ],
            &Bytes::new(),
        );
        assert_eq!(d.request_headers[0].1, "[REDACTED]");
        assert_eq!(d.request_headers[1].1, "[REDACTED]");
        assert_eq!(d.request_headers[2].1, "*/*");
    }

    #[test]
    fn bodies_are_text_or_base64() {
        let v = body_json(b"{\"a\":1}", 7, "application/json");
        assert_eq!(v["text"], "{\"a\":1}");
        assert_eq!(v["truncated"], false);
        let v = body_json(&[0xff, 0x00], 10, "image/png");
        assert_eq!(v["base64"], "/wA=");
        assert_eq!(v["truncated"], true);
    }
}
