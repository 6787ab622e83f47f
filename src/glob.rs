//! URL globs with Playwright's semantics, compiled with globset.
//!
//! `*` matches within one path segment (never `/`), `**` matches any characters,
//! `{a,b}` matches either alternative, and `?`, `[` and `]` are literal characters
//! (so query strings can be written as they are). A backslash escapes the next
//! character. The glob is matched against the whole URL.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// A glob that globset refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid --url glob {glob:?}: {reason}")]
pub struct GlobError {
    /// The glob as the user wrote it.
    pub glob: String,
    /// Why it was refused.
    pub reason: String,
}

/// A set of URL globs; a URL matches when any glob does. An empty set matches everything.
#[derive(Debug, Clone)]
pub struct UrlGlobs {
    /// The compiled set; `None` when no glob was given.
    set: Option<GlobSet>,
}

impl UrlGlobs {
    /// Compiles `globs`; an empty list matches every URL.
    pub fn new<S: AsRef<str>>(globs: &[S]) -> Result<Self, GlobError> {
        if globs.is_empty() {
            return Ok(Self { set: None });
        }
        let mut builder = GlobSetBuilder::new();
        for glob in globs {
            let glob = glob.as_ref();
            let compiled = GlobBuilder::new(&translate(&normalise(glob)))
                .literal_separator(true)
                .backslash_escape(true)
                .empty_alternates(true)
                .build()
                .map_err(|e| GlobError {
                    glob: glob.to_string(),
                    reason: e.kind().to_string(),
                })?;
            builder.add(compiled);
        }
        let set = builder.build().map_err(|e| GlobError {
            glob: globs
                .iter()
                .map(|g| g.as_ref())
                .collect::<Vec<_>>()
                .join(" "),
            reason: e.to_string(),
        })?;
        Ok(Self { set: Some(set) })
    }

    /// True when `url` matches one of the globs (or no glob was given).
    pub(crate) fn is_match(&self, url: &str) -> bool {
        match &self.set {
            None => true,
            Some(set) => set.is_match(url),
        }
    }
}

/// Normalises the literal parts of a glob the way Playwright does by URL-parsing a glob
/// that does not start with `*`: a literal scheme and host are lower-cased, a default
/// port (`:80` for http/ws, `:443` for https/wss) is dropped, an empty path becomes `/`,
/// and spaces, `"`, `<`, `>`, `` ` `` and non-ASCII characters in the path and query are
/// percent-encoded as browsers send them. Globs starting with `*`, and `data:`,
/// `about:`, `file:` and the like, are left as written.
pub fn normalise(glob: &str) -> String {
    if glob.starts_with('*') {
        return glob.to_string();
    }
    let Some((scheme, rest)) = glob.split_once("://") else {
        return glob.to_string();
    };
    let literal = |s: &str| !s.contains(['*', '{', '}', '\\', '?', '[', ']']);
    let scheme = if literal(scheme) {
        scheme.to_ascii_lowercase()
    } else {
        scheme.to_string()
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut authority = if authority.contains('\\') {
        authority.to_string()
    } else {
        authority.to_ascii_lowercase()
    };
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(":80"),
        "https" | "wss" => Some(":443"),
        _ => None,
    };
    if let Some(port) = default_port {
        if authority.ends_with(port) && literal(&authority[..authority.len() - port.len()]) {
            authority.truncate(authority.len() - port.len());
        }
    }
    let tail = match tail {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    let mut encoded = String::with_capacity(tail.len());
    for c in tail.chars() {
        match c {
            ' ' | '"' | '<' | '>' | '`' => encoded.push_str(&format!("%{:02X}", c as u32)),
            c if !c.is_ascii() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    encoded.push_str(&format!("%{b:02X}"));
                }
            }
            c => encoded.push(c),
        }
    }
    format!("{scheme}://{authority}{encoded}")
}

/// Rewrites a Playwright glob into globset syntax: `?`, `[` and `]` become literals, and
/// a `**` that is not a whole segment (as in `**.example.com`) becomes globset's
/// recursive `**` by being split off with its own separators where possible, or else
/// `*` runs that may cross `/` are expressed as `{**/,}*`-free equivalents.
fn translate(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() + 8);
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                out.push('\\');
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            ']' => out.push_str("[]]"),
            '*' => {
                let mut stars = 1;
                while i + stars < chars.len() && chars[i + stars] == '*' {
                    stars += 1;
                }
                if stars == 1 {
                    out.push('*');
                } else {
                    let before = if i == 0 { None } else { Some(chars[i - 1]) };
                    let after = chars.get(i + stars).copied();
                    let whole_segment =
                        matches!(before, None | Some('/')) && matches!(after, None | Some('/'));
                    if whole_segment {
                        out.push_str("**");
                    } else {
                        // `**` glued to other text: any characters, `/` included. globset only
                        // crosses `/` with a whole-segment `**`, so spell it as "anything in
                        // this segment, or anything up to a later `/` and then anything".
                        out.push_str("{*,**/*}");
                    }
                }
                i += stars;
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Conformance table: (glob, url, expected).
    const CASES: &[(&str, &str, bool)] = &[
        ("**/api/**", "https://localhost:8443/api/users", true),
        ("**/api/**", "http://example.com/api/", true),
        ("**/api/**", "http://example.com/v1/api/x/y?z=1", true),
        ("**/api/**", "http://example.com/apis/x", false),
        ("**/api/*", "http://example.com/api/users", true),
        ("**/api/*", "http://example.com/api/users/1", false),
        ("https://example.com/*", "https://example.com/a", true),
        ("https://example.com/*", "https://example.com/a/b", false),
        ("https://example.com/**", "https://example.com/a/b/c", true),
        ("http://localhost:*/x", "http://localhost:8080/x", true),
        (
            "**/*.{png,jpg}",
            "https://cdn.example.com/img/logo.png",
            true,
        ),
        (
            "**/*.{png,jpg}",
            "https://cdn.example.com/img/logo.jpg",
            true,
        ),
        (
            "**/*.{png,jpg}",
            "https://cdn.example.com/img/logo.gif",
            false,
        ),
        ("**/search?q=*", "https://example.com/search?q=rust", true),
        ("**/search?q=*", "https://example.com/searchXq=rust", false),
        ("**/search?q=*", "https://example.com/search", false),
        ("**/a[1]", "https://example.com/a[1]", true),
        ("**/a[1]", "https://example.com/a1", false),
        (
            "https://**.example.com/x",
            "https://api.example.com/x",
            true,
        ),
        (
            "https://**.example.com/x",
            "https://a.b.example.com/x",
            true,
        ),
        ("**", "https://anything/at/all?x=1", true),
        (
            "https://example.com/users/\\*",
            "https://example.com/users/*",
            true,
        ),
        (
            "https://example.com/users/\\*",
            "https://example.com/users/1",
            false,
        ),
    ];

    #[test]
    fn playwright_glob_conformance() {
        for (glob, url, expected) in CASES {
            let globs = UrlGlobs::new(&[*glob]).unwrap();
            assert_eq!(
                globs.is_match(url),
                *expected,
                "glob {glob:?} vs {url:?} (translated {:?})",
                translate(glob)
            );
        }
    }

    /// Playwright URL-parses the literal parts of a glob; harp normalises them the same
    /// way: (glob, url, expected).
    const NORMALISED: &[(&str, &str, bool)] = &[
        ("http://localhost:3000", "http://localhost:3000/", true),
        (
            "http://localhost:3000?a=1",
            "http://localhost:3000/?a=1",
            true,
        ),
        (
            "HTTP://LocalHost:3000/api/*",
            "http://localhost:3000/api/x",
            true,
        ),
        ("https://Example.COM/Path", "https://example.com/Path", true),
        (
            "https://Example.COM/Path",
            "https://example.com/path",
            false,
        ),
        ("http://example.com:80/a", "http://example.com/a", true),
        ("https://example.com:443/a", "https://example.com/a", true),
        (
            "https://example.com:8443/a",
            "https://example.com:8443/a",
            true,
        ),
        ("http://x.test/a b/*", "http://x.test/a%20b/c", true),
        ("http://x.test/caf\u{e9}", "http://x.test/caf%C3%A9", true),
        ("http://*.Example.com/**", "http://api.example.com/x", true),
        ("http*://example.com/", "https://example.com/", true),
        ("**/API/**", "http://x.test/api/1", false),
        ("data:text/plain,hi", "data:text/plain,hi", true),
    ];

    #[test]
    fn globs_normalise_like_playwright() {
        for (glob, url, expected) in NORMALISED {
            let globs = UrlGlobs::new(&[*glob]).unwrap();
            assert_eq!(
                globs.is_match(url),
                *expected,
                "glob {glob:?} vs {url:?} (normalised {:?})",
                normalise(glob)
            );
        }
    }

    #[test]
    fn empty_set_matches_all_and_any_glob_suffices() {
        assert!(UrlGlobs::new::<&str>(&[]).unwrap().is_match("http://x/"));
        let globs = UrlGlobs::new(&["**/a/**", "**/b/**"]).unwrap();
        assert!(globs.is_match("http://x/b/1"));
        assert!(!globs.is_match("http://x/c/1"));
    }

    #[test]
    fn bad_glob_is_named() {
        let err = UrlGlobs::new(&["http://x/{a,b"]).unwrap_err();
        assert!(err.to_string().contains("http://x/{a,b"), "{err}");
    }
}
