//! `.zip` archives in Playwright's layout: `har.har` plus payload files, flat. Entries
//! are read by exact name only, with every size capped, and nothing is ever extracted.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::reader::ReadLimits;
use super::HarError;

/// The name harp (and Playwright) gives the HAR inside an archive.
pub(super) const HAR_ENTRY: &str = "har.har";

/// An open archive being read under limits.
pub(super) struct ZipReader {
    archive: ZipArchive<File>,
    path: PathBuf,
    limits: ReadLimits,
    /// Uncompressed bytes handed out so far, checked against `limits.max_total`.
    total: u64,
}

impl ZipReader {
    pub(super) fn open(path: &Path, limits: &ReadLimits) -> Result<Self, HarError> {
        let file = File::open(path).map_err(|source| HarError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut archive = ZipArchive::new(file).map_err(|e| HarError::Archive {
            path: path.to_path_buf(),
            reason: format!("not a readable zip archive: {e}"),
        })?;
        // The declared sizes of everything inside, before anything is inflated.
        let mut declared = 0u64;
        for i in 0..archive.len() {
            if let Ok(entry) = archive.by_index_raw(i) {
                declared = declared.saturating_add(entry.size());
            }
        }
        if declared > limits.max_total {
            return Err(HarError::Archive {
                path: path.to_path_buf(),
                reason: format!(
                    "declares {declared} bytes uncompressed, over the {}-byte limit for an archive",
                    limits.max_total
                ),
            });
        }
        Ok(Self {
            archive,
            path: path.to_path_buf(),
            limits: limits.clone(),
            total: 0,
        })
    }

    fn error(&self, reason: String) -> HarError {
        HarError::Archive {
            path: self.path.clone(),
            reason,
        }
    }

    /// The archive's HAR entry: `har.har`, else the only `*.har` at the top level.
    pub(super) fn har_name(&self) -> Result<String, HarError> {
        if self
            .archive
            .index_for_name_raw(HAR_ENTRY.as_bytes())
            .is_some()
        {
            return Ok(HAR_ENTRY.to_string());
        }
        let candidates: Vec<String> = self
            .archive
            .file_names_raw()
            .filter_map(|raw| std::str::from_utf8(raw).ok())
            .filter(|name| name.to_ascii_lowercase().ends_with(".har") && !name.contains('/'))
            .map(str::to_string)
            .collect();
        match candidates.len() {
            1 => Ok(candidates[0].clone()),
            0 => Err(self.error("the archive holds no .har file (expected har.har)".into())),
            _ => Err(self.error(format!(
                "the archive holds several .har files and no har.har: {}",
                candidates.join(", ")
            ))),
        }
    }

    /// Reads the entry named exactly `name`: a regular file within the size limits.
    pub(super) fn read(&mut self, name: &str) -> Result<Vec<u8>, String> {
        let max_entry = self.limits.max_payload;
        let remaining = self.limits.max_total.saturating_sub(self.total);
        // Exact byte-for-byte name lookup; `by_index` (unlike `by_name_raw`) decompresses.
        let index = self
            .archive
            .index_for_name_raw(name.as_bytes())
            .ok_or_else(|| format!("{name:?} is not in the archive"))?;
        let mut file = self
            .archive
            .by_index(index)
            .map_err(|e| format!("{name:?}: {e}"))?;
        if file.is_dir() {
            return Err(format!("{name:?} is a directory in the archive"));
        }
        if file.is_symlink() {
            return Err(format!("{name:?} is a symlink in the archive"));
        }
        let declared = file.size();
        if declared > max_entry {
            return Err(format!(
                "{name:?} would expand to {declared} bytes, over the {max_entry}-byte limit per entry"
            ));
        }
        if declared > remaining {
            return Err(format!(
                "{name:?} would take the archive past its {}-byte limit in total",
                self.limits.max_total
            ));
        }
        let ratio_cap = file
            .compressed_size()
            .saturating_mul(super::reader::MAX_RATIO)
            .max(super::reader::BOMB_FLOOR);
        if declared > ratio_cap {
            return Err(format!(
                "{name:?} would expand {declared} bytes from {} compressed: refused as a decompression bomb",
                file.compressed_size()
            ));
        }
        let cap = declared.min(max_entry);
        let mut out = Vec::with_capacity(cap as usize);
        (&mut file)
            .take(cap + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("{name:?}: cannot decompress: {e}"))?;
        if out.len() as u64 > cap {
            return Err(format!("{name:?} expands past its declared size"));
        }
        self.total += out.len() as u64;
        Ok(out)
    }
}

/// Writes an archive with `har.har` and the payload files, through a temporary file and a
/// rename.
pub(super) fn write_zip(
    path: &Path,
    har_json: &[u8],
    payloads: &BTreeMap<String, Vec<u8>>,
) -> std::io::Result<()> {
    crate::output::write_atomic_with(path, None, |file| {
        let mut zip = ZipWriter::new(file);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .large_file(true)
            .unix_permissions(0o644);
        let io = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
        zip.start_file(HAR_ENTRY, options).map_err(io)?;
        zip.write_all(har_json)?;
        for (name, bytes) in payloads {
            zip.start_file(name.as_str(), options).map_err(io)?;
            zip.write_all(bytes)?;
        }
        zip.finish().map_err(io)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_by_exact_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        let mut payloads = BTreeMap::new();
        payloads.insert("p.txt".to_string(), b"payload".to_vec());
        write_zip(&path, b"{\"log\":{\"entries\":[]}}", &payloads).unwrap();
        let mut reader = ZipReader::open(&path, &ReadLimits::default()).unwrap();
        assert_eq!(reader.har_name().unwrap(), HAR_ENTRY);
        assert_eq!(
            reader.read(HAR_ENTRY).unwrap(),
            b"{\"log\":{\"entries\":[]}}"
        );
        assert_eq!(reader.read("p.txt").unwrap(), b"payload");
        assert!(reader.read("P.TXT").is_err());
        assert!(reader.read("./p.txt").is_err());
    }
}
