//! Facts of the HAR format shared by every part that reads or writes entries: how times,
//! versions and redacted values are spelled, and how a `request.url` is normalised for
//! comparison.

use std::time::SystemTime;

use http::Version;

/// The value written in place of a redacted header value (and compared as "unknown").
pub const REDACTED: &str = "[REDACTED]";

/// The HAR spelling of an HTTP version.
pub fn version_str(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// ISO 8601 in UTC with milliseconds, as browsers write `startedDateTime`.
pub fn iso8601(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&format).unwrap_or_default()
}

/// Normalises an absolute URL the way the proxy presents requests: lower-case scheme and
/// host, default port removed, empty path as `/`, fragment dropped. Strings that are not
/// absolute URLs are returned unchanged (minus the fragment).
pub fn normalise_url(url: &str) -> String {
    if is_normal(url) {
        return url.to_string();
    }
    let url = url.split('#').next().unwrap_or("");
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let scheme = scheme.to_ascii_lowercase();
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let mut authority = authority.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "https" => Some(":443"),
        "http" => Some(":80"),
        _ => None,
    };
    if let Some(port) = default {
        if authority.ends_with(port) {
            authority.truncate(authority.len() - port.len());
        }
    }
    let tail = if tail.is_empty() {
        "/".to_string()
    } else if tail.starts_with('?') {
        format!("/{tail}")
    } else {
        tail.to_string()
    };
    format!("{scheme}://{authority}{tail}")
}

/// True when [`normalise_url`] would return `url` unchanged (the common case: URLs as
/// browsers and harp write them), checked without allocating.
fn is_normal(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let default_port = match scheme {
        "https" => authority.ends_with(":443"),
        "http" => authority.ends_with(":80"),
        _ => false,
    };
    !scheme.bytes().any(|b| b.is_ascii_uppercase())
        && !authority
            .bytes()
            .any(|b| b.is_ascii_uppercase() || b == b'@')
        && !default_port
        && tail.starts_with('/')
        && !tail.contains('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_agrees_with_the_full_normalisation() {
        for url in [
            "https://x.test/a?b=1",
            "http://x.test:8080/",
            "https://X.test/a",
            "HTTPS://x.test/a",
            "https://x.test:443/a",
            "http://x.test:80",
            "https://x.test",
            "https://x.test?q",
            "https://u:p@x.test/",
            "https://x.test/a#frag",
            "https://x.test/A/B?C=D",
        ] {
            let fast = is_normal(url);
            let full = normalise_url(url);
            assert_eq!(fast, full == url, "{url} -> {full}");
        }
    }
}
