//! The crash-safe journal of a recording: one JSON line per finished exchange, appended
//! and handed to the operating system before the client gets its response, so `kill -9`
//! loses nothing finished. Lines that finish together are written together. Any later
//! harp command on the HAR folds a leftover journal in.
//!
//! Layout: `<har file name>.harp-journal` beside the HAR. The first line is a header
//! (`{"harpJournal":1,"storage":"embed","append":false}`), then `{"id":N,"entry":{…}}`
//! lines. A torn last line (the crash hit mid-write) is ignored. Small groups of lines
//! are copied into a mapped stretch of the file allocated ahead ([`appending`]), so a
//! journal being written (or left by `kill -9`) ends in zeros, ignored when read; a
//! journal closed normally is cut back to its last line.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{storage, Entry, Har, HarError, Storage};

mod appending;
use appending::Appending;

/// The journal's file name for the HAR at `har_path`.
fn journal_path(har_path: &Path) -> PathBuf {
    let name = har_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "har".into());
    har_path.with_file_name(format!("{name}.harp-journal"))
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    /// Format version.
    harp_journal: u32,
    /// The layout the HAR is saved in.
    storage: Storage,
    /// True when the recording added to the HAR's existing entries.
    append: bool,
}

/// A line as read back when folding a journal in.
#[derive(Debug, Deserialize)]
struct ReadLine {
    id: u64,
    entry: Entry,
}

/// An open journal.
pub struct Journal {
    path: PathBuf,
    file: Mutex<Appending>,
}

/// Where one entry's JSON lies in a journal: its byte offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Offset of the entry's first byte (`{`).
    pub offset: u64,
    /// Length of the entry's JSON.
    pub len: u64,
}

impl Journal {
    /// Starts the journal of a recording into `har_path`. Fails if one is already there
    /// (fold it first with [`recover`]).
    pub fn create(har_path: &Path, storage: Storage, append: bool) -> Result<Journal, HarError> {
        let path = journal_path(har_path);
        let io = |source| HarError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true) // a shared writable mapping needs both
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io)?;
        let mut header = serde_json::to_vec(&Header {
            harp_journal: 1,
            storage,
            append,
        })
        .map_err(|source| HarError::Serialise {
            path: path.clone(),
            source,
        })?;
        header.push(b'\n');
        file.write_all(&header).map_err(io)?;
        Ok(Journal {
            path,
            file: Mutex::new(Appending::new(file, header.len() as u64)),
        })
    }

    /// Appends finished exchanges' lines in one write (a group commit). Returns where
    /// each line's entry lies in the journal, in the order given. When the write fails,
    /// whatever part of it reached the file is cut off again, so the journal never holds
    /// a torn line before later ones.
    pub fn append_all(&self, lines: &[&Line]) -> Result<Vec<Span>, HarError> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let mut spans = Vec::with_capacity(lines.len());
        let mut at = file.end();
        for line in lines {
            spans.push(Span {
                offset: at + line.prefix as u64,
                len: line.entry().len() as u64,
            });
            at += line.bytes.len() as u64;
        }
        file.append(lines).map_err(|source| HarError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(spans)
    }

    /// Waits for the window being prepared (tests: so that groups are copied).
    #[cfg(test)]
    fn settle(&self) {
        self.file.lock().unwrap().settle();
    }

    /// Opens the journal for reading entries back by their [`Span`].
    pub fn reader(&self) -> Result<JournalReader, HarError> {
        let file = File::open(&self.path).map_err(|source| HarError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(JournalReader {
            path: self.path.clone(),
            file: BufReader::with_capacity(1 << 20, file),
            at: 0,
        })
    }

    /// Deletes the journal once the HAR is safely written.
    pub fn remove(self) -> Result<(), HarError> {
        std::fs::remove_file(&self.path).map_err(|source| HarError::Io {
            path: self.path,
            source,
        })
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// One exchange's journal line, `{"id":N,"entry":{…}}` and a newline, serialised once:
/// the same bytes are written and, by [`Span`], read back for the HAR.
#[derive(Debug)]
pub struct Line {
    bytes: Vec<u8>,
    /// Where the entry's JSON starts.
    prefix: usize,
}

impl Line {
    /// The line of exchange `id` (compact JSON, as `serde_json::to_writer` makes it,
    /// written by [`super::compact`]).
    pub fn new(id: u64, entry: &Entry) -> Line {
        Self::new_in(id, entry, Vec::new())
    }

    /// The same, written into `bytes` (emptied first): a buffer of an earlier line,
    /// reused (see [`Line::into_buffer`]).
    pub fn new_in(id: u64, entry: &Entry, mut bytes: Vec<u8>) -> Line {
        let body = |t: &Option<String>| t.as_ref().map_or(0, |t| t.len());
        let guess = 2048
            + body(&entry.response.content.text)
            + entry
                .request
                .post_data
                .as_ref()
                .map_or(0, |p| body(&p.text));
        bytes.clear();
        bytes.reserve(guess + guess / 8);
        bytes.extend_from_slice(b"{\"id\":");
        bytes.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
        bytes.extend_from_slice(b",\"entry\":");
        let prefix = bytes.len();
        super::compact::write_entry(&mut bytes, entry);
        bytes.extend_from_slice(b"}\n");
        Line { bytes, prefix }
    }

    /// The entry's compact JSON.
    pub fn entry(&self) -> &[u8] {
        &self.bytes[self.prefix..self.bytes.len() - 2]
    }

    /// The line's buffer, for [`Line::new_in`].
    pub fn into_buffer(self) -> Vec<u8> {
        self.bytes
    }

    /// The entry's compact JSON, the rest of the line dropped.
    pub fn into_entry(self) -> Box<[u8]> {
        self.entry().into()
    }
}

/// Reads entries back from a journal, cheaply when they are asked for roughly in the
/// order they were written (the buffer is kept across nearby reads).
pub struct JournalReader {
    path: PathBuf,
    file: BufReader<File>,
    /// The reader's position in the file.
    at: u64,
}

impl JournalReader {
    /// The entry JSON at `span`, into `buf` (replacing what it held).
    pub fn read(&mut self, span: Span, buf: &mut Vec<u8>) -> Result<(), HarError> {
        let io = |source| HarError::Io {
            path: self.path.clone(),
            source,
        };
        let delta = span.offset as i64 - self.at as i64;
        self.file.seek_relative(delta).map_err(io)?;
        buf.clear();
        buf.resize(span.len as usize, 0);
        self.file.read_exact(buf).map_err(io)?;
        self.at = span.offset + span.len;
        Ok(())
    }
}

/// The header and exchange lines of a journal's text; None when it holds no complete
/// header. A torn last line (a write cut short) is ignored; damage before it is an
/// error.
fn parse(text: &[u8], path: &Path) -> Result<Option<(Header, Vec<ReadLine>)>, HarError> {
    let bad = |reason: String| HarError::Journal {
        path: path.to_path_buf(),
        reason,
    };
    // A journal left by a recording that was killed ends in its mapped window's
    // unused zeros.
    let text = &text[..text.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1)];
    let mut lines = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .peekable();
    let header: Header = match lines.next().map(serde_json::from_slice::<Header>) {
        Some(Ok(header)) => header,
        Some(Err(e)) if lines.peek().is_some() => {
            return Err(bad(format!("not a harp journal: {e}")))
        }
        _ => return Ok(None),
    };
    let mut recovered: Vec<ReadLine> = Vec::new();
    while let Some(line) = lines.next() {
        match serde_json::from_slice::<ReadLine>(line) {
            Ok(line) => recovered.push(line),
            Err(_) if lines.peek().is_none() => {
                tracing::warn!("{}: ignoring a torn last line", path.display());
            }
            Err(e) => return Err(bad(format!("line {} is damaged: {e}", recovered.len() + 2))),
        }
    }
    Ok(Some((header, recovered)))
}

/// Folds a leftover journal of `har_path` into the HAR (replacing it, or adding to its
/// entries when the recording was appending) and deletes the journal. Returns how many
/// exchanges it recovered, or `None` when there was no journal or it held no exchange
/// (then the HAR is left as it is).
pub fn recover(har_path: &Path) -> Result<Option<usize>, HarError> {
    let path = journal_path(har_path);
    if let Some(pid) = super::lock::live_holder(har_path) {
        // A recording in progress: its journal is not a leftover.
        tracing::warn!(
            "{} is being recorded by process {pid}; reading it as it is on disk",
            har_path.display()
        );
        return Ok(None);
    }
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(HarError::Io { path, source }),
    };
    let Some((header, mut recovered)) = parse(&text, &path)? else {
        // Nothing (or a torn header): the recording died before any exchange finished.
        let _ = std::fs::remove_file(&path);
        return Ok(None);
    };
    // The same exchange twice (a line rewritten after a partial write): keep the last.
    recovered.reverse();
    recovered.sort_by_key(|l| l.id);
    recovered.dedup_by_key(|l| l.id);
    let count = recovered.len();
    if count == 0 {
        // A recording that ended (or failed to start) before any exchange finished: the
        // HAR stays as it is.
        std::fs::remove_file(&path).map_err(|source| HarError::Io { path, source })?;
        return Ok(None);
    }
    let mut har = if header.append && har_path.exists() {
        super::reader::read_stored(har_path, &super::ReadLimits::default())?.into_embedded()?
    } else {
        Har::default()
    };
    har.log
        .entries
        .extend(recovered.into_iter().map(|l| l.entry));
    storage::save(har_path, &har, header.storage)?;
    std::fs::remove_file(&path).map_err(|source| HarError::Io { path, source })?;
    Ok(Some(count))
}

#[cfg(test)]
mod tests {
    use super::appending::{WINDOW, WINDOW_GROUP};
    use super::*;

    fn entry(body: &str) -> Entry {
        serde_json::from_value(serde_json::json!({
            "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
            "request": {"method": "GET", "url": "http://a/", "httpVersion": "HTTP/1.1", "headers": [],
                        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                         "headers": [{"name": "x", "value": "y"}], "cookies": [], "redirectURL": "",
                         "headersSize": -1, "bodySize": -1,
                         "content": {"size": 3, "mimeType": "text/plain", "text": body}},
            "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}, "_after": "tail"
        }))
        .unwrap()
    }

    #[test]
    fn a_line_is_the_serde_line_whatever_the_body() {
        let large = format!(
            "{}\"quoted\"\\\n\u{1}ünï ✓{}",
            "x".repeat(5000),
            "y".repeat(3)
        );
        for body in ["", "small \"one\"\n", &large[..]] {
            let e = entry(body);
            let line = Line::new(42, &e);
            let want = format!(
                "{{\"id\":42,\"entry\":{}}}\n",
                serde_json::to_string(&e).unwrap()
            );
            assert_eq!(String::from_utf8(line.bytes.clone()).unwrap(), want);
            assert_eq!(line.entry(), serde_json::to_vec(&e).unwrap());
        }
    }

    #[test]
    fn appended_lines_are_read_back_by_span_and_folded_in() {
        let dir = tempfile::tempdir().unwrap();
        let har = dir.path().join("a.har");
        let journal = Journal::create(&har, Storage::Embed, false).unwrap();
        let (a, b) = (entry("one"), entry(&"z".repeat(9000)));
        let spans = journal.append_all(&[&Line::new(1, &b)]).unwrap();
        let more = journal.append_all(&[&Line::new(0, &a)]).unwrap();
        let mut reader = journal.reader().unwrap();
        let mut buf = Vec::new();
        // Out of order, as a HAR in start order reads them.
        reader.read(more[0], &mut buf).unwrap();
        assert_eq!(buf, serde_json::to_vec(&a).unwrap());
        reader.read(spans[0], &mut buf).unwrap();
        assert_eq!(buf, serde_json::to_vec(&b).unwrap());
        drop(journal);
        assert_eq!(recover(&har).unwrap(), Some(2));
        let text = std::fs::read_to_string(&har).unwrap();
        assert!(
            text.find("\"one\"").unwrap() < text.find("zzz").unwrap(),
            "start order"
        );
    }

    #[test]
    fn lines_cross_windows_and_large_groups_are_written_between() {
        let dir = tempfile::tempdir().unwrap();
        let har = dir.path().join("w.har");
        let journal = Journal::create(&har, Storage::Embed, false).unwrap();
        // About 3 windows of lines of every size, groups of one to three, and groups
        // over WINDOW_GROUP (written, or copied when they fit) among them. Now and
        // then the window being prepared is waited for, so groups are copied as well
        // as written while it is prepared.
        let mut want = Vec::new();
        let mut spans = Vec::new();
        let mut id = 0;
        let mut written = 0usize;
        while written < 3 * WINDOW {
            let sizes: Vec<usize> = match id % 7 {
                3 => vec![WINDOW_GROUP + 1],
                5 => vec![1, 70_000, 3],
                6 if id % 5 == 0 => vec![WINDOW / 4 + 1],
                _ => vec![(id * 7919) % 12_000],
            };
            if id % 4 == 0 {
                journal.settle();
            }
            let mut lines = Vec::new();
            for size in sizes {
                let mut e = entry(&"b".repeat(size));
                e.comment = Some(format!("entry {id}"));
                lines.push(Line::new(id as u64, &e));
                want.push(serde_json::to_vec(&e).unwrap());
                id += 1;
            }
            written += lines.iter().map(|l| l.bytes.len()).sum::<usize>();
            let refs: Vec<&Line> = lines.iter().collect();
            spans.extend(journal.append_all(&refs).unwrap());
        }
        let mut reader = journal.reader().unwrap();
        let mut buf = Vec::new();
        for (span, want) in spans.iter().zip(&want) {
            reader.read(*span, &mut buf).unwrap();
            assert!(buf == *want, "entry at {}", span.offset);
        }
        // Killed here, the journal would end in the windows' zeros: they are ignored.
        journal.append_all(&[]).unwrap();
        journal.settle();
        let copy = dir.path().join("killed.har");
        std::fs::copy(journal.path(), journal_path(&copy)).unwrap();
        let on_disk = std::fs::metadata(journal.path()).unwrap().len();
        let end = spans.last().map(|s| s.offset + s.len + 2).unwrap();
        assert!(on_disk > end, "the windows reach past the last line");
        drop(journal);
        assert_eq!(std::fs::metadata(journal_path(&har)).unwrap().len(), end);
        assert_eq!(recover(&har).unwrap(), Some(want.len()));
        assert_eq!(recover(&copy).unwrap(), Some(want.len()));
        let folded = crate::har::read_har_file(&copy).unwrap().har;
        assert_eq!(folded.log.entries.len(), want.len());
        assert_eq!(folded.log.entries[5].comment.as_deref(), Some("entry 5"));
    }

    #[test]
    fn a_torn_line_before_the_zeros_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let har = dir.path().join("t.har");
        let e = entry("kept");
        let line = Line::new(0, &e);
        let mut text = b"{\"harpJournal\":1,\"storage\":\"embed\",\"append\":false}\n".to_vec();
        text.extend_from_slice(&line.bytes);
        text.extend_from_slice(&line.bytes[..40]);
        text.resize(text.len() + 5000, 0);
        std::fs::write(journal_path(&har), text).unwrap();
        assert_eq!(recover(&har).unwrap(), Some(1));
    }
}
