//! Header rules of forwarding, in one place: hop-by-hop headers (RFC 9110 §7.6.1) never
//! cross harp; `te: trailers` does (gRPC needs it); `Host` is dropped because the URI
//! carries the authority (hyper then writes `Host` for HTTP/1.1 and `:authority` for h2:
//! sending both is what nginx rejects with "client sent duplicate host header"); an
//! `Upgrade: h2c` offer is dropped (harp speaks h2 to the upstream by ALPN or not at all);
//! `Trailer` is kept, since HTTP/1.1 peers only send trailers it announces.

use http::header::{self, HeaderMap, HeaderName};

const HOP_BY_HOP: &[HeaderName] = &[
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Headers as (name, value) text pairs in order, values decoded lossily: how matching,
/// diagnostics and the inspector see them.
pub(crate) fn to_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The comma-separated tokens of every `name` header, trimmed (`Connection: keep-alive,
/// Upgrade` gives `keep-alive` and `Upgrade`).
pub(crate) fn tokens(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// Removes hop-by-hop headers, including those the `Connection` header names, and any
/// `TE` other than `trailers`.
pub(super) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = tokens(headers, header::CONNECTION)
        .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
        .filter(|name| name != header::TE && name != header::TRAILER)
        .collect();
    for name in named.iter().chain(HOP_BY_HOP) {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
    headers.remove("http2-settings");
    let wants_trailers = tokens(headers, header::TE).any(|t| t.eq_ignore_ascii_case("trailers"));
    headers.remove(header::TE);
    if wants_trailers {
        headers.insert(header::TE, http::HeaderValue::from_static("trailers"));
    }
}

/// A request head as it goes upstream (the URI is absolute).
pub(super) fn for_upstream(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
    headers.remove(header::HOST);
}

/// A response head as it goes back to the client.
pub(super) fn for_client(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
    headers.remove(header::TE);
}

/// True when `name` never describes the message itself (hop-by-hop or proxy-only), so a
/// recording or a replayed answer leaves it out.
pub(crate) fn is_transport(name: &str) -> bool {
    const TRANSPORT: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "transfer-encoding",
        "te",
        "upgrade",
        "http2-settings",
    ];
    TRANSPORT.iter().any(|t| t.eq_ignore_ascii_case(name))
}

/// True when `name` is meant for the proxy itself (`Proxy-Authorization`,
/// `Proxy-Connection`): it never reaches the server, nor a recording of the request.
pub(crate) fn is_proxy_only(name: &str) -> bool {
    name.eq_ignore_ascii_case("proxy-authorization")
        || name.eq_ignore_ascii_case("proxy-connection")
}

/// True when `name` describes one transfer of a body rather than the resource: the
/// transport headers above and `content-length`. A replayed or mocked answer leaves
/// these out and lets the server side compute them for the bytes it sends.
pub(crate) fn is_framing(name: &str) -> bool {
    is_transport(name) || name.eq_ignore_ascii_case("content-length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn strips_listed_and_named_headers() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("proxy-connection", "keep-alive"),
            ("content-type", "text/plain"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("content-type"));
    }

    #[test]
    fn upstream_keeps_te_trailers_and_drops_host_and_h2c() {
        let mut h = map(&[
            ("host", "example.com"),
            ("te", "trailers"),
            ("connection", "Upgrade, HTTP2-Settings, TE"),
            ("upgrade", "h2c"),
            ("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA"),
            ("trailer", "x-checksum"),
            ("content-type", "application/grpc"),
        ]);
        for_upstream(&mut h);
        assert_eq!(h["te"], "trailers");
        assert_eq!(h["trailer"], "x-checksum");
        for gone in ["host", "upgrade", "http2-settings", "connection"] {
            assert!(!h.contains_key(gone), "{gone}");
        }
        let mut h = map(&[("te", "gzip, deflate")]);
        for_upstream(&mut h);
        assert!(!h.contains_key("te"));
    }

    #[test]
    fn transport_names() {
        assert!(is_transport("Transfer-Encoding"));
        assert!(!is_transport("content-type"));
        assert!(is_framing("Content-Length") && is_framing("connection"));
        assert!(!is_framing("content-encoding"));
    }
}
