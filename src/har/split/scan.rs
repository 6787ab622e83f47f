//! Finding where a JSON object or array ends, 64 bytes at a time: each block is
//! classified into bit masks (quotes, backslashes, opening and closing brackets) with
//! SSE2 where the target has it, escaped quotes are dropped, a prefix XOR of the quotes
//! marks the bytes inside strings, and only the brackets outside strings are counted.
//! Most of an entry's bytes are in strings and most of its strings are short, so this
//! does a block in a few dozen instructions where a byte-by-byte walk spent several per
//! byte.

/// The bytes classified at a time.
pub(super) const BLOCK: usize = 64;

/// The state of a scan carried from one block to the next.
#[derive(Debug, Default)]
pub(super) struct Container {
    depth: u32,
    /// All ones when the next block starts inside a string.
    in_string: u64,
    /// The next block's first byte is escaped (this block ended in an odd run of
    /// backslashes).
    escape_carry: bool,
}

/// Nesting went deeper than allowed.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TooDeep;

impl Container {
    /// Scans the next block of a container whose first byte (its `{` or `[`) starts the
    /// first block. Returns the offset just after the closing bracket when it is in this
    /// block.
    pub(super) fn block(
        &mut self,
        block: &[u8; BLOCK],
        max_depth: u32,
    ) -> Result<Option<usize>, TooDeep> {
        let Masks {
            quote,
            backslash,
            open,
            close,
        } = masks(block);
        let escaped = self.escaped(backslash);
        let inside = prefix_xor(quote & !escaped) ^ self.in_string;
        self.in_string = ((inside as i64) >> 63) as u64;
        let (open, close) = (open & !inside, close & !inside);
        let mut brackets = open | close;
        while brackets != 0 {
            let at = brackets.trailing_zeros();
            brackets &= brackets - 1;
            if open & (1 << at) != 0 {
                self.depth += 1;
                if self.depth > max_depth {
                    return Err(TooDeep);
                }
            } else {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Ok(Some(at as usize + 1));
                }
            }
        }
        Ok(None)
    }

    /// The bytes of this block escaped by a backslash (one run of backslashes escapes
    /// every other byte); carries an escape into the next block.
    fn escaped(&mut self, backslash: u64) -> u64 {
        let mut escaped = u64::from(std::mem::take(&mut self.escape_carry));
        if backslash == 0 {
            return escaped;
        }
        let mut starts = backslash & !escaped;
        while starts != 0 {
            let at = starts.trailing_zeros();
            starts &= starts - 1;
            if at == 63 {
                self.escape_carry = true;
            } else {
                let next = 1u64 << (at + 1);
                escaped |= next;
                // An escaped backslash escapes nothing.
                starts &= !next;
            }
        }
        escaped
    }
}

/// Bit i is the XOR of bits 0..=i: with the quotes, the bytes from an opening quote up
/// to its closing one (excluded).
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Bit i set where byte i of a block is of that class.
#[derive(Debug, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    /// `{` or `[`.
    open: u64,
    /// `}` or `]`.
    close: u64,
}

/// `[` and `]` become `{` and `}` when this bit is set; no other byte does.
const FOLD: u8 = 0x20;

#[cfg(target_arch = "x86_64")]
fn masks(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x,
    };
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&block[at..at + 8]);
        i64::from_le_bytes(bytes)
    };
    // SAFETY: these intrinsics need SSE2, which every x86_64 processor has (it is part
    // of the target's baseline, enabled for all code built for it); none of them
    // touches memory.
    unsafe {
        let each = |byte: u8| _mm_set1_epi8(byte as i8);
        let (quote, backslash, open, close, fold) =
            (each(b'"'), each(b'\\'), each(b'{'), each(b'}'), each(FOLD));
        let bits = |v: __m128i, class: __m128i| {
            u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, class)) as u16)
        };
        let mut m = Masks {
            quote: 0,
            backslash: 0,
            open: 0,
            close: 0,
        };
        for part in 0..BLOCK / 16 {
            let v = _mm_set_epi64x(word(part * 16 + 8), word(part * 16));
            let folded = _mm_or_si128(v, fold);
            let shift = part * 16;
            m.quote |= bits(v, quote) << shift;
            m.backslash |= bits(v, backslash) << shift;
            m.open |= bits(folded, open) << shift;
            m.close |= bits(folded, close) << shift;
        }
        m
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn masks(block: &[u8; BLOCK]) -> Masks {
    scalar_masks(block)
}

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn scalar_masks(block: &[u8; BLOCK]) -> Masks {
    let mut m = Masks {
        quote: 0,
        backslash: 0,
        open: 0,
        close: 0,
    };
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' | b'[' => m.open |= bit,
            b'}' | b']' => m.close |= bit,
            _ => {}
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the container at the start of `text` ends, byte by byte; `Err` for a
    /// backslash outside strings (never valid JSON: the parser refuses the entry
    /// wherever it is cut).
    fn naive(text: &[u8]) -> Result<Option<usize>, ()> {
        let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
        for (i, &b) in text.iter().enumerate() {
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'\\' => return Err(()),
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(Some(i + 1));
                    }
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Where the container at the start of `text` ends, by blocks (padded with
    /// spaces).
    fn by_blocks(text: &[u8]) -> Option<usize> {
        let mut scan = Container::default();
        for (k, chunk) in text.chunks(BLOCK).enumerate() {
            let mut block = [b' '; BLOCK];
            block[..chunk.len()].copy_from_slice(chunk);
            if let Some(end) = scan.block(&block, u32::MAX).unwrap() {
                return Some(k * BLOCK + end);
            }
        }
        None
    }

    #[test]
    fn blocks_find_the_same_end_as_a_byte_walk() {
        // Pseudo-random texts over the bytes that matter, with long runs of backslashes
        // and strings across block edges.
        let alphabets: [&[u8]; 2] = [
            b"\"\\\\\\{}[]a ,:\"\\",
            b"aaaaaaaaaaaaaaaaaaaaaaaa\\\"{}[],",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut compared = 0;
        for round in 0..50_000 {
            let alphabet = alphabets[round % 2];
            let len = (next() % 300) as usize;
            let mut text = vec![b'{'];
            text.extend((0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]));
            text.extend_from_slice(b"}]}]}]}]}]}]}]}]}]}]}]}]");
            if let Ok(end) = naive(&text) {
                let shown = String::from_utf8_lossy(&text);
                assert_eq!(by_blocks(&text), end, "{shown}");
                compared += 1;
            }
        }
        assert!(compared > 5000, "{compared}");
    }

    #[test]
    fn escapes_carry_across_block_edges() {
        for run in 0..6 {
            for pad in 50..70 {
                // `{"` then filler, a run of backslashes, a quote, then `"}` and `}`.
                let mut text = b"{\"".to_vec();
                text.resize(pad, b'a');
                text.extend(std::iter::repeat_n(b'\\', run));
                text.extend_from_slice(b"\"x\"}}");
                assert_eq!(Ok(by_blocks(&text)), naive(&text), "run {run} pad {pad}");
            }
        }
    }

    #[test]
    fn nesting_past_the_limit_is_refused() {
        let mut block = [b'['; BLOCK];
        block[63] = b']';
        assert_eq!(Container::default().block(&block, 10), Err(TooDeep));
        assert_eq!(Container::default().block(&block, 63), Ok(None));
    }

    #[test]
    fn masks_agree_with_the_scalar_classifier() {
        let mut block = [0u8; BLOCK];
        for start in 0..=255u8 {
            for (i, b) in block.iter_mut().enumerate() {
                *b = start.wrapping_add((i * 37) as u8);
            }
            assert_eq!(masks(&block), scalar_masks(&block), "{start}");
        }
    }
}
