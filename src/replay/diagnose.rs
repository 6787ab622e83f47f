//! Near-miss diagnostics for unmatched requests: the recorded entries closest to the
//! request, and how each differs (method, scheme, host, path, query, body).

use serde::Serialize;

use super::matcher::{body_matches, Incoming, Recorded};

/// A recorded entry close to an unmatched request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NearMiss {
    /// Index of the entry in the HAR.
    pub entry: usize,
    /// Its method.
    pub method: String,
    /// Its URL.
    pub url: String,
    /// How it differs from the request, most telling first.
    pub differences: Vec<String>,
}

struct Parts<'a> {
    scheme: &'a str,
    host: &'a str,
    path: &'a str,
    query: Vec<&'a str>,
}

fn split(url: &str) -> Parts<'_> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(host_end);
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let mut query: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    query.sort_unstable();
    Parts {
        scheme,
        host,
        path,
        query,
    }
}

/// Compares one entry with the request: a distance (0 would be a match) and the
/// differences in words.
fn compare(entry: &Recorded, req: &Incoming<'_>) -> (u32, Vec<String>) {
    let mut distance = 0;
    let mut diffs = Vec::new();
    let (a, b) = (split(&entry.url), split(req.url));
    if a.host != b.host {
        distance += 8;
        diffs.push(format!("host {} (request: {})", a.host, b.host));
    }
    if a.scheme != b.scheme {
        distance += 2;
        diffs.push(format!("scheme {} (request: {})", a.scheme, b.scheme));
    }
    if a.path != b.path {
        // Same shape with one segment changed (an id) is nearer than a shorter or longer path.
        let (sa, sb): (Vec<&str>, Vec<&str>) =
            (a.path.split('/').collect(), b.path.split('/').collect());
        let differing = sa.iter().zip(&sb).filter(|(x, y)| x != y).count();
        distance += 2 + differing as u32 + 2 * sa.len().abs_diff(sb.len()) as u32;
        diffs.push(format!("path {} (request: {})", a.path, b.path));
    }
    if a.query != b.query {
        let missing: Vec<&str> = a
            .query
            .iter()
            .filter(|p| !b.query.contains(p))
            .copied()
            .collect();
        let extra: Vec<&str> = b
            .query
            .iter()
            .filter(|p| !a.query.contains(p))
            .copied()
            .collect();
        distance += (missing.len() + extra.len()) as u32;
        let mut text = String::from("query");
        if !missing.is_empty() {
            text.push_str(&format!(" recorded {}", missing.join("&")));
        }
        if !extra.is_empty() {
            text.push_str(&format!(
                "{} request has {}",
                if missing.is_empty() { "" } else { ";" },
                extra.join("&")
            ));
        }
        if missing.is_empty() && extra.is_empty() {
            text.push_str(" parameter order");
        }
        diffs.push(text);
    }
    if entry.method != req.method {
        distance += 3;
        diffs.push(format!("method {} (request: {})", entry.method, req.method));
    }
    if !body_matches(entry, req) {
        distance += 2;
        let recorded = entry.body.as_ref().map_or(0, Vec::len);
        diffs.push(format!(
            "body ({recorded} bytes recorded, {} sent, contents differ)",
            req.body.len()
        ));
    }
    if diffs.is_empty() {
        diffs.push("nothing but the order of use (all matching entries were used)".into());
    }
    (distance, diffs)
}

/// The `n` recorded entries nearest to `req`, nearest first (earliest on ties).
pub fn nearest(entries: &[Recorded], req: &Incoming<'_>, n: usize) -> Vec<NearMiss> {
    let mut scored: Vec<(u32, usize, Vec<String>)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (d, diffs) = compare(e, req);
            (d, i, diffs)
        })
        .collect();
    scored.sort_by_key(|(d, i, _)| (*d, *i));
    scored
        .into_iter()
        .take(n)
        .map(|(_, i, differences)| NearMiss {
            entry: i,
            method: entries[i].method.clone(),
            url: entries[i].url.clone(),
            differences,
        })
        .collect()
}

/// The 502 body for an unmatched request.
pub fn unmatched_text(req: &Incoming<'_>, har: &str, near: &[NearMiss]) -> String {
    let mut text = format!(
        "harp: no entry in {har} matches {} {}\n",
        req.method, req.url
    );
    if near.is_empty() {
        text.push_str("the HAR has no entries\n");
    } else {
        text.push_str("nearest entries:\n");
        for m in near {
            text.push_str(&format!(
                "  #{} {} {}\n    differs in: {}\n",
                m.entry,
                m.method,
                m.url,
                m.differences.join("; ")
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(method: &str, url: &str, body: Option<&[u8]>) -> Recorded {
        Recorded {
            method: method.into(),
            url: url.into(),
            headers: vec![],
            body: body.map(<[u8]>::to_vec),
            incomplete: false,
        }
    }

    #[test]
    fn names_the_closest_entries_and_what_differs() {
        let entries = vec![
            rec("GET", "https://api.test/users?page=2", None),
            rec("GET", "https://other.test/users?page=3", None),
            rec("POST", "https://api.test/users?page=3", Some(b"{}")),
            rec("GET", "https://api.test/orders", None),
        ];
        let req = Incoming {
            method: "GET",
            url: "https://api.test/users?page=3",
            headers: &[],
            body: b"",
        };
        let near = nearest(&entries, &req, 3);
        assert_eq!(near[0].entry, 0);
        assert_eq!(
            near[0].differences,
            vec!["query recorded page=2; request has page=3"]
        );
        assert_eq!(near[1].entry, 2);
        assert_eq!(near[1].differences, vec!["method POST (request: GET)"]);
        assert_eq!(near[2].entry, 3);
        let text = unmatched_text(&req, "x.har", &near);
        assert!(text.contains("#0 GET https://api.test/users?page=2"));

        let req = Incoming {
            method: "POST",
            url: "https://api.test/users?page=3",
            headers: &[],
            body: b"[1]",
        };
        let near = nearest(&entries, &req, 1);
        assert_eq!(near[0].entry, 2);
        assert!(near[0].differences[0].starts_with("body (2 bytes recorded, 3 sent"));

        let ids = vec![
            rec("GET", "https://api.test/users", None),
            rec("GET", "https://api.test/users/1", None),
        ];
        let by_id = Incoming {
            method: "GET",
            url: "https://api.test/users/9",
            headers: &[],
            body: b"",
        };
        assert_eq!(
            nearest(&ids, &by_id, 1)[0].entry,
            1,
            "same shape, one id changed"
        );
    }
}
