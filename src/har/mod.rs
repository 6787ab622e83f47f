//! HAR files: the data model and writing them safely.
//!
//! Plain data with no async runtime: the recorder builds [`Entry`] values and hands a
//! finished [`Har`] to [`write_har`], which replaces the file atomically.

mod model;
mod writer;

pub use model::{
    Content, Creator, Entry, Extra, Har, Header, Log, PostData, Request, Response, Timings,
};
pub use writer::{check_writable, to_pretty_json, write_har};

use std::path::PathBuf;

/// What can go wrong reading or writing a HAR file.
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
    /// The document could not be turned into JSON.
    #[error("{path}: cannot serialise the HAR: {source}")]
    Serialise {
        /// The file concerned.
        path: PathBuf,
        /// The underlying failure.
        source: serde_json::Error,
    },
}
