//! Recording: a [`Handler`] that forwards every request upstream and turns each exchange
//! whose URL matches the `--url` globs into a HAR entry.
//!
//! Matching exchanges are buffered whole (the HAR needs the bodies); the others stream
//! through untouched. Entries are kept in arrival order and handed out as a [`Har`].

mod entry;

pub use entry::{
    iso8601, to_entry, version_str, ContentPolicy, EntryOptions, Exchange, Mode, RequestRecord,
    ResponseRecord, DEFAULT_REDACT, REDACTED,
};

use std::sync::Mutex;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::glob::UrlGlobs;
use crate::har::{Creator, Entry, Har, Journal, Log};
use crate::proxy::body::{boxed, full, text_response};
use crate::proxy::{is_upgrade, strip_hop_by_hop, Body, Handler, RequestContext, Upstream};

/// How the recorder behaves.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Which URLs are recorded (all when empty).
    pub globs: UrlGlobs,
    /// How entries are built.
    pub entry: EntryOptions,
    /// Largest request or response body recorded, in bytes; a larger request gets 413, a
    /// larger response 502, so nothing is silently truncated.
    pub max_body: usize,
}

/// The recording handler.
pub struct Recorder {
    options: RecordOptions,
    /// Finished entries with their order key: earlier entries (appending) first, then
    /// this session's in arrival order.
    entries: Mutex<Vec<(u64, Entry)>>,
    /// Added to the proxy's arrival numbers so they sort after earlier entries.
    id_offset: u64,
    /// Where each finished exchange is appended before its response completes; taken
    /// back once the HAR is written.
    journal: Mutex<Option<Journal>>,
}

impl Recorder {
    /// A recorder with no entries yet.
    pub fn new(options: RecordOptions) -> Self {
        Self {
            options,
            entries: Mutex::new(Vec::new()),
            id_offset: 0,
            journal: Mutex::new(None),
        }
    }

    /// Starts from `entries` already recorded (appending to an existing HAR).
    pub fn with_entries(mut self, entries: Vec<Entry>) -> Self {
        self.id_offset = entries.len() as u64;
        self.entries = Mutex::new(
            entries
                .into_iter()
                .enumerate()
                .map(|(i, e)| (i as u64, e))
                .collect(),
        );
        self
    }

    /// Appends every finished exchange to `journal` before answering the client.
    pub fn with_journal(self, journal: Journal) -> Self {
        *self.journal.lock().unwrap_or_else(|p| p.into_inner()) = Some(journal);
        self
    }

    /// Takes the journal back (to delete it once the HAR is written); exchanges that
    /// finish afterwards are kept in memory only.
    pub fn take_journal(&self) -> Option<Journal> {
        self.journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// How many exchanges were recorded so far.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The HAR document of everything recorded so far, entries in start order.
    pub fn to_har(&self) -> Har {
        let mut entries = self
            .entries
            .lock()
            .map(|e| e.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone());
        entries.sort_by_key(|(id, _)| *id);
        Har {
            log: Log {
                creator: Creator::default(),
                entries: entries.into_iter().map(|(_, e)| e).collect(),
                ..Log::default()
            },
            extra: Default::default(),
        }
    }

    /// Passes a protocol upgrade (WebSocket) through; the handshake is recorded (status
    /// 101, no body) when its URL matches, the traffic after it is not.
    async fn upgrade(
        &self,
        req: Request<Incoming>,
        ctx: RequestContext,
        upstream: &Upstream,
        recorded: bool,
    ) -> Response<Body> {
        let request = RequestRecord {
            method: req.method().clone(),
            url: req.uri().to_string(),
            version: req.version(),
            headers: req.headers().clone(),
            body: Bytes::new(),
        };
        let sent = Instant::now();
        let resp = upstream.upgrade(req).await;
        if recorded {
            let exchange = Exchange {
                started: ctx.started,
                request,
                response: Ok(ResponseRecord {
                    status: resp.status(),
                    version: Version::HTTP_11,
                    headers: resp.headers().clone(),
                    body: Bytes::new(),
                }),
                wait_ms: ms(sent),
                receive_ms: 0.0,
                server_ip: None,
            };
            self.push(ctx.id, to_entry(&exchange, &self.options.entry));
        }
        resp
    }

    fn push(&self, id: u64, entry: Entry) {
        let id = id + self.id_offset;
        if let Some(journal) = self
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if let Err(err) = journal.append(id, &entry) {
                tracing::error!("journal: {err}; this exchange is only in memory until harp stops");
            }
        }
        match self.entries.lock() {
            Ok(mut entries) => entries.push((id, entry)),
            Err(poisoned) => poisoned.into_inner().push((id, entry)),
        }
    }

    async fn record(
        &self,
        req: Request<Incoming>,
        ctx: RequestContext,
        upstream: &Upstream,
    ) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, self.options.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                if err
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    return text_response(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "harp: request body over {} bytes (--max-body)",
                            self.options.max_body
                        ),
                    );
                }
                tracing::debug!("{} {}: client body failed: {err}", parts.method, parts.uri);
                return text_response(
                    StatusCode::BAD_REQUEST,
                    format!("harp: reading the request body failed: {err}"),
                );
            }
        };
        self.record_buffered(parts, body, ctx, upstream).await
    }

    /// Forwards a request whose body was already read, records the exchange and returns
    /// the response (the body in full).
    pub async fn record_buffered(
        &self,
        parts: http::request::Parts,
        body: Bytes,
        ctx: RequestContext,
        upstream: &Upstream,
    ) -> Response<Body> {
        let request = RequestRecord {
            method: parts.method.clone(),
            url: parts.uri.to_string(),
            version: parts.version,
            headers: parts.headers.clone(),
            body: body.clone(),
        };
        let mut exchange = Exchange {
            started: ctx.started,
            request,
            response: Err(String::new()),
            wait_ms: 0.0,
            receive_ms: 0.0,
            server_ip: None,
        };

        let sent = Instant::now();
        let up = match upstream.send(Request::from_parts(parts, full(body))).await {
            Ok(up) => up,
            Err(err) => {
                tracing::warn!("{err}");
                exchange.wait_ms = ms(sent);
                exchange.response = Err(err.to_string());
                self.push(ctx.id, to_entry(&exchange, &self.options.entry));
                return err.to_response();
            }
        };
        exchange.wait_ms = ms(sent);
        exchange.server_ip = up.remote_addr.map(|a| a.ip());
        let head_at = Instant::now();
        let (mut parts, body) = up.response.into_parts();
        let body: Bytes = match Limited::new(body, self.options.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                let reason = if err
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    format!(
                        "response body over {} bytes (--max-body)",
                        self.options.max_body
                    )
                } else {
                    format!("response body failed: {err}")
                };
                tracing::warn!(
                    "{} {}: {reason}",
                    exchange.request.method,
                    exchange.request.url
                );
                exchange.response = Err(reason.clone());
                self.push(ctx.id, to_entry(&exchange, &self.options.entry));
                return text_response(StatusCode::BAD_GATEWAY, format!("harp: upstream {reason}"));
            }
        };
        exchange.receive_ms = ms(head_at);
        exchange.response = Ok(ResponseRecord {
            status: parts.status,
            version: parts.version,
            headers: parts.headers.clone(),
            body: body.clone(),
        });
        self.push(ctx.id, to_entry(&exchange, &self.options.entry));

        strip_hop_by_hop(&mut parts.headers);
        parts.version = Version::HTTP_11;
        Response::from_parts(parts, full(body))
    }
}

impl Handler for Recorder {
    async fn handle(
        &self,
        req: Request<Incoming>,
        ctx: RequestContext,
        upstream: &Upstream,
    ) -> Response<Body> {
        let recorded = self.options.globs.is_match(&req.uri().to_string());
        if is_upgrade(&req) {
            return self.upgrade(req, ctx, upstream, recorded).await;
        }
        if !recorded {
            return upstream.forward(req.map(boxed)).await;
        }
        self.record(req, ctx, upstream).await
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
