//! Finding a HAR's entries in its JSON text without parsing them, while the text is being
//! read: each entry is handed over as a byte range of a shared window of the text, so
//! that several threads can parse entries while the file is still being read, and only a
//! window of the text is ever held.
//!
//! The splitter checks the document's outline itself (an object whose `log` member is an
//! object whose `entries` member is an array) and delimits each entry by following its
//! strings and brackets; the JSON parser then checks every entry whole. Members other
//! than the entries are copied into a small envelope document (`"entries": []` in place
//! of the array) for the parser. Anything the splitter does not expect (a key spelled
//! with escapes, `log` or `entries` twice, a broken outline, nesting too deep) makes it
//! give up: the caller then reads the file the plain way, which reports exactly what is
//! wrong.

use std::io::Read;
use std::ops::Range;

use bytes::{Bytes, BytesMut};

use scan::BLOCK;

mod scan;

/// How much is read from the source at a time.
const READ: usize = 1 << 20;
/// A batch is handed over once its entries reach this many bytes.
const BATCH: usize = 256 << 10;
/// Deepest nesting handed over inside an entry: the whole-document parser refuses more
/// than 128 levels, three of which are the document, `log` and `entries`.
const MAX_DEPTH: u32 = 125;

/// Entries found together: their text and where each lies in it.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The document index of the first entry.
    pub first: usize,
    /// A window of the document holding the entries.
    pub text: Bytes,
    /// Each entry's bytes in `text`, in document order.
    pub entries: Vec<Range<usize>>,
}

/// A whole document split.
#[derive(Debug)]
pub(crate) struct Split {
    /// The document without its entries (`"entries": []`), as JSON.
    pub envelope: Vec<u8>,
    /// How many entries were handed over.
    pub entries: usize,
}

/// Why the splitter stopped before the end.
#[derive(Debug)]
pub(crate) enum GiveUp {
    /// The text is not in the outline the splitter reads (or not valid): read it the
    /// plain way, which says what is wrong.
    Outline,
    /// The source failed, or grew past the size limit.
    Read,
    /// The receiver of the batches asked to stop.
    Stopped,
}

/// Splits the document read from `source` (at most `max` bytes), handing `emit` the
/// entries in batches, in order; `emit` returns false to stop.
pub(crate) fn split(
    source: impl Read,
    max: u64,
    emit: impl FnMut(Batch) -> bool,
) -> Result<Split, GiveUp> {
    let mut splitter = Splitter {
        source,
        max,
        read: 0,
        eof: false,
        buf: BytesMut::new(),
        base: 0,
        keep: 0,
        pending: Vec::new(),
        count: 0,
        emit,
    };
    splitter.document()
}

/// Positions are offsets in the document; `buf` holds the document from `base` on.
struct Splitter<R, F> {
    source: R,
    max: u64,
    read: u64,
    eof: bool,
    buf: BytesMut,
    base: usize,
    /// The earliest position still needed (the start of the token being read).
    keep: usize,
    /// Entries found and not yet handed over.
    pending: Vec<Range<usize>>,
    /// Entries found so far.
    count: usize,
    emit: F,
}

impl<R: Read, F: FnMut(Batch) -> bool> Splitter<R, F> {
    fn end(&self) -> usize {
        self.base + self.buf.len()
    }

    /// Reads more of the document; false at its end. Pending entries are handed over
    /// first and what is no longer needed is dropped, so the window stays small.
    fn fill(&mut self) -> Result<bool, GiveUp> {
        if self.eof {
            return Ok(false);
        }
        self.hand_over()?;
        let drop = self.keep.saturating_sub(self.base).min(self.buf.len());
        let _ = self.buf.split_to(drop);
        self.base += drop;
        let len = self.buf.len();
        self.buf.resize(len + READ, 0);
        let n = loop {
            match self.source.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(GiveUp::Read),
            }
        };
        self.buf.truncate(len + n);
        self.read += n as u64;
        if self.read > self.max {
            return Err(GiveUp::Read);
        }
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// Hands the pending entries over in one batch.
    fn hand_over(&mut self) -> Result<(), GiveUp> {
        let Some(last) = self.pending.last() else {
            return Ok(());
        };
        let cut = last.end - self.base;
        let text = self.buf.split_to(cut).freeze();
        let base = self.base;
        self.base += cut;
        let entries: Vec<Range<usize>> = self
            .pending
            .drain(..)
            .map(|r| r.start - base..r.end - base)
            .collect();
        let batch = Batch {
            first: self.count - entries.len(),
            text,
            entries,
        };
        if (self.emit)(batch) {
            Ok(())
        } else {
            Err(GiveUp::Stopped)
        }
    }

    /// The byte at `at`, reading on when needed; `None` at the end of the document.
    fn byte(&mut self, at: usize) -> Result<Option<u8>, GiveUp> {
        while at >= self.end() {
            if !self.fill()? {
                return Ok(None);
            }
        }
        Ok(Some(self.buf[at - self.base]))
    }

    /// The first byte from `at` on that is not white space, and where it is.
    fn token(&mut self, mut at: usize) -> Result<(usize, Option<u8>), GiveUp> {
        loop {
            self.keep = at;
            match self.byte(at)? {
                Some(b' ' | b'\t' | b'\n' | b'\r') => at += 1,
                other => return Ok((at, other)),
            }
        }
    }

    /// Expects `want` as the next token from `at`; returns the position after it.
    fn expect(&mut self, at: usize, want: u8) -> Result<usize, GiveUp> {
        match self.token(at)? {
            (at, Some(b)) if b == want => Ok(at + 1),
            _ => Err(GiveUp::Outline),
        }
    }

    /// Given the position after a string's opening quote, the position after its
    /// closing one.
    fn string_end(&mut self, mut at: usize) -> Result<usize, GiveUp> {
        loop {
            while at >= self.end() {
                if !self.fill()? {
                    return Err(GiveUp::Outline);
                }
            }
            let rest = &self.buf[at - self.base..];
            match quote_or_escape(rest) {
                Some(i) if rest[i] == b'"' => return Ok(at + i + 1),
                Some(i) => at += i + 2,
                None => at += rest.len(),
            }
        }
    }

    /// Given where a value starts, the position after it.
    fn value_end(&mut self, start: usize) -> Result<usize, GiveUp> {
        self.keep = start;
        match self.byte(start)? {
            Some(b'"') => self.string_end(start + 1),
            Some(b'{' | b'[') => self.container_end(start),
            Some(_) => {
                let mut at = start;
                while let Some(b) = self.byte(at)? {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    at += 1;
                }
                Ok(at)
            }
            None => Err(GiveUp::Outline),
        }
    }

    /// Given where an object or array starts, the position after it, found a block of
    /// the text at a time ([`scan`]).
    fn container_end(&mut self, start: usize) -> Result<usize, GiveUp> {
        let mut container = scan::Container::default();
        let mut at = start;
        loop {
            while at + BLOCK > self.end() {
                if !self.fill()? {
                    break;
                }
            }
            let from = at - self.base;
            let found = match self.buf.get(from..from + BLOCK) {
                Some(block) => {
                    let block = block.try_into().map_err(|_| GiveUp::Outline)?;
                    container.block(block, MAX_DEPTH)
                }
                // The end of the document: the rest, padded with spaces.
                None => {
                    let rest = &self.buf[from..];
                    let mut block = [b' '; BLOCK];
                    block[..rest.len()].copy_from_slice(rest);
                    match container.block(&block, MAX_DEPTH) {
                        Ok(None) => return Err(GiveUp::Outline),
                        found => found,
                    }
                }
            };
            match found {
                Ok(Some(end)) => return Ok(at + end),
                Ok(None) => at += BLOCK,
                Err(scan::TooDeep) => return Err(GiveUp::Outline),
            }
        }
    }

    /// Reads an object's members from just after its `{`, calling `member` with each
    /// key and where its value starts (it returns where the value ends); returns the
    /// position after the closing `}`.
    fn members(
        &mut self,
        mut at: usize,
        mut member: impl FnMut(&mut Self, &[u8], usize) -> Result<usize, GiveUp>,
    ) -> Result<usize, GiveUp> {
        let (first, b) = self.token(at)?;
        if b == Some(b'}') {
            return Ok(first + 1);
        }
        at = first;
        loop {
            let (start, b) = self.token(at)?;
            if b != Some(b'"') {
                return Err(GiveUp::Outline);
            }
            let end = self.string_end(start + 1)?;
            let key = self.buf[start - self.base..end - self.base].to_vec();
            if key.contains(&b'\\') {
                return Err(GiveUp::Outline);
            }
            let colon = self.expect(end, b':')?;
            let (value, _) = self.token(colon)?;
            let after = member(self, &key, value)?;
            match self.token(after)? {
                (next, Some(b',')) => at = next + 1,
                (close, Some(b'}')) => return Ok(close + 1),
                _ => return Err(GiveUp::Outline),
            }
        }
    }

    /// Copies a member the envelope keeps as it is: `key` and the value from `start`.
    fn copy_member(
        &mut self,
        out: &mut Vec<u8>,
        key: &[u8],
        start: usize,
    ) -> Result<usize, GiveUp> {
        let end = self.value_end(start)?;
        if out.last() != Some(&b'{') {
            out.push(b',');
        }
        out.extend_from_slice(key);
        out.push(b':');
        out.extend_from_slice(&self.buf[start - self.base..end - self.base]);
        Ok(end)
    }

    fn document(&mut self) -> Result<Split, GiveUp> {
        let mut at = 0;
        if self.byte(0)? == Some(0xEF) {
            if (self.byte(1)?, self.byte(2)?) != (Some(0xBB), Some(0xBF)) {
                return Err(GiveUp::Outline);
            }
            at = 3;
        }
        at = self.expect(at, b'{')?;
        let mut envelope = b"{".to_vec();
        let mut seen_log = false;
        let end = self.members(at, |me, key, start| {
            if key == b"\"log\"" {
                if std::mem::replace(&mut seen_log, true) {
                    return Err(GiveUp::Outline);
                }
                if envelope.len() > 1 {
                    envelope.push(b',');
                }
                envelope.extend_from_slice(b"\"log\":");
                me.log(&mut envelope, start)
            } else {
                me.copy_member(&mut envelope, key, start)
            }
        })?;
        if !seen_log || self.token(end)?.1.is_some() {
            return Err(GiveUp::Outline);
        }
        envelope.push(b'}');
        Ok(Split {
            envelope,
            entries: self.count,
        })
    }

    fn log(&mut self, envelope: &mut Vec<u8>, start: usize) -> Result<usize, GiveUp> {
        let at = self.expect(start, b'{')?;
        envelope.push(b'{');
        let mut seen_entries = false;
        let end = self.members(at, |me, key, start| {
            if key == b"\"entries\"" {
                if std::mem::replace(&mut seen_entries, true) {
                    return Err(GiveUp::Outline);
                }
                if envelope.last() != Some(&b'{') {
                    envelope.push(b',');
                }
                envelope.extend_from_slice(b"\"entries\":[]");
                me.entries(start)
            } else {
                me.copy_member(envelope, key, start)
            }
        })?;
        if !seen_entries {
            return Err(GiveUp::Outline);
        }
        envelope.push(b'}');
        Ok(end)
    }

    fn entries(&mut self, start: usize) -> Result<usize, GiveUp> {
        let at = self.expect(start, b'[')?;
        let (mut at, b) = self.token(at)?;
        if b == Some(b']') {
            return Ok(at + 1);
        }
        let mut batched = 0;
        loop {
            let end = self.value_end(at)?;
            self.pending.push(at..end);
            self.count += 1;
            batched += end - at;
            if batched >= BATCH {
                self.hand_over()?;
                batched = 0;
            }
            match self.token(end)? {
                (next, Some(b',')) => at = self.token(next + 1)?.0,
                (close, Some(b']')) => {
                    self.hand_over()?;
                    return Ok(close + 1);
                }
                _ => return Err(GiveUp::Outline),
            }
        }
    }
}

/// Where the first `"` or `\\` in `s` is: a word at a time for the first bytes (short
/// strings are the common case), then memchr.
fn quote_or_escape(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut i = 0;
    while i + 8 <= s.len() && i < 32 {
        let word = u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or_default());
        let found = zero_byte(word ^ (ONES * u64::from(b'"')))
            | zero_byte(word ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            return Some(i + found.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    memchr::memchr2(b'"', b'\\', &s[i..]).map(|k| i + k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `text`, reading it `chunk` bytes at a time; returns the envelope and the
    /// entries' texts.
    fn run(text: &[u8], chunk: usize) -> Result<(String, Vec<String>), GiveUp> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut seen = Vec::new();
        let split = split(Trickle(text, chunk), 1 << 30, |batch| {
            assert_eq!(batch.first, seen.len());
            for r in batch.entries {
                seen.push(String::from_utf8(batch.text[r].to_vec()).unwrap());
            }
            true
        })?;
        assert_eq!(split.entries, seen.len());
        Ok((String::from_utf8(split.envelope).unwrap(), seen))
    }

    #[test]
    fn finds_entries_and_keeps_the_rest() {
        let doc = "\u{feff}{\"a\" : [1,{\"x\":\"]\"}], \"log\": {\"version\":\"1.2\",\n\"entries\" : [ {\"request\":{\"url\":\"http://a/\\\"}\"}} ,\n{\"b\":[[],{}]} ],\"comment\":\"c\"}, \"z\":null }\n";
        for chunk in [1, 2, 3, 7, 64, 1 << 20] {
            let (envelope, entries) = run(doc.as_bytes(), chunk).unwrap();
            assert_eq!(
                envelope,
                r#"{"a":[1,{"x":"]"}],"log":{"version":"1.2","entries":[],"comment":"c"},"z":null}"#
            );
            assert_eq!(
                entries,
                [r#"{"request":{"url":"http://a/\"}"}}"#, r#"{"b":[[],{}]}"#]
            );
            let envelope: serde_json::Value = serde_json::from_str(&envelope).unwrap();
            assert_eq!(envelope["log"]["entries"], serde_json::json!([]));
        }
        let (envelope, entries) = run(br#"{"log":{"entries":[]}}"#, 3).unwrap();
        assert_eq!(
            (envelope.as_str(), entries.len()),
            (r#"{"log":{"entries":[]}}"#, 0)
        );
    }

    #[test]
    fn finds_the_first_quote_or_escape() {
        for len in 0..80 {
            for at in 0..len {
                for special in [b'"', b'\\'] {
                    let mut s = vec![b'a'; len];
                    s[at] = special;
                    if at + 1 < len {
                        s[at + 1] = b'"';
                    }
                    assert_eq!(quote_or_escape(&s), Some(at), "{len} {at}");
                }
            }
            assert_eq!(quote_or_escape(&vec![0xFFu8; len]), None);
        }
    }

    #[test]
    fn many_entries_come_in_several_batches_in_order() {
        let entry = format!(r#"{{"t":"{}"}}"#, "x".repeat(1000));
        let doc = format!(
            r#"{{"log":{{"entries":[{}]}}}}"#,
            vec![entry.as_str(); 2000].join(",")
        );
        let mut batches = 0;
        let mut count = 0;
        let split = split(doc.as_bytes(), u64::MAX, |batch| {
            batches += 1;
            assert_eq!(batch.first, count);
            count += batch.entries.len();
            assert!(batch
                .entries
                .iter()
                .all(|r| batch.text[r.clone()] == *entry.as_bytes()));
            true
        })
        .unwrap();
        assert_eq!((split.entries, count), (2000, 2000));
        assert!(batches > 2, "{batches}");
    }

    #[test]
    fn gives_up_on_what_it_does_not_read() {
        for doc in [
            "",
            "[]",
            r#"{"log":{"entries":[]}} x"#,
            r#"{"log":{"entries":[]},"log":{"entries":[]}}"#,
            r#"{"log":{"entries":[],"entries":[]}}"#,
            r#"{"log":{}}"#,
            r#"{"other":1}"#,
            r#"{"l\u006fg":{"entries":[]}}"#,
            r#"{"log":{"entries":[{} {}]}}"#,
            r#"{"log":{"entries":[{"a":"unterminated}]}}"#,
            r#"{"log":{"entries":[{"a":1}"#,
            r#"{"log" {"entries":[]}}"#,
        ] {
            assert!(
                matches!(run(doc.as_bytes(), 5), Err(GiveUp::Outline)),
                "{doc}"
            );
        }
        let deep = format!(
            r#"{{"log":{{"entries":[{}{}]}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(matches!(run(deep.as_bytes(), 64), Err(GiveUp::Outline)));
        let doc = br#"{"log":{"entries":[1,2,3]}}"#;
        assert!(matches!(split(&doc[..], 10, |_| true), Err(GiveUp::Read)));
        assert!(matches!(
            split(&doc[..], 100, |_| false),
            Err(GiveUp::Stopped)
        ));
    }
}
