//! What replay and mock keep about the calls they serve, bounded: the size of the call
//! log, the length of URLs kept, and paging of `/__harp/calls`.

/// Most calls kept for `/__harp/calls` (the oldest are dropped first). With URLs and
/// differences clipped to [`MAX_URL_TEXT`] the log stays under ~60 MB.
const CALL_LOG_SIZE: usize = 10_000;

/// Calls per page of `/__harp/calls` unless `?limit=` says otherwise (at most
/// [`CALL_LOG_SIZE`]).
const DEFAULT_CALLS_PAGE: usize = 1_000;

/// Longest URL kept in diagnostics, call logs and summaries (longer ones are clipped
/// with `…`), so a flood of huge unmatched URLs cannot grow harp's memory.
pub const MAX_URL_TEXT: usize = 1024;

/// The last [`CALL_LOG_SIZE`] calls, oldest first, shared by the tasks that serve.
pub(crate) struct CallLog<T> {
    calls: std::sync::Mutex<std::collections::VecDeque<T>>,
}

impl<T> Default for CallLog<T> {
    fn default() -> Self {
        Self {
            calls: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }
}

impl<T: Clone> CallLog<T> {
    /// Adds a call, dropping the oldest past [`CALL_LOG_SIZE`].
    pub(crate) fn push(&self, call: T) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        if calls.len() == CALL_LOG_SIZE {
            calls.pop_front();
        }
        calls.push_back(call);
    }

    /// The newest call for which `pred` holds.
    pub(crate) fn find(&self, pred: impl Fn(&T) -> bool) -> Option<T> {
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.iter().rev().find(|c| pred(c)).cloned()
    }

    /// `limit` calls after skipping `offset`, and how many the log holds.
    pub(crate) fn page(&self, offset: usize, limit: usize) -> (Vec<T>, usize) {
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        (
            calls.iter().skip(offset).take(limit).cloned().collect(),
            calls.len(),
        )
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), marked with `…`.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `?offset=&limit=` of a call-log request (defaults 0 and [`DEFAULT_CALLS_PAGE`]).
pub(crate) fn page_of(uri: &http::Uri) -> (usize, usize) {
    let mut offset = 0;
    let mut limit = DEFAULT_CALLS_PAGE;
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "offset" => offset = v.parse().unwrap_or(0),
            "limit" => limit = v.parse().unwrap_or(DEFAULT_CALLS_PAGE).min(CALL_LOG_SIZE),
            _ => {}
        }
    }
    (offset, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_long_text_on_character_boundaries() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("ééé", 3), "é…");
    }

    #[test]
    fn pages() {
        assert_eq!(
            page_of(&"/__harp/calls".parse().unwrap()),
            (0, DEFAULT_CALLS_PAGE)
        );
        assert_eq!(
            page_of(&"/__harp/calls?offset=5&limit=2".parse().unwrap()),
            (5, 2)
        );
        assert_eq!(
            page_of(&"/x?limit=99999999".parse().unwrap()).1,
            CALL_LOG_SIZE
        );
    }
}
