//! Reading a HAR one entry at a time: each entry is handed over with its bodies as soon
//! as it is parsed, then dropped, so loading a large HAR never holds its whole typed
//! model, nor (for a plain file) its whole text: the file is read a window at a time,
//! its entries found by [`super::split`] and parsed on worker threads (replay builds
//! its index this way: peak memory is the index).

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::lenient::{self, Detail, Object};
use super::reader::{self, Payloads};
use super::{heap, journal, split, Entry, Har, HarError, Log, ReadLimits};

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
/// does): `work` gets every entry (read in `detail`) with its bodies, and `each` what
/// `work` made of it, in file order. An error from either stops the reading and is
/// returned as it is. An embedded body is moved out of its entry into the bodies, not
/// copied: `work` sees the entry without `text` where the body was embedded as is.
///
/// `work` runs on several threads while the file is still being read (each entry is
/// parsed there too), and only a window of the file's text is held: peak memory is what
/// `each` keeps, not the file. A document the entry splitter does not follow is read the
/// plain way (whole, on one thread), which reports exactly what is wrong with it.
pub fn stream_har_file<T: Send>(
    path: &Path,
    limits: &ReadLimits,
    detail: Detail,
    work: impl Fn(usize, Entry, EntryBodies) -> Result<T, HarError> + Sync,
    mut each: impl FnMut(usize, T) -> Result<(), HarError>,
) -> Result<Streamed, HarError> {
    let recovered = journal::recover(path)?;
    let (text, payloads) = reader::stored_reader(path, limits)?;
    let store = Mutex::new(Store {
        source: payloads,
        loaded: HashMap::new(),
    });
    let mut delivered = 0;
    let split = parallel(
        path,
        text,
        limits.max_json,
        detail,
        &store,
        &work,
        &mut |i, t| {
            each(i, t)?;
            delivered += 1;
            Ok(())
        },
    )?;
    // The document without its entries (`"entries": []`) reads as any HAR does.
    let envelope = split.and_then(|split| {
        let har = serde_json::from_slice::<Har>(&split.envelope).ok()?;
        Some((har, split.entries))
    });
    let (har, entries) = match envelope {
        Some(read) => read,
        None => {
            // Read the plain way, handing over only what was not handed over yet.
            let store = store.into_inner().unwrap_or_else(|p| p.into_inner());
            whole(path, limits, detail, store, delivered, &work, &mut each)?
        }
    };
    Ok(Streamed {
        har,
        entries,
        recovered,
    })
}

/// Where payload files are read from, and those read so far (each read once).
struct Store {
    source: Payloads,
    loaded: HashMap<String, Bytes>,
}

/// An entry that could not be handed over.
enum Stop {
    /// It did not parse on its own: read the document the plain way.
    Unparsed,
    /// Producing its bodies, or `work`, failed.
    Failed(HarError),
}

/// Splits the document read from `text` and runs `work` on its entries on worker
/// threads, handing the results to `each` in order. Returns the split document, or
/// `None` when it must be read the plain way (after handing over every entry before the
/// place where splitting or parsing gave up).
fn parallel<T: Send>(
    path: &Path,
    text: Box<dyn Read + Send>,
    max: u64,
    detail: Detail,
    store: &Mutex<Store>,
    work: &(impl Fn(usize, Entry, EntryBodies) -> Result<T, HarError> + Sync),
    each: &mut impl FnMut(usize, T) -> Result<(), HarError>,
) -> Result<Option<split::Split>, HarError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let _heap = heap::LargeSteps::begin();
    let cancel = AtomicBool::new(false);
    let (jobs, queue) = mpsc::sync_channel::<(usize, split::Batch)>(workers * 2);
    let queue = Mutex::new(queue);
    let (done, results) = mpsc::channel::<(usize, Vec<Result<T, Stop>>)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done = done.clone();
            let (queue, cancel) = (&queue, &cancel);
            scope.spawn(move || loop {
                let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((seq, batch)) = job else { break };
                let out = if cancel.load(Ordering::Relaxed) {
                    Vec::new()
                } else {
                    lenient::with_detail(detail, || run_batch(path, &batch, store, work))
                };
                if done.send((seq, out)).is_err() {
                    break;
                }
            });
        }
        drop(done);
        let mut order = InOrder::new();
        let mut sent = 0;
        let split = split::split(text, max, |batch| {
            while let Ok((seq, out)) = results.try_recv() {
                order.take(seq, out, each);
            }
            if order.ended.is_some() {
                return false;
            }
            // Blocks while the workers are busy, which bounds the text held.
            let ok = jobs.send((sent, batch)).is_ok();
            sent += 1;
            ok
        });
        drop(jobs);
        for (seq, out) in results.iter() {
            order.take(seq, out, each);
            if order.ended.is_some() {
                cancel.store(true, Ordering::Relaxed);
            }
        }
        match order.ended {
            Some(Ended::Failed(err)) => Err(err),
            Some(Ended::Unparsed) => Ok(None),
            None => Ok(split.ok()),
        }
    })
}

/// Parses the entries of `batch` and runs `work` on them, stopping at the first that
/// fails.
fn run_batch<T>(
    path: &Path,
    batch: &split::Batch,
    store: &Mutex<Store>,
    work: &impl Fn(usize, Entry, EntryBodies) -> Result<T, HarError>,
) -> Vec<Result<T, Stop>> {
    // The batch's text is checked as UTF-8 once, so that the parser need not check
    // every string it reads (each entry starts and ends with ASCII, at a character
    // boundary). Text that is not UTF-8 is parsed as bytes, and fails there.
    let text = std::str::from_utf8(&batch.text).ok();
    let mut out = Vec::with_capacity(batch.entries.len());
    for (k, range) in batch.entries.iter().enumerate() {
        let index = batch.first + k;
        let parsed = match text {
            Some(text) => serde_json::from_str::<Entry>(&text[range.clone()]),
            None => serde_json::from_slice::<Entry>(&batch.text[range.clone()]),
        };
        let made = match parsed {
            Err(_) => Err(Stop::Unparsed),
            Ok(mut entry) => shared_bodies(path, index, &mut entry, store)
                .and_then(|bodies| work(index, entry, bodies))
                .map_err(Stop::Failed),
        };
        let stop = made.is_err();
        out.push(made);
        if stop {
            break;
        }
    }
    out
}

/// The bodies of entry `index`; the store is locked only for an entry naming a payload
/// file.
fn shared_bodies(
    path: &Path,
    index: usize,
    entry: &mut Entry,
    store: &Mutex<Store>,
) -> Result<EntryBodies, HarError> {
    let names_file = entry.response.content.file.is_some()
        || entry
            .request
            .post_data
            .as_ref()
            .is_some_and(|p| p.file.is_some());
    if !names_file {
        return bodies_of(path, index, entry, &HashMap::new());
    }
    let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
    let Store { source, loaded } = &mut *store;
    reader::load_entry_payloads(path, index, entry, source, loaded)?;
    bodies_of(path, index, entry, loaded)
}

/// How the hand-over ended early.
enum Ended {
    Unparsed,
    Failed(HarError),
}

/// Hands batch results over in order, whatever order they finish in.
struct InOrder<T> {
    next: usize,
    waiting: std::collections::BTreeMap<usize, Vec<Result<T, Stop>>>,
    index: usize,
    ended: Option<Ended>,
}

impl<T> InOrder<T> {
    fn new() -> Self {
        Self {
            next: 0,
            waiting: Default::default(),
            index: 0,
            ended: None,
        }
    }

    fn take(
        &mut self,
        seq: usize,
        out: Vec<Result<T, Stop>>,
        each: &mut impl FnMut(usize, T) -> Result<(), HarError>,
    ) {
        self.waiting.insert(seq, out);
        while let Some(out) = self.waiting.remove(&self.next) {
            self.next += 1;
            for made in out {
                if self.ended.is_some() {
                    return;
                }
                let index = self.index;
                self.index += 1;
                self.ended = match made.map(|t| each(index, t)) {
                    Ok(Ok(())) => None,
                    Ok(Err(err)) | Err(Stop::Failed(err)) => Some(Ended::Failed(err)),
                    Err(Stop::Unparsed) => Some(Ended::Unparsed),
                };
            }
        }
    }
}

/// Reads the whole text at `path` and parses it in one piece on this thread, handing
/// over entries from `skip` on; returns the document without its entries and their
/// count.
fn whole<T>(
    path: &Path,
    limits: &ReadLimits,
    detail: Detail,
    mut store: Store,
    skip: usize,
    work: &impl Fn(usize, Entry, EntryBodies) -> Result<T, HarError>,
    each: &mut impl FnMut(usize, T) -> Result<(), HarError>,
) -> Result<(Har, usize), HarError> {
    let (json, _) = reader::stored_json(path, limits)?;
    let mut with_bodies = |index: usize, mut entry: Entry| -> Result<(), HarError> {
        if index < skip {
            return Ok(());
        }
        reader::load_entry_payloads(path, index, &entry, &mut store.source, &mut store.loaded)?;
        let bodies = bodies_of(path, index, &mut entry, &store.loaded)?;
        each(index, work(index, entry, bodies)?)
    };
    let bytes = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&json);
    let mut failed = None;
    let mut count = 0;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read = HarSeed(Entries {
        each: &mut with_bodies,
        failed: &mut failed,
        count: &mut count,
        detail,
    })
    .deserialize(&mut de)
    .and_then(|har| de.end().map(|()| har));
    match read {
        Ok(har) => Ok((har, count)),
        Err(err) => Err(match failed {
            Some(failed) => failed,
            None => reader::json_error(bytes, path, err),
        }),
    }
}

/// The bodies of entry `index`, its payload files already in `loaded`; an embedded
/// body that needs no decoding is moved out of the entry.
fn bodies_of(
    path: &Path,
    index: usize,
    entry: &mut Entry,
    loaded: &HashMap<String, Bytes>,
) -> Result<EntryBodies, HarError> {
    let content = &mut entry.response.content;
    let response = take_body(
        path,
        index,
        loaded,
        content.file.as_deref(),
        &mut content.text,
        content.encoding.as_deref(),
    )?;
    let request = entry
        .request
        .post_data
        .as_mut()
        .map(|p| {
            take_body(
                path,
                index,
                loaded,
                p.file.as_deref(),
                &mut p.text,
                p.encoding.as_deref(),
            )
        })
        .transpose()?;
    Ok(EntryBodies { response, request })
}

/// A body as [`reader::body_from`] produces it, the text moved out when it is the body
/// as it is.
fn take_body(
    path: &Path,
    index: usize,
    loaded: &HashMap<String, Bytes>,
    file: Option<&str>,
    text: &mut Option<String>,
    encoding: Option<&str>,
) -> Result<Bytes, HarError> {
    let plain = file.is_none() && encoding.is_none_or(|e| e.trim().is_empty());
    match text.take() {
        Some(text) if plain => Ok(Bytes::from(text.into_bytes())),
        taken => {
            *text = taken;
            reader::body_from(path, index, loaded, file, text.as_deref(), encoding)
        }
    }
}

/// Where parsed entries go.
struct Entries<'a, F> {
    each: &'a mut F,
    /// How much of each entry is read.
    detail: Detail,
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
        while let Some(entry) = lenient::with_detail(self.detail, || seq.next_element::<Entry>())? {
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
        let streamed = stream_har_file(
            &path,
            &ReadLimits::default(),
            Detail::Whole,
            |i, e, b| Ok((i, e.request.url, b.response, b.request)),
            |_, made| {
                seen.push(made);
                Ok(())
            },
        )
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
        let read = |text: &str| {
            std::fs::write(&path, text).unwrap();
            stream_har_file(
                &path,
                &ReadLimits::default(),
                Detail::Whole,
                |_, _, _| Ok(()),
                |_, ()| Ok(()),
            )
        };
        let err = read(
            r#"{"log":{"entries":[{"request":{},"response":{"content":{"_file":"gone.bin"}}}]}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("gone.bin"), "{err}");
        let err = read(r#"{"log":{"entries":[{"request":{}}]}}"#).unwrap_err();
        assert!(err.to_string().contains("response"), "{err}");
        assert!(read(r#"{"log":{"entries":[{"request":{},"response":{}}]}} x"#).is_err());
        let stop = stream_har_file(
            &path,
            &ReadLimits::default(),
            Detail::Whole,
            |index, _, _| -> Result<(), _> {
                Err(HarError::Entry {
                    path: "p".into(),
                    index,
                    reason: "mine".into(),
                })
            },
            |_, ()| Ok(()),
        );
        assert!(stop.unwrap_err().to_string().contains("mine"));
    }

    /// A HAR of `n` entries, entry `bad` (if any) missing its response.
    fn many(n: usize, bad: Option<usize>) -> String {
        let entries: Vec<String> = (0..n)
            .map(|i| {
                let response = if Some(i) == bad {
                    String::new()
                } else {
                    format!(
                        r#","response":{{"status":200,"_error":"","_other":[1],"cookies":[{{"name":"c"}}],"content":{{"text":"{{\"n\":{i}}}","_harpEncoded":true}}}}"#
                    )
                };
                format!(
                    r#"{{"startedDateTime":"t{i}","_skip":{{"a":1}},"request":{{"method":"GET","url":"http://a/{i}","queryString":[{{"name":"q","value":"1"}}]}}{response}}}"#
                )
            })
            .collect();
        format!(
            r#"{{"log":{{"version":"1.2","entries":[{}]}}}}"#,
            entries.join(",")
        )
    }

    #[test]
    fn many_entries_arrive_once_each_in_order_in_either_detail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.har");
        std::fs::write(&path, many(5000, None)).unwrap();
        for detail in [Detail::Whole, Detail::Serving(&["_harpEncoded"])] {
            let mut seen = Vec::new();
            let streamed = stream_har_file(
                &path,
                &ReadLimits::default(),
                detail,
                |i, e, b| Ok((i, e, b.response)),
                |i, (j, e, body)| {
                    assert_eq!(i, j);
                    seen.push((e, body));
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!((streamed.entries, seen.len()), (5000, 5000));
            assert_eq!(streamed.har.log.version, "1.2");
            for (i, (e, body)) in seen.iter().enumerate() {
                assert_eq!(e.started_date_time, format!("t{i}"));
                assert_eq!(*body, format!("{{\"n\":{i}}}"));
                // The body is moved out of the entry, not copied.
                assert_eq!(e.response.content.text, None);
                assert!(e.response.content.extra.contains_key("_harpEncoded"));
                let whole = detail == Detail::Whole;
                assert_eq!(e.response.cookies.len(), usize::from(whole));
                assert_eq!(e.request.query_string.len(), usize::from(whole));
                assert_eq!(e.extra.contains_key("_skip"), whole);
                assert_eq!(e.response.extra.contains_key("_other"), whole);
            }
        }
    }

    #[test]
    fn a_bad_entry_deep_in_a_large_file_is_named_and_nothing_is_handed_over_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.har");
        std::fs::write(&path, many(5000, Some(3777))).unwrap();
        let mut seen = Vec::new();
        let err = stream_har_file(
            &path,
            &ReadLimits::default(),
            Detail::Whole,
            |i, _, _| Ok(i),
            |i, j| {
                assert_eq!(i, j);
                seen.push(i);
                Ok(())
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("response"), "{err}");
        assert_eq!(seen, (0..3777).collect::<Vec<_>>());
        // A broken outline after good entries: the plain reading reports it.
        let text = many(3000, None);
        std::fs::write(&path, &text[..text.len() - 2]).unwrap();
        seen.clear();
        let err = stream_har_file(
            &path,
            &ReadLimits::default(),
            Detail::Whole,
            |i, _, _| Ok(i),
            |i, _| {
                seen.push(i);
                Ok(())
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert_eq!(seen, (0..3000).collect::<Vec<_>>());
    }
}
