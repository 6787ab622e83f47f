//! HAR files: the data model, reading them leniently (plain, zlib `.zhar`, `.zip`, with
//! `_file` payloads), writing them (embedded, attached, zipped) atomically, and the
//! crash-safe journal a recording appends to.
//!
//! Plain data with no async runtime.

pub mod age;
mod archive;
mod body;
pub(crate) mod compact;
mod escape;
pub mod format;
mod heap;
pub mod journal;
mod lenient;
mod lock;
mod model;
pub mod payload;
mod reader;
pub(crate) mod split;
mod storage;
mod stream;
mod writer;

pub use body::BodyError;
pub(crate) use body::{decode_text, encode_text, encode_text_owned};
pub use journal::Journal;
pub use lenient::Detail;
pub use lock::Lock;
pub use model::{
    Content, Creator, Entry, Extra, Har, Header, Log, PostData, Request, Response, Timings,
};
pub use payload::PayloadError;
pub(crate) use reader::parse_har;
pub use reader::{read_har_file, read_har_file_with, read_stored, HarFile, ReadLimits};
pub(crate) use storage::{attach_entry, has_embedded_body};
pub use storage::{save, Storage};
pub use stream::{stream_har_file, EntryBodies, Streamed};
pub use writer::{check_writable, write_har, write_har_entries, EntryWriter};

use std::path::PathBuf;

/// What can go wrong reading or writing a HAR file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("{path}: invalid JSON at line {line}, column {column}: {reason}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        reason: String,
    },
    /// The JSON is not a HAR (no `log`, no `log.entries`, …).
    #[error("{path}: not a HAR: {reason}")]
    NotHar {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// The file is refused before reading: not a regular file, or over the size limit.
    #[error("{path}: {reason}")]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why (names the limit).
        reason: String,
    },
    /// A zlib-compressed HAR (`.zhar`) does not inflate, or inflates past a limit.
    #[error("{path}: {reason}")]
    Compressed {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A recording's journal is damaged past its last line (not a torn write).
    #[error("{path}: {reason}")]
    Journal {
        /// The journal.
        path: PathBuf,
        /// What is damaged.
        reason: String,
    },
    /// One entry cannot be used.
    #[error("{path}: entry {index}: {reason}")]
    Entry {
        /// The file.
        path: PathBuf,
        /// 0-based index in `log.entries`.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A `.zip` archive is unreadable or refused.
    #[error("{path}: {reason}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another harp process records to the same HAR.
    #[error("{path} is being recorded by another harp (process {pid}); stop it first, or delete {lock} if that process is not harp")]
    Locked {
        /// The HAR.
        path: PathBuf,
        /// The holder's process id.
        pid: u32,
        /// The lock file.
        lock: PathBuf,
    },
    /// The document could not be turned into JSON.
    #[error("{path}: cannot serialise the HAR: {source}")]
    Serialise {
        /// The file concerned.
        path: PathBuf,
        /// The underlying failure.
        source: serde_json::Error,
    },
}
