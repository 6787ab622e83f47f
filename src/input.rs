//! Reading the files a user names (HARs, collections, environments, CA certificates):
//! only regular files, checked before opening (a FIFO would block the open, `/dev/zero`
//! would never end) and again on the open handle, and never more than a stated size.

use std::io::Read;
use std::path::Path;

/// Reads `path` whole if it is a regular file of at most `max` bytes.
pub fn read_regular_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let (file, len) = open_regular_file(path, max)?;
    let mut out = Vec::with_capacity(len as usize);
    file.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(grew(max));
    }
    Ok(out)
}

/// Opens `path` if it is a regular file of at most `max` bytes; returns it and its size.
/// A reader must still stop after `max` bytes: the file may grow while being read.
pub fn open_regular_file(path: &Path, max: u64) -> std::io::Result<(std::fs::File, u64)> {
    let not_regular = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is not a regular file (a folder, FIFO, socket or device)",
        )
    };
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    if meta.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} bytes is over the {max}-byte limit", meta.len()),
        ));
    }
    Ok((file, meta.len()))
}

/// The error for a file that grew past `max` bytes while being read.
fn grew(max: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("grew past the {max}-byte limit while being read"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.json");
        std::fs::write(&file, b"{}").unwrap();
        assert_eq!(read_regular_file(&file, 10).unwrap(), b"{}");
        assert!(read_regular_file(&file, 1).is_err());
        assert!(read_regular_file(dir.path(), 10)
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
        #[cfg(unix)]
        {
            assert!(read_regular_file(Path::new("/dev/zero"), 10).is_err());
            let fifo = dir.path().join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            if made.is_ok_and(|s| s.success()) {
                // Would block forever if opened.
                assert!(read_regular_file(&fifo, 10).is_err());
            }
        }
    }
}
