//! Bodies embedded in HAR JSON: `text` as is, or base64 when `encoding` says so.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// Base64 that accepts missing or present padding (exports differ).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The bytes of an embedded body: `text` itself, or its base64 decoding when `encoding`
/// is `base64` (white space inside the base64 is ignored, as some exporters wrap lines).
pub(crate) fn decode_text(text: &str, encoding: Option<&str>) -> Result<Vec<u8>, BodyError> {
    match encoding.map(str::trim) {
        None | Some("") => Ok(text.as_bytes().to_vec()),
        Some(e) if e.eq_ignore_ascii_case("base64") => {
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            LENIENT
                .decode(compact.as_bytes())
                .or_else(|_| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(compact.trim_end_matches('='))
                })
                .map_err(BodyError::Base64)
        }
        Some(other) => Err(BodyError::UnknownEncoding(other.to_string())),
    }
}

/// Why a body's `text` cannot be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// `encoding` is `base64` and the text is not.
    #[error("content is not valid base64: {0}")]
    Base64(base64::DecodeError),
    /// An `encoding` other than `base64`.
    #[error("unknown content encoding {0:?}")]
    UnknownEncoding(String),
}

/// Embeds `bytes` as text when they are valid UTF-8 and `textual`, else as base64.
/// Returns `(text, encoding)`.
pub(crate) fn encode_text(bytes: &[u8], textual: bool) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) if textual => (text.to_string(), None),
        _ => (
            base64::engine::general_purpose::STANDARD.encode(bytes),
            Some("base64".to_string()),
        ),
    }
}

/// The same for bytes owned: valid UTF-8 text becomes the text without a copy.
pub(crate) fn encode_text_owned(bytes: Vec<u8>, textual: bool) -> (String, Option<String>) {
    if !textual {
        return encode_text(&bytes, false);
    }
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(err) => encode_text(err.as_bytes(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_text_and_base64_leniently() {
        assert_eq!(decode_text("abc", None).unwrap(), b"abc");
        assert_eq!(decode_text("YWJj", Some("base64")).unwrap(), b"abc");
        assert_eq!(decode_text("YWI", Some("base64")).unwrap(), b"ab");
        assert_eq!(decode_text("YW\nJj", Some("base64")).unwrap(), b"abc");
        assert!(decode_text("***", Some("base64")).is_err());
        assert!(decode_text("x", Some("rot13")).is_err());
        assert_eq!(encode_text(b"hi", true), ("hi".to_string(), None));
        assert_eq!(encode_text(b"hi", false).1.as_deref(), Some("base64"));
        assert_eq!(
            encode_text_owned(b"hi".to_vec(), true),
            ("hi".to_string(), None)
        );
        assert_eq!(
            encode_text_owned(b"hi".to_vec(), false),
            encode_text(b"hi", false)
        );
        assert_eq!(
            encode_text_owned(vec![0xff], true),
            encode_text(&[0xff], true)
        );
    }
}
