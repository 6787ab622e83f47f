//! What a recording keeps of each entry: its JSON, once. An entry journalled is kept as
//! where its line lies in the journal (sixteen bytes), not in memory; an entry the journal
//! could not take, or one the recording started from, as its compact JSON. At the end the
//! HAR is written from that JSON, laid out as the pretty writer would, without parsing
//! it back.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[cfg(test)]
use crate::har::journal::Line;
use crate::har::journal::{JournalReader, Span};
use crate::har::write_har_entries;
use crate::har::{self, attach_entry, Creator, Entry, Har, HarError, Journal, Log, Storage};

/// One recorded entry: its order key and where its JSON is.
#[derive(Debug)]
pub(super) struct Kept {
    /// Earlier entries (appending) first, then arrival order.
    pub(super) id: u64,
    pub(super) at: Place,
    /// The JSON embeds a body that attached storage moves to a payload file.
    pub(super) embedded: bool,
}

/// Where an entry's compact JSON is.
#[derive(Debug)]
pub(super) enum Place {
    Memory(Box<[u8]>),
    Journal(Span),
}

/// Reads kept entries' JSON (from memory or the journal).
pub(super) struct Source<'a> {
    reader: Option<JournalReader>,
    journal: Option<&'a Journal>,
    buf: Vec<u8>,
}

impl<'a> Source<'a> {
    pub(super) fn new(journal: Option<&'a Journal>) -> Self {
        Self {
            reader: None,
            journal,
            buf: Vec::new(),
        }
    }

    /// The JSON of `kept`.
    pub(super) fn json<'b>(&'b mut self, kept: &'b Kept) -> Result<&'b [u8], HarError> {
        match &kept.at {
            Place::Memory(json) => Ok(json),
            Place::Journal(span) => {
                if self.reader.is_none() {
                    let journal = self.journal.ok_or_else(|| HarError::Journal {
                        path: PathBuf::from("(the recording's journal)"),
                        reason: "entries are in a journal that was closed".into(),
                    })?;
                    self.reader = Some(journal.reader()?);
                }
                let reader = self.reader.as_mut().expect("opened above");
                reader.read(*span, &mut self.buf)?;
                Ok(&self.buf)
            }
        }
    }
}

/// Everything a recording recorded, taken out of it at its end, with the journal that
/// holds it.
pub struct Recorded {
    /// In start order.
    kept: Vec<Kept>,
    journal: Option<Journal>,
    /// The HAR's folder (payload files).
    dir: PathBuf,
}

impl Recorded {
    pub(super) fn new(mut kept: Vec<Kept>, journal: Option<Journal>, dir: PathBuf) -> Self {
        kept.sort_by_key(|k| k.id);
        Self { kept, journal, dir }
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The entries, parsed (for what needs to look at them: dropping retried attempts,
    /// listing payload files).
    pub fn entries(&self) -> Result<Vec<Entry>, HarError> {
        let mut source = Source::new(self.journal.as_ref());
        let mut entries = Vec::with_capacity(self.kept.len());
        for (index, kept) in self.kept.iter().enumerate() {
            let json = source.json(kept)?;
            entries.push(parse(json, index)?);
        }
        Ok(entries)
    }

    /// Writes the HAR at `path` in the `storage` layout; returns how many entries it
    /// holds. Embedded and attached HARs are written straight from the kept JSON (an
    /// entry whose body is still embedded is attached first); an archive needs every
    /// body in hand, so its entries are parsed.
    pub fn save(&self, path: &Path, storage: Storage) -> Result<usize, HarError> {
        if storage == Storage::Zip {
            let har = har_of(self.entries()?);
            har::save(path, &har, storage)?;
            return Ok(self.kept.len());
        }
        let mut source = Source::new(self.journal.as_ref());
        write_har_entries(path, &har_of(Vec::new()), |out| {
            for (index, kept) in self.kept.iter().enumerate() {
                let json = source.json(kept)?;
                if storage == Storage::Attach && kept.embedded {
                    let mut entry = parse(json, index)?;
                    attach_entry(&mut entry, &self.dir).map_err(|e| HarError::Entry {
                        path: path.to_path_buf(),
                        index,
                        reason: e.to_string(),
                    })?;
                    out.push(&compact(&entry))?;
                } else {
                    out.push(json)?;
                }
            }
            Ok(())
        })?;
        Ok(self.kept.len())
    }

    /// Deletes the journal (once the HAR is safely written).
    pub fn remove_journal(self) -> Result<(), HarError> {
        match self.journal {
            Some(journal) => journal.remove(),
            None => Ok(()),
        }
    }
}

/// A HAR by harp holding `entries`.
pub(super) fn har_of(entries: Vec<Entry>) -> Har {
    Har {
        log: Log {
            creator: Creator::default(),
            entries,
            ..Log::default()
        },
        extra: Default::default(),
    }
}

/// An entry's compact JSON.
pub(super) fn compact(entry: &Entry) -> Vec<u8> {
    let mut json = Vec::with_capacity(2048);
    crate::har::compact::write_entry(&mut json, entry);
    json
}

fn parse(json: &[u8], index: usize) -> Result<Entry, HarError> {
    serde_json::from_slice(json).map_err(|e| HarError::Entry {
        path: PathBuf::from("(the recording)"),
        index,
        reason: format!("kept entry unreadable: {e}"),
    })
}

/// What the inspector lists of a recorded entry.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Summary {
    pub(super) started_date_time: String,
    pub(super) request: SummaryRequest,
    pub(super) response: SummaryResponse,
}

#[derive(Deserialize)]
pub(super) struct SummaryRequest {
    pub(super) method: String,
    pub(super) url: String,
}

#[derive(Deserialize)]
pub(super) struct SummaryResponse {
    pub(super) status: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, body: &str) -> Entry {
        serde_json::from_value(serde_json::json!({
            "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": [],
                        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                         "headers": [], "cookies": [], "redirectURL": "", "headersSize": -1,
                         "bodySize": -1, "content": {"size": 3, "mimeType": "text/plain", "text": body}},
            "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}
        }))
        .unwrap()
    }

    #[test]
    fn saves_from_memory_and_journal_in_start_order_as_the_pretty_writer() {
        let dir = tempfile::tempdir().unwrap();
        let har_path = dir.path().join("r.har");
        let journal = Journal::create(&har_path, Storage::Embed, false).unwrap();
        let (a, b, c) = (
            entry("http://a/1", "one"),
            entry("http://a/2", "two"),
            entry("http://a/3", "three"),
        );
        let spans = journal
            .append_all(&[&Line::new(2, &c), &Line::new(0, &a)])
            .unwrap();
        let kept = vec![
            Kept {
                id: 2,
                at: Place::Journal(spans[0]),
                embedded: true,
            },
            Kept {
                id: 1,
                at: Place::Memory(compact(&b).into()),
                embedded: true,
            },
            Kept {
                id: 0,
                at: Place::Journal(spans[1]),
                embedded: true,
            },
        ];
        let recorded = Recorded::new(kept, Some(journal), dir.path().into());
        assert_eq!(recorded.save(&har_path, Storage::Embed).unwrap(), 3);
        let want = dir.path().join("want.har");
        har::write_har(&want, &har_of(vec![a.clone(), b.clone(), c.clone()])).unwrap();
        assert_eq!(
            std::fs::read(&har_path).unwrap(),
            std::fs::read(&want).unwrap()
        );
        let urls: Vec<String> = recorded
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.request.url)
            .collect();
        assert_eq!(urls, ["http://a/1", "http://a/2", "http://a/3"]);

        // Attached: the embedded bodies become payload files on the way.
        let attached = dir.path().join("attached.har");
        recorded.save(&attached, Storage::Attach).unwrap();
        let har: Har = serde_json::from_slice(&std::fs::read(&attached).unwrap()).unwrap();
        for e in &har.log.entries {
            let file = e.response.content.file.as_ref().expect("attached");
            assert!(dir.path().join(file).is_file());
            assert!(e.response.content.text.is_none());
        }
        recorded.remove_journal().unwrap();
        assert!(!dir.path().join("r.har.harp-journal").exists());
    }
}
