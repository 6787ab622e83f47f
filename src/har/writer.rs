//! Writing HAR files: pretty, deterministic JSON, replaced atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Har, HarError};

/// Serialises `har` as pretty JSON (two-space indent, fields in model order, a final newline).
pub fn to_pretty_json(har: &Har) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec_pretty(har)?;
    out.push(b'\n');
    Ok(out)
}

/// Writes `har` to `path` through a temporary file in the same folder and a rename, so
/// readers see either the old file or the whole new one, never a torn write.
pub fn write_har(path: &Path, har: &Har) -> Result<(), HarError> {
    let bytes = to_pretty_json(har).map_err(|source| HarError::Serialise {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, &bytes).map_err(|source| HarError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Fails unless a file can be created at `path`: its folder must exist and be writable,
/// and `path` must not be a folder. Called before listening, so a bad path is reported
/// before any traffic is accepted.
pub fn check_writable(path: &Path) -> Result<(), HarError> {
    let io = |source| HarError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    let probe = temp_path(path, "probe");
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(io)?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

pub(super) fn temp_path(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "har".into());
    path.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path, "tmp");
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
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
        let err = check_writable(&dir.path().join("missing/a.har")).unwrap_err();
        assert!(err.to_string().contains("missing/a.har"), "{err}");
    }
}
