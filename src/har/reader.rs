//! Reading HAR files leniently: plain JSON (with or without a UTF-8 BOM), zlib-compressed
//! `.zhar`, and `.zip` archives; `_file` payloads resolved inside the HAR's folder or
//! archive only. A leftover recording journal is folded in first.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde_json::Value;

use super::archive::ZipReader;
use super::body::decode_text;
use super::{journal, payload, Har, HarError};

/// Size limits applied while reading, against hostile or broken files.
#[derive(Debug, Clone)]
pub struct ReadLimits {
    /// Largest HAR JSON accepted (after decompression), in bytes.
    pub max_json: u64,
    /// Largest single payload (`_file` or archive entry), in bytes.
    pub max_payload: u64,
    /// Largest total of everything read from one archive, in bytes.
    pub max_total: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_json: 2 << 30,
            max_payload: 1 << 30,
            max_total: 4 << 30,
        }
    }
}

/// A loaded HAR with its payloads.
#[derive(Debug, Clone)]
pub struct HarFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The document.
    pub har: Har,
    /// Bytes of every `_file` the entries name, by name.
    payloads: HashMap<String, Bytes>,
    /// How many exchanges a leftover journal contributed, when one was folded in.
    pub recovered: Option<usize>,
}

impl HarFile {
    /// Wraps an in-memory document with embedded bodies only (no `_file` payloads).
    pub fn from_har(har: Har, path: PathBuf) -> Self {
        Self {
            path,
            har,
            payloads: HashMap::new(),
            recovered: None,
        }
    }

    /// The response body of entry `index` as the client saw it (decoded content).
    pub fn response_body(&self, index: usize) -> Result<Bytes, HarError> {
        let content = &self.entry(index)?.response.content;
        self.body(
            index,
            content.file.as_deref(),
            content.text.as_deref(),
            content.encoding.as_deref(),
        )
    }

    /// The request body of entry `index`, when it has `postData`.
    pub fn request_body(&self, index: usize) -> Result<Option<Bytes>, HarError> {
        match &self.entry(index)?.request.post_data {
            None => Ok(None),
            Some(post) => self
                .body(
                    index,
                    post.file.as_deref(),
                    post.text.as_deref(),
                    post.encoding.as_deref(),
                )
                .map(Some),
        }
    }

    /// The document with every `_file` body embedded again (text or base64), so it can
    /// be saved in any layout.
    pub fn into_embedded(self) -> Result<Har, HarError> {
        let mut har = self.har.clone();
        for (index, entry) in har.log.entries.iter_mut().enumerate() {
            if entry.response.content.file.is_some() {
                let bytes = self.response_body(index)?;
                let textual = crate::codec::is_textual(&entry.response.content.mime_type);
                let (text, encoding) = super::body::encode_text(&bytes, textual);
                let content = &mut entry.response.content;
                content.file = None;
                content.text = Some(text);
                content.encoding = encoding;
            }
            if let Some(post) = entry.request.post_data.as_mut() {
                if post.file.is_some() {
                    let bytes = self.request_body(index)?.unwrap_or_default();
                    let (text, encoding) = super::body::encode_text(&bytes, true);
                    post.file = None;
                    post.text = Some(text);
                    post.encoding = encoding;
                }
            }
        }
        Ok(har)
    }

    /// Checks that every entry's bodies can be produced (valid base64, payload present).
    pub fn validate_bodies(&self) -> Result<(), HarError> {
        for index in 0..self.har.log.entries.len() {
            self.response_body(index)?;
            self.request_body(index)?;
        }
        Ok(())
    }

    fn entry(&self, index: usize) -> Result<&super::Entry, HarError> {
        self.har
            .log
            .entries
            .get(index)
            .ok_or_else(|| HarError::Entry {
                path: self.path.clone(),
                index,
                reason: "no such entry".into(),
            })
    }

    fn body(
        &self,
        index: usize,
        file: Option<&str>,
        text: Option<&str>,
        encoding: Option<&str>,
    ) -> Result<Bytes, HarError> {
        body_from(&self.path, index, &self.payloads, file, text, encoding)
    }
}

/// A body of entry `index` of the HAR at `path`: the payload `file` (already loaded into
/// `payloads`), or `text` decoded as `encoding` says.
pub(super) fn body_from(
    path: &Path,
    index: usize,
    payloads: &HashMap<String, Bytes>,
    file: Option<&str>,
    text: Option<&str>,
    encoding: Option<&str>,
) -> Result<Bytes, HarError> {
    if let Some(name) = file {
        return payloads
            .get(name)
            .cloned()
            .ok_or_else(|| entry_error(path, index, format!("payload {name:?} was not loaded")));
    }
    match text {
        None => Ok(Bytes::new()),
        Some(text) => decode_text(text, encoding)
            .map(Bytes::from)
            .map_err(|reason| entry_error(path, index, reason.to_string())),
    }
}

/// Reads `path` with the default limits.
pub fn read_har_file(path: &Path) -> Result<HarFile, HarError> {
    read_har_file_with(path, &ReadLimits::default())
}

/// Reads `path` (`.zip` archive, zlib `.zhar`, or plain JSON), folding in a leftover
/// journal first and loading every `_file` payload the entries name.
pub fn read_har_file_with(path: &Path, limits: &ReadLimits) -> Result<HarFile, HarError> {
    let recovered = journal::recover(path)?;
    let mut file = read_stored(path, limits)?;
    file.recovered = recovered;
    Ok(file)
}

/// Reads `path` as it is on disk, ignoring any journal beside it (journal recovery
/// itself reads this way, so it can never recurse).
pub fn read_stored(path: &Path, limits: &ReadLimits) -> Result<HarFile, HarError> {
    let (json, mut payloads) = stored_json(path, limits)?;
    let har = parse_har(&json, path)?;
    drop(json);
    let payloads = load_payloads(&har, path, &mut payloads)?;
    Ok(HarFile {
        path: path.to_path_buf(),
        har,
        payloads,
        recovered: None,
    })
}

/// Where a HAR's `_file` payloads are read from: its folder or its archive.
pub(super) enum Payloads {
    Dir { dir: PathBuf, max: u64 },
    Zip(Box<ZipReader>),
}

impl Payloads {
    /// The payload `name` (a relative name, checked by the caller).
    pub(super) fn read(&mut self, name: &str) -> Result<Vec<u8>, String> {
        match self {
            Payloads::Dir { dir, max } => {
                let file = payload::resolve_in_dir(dir, name).map_err(|e| e.to_string())?;
                read_capped(&file, *max).map_err(|e| e.to_string())
            }
            Payloads::Zip(zip) => zip.read(name),
        }
    }
}

/// The HAR JSON of `path` (from a `.zip`, zlib `.zhar`, or plain) and where its
/// payloads are.
pub(super) fn stored_json(
    path: &Path,
    limits: &ReadLimits,
) -> Result<(Vec<u8>, Payloads), HarError> {
    let is_zip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if is_zip {
        let mut zip = ZipReader::open(path, limits)?;
        let name = zip.har_name()?;
        let json = zip.read(&name).map_err(|reason| HarError::Archive {
            path: path.to_path_buf(),
            reason,
        })?;
        return Ok((json, Payloads::Zip(Box::new(zip))));
    }
    let bytes = read_capped(path, limits.max_json)?;
    let json = if looks_zlib(&bytes) || is_zhar(path) {
        inflate(&bytes, path, limits.max_json)?
    } else {
        bytes
    };
    Ok((json, payload_dir(path, limits)))
}

/// The JSON of the HAR at `path` to read as a stream: a plain file is read as it goes
/// (its size checked first; the reader must still stop at `limits.max_json`, as the
/// file may grow), an archive's or a compressed file's JSON is unpacked first. Returns
/// it with where the payloads are read from.
pub(super) fn stored_reader(
    path: &Path,
    limits: &ReadLimits,
) -> Result<(Box<dyn Read + Send>, Payloads), HarError> {
    let io = |source| HarError::Io {
        path: path.to_path_buf(),
        source,
    };
    let is_zip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if !is_zip && !is_zhar(path) {
        let (mut file, _) = crate::input::open_regular_file(path, limits.max_json)
            .map_err(|source| capped_error(path, source))?;
        let mut head = [0u8; 2];
        let mut got = 0;
        while got < head.len() {
            match file.read(&mut head[got..]).map_err(io)? {
                0 => break,
                n => got += n,
            }
        }
        if !looks_zlib(&head[..got]) {
            let text = std::io::Cursor::new(head[..got].to_vec()).chain(file);
            return Ok((Box::new(text), payload_dir(path, limits)));
        }
    }
    let (json, payloads) = stored_json(path, limits)?;
    Ok((Box::new(std::io::Cursor::new(json)), payloads))
}

fn is_zhar(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zhar"))
}

/// Payloads of a plain or compressed HAR: files in its folder.
fn payload_dir(path: &Path, limits: &ReadLimits) -> Payloads {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    Payloads::Dir {
        dir,
        max: limits.max_payload,
    }
}

fn load_payloads(
    har: &Har,
    path: &Path,
    source: &mut Payloads,
) -> Result<HashMap<String, Bytes>, HarError> {
    let mut payloads = HashMap::new();
    for (index, entry) in har.log.entries.iter().enumerate() {
        load_entry_payloads(path, index, entry, source, &mut payloads)?;
    }
    Ok(payloads)
}

/// Reads every `_file` entry `index` names into `payloads` (each name once; names are
/// checked to stay inside the HAR's folder or archive).
pub(super) fn load_entry_payloads(
    path: &Path,
    index: usize,
    entry: &super::Entry,
    source: &mut Payloads,
    payloads: &mut HashMap<String, Bytes>,
) -> Result<(), HarError> {
    let files = [
        entry.response.content.file.as_deref(),
        entry
            .request
            .post_data
            .as_ref()
            .and_then(|p| p.file.as_deref()),
    ];
    for name in files.into_iter().flatten() {
        if payloads.contains_key(name) {
            continue;
        }
        payload::safe_relative(name)
            .map_err(|reason| entry_error(path, index, format!("_file {reason}")))?;
        let bytes = source
            .read(name)
            .map_err(|reason| entry_error(path, index, format!("_file {name:?}: {reason}")))?;
        payloads.insert(name.to_string(), Bytes::from(bytes));
    }
    Ok(())
}

fn entry_error(path: &Path, index: usize, reason: String) -> HarError {
    HarError::Entry {
        path: path.to_path_buf(),
        index,
        reason,
    }
}

fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, HarError> {
    crate::input::read_regular_file(path, max).map_err(|source| capped_error(path, source))
}

/// A failure to read `path` within its size limit.
fn capped_error(path: &Path, source: std::io::Error) -> HarError {
    if source.kind() == std::io::ErrorKind::InvalidData {
        HarError::Refused {
            path: path.to_path_buf(),
            reason: source.to_string(),
        }
    } else {
        HarError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// zlib streams start with 0x78 and a header checksum; JSON starts with `{`, space or a BOM.
fn looks_zlib(bytes: &[u8]) -> bool {
    bytes.len() >= 2
        && bytes[0] == 0x78
        && (u16::from(bytes[0]) << 8 | u16::from(bytes[1])) % 31 == 0
}

/// Most a compressed HAR may expand relative to its compressed size (past a floor of
/// [`BOMB_FLOOR`]): real HARs compress 5-20x; far more is a decompression bomb, refused
/// as soon as inflation passes the bound rather than at the size limit.
pub(super) const MAX_RATIO: u64 = 200;
/// Output below this is never refused for its ratio.
pub(super) const BOMB_FLOOR: u64 = 64 << 20;

fn inflate(bytes: &[u8], path: &Path, max: u64) -> Result<Vec<u8>, HarError> {
    let ratio_cap = (bytes.len() as u64)
        .saturating_mul(MAX_RATIO)
        .max(BOMB_FLOOR);
    let cap = ratio_cap.min(max);
    let refuse = |reason: String| HarError::Compressed {
        path: path.to_path_buf(),
        reason,
    };
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(bytes)
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| refuse(format!("not valid zlib data: {e}")))?;
    if out.len() as u64 <= cap {
        return Ok(out);
    }
    Err(refuse(if cap == max {
        format!("decompresses past the {max}-byte limit")
    } else {
        format!(
            "expands more than {MAX_RATIO}x its {} compressed bytes: refused as a decompression bomb",
            bytes.len()
        )
    }))
}

/// Parses HAR JSON leniently (BOM allowed); errors name `path` and the JSON line and
/// column, the missing part, or the entry index.
pub(crate) fn parse_har(bytes: &[u8], path: &Path) -> Result<Har, HarError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice::<Har>(bytes).map_err(|err| json_error(bytes, path, err))
}

/// A parse failure of the HAR text `bytes` said plainly: the JSON line and column, the
/// missing part, or the entry index.
pub(super) fn json_error(bytes: &[u8], path: &Path, err: serde_json::Error) -> HarError {
    match err {
        err if err.is_data() => diagnose(bytes, path, err),
        err => HarError::Json {
            path: path.to_path_buf(),
            line: err.line(),
            column: err.column(),
            reason: err
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or("")
                .to_string(),
        },
    }
}

/// The typed parse failed on the data: find where, to say it plainly.
fn diagnose(bytes: &[u8], path: &Path, err: serde_json::Error) -> HarError {
    let not_har = |reason: &str| HarError::NotHar {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => value,
        // The typed parse stopped at a shape error before reaching a syntax error.
        Err(syntax) => {
            return HarError::Json {
                path: path.to_path_buf(),
                line: syntax.line(),
                column: syntax.column(),
                reason: syntax
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or("")
                    .to_string(),
            }
        }
    };
    let Some(log) = value.get("log") else {
        return not_har("no top-level \"log\" object");
    };
    let Some(log) = log.as_object() else {
        return not_har("\"log\" is not an object");
    };
    let Some(entries) = log.get("entries") else {
        return not_har("\"log\" has no \"entries\" array");
    };
    let Some(entries) = entries.as_array() else {
        return not_har("\"log.entries\" is not an array");
    };
    for (index, entry) in entries.iter().enumerate() {
        if let Err(e) = serde_json::from_value::<super::Entry>(entry.clone()) {
            return entry_error(path, index, e.to_string());
        }
    }
    not_har(&err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Har, HarError> {
        parse_har(text.as_bytes(), Path::new("t.har"))
    }

    #[test]
    fn explains_what_is_wrong() {
        let err = parse("{\n  \"log\": {\n    \"entries\": [\n").unwrap_err();
        assert!(matches!(err, HarError::Json { line: 4, .. }), "{err}");
        assert!(parse(r#"{"log":{"version":"1.2"}}"#)
            .unwrap_err()
            .to_string()
            .contains("no \"entries\""));
        assert!(parse(r#"{"nolog":1}"#)
            .unwrap_err()
            .to_string()
            .contains("\"log\""));
        let err = parse(r#"{"log":{"entries":[{"request":{},"response":{}}, 7]}}"#).unwrap_err();
        assert!(err.to_string().contains("entry 1"), "{err}");
        assert!(parse("\u{feff}{\"log\":{\"entries\":[]}}").is_ok());
    }

    #[test]
    fn zlib_sniffing() {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(b"{}").unwrap();
        assert!(looks_zlib(&z.finish().unwrap()));
        assert!(!looks_zlib(b"{\"log\":1}"));
    }
}
