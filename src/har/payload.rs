//! Payloads stored outside the HAR JSON (`_file`): naming them by content hash, and
//! resolving a `_file` value safely, never outside the HAR's folder or archive.

use std::path::{Component, Path, PathBuf};

use sha1::{Digest, Sha1};

/// The file name a body is stored under: `sha1(bytes)` in hex, a dot, and an extension
/// from the MIME type (`dat` when unknown), as Playwright names attachments.
pub(crate) fn payload_name(bytes: &[u8], mime: &str) -> String {
    payload_name_for(&Sha1::digest(bytes).into(), mime)
}

/// [`payload_name`] from an already computed SHA-1 (bodies hashed as they streamed).
pub(crate) fn payload_name_for(digest: &[u8; 20], mime: &str) -> String {
    let mut name = String::with_capacity(45);
    for b in digest.iter() {
        name.push_str(&format!("{b:02x}"));
    }
    name.push('.');
    name.push_str(extension_for(mime));
    name
}

/// A file extension for a MIME type.
fn extension_for(mime: &str) -> &'static str {
    let essence = crate::codec::essence(mime);
    match essence.as_str() {
        "application/json" | "text/json" => "json",
        "text/html" => "html",
        "text/plain" => "txt",
        "text/css" => "css",
        "text/csv" => "csv",
        "text/xml" | "application/xml" => "xml",
        "text/javascript" | "application/javascript" | "application/x-javascript" => "js",
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/avif" => "avif",
        "image/svg+xml" => "svg",
        "image/x-icon" | "image/vnd.microsoft.icon" => "ico",
        "font/woff" => "woff",
        "font/woff2" => "woff2",
        "font/ttf" => "ttf",
        "font/otf" => "otf",
        "application/pdf" => "pdf",
        "application/wasm" => "wasm",
        "application/zip" => "zip",
        "application/x-www-form-urlencoded" => "txt",
        "multipart/form-data" => "dat",
        "audio/mpeg" => "mp3",
        "video/mp4" => "mp4",
        "text/markdown" => "md",
        "application/yaml" | "application/x-yaml" | "text/yaml" => "yaml",
        m if m.ends_with("+json") => "json",
        m if m.ends_with("+xml") => "xml",
        _ => "dat",
    }
}

/// True when `file` already holds a payload of `len` bytes: payloads are named by
/// content hash, so it is the same payload and is kept rather than written again.
pub(crate) fn is_present(file: &Path, len: u64) -> bool {
    std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.len() == len)
}

/// Checks that a `_file` value is a plain relative path that stays inside its folder:
/// not empty, not absolute, no `..`, no drive or root component, no NUL. Returns the
/// normalised path (without `.` components), or why it is refused.
pub(crate) fn safe_relative(name: &str) -> Result<PathBuf, PayloadError> {
    let refuse = |why: &'static str| PayloadError::Name {
        name: name.to_string(),
        why,
    };
    if name.is_empty() {
        return Err(refuse("is empty"));
    }
    if name.contains('\0') {
        return Err(refuse("contains a NUL byte"));
    }
    if name.contains('\\') {
        return Err(refuse("contains a backslash"));
    }
    let mut out = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(refuse("climbs out of the HAR's folder")),
            Component::RootDir | Component::Prefix(_) => return Err(refuse("is an absolute path")),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(refuse("names no file"));
    }
    Ok(out)
}

/// Why a payload (`_file`) is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The name is not a plain relative path inside the HAR's folder.
    #[error("{name:?} {why}")]
    Name {
        /// The `_file` value.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// After following links, the file lies outside the HAR's folder.
    #[error("{name:?} leads outside the HAR's folder (to {to})")]
    Outside {
        /// The `_file` value.
        name: String,
        /// Where it leads.
        to: PathBuf,
    },
    /// The payload is not a regular file.
    #[error("{0} is not a regular file")]
    NotAFile(PathBuf),
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// An embedded body to move into a payload cannot be decoded.
    #[error(transparent)]
    Body(#[from] super::body::BodyError),
}

/// Resolves `name` inside `dir` and checks, after following symlinks, that the result is
/// a regular file still inside `dir`.
pub(crate) fn resolve_in_dir(dir: &Path, name: &str) -> Result<PathBuf, PayloadError> {
    let relative = safe_relative(name)?;
    let joined = dir.join(&relative);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PayloadError::Io { path, source }
    };
    let real_dir = dir.canonicalize().map_err(io(dir))?;
    let real = joined.canonicalize().map_err(io(&joined))?;
    if !real.starts_with(&real_dir) {
        return Err(PayloadError::Outside {
            name: name.to_string(),
            to: real,
        });
    }
    let meta = std::fs::metadata(&real).map_err(io(&joined))?;
    if !meta.is_file() {
        return Err(PayloadError::NotAFile(joined));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_content_hash_and_mime() {
        // sha1("Hello, world") as in Playwright's har-sha1 fixture.
        assert_eq!(
            payload_name(b"Hello, world", "text/html; charset=utf-8"),
            "e02aa1b106d5c7c6a98def2b13005d5b84fd8dc8.html"
        );
        assert!(payload_name(b"", "application/x-unknown").ends_with(".dat"));
        assert!(payload_name(b"{}", "application/vnd.api+json").ends_with(".json"));
    }

    #[test]
    fn refuses_escapes() {
        assert!(safe_relative("a/b.txt").is_ok());
        assert_eq!(safe_relative("./a.txt").unwrap(), PathBuf::from("a.txt"));
        for bad in ["", "../x", "a/../../x", "/etc/passwd", "a\\..\\b", "."] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolves_only_files_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ok.txt"), "x").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(resolve_in_dir(dir.path(), "ok.txt").is_ok());
        assert!(matches!(
            resolve_in_dir(dir.path(), "sub"),
            Err(PayloadError::NotAFile(_))
        ));
        assert!(resolve_in_dir(dir.path(), "missing.txt").is_err());
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            std::fs::write(outside.path().join("secret"), "s").unwrap();
            std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link"))
                .unwrap();
            assert!(matches!(
                resolve_in_dir(dir.path(), "link"),
                Err(PayloadError::Outside { .. })
            ));
        }
    }
}
