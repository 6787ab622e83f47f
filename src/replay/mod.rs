//! Replay: a [`Handler`] that answers from a HAR with no network, using Playwright's
//! matching rules (see [`matcher`]), explaining every miss (see [`diagnose`]), and
//! keeping a log of calls for `/__harp/calls` and the exit summary.

pub mod conversation;
pub mod diagnose;
pub mod index;
pub mod matcher;
pub mod report;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use serde::Serialize;

pub use diagnose::NearMiss;
pub use index::{Index, Prepared, Servable};
pub use matcher::Asked;

use crate::inspector::{self, CallDetail, Details, Feed, Inspect, RecordedSoFar};
use crate::rules::Canon;

use crate::calllog::{clip, CallLog, MAX_URL_TEXT};
use crate::glob::UrlGlobs;
use crate::har::format::iso8601;
use crate::proxy::body::{boxed, full, read_limited, text_response};
use crate::proxy::{Body, Decision, Handler, Observer, RequestContext};

/// What happens to a request no entry matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotFound {
    /// Answer 502 with `x-harp-unmatched: 1` and the nearest entries; never touch the network.
    #[default]
    Abort,
    /// Forward it to the network.
    Fallback,
}

/// How replay behaves.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// URLs served from the HAR (all when empty); others go to the network, as with
    /// Playwright's `routeFromHAR({ url })`.
    pub globs: UrlGlobs,
    /// Unmatched requests.
    pub not_found: NotFound,
    /// Repeated identical requests get the matching entries in recorded order.
    pub sequence: bool,
    /// Follow recorded redirects inside the HAR.
    pub follow_redirects: bool,
    /// Largest request body read for matching, in bytes.
    pub max_body: usize,
    /// When answers go out (`--latency`).
    pub latency: crate::pacing::Latency,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            globs: UrlGlobs::new::<&str>(&[]).expect("no globs"),
            not_found: NotFound::Abort,
            sequence: false,
            follow_redirects: false,
            max_body: 256 * 1024 * 1024,
            latency: crate::pacing::Latency::None,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Answered from an entry.
    Served,
    /// The chosen entry never completed; answered 502.
    Incomplete,
    /// No entry matched; answered 502.
    Unmatched,
    /// Redirects inside the HAR loop.
    RedirectCycle,
    /// No entry matched; forwarded to the network.
    Fallback,
    /// No entry matched; forwarded and recorded (`--record-missing`).
    Recorded,
    /// Outside the `--url` globs; forwarded untouched.
    Passthrough,
}

/// One entry of the call log.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// Arrival number.
    pub id: u64,
    /// When it arrived.
    pub time: String,
    /// Method.
    pub method: String,
    /// URL.
    pub url: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The entry served, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<usize>,
    /// The status harp answered with, when it answered from the HAR or with an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For misses: the nearest entries and how they differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nearest: Vec<NearMiss>,
}

impl Call {
    fn new(ctx: &RequestContext, method: &str, url: &str, outcome: Outcome) -> Self {
        Self {
            id: ctx.id,
            time: iso8601(ctx.started),
            method: method.to_string(),
            url: clip(url, MAX_URL_TEXT),
            outcome,
            entry: None,
            status: None,
            nearest: Vec::new(),
        }
    }

    fn entry(mut self, entry: usize) -> Self {
        self.entry = Some(entry);
        self
    }

    fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    fn nearest(mut self, nearest: Vec<NearMiss>) -> Self {
        self.nearest = nearest;
        self
    }
}

/// Counts for the exit summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Answered from entries.
    pub served: u64,
    /// Unmatched and aborted.
    pub unmatched: u64,
    /// Chosen entries that never completed.
    pub incomplete: u64,
    /// Unmatched and forwarded.
    pub fallback: u64,
    /// Unmatched, forwarded and recorded.
    pub recorded: u64,
    /// Outside the globs.
    pub passthrough: u64,
}

/// An unmatched request for the summary: how often, and the nearest entries.
#[derive(Debug, Clone, Serialize)]
pub struct Unmatched {
    /// Method.
    pub method: String,
    /// URL.
    pub url: String,
    /// How many times it was asked.
    pub count: u64,
    /// The nearest entries, nearest first, with how each differs.
    pub nearest: Vec<NearMiss>,
}

/// Most distinct unmatched requests remembered for the summary; further ones are only
/// counted.
const MAX_DISTINCT_UNMATCHED: usize = 1_000;

/// Distinct unmatched requests: first-seen order, a lookup by (method, URL), and how
/// many more distinct ones were not kept.
#[derive(Default)]
struct UnmatchedSet {
    list: Vec<Unmatched>,
    seen: HashMap<(String, String), usize>,
    overflow: u64,
}

#[derive(Default)]
struct Counters {
    served: AtomicU64,
    unmatched: AtomicU64,
    incomplete: AtomicU64,
    fallback: AtomicU64,
    recorded: AtomicU64,
    passthrough: AtomicU64,
}

/// The replay handler.
pub struct Replayer {
    index: Index,
    options: ReplayOptions,
    /// `--sequence`: how many times each candidate list was served.
    served_counts: Mutex<HashMap<Vec<usize>, usize>>,
    calls: CallLog<Call>,
    counters: Arc<Counters>,
    /// Distinct unmatched requests, in first-seen order (bounded).
    unmatched: Arc<Mutex<UnmatchedSet>>,
    /// `--record-missing`: observes what no entry matched, forwarded.
    missing: Option<Arc<dyn Observer>>,
    /// How many times each entry was served.
    uses: Vec<AtomicU64>,
    /// Live events for the inspector.
    feed: Arc<Feed>,
    /// What the last calls carried, for the inspector.
    details: Details,
    /// `--record-missing`: what it recorded so far.
    recorded: Option<Arc<dyn RecordedSoFar>>,
}

enum Lookup {
    Found(usize),
    NotFound,
    Cycle(String),
}

/// What replay does with one request.
enum Verdict<'a> {
    /// Outside the `--url` globs: forwarded untouched.
    Passthrough,
    /// Answered from this entry.
    Serve(usize, &'a Prepared),
    /// The chosen entry never completed: 502, saying why.
    Incomplete(usize, &'a str),
    /// Redirects inside the HAR loop: 502.
    Cycle(String),
    /// No entry: forwarded (`--not-found fallback`), and recorded with
    /// `--record-missing`.
    Forward {
        /// Recorded by the `--record-missing` observer.
        record: bool,
        /// The nearest entries, for the call log.
        nearest: Vec<NearMiss>,
    },
    /// No entry: 502 naming the nearest.
    Unmatched(Vec<NearMiss>),
}

impl Replayer {
    /// A replayer over `index`.
    pub fn new(index: Index, options: ReplayOptions) -> Self {
        Self {
            options,
            served_counts: Mutex::new(HashMap::new()),
            calls: CallLog::default(),
            counters: Arc::default(),
            unmatched: Arc::default(),
            missing: None,
            uses: (0..index.len()).map(|_| AtomicU64::new(0)).collect(),
            feed: Arc::default(),
            details: Details::default(),
            recorded: None,
            index,
        }
    }

    /// Forwards unmatched requests and hands each finished exchange to `observer`
    /// (`--record-missing`); `recorded` lists what it recorded, for the inspector.
    pub fn with_missing(
        mut self,
        observer: Arc<dyn Observer>,
        recorded: Arc<dyn RecordedSoFar>,
    ) -> Self {
        self.missing = Some(observer);
        self.recorded = Some(recorded);
        self
    }

    /// The inspector's live feed (to share with what `--record-missing` records).
    pub fn feed(&self) -> Arc<Feed> {
        self.feed.clone()
    }

    /// The index served from.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Counts so far.
    pub fn summary(&self) -> Summary {
        let c = &self.counters;
        Summary {
            served: c.served.load(Ordering::Relaxed),
            unmatched: c.unmatched.load(Ordering::Relaxed),
            incomplete: c.incomplete.load(Ordering::Relaxed),
            fallback: c.fallback.load(Ordering::Relaxed),
            recorded: c.recorded.load(Ordering::Relaxed),
            passthrough: c.passthrough.load(Ordering::Relaxed),
        }
    }

    /// Distinct unmatched (aborted) requests so far (the first
    /// `MAX_DISTINCT_UNMATCHED`), and how many more distinct ones were not kept.
    pub fn unmatched(&self) -> (Vec<Unmatched>, u64) {
        let set = self.unmatched.lock().unwrap_or_else(|p| p.into_inner());
        (set.list.clone(), set.overflow)
    }

    /// What this replay saw so far: entries served and never used, and the distinct
    /// unmatched requests with their nearest entries.
    pub fn report(&self) -> report::Report {
        let (unmatched, unmatched_not_listed) = self.unmatched();
        let (mut served, mut unused) = (Vec::new(), Vec::new());
        for (entry, uses) in self.uses.iter().enumerate() {
            let count = uses.load(Ordering::Relaxed);
            let rec = &self.index.recorded[entry];
            let item = report::EntryUse {
                entry,
                method: rec.method.clone(),
                url: clip(&rec.url, MAX_URL_TEXT),
                count,
            };
            if count == 0 {
                unused.push(item);
            } else {
                served.push(item);
            }
        }
        report::Report {
            har: self.index.path.display().to_string(),
            entries: self.index.len(),
            summary: self.summary(),
            served,
            unmatched,
            unmatched_not_listed,
            unused,
        }
    }

    /// The call log (oldest first): `limit` calls after skipping `offset`, and how many
    /// the log holds.
    pub fn calls(&self, offset: usize, limit: usize) -> (Vec<Call>, usize) {
        self.calls.page(offset, limit)
    }

    /// The entry replay would serve for `req` (after following redirects when enabled),
    /// or `None`; with `--sequence` this counts as a use.
    pub fn find(&self, req: &Asked<'_>) -> Option<usize> {
        match self.lookup(req) {
            Lookup::Found(i) => Some(i),
            Lookup::NotFound | Lookup::Cycle(_) => None,
        }
    }

    /// Finds the entry for `req` by the rules of DESIGN §4.
    fn lookup(&self, req: &Asked<'_>) -> Lookup {
        let mut method = req.method.to_string();
        let mut url = req.url.to_string();
        let mut body = req.body;
        let mut canon = req.canon;
        let mut visited: Vec<usize> = Vec::new();
        loop {
            let step = Asked {
                method: &method,
                url: &url,
                headers: req.headers,
                body,
                canon,
            };
            let candidates: Vec<usize> = self
                .index
                .candidates(&method, &url)
                .iter()
                .copied()
                .filter(|&i| matcher::body_matches(&self.index.recorded[i], &step))
                .collect();
            if candidates.is_empty() {
                return Lookup::NotFound;
            }
            let served = self.options.sequence.then(|| {
                let mut counts = self.served_counts.lock().unwrap_or_else(|p| p.into_inner());
                let n = counts.entry(candidates.clone()).or_insert(0);
                *n += 1;
                *n - 1
            });
            let Some(chosen) = matcher::choose(&self.index.recorded, &candidates, &step, served)
            else {
                return Lookup::NotFound;
            };
            if visited.contains(&chosen) {
                return Lookup::Cycle(url);
            }
            visited.push(chosen);
            if self.options.follow_redirects {
                if let Servable::Response(p) = &self.index.servable[chosen] {
                    if let Some(location) = &p.location {
                        if let Some((next_method, next_url)) =
                            matcher::redirect_step(&url, &method, p.status.as_u16(), location)
                        {
                            if next_method != method {
                                body = b"";
                                canon = None;
                            }
                            method = next_method;
                            url = crate::urls::normalise(&next_url);
                            continue;
                        }
                    }
                }
            }
            return Lookup::Found(chosen);
        }
    }

    /// Counts a use of entry `i` (for the report) and returns what it serves.
    fn use_entry(&self, i: usize) -> &Servable {
        self.uses[i].fetch_add(1, Ordering::Relaxed);
        &self.index.servable[i]
    }

    fn log(&self, call: Call) {
        self.feed.send("call", &call);
        self.calls.push(call);
    }

    fn note_unmatched(&self, method: &str, url: &str, nearest: Vec<NearMiss>) {
        note_unmatched(&self.unmatched, method, url, nearest);
    }

    /// Answers a WebSocket handshake that matched a recorded conversation with `101`
    /// and plays the conversation on the upgraded connection; a message with no recorded
    /// counterpart is counted and listed as unmatched (`WS URL: message`).
    fn converse(
        &self,
        parts: &mut http::request::Parts,
        p: &Prepared,
        script: Arc<conversation::Script>,
        url: &str,
    ) -> Response<Body> {
        let key = parts
            .headers
            .get(http::header::SEC_WEBSOCKET_KEY)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(key) = key.filter(|_| crate::proxy::websocket::is_websocket(&parts.headers))
        else {
            let mut resp = text_response(
                StatusCode::BAD_GATEWAY,
                format!("harp replay: {url} was recorded as a WebSocket conversation; this request is not a WebSocket handshake"),
            );
            resp.headers_mut()
                .insert("x-harp-incomplete", http::HeaderValue::from_static("1"));
            return resp;
        };
        let mut req = Request::from_parts(
            std::mem::replace(parts, Request::new(()).into_parts().0),
            (),
        );
        let on_upgrade = hyper::upgrade::on(&mut req);
        *parts = req.into_parts().0;
        let (counters, unmatched) = (self.counters.clone(), self.unmatched.clone());
        let latency = self.options.latency;
        let label = url.to_string();
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let socket = crate::proxy::websocket::server_side(upgraded).await;
            conversation::play(socket, script, latency, |message| {
                counters.unmatched.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("unmatched WebSocket message on {label}: {message}");
                note_unmatched(
                    &unmatched,
                    "WS",
                    &format!("{label} (message: {message})"),
                    Vec::new(),
                );
            })
            .await;
        });
        switching(&key, p, &parts.headers)
    }
}

/// The `101` answering a WebSocket handshake with `key`: the accept key, and the
/// subprotocol the recording's server chose when the client offers it again.
fn switching(key: &str, p: &Prepared, asked: &http::HeaderMap) -> Response<Body> {
    let mut resp = Response::new(full(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static("websocket"),
    );
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = http::HeaderValue::from_str(&crate::proxy::websocket::accept_key(key)) {
        headers.insert(http::header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(protocol) = p.headers.get(http::header::SEC_WEBSOCKET_PROTOCOL) {
        let offered = crate::proxy::header_tokens(asked, http::header::SEC_WEBSOCKET_PROTOCOL)
            .any(|o| Some(o) == protocol.to_str().ok());
        if offered {
            headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, protocol.clone());
        }
    }
    resp
}

/// Adds one unmatched request to the distinct list (or counts it past the bound).
fn note_unmatched(set: &Mutex<UnmatchedSet>, method: &str, url: &str, nearest: Vec<NearMiss>) {
    {
        let url = clip(url, MAX_URL_TEXT);
        let mut set = set.lock().unwrap_or_else(|p| p.into_inner());
        let set = &mut *set;
        if let Some(&i) = set.seen.get(&(method.to_string(), url.clone())) {
            set.list[i].count += 1;
        } else if set.list.len() < MAX_DISTINCT_UNMATCHED {
            set.seen
                .insert((method.to_string(), url.clone()), set.list.len());
            set.list.push(Unmatched {
                method: method.to_string(),
                url,
                count: 1,
                nearest,
            });
        } else {
            set.overflow += 1;
        }
    }
}

impl Replayer {
    async fn replay(&self, req: Request<Body>, ctx: RequestContext) -> Decision {
        let url = req.uri().to_string();
        if !self.options.globs.is_match(&url) {
            let method = req.method().as_str().to_string();
            self.account(&ctx, &method, &url, &Verdict::Passthrough);
            return Decision::forward(req);
        }
        let (mut parts, body) = req.into_parts();
        let body: Bytes = match read_limited(body, self.options.max_body).await {
            Ok(bytes) => bytes,
            Err(err) => {
                return Decision::Respond(text_response(
                    StatusCode::BAD_REQUEST,
                    format!("harp: reading the request body failed: {err}"),
                ));
            }
        };
        let headers = crate::proxy::to_pairs(&parts.headers);
        let method = parts.method.as_str().to_string();
        self.details
            .keep(ctx.id, CallDetail::of_request(headers.clone(), &body));
        let canon = (!body.is_empty()).then(|| {
            let content_type = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            Canon::of(content_type, &body, &self.index.rules)
        });
        let incoming = Asked {
            method: &method,
            url: &url,
            headers: &headers,
            body: &body,
            canon: canon.as_ref(),
        };
        let verdict = self.verdict(&incoming);
        self.account(&ctx, &method, &url, &verdict);
        match verdict {
            Verdict::Serve(_, p) if p.script.is_some() => {
                let script = p.script.clone().unwrap_or_default();
                Decision::Respond(self.converse(&mut parts, p, script, &url))
            }
            Verdict::Serve(_, p) => {
                let len = if is_bodiless(p, &parts.method) {
                    0
                } else {
                    p.body.len()
                };
                let plan = crate::pacing::plan(self.options.latency, &p.timing, len);
                if !plan.head.is_zero() {
                    tokio::time::sleep(plan.head).await;
                }
                Decision::Respond(respond(p, &parts.method, plan.parts))
            }
            Verdict::Forward { record, .. } => Decision::Forward {
                request: Request::from_parts(parts, full(body)),
                observer: if record { self.missing.clone() } else { None },
            },
            other => Decision::Respond(self.refusal(&other, &incoming)),
        }
    }

    /// What to do with a request, decided before anything is counted or logged.
    fn verdict(&self, incoming: &Asked<'_>) -> Verdict<'_> {
        match self.lookup(incoming) {
            Lookup::Found(i) => match self.use_entry(i) {
                Servable::Response(p) => Verdict::Serve(i, p),
                Servable::Incomplete(reason) => Verdict::Incomplete(i, reason),
            },
            Lookup::Cycle(at)
                if self.missing.is_none() && self.options.not_found == NotFound::Abort =>
            {
                Verdict::Cycle(at)
            }
            // A redirect cycle under fallback (or record-missing) goes to the network, as
            // Playwright does.
            Lookup::NotFound | Lookup::Cycle(_) => {
                let nearest = diagnose::nearest(
                    &self.index.recorded,
                    self.index.neighbours(),
                    &self.index.rules,
                    incoming,
                    3,
                );
                if self.missing.is_some() || self.options.not_found == NotFound::Fallback {
                    Verdict::Forward {
                        record: self.missing.is_some(),
                        nearest,
                    }
                } else {
                    Verdict::Unmatched(nearest)
                }
            }
        }
    }

    /// The one place a call is counted, logged (call log, inspector, unmatched summary).
    fn account(&self, ctx: &RequestContext, method: &str, url: &str, verdict: &Verdict<'_>) {
        let c = &self.counters;
        let call = |outcome| Call::new(ctx, method, url, outcome);
        let call = match verdict {
            Verdict::Passthrough => {
                c.passthrough.fetch_add(1, Ordering::Relaxed);
                call(Outcome::Passthrough)
            }
            Verdict::Serve(i, p) => {
                c.served.fetch_add(1, Ordering::Relaxed);
                call(Outcome::Served).entry(*i).status(p.status.as_u16())
            }
            Verdict::Incomplete(i, _) => {
                c.incomplete.fetch_add(1, Ordering::Relaxed);
                call(Outcome::Incomplete).entry(*i).status(502)
            }
            Verdict::Cycle(_) => {
                c.unmatched.fetch_add(1, Ordering::Relaxed);
                self.note_unmatched(method, url, Vec::new());
                call(Outcome::RedirectCycle).status(502)
            }
            Verdict::Forward { record, nearest } => {
                let (counter, outcome) = if *record {
                    (&c.recorded, Outcome::Recorded)
                } else {
                    (&c.fallback, Outcome::Fallback)
                };
                counter.fetch_add(1, Ordering::Relaxed);
                call(outcome).nearest(nearest.clone())
            }
            Verdict::Unmatched(nearest) => {
                c.unmatched.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("unmatched: {method} {}", clip(url, MAX_URL_TEXT));
                self.note_unmatched(method, url, nearest.clone());
                call(Outcome::Unmatched)
                    .status(502)
                    .nearest(nearest.clone())
            }
        };
        self.log(call);
    }

    /// The 502 for a verdict that serves nothing: an incomplete entry, a redirect cycle
    /// or a miss, each saying why.
    fn refusal(&self, verdict: &Verdict<'_>, incoming: &Asked<'_>) -> Response<Body> {
        let har = self.index.path.display().to_string();
        let (text, flag) = match verdict {
            Verdict::Incomplete(i, reason) => (
                format!(
                    "harp: entry #{i} for {} {}: {reason}",
                    incoming.method, incoming.url
                ),
                "x-harp-incomplete",
            ),
            Verdict::Cycle(at) => (
                format!("harp: redirect cycle in {har} at {at}"),
                "x-harp-unmatched",
            ),
            Verdict::Unmatched(nearest) => (
                diagnose::unmatched_text(incoming, &har, nearest),
                "x-harp-unmatched",
            ),
            Verdict::Serve(..) | Verdict::Forward { .. } | Verdict::Passthrough => {
                unreachable!("only refusals are answered here")
            }
        };
        let mut resp = text_response(StatusCode::BAD_GATEWAY, text);
        resp.headers_mut()
            .insert(flag, http::HeaderValue::from_static("1"));
        resp
    }
}

/// HEAD, 204 and 304 carry no body, whatever the export stored (Chrome keeps the
/// cached body on 304 entries).
fn is_bodiless(p: &Prepared, method: &Method) -> bool {
    method == Method::HEAD
        || p.status == StatusCode::NO_CONTENT
        || p.status == StatusCode::NOT_MODIFIED
}

/// The served response: recorded status and headers, the body bytes (none for HEAD,
/// 204 and 304), in `parts` at their offsets when they are paced.
fn respond(
    p: &Prepared,
    method: &Method,
    parts: Vec<(std::time::Duration, usize)>,
) -> Response<Body> {
    let bodiless = is_bodiless(p, method);
    let paced = crate::pacing::is_paced(&parts);
    let body = if bodiless {
        Bytes::new()
    } else {
        p.body.clone()
    };
    let body = match &p.trailers {
        _ if paced && !bodiless => {
            crate::pacing::paced_body(body, parts, p.trailers.as_deref().cloned())
        }
        Some(trailers) if !bodiless => with_trailers(body, (**trailers).clone()),
        _ => full(body),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = p.status;
    *resp.headers_mut() = p.headers.clone();
    if method == Method::HEAD {
        let len = p.recorded_length.unwrap_or(p.body.len() as u64);
        resp.headers_mut()
            .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    }
    resp
}

/// A body of `data` then `trailers`, of unknown length, so HTTP/1.1 sends it chunked
/// (the only way trailers travel there).
fn with_trailers(data: Bytes, trailers: http::HeaderMap) -> Body {
    let frames = [
        Ok(http_body::Frame::data(data)),
        Ok(http_body::Frame::trailers(trailers)),
    ];
    boxed(http_body_util::StreamBody::new(futures_util::stream::iter(
        frames
            .into_iter()
            .filter(|f: &Result<_, std::convert::Infallible>| {
                f.as_ref()
                    .map_or(true, |f| f.data_ref().is_none_or(|d| !d.is_empty()))
            }),
    )))
}

impl Handler for Replayer {
    async fn decide(&self, req: Request<Body>, ctx: RequestContext) -> Decision {
        self.replay(req, ctx).await
    }

    async fn handle_local(&self, req: Request<Body>, ctx: RequestContext) -> Response<Body> {
        if let Some(resp) = inspector::answer(self, &req, &ctx, true) {
            return resp;
        }
        text_response(
            StatusCode::NOT_FOUND,
            format!(
                "harp replay: {} {} is not a harp endpoint (open http://harp.local/ for the inspector, or GET http://harp.local/__harp/calls); send proxied requests with absolute URLs",
                req.method(),
                req.uri()
            ),
        )
    }

    fn allow_tunnel(&self, _authority: &str) -> bool {
        self.options.not_found == NotFound::Fallback || self.missing.is_some()
    }
}

impl Inspect for Replayer {
    fn overview(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": "replay",
            "source": self.index.path.display().to_string(),
            "entries": self.index.len(),
            "summary": self.summary(),
            "recordMissing": self.missing.is_some(),
        })
    }

    fn calls(&self, offset: usize, limit: usize) -> serde_json::Value {
        let (calls, total) = Replayer::calls(self, offset, limit);
        let (unmatched, more) = self.unmatched();
        serde_json::json!({
            "har": self.index.path.display().to_string(),
            "entries": self.index.len(),
            "summary": self.summary(),
            "unmatched": unmatched,
            "unmatchedNotListed": more,
            "total": total,
            "offset": offset,
            "limit": limit,
            "calls": calls,
        })
    }

    fn call(&self, id: u64) -> Option<serde_json::Value> {
        let call = self.calls.find(|c| c.id == id)?;
        let detail = self.details.get(id);
        let response = call.entry.and_then(|i| match &self.index.servable[i] {
            Servable::Response(p) => Some(self.response_of(p)),
            Servable::Incomplete(_) => None,
        });
        let nearest: Vec<serde_json::Value> = call
            .nearest
            .iter()
            .map(|n| {
                let mut v = serde_json::to_value(n).unwrap_or_default();
                v["request"] = self.entry_request(n.entry);
                v
            })
            .collect();
        Some(serde_json::json!({
            "call": call,
            "request": detail.as_deref().map(inspector::request_json),
            "response": response,
            "entryRequest": call.entry.map(|i| self.entry_request(i)),
            "nearest": nearest,
        }))
    }

    fn entries(&self) -> serde_json::Value {
        let list: Vec<serde_json::Value> = self
            .index
            .recorded
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let status = match &self.index.servable[i] {
                    Servable::Response(p) => Some(p.status.as_u16()),
                    Servable::Incomplete(_) => None,
                };
                serde_json::json!({
                    "entry": i,
                    "method": r.method,
                    "url": clip(&r.url, MAX_URL_TEXT),
                    "status": status,
                    "uses": self.uses[i].load(Ordering::Relaxed),
                })
            })
            .collect();
        serde_json::json!({
            "kind": "replay",
            "source": self.index.path.display().to_string(),
            "entries": list,
            "recorded": self.recorded.as_ref().map(|r| r.recorded()),
        })
    }

    fn feed(&self) -> &Feed {
        &self.feed
    }
}

impl Replayer {
    /// An entry's response as the inspector shows it.
    fn response_of(&self, p: &Prepared) -> serde_json::Value {
        let headers: Vec<(String, String)> = crate::proxy::to_pairs(&p.headers);
        inspector::response_json(&inspector::ResponseDetail {
            status: p.status.as_u16(),
            body: inspector::shown(&p.body),
            body_len: p.body.len(),
            headers,
        })
    }

    /// An entry's recorded request as the inspector shows it.
    fn entry_request(&self, i: usize) -> serde_json::Value {
        let Some(r) = self.index.recorded.get(i) else {
            return serde_json::Value::Null;
        };
        let body = r.body.clone().unwrap_or_default();
        serde_json::json!({
            "entry": i,
            "method": r.method,
            "url": clip(&r.url, MAX_URL_TEXT),
            "headers": inspector::headers_json(&r.headers),
            "body": inspector::body_json(&inspector::shown(&body), body.len(), inspector::content_type(&r.headers)),
        })
    }
}

/// When the summary says replay met requests it could not answer.
pub fn has_unmatched(summary: &Summary) -> bool {
    summary.unmatched > 0
}
