//! The tap: a body wrapper that passes every frame on unchanged and keeps a bounded copy
//! for an observer. Up to [`TapLimits::memory`] bytes stay in memory (as the frames' own
//! `Bytes`, no copy); past that the copy goes to a temporary file in
//! [`TapLimits::spill_dir`]; past [`TapLimits::max`] nothing more is kept (the body still
//! flows). Trailers are kept. When the body ends, fails or is dropped, the tap calls its
//! completion exactly once, *before* the last frame (or the end) goes on; when the
//! completion returns a [`Settled`], the last frame waits for it too. So a client that
//! saw the whole body implies an observer that saw it (and, for a recording, a journal
//! line that reached the operating system).

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};
use sha1::{Digest, Sha1};

use super::body::BoxError;
use super::stop::{Counter, CounterGuard};

/// How much of a body a tap keeps, and where.
#[derive(Debug, Clone)]
pub struct TapLimits {
    /// Bytes kept in memory before spilling to a file.
    pub memory: usize,
    /// Folder for spilled bodies (the HAR's folder); `None` keeps everything up to `max`
    /// in memory.
    pub spill_dir: Option<PathBuf>,
    /// Largest body kept at all; a larger one is passed on but reported as too large.
    pub max: u64,
}

impl Default for TapLimits {
    fn default() -> Self {
        Self {
            memory: 1024 * 1024,
            spill_dir: None,
            max: 2 * 1024 * 1024 * 1024,
        }
    }
}

/// A body kept by a tap.
#[derive(Debug)]
pub enum Tapped {
    /// The whole body, in memory.
    Memory(Bytes),
    /// The whole body, in a temporary file (deleted when dropped unless persisted).
    Spilled(Spilled),
    /// More than [`TapLimits::max`] bytes (or the spill file failed): not kept.
    NotKept {
        /// How many bytes passed.
        len: u64,
        /// Why it was not kept.
        reason: String,
    },
}

/// A body spilled to a file.
#[derive(Debug)]
pub struct Spilled {
    /// The temporary file (in the spill folder).
    pub file: tempfile::NamedTempFile,
    /// Its length.
    pub len: u64,
    /// SHA-1 of its bytes.
    pub sha1: [u8; 20],
}

impl Spilled {
    /// The spilled bytes, read back into memory.
    pub fn read(&self) -> std::io::Result<Bytes> {
        std::fs::read(self.file.path()).map(Bytes::from)
    }
}

/// How a tapped body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyEnd {
    /// The sender finished it.
    Complete,
    /// The sender failed mid-body.
    Failed(String),
    /// It was dropped before its end: the receiver went away (a client closing an
    /// endless event stream) or harp stopped.
    Closed,
}

/// What a tap saw.
#[derive(Debug)]
pub struct Captured {
    /// The body.
    pub body: Tapped,
    /// Trailers, when the body ended with some.
    pub trailers: Option<HeaderMap>,
    /// How it ended.
    pub end: BodyEnd,
    /// When the body's bytes arrived: (milliseconds after the tap began, bytes), data
    /// arriving within `CHUNK_GAP_MS` of a group's start joining that group, at most
    /// `MAX_CHUNKS` groups (later data joins the last). One group means the body came
    /// at once.
    pub chunks: Vec<(u64, u64)>,
}

/// Data arriving this soon after a chunk group began joins it.
pub(crate) const CHUNK_GAP_MS: u64 = 10;
/// Most chunk groups kept per body.
pub(crate) const MAX_CHUNKS: usize = 10_000;

impl Captured {
    /// An empty, complete body.
    pub fn empty() -> Self {
        Self {
            body: Tapped::Memory(Bytes::new()),
            trailers: None,
            end: BodyEnd::Complete,
            chunks: Vec::new(),
        }
    }
}

type Completion = Box<dyn FnOnce(Captured) -> Option<Settled> + Send + Sync>;

/// Resolves when an observer has settled a finished exchange (a recording: its journal
/// line was written); a dropped sender settles too.
pub type Settled = tokio::sync::oneshot::Receiver<()>;

/// The body's last frame (or its end), held until the observer settles.
type Held = (Settled, Option<Result<Frame<Bytes>, BoxError>>);

/// The copy being kept.
struct Sink {
    limits: TapLimits,
    memory: Vec<Bytes>,
    file: Option<(std::io::BufWriter<std::fs::File>, tempfile::TempPath)>,
    sha1: Sha1,
    len: u64,
    not_kept: Option<String>,
    trailers: Option<HeaderMap>,
    began: std::time::Instant,
    chunks: Vec<(u64, u64)>,
}

impl Sink {
    fn new(limits: TapLimits) -> Self {
        Self {
            limits,
            memory: Vec::new(),
            file: None,
            sha1: Sha1::new(),
            len: 0,
            not_kept: None,
            trailers: None,
            began: std::time::Instant::now(),
            chunks: Vec::new(),
        }
    }

    /// Notes when `len` bytes arrived (see [`Captured::chunks`]).
    fn time(&mut self, len: u64) {
        let at = self.began.elapsed().as_millis() as u64;
        let full = self.chunks.len() >= MAX_CHUNKS;
        match self.chunks.last_mut() {
            Some((start, bytes)) if at < *start + CHUNK_GAP_MS || full => *bytes += len,
            _ => self.chunks.push((at, len)),
        }
    }

    fn push(&mut self, data: &Bytes) {
        self.time(data.len() as u64);
        self.len += data.len() as u64;
        if self.not_kept.is_some() {
            return;
        }
        if self.len > self.limits.max {
            self.drop_copy(format!("body over {} bytes", self.limits.max));
            return;
        }
        if let Some((writer, _)) = &mut self.file {
            // Only a spilled body needs its hash (its payload file's name).
            self.sha1.update(data);
            if let Err(err) = writer.write_all(data) {
                self.drop_copy(format!("writing the spill file failed: {err}"));
            }
            return;
        }
        self.memory.push(data.clone());
        if self.len > self.limits.memory as u64 {
            if let Some(dir) = self.limits.spill_dir.clone() {
                self.spill(&dir);
            }
        }
    }

    fn spill(&mut self, dir: &std::path::Path) {
        let result = tempfile::Builder::new()
            .prefix(".harp-body-")
            .tempfile_in(dir)
            .and_then(|file| {
                let (file, path) = file.into_parts();
                let mut writer = std::io::BufWriter::with_capacity(256 * 1024, file);
                for chunk in &self.memory {
                    self.sha1.update(chunk);
                    writer.write_all(chunk)?;
                }
                Ok((writer, path))
            });
        match result {
            Ok(file) => {
                self.memory = Vec::new();
                self.file = Some(file);
            }
            Err(err) => {
                self.drop_copy(format!("cannot spill the body to {}: {err}", dir.display()))
            }
        }
    }

    fn drop_copy(&mut self, reason: String) {
        self.memory = Vec::new();
        self.file = None;
        self.not_kept = Some(reason);
    }

    fn finish(mut self, end: BodyEnd) -> Captured {
        let body = if let Some(reason) = self.not_kept.take() {
            Tapped::NotKept {
                len: self.len,
                reason,
            }
        } else if let Some((writer, path)) = self.file.take() {
            match writer.into_inner().map_err(|e| e.into_error()) {
                Ok(file) => Tapped::Spilled(Spilled {
                    file: tempfile::NamedTempFile::from_parts(file, path),
                    len: self.len,
                    sha1: self.sha1.finalize().into(),
                }),
                Err(err) => Tapped::NotKept {
                    len: self.len,
                    reason: format!("writing the spill file failed: {err}"),
                },
            }
        } else {
            Tapped::Memory(match self.memory.len() {
                0 => Bytes::new(),
                1 => self.memory.pop().unwrap_or_default(),
                _ => {
                    let mut all = Vec::with_capacity(self.len as usize);
                    self.memory.iter().for_each(|c| all.extend_from_slice(c));
                    Bytes::from(all)
                }
            })
        };
        Captured {
            body,
            trailers: self.trailers,
            end,
            chunks: self.chunks,
        }
    }
}

/// A body that passes its frames on and keeps a copy (see the module docs).
pub(crate) struct Tap<B> {
    inner: B,
    state: Option<(Sink, Completion)>,
    /// The last frame, waiting for the observer.
    held: Option<Held>,
    /// The inner body said it had nothing more (a body dropped unpolled at its end, such
    /// as an empty request body, still ended completely).
    at_end: bool,
    _guard: Option<CounterGuard>,
}

impl<B: HttpBody> Tap<B> {
    /// Wraps `inner`; `done` gets what passed, once, before the body's end goes on (and
    /// the end waits for what `done` returns, if anything). `counter` counts taps still
    /// open (harp waits for them at stop).
    pub(crate) fn new(
        inner: B,
        limits: TapLimits,
        counter: Option<&Arc<Counter>>,
        done: impl FnOnce(Captured) -> Option<Settled> + Send + Sync + 'static,
    ) -> Self {
        Self {
            at_end: inner.is_end_stream(),
            inner,
            state: Some((Sink::new(limits), Box::new(done))),
            held: None,
            _guard: counter.map(|c| c.enter()),
        }
    }
}

impl<B> Tap<B> {
    fn complete(&mut self, end: BodyEnd) -> Option<Settled> {
        let (sink, done) = self.state.take()?;
        done(sink.finish(end))
    }

    /// Passes `last` on once the observer settled (at once when it gave nothing to
    /// wait for).
    fn settle_then(
        &mut self,
        settled: Option<Settled>,
        last: Option<Result<Frame<Bytes>, BoxError>>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match settled {
            None => Poll::Ready(last),
            Some(settled) => {
                self.held = Some((settled, last));
                self.poll_held(cx)
            }
        }
    }

    fn poll_held(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some((settled, _)) = &mut self.held else {
            return Poll::Ready(None);
        };
        match Pin::new(settled).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(self.held.take().and_then(|(_, last)| last)),
        }
    }
}

impl<B> Drop for Tap<B> {
    fn drop(&mut self) {
        let end = if self.at_end {
            BodyEnd::Complete
        } else {
            BodyEnd::Closed
        };
        self.complete(end);
    }
}

impl<B> HttpBody for Tap<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.held.is_some() {
            return this.poll_held(cx);
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                let settled = this.complete(BodyEnd::Complete);
                this.settle_then(settled, None, cx)
            }
            Poll::Ready(Some(Err(err))) => {
                let err: BoxError = err.into();
                this.complete(BodyEnd::Failed(err.to_string()));
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some((sink, _)) = &mut this.state {
                    if let Some(data) = frame.data_ref() {
                        sink.push(data);
                    } else if let Some(trailers) = frame.trailers_ref() {
                        sink.trailers = Some(trailers.clone());
                    }
                }
                this.at_end = this.inner.is_end_stream();
                // The last frame goes on only after the observer has it.
                if frame.is_trailers() || this.at_end {
                    let settled = this.complete(BodyEnd::Complete);
                    return this.settle_then(settled, Some(Ok(frame)), cx);
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state.is_none() && self.held.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};
    use std::sync::Mutex;

    fn frames(chunks: Vec<Frame<Bytes>>) -> impl HttpBody<Data = Bytes, Error = BoxError> + Unpin {
        StreamBody::new(futures_util::stream::iter(
            chunks.into_iter().map(Ok::<_, BoxError>),
        ))
    }

    async fn run(chunks: Vec<Frame<Bytes>>, limits: TapLimits) -> (Bytes, Captured) {
        let seen = Arc::new(Mutex::new(None));
        let slot = seen.clone();
        let tap = Tap::new(frames(chunks), limits, None, move |c| {
            *slot.lock().unwrap() = Some(c);
            None
        });
        let out = tap.collect().await.unwrap().to_bytes();
        let captured = seen.lock().unwrap().take().expect("completed");
        (out, captured)
    }

    #[tokio::test]
    async fn the_last_frame_waits_until_the_observer_settles() {
        let (settle, settled) = tokio::sync::oneshot::channel();
        let slot = Arc::new(Mutex::new(Some(settled)));
        let taken = slot.clone();
        let body = frames(vec![
            Frame::data(Bytes::from_static(b"ab")),
            Frame::data(Bytes::from_static(b"cd")),
        ]);
        let mut tap = Tap::new(body, TapLimits::default(), None, move |_| {
            taken.lock().unwrap().take()
        });
        for want in ["ab", "cd"] {
            let data = tap.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(data, want);
        }
        // The body's end is held while the observer has not settled.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), tap.frame()).await;
        assert!(waiting.is_err(), "the end went on before settling");
        assert!(!tap.is_end_stream());
        settle.send(()).unwrap();
        assert!(tap.frame().await.is_none());
        assert!(slot.lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn keeps_small_bodies_in_memory_with_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let (out, c) = run(
            vec![
                Frame::data(Bytes::from_static(b"ab")),
                Frame::data(Bytes::from_static(b"cd")),
                Frame::trailers(trailers),
            ],
            TapLimits::default(),
        )
        .await;
        assert_eq!(out, "abcd");
        assert!(matches!(&c.body, Tapped::Memory(b) if b == "abcd"));
        assert_eq!(c.trailers.unwrap()["grpc-status"], "0");
        assert_eq!(c.end, BodyEnd::Complete);
    }

    #[tokio::test]
    async fn spills_past_the_memory_bound_and_stops_past_max() {
        let dir = tempfile::tempdir().unwrap();
        let limits = TapLimits {
            memory: 4,
            spill_dir: Some(dir.path().to_path_buf()),
            max: 100,
        };
        let chunks = || {
            (0..5)
                .map(|i| Frame::data(Bytes::from(vec![b'a' + i; 3])))
                .collect::<Vec<_>>()
        };
        let (out, c) = run(chunks(), limits.clone()).await;
        assert_eq!(out.len(), 15);
        let Tapped::Spilled(s) = &c.body else {
            panic!("{:?}", c.body)
        };
        assert_eq!(std::fs::read(s.file.path()).unwrap(), out.to_vec());
        assert_eq!(s.sha1, <[u8; 20]>::from(Sha1::digest(&out)));
        drop(c);

        let small = TapLimits { max: 10, ..limits };
        let (out, c) = run(chunks(), small).await;
        assert_eq!(out.len(), 15, "the body still flows");
        assert!(matches!(c.body, Tapped::NotKept { len: 15, .. }));
        drop(c);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "spill files are removed: {left:?}");
    }

    #[tokio::test]
    async fn a_dropped_body_reports_what_passed() {
        let seen = Arc::new(Mutex::new(None));
        let slot = seen.clone();
        let body = frames(vec![
            Frame::data(Bytes::from_static(b"event: 1\n\n")),
            Frame::data(Bytes::from_static(b"event: 2\n\n")),
        ]);
        let mut tap = Tap::new(
            body,
            TapLimits::default(),
            None,
            move |c| -> Option<Settled> {
                *slot.lock().unwrap() = Some(c);
                None
            },
        );
        let first = tap.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "event: 1\n\n");
        drop(tap);
        let c = seen.lock().unwrap().take().unwrap();
        assert_eq!(c.end, BodyEnd::Closed);
        assert!(matches!(&c.body, Tapped::Memory(b) if b == "event: 1\n\n"));
    }
}
