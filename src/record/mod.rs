//! Recording: a [`Recorder`] handler that has the proxy core forward every request, and
//! a [`Recording`] observer that turns each finished exchange whose URL matches the
//! `--url` globs into a HAR entry.
//!
//! Bodies stream through; the observer gets a tap of them (in memory up to a bound, then
//! spilled to a file in the HAR's folder). With attached storage each body becomes its
//! content-addressed payload file as the exchange finishes (a spilled one is renamed, not
//! copied), so neither memory nor the journal holds it. Each entry is serialised once:
//! its journal line is what the recording keeps (where the line lies, not a copy), and
//! the HAR is written from those lines at the end ([`Recorded`]).

mod entry;
mod recorded;
pub mod retries;

pub use crate::har::format::REDACTED;
pub(crate) use entry::to_entry;
pub use entry::{
    ContentPolicy, EntryOptions, Exchange, Mode, RequestRecord, ResponseRecord, DEFAULT_REDACT,
};
pub use recorded::Recorded;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use bytes::Bytes;
use http::{header, HeaderMap, Request};
use serde_json::{json, Value};

use crate::codec;
use crate::glob::UrlGlobs;
use crate::har::journal::Line;
use crate::har::payload::payload_name_for;
use crate::har::{attach_entry, has_embedded_body, Entry, Journal, PostData};
use crate::inspector::{self, Feed, Inspect, RecordedSoFar};
use crate::proxy::tap::Spilled;
use crate::proxy::Body as ProxyBody;
use crate::proxy::{
    BodyEnd, Decision, FinishedExchange, Handler, Observer, RequestContext, Settled, TapLimits,
    Tapped,
};
use recorded::{Kept, Place, Source, Summary};

/// How exchanges become entries.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// How entries are built.
    pub entry: EntryOptions,
    /// Largest request or response body recorded, in bytes. A larger one still reaches
    /// its destination whole; its entry says it was not recorded (replay answers it
    /// with an explicit 502).
    pub max_body: u64,
    /// Bodies kept in memory up to this size; larger ones are spilled to a file.
    pub memory_body: usize,
    /// The HAR's folder: where spilled bodies go.
    pub dir: PathBuf,
    /// Attached storage: payload files are written here as exchanges finish.
    pub attach: bool,
}

impl RecordOptions {
    /// Defaults for a HAR in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            entry: EntryOptions::default(),
            max_body: 2 * 1024 * 1024 * 1024,
            memory_body: 1024 * 1024,
            dir: dir.into(),
            attach: false,
        }
    }
}

/// The recording observer: finished exchanges become entries, journalled first.
///
/// Each finished exchange's entry is built on the thread that served it; its journal
/// line is then appended in a group: the thread waits for any group being appended,
/// then appends every line waiting at that moment (its own, unless that group took
/// it) and settles those exchanges, which releases each response's last frame to its
/// client. So a client that saw a whole response still implies a journal line in the
/// operating system's hands.
pub struct Recording {
    options: RecordOptions,
    /// Finished entries: their order key (earlier entries, when appending, first, then
    /// this session's in arrival order) and where their JSON is (the journal, or
    /// memory). Keeping each entry as it was built cost a dozen allocations and their
    /// fresh pages per exchange, and grew with the recording.
    kept: Mutex<Vec<Kept>>,
    /// Added to the proxy's arrival numbers so they sort after earlier entries.
    id_offset: u64,
    /// Where each finished exchange is appended before its response completes; taken
    /// back once the HAR is written.
    journal: Mutex<Option<Journal>>,
    /// Entries built and waiting for the next group write.
    pending: Mutex<Vec<Waiting>>,
    /// Held by the thread writing a group.
    writing: Mutex<()>,
    /// Buffers of lines journalled, reused for the next lines (a fresh one per line
    /// cost a large allocation and its release on every exchange).
    buffers: Mutex<Vec<Vec<u8>>>,
    /// Exchanges that failed upstream: how many, and the first few (method URL: why).
    failures: Mutex<(u64, Vec<String>)>,
    /// Where each recorded entry is announced to open inspector pages.
    feed: std::sync::OnceLock<Arc<Feed>>,
}

/// An entry waiting for its journal line, and who waits for it.
struct Waiting {
    id: u64,
    /// Its journal line.
    line: Line,
    /// It embeds a body attached storage moves out.
    embedded: bool,
    /// What the inspector shows of it, when a page watches.
    summary: Option<Value>,
    settle: oneshot::Sender<()>,
}

/// How many line buffers a recording keeps for reuse, and the largest it keeps (so
/// at most 8 MiB stay allocated).
const LINE_BUFFERS_KEPT: usize = 64;
const LINE_BUFFER_MAX: usize = 128 << 10;

/// How many upstream failures a recording describes (the rest are counted).
const FAILURES_KEPT: usize = 10;

impl Recording {
    /// A recording with no entries yet.
    pub fn new(options: RecordOptions) -> Self {
        Self {
            options,
            kept: Mutex::new(Vec::new()),
            id_offset: 0,
            journal: Mutex::new(None),
            pending: Mutex::new(Vec::new()),
            buffers: Mutex::new(Vec::new()),
            writing: Mutex::new(()),
            failures: Mutex::new((0, Vec::new())),
            feed: std::sync::OnceLock::new(),
        }
    }

    /// Announces recorded entries on `feed` (replay's, for `--record-missing`) instead
    /// of a feed of its own; only before the first entry is recorded.
    pub fn share_feed(&self, feed: Arc<Feed>) {
        let _ = self.feed.set(feed);
    }

    /// Exchanges that failed upstream so far (refused, time-out, TLS, a body broken off):
    /// how many, and the first few as `METHOD URL: why`.
    pub fn failures(&self) -> (u64, Vec<String>) {
        self.flush();
        self.failures.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Starts from `entries` already recorded (appending to an existing HAR); with
    /// attached storage their bodies go to payload files now (those already there are
    /// kept), so the end writes them as they are.
    pub fn with_entries(mut self, entries: Vec<Entry>) -> Self {
        self.id_offset = entries.len() as u64;
        let kept = entries
            .into_iter()
            .enumerate()
            .map(|(i, mut entry)| {
                if self.options.attach {
                    if let Err(err) = attach_entry(&mut entry, &self.options.dir) {
                        tracing::warn!("entry {i}: cannot attach a body yet ({err})");
                    }
                }
                Kept {
                    id: i as u64,
                    embedded: has_embedded_body(&entry),
                    at: Place::Memory(recorded::compact(&entry).into()),
                }
            })
            .collect();
        self.kept = Mutex::new(kept);
        self
    }

    /// Appends every finished exchange to `journal` before answering the client.
    pub fn with_journal(self, journal: Journal) -> Self {
        *self.journal.lock().unwrap_or_else(|p| p.into_inner()) = Some(journal);
        self
    }

    /// How many exchanges were recorded so far.
    pub fn len(&self) -> usize {
        self.kept.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Everything recorded, in start order, with the journal that holds it, taken out
    /// at the end of a recording: the recording is empty after, and exchanges that
    /// finish afterwards are kept in memory only.
    pub fn take_recorded(&self) -> Recorded {
        self.flush();
        let journal = self
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let kept = std::mem::take(&mut *self.kept.lock().unwrap_or_else(|p| p.into_inner()));
        Recorded::new(kept, journal, self.options.dir.clone())
    }
}

impl Recording {
    fn feed(&self) -> &Feed {
        self.feed.get_or_init(Arc::default)
    }

    fn note_failure(&self, entry: &Entry) {
        let why = entry
            .response
            .extra
            .get("_error")
            .and_then(|v| v.as_str())
            .unwrap_or("failed");
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.0 += 1;
        if failures.1.len() < FAILURES_KEPT {
            let line = format!(
                "{} {}: {why}",
                entry.request.method,
                crate::calllog::clip(&entry.request.url, crate::calllog::MAX_URL_TEXT)
            );
            failures.1.push(line);
        }
    }

    /// Waits for any group being written, then writes what is still waiting (its own
    /// line, unless that group took it) and settles those exchanges. Waiting here,
    /// rather than leaving the line to the writing thread, settles the exchange before
    /// its response's last frame is polled again: the response goes out in one piece
    /// instead of its head first and the rest after a wake-up (a second TLS record and
    /// TCP segment per exchange under load).
    fn flush(&self) {
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        self.write_waiting();
    }

    /// Journals every waiting entry, one write per group, keeps them and settles them;
    /// with the writing lock held.
    fn write_waiting(&self) {
        loop {
            let group =
                std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
            if group.is_empty() {
                return;
            }
            let spans = self.journal_group(&group);
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            for (i, waiting) in group.into_iter().enumerate() {
                if let Some(mut summary) = waiting.summary {
                    // Numbered in arrival order, as the HAR will be (barring exchanges
                    // still open).
                    summary["entry"] = json!(kept.len());
                    self.feed().send("entry", &summary);
                }
                let at = match spans.as_ref() {
                    Some(spans) => {
                        self.reuse(waiting.line.into_buffer());
                        Place::Journal(spans[i])
                    }
                    None => Place::Memory(waiting.line.into_entry()),
                };
                kept.push(Kept {
                    id: waiting.id,
                    at,
                    embedded: waiting.embedded,
                });
                let _ = waiting.settle.send(());
            }
        }
    }

    /// A buffer for a line: one kept, or a new one.
    fn buffer(&self) -> Vec<u8> {
        let kept = self.buffers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        kept.unwrap_or_default()
    }

    /// Keeps a journalled line's buffer for a later line, unless enough are kept or
    /// it is large.
    fn reuse(&self, buffer: Vec<u8>) {
        if buffer.capacity() <= LINE_BUFFER_MAX {
            let mut buffers = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
            if buffers.len() < LINE_BUFFERS_KEPT {
                buffers.push(buffer);
            }
        }
    }

    /// Appends a group's lines to the journal, if there is one, in one write; where
    /// each line's entry lies, or None when the entries stay in memory (no journal, or
    /// the write failed).
    fn journal_group(&self, group: &[Waiting]) -> Option<Vec<crate::har::journal::Span>> {
        let journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        let journal = journal.as_ref()?;
        let lines: Vec<&Line> = group.iter().map(|w| &w.line).collect();
        match journal.append_all(&lines) {
            Ok(spans) => Some(spans),
            Err(err) => {
                tracing::error!(
                    "journal: {err}; these exchanges are only in memory until harp stops"
                );
                None
            }
        }
    }

    /// Turns a tapped body into bytes for the entry, or (attached storage, spilled body)
    /// into its payload file.
    fn body_of(&self, tapped: Tapped, coding: &str, mime: &str) -> Body {
        match tapped {
            Tapped::Memory(bytes) => Body::Bytes(bytes),
            Tapped::NotKept { len, reason } => Body::NotKept { len, reason },
            // A JSON body with fields to redact is read back, redacted, then attached.
            Tapped::Spilled(spilled)
                if self.options.attach
                    && !(self.options.entry.rules.redacts_json()
                        && codec::essence(mime).contains("json")) =>
            {
                let raw_len = spilled.len;
                match self.attach_spilled(&spilled, coding, mime) {
                    Ok((name, size)) => Body::File {
                        name,
                        size,
                        raw_len,
                    },
                    Err(err) => {
                        tracing::warn!("keeping a large body as received: {err}");
                        read_spilled(&spilled, raw_len)
                    }
                }
            }
            Tapped::Spilled(spilled) => read_spilled(&spilled, spilled.len),
        }
    }

    /// Moves a spilled body to its payload file (decoding it on the way when it carries
    /// a content coding); returns the file name and the decoded size.
    fn attach_spilled(
        &self,
        spilled: &Spilled,
        coding: &str,
        mime: &str,
    ) -> std::io::Result<(String, u64)> {
        let dir = &self.options.dir;
        if codec::is_identity(coding) {
            let name = payload_name_for(&spilled.sha1, mime);
            persist_copy(spilled.file.path(), &dir.join(&name), spilled.len)?;
            return Ok((name, spilled.len));
        }
        let raw = std::fs::File::open(spilled.file.path())?;
        let reader = codec::decoding_reader(coding, std::io::BufReader::new(raw))
            .map_err(std::io::Error::other)?;
        let mut reader = reader.take(self.options.max_body + 1);
        let out = tempfile::Builder::new()
            .prefix(".harp-body-")
            .tempfile_in(dir)?;
        let mut writer = std::io::BufWriter::with_capacity(256 * 1024, out);
        let mut hasher = <sha1::Sha1 as sha1::Digest>::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sha1::Digest::update(&mut hasher, &buf[..n]);
            writer.write_all(&buf[..n])?;
            size += n as u64;
        }
        if size > self.options.max_body {
            return Err(std::io::Error::other(format!(
                "decoded body over {} bytes",
                self.options.max_body
            )));
        }
        let out = writer.into_inner().map_err(|e| e.into_error())?;
        let name = payload_name_for(&sha1::Digest::finalize(hasher).into(), mime);
        persist_copy(out.path(), &dir.join(&name), size)?;
        Ok((name, size))
    }

    /// The HAR entry for a finished exchange.
    fn entry_of(&self, mut ex: FinishedExchange) -> Entry {
        let messages = std::mem::take(&mut ex.messages);
        let request_mime = header_text(&ex.request.headers, header::CONTENT_TYPE);
        let request_trailers = ex.request.body.trailers.clone();
        let request_body = self.body_of(ex.request.body.body, "", &request_mime);
        let mut response_parts = None;
        let response = match ex.response {
            Ok(resp) => {
                let coding = header_text(&resp.headers, header::CONTENT_ENCODING);
                let mime = header_text(&resp.headers, header::CONTENT_TYPE);
                let mut body = self.body_of(resp.body.body, &coding, &mime);
                let record = ResponseRecord {
                    status: resp.status,
                    version: resp.version,
                    headers: resp.headers,
                    // Moved, not shared: the entry's text can take the bytes over.
                    body: body.take_bytes(),
                };
                response_parts = Some((body, resp.body.trailers, resp.body.end, resp.body.chunks));
                Ok(record)
            }
            Err(reason) => Err(reason),
        };
        let exchange = Exchange {
            started: ex.ctx.started,
            request: RequestRecord {
                method: ex.request.method,
                url: ex.request.uri.to_string(),
                version: ex.request.version,
                headers: ex.request.headers,
                body: request_body.bytes(),
            },
            response,
            wait_ms: ms(ex.wait),
            receive_ms: ms(ex.receive),
            server_ip: ex.server_addr.map(|a| a.ip()),
        };
        let mut entry = to_entry(exchange, &self.options.entry);
        if !messages.is_empty() {
            entry
                .extra
                .insert("_resourceType".into(), json!("websocket"));
            entry.extra.insert(
                crate::har::format::WEBSOCKET_MESSAGES.into(),
                Value::Array(messages.iter().map(message_json).collect()),
            );
        }
        let keep_bodies = self.options.entry.content == ContentPolicy::Embed;
        self.note_request_body(&mut entry, request_body, request_mime, request_trailers);
        if let Some((body, trailers, end, chunks)) = response_parts {
            self.note_response_body(&mut entry.response, body, trailers, end);
            if self.options.entry.mode == Mode::Full && chunks.len() > 1 {
                // A body that came in parts over time (an event stream, a slow chunked
                // answer): when each part arrived, for `--latency recorded`.
                entry
                    .response
                    .extra
                    .insert(crate::har::format::CHUNKS_FIELD.into(), json!(chunks));
            }
        }
        if self.options.attach && keep_bodies {
            if let Err(err) = attach_entry(&mut entry, &self.options.dir) {
                tracing::warn!("cannot attach a body ({err}); it stays embedded");
            }
        }
        entry
    }

    /// What the tap says about the request body that `to_entry` cannot know: a payload
    /// file (attached storage), a body not kept, trailers.
    fn note_request_body(
        &self,
        entry: &mut Entry,
        body: Body,
        mime: String,
        trailers: Option<HeaderMap>,
    ) {
        let full = self.options.entry.mode == Mode::Full;
        let keep_bodies = self.options.entry.content == ContentPolicy::Embed;
        match body {
            Body::File { name, size, .. } if keep_bodies => {
                entry.request.post_data = Some(PostData {
                    mime_type: mime,
                    file: Some(name),
                    ..PostData::default()
                });
                if full {
                    entry.request.body_size = size as i64;
                }
            }
            Body::NotKept { len, reason } => {
                entry.extra.insert(
                    "_error".into(),
                    json!(format!(
                        "request body not recorded: {reason} ({len} bytes sent)"
                    )),
                );
            }
            _ => {}
        }
        if let Some(trailers) = trailers {
            entry
                .request
                .extra
                .insert("_trailers".into(), trailers_json(&trailers));
        }
    }

    /// The same for the response body, and how it ended.
    fn note_response_body(
        &self,
        response: &mut crate::har::Response,
        body: Body,
        trailers: Option<HeaderMap>,
        end: BodyEnd,
    ) {
        let full = self.options.entry.mode == Mode::Full;
        let keep_bodies = self.options.entry.content == ContentPolicy::Embed;
        match body {
            Body::File {
                name,
                size,
                raw_len,
            } => {
                response.content.size = size as i64;
                if keep_bodies {
                    response.content.file = Some(name);
                    response.content.text = None;
                    response.content.encoding = None;
                }
                if full {
                    response.body_size = raw_len as i64;
                    response.content.compression =
                        (raw_len != size).then(|| size as i64 - raw_len as i64);
                }
            }
            Body::NotKept { len, reason } => {
                response.extra.insert(
                    "_error".into(),
                    json!(format!(
                        "response body not recorded: {reason} ({len} bytes passed to the client)"
                    )),
                );
            }
            Body::Bytes(_) => {}
        }
        if let Some(trailers) = trailers {
            response
                .extra
                .insert("_trailers".into(), trailers_json(&trailers));
        }
        match end {
            BodyEnd::Complete => {}
            BodyEnd::Failed(reason) => {
                response.extra.insert(
                    "_error".into(),
                    json!(format!("the response body failed midway: {reason}")),
                );
            }
            BodyEnd::Closed => {
                response
                    .extra
                    .insert("_harpStreamClosed".into(), Value::Bool(true));
            }
        }
    }
}

impl Observer for Recording {
    fn limits(&self) -> TapLimits {
        let options = &self.options;
        TapLimits {
            memory: options.memory_body,
            spill_dir: Some(options.dir.clone()),
            max: options.max_body,
        }
    }

    fn exchange(&self, exchange: FinishedExchange) -> Option<Settled> {
        // A client that went away before sending its whole request made no exchange:
        // nothing complete reached a server, and nothing is worth replaying.
        if exchange.request.body.end != BodyEnd::Complete && exchange.response.is_err() {
            tracing::debug!(
                "{} {}: the client abandoned its request; not recorded",
                exchange.request.method,
                exchange.request.uri
            );
            return None;
        }
        let id = exchange.ctx.id + self.id_offset;
        let entry = self.entry_of(exchange);
        if entry.response.extra.contains_key("_error") {
            self.note_failure(&entry);
        }
        let (settle, settled) = oneshot::channel();
        // The entry's only copy from here on is its JSON.
        let waiting = Waiting {
            id,
            line: Line::new_in(id, &entry, self.buffer()),
            embedded: has_embedded_body(&entry),
            summary: self.feed().is_watched().then(|| entry_summary(0, &entry)),
            settle,
        };
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(waiting);
        self.flush();
        Some(settled)
    }
}

/// One WebSocket message as Chrome writes it (text as text, binary as base64).
fn message_json(m: &crate::proxy::websocket::WsMessage) -> Value {
    let time =
        m.at.duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
    let data = match m.opcode {
        2 => Value::String(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            &m.data,
        )),
        _ => Value::String(String::from_utf8_lossy(&m.data).into_owned()),
    };
    json!({
        "type": if m.from_client { "send" } else { "receive" },
        "time": (time * 1000.0).round() / 1000.0,
        "opcode": m.opcode,
        "data": data,
    })
}

/// A body as it goes into an entry.
enum Body {
    Bytes(Bytes),
    /// Already in its payload file (attached storage).
    File {
        name: String,
        size: u64,
        raw_len: u64,
    },
    NotKept {
        len: u64,
        reason: String,
    },
}

impl Body {
    /// The bytes, moved out (none are left behind).
    fn take_bytes(&mut self) -> Bytes {
        match self {
            Body::Bytes(b) => std::mem::take(b),
            _ => Bytes::new(),
        }
    }

    fn bytes(&self) -> Bytes {
        match self {
            Body::Bytes(b) => b.clone(),
            _ => Bytes::new(),
        }
    }
}

fn read_spilled(spilled: &Spilled, len: u64) -> Body {
    match spilled.read() {
        Ok(bytes) => Body::Bytes(bytes),
        Err(err) => Body::NotKept {
            len,
            reason: format!("reading the spilled body failed: {err}"),
        },
    }
}

/// Gives `from` the name `to` (content-addressed: an existing file of that length is
/// the same payload and is kept).
fn persist_copy(from: &Path, to: &Path, len: u64) -> std::io::Result<()> {
    if crate::har::payload::is_present(to, len) {
        return Ok(());
    }
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Trailers as a HAR header list (`[{name, value}]`).
fn trailers_json(trailers: &HeaderMap) -> Value {
    Value::Array(
        trailers
            .iter()
            .map(|(n, v)| json!({"name": n.as_str(), "value": String::from_utf8_lossy(v.as_bytes())}))
            .collect(),
    )
}

/// An entry as the inspector lists it.
fn entry_summary(id: u64, entry: &Entry) -> serde_json::Value {
    summary_json(
        id,
        &entry.request.method,
        &entry.request.url,
        entry.response.status,
        &entry.started_date_time,
    )
}

/// The inspector's line for a recorded entry, whether built or read back.
fn summary_json(id: u64, method: &str, url: &str, status: i64, time: &str) -> Value {
    json!({
        "entry": id,
        "method": method,
        "url": crate::calllog::clip(url, crate::calllog::MAX_URL_TEXT),
        "status": status,
        "time": time,
    })
}

impl RecordedSoFar for Recording {
    /// What this session recorded (not the entries it adds to), numbered as in the HAR.
    fn recorded(&self) -> Vec<serde_json::Value> {
        self.flush();
        let journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let mut order: Vec<(usize, u64)> =
            kept.iter().enumerate().map(|(i, k)| (i, k.id)).collect();
        order.sort_by_key(|(_, id)| *id);
        let mut source = Source::new(journal.as_ref());
        let mut listed = Vec::new();
        for (number, (i, id)) in order.into_iter().enumerate() {
            if id < self.id_offset {
                continue;
            }
            let summary = source
                .json(&kept[i])
                .map_err(|e| e.to_string())
                .and_then(|json| {
                    serde_json::from_slice::<Summary>(json).map_err(|e| e.to_string())
                });
            match summary {
                Ok(s) => listed.push(summary_json(
                    number as u64,
                    &s.request.method,
                    &s.request.url,
                    s.response.status,
                    &s.started_date_time,
                )),
                Err(err) => tracing::warn!("inspector: recorded entry {number}: {err}"),
            }
        }
        listed
    }
}

/// The recording handler: every request is forwarded; those whose URL matches the
/// globs are observed by the [`Recording`].
pub struct Recorder {
    globs: UrlGlobs,
    recording: Arc<Recording>,
    /// The HAR recorded to, for the inspector.
    source: String,
}

impl Recorder {
    /// Records what matches `globs` into `recording`.
    pub fn new(globs: UrlGlobs, recording: Arc<Recording>) -> Self {
        Self {
            globs,
            recording,
            source: String::new(),
        }
    }

    /// Names the HAR recorded to (shown by the inspector).
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// The recording.
    pub fn recording(&self) -> &Arc<Recording> {
        &self.recording
    }
}

impl Handler for Recorder {
    async fn decide(&self, req: Request<ProxyBody>, _ctx: RequestContext) -> Decision {
        let observer = self
            .globs
            .is_match(&req.uri().to_string())
            .then(|| self.recording.clone() as Arc<dyn Observer>);
        Decision::Forward {
            request: req,
            observer,
        }
    }

    async fn handle_local(
        &self,
        req: Request<ProxyBody>,
        ctx: RequestContext,
    ) -> http::Response<ProxyBody> {
        if let Some(resp) = inspector::answer(self, &req, &ctx, true) {
            return resp;
        }
        crate::proxy::body::text_response(
            http::StatusCode::NOT_FOUND,
            format!(
                "harp record: {} {} is not for a proxy: point HTTP_PROXY/HTTPS_PROXY at harp and request absolute URLs (http://harp.local/ is the inspector)",
                req.method(),
                req.uri()
            ),
        )
    }
}

impl Inspect for Recorder {
    fn overview(&self) -> serde_json::Value {
        let (failed, _) = self.recording.failures();
        json!({
            "kind": "record",
            "source": self.source,
            "entries": self.recording.len(),
            "summary": {"recorded": self.recording.len(), "failed": failed},
        })
    }

    fn calls(&self, offset: usize, limit: usize) -> serde_json::Value {
        json!({"source": self.source, "total": 0, "offset": offset, "limit": limit, "calls": []})
    }

    fn call(&self, _id: u64) -> Option<serde_json::Value> {
        None
    }

    fn entries(&self) -> serde_json::Value {
        json!({"kind": "record", "source": self.source, "entries": [], "recorded": self.recording.recorded()})
    }

    fn feed(&self) -> &Feed {
        self.recording.feed()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
