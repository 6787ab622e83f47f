//! The replay index: every HAR entry prepared once at load (request facts for the
//! matcher, a ready response: status, headers, body bytes), and a map from method + URL to
//! the entries recorded for it, so lookup cost does not grow with the number of entries.

use rustc_hash::FxHashMap;
use std::path::PathBuf;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;

use super::matcher::Recorded;
use crate::codec;
use crate::har::{
    stream_har_file, Content, Detail, Entry, EntryBodies, HarError, HarFile, Header, ReadLimits,
    Streamed,
};
use crate::rules::{Canon, Rules};

/// The unknown entry, response and content fields replay reads: errors of an exchange
/// that never completed, trailers, a body kept encoded, chunk timing, a WebSocket
/// conversation.
pub const SERVED_EXTRAS: &[&str] = &[
    "_error",
    "_failureText",
    "_trailers",
    "_harpEncoded",
    crate::har::format::CHUNKS_FIELD,
    crate::har::format::WEBSOCKET_MESSAGES,
];

/// A response ready to serve.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The recorded status.
    pub status: StatusCode,
    /// The recorded headers minus hop-by-hop ones, `content-length` (recomputed) and
    /// `content-encoding` when the stored body is already decoded.
    pub headers: HeaderMap,
    /// The body bytes the client saw when recording.
    pub body: Bytes,
    /// The `Location` header, for redirect following.
    pub location: Option<String>,
    /// The recorded `content-length`, kept for HEAD answers (which carry no body).
    pub recorded_length: Option<u64>,
    /// Trailers sent after the body (`_trailers`: gRPC status and the like).
    pub trailers: Option<Box<HeaderMap>>,
    /// When the head and body parts came, for `--latency`.
    pub timing: crate::pacing::Timing,
    /// A WebSocket conversation to play after a `101`.
    pub script: Option<std::sync::Arc<super::conversation::Script>>,
}

/// What an entry can be served as.
// Nearly every entry is a `Response`: boxing it would cost an allocation per entry when a
// large HAR is indexed, for no saving.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Servable {
    /// A complete response.
    Response(Prepared),
    /// The exchange never completed (or its status cannot be served): why.
    Incomplete(String),
}

/// All entries of a HAR, prepared and indexed.
#[derive(Debug, Clone)]
pub struct Index {
    /// Where the entries came from.
    pub path: PathBuf,
    /// Request facts per entry, in file order.
    pub recorded: Vec<Recorded>,
    /// Response per entry, in file order.
    pub servable: Vec<Servable>,
    /// `METHOD URL` (the URL as matching compares it) to entry indices in file order.
    by_key: FxHashMap<Box<str>, Slots>,
    /// The matching rules the index was built with.
    pub rules: Rules,
    /// Entries grouped for near-miss search, grouped when first asked for (only a miss
    /// needs them).
    neighbours: std::sync::OnceLock<super::diagnose::Neighbours>,
}

impl Index {
    /// Prepares every entry of `file` under `rules` (on several threads for a large
    /// HAR); a body that cannot be produced is an error naming the entry.
    pub fn new(file: &HarFile, rules: Rules) -> Result<Self, HarError> {
        let entries = &file.har.log.entries;
        let ready = |i: usize| -> Result<Ready, HarError> {
            let entry = &entries[i];
            let bodies = EntryBodies {
                response: file.response_body(i)?,
                request: file.request_body(i)?,
            };
            Ok(Ready::of(i, entry, Kept::copy(entry), bodies, &rules))
        };
        // A part: its entries' keys and prepared requests and responses, in order.
        let part = |range: std::ops::Range<usize>| -> Result<Part, HarError> {
            let mut part = Part::with_capacity(range.len());
            for i in range {
                let ready = ready(i)?;
                part.keys.push(ready.key);
                part.recorded.push(ready.recorded);
                part.servable.push(ready.servable);
            }
            Ok(part)
        };
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let parts: Vec<Result<Part, HarError>> = if entries.len() < 1024 || workers == 1 {
            vec![part(0..entries.len())]
        } else {
            // This thread prepares the first part while the others prepare the rest.
            let per = entries.len().div_ceil(workers);
            std::thread::scope(|scope| {
                let part = &part;
                let running: Vec<_> = (per..entries.len())
                    .step_by(per)
                    .map(|start| {
                        let end = (start + per).min(entries.len());
                        scope.spawn(move || part(start..end))
                    })
                    .collect();
                let first = part(0..per);
                std::iter::once(first)
                    .chain(
                        running
                            .into_iter()
                            .map(|p| p.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
                    )
                    .collect()
            })
        };
        // The parts are joined in file order, and every key filed.
        let mut index = Self::empty(file.path.clone(), rules);
        index.by_key.reserve(entries.len());
        let mut i = 0;
        for part in parts {
            let part = part?;
            for key in part.keys {
                index.place_key(key, i);
                i += 1;
            }
            if index.recorded.is_empty() {
                index.recorded = part.recorded;
                index.servable = part.servable;
                index.recorded.reserve_exact(entries.len() - index.len());
                index.servable.reserve_exact(entries.len() - index.len());
            } else {
                index.recorded.extend(part.recorded);
                index.servable.extend(part.servable);
            }
        }
        Ok(index.finish())
    }

    /// Reads the HAR at `path` straight into an index, entries parsed and prepared on
    /// several threads while the file is read (no model of the whole file is kept, nor
    /// its whole text: peak memory is the index). `extract` takes what the caller needs
    /// of each entry, read as serving needs it ([`Detail::Serving`]: no cookie lists,
    /// no unknown fields but [`SERVED_EXTRAS`], bodies taken out); returns the index,
    /// what is left of the document, and what `extract` took, in file order.
    pub fn stream<E: Send>(
        path: &std::path::Path,
        rules: Rules,
        extract: impl Fn(&Entry) -> E + Sync,
    ) -> Result<(Self, Streamed, Vec<E>), HarError> {
        let mut index = Self::empty(path.to_path_buf(), Rules::default());
        let mut taken = Vec::new();
        let streamed = stream_har_file(
            path,
            &ReadLimits::default(),
            Detail::Serving(SERVED_EXTRAS),
            |i, mut entry, bodies| {
                let took = extract(&entry);
                let kept = Kept::take(&mut entry);
                Ok((Ready::of(i, &entry, kept, bodies, &rules), took))
            },
            |i, (ready, took)| {
                index.place(i, ready);
                taken.push(took);
                Ok(())
            },
        )?;
        index.rules = rules;
        Ok((index.finish(), streamed, taken))
    }

    fn empty(path: PathBuf, rules: Rules) -> Self {
        Self {
            path,
            recorded: Vec::new(),
            servable: Vec::new(),
            by_key: FxHashMap::default(),
            rules,
            neighbours: std::sync::OnceLock::new(),
        }
    }

    /// Places prepared entry `i` (entries come in file order).
    fn place(&mut self, i: usize, ready: Ready) {
        self.place_key(ready.key, i);
        self.servable.push(ready.servable);
        self.recorded.push(ready.recorded);
    }

    /// Files entry `i` under `key` (entries come in file order).
    fn place_key(&mut self, key: Box<str>, i: usize) {
        match self.by_key.get_mut(&*key) {
            Some(slots) => slots.push(i),
            None => {
                self.by_key.insert(key, Slots::One(i));
            }
        }
    }

    fn finish(mut self) -> Self {
        self.recorded.shrink_to_fit();
        self.servable.shrink_to_fit();
        self
    }

    /// Entries recorded for exactly this method and URL (as the rules compare URLs),
    /// in file order.
    pub(crate) fn candidates(&self, method: &str, url: &str) -> &[usize] {
        self.by_key
            .get(key_of(method, &self.rules.match_url(url)).as_str())
            .map(Slots::as_slice)
            .unwrap_or(&[])
    }

    /// Entries grouped for near-miss search.
    pub fn neighbours(&self) -> &super::diagnose::Neighbours {
        self.neighbours
            .get_or_init(|| super::diagnose::Neighbours::new(&self.recorded))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.recorded.len()
    }

    /// True when the HAR has no entries.
    pub fn is_empty(&self) -> bool {
        self.recorded.is_empty()
    }
}

/// The entries recorded for one method and URL: most often one, kept without an
/// allocation of its own.
#[derive(Debug, Clone)]
enum Slots {
    One(usize),
    Many(Vec<usize>),
}

impl Slots {
    fn push(&mut self, i: usize) {
        match self {
            Slots::One(first) => *self = Slots::Many(vec![*first, i]),
            Slots::Many(list) => list.push(i),
        }
    }

    fn as_slice(&self) -> &[usize] {
        match self {
            Slots::One(i) => std::slice::from_ref(i),
            Slots::Many(list) => list,
        }
    }
}

/// Entries prepared together, before they are placed.
struct Part {
    keys: Vec<Box<str>>,
    recorded: Vec<Recorded>,
    servable: Vec<Servable>,
}

impl Part {
    fn with_capacity(n: usize) -> Self {
        Self {
            keys: Vec::with_capacity(n),
            recorded: Vec::with_capacity(n),
            servable: Vec::with_capacity(n),
        }
    }
}

/// An entry prepared for the index (on any thread), before it is placed.
struct Ready {
    key: Box<str>,
    recorded: Recorded,
    servable: Servable,
}

impl Ready {
    /// Prepares entry `i` under `rules`; `kept` holds its strings the index keeps.
    fn of(i: usize, entry: &Entry, kept: Kept, bodies: EntryBodies, rules: &Rules) -> Self {
        let incomplete = entry.is_incomplete();
        let Kept {
            method,
            url,
            request_headers,
            response_headers,
            redirect_url,
        } = kept;
        let recorded = recorded_request(
            entry,
            Request {
                method,
                url,
                headers: request_headers,
                body: bodies.request,
            },
            rules,
            incomplete,
        );
        let key = key_of(&recorded.method, &rules.match_url(&recorded.url)).into_boxed_str();
        let servable = prepare(
            i,
            entry,
            response_headers,
            redirect_url,
            bodies.response,
            incomplete,
        );
        Self {
            key,
            recorded,
            servable,
        }
    }
}

/// The strings of an entry the index keeps: taken out of an entry read for the index,
/// or copied from a borrowed one.
struct Kept {
    method: String,
    url: String,
    request_headers: Vec<Header>,
    response_headers: Vec<Header>,
    redirect_url: String,
}

impl Kept {
    fn take(entry: &mut Entry) -> Self {
        Self {
            method: std::mem::take(&mut entry.request.method),
            url: std::mem::take(&mut entry.request.url),
            request_headers: std::mem::take(&mut entry.request.headers),
            response_headers: std::mem::take(&mut entry.response.headers),
            redirect_url: std::mem::take(&mut entry.response.redirect_url),
        }
    }

    fn copy(entry: &Entry) -> Self {
        Self {
            method: entry.request.method.clone(),
            url: entry.request.url.clone(),
            request_headers: entry.request.headers.clone(),
            response_headers: entry.response.headers.clone(),
            redirect_url: entry.response.redirect_url.clone(),
        }
    }
}

/// A recorded request's parts the matcher keeps.
struct Request {
    method: String,
    url: String,
    headers: Vec<Header>,
    body: Option<Bytes>,
}

/// The index key of a method and URL.
fn key_of(method: &str, url: &str) -> String {
    let mut key = String::with_capacity(method.len() + 1 + url.len());
    key.push_str(method);
    key.push(' ');
    key.push_str(url);
    key
}

/// The request facts of an entry the matcher needs, with the rules applied.
fn recorded_request(entry: &Entry, parts: Request, rules: &Rules, incomplete: bool) -> Recorded {
    let mut headers: Vec<(String, String)> = parts
        .headers
        .into_iter()
        .map(|h| {
            let mut name = h.name;
            name.make_ascii_lowercase();
            (name, h.value)
        })
        .filter(|(n, _)| !rules.ignores_header(n))
        .collect();
    // Kept for the whole replay: no spare capacity (it was a third of the list).
    headers.shrink_to_fit();
    let request = &entry.request;
    let body = parts.body.filter(|b| !b.is_empty());
    let content_type = request
        .post_data
        .as_ref()
        .map(|p| p.mime_type.as_str())
        .filter(|m| !m.is_empty())
        .or_else(|| {
            headers
                .iter()
                .find(|(n, _)| n == "content-type")
                .map(|(_, v)| v.as_str())
        })
        .unwrap_or("");
    let canon = match (
        &body,
        request.post_data.as_ref().and_then(|p| p.params.as_ref()),
    ) {
        (Some(bytes), _) => Some(Canon::of(content_type, bytes, rules)),
        // Exporters that write a form only as `params`: compare on those.
        (None, Some(params)) if !params.is_empty() => Some(Canon::of_params(content_type, params)),
        _ => None,
    };
    Recorded {
        method: parts.method,
        url: crate::urls::normalise_owned(parts.url),
        headers,
        body,
        canon,
        incomplete,
    }
}

fn prepare(
    index: usize,
    entry: &Entry,
    recorded_headers: Vec<Header>,
    redirect_url: String,
    body: Bytes,
    incomplete: bool,
) -> Servable {
    let status = match servable_status(entry, incomplete) {
        Ok(status) => status,
        Err(why) => return Servable::Incomplete(why),
    };
    let timing = crate::pacing::Timing::of(entry);
    let script = super::conversation::Script::of(entry).map(std::sync::Arc::new);
    let response = &entry.response;
    let coding = recorded_headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-encoding"))
        .map(|h| h.value.clone())
        .unwrap_or_default();
    let keep_encoding = !coding.is_empty() && still_encoded(&response.content, &coding, &body);
    let served = served_headers(index, recorded_headers, keep_encoding);
    let mut headers = served.headers;
    let location = served.location.or_else(|| {
        (!redirect_url.is_empty() && super::matcher::is_redirect(status.as_u16()))
            .then_some(redirect_url)
    });
    let trailers = trailers_of(response).map(Box::new);
    if let Some(trailers) = &trailers {
        // HTTP/1.1 peers send only the trailers the head announces.
        if !headers.contains_key(http::header::TRAILER) {
            let names: Vec<&str> = trailers.keys().map(|k| k.as_str()).collect();
            if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
                headers.insert(http::header::TRAILER, value);
            }
        }
    }
    Servable::Response(Prepared {
        status,
        headers,
        body,
        location,
        recorded_length: served.recorded_length,
        trailers,
        timing,
        script,
    })
}

/// The status an entry is served with, or why it cannot be.
fn servable_status(entry: &Entry, incomplete: bool) -> Result<StatusCode, String> {
    let response = &entry.response;
    if incomplete {
        let error = ["_error", "_failureText"]
            .iter()
            .find_map(|k| response.extra.get(*k).or_else(|| entry.extra.get(*k)))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        return Err(format!(
            "the recorded exchange never completed (status {}{error})",
            response.status
        ));
    }
    let status = u16::try_from(response.status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| format!("status {} cannot be served", response.status))?;
    let conversation = entry
        .extra
        .contains_key(crate::har::format::WEBSOCKET_MESSAGES);
    if status == StatusCode::SWITCHING_PROTOCOLS && conversation {
        return Ok(status);
    }
    if status.is_informational() {
        return Err(format!(
            "status {status} cannot be replayed: a protocol upgrade without a recorded conversation (_webSocketMessages)"
        ));
    }
    Ok(status)
}

/// What the recorded response headers give the served answer.
struct ServedHeaders {
    headers: HeaderMap,
    location: Option<String>,
    recorded_length: Option<u64>,
}

/// The recorded headers minus framing ones and HTTP/2 pseudo-headers (and
/// `content-encoding` unless the body is still encoded); invalid ones are left out with
/// a warning naming entry `index`.
fn served_headers(index: usize, recorded: Vec<Header>, keep_encoding: bool) -> ServedHeaders {
    let mut out = ServedHeaders {
        headers: HeaderMap::with_capacity(recorded.len()),
        location: None,
        recorded_length: None,
    };
    for h in recorded {
        let mut lower = h.name;
        lower.make_ascii_lowercase();
        if lower == "content-length" {
            out.recorded_length = h.value.trim().parse::<u64>().ok();
        }
        if lower.starts_with(':')
            || crate::proxy::is_framing(&lower)
            || (lower == "content-encoding" && !keep_encoding)
        {
            continue;
        }
        if lower == "location" {
            out.location = Some(h.value.clone());
        }
        // The value's bytes become the header value as they are, not copied.
        match (
            HeaderName::from_bytes(lower.as_bytes()),
            HeaderValue::from_maybe_shared(Bytes::from(h.value.into_bytes())),
        ) {
            (Ok(name), Ok(value)) => {
                out.headers.append(name, value);
            }
            _ => tracing::warn!(
                "entry {index}: response header {:?} is not valid HTTP (a name with spaces, a value with CR/LF); it is not served",
                lower
            ),
        }
    }
    out
}

/// The recorded `_trailers` (gRPC status and the like), when there are any.
fn trailers_of(response: &crate::har::Response) -> Option<HeaderMap> {
    let list = response.extra.get("_trailers")?.as_array()?;
    let mut map = HeaderMap::new();
    for t in list {
        let (Some(name), Some(value)) = (t["name"].as_str(), t["value"].as_str()) else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    (!map.is_empty()).then_some(map)
}

/// True when the stored body still carries its content coding: harp marked it so, or it
/// is gzip/zlib data that decodes (exports like mitmproxy's keep undecodable bodies raw).
fn still_encoded(content: &Content, coding: &str, body: &[u8]) -> bool {
    if content.extra.contains_key("_harpEncoded") {
        return true;
    }
    let coding = coding.trim().to_ascii_lowercase();
    let looks = match coding.as_str() {
        "gzip" | "x-gzip" => body.starts_with(&[0x1f, 0x8b]),
        "deflate" => {
            body.len() >= 2
                && body[0] == 0x78
                && (u16::from(body[0]) << 8 | u16::from(body[1])) % 31 == 0
        }
        _ => false,
    };
    looks && codec::decode(&coding, body, 256 << 20).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::har::{Har, Header};

    fn entry(status: i64, headers: &[(&str, &str)], text: &str) -> Entry {
        let mut e: Entry = serde_json::from_value(serde_json::json!({
            "startedDateTime": "2024-01-01T00:00:00Z", "time": 1,
            "request": {"method": "GET", "url": "HTTP://X.test:80/a#f"},
            "response": {"status": status, "content": {"mimeType": "text/plain", "text": text}}
        }))
        .unwrap();
        e.response.headers = headers.iter().map(|(n, v)| Header::new(*n, *v)).collect();
        e
    }

    #[test]
    fn prepares_headers_and_indexes_by_normalised_url() {
        let mut har = Har::default();
        har.log.entries.push(entry(
            200,
            &[
                ("Content-Type", "text/plain"),
                ("Content-Encoding", "gzip"),
                ("Content-Length", "999"),
                ("Set-Cookie", "a=1"),
                ("set-cookie", "b=2"),
                ("Transfer-Encoding", "chunked"),
                (":status", "200"),
            ],
            "hello",
        ));
        har.log.entries.push(entry(0, &[], ""));
        let file = crate::har::HarFile::from_har(har, "t.har".into());
        let index = Index::new(&file, Rules::default()).unwrap();
        assert_eq!(index.candidates("GET", "http://x.test/a"), &[0, 1]);
        let Servable::Response(p) = &index.servable[0] else {
            panic!()
        };
        assert_eq!(p.body.as_ref(), b"hello");
        assert!(
            p.headers.get("content-encoding").is_none(),
            "body is decoded"
        );
        assert!(p.headers.get("content-length").is_none());
        assert!(p.headers.get("transfer-encoding").is_none());
        assert_eq!(p.headers.get_all("set-cookie").iter().count(), 2);
        assert!(matches!(index.servable[1], Servable::Incomplete(_)));
        assert!(index.recorded[1].incomplete);
    }

    #[test]
    fn rules_shape_the_keys_and_the_tiebreak() {
        let mut har = Har::default();
        for (url, id) in [
            ("http://x.test/a?t=1&q=1", "r1"),
            ("http://x.test/a?t=2&q=1", "r2"),
        ] {
            let mut e = entry(200, &[], "ok");
            e.request.url = url.into();
            e.request.headers = vec![
                Header::new("X-Request-Id", id),
                Header::new("Accept", "*/*"),
            ];
            har.log.entries.push(e);
        }
        let file = crate::har::HarFile::from_har(har, "t.har".into());
        let mut spec = crate::rules::RuleSpec::default();
        spec.matching.ignore_query = vec!["t".into()];
        spec.matching.ignore_header = vec!["x-request-*".into()];
        let index = Index::new(&file, Rules::compile(&spec).unwrap()).unwrap();
        assert_eq!(index.candidates("GET", "http://x.test/a?t=9&q=1"), &[0, 1]);
        assert_eq!(index.candidates("GET", "http://x.test/a?q=1"), &[0, 1]);
        assert!(index.candidates("GET", "http://x.test/a?q=2").is_empty());
        assert_eq!(
            index.recorded[1].headers,
            vec![("accept".to_string(), "*/*".to_string())],
            "an ignored header never scores"
        );
    }

    #[test]
    fn keeps_content_encoding_over_still_encoded_bytes() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"zipped").unwrap();
        let raw = gz.finish().unwrap();
        let content = Content::default();
        assert!(still_encoded(&content, "gzip", &raw));
        assert!(!still_encoded(&content, "gzip", b"zipped"));
        assert!(!still_encoded(&content, "br", b"zipped"));
    }

    #[test]
    fn streaming_and_in_memory_indexes_agree_on_a_large_har() {
        let mut har = Har::default();
        for i in 0..3000 {
            let mut e = entry(
                200,
                &[("X-N", &i.to_string()), ("Content-Type", "text/plain")],
                &format!("body {i}"),
            );
            e.request.url = format!("http://x.test/{}", i % 1700);
            e.request.headers = vec![Header::new("Accept", format!("t/{i}"))];
            har.log.entries.push(e);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.har");
        crate::har::write_har(&path, &har).unwrap();
        let (streamed, rest, dates) =
            Index::stream(&path, Rules::default(), |e| e.started_date_time.clone()).unwrap();
        assert_eq!((rest.entries, dates.len()), (3000, 3000));
        let whole =
            Index::new(&crate::har::read_har_file(&path).unwrap(), Rules::default()).unwrap();
        assert_eq!((streamed.len(), whole.len()), (3000, 3000));
        for i in [0usize, 1, 1699, 1700, 2999] {
            let url = format!("http://x.test/{}", i % 1700);
            let want: Vec<usize> = (0..3000).filter(|j| j % 1700 == i % 1700).collect();
            assert_eq!(streamed.candidates("GET", &url), want);
            assert_eq!(whole.candidates("GET", &url), want);
        }
        for i in 0..3000 {
            assert_eq!(streamed.recorded[i].headers, whole.recorded[i].headers);
            assert_eq!(streamed.recorded[i].headers[0].1, format!("t/{i}"));
            let (Servable::Response(a), Servable::Response(b)) =
                (&streamed.servable[i], &whole.servable[i])
            else {
                panic!("entry {i}")
            };
            assert_eq!((&a.body, &a.headers), (&b.body, &b.headers));
            assert_eq!(a.body, format!("body {i}"));
            assert_eq!(a.headers["x-n"], i.to_string());
        }
    }
}
