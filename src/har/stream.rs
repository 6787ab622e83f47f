//! Reading a HAR one entry at a time: each entry is handed over with its bodies as soon
//! as it is parsed, then dropped, so loading a large HAR never holds its whole typed
//! model (replay builds its index this way: peak memory is the file's text and the
//! index, not the text, the model and the index).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::lenient::Object;
use super::reader::{self, Payloads};
use super::{journal, Entry, Har, HarError, Log, ReadLimits};

/// An entry's bodies as the client saw them.
#[derive(Debug, Clone, Default)]
pub struct EntryBodies {
    /// The response body (decoded content, or the payload file's bytes).
    pub response: Bytes,
    /// The request body, when the entry has `postData`.
    pub request: Option<Bytes>,
}

/// What is left of a streamed HAR.
#[derive(Debug)]
pub struct Streamed {
    /// The document without its entries.
    pub har: Har,
    /// How many entries were handed over.
    pub entries: usize,
    /// How many exchanges a leftover journal contributed, when one was folded in.
    pub recovered: Option<usize>,
}

/// Reads `path` (folding in a leftover journal first, as [`super::read_har_file`]
/// does), handing `each` every entry with its bodies, in file order. An error from
/// `each` stops the reading and is returned as it is.
pub fn stream_har_file(
    path: &Path,
    limits: &ReadLimits,
    mut each: impl FnMut(usize, Entry, EntryBodies) -> Result<(), HarError>,
) -> Result<Streamed, HarError> {
    let recovered = journal::recover(path)?;
    let (json, mut source) = reader::stored_json(path, limits)?;
    let mut payloads: HashMap<String, Bytes> = HashMap::new();
    let mut with_bodies = |index: usize, entry: Entry| -> Result<(), HarError> {
        let bodies = bodies_of(path, index, &entry, &mut source, &mut payloads)?;
        each(index, entry, bodies)
    };
    let bytes = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&json);
    let mut failed = None;
    let mut count = 0;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read = HarSeed(Entries {
        each: &mut with_bodies,
        failed: &mut failed,
        count: &mut count,
    })
    .deserialize(&mut de)
    .and_then(|har| de.end().map(|()| har));
    match read {
        Ok(har) => Ok(Streamed {
            har,
            entries: count,
            recovered,
        }),
        Err(err) => Err(match failed {
            Some(failed) => failed,
            None => reader::json_error(bytes, path, err),
        }),
    }
}

/// The bodies of entry `index`, reading any payload file it names (once per name).
fn bodies_of(
    path: &Path,
    index: usize,
    entry: &Entry,
    source: &mut Payloads,
    payloads: &mut HashMap<String, Bytes>,
) -> Result<EntryBodies, HarError> {
    reader::load_entry_payloads(path, index, entry, source, payloads)?;
    let post = entry.request.post_data.as_ref();
    let content = &entry.response.content;
    let response = reader::body_from(
        path,
        index,
        payloads,
        content.file.as_deref(),
        content.text.as_deref(),
        content.encoding.as_deref(),
    )?;
    let request = post
        .map(|p| {
            reader::body_from(
                path,
                index,
                payloads,
                p.file.as_deref(),
                p.text.as_deref(),
                p.encoding.as_deref(),
            )
        })
        .transpose()?;
    Ok(EntryBodies { response, request })
}

/// Where parsed entries go.
struct Entries<'a, F> {
    each: &'a mut F,
    /// The error `each` returned, which stopped the parse.
    failed: &'a mut Option<HarError>,
    count: &'a mut usize,
}

/// The document, its entries streamed.
struct HarSeed<'a, F>(Entries<'a, F>);

impl<'de, F> DeserializeSeed<'de> for HarSeed<'_, F>
where
    F: FnMut(usize, Entry) -> Result<(), HarError>,
{
    type Value = Har;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Har, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F> Visitor<'de> for HarSeed<'_, F>
where
    F: FnMut(usize, Entry) -> Result<(), HarError>,
{
    type Value = Har;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HAR document (an object with a `log`)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Har, A::Error> {
        let mut har = Har::default();
        let mut entries = Some(self.0);
        let mut has_log = false;
        while let Some(key) = map.next_key::<String>()? {
            match (key.as_str(), entries.take()) {
                ("log", Some(entries)) => {
                    har.log = map.next_value_seed(LogSeed(entries))?;
                    has_log = true;
                }
                (_, taken) => {
                    entries = taken;
                    let value: Value = map.next_value()?;
                    har.extra.insert(key, value);
                }
            }
        }
        if !has_log {
            return Err(de::Error::missing_field("log"));
        }
        Ok(har)
    }
}

/// The `log` object, its entries streamed.
struct LogSeed<'a, F>(Entries<'a, F>);

impl<'de, F> DeserializeSeed<'de> for LogSeed<'_, F>
where
    F: FnMut(usize, Entry) -> Result<(), HarError>,
{
    type Value = Log;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Log, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F> Visitor<'de> for LogSeed<'_, F>
where
    F: FnMut(usize, Entry) -> Result<(), HarError>,
{
    type Value = Log;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the `log` object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Log, A::Error> {
        let mut log = Log::default();
        let mut entries = Some(self.0);
        let mut has_entries = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "entries" {
                if let Some(entries) = entries.take() {
                    map.next_value_seed(entries)?;
                    has_entries = true;
                    continue;
                }
            }
            log.field(&key, &mut map)?;
        }
        if !has_entries {
            return Err(de::Error::missing_field("entries"));
        }
        Ok(log)
    }
}

impl<'de, F> DeserializeSeed<'de> for Entries<'_, F>
where
    F: FnMut(usize, Entry) -> Result<(), HarError>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F> Visitor<'de> for Entries<'_, F>
where
    F: FnMut(usize, Entry) -> Result<(), HarError>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<Entry>()? {
            let index = *self.count;
            *self.count += 1;
            if let Err(err) = (self.each)(index, entry) {
                *self.failed = Some(err);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_entries_with_their_bodies_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.har");
        std::fs::write(dir.path().join("p.bin"), b"from a file").unwrap();
        std::fs::write(
            &path,
            r#"{"log":{"version":"1.2","_x":1,"entries":[
              {"request":{"method":"POST","url":"http://a/","postData":{"mimeType":"text/plain","text":"hi"}},
               "response":{"status":200,"content":{"text":"aGVsbG8=","encoding":"base64"}}},
              {"request":{"method":"GET","url":"http://a/f"},
               "response":{"status":200,"content":{"_file":"p.bin"}}}],
              "comment":"c"},"_top":2}"#,
        )
        .unwrap();
        let mut seen = Vec::new();
        let streamed = stream_har_file(&path, &ReadLimits::default(), |i, e, b| {
            seen.push((i, e.request.url, b.response, b.request));
            Ok(())
        })
        .unwrap();
        assert_eq!(streamed.entries, 2);
        assert_eq!(seen[0].2, "hello");
        assert_eq!(seen[0].3.as_deref(), Some(&b"hi"[..]));
        assert_eq!(
            (seen[1].1.as_str(), &seen[1].2[..]),
            ("http://a/f", &b"from a file"[..])
        );
        assert!(streamed.har.log.entries.is_empty());
        assert_eq!(streamed.har.log.extra["_x"], 1);
        assert_eq!(streamed.har.log.comment.as_deref(), Some("c"));
        assert_eq!(streamed.har.extra["_top"], 2);
    }

    #[test]
    fn errors_name_the_entry_or_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.har");
        std::fs::write(
            &path,
            r#"{"log":{"entries":[{"request":{},"response":{"content":{"_file":"gone.bin"}}}]}}"#,
        )
        .unwrap();
        let err = stream_har_file(&path, &ReadLimits::default(), |_, _, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains("gone.bin"), "{err}");
        std::fs::write(&path, r#"{"log":{"entries":[{"request":{}}]}}"#).unwrap();
        let err = stream_har_file(&path, &ReadLimits::default(), |_, _, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains("response"), "{err}");
        std::fs::write(
            &path,
            r#"{"log":{"entries":[{"request":{},"response":{}}]}} x"#,
        )
        .unwrap();
        assert!(stream_har_file(&path, &ReadLimits::default(), |_, _, _| Ok(())).is_err());
        let stop = stream_har_file(&path, &ReadLimits::default(), |index, _, _| {
            Err(HarError::Entry {
                path: "p".into(),
                index,
                reason: "mine".into(),
            })
        });
        assert!(stop.unwrap_err().to_string().contains("mine"));
    }
}
