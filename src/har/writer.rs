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
/// The JSON is streamed into the file, never held whole in memory.
pub fn write_har(path: &Path, har: &Har) -> Result<(), HarError> {
    // A serialisation failure (not an I/O one) is told apart from a disk error.
    let mut json_error = None;
    let written = crate::output::write_atomic_with(path, None, |file| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        if let Err(e) = serde_json::to_writer_pretty(&mut out, har) {
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

/// Writes a HAR at `path` (atomically, as [`write_har`]) whose entries are given as
/// compact JSON rather than as [`Entry`](super::Entry) values: `envelope` supplies
/// everything but the entries (its own entries are ignored), and `fill` hands each entry's
/// JSON, in order, to the [`EntryWriter`] it is given. The file is byte for byte what
/// [`write_har`] writes for the same entries, without parsing them back.
pub fn write_har_entries(
    path: &Path,
    envelope: &Har,
    fill: impl FnOnce(&mut EntryWriter<'_>) -> Result<(), HarError>,
) -> Result<(), HarError> {
    let serialise = |source| HarError::Serialise {
        path: path.to_path_buf(),
        source,
    };
    let log = &envelope.log;
    let empty = Har {
        log: super::Log {
            version: log.version.clone(),
            creator: log.creator.clone(),
            browser: log.browser.clone(),
            pages: log.pages.clone(),
            entries: Vec::new(),
            comment: log.comment.clone(),
            extra: log.extra.clone(),
        },
        extra: envelope.extra.clone(),
    };
    let shell = to_pretty_json(&empty).map_err(serialise)?;
    // `log.entries` is the only key at this depth with that name, and no string holds
    // a raw newline, so the marker is found exactly once.
    const MARKER: &[u8] = b"\n    \"entries\": []";
    let at = shell
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .expect("a HAR's pretty JSON has log.entries at depth two")
        + MARKER.len()
        - 1;
    let mut failed = None;
    let written = crate::output::write_atomic_with(path, None, |file| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(&shell[..at])?;
        let mut entries = EntryWriter {
            out: &mut out,
            count: 0,
            staged: Vec::with_capacity(2 * STAGED),
            path,
        };
        if let Err(err) = fill(&mut entries) {
            failed = Some(err);
            return Err(std::io::Error::other("reading the entries failed"));
        }
        if entries.count > 0 {
            out.write_all(b"\n    ")?;
        }
        out.write_all(&shell[at..])?;
        out.flush()
    });
    match (written, failed) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(err)) => Err(err),
        (Err(source), None) => Err(HarError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Where [`write_har_entries`] takes entries.
pub struct EntryWriter<'a> {
    out: &'a mut dyn Write,
    count: usize,
    /// Pretty text on its way out (kept for its capacity).
    staged: Vec<u8>,
    /// The HAR being written, for errors.
    path: &'a Path,
}

impl EntryWriter<'_> {
    /// Writes the next entry, given as compact JSON.
    pub fn push(&mut self, compact: &[u8]) -> Result<(), HarError> {
        self.staged.clear();
        self.staged.extend_from_slice(if self.count == 0 {
            b"\n      "
        } else {
            b",\n      "
        });
        self.count += 1;
        reindent(compact, 3, &mut self.staged, self.out).map_err(|source| HarError::Io {
            path: self.path.to_path_buf(),
            source,
        })
    }

    /// How many entries were written.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// Text is staged up to about this many bytes before it goes to the writer, and longer
/// strings go straight from the input: a huge embedded body is never copied whole.
const STAGED: usize = 64 * 1024;

/// Writes `compact` (JSON without whitespace outside strings, as `serde_json::to_writer`
/// makes it) to `sink`, after what `out` already holds, laid out as
/// `serde_json::to_writer_pretty` lays out a value nested `depth` levels deep: two
/// spaces per level, `": "` after keys, empty objects and arrays kept as `{}` and `[]`.
/// Strings are copied as they are, escapes included. `out` is the staging buffer (empty
/// on return).
pub(crate) fn reindent(
    compact: &[u8],
    depth: usize,
    out: &mut Vec<u8>,
    sink: &mut dyn Write,
) -> std::io::Result<()> {
    fn newline(out: &mut Vec<u8>, depth: usize) {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    }
    let mut depth = depth;
    let mut i = 0;
    let n = compact.len();
    while i < n {
        if out.len() >= STAGED {
            sink.write_all(out)?;
            out.clear();
        }
        match compact[i] {
            b'"' => {
                let start = i;
                i += 1;
                while let Some(k) = memchr::memchr2(b'"', b'\\', &compact[i..]) {
                    i += k;
                    if compact[i] == b'\\' {
                        i += 2;
                    } else {
                        i += 1;
                        break;
                    }
                }
                let end = i.min(n);
                if end - start >= STAGED {
                    sink.write_all(out)?;
                    out.clear();
                    sink.write_all(&compact[start..end])?;
                } else {
                    out.extend_from_slice(&compact[start..end]);
                }
                i = end;
            }
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                if compact.get(i + 1) == Some(&close) {
                    out.extend_from_slice(&[open, close]);
                    i += 2;
                } else {
                    depth += 1;
                    out.push(open);
                    newline(out, depth);
                    i += 1;
                }
            }
            close @ (b'}' | b']') => {
                depth = depth.saturating_sub(1);
                newline(out, depth);
                out.push(close);
                i += 1;
            }
            b',' => {
                out.push(b',');
                newline(out, depth);
                i += 1;
            }
            b':' => {
                out.extend_from_slice(b": ");
                i += 1;
            }
            _ => {
                let start = i;
                while i < n && !matches!(compact[i], b'{' | b'}' | b'[' | b']' | b',' | b':' | b'"')
                {
                    i += 1;
                }
                out.extend_from_slice(&compact[start..i]);
            }
        }
    }
    sink.write_all(out)?;
    out.clear();
    Ok(())
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
    fn reindenting_compact_json_matches_the_pretty_writer() {
        let value = serde_json::json!({
            "a": [], "b": {}, "c": [1, 2.5, -3e-7, true, null, "x"],
            "d": {"e": [{"f": "q\"uote\\ back\\", "g": [[]]}], "h": "{[,:]}\n"},
            "é": "ünïcode ✓", "": ""
        });
        let mut value = value;
        // A string past the staging size goes out directly; many small items flush it.
        value["big"] = serde_json::json!("x\"y".repeat(40_000));
        value["many"] = serde_json::json!((0..30_000).collect::<Vec<u32>>());
        let compact = serde_json::to_vec(&value).unwrap();
        let mut out = Vec::new();
        let mut staged = Vec::new();
        reindent(&compact, 0, &mut staged, &mut out).unwrap();
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(pretty).unwrap()
        );
    }

    #[test]
    fn a_har_from_compact_entries_is_the_pretty_har() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/har");
        let mut hars = Vec::new();
        for dir in fs::read_dir(&fixtures).unwrap().flatten() {
            for file in fs::read_dir(dir.path()).into_iter().flatten().flatten() {
                if file.path().extension().is_some_and(|e| e == "har") {
                    hars.push(file.path());
                }
            }
        }
        assert!(hars.len() >= 5, "fixtures found: {hars:?}");
        for fixture in hars {
            let Ok(har) = serde_json::from_slice::<Har>(&fs::read(&fixture).unwrap()) else {
                continue;
            };
            let dir = tempfile::tempdir().unwrap();
            let (a, b) = (dir.path().join("a.har"), dir.path().join("b.har"));
            write_har(&a, &har).unwrap();
            write_har_entries(&b, &har, |w| {
                for entry in &har.log.entries {
                    w.push(&serde_json::to_vec(entry).unwrap())?;
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(
                fs::read(&a).unwrap(),
                fs::read(&b).unwrap(),
                "{}",
                fixture.display()
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.har"), dir.path().join("b.har"));
        write_har(&a, &Har::default()).unwrap();
        write_har_entries(&b, &Har::default(), |_| Ok(())).unwrap();
        assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap(), "no entries");
    }

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
}
