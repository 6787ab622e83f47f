//! Postman collections: reading them (v2.0 and v2.1) into examples, converting HAR files
//! into v2.1 collections, Postman's mock matching algorithm, and the mock handler.

pub mod convert;
pub mod dynamic;
pub mod matcher;
mod mock;
pub mod model;
pub mod openapi;
pub mod request;

use std::path::{Path, PathBuf};

pub use mock::{Mock, MockCall, MockOptions};
pub use model::{Example, Examples, Variables};

use crate::har::{self, HarError};

/// What can go wrong loading a collection, a HAR to mock, or an environment file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectionError {
    /// Reading the HAR failed.
    #[error(transparent)]
    Har(#[from] HarError),
    /// Reading an OpenAPI definition failed.
    #[error(transparent)]
    OpenApi(#[from] openapi::OpenApiError),
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// Not JSON.
    #[error("{path}: invalid JSON at line {line}, column {column}: {reason}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        reason: String,
    },
    /// JSON, but not a collection or environment.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Largest collection or environment file read.
const MAX_COLLECTION_BYTES: u64 = 256 << 20;

/// Reads a collection (or environment) file as JSON, bounded.
pub fn read_collection(path: &Path) -> Result<serde_json::Value, CollectionError> {
    let bytes = crate::input::read_regular_file(path, MAX_COLLECTION_BYTES).map_err(|source| {
        CollectionError::Io {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    serde_json::from_slice(bytes).map_err(|e| CollectionError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        reason: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or("")
            .to_string(),
    })
}

/// True when `path` names a HAR (`.har`, `.zhar`, `.zip`) rather than a collection.
pub fn is_har_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "har" | "zhar" | "zip"))
}

/// Loads the examples of `path`: a Postman collection, or a HAR or an OpenAPI definition
/// converted in memory.
pub fn load_examples(path: &Path, env: &Variables) -> Result<Examples, CollectionError> {
    let doc = if openapi::is_definition(path) {
        let conversion = openapi::to_collection(&openapi::load(path)?, None);
        for note in &conversion.notes {
            tracing::warn!("{}: {note}", path.display());
        }
        conversion.collection
    } else if is_har_path(path) {
        let file = har::read_har_file(path)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let conversion = convert::convert(&file, &name)?;
        for note in &conversion.notes {
            tracing::warn!("{}: {note}", path.display());
        }
        conversion.collection
    } else {
        read_collection(path)?
    };
    model::examples_from(&doc, env).map_err(|e| CollectionError::Invalid {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Reads a Postman environment file (`{"values": [{key, value, enabled}]}`) or a plain
/// `{"name": "value"}` object.
pub fn load_env(path: &Path) -> Result<Variables, CollectionError> {
    let doc = read_collection(path)?;
    let mut vars = Variables::default();
    match (&doc.get("values"), &doc) {
        (Some(values), _) if values.is_array() => vars.extend_from(Some(values)),
        (_, serde_json::Value::Object(map)) => {
            for (k, v) in map {
                vars.set(k, &model::text_of(Some(v)));
            }
        }
        _ => {
            return Err(CollectionError::Invalid {
                path: path.to_path_buf(),
                reason: "not a Postman environment (expected {\"values\": [...]})".into(),
            })
        }
    }
    Ok(vars)
}
