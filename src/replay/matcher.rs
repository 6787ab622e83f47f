//! The matching rules, as pure functions over prepared entries and an incoming request:
//! Playwright's `routeFromHAR` rules (exact URL + method, body equality with multipart
//! boundaries ignored, most matching headers, earliest on ties, fetch's redirect method
//! changes), then harp's (complete entries beat incomplete ones, ordered sequences).

use bytes::Bytes;

use crate::har::format::REDACTED;
use crate::rules::Canon;

/// A request as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// Upper-case method.
    pub method: &'a str,
    /// Absolute URL, normalised as the proxy does.
    pub url: &'a str,
    /// Headers, names lower-case.
    pub headers: &'a [(String, String)],
    /// The whole body.
    pub body: &'a [u8],
    /// The body reduced by the rules (JSON by value, forms as pairs...); `None`: compare
    /// bytes only.
    pub canon: Option<&'a Canon>,
}

/// What the matcher needs to know about a recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method as recorded.
    pub method: String,
    /// URL as recorded (normalised, fragment removed).
    pub url: String,
    /// Headers, names lower-case, minus those the rules ignore.
    pub headers: Vec<(String, String)>,
    /// The recorded body, when the entry has `postData` with content.
    pub body: Option<Bytes>,
    /// The recorded body reduced by the rules, when the entry has `postData` (text or
    /// only `params`).
    pub canon: Option<Canon>,
    /// True when the exchange never completed.
    pub incomplete: bool,
}

/// Rule 2: when the request has a body and the entry recorded one, they must match:
/// equal bytes, or equal once reduced by the rules ([`Canon`]: multipart without its
/// boundary, JSON by value with ignored fields removed and GraphQL queries normalised,
/// forms as key/value lists). An entry that recorded only form `params` is compared on
/// those. (Playwright checks POST only and compares bytes; harp checks every method that
/// carries a body, so PUT/PATCH with different bodies are told apart too.)
pub(crate) fn body_matches(entry: &Recorded, incoming: &Asked<'_>) -> bool {
    let Some(recorded) = &entry.canon else {
        return true;
    };
    if incoming.body.is_empty() || entry.body.as_deref() == Some(incoming.body) {
        return true;
    }
    incoming
        .canon
        .is_some_and(|theirs| recorded.matches(theirs))
}

/// Rule 3: how many recorded headers appear with the same value (name case-insensitive,
/// value exact) in the request. Redacted values never count, nor do headers the rules
/// ignore (the index leaves them out of [`Recorded::headers`]).
fn matching_headers(entry: &Recorded, incoming: &Asked<'_>) -> usize {
    entry
        .headers
        .iter()
        .filter(|(name, value)| {
            value != REDACTED
                && incoming
                    .headers
                    .iter()
                    .any(|(n, v)| n == name && v == value)
        })
        .count()
}

/// Picks among `candidates` (entry indices in recorded order, already filtered by URL,
/// method and body): complete entries beat incomplete ones; then, in sequence mode, the
/// `served`-th (the last one repeating); otherwise the most matching headers, earliest on
/// ties.
pub fn choose(
    entries: &[Recorded],
    candidates: &[usize],
    incoming: &Asked<'_>,
    served: Option<usize>,
) -> Option<usize> {
    let complete: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| !entries[i].incomplete)
        .collect();
    let pool: &[usize] = if complete.is_empty() {
        candidates
    } else {
        &complete
    };
    if pool.is_empty() {
        return None;
    }
    if let Some(n) = served {
        return Some(pool[n.min(pool.len() - 1)]);
    }
    let mut best = pool[0];
    let mut best_score = matching_headers(&entries[best], incoming);
    for &i in &pool[1..] {
        let score = matching_headers(&entries[i], incoming);
        if score > best_score {
            best = i;
            best_score = score;
        }
    }
    Some(best)
}

/// Statuses that redirect.
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Rule 4: the next request of a redirect: `location` resolved against `url`, and the
/// method changed as fetch does (301/302 after POST and 303 after anything but GET/HEAD
/// become GET).
pub(crate) fn redirect_step(
    url: &str,
    method: &str,
    status: u16,
    location: &str,
) -> Option<(String, String)> {
    if !is_redirect(status) {
        return None;
    }
    let target = crate::urls::resolve(url, location)?;
    let method = if ((status == 301 || status == 302) && method == "POST")
        || (status == 303 && method != "GET" && method != "HEAD")
    {
        "GET".to_string()
    } else {
        method.to_string()
    };
    Some((method, target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;

    fn rec(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Recorded {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let ct = headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map_or("", |(_, v)| v.as_str());
        Recorded {
            method: method.into(),
            url: url.into(),
            canon: body.map(|b| Canon::of(ct, b, &Rules::default())),
            headers,
            body: body.map(Bytes::copy_from_slice),
            incomplete: false,
        }
    }

    fn hdrs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn body_check(entry: &Recorded, content_type: &str, body: &[u8]) -> bool {
        let headers = hdrs(&[("content-type", content_type)]);
        let canon = Canon::of(content_type, body, &Rules::default());
        body_matches(
            entry,
            &Asked {
                method: "POST",
                url: "http://x/",
                headers: &headers,
                body,
                canon: Some(&canon),
            },
        )
    }

    #[test]
    fn bodies_must_match_when_both_sides_have_one() {
        let entry = rec("POST", "http://x/", &[], Some(b"{\"a\":1}"));
        assert!(body_check(&entry, "application/json", b"{\"a\":1}"));
        assert!(
            body_check(&entry, "application/json", b"{ \"a\": 1 }"),
            "JSON by value"
        );
        assert!(!body_check(&entry, "application/json", b"{\"a\":2}"));
        assert!(body_check(&entry, "", b""), "no request body: no check");
        let no_body = rec("POST", "http://x/", &[], None);
        assert!(
            body_check(&no_body, "text/plain", b"anything"),
            "entry without postData: no check"
        );
    }

    #[test]
    fn multipart_boundaries_are_ignored() {
        let ours = "multipart/form-data; boundary=----AAA";
        let theirs = "multipart/form-data; boundary=\"----BBB\"";
        let entry = rec(
            "POST",
            "http://x/up",
            &[("content-type", ours)],
            Some(b"------AAA\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n------AAA--\r\n"),
        );
        assert!(body_check(
            &entry,
            theirs,
            b"------BBB\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n------BBB--\r\n"
        ));
        assert!(!body_check(
            &entry,
            theirs,
            b"------BBB\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nX\r\n------BBB--\r\n"
        ));
    }

    #[test]
    fn most_matching_headers_win_earliest_on_ties_redacted_never_count() {
        let entries = vec![
            rec("GET", "u", &[("accept", "text/html")], None),
            rec(
                "GET",
                "u",
                &[("accept", "application/json"), ("x-v", "2")],
                None,
            ),
            rec(
                "GET",
                "u",
                &[("accept", "application/json"), ("x-v", "2")],
                None,
            ),
            rec(
                "GET",
                "u",
                &[("authorization", REDACTED), ("accept", "text/html")],
                None,
            ),
        ];
        let headers = hdrs(&[("accept", "application/json"), ("x-v", "2")]);
        let req = Asked {
            method: "GET",
            url: "u",
            headers: &headers,
            body: b"",
            canon: None,
        };
        assert_eq!(choose(&entries, &[0, 1, 2], &req, None), Some(1));
        let headers = hdrs(&[("accept", "image/png")]);
        let req = Asked {
            headers: &headers,
            ..req
        };
        assert_eq!(
            choose(&entries, &[0, 1, 2], &req, None),
            Some(0),
            "no header matches: earliest"
        );
        let headers = hdrs(&[("authorization", REDACTED), ("accept", "text/html")]);
        let req = Asked {
            headers: &headers,
            ..req
        };
        assert_eq!(
            choose(&entries, &[0, 3], &req, None),
            Some(0),
            "a redacted value does not score"
        );
    }

    #[test]
    fn complete_entries_beat_incomplete_and_sequences_repeat_the_last() {
        let mut entries = vec![
            rec("GET", "u", &[], None),
            rec("GET", "u", &[], None),
            rec("GET", "u", &[], None),
        ];
        entries[0].incomplete = true;
        let req = Asked {
            method: "GET",
            url: "u",
            headers: &[],
            body: b"",
            canon: None,
        };
        assert_eq!(choose(&entries, &[0, 1, 2], &req, None), Some(1));
        assert_eq!(
            choose(&entries, &[0], &req, None),
            Some(0),
            "only incomplete: still chosen (served as an error)"
        );
        assert_eq!(choose(&entries, &[0, 1, 2], &req, Some(0)), Some(1));
        assert_eq!(choose(&entries, &[0, 1, 2], &req, Some(1)), Some(2));
        assert_eq!(choose(&entries, &[0, 1, 2], &req, Some(7)), Some(2));
        assert_eq!(choose(&entries, &[], &req, None), None);
    }

    #[test]
    fn redirects_follow_fetch_method_rules() {
        let u = "https://a.test/x/y?q=1";
        assert_eq!(
            redirect_step(u, "POST", 302, "/z"),
            Some(("GET".into(), "https://a.test/z".into()))
        );
        assert_eq!(
            redirect_step(u, "POST", 301, "z"),
            Some(("GET".into(), "https://a.test/x/z".into()))
        );
        assert_eq!(
            redirect_step(u, "POST", 307, "z"),
            Some(("POST".into(), "https://a.test/x/z".into()))
        );
        assert_eq!(
            redirect_step(u, "PUT", 303, "z"),
            Some(("GET".into(), "https://a.test/x/z".into()))
        );
        assert_eq!(
            redirect_step(u, "HEAD", 303, "z"),
            Some(("HEAD".into(), "https://a.test/x/z".into()))
        );
        assert_eq!(
            redirect_step(u, "PUT", 302, "z"),
            Some(("PUT".into(), "https://a.test/x/z".into()))
        );
        assert_eq!(redirect_step(u, "GET", 200, "z"), None);
    }
}
