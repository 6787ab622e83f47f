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
///
/// The JSON is streamed into the file, never held whole in memory.
pub fn write_har(path: &Path, har: &Har) -> Result<(), HarError> {
    let tmp = temp_path(path, "tmp");
    let result = write_json_then_rename(&tmp, path, har);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|err| match err {
        WriteError::Io(source) => HarError::Io {
            path: path.to_path_buf(),
            source,
        },
        WriteError::Json(source) => HarError::Serialise {
            path: path.to_path_buf(),
            source,
        },
    })
}

enum WriteError {
    Io(std::io::Error),
    Json(serde_json::Error),
}

fn write_json_then_rename(tmp: &Path, path: &Path, har: &Har) -> Result<(), WriteError> {
    let file = fs::File::create(tmp).map_err(WriteError::Io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    serde_json::to_writer_pretty(&mut out, har).map_err(|e| {
        if e.is_io() {
            WriteError::Io(e.into())
        } else {
            WriteError::Json(e)
        }
    })?;
    out.write_all(b"\n").map_err(WriteError::Io)?;
    let file = out
        .into_inner()
        .map_err(|e| WriteError::Io(e.into_error()))?;
    file.sync_all().map_err(WriteError::Io)?;
    drop(file);
    fs::rename(tmp, path).map_err(WriteError::Io)
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
