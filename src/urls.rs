//! URLs: one set of rules for the proxy, replay, the mock and convert.
//!
//! - [`split`]: the parts of an absolute URL (scheme, authority, path, query), without
//!   allocating; every part of harp that looks inside a URL string uses it.
//! - [`authority`] and [`normalise`]: the one normal form of a request URL: lower-case
//!   scheme and host, default port dropped, user info and fragment dropped, empty path as
//!   `/`; path and query are kept byte for byte (so a URL matches what the client sent).
//!   The proxy builds its request URIs with [`authority`], replay keys recorded URLs with
//!   [`normalise`], so the two agree by construction.
//! - [`resolve`]: a `Location` reference against a base URL (RFC 3986, by the `url`
//!   crate).
//! - Postman URLs, which are templates rather than URLs (`{{base}}/users/:id`):
//!   `strip_host`, `query_pairs` and `decode_segment` (by `percent-encoding` and
//!   `form_urlencoded`, never panicking on a bad escape).

/// The parts of an absolute URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    /// As written (`https`, maybe `HTTPS`).
    pub scheme: &'a str,
    /// `host[:port]`, user info removed.
    pub authority: &'a str,
    /// From the first `/` up to `?` or `#`; empty when the URL has none.
    pub path: &'a str,
    /// After `?`, up to `#`.
    pub query: Option<&'a str>,
}

impl<'a> Parts<'a> {
    /// The host, without port (IPv6 literals keep their brackets).
    pub fn host(&self) -> &'a str {
        match self.authority.rfind(':') {
            Some(i) if !self.authority[i..].contains(']') => &self.authority[..i],
            _ => self.authority,
        }
    }

    /// The path and query as a request target (`/` when the path is empty).
    pub fn target(&self) -> String {
        let path = if self.path.is_empty() { "/" } else { self.path };
        match self.query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        }
    }
}

/// The parts of `url` when it is absolute (`scheme://…`); the fragment is dropped.
pub fn split(url: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or("");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    Some(Parts {
        scheme,
        authority,
        path,
        query,
    })
}

/// The port a scheme implies (`http` 80, `https` 443; `ws`/`wss` likewise).
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// The host (IPv6 literals without brackets, for connecting) and port (the scheme's
/// default when absent; 80 for a URI without scheme) of a request URI.
pub(crate) fn host_port(uri: &http::Uri) -> (&str, u16) {
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = uri
        .port_u16()
        .or_else(|| default_port(uri.scheme_str().unwrap_or("http")))
        .unwrap_or(80);
    (host, port)
}

/// `host[:port]` in normal form: lower-case host, `port` left out when it is the
/// scheme's default.
pub fn authority(scheme: &str, host: &str, port: Option<u16>) -> String {
    let host = host.to_ascii_lowercase();
    match port {
        Some(p) if Some(p) != default_port(scheme) => format!("{host}:{p}"),
        _ => host,
    }
}

/// [`normalise`] for an owned URL: returned as it is when already normal.
pub fn normalise_owned(url: String) -> String {
    if is_normal(&url) {
        url
    } else {
        normalise(&url)
    }
}

/// `url` in normal form (see the module notes). Strings that are not absolute URLs are
/// returned unchanged, minus the fragment.
pub fn normalise(url: &str) -> String {
    if is_normal(url) {
        return url.to_string();
    }
    let Some(parts) = split(url) else {
        return url.split('#').next().unwrap_or("").to_string();
    };
    let scheme = parts.scheme.to_ascii_lowercase();
    let host = parts.host();
    let port = parts.authority[host.len()..]
        .strip_prefix(':')
        .and_then(|p| p.parse::<u16>().ok());
    // A port that is not a number stays as written (the URL is odd, not ours to fix).
    let authority = match (port, parts.authority.len() > host.len()) {
        (None, true) => parts.authority.to_ascii_lowercase(),
        _ => authority(&scheme, host, port),
    };
    format!("{scheme}://{authority}{}", parts.target())
}

/// True when [`normalise`] would return `url` unchanged (the common case: URLs as
/// browsers and harp write them), checked without allocating.
fn is_normal(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let default_port = match scheme {
        "https" | "wss" => authority.ends_with(":443"),
        "http" | "ws" => authority.ends_with(":80"),
        _ => false,
    };
    !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
        && !authority
            .bytes()
            .any(|b| b.is_ascii_uppercase() || b == b'@')
        && !default_port
        && tail.starts_with('/')
        && !tail.contains('#')
}

/// Resolves a `Location` value against the absolute URL `base` (absolute, scheme-relative,
/// absolute-path and relative references; dot segments removed; fragment dropped), in
/// normal form. None when `base` is not a URL or `location` cannot be resolved.
pub fn resolve(base: &str, location: &str) -> Option<String> {
    let base = url::Url::parse(base).ok()?;
    let mut target = base.join(location.trim()).ok()?;
    target.set_fragment(None);
    Some(normalise(target.as_str()))
}

/// The path of a Postman-style URL: drops `scheme://host[:port]`, or a leading host
/// without scheme (`{{url}}/x`, `localhost:3000/x`); `/` when nothing follows the host.
pub(crate) fn strip_host(url: &str) -> &str {
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None if url.starts_with('/') => return url,
        None => url,
    };
    match rest.find('/') {
        Some(i) => &rest[i..],
        None => "/",
    }
}

/// Decoded `key=value` pairs of a query string (`+` as space, bad escapes kept).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One path segment, percent-decoded (invalid escapes and non-UTF-8 bytes kept as
/// they are, never a panic).
pub(crate) fn decode_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_absolute_urls_only() {
        let p = split("HTTPS://u:p@X.test:8443/a/b?c=1&d#frag").unwrap();
        assert_eq!(p.scheme, "HTTPS");
        assert_eq!(p.authority, "X.test:8443");
        assert_eq!(p.host(), "X.test");
        assert_eq!(p.path, "/a/b");
        assert_eq!(p.query, Some("c=1&d"));
        let p = split("http://[::1]:3000?x").unwrap();
        assert_eq!((p.host(), p.path, p.target()), ("[::1]", "", "/?x".into()));
        assert_eq!(split("http://[::1]/").unwrap().host(), "[::1]");
        assert_eq!(split("/users/1"), None);
        assert_eq!(split("{{base}}/users"), None);
    }

    #[test]
    fn normalises_like_the_proxy() {
        for (url, want) in [
            ("HTTP://Example.COM:80", "http://example.com/"),
            ("https://x.test:8443/a?b#c", "https://x.test:8443/a?b"),
            ("https://x.test?q", "https://x.test/?q"),
            ("https://user:pw@x.test/", "https://x.test/"),
            ("https://x.test:443/A/B?C=D", "https://x.test/A/B?C=D"),
            ("wss://x.test:443/socket", "wss://x.test/socket"),
            ("/users/*", "/users/*"),
            ("https://x.test:port/a", "https://x.test:port/a"),
        ] {
            assert_eq!(normalise(url), want, "{url}");
        }
        assert_eq!(authority("https", "API.test", Some(443)), "api.test");
        assert_eq!(authority("http", "api.test", Some(8080)), "api.test:8080");
    }

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
            "ws://x.test:80/",
        ] {
            let fast = is_normal(url);
            let full = normalise(url);
            assert_eq!(fast, full == url, "{url} -> {full}");
        }
    }

    #[test]
    fn resolves_locations() {
        let u = "https://a.test/x/y";
        assert_eq!(
            resolve(u, "HTTPS://B.test:443/p#frag").as_deref(),
            Some("https://b.test/p")
        );
        assert_eq!(
            resolve(u, "//c.test/p").as_deref(),
            Some("https://c.test/p")
        );
        assert_eq!(resolve(u, "../up").as_deref(), Some("https://a.test/up"));
        assert_eq!(
            resolve(u, "?q=2").as_deref(),
            Some("https://a.test/x/y?q=2")
        );
        assert_eq!(resolve(u, "z").as_deref(), Some("https://a.test/x/z"));
        assert_eq!(
            resolve(u, "/a/./b/../c").as_deref(),
            Some("https://a.test/a/c")
        );
        assert_eq!(resolve("not a url", "/x"), None);
    }

    #[test]
    fn postman_helpers_never_panic() {
        assert_eq!(strip_host("{{base}}/users/:id"), "/users/:id");
        assert_eq!(strip_host("localhost:3000"), "/");
        assert_eq!(strip_host("/a"), "/a");
        assert_eq!(decode_segment("a%20b%zz%"), "a b%zz%");
        assert_eq!(decode_segment("%xé%e9"), "%xé\u{fffd}");
        assert_eq!(
            query_pairs("a=1&b=x+y&c"),
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into())
            ]
        );
    }
}
