//! Content codings and MIME types: decoding `gzip`, `deflate` and `br` bodies (with a cap
//! on the decoded size), and telling text from binary.

use std::io::Read;

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The coding is not one harp knows.
    #[error("unsupported content-encoding {0:?}")]
    Unsupported(String),
    /// The bytes are not valid for the coding.
    #[error("corrupt {coding} body: {source}")]
    Corrupt {
        /// The coding that failed.
        coding: String,
        /// The decoder's complaint.
        source: std::io::Error,
    },
    /// Decoding would exceed the size cap (a decompression bomb, or simply too big).
    #[error("decoded body exceeds {limit} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
}

/// Decodes `body` according to a `Content-Encoding` header value (codings listed in the
/// order applied, so undone last to first). `identity` and empty codings are skipped.
pub fn decode(content_encoding: &str, body: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    decode_cow(content_encoding, body, limit).map(std::borrow::Cow::into_owned)
}

/// [`decode`], borrowing `body` when there is nothing to undo (no copy of a large
/// identity body).
pub(crate) fn decode_cow<'a>(
    content_encoding: &str,
    body: &'a [u8],
    limit: u64,
) -> Result<std::borrow::Cow<'a, [u8]>, DecodeError> {
    if is_identity(content_encoding) {
        return Ok(std::borrow::Cow::Borrowed(body));
    }
    let mut data = body.to_vec();
    for coding in content_encoding.rsplit(',') {
        let coding = coding.trim().to_ascii_lowercase();
        data = match coding.as_str() {
            "" | "identity" => continue,
            "gzip" | "x-gzip" => {
                read_capped(flate2::read::MultiGzDecoder::new(&data[..]), &coding, limit)?
            }
            "deflate" => {
                // RFC 9110 says zlib; some servers send raw deflate. Try zlib first.
                match read_capped(flate2::read::ZlibDecoder::new(&data[..]), &coding, limit) {
                    Ok(out) => out,
                    Err(DecodeError::TooLarge { limit }) => {
                        return Err(DecodeError::TooLarge { limit })
                    }
                    Err(_) => {
                        read_capped(flate2::read::DeflateDecoder::new(&data[..]), &coding, limit)?
                    }
                }
            }
            "br" => read_capped(brotli::Decompressor::new(&data[..], 8192), &coding, limit)?,
            other => return Err(DecodeError::Unsupported(other.to_string())),
        };
    }
    Ok(std::borrow::Cow::Owned(data))
}

/// A reader that undoes `content_encoding` over `raw` as it is read (for bodies too big
/// to decode in memory). Raw deflate is not guessed here: `deflate` means zlib.
pub(crate) fn decoding_reader<'a>(
    content_encoding: &str,
    raw: impl Read + 'a,
) -> Result<Box<dyn Read + 'a>, DecodeError> {
    let mut reader: Box<dyn Read + 'a> = Box::new(raw);
    for coding in content_encoding.rsplit(',') {
        let coding = coding.trim().to_ascii_lowercase();
        reader = match coding.as_str() {
            "" | "identity" => continue,
            "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(reader)),
            "deflate" => Box::new(flate2::read::ZlibDecoder::new(reader)),
            "br" => Box::new(brotli::Decompressor::new(reader, 8192)),
            other => return Err(DecodeError::Unsupported(other.to_string())),
        };
    }
    Ok(reader)
}

/// True when `content_encoding` names no coding to undo.
pub(crate) fn is_identity(content_encoding: &str) -> bool {
    content_encoding
        .split(',')
        .all(|c| matches!(c.trim().to_ascii_lowercase().as_str(), "" | "identity"))
}

fn read_capped(reader: impl Read, coding: &str, limit: u64) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let read = reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| DecodeError::Corrupt {
            coding: coding.to_string(),
            source,
        })?;
    if read as u64 > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

/// The MIME type without parameters, lower-cased (`text/html; charset=utf-8` → `text/html`).
pub(crate) fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// True for MIME types whose bodies are text: `text/*`, JSON, XML, JavaScript, forms,
/// GraphQL, YAML, SVG and their `+json`/`+xml` variants.
pub(crate) fn is_textual(mime: &str) -> bool {
    let m = essence(mime);
    m.starts_with("text/")
        || m.ends_with("+json")
        || m.ends_with("+xml")
        || matches!(
            m.as_str(),
            "application/json"
                | "application/javascript"
                | "application/ecmascript"
                | "application/x-javascript"
                | "application/xml"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
                | "application/x-ndjson"
                | "application/yaml"
                | "application/x-yaml"
                | "image/svg+xml"
        )
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub(crate) fn multipart_boundary(content_type: &str) -> Option<&str> {
    if !essence(content_type).starts_with("multipart/form-data") {
        return None;
    }
    content_type.split(';').skip(1).find_map(|param| {
        let (key, val) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| val.trim().trim_matches('"'))
            .filter(|b| !b.is_empty())
    })
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// The field name.
    pub name: String,
    /// The file name, for file fields.
    pub filename: Option<String>,
    /// The part's content as text (lossy for binary files).
    pub value: String,
}

/// The parts of a `multipart/form-data` body (empty when the content type has no
/// boundary or the body has no well-formed part).
pub(crate) fn multipart_parts(body: &[u8], content_type: &str) -> Vec<FormPart> {
    let Some(boundary) = multipart_boundary(content_type) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    text.split(delimiter.as_str())
        .filter_map(|part| {
            let part = part.strip_prefix("\r\n")?;
            let (head, value) = part.split_once("\r\n\r\n")?;
            let quoted = |key: &str| {
                head.split(key)
                    .nth(1)
                    .and_then(|v| v.split('"').next())
                    .map(str::to_string)
            };
            Some(FormPart {
                name: quoted(" name=\"").or_else(|| quoted(";name=\""))?,
                filename: quoted("filename=\""),
                value: value.strip_suffix("\r\n").unwrap_or(value).to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_stacked_codings() {
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(&gzip(b"hello")).unwrap();
        }
        assert_eq!(decode("gzip, br", &br, 1 << 20).unwrap(), b"hello");
        assert_eq!(decode("identity", b"x", 10).unwrap(), b"x");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"zz").unwrap();
        assert_eq!(decode("deflate", &z.finish().unwrap(), 10).unwrap(), b"zz");
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(b"raw").unwrap();
        assert_eq!(
            decode("deflate", &raw.finish().unwrap(), 10).unwrap(),
            b"raw"
        );
    }

    #[test]
    fn refuses_bombs_corruption_and_unknown_codings() {
        let bomb = gzip(&vec![0u8; 1 << 20]);
        assert!(matches!(
            decode("gzip", &bomb, 1000),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            decode("gzip", b"not gzip", 1000),
            Err(DecodeError::Corrupt { .. })
        ));
        assert!(matches!(
            decode("zstd", b"x", 1000),
            Err(DecodeError::Unsupported(_))
        ));
    }

    #[test]
    fn multipart_bodies() {
        let ct = "multipart/form-data; boundary=\"XX\"";
        assert_eq!(multipart_boundary(ct), Some("XX"));
        assert_eq!(multipart_boundary("text/plain; boundary=XX"), None);
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.png\"\r\n\r\nbin\r\n--XX--\r\n";
        let parts = multipart_parts(body, ct);
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            FormPart {
                name: "a".into(),
                filename: None,
                value: "1".into()
            }
        );
        assert_eq!(parts[1].filename.as_deref(), Some("x.png"));
    }

    #[test]
    fn textual_types() {
        assert!(is_textual("text/html; charset=utf-8"));
        assert!(is_textual("application/vnd.api+json"));
        assert!(is_textual("image/svg+xml"));
        assert!(!is_textual("image/png"));
        assert!(!is_textual("application/octet-stream"));
        assert!(!is_textual(""));
    }
}
