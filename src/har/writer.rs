//! Writing HAR files: pretty, deterministic JSON, replaced atomically.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::{Har, HarError};

/// Serialises `har` as pretty JSON (two-space indent, fields in model order, a final newline).
pub(crate) fn to_pretty_json(har: &Har) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec_pretty(har)?;
    out.push(b'\n');
    Ok(out)
}

/// Writes `har` to `path` through a temporary file in the same folder and a rename, so
/// readers see either the old file or the whole new one, never a torn write.
///
/// The bytes are those of `serde_json::to_writer_pretty` plus a final newline; entries
/// are serialised in blocks, each block's entries spread over the machine's cores, and
/// written as each block is done, so the JSON is never held whole in memory.
pub fn write_har(path: &Path, har: &Har) -> Result<(), HarError> {
    // A serialisation failure (not an I/O one) is told apart from a disk error.
    let mut json_error = None;
    let written = crate::output::write_atomic_with(path, None, |file| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        if let Err(e) = write_pretty(&mut out, har) {
            if e.is_io() {
                return Err(e.into());
            }
            json_error = Some(e);
            return Err(std::io::Error::other("serialising the HAR failed"));
        }
        out.write_all(b"\n")?;
        out.flush()
    });
    match (written, json_error) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(source)) => Err(HarError::Serialise {
            path: path.to_path_buf(),
            source,
        }),
        (Err(source), None) => Err(HarError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Entries serialised between two writes.
const BLOCK: usize = 4096;
/// Where the entries go in the pretty document with none: `"entries": []` at the
/// log's depth (no other key can be there at that indentation: strings escape their
/// newlines, and the log has one `entries`).
const ENTRIES_SLOT: &[u8] = b"\n    \"entries\": []";
/// An entry's lines are indented this much inside the document.
const ENTRY_INDENT: &[u8] = b"      ";

/// Writes what `serde_json::to_writer_pretty(out, har)` writes, with the entries
/// serialised in parallel.
fn write_pretty(out: &mut impl Write, har: &Har) -> Result<(), serde_json::Error> {
    let log = &har.log;
    let frame = Har {
        log: super::Log {
            version: log.version.clone(),
            creator: log.creator.clone(),
            browser: log.browser.clone(),
            pages: log.pages.clone(),
            entries: Vec::new(),
            comment: log.comment.clone(),
            extra: log.extra.clone(),
        },
        extra: har.extra.clone(),
    };
    let frame = serde_json::to_vec_pretty(&frame)?;
    let entries = &har.log.entries;
    let slot = frame
        .windows(ENTRIES_SLOT.len())
        .position(|w| w == ENTRIES_SLOT)
        .filter(|_| !entries.is_empty());
    let Some(slot) = slot else {
        return out.write_all(&frame).map_err(serde_json::Error::io);
    };
    let open = slot + ENTRIES_SLOT.len() - 1;
    out.write_all(&frame[..open])
        .map_err(serde_json::Error::io)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    for (b, block) in entries.chunks(BLOCK).enumerate() {
        let part = block.len().div_ceil(threads);
        let texts: Vec<Result<Vec<u8>, serde_json::Error>> = std::thread::scope(|scope| {
            let workers: Vec<_> = block
                .chunks(part)
                .map(|chunk| scope.spawn(move || pretty_entries(chunk)))
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err(serde::ser::Error::custom("panicked")))
                })
                .collect()
        });
        for (i, text) in texts.into_iter().enumerate() {
            let text = text?;
            if b > 0 || i > 0 {
                out.write_all(b",").map_err(serde_json::Error::io)?;
            }
            out.write_all(&text).map_err(serde_json::Error::io)?;
        }
    }
    out.write_all(b"\n    ").map_err(serde_json::Error::io)?;
    out.write_all(&frame[open..]).map_err(serde_json::Error::io)
}

/// Entries as they appear in the pretty document: each on its own lines, indented,
/// separated by commas (no leading or trailing one).
fn pretty_entries(entries: &[super::Entry]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(entries.len() * 2048);
    let mut one = Vec::with_capacity(4096);
    for (i, entry) in entries.iter().enumerate() {
        one.clear();
        serde_json::to_writer_pretty(&mut one, entry)?;
        if i > 0 {
            out.push(b',');
        }
        out.push(b'\n');
        out.extend_from_slice(ENTRY_INDENT);
        for (n, line) in one.split(|b| *b == b'\n').enumerate() {
            if n > 0 {
                out.push(b'\n');
                out.extend_from_slice(ENTRY_INDENT);
            }
            out.extend_from_slice(line);
        }
    }
    Ok(out)
}

/// Fails unless a file can be created at `path`: its folder (made when missing) must be
/// writable, and `path` must not be a folder. Called before listening, so a bad path is reported
/// before any traffic is accepted.
pub fn check_writable(path: &Path) -> Result<(), HarError> {
    let io = |source| HarError::Io {
        path: path.to_path_buf(),
        source,
    };
    // A first recording into `hars/x.har` makes `hars/`.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(|source| HarError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
    }
    if path.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    let probe = crate::output::temp_path(path, "probe");
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(io)?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_checks_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.har");
        check_writable(&path).unwrap();
        write_har(&path, &Har::default()).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\n  \"log\": {\n    \"version\": \"1.2\""));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        assert!(check_writable(dir.path()).is_err());
        check_writable(&dir.path().join("new/a.har")).unwrap();
        assert!(dir.path().join("new").is_dir(), "the folder is made");
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let err = check_writable(&dir.path().join("file/a.har")).unwrap_err();
        assert!(err.to_string().contains("file"), "{err}");
    }

    #[test]
    fn parallel_writing_gives_serde_jsons_pretty_bytes() {
        let text = r#"{"log":{"version":"1.2","creator":{"name":"x","version":"1"},
            "pages":[{"id":"p","title":"\n    \"entries\": []"}],
            "entries":[],"comment":"c","_x":{"a":[1,2]}},"_top":1}"#;
        let mut har: Har = serde_json::from_str(text).unwrap();
        let entry = r#"{"startedDateTime":"2020-01-01T00:00:00Z","time":1,
            "request":{"method":"GET","url":"http://a/\nb","headers":[{"name":"a","value":"b"}]},
            "response":{"status":200,"content":{"text":"line\nline"}},"_e":[]}"#;
        for count in [0, 1, 2, 3, BLOCK + 5] {
            har.log.entries = (0..count)
                .map(|_| serde_json::from_str(entry).unwrap())
                .collect();
            let mut mine = Vec::new();
            write_pretty(&mut mine, &har).unwrap();
            let theirs = serde_json::to_vec_pretty(&har).unwrap();
            assert!(mine == theirs, "{count} entries differ");
        }
    }
}
