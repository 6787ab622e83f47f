//! JSON string escaping, byte for byte as `serde_json` writes strings, eight bytes at a
//! time: serde_json looks every byte up in a table, which was the largest single cost of
//! journalling a 64 KiB body (35 µs of it).

/// Appends `text` as a JSON string (quotes included) to `out`, exactly as
/// `serde_json::to_writer` writes it: `"` and `\` escaped, `\b \t \n \f \r` in their
/// short forms, other control characters as `\u00xx`, everything else as it is.
pub(crate) fn write_json_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip 32 bytes at a time while none needs escaping (four words checked
        // together: half the time per byte of one at a time on a 64 KiB body), then
        // eight.
        while i + 32 <= bytes.len() {
            let word =
                |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
            if needs_escape(word(i)) | needs_escape(word(i + 8))
                || needs_escape(word(i + 16)) | needs_escape(word(i + 24))
            {
                break;
            }
            i += 32;
        }
        if i == bytes.len() {
            break;
        }
        if i + 8 <= bytes.len() {
            let word = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("eight bytes"));
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let byte = bytes[i];
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(byte >> 4) as usize],
                    HEX[(byte & 0xf) as usize],
                ]);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// True when one of the eight bytes of `word` is below 0x20, `"` or `\` (bytes of 0x80
/// and up, parts of UTF-8 sequences, never are).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let quote = has_zero(word ^ (ONES * b'"' as u64));
    let backslash = has_zero(word ^ (ONES * b'\\' as u64));
    (below_space | quote | backslash) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_serde(text: &str) {
        let mut ours = Vec::new();
        write_json_string(&mut ours, text);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(text).unwrap(),
            "{text:?}"
        );
    }

    #[test]
    fn escapes_exactly_as_serde_json() {
        // Every character below 0x80 and some beyond, alone and at every offset of a
        // word, so each lane of the eight-byte check is exercised.
        for c in (0u32..0x80).chain([0x7f, 0x80, 0xe9, 0x2028, 0xfffd, 0x1f600]) {
            let c = char::from_u32(c).unwrap();
            // Lengths 10 and 70: the eight-byte check, and the 32-byte blocks (each
            // of their four words, in the first and second block and the tail).
            for total in [10, 70] {
                for pad in 0..total {
                    let rest = "b".repeat(total - 1 - pad);
                    same_as_serde(&format!("{}{c}{rest}", "a".repeat(pad)));
                }
            }
        }
        same_as_serde("");
        same_as_serde(
            "plain text longer than a word, with ünïcode ✓ and \"quotes\"\\ and\ttabs\r\n",
        );
        let mut seed = 7u64;
        for _ in 0..2000 {
            let len = (seed % 100) as usize;
            let text: String = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    char::from_u32(((seed >> 33) % 0x90) as u32).unwrap_or('x')
                })
                .collect();
            same_as_serde(&text);
        }
    }
}
