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
}
