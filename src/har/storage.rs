//! Saving a HAR in one of the three layouts: bodies embedded in the JSON, attached as
//! content-addressed files beside it, or everything in one `.zip` (Playwright's layout).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::archive::write_zip;
use super::body::{decode_text, BodyError};
use super::payload::{payload_name, PayloadError};
use super::writer::{to_pretty_json, write_har};
use super::{Entry, Har, HarError};

/// Where bodies go when a HAR is saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// In the JSON (`text`, base64 for binary).
    Embed,
    /// In files named `sha1.ext` beside the HAR, referenced by `_file`.
    Attach,
    /// In a `.zip` with `har.har` and the payload files.
    Zip,
}

impl Storage {
    /// The layout for `path`: a `.zip` path is always an archive; otherwise `attach`
    /// chooses attached files over embedding.
    pub fn for_path(path: &Path, attach: bool) -> Storage {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        {
            Storage::Zip
        } else if attach {
            Storage::Attach
        } else {
            Storage::Embed
        }
    }
}

/// Saves `har` (bodies embedded) at `path` in the `storage` layout, atomically for the
/// HAR or archive; attached payload files are content-addressed, so existing ones are
/// kept.
pub fn save(path: &Path, har: &Har, storage: Storage) -> Result<(), HarError> {
    match storage {
        Storage::Embed => write_har(path, har),
        Storage::Attach => {
            let (har, payloads) = detach(har, path)?;
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => std::path::PathBuf::from("."),
            };
            for (name, bytes) in &payloads {
                let file = dir.join(name);
                write_payload(&file, bytes)
                    .map_err(|source| HarError::Io { path: file, source })?;
            }
            write_har(path, &har)
        }
        Storage::Zip => {
            let (har, payloads) = detach(har, path)?;
            let json = to_pretty_json(&har).map_err(|source| HarError::Serialise {
                path: path.to_path_buf(),
                source,
            })?;
            write_zip(path, &json, &payloads).map_err(|source| HarError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    }
}

/// Moves one entry's embedded bodies into payload files in `dir` (content-addressed:
/// a file already there is kept), leaving `_file` references. A recording that attaches
/// does this as each exchange finishes, so neither memory nor the journal holds bodies.
pub(crate) fn attach_entry(entry: &mut Entry, dir: &Path) -> Result<(), PayloadError> {
    let mut payloads = BTreeMap::new();
    detach_entry(entry, &mut payloads)?;
    for (name, bytes) in &payloads {
        let path = dir.join(name);
        write_payload(&path, bytes).map_err(|source| PayloadError::Io { path, source })?;
    }
    Ok(())
}

/// True when `entry` embeds a body (a non-empty `text` with no `_file`) that attached
/// storage would move to a payload file.
pub(crate) fn has_embedded_body(entry: &Entry) -> bool {
    let embeds = |text: &Option<String>, file: &Option<String>| {
        file.is_none() && text.as_deref().is_some_and(|t| !t.is_empty())
    };
    let content = &entry.response.content;
    embeds(&content.text, &content.file)
        || entry
            .request
            .post_data
            .as_ref()
            .is_some_and(|p| embeds(&p.text, &p.file))
}

/// Moves one entry's embedded bodies (response and request) into `payloads`.
fn detach_entry(
    entry: &mut Entry,
    payloads: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), BodyError> {
    let content = &mut entry.response.content;
    detach_one(
        &mut content.text,
        &mut content.encoding,
        &mut content.file,
        &content.mime_type,
        payloads,
    )?;
    if let Some(post) = entry.request.post_data.as_mut() {
        detach_one(
            &mut post.text,
            &mut post.encoding,
            &mut post.file,
            &post.mime_type,
            payloads,
        )?;
    }
    Ok(())
}

/// Writes a content-addressed payload unless a file of that length is already there.
fn write_payload(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if super::payload::is_present(file, bytes.len() as u64) {
        return Ok(());
    }
    crate::output::write_atomic(file, bytes, None)
}

/// Moves every non-empty embedded body into a payload map, leaving `_file` references.
fn detach(har: &Har, path: &Path) -> Result<(Har, BTreeMap<String, Vec<u8>>), HarError> {
    let mut har = har.clone();
    let mut payloads = BTreeMap::new();
    let error = |index: usize, reason: BodyError| HarError::Entry {
        path: path.to_path_buf(),
        index,
        reason: reason.to_string(),
    };
    for (index, entry) in har.log.entries.iter_mut().enumerate() {
        detach_entry(entry, &mut payloads).map_err(|r| error(index, r))?;
    }
    Ok((har, payloads))
}

/// Moves one embedded body (`text` + `encoding`) into `payloads`, leaving `_file`;
/// empty bodies and bodies already in a file stay as they are.
fn detach_one(
    text: &mut Option<String>,
    encoding: &mut Option<String>,
    file: &mut Option<String>,
    mime: &str,
    payloads: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), BodyError> {
    let Some(body) = text.as_deref().filter(|_| file.is_none()) else {
        return Ok(());
    };
    let bytes = decode_text(body, encoding.as_deref())?;
    if !bytes.is_empty() {
        let name = payload_name(&bytes, mime);
        payloads.insert(name.clone(), bytes);
        *file = Some(name);
        *text = None;
        *encoding = None;
    }
    Ok(())
}
