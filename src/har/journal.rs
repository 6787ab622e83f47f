//! The crash-safe journal of a recording: one JSON line per finished exchange, appended
//! and handed to the operating system before the client gets its response, so `kill -9`
//! loses nothing finished. Lines that finish together are written together. Any later
//! harp command on the HAR folds a leftover journal in.
//!
//! Layout: `<har file name>.harp-journal` beside the HAR. The first line is a header
//! (`{"harpJournal":1,"storage":"embed","append":false}`), then `{"id":N,"entry":{…}}`
//! lines. A torn last line (the crash hit mid-write) is ignored.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, IoSlice, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::escape::write_json_string;
use super::{storage, Entry, Har, HarError, Storage};

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

/// The journal's file and where its next line starts.
struct Appending {
    file: File,
    end: u64,
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
            file: Mutex::new(Appending {
                file,
                end: header.len() as u64,
            }),
        })
    }

    /// Appends finished exchanges' lines in one write (a group commit). Returns where
    /// each line's entry lies in the journal, in the order given. When the write fails,
    /// whatever part of it reached the file is cut off again, so the journal never holds
    /// a torn line before later ones.
    pub fn append_all(&self, lines: &[&Line]) -> Result<Vec<Span>, HarError> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let start = file.end;
        let mut spans = Vec::with_capacity(lines.len());
        let mut at = start;
        for line in lines {
            spans.push(Span {
                offset: at + line.prefix as u64,
                len: line.entry().len() as u64,
            });
            at += line.bytes.len() as u64;
        }
        let mut slices: Vec<IoSlice<'_>> = lines.iter().map(|l| IoSlice::new(&l.bytes)).collect();
        if let Err(source) = write_all_vectored(&mut file.file, &mut slices) {
            let _ = file.file.set_len(start);
            return Err(HarError::Io {
                path: self.path.clone(),
                source,
            });
        }
        file.end = at;
        Ok(spans)
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
    /// The line of exchange `id` (compact JSON, as `serde_json::to_writer` makes it).
    ///
    /// A large response body is escaped by [`write_json_string`] (eight bytes at a time)
    /// rather than serde_json's byte-by-byte loop: the entry is serialised with a
    /// placeholder for it, and the escaped body replaces the placeholder. `entry` is
    /// given back as it came.
    pub fn new(id: u64, entry: &mut Entry) -> Line {
        let body = |t: &Option<String>| t.as_ref().map_or(0, |t| t.len());
        let guess = 2048
            + body(&entry.response.content.text)
            + entry
                .request
                .post_data
                .as_ref()
                .map_or(0, |p| body(&p.text));
        let mut bytes = Vec::with_capacity(guess + guess / 8);
        bytes.extend_from_slice(b"{\"id\":");
        bytes.extend_from_slice(id.to_string().as_bytes());
        bytes.extend_from_slice(b",\"entry\":");
        let prefix = bytes.len();
        let text = &mut entry.response.content.text;
        let large = text.take_if(|t| t.len() >= LARGE_BODY);
        if let Some(large) = &large {
            *text = Some(placeholder().to_string());
            serialise(&mut bytes, entry);
            let quoted = placeholder_quoted();
            let at = memchr::memmem::find_iter(&bytes[prefix..], quoted.as_bytes())
                .map(|at| prefix + at)
                .collect::<Vec<_>>();
            if let [at] = at[..] {
                let tail = bytes.split_off(at + quoted.len());
                bytes.truncate(at);
                write_json_string(&mut bytes, large);
                bytes.extend_from_slice(&tail);
            } else {
                // The placeholder also appears elsewhere (it cannot, short of a
                // body quoting it): serialise the plain way.
                bytes.truncate(prefix);
                entry.response.content.text = Some(large.clone());
                serialise(&mut bytes, entry);
            }
        } else {
            serialise(&mut bytes, entry);
        }
        if large.is_some() {
            entry.response.content.text = large;
        }
        bytes.extend_from_slice(b"}\n");
        Line { bytes, prefix }
    }

    /// The entry's compact JSON.
    pub fn entry(&self) -> &[u8] {
        &self.bytes[self.prefix..self.bytes.len() - 2]
    }

    /// The entry's compact JSON, the rest of the line dropped.
    pub fn into_entry(self) -> Box<[u8]> {
        self.entry().into()
    }
}

/// Bodies from this size on are escaped by [`write_json_string`].
const LARGE_BODY: usize = 4096;

/// Stands for a large body while its entry is serialised: random per process, so no
/// recorded text contains it by chance.
fn placeholder() -> &'static str {
    static PLACEHOLDER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PLACEHOLDER.get_or_init(|| {
        format!(
            "harp-body-{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        )
    })
}

/// The placeholder as serialised (quoted).
fn placeholder_quoted() -> &'static str {
    static QUOTED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    QUOTED.get_or_init(|| format!("\"{}\"", placeholder()))
}

/// Appends `entry`'s compact JSON (cannot fail: every map key in an entry is a string).
pub(crate) fn serialise(bytes: &mut Vec<u8>, entry: &Entry) {
    serde_json::to_writer(bytes, entry).expect("an entry serialises");
}

/// Writes every slice whole (`Write::write_all_vectored` is not stable yet).
fn write_all_vectored(file: &mut File, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
        for (body, header) in [
            ("", "y"),
            ("small \"one\"\n", "y"),
            (&large[..], "y"),
            (&large[..], placeholder()),
        ] {
            let mut e = entry(body);
            // A header that quotes the placeholder: the plain way is taken.
            e.response.headers[0].value = header.to_string();
            let before = e.clone();
            let line = Line::new(42, &mut e);
            assert_eq!(e, before, "the entry is given back as it came");
            let want = format!(
                "{{\"id\":42,\"entry\":{}}}\n",
                serde_json::to_string(&before).unwrap()
            );
            assert_eq!(String::from_utf8(line.bytes.clone()).unwrap(), want);
            assert_eq!(line.entry(), serde_json::to_vec(&before).unwrap());
        }
    }

    #[test]
    fn appended_lines_are_read_back_by_span_and_folded_in() {
        let dir = tempfile::tempdir().unwrap();
        let har = dir.path().join("a.har");
        let journal = Journal::create(&har, Storage::Embed, false).unwrap();
        let (mut a, mut b) = (entry("one"), entry(&"z".repeat(9000)));
        let spans = journal.append_all(&[&Line::new(1, &mut b)]).unwrap();
        let more = journal.append_all(&[&Line::new(0, &mut a)]).unwrap();
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
}
