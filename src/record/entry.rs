//! Turning one finished exchange into a HAR entry: pure, no I/O.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Version};
use serde_json::{json, Value};

use crate::codec;
use crate::har::format::{iso8601, version_str, REDACTED};
use crate::har::{encode_text, encode_text_owned};
use crate::har::{Content, Entry, Extra, Header, PostData, Request, Response, Timings};
use crate::rules::Rules;

/// How much detail an entry keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Everything: timings, cookies, sizes, server address.
    #[default]
    Full,
    /// Only what replay needs, for small stable diffs: no timings, cookies, sizes or
    /// server address.
    Minimal,
}

/// What happens to bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentPolicy {
    /// Bodies inside the HAR: text as is, binary as base64.
    #[default]
    Embed,
    /// No bodies at all (sizes and MIME types are kept).
    Omit,
}

/// Options for building entries.
#[derive(Debug, Clone)]
pub struct EntryOptions {
    /// Detail level.
    pub mode: Mode,
    /// Body policy.
    pub content: ContentPolicy,
    /// Cap on a decoded response body (decompression bombs).
    pub max_decoded: u64,
    /// Header names (lower case) whose values are replaced by [`REDACTED`] in what is
    /// written, in requests and responses; `cookie` also redacts the parsed cookies.
    pub redact: Vec<String>,
    /// The rules: query parameters and JSON fields (request and response bodies) whose
    /// values are replaced by [`REDACTED`].
    pub rules: Arc<Rules>,
}

/// Headers redacted unless `--no-default-redact` is given. `set-cookie` keeps each
/// cookie's name and attributes; only its value is replaced.
pub const DEFAULT_REDACT: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

impl Default for EntryOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Full,
            content: ContentPolicy::Embed,
            max_decoded: 256 * 1024 * 1024,
            redact: DEFAULT_REDACT.iter().map(|h| h.to_string()).collect(),
            rules: Arc::default(),
        }
    }
}

/// The request side of an exchange, as the client sent it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// The client's HTTP version.
    pub version: Version,
    /// Headers as received.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

/// The response side, as the upstream sent it (body still content-encoded).
#[derive(Debug, Clone)]
pub struct ResponseRecord {
    /// Status.
    pub status: StatusCode,
    /// The upstream's HTTP version.
    pub version: Version,
    /// Headers as received.
    pub headers: HeaderMap,
    /// The whole body as received (after transfer decoding, before content decoding).
    pub body: Bytes,
}

/// One exchange, finished or failed.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// When the request arrived.
    pub started: SystemTime,
    /// The request.
    pub request: RequestRecord,
    /// The response, or why there is none.
    pub response: Result<ResponseRecord, String>,
    /// Milliseconds from sending to the response head.
    pub wait_ms: f64,
    /// Milliseconds reading the response body.
    pub receive_ms: f64,
    /// The server's address.
    pub server_ip: Option<IpAddr>,
}

/// Builds the HAR entry for `x`. The response body's buffer becomes the entry's text
/// when it is embedded as it came and the buffer is not shared: no copy is made (the
/// tap's joined body of several frames is such a buffer).
pub(crate) fn to_entry(x: Exchange, opts: &EntryOptions) -> Entry {
    let full = opts.mode == Mode::Full;
    let (response, failed) = match x.response {
        Ok(resp) => (response_of(resp, opts), false),
        Err(reason) => (failed_response(&reason), true),
    };
    let (time, timings) = if full {
        let receive = if failed { -1.0 } else { round3(x.receive_ms) };
        let wait = round3(x.wait_ms);
        let timings = Timings {
            blocked: Some(-1.0),
            dns: Some(-1.0),
            connect: Some(-1.0),
            send: 0.0,
            wait,
            receive,
            ssl: Some(-1.0),
            ..Timings::default()
        };
        (round3(wait + receive.max(0.0)), timings)
    } else {
        (0.0, Timings::default())
    };
    Entry {
        pageref: None,
        started_date_time: iso8601(x.started),
        time,
        request: request_of(&x.request, opts),
        response,
        cache: Value::Object(Default::default()),
        timings,
        server_ip_address: if full {
            x.server_ip.map(|ip| ip.to_string())
        } else {
            None
        },
        connection: None,
        comment: None,
        extra: Extra::new(),
    }
}

fn request_of(req: &RequestRecord, opts: &EntryOptions) -> Request {
    let full = opts.mode == Mode::Full;
    let query = req
        .url
        .split_once('?')
        .map(|(_, q)| q.split_once('#').map_or(q, |(q, _)| q))
        .unwrap_or("");
    let rules = &opts.rules;
    let query_string = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let v = if rules.redacts_query(&k) {
                REDACTED.into()
            } else {
                v
            };
            Header::new(k, v)
        })
        .collect();
    let mime = header_str(&req.headers, header::CONTENT_TYPE).unwrap_or("");
    let body = redact_json_body(rules, mime, &req.body);
    let post_data = (!body.is_empty() || req.headers.contains_key(header::CONTENT_TYPE))
        .then(|| post_data_of(&body, mime, opts));
    Request {
        method: req.method.to_string(),
        url: rules
            .redact_url(&req.url)
            .unwrap_or_else(|| req.url.clone()),
        http_version: version_str(req.version).to_string(),
        cookies: if full {
            request_cookies(&req.headers, opts)
        } else {
            Vec::new()
        },
        headers: headers_of(&req.headers, opts),
        query_string,
        post_data,
        headers_size: -1,
        body_size: if full { req.body.len() as i64 } else { -1 },
        comment: None,
        extra: Extra::new(),
    }
}

fn post_data_of(body: &[u8], mime: &str, opts: &EntryOptions) -> PostData {
    let mut post = PostData {
        mime_type: mime.to_string(),
        text: None,
        encoding: None,
        params: None,
        file: None,
        comment: None,
        extra: Extra::new(),
    };
    if opts.content == ContentPolicy::Omit {
        return post;
    }
    let (text, encoding) = encode_text(body, true);
    if encoding.is_none()
        && codec::essence(mime) == "application/x-www-form-urlencoded"
        && opts.mode == Mode::Full
    {
        post.params = Some(
            form_urlencoded::parse(body)
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect(),
        );
    }
    post.text = Some(text);
    post.encoding = encoding;
    post
}

fn response_of(mut resp: ResponseRecord, opts: &EntryOptions) -> Response {
    let full = opts.mode == Mode::Full;
    let mime = header_str(&resp.headers, header::CONTENT_TYPE)
        .unwrap_or("x-unknown")
        .to_string();
    let coding = header_str(&resp.headers, header::CONTENT_ENCODING).unwrap_or("");
    let mut content = Content {
        mime_type: mime.clone(),
        ..Content::default()
    };
    let raw_len = resp.body.len() as i64;
    // The decoded body: a new buffer, or (no content coding) the bytes received.
    let decoded = match codec::decode_cow(coding, &resp.body, opts.max_decoded) {
        Ok(Cow::Owned(bytes)) => Ok(Some(bytes)),
        Ok(Cow::Borrowed(_)) => Ok(None),
        Err(err) => Err(err),
    };
    let decoded_ok = decoded.is_ok();
    let body = match decoded {
        Ok(Some(bytes)) => bytes,
        Ok(None) => Vec::from(std::mem::take(&mut resp.body)),
        Err(err) => {
            // Keep exactly what the server sent; replay must serve it still encoded.
            tracing::warn!("keeping an undecoded body ({err})");
            content
                .extra
                .insert("_harpEncoded".into(), Value::String(coding.to_string()));
            content.comment = Some(format!("body kept as received: {err}"));
            Vec::from(std::mem::take(&mut resp.body))
        }
    };
    let redacted = match redact_json_body(&opts.rules, &mime, &body) {
        Cow::Owned(redacted) => Some(redacted),
        Cow::Borrowed(_) => None,
    };
    let body = redacted.unwrap_or(body);
    content.size = body.len() as i64;
    if full && decoded_ok && !coding.is_empty() {
        content.compression = Some(body.len() as i64 - raw_len);
    }
    if opts.content == ContentPolicy::Embed {
        // Still-encoded bytes (a coding that failed to decode) are never text.
        let textual = decoded_ok && (codec::is_textual(&mime) || mime == "x-unknown");
        let (text, encoding) = encode_text_owned(body, textual);
        content.text = Some(text);
        content.encoding = encoding;
    }
    Response {
        status: resp.status.as_u16() as i64,
        status_text: resp.status.canonical_reason().unwrap_or("").to_string(),
        http_version: version_str(resp.version).to_string(),
        cookies: if full {
            response_cookies(&resp.headers, opts)
        } else {
            Vec::new()
        },
        headers: headers_of(&resp.headers, opts),
        content,
        redirect_url: header_str(&resp.headers, header::LOCATION)
            .unwrap_or("")
            .to_string(),
        headers_size: -1,
        body_size: if full { resp.body.len() as i64 } else { -1 },
        comment: None,
        extra: Extra::new(),
    }
}

/// `body` with the values of redacted JSON fields replaced (re-serialised compactly,
/// key order kept), when it is JSON and a field was redacted; otherwise unchanged.
pub(super) fn redact_json_body<'a>(rules: &Rules, mime: &str, body: &'a [u8]) -> Cow<'a, [u8]> {
    if !rules.redacts_json() || !crate::rules::body::looks_json(mime, body) {
        return Cow::Borrowed(body);
    }
    let Ok(mut doc) = serde_json::from_slice::<Value>(body) else {
        return Cow::Borrowed(body);
    };
    if rules.redact_json(&mut doc) == 0 {
        return Cow::Borrowed(body);
    }
    Cow::Owned(serde_json::to_vec(&doc).unwrap_or_else(|_| body.to_vec()))
}

fn failed_response(reason: &str) -> Response {
    let mut extra = Extra::new();
    extra.insert("_error".into(), Value::String(reason.to_string()));
    Response {
        content: Content {
            mime_type: "x-unknown".into(),
            ..Content::default()
        },
        extra,
        ..Response::default()
    }
}

fn is_redacted(name: &str, opts: &EntryOptions) -> bool {
    opts.redact.iter().any(|r| r.eq_ignore_ascii_case(name))
}

fn headers_of(headers: &HeaderMap, opts: &EntryOptions) -> Vec<Header> {
    let mut out = Vec::with_capacity(headers.len());
    out.extend(
        headers
            .iter()
            .filter(|(name, _)| !crate::proxy::is_proxy_only(name.as_str()))
            .map(|(name, value)| {
                let value = if is_redacted(name.as_str(), opts) {
                    if name == header::SET_COOKIE {
                        redact_set_cookie(&String::from_utf8_lossy(value.as_bytes())).into()
                    } else {
                        REDACTED.into()
                    }
                } else {
                    // Nearly every value is visible ASCII: that check is cheaper than the
                    // UTF-8 walk of from_utf8_lossy.
                    match value.to_str() {
                        Ok(text) => text.into(),
                        Err(_) => String::from_utf8_lossy(value.as_bytes()),
                    }
                };
                Header::new(name.as_str(), value)
            }),
    );
    out
}

/// `name=value; attributes` with the value replaced by [`REDACTED`].
fn redact_set_cookie(line: &str) -> String {
    let (pair, attributes) = line
        .split_once(';')
        .map_or((line, None), |(p, a)| (p, Some(a)));
    let name = pair.split_once('=').map_or(pair, |(n, _)| n).trim();
    match attributes {
        Some(a) => format!("{name}={REDACTED};{a}"),
        None => format!("{name}={REDACTED}"),
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn request_cookies(headers: &HeaderMap, opts: &EntryOptions) -> Vec<Value> {
    let redact = is_redacted("cookie", opts);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            let value = if redact { REDACTED } else { value.trim() };
            Some(json!({"name": name.trim(), "value": value}))
        })
        .collect()
}

fn response_cookies(headers: &HeaderMap, opts: &EntryOptions) -> Vec<Value> {
    let redact = is_redacted("set-cookie", opts);
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|line| {
            let mut parts = line.split(';');
            let (name, value) = parts.next()?.trim().split_once('=')?;
            let mut cookie = serde_json::Map::new();
            cookie.insert("name".into(), json!(name.trim()));
            cookie.insert(
                "value".into(),
                json!(if redact { REDACTED } else { value.trim() }),
            );
            for attr in parts {
                let (key, val) = attr.trim().split_once('=').unwrap_or((attr.trim(), ""));
                match key.to_ascii_lowercase().as_str() {
                    "path" => cookie.insert("path".into(), json!(val)),
                    "domain" => cookie.insert("domain".into(), json!(val)),
                    "expires" => cookie.insert("expires".into(), json!(val)),
                    "httponly" => cookie.insert("httpOnly".into(), json!(true)),
                    "secure" => cookie.insert("secure".into(), json!(true)),
                    "samesite" => cookie.insert("sameSite".into(), json!(val)),
                    _ => None,
                };
            }
            Some(Value::Object(cookie))
        })
        .collect()
}

fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn exchange(resp_headers: &[(&str, &str)], body: &[u8]) -> Exchange {
        let mut req_headers = HeaderMap::new();
        req_headers.insert("cookie", "a=1; b=2".parse().unwrap());
        req_headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let mut headers = HeaderMap::new();
        for (k, v) in resp_headers {
            headers.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Exchange {
            started: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_600_000_000_123),
            request: RequestRecord {
                method: Method::POST,
                url: "https://example.com/a?x=1&y=hello%20world".into(),
                version: Version::HTTP_2,
                headers: req_headers,
                body: Bytes::from_static(b"k=v&k2=v+2"),
            },
            response: Ok(ResponseRecord {
                status: StatusCode::OK,
                version: Version::HTTP_11,
                headers,
                body: Bytes::copy_from_slice(body),
            }),
            wait_ms: 1.5,
            receive_ms: 0.25,
            server_ip: Some("127.0.0.1".parse().unwrap()),
        }
    }

    #[test]
    fn full_entry_fields() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"{\"ok\":true}").unwrap();
        let body = gz.finish().unwrap();
        let x = exchange(
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
                ("set-cookie", "s=1; Path=/; HttpOnly"),
                ("set-cookie", "t=2"),
            ],
            &body,
        );
        let e = to_entry(x.clone(), &EntryOptions::default());
        assert_eq!(e.started_date_time, "2020-09-13T12:26:40.123Z");
        assert_eq!(e.time, 1.75);
        assert_eq!(e.request.http_version, "HTTP/2.0");
        assert_eq!(e.request.query_string[1].value, "hello world");
        assert_eq!(e.request.cookies.len(), 2);
        let post = e.request.post_data.as_ref().unwrap();
        assert_eq!(post.text.as_deref(), Some("k=v&k2=v+2"));
        assert_eq!(post.params.as_ref().unwrap()[1]["value"], "v 2");
        assert_eq!(e.response.content.text.as_deref(), Some("{\"ok\":true}"));
        assert_eq!(e.response.content.size, 11);
        assert_eq!(e.response.body_size, body.len() as i64);
        assert_eq!(e.response.cookies.len(), 2);
        assert_eq!(e.response.cookies[0]["httpOnly"], true);
        assert_eq!(e.server_ip_address.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn redacts_credentials_and_drops_proxy_headers() {
        let mut x = exchange(&[("set-cookie", "sid=secret")], b"");
        x.request
            .headers
            .insert("authorization", "Bearer t0ken".parse().unwrap());
        x.request
            .headers
            .insert("proxy-authorization", "Basic eA==".parse().unwrap());
        x.request
            .headers
            .insert("x-api-key", "k3y".parse().unwrap());
        let mut opts = EntryOptions::default();
        opts.redact.push("x-api-key".into());
        opts.redact.push("set-cookie".into());
        let e = to_entry(x.clone(), &opts);
        let text = serde_json::to_string(&e).unwrap();
        for secret in ["t0ken", "eA==", "k3y", "a=1", "secret"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(!e
            .request
            .headers
            .iter()
            .any(|h| h.name == "proxy-authorization"));
        assert_eq!(e.request.cookies[0]["value"], REDACTED);

        let opts = EntryOptions {
            redact: Vec::new(),
            ..EntryOptions::default()
        };
        let e = to_entry(x.clone(), &opts);
        assert!(e.request.headers.iter().any(|h| h.value == "Bearer t0ken"));
    }

    #[test]
    fn set_cookie_values_are_redacted_by_default_keeping_names_and_attributes() {
        let x = exchange(
            &[
                ("set-cookie", "sid=t0p; Path=/; HttpOnly"),
                ("set-cookie", "b=2"),
            ],
            b"",
        );
        let e = to_entry(x.clone(), &EntryOptions::default());
        let values: Vec<&str> = e
            .response
            .headers
            .iter()
            .filter(|h| h.name == "set-cookie")
            .map(|h| h.value.as_str())
            .collect();
        assert_eq!(values, ["sid=[REDACTED]; Path=/; HttpOnly", "b=[REDACTED]"]);
        assert_eq!(e.response.cookies[0]["value"], REDACTED);
        assert_eq!(e.response.cookies[0]["httpOnly"], true);
        let kept = EntryOptions {
            redact: Vec::new(),
            ..EntryOptions::default()
        };
        assert_eq!(
            to_entry(x.clone(), &kept).response.cookies[0]["value"],
            "t0p"
        );
    }

    #[test]
    fn binary_corrupt_minimal_and_failed() {
        let x = exchange(&[("content-type", "image/png")], &[0x89, b'P', 0xff]);
        let e = to_entry(x.clone(), &EntryOptions::default());
        assert_eq!(e.response.content.encoding.as_deref(), Some("base64"));
        assert_eq!(e.response.content.text.as_deref(), Some("iVD/"));

        let x = exchange(&[("content-encoding", "gzip")], b"not gzip");
        let e = to_entry(x.clone(), &EntryOptions::default());
        assert_eq!(e.response.content.extra["_harpEncoded"], "gzip");
        assert_eq!(e.response.content.text.as_deref(), Some("bm90IGd6aXA="));

        let opts = EntryOptions {
            mode: Mode::Minimal,
            ..EntryOptions::default()
        };
        let e = to_entry(x.clone(), &opts);
        assert_eq!(e.time, 0.0);
        assert!(e.request.cookies.is_empty());
        assert_eq!(e.response.body_size, -1);
        assert!(e.server_ip_address.is_none());

        let mut x = exchange(&[], b"");
        x.response = Err("connection refused".into());
        let e = to_entry(x.clone(), &EntryOptions::default());
        assert_eq!(e.response.status, 0);
        assert_eq!(e.response.extra["_error"], "connection refused");

        let opts = EntryOptions {
            content: ContentPolicy::Omit,
            ..EntryOptions::default()
        };
        let e = to_entry(
            exchange(&[("content-type", "text/plain")], b"secret"),
            &opts,
        );
        assert!(e.response.content.text.is_none());
        assert_eq!(e.response.content.size, 6);
    }
}
