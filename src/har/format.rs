//! Facts of the HAR format shared by every part that reads or writes entries: how times,
//! versions and redacted values are spelled (URLs are normalised by [`crate::urls`]).

use std::time::SystemTime;

use http::Version;

/// The response field (a harp extension) that says when a body that came in parts
/// arrived: `[[milliseconds after the response head, bytes], ...]`, bytes as they came
/// over the wire (before any content decoding). Written only when the body came in more
/// than one part; read by `--latency recorded`.
pub const CHUNKS_FIELD: &str = "_harpChunks";

/// The entry field Chrome and Playwright write a WebSocket conversation into:
/// `[{"type": "send"|"receive", "time": seconds since the epoch, "opcode": 1 (text) | 2
/// (binary, base64) | 8 (close: "code reason", a harp addition), "data": ...}, ...]`.
pub const WEBSOCKET_MESSAGES: &str = "_webSocketMessages";

/// The value written in place of a redacted header value (and compared as "unknown").
pub const REDACTED: &str = "[REDACTED]";

/// The HAR spelling of an HTTP version.
pub(crate) fn version_str(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// ISO 8601 in UTC with milliseconds, as browsers write `startedDateTime`.
pub(crate) fn iso8601(t: SystemTime) -> String {
    // Digits written by hand: this runs for every recorded exchange, and both the
    // formatting machinery of `time` and `format!` showed in the recording profile.
    let t = time::OffsetDateTime::from(t);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return format!(
            "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        );
    }
    let mut out = *b"0000-00-00T00:00:00.000Z";
    for (at, width, value) in [
        (0, 4, year as u32),
        (5, 2, u8::from(t.month()) as u32),
        (8, 2, t.day() as u32),
        (11, 2, t.hour() as u32),
        (14, 2, t.minute() as u32),
        (17, 2, t.second() as u32),
        (20, 3, t.millisecond() as u32),
    ] {
        let mut value = value;
        for digit in out[at..at + width].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    out.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_has_milliseconds_and_zulu() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_000_000_123);
        assert_eq!(iso8601(t), "2026-11-18T11:06:40.123Z");
        assert_eq!(iso8601(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let late = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(253_402_300_799_999);
        assert_eq!(iso8601(late), "9999-12-31T23:59:59.999Z");
    }
}
