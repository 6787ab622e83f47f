//! Retried requests keep their last attempt: when a request was sent again after an
//! attempt that failed, the failed attempt is dropped from the recording (`harp run
//! --update`), so a flaky moment while recording does not become a fixture.
//!
//! Two entries are the same request when method, URL (normalised) and request body
//! (text, file or form parameters) are equal. An attempt failed when it got no response
//! (status 0: refused, time-out, TLS) or a status that invites a retry: 408, 429 or 5xx.
//! Only failed attempts followed by the same request are dropped; the last attempt is
//! kept whatever it got, and a request that was simply repeated (polling) keeps every
//! entry.

use std::collections::HashMap;

use crate::har::Entry;

/// True when a server's `status` invites another try: 408, 429 or 5xx. (`harp fire`
/// retries on the same rule.)
pub fn invites_retry(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// True when an attempt failed: no response at all (status 0), or a status that invites
/// another try.
fn is_failed_attempt(status: i64) -> bool {
    status == 0 || u16::try_from(status).is_ok_and(invites_retry)
}

/// Splits `entries` (in recording order) into the ones kept and the failed attempts
/// that a later identical request superseded; both keep their order.
pub fn drop_failed_retries(entries: Vec<Entry>) -> (Vec<Entry>, Vec<Entry>) {
    let keys: Vec<String> = entries.iter().map(request_key).collect();
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        last.insert(key.as_str(), i);
    }
    let superseded: Vec<bool> = keys
        .iter()
        .zip(&entries)
        .enumerate()
        .map(|(i, (key, entry))| {
            last[key.as_str()] != i && is_failed_attempt(entry.response.status)
        })
        .collect();
    let mut kept = Vec::with_capacity(entries.len());
    let mut dropped = Vec::new();
    for (entry, gone) in entries.into_iter().zip(superseded) {
        if gone {
            dropped.push(entry);
        } else {
            kept.push(entry);
        }
    }
    (kept, dropped)
}

/// What makes two entries the same request.
fn request_key(entry: &Entry) -> String {
    let request = &entry.request;
    let body = request.post_data.as_ref().map(|p| {
        (
            p.text.as_deref().unwrap_or_default(),
            p.file.as_deref().unwrap_or_default(),
            p.params
                .as_ref()
                .map(|v| serde_json::Value::from(v.clone()).to_string())
                .unwrap_or_default(),
        )
    });
    let (text, file, params) = body.unwrap_or_default();
    format!(
        "{} {}\n{}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        crate::urls::normalise(&request.url),
        file,
        params,
        text
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, url: &str, body: Option<&str>, status: i64) -> Entry {
        let mut value = serde_json::json!({
            "startedDateTime": "2026-01-01T00:00:00Z",
            "time": 1,
            "request": {"method": method, "url": url, "httpVersion": "HTTP/1.1",
                "headers": [], "queryString": [], "cookies": [], "headersSize": -1, "bodySize": -1},
            "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                "headers": [], "cookies": [], "content": {"size": 0, "mimeType": ""},
                "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}
        });
        if let Some(text) = body {
            value["request"]["postData"] =
                serde_json::json!({"mimeType": "text/plain", "text": text});
        }
        serde_json::from_value(value).unwrap()
    }

    fn statuses(entries: &[Entry]) -> Vec<i64> {
        entries.iter().map(|e| e.response.status).collect()
    }

    #[test]
    fn failed_attempts_before_the_same_request_go() {
        let entries = vec![
            entry("GET", "http://a.test/x", None, 503),
            entry("GET", "http://a.test/y", None, 200),
            entry("get", "http://A.test:80/x", None, 0),
            entry("GET", "http://a.test/x", None, 200),
        ];
        let (kept, dropped) = drop_failed_retries(entries);
        assert_eq!(statuses(&kept), [200, 200]);
        assert_eq!(statuses(&dropped), [503, 0]);
    }

    #[test]
    fn the_last_attempt_stays_even_when_it_failed_and_repeats_stay() {
        let entries = vec![
            entry("GET", "http://a.test/x", None, 500),
            entry("GET", "http://a.test/x", None, 502),
            entry("GET", "http://a.test/poll", None, 200),
            entry("GET", "http://a.test/poll", None, 200),
            entry("GET", "http://a.test/gone", None, 404),
            entry("GET", "http://a.test/gone", None, 200),
        ];
        let (kept, dropped) = drop_failed_retries(entries);
        assert_eq!(statuses(&kept), [502, 200, 200, 404, 200]);
        assert_eq!(statuses(&dropped), [500]);
    }

    #[test]
    fn a_different_body_is_a_different_request() {
        let entries = vec![
            entry("POST", "http://a.test/pay", Some("{\"n\":1}"), 429),
            entry("POST", "http://a.test/pay", Some("{\"n\":2}"), 200),
            entry("POST", "http://a.test/pay", Some("{\"n\":2}"), 408),
            entry("POST", "http://a.test/pay", Some("{\"n\":2}"), 201),
        ];
        let (kept, dropped) = drop_failed_retries(entries);
        assert_eq!(statuses(&kept), [429, 200, 201]);
        assert_eq!(statuses(&dropped), [408]);
    }
}
