//! The crash-safe journal of a recording: one JSON line per finished exchange, appended
//! and handed to the operating system before the client gets its response, so `kill -9`
//! loses nothing finished. Lines that finish together are written together. Any later
//! harp command on the HAR folds a leftover journal in.
//!
//! Layout: `<har file name>.harp-journal` beside the HAR. The first line is a header
//! (`{"harpJournal":1,"storage":"embed","append":false}`), then `{"id":N,"entry":{…}}`
//! lines. A torn last line (the crash hit mid-write) is ignored.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

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

#[derive(Debug, Deserialize)]
struct Line {
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

    /// Appends finished exchanges, each an id and its entry's compact JSON (as
    /// `serde_json::to_writer` makes it), their lines in one write (a group commit).
    /// Returns where each entry lies in the journal, in the order given. When the write
    /// fails, whatever part of it reached the file is cut off again, so the journal never
    /// holds a torn line before later ones.
    pub fn append_all<'a>(
        &self,
        lines: impl IntoIterator<Item = (u64, &'a [u8])>,
    ) -> Result<Vec<Span>, HarError> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let mut text = Vec::new();
        let mut spans = Vec::new();
        for (id, entry) in lines {
            text.extend_from_slice(b"{\"id\":");
            text.extend_from_slice(id.to_string().as_bytes());
            text.extend_from_slice(b",\"entry\":");
            spans.push(Span {
                offset: file.end + text.len() as u64,
                len: entry.len() as u64,
            });
            text.extend_from_slice(entry);
            text.extend_from_slice(b"}\n");
        }
        let start = file.end;
        if let Err(source) = file.file.write_all(&text) {
            let _ = file.file.set_len(start);
            return Err(HarError::Io {
                path: self.path.clone(),
                source,
            });
        }
        file.end += text.len() as u64;
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
fn parse(text: &[u8], path: &Path) -> Result<Option<(Header, Vec<Line>)>, HarError> {
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
    let mut recovered: Vec<Line> = Vec::new();
    while let Some(line) = lines.next() {
        match serde_json::from_slice::<Line>(line) {
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
