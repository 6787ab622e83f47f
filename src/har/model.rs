//! The HAR data model: lenient when read, faithful when written.
//!
//! Every object keeps the fields it does not know (including `_`-prefixed custom ones)
//! in an `extra` map, so a read + write round trip loses nothing. Numbers may be floats
//! or `null`, strings may be `null`, and optional parts (`cache`, `timings`, `text`)
//! may be missing.

use serde::de::MapAccess;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// Fields an object carries that harp does not model, kept in file order.
pub type Extra = Map<String, Value>;

/// A whole HAR document.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Har {
    /// The one `log` object.
    pub log: Log,
    /// Anything beside `log`.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Har {
    /// True when some body lives in a payload file (`_file`) rather than in the JSON:
    /// the HAR was saved attached, and rewriting it should keep it so.
    pub fn has_attachments(&self) -> bool {
        self.log.entries.iter().any(|e| {
            e.response.content.file.is_some()
                || e.request
                    .post_data
                    .as_ref()
                    .is_some_and(|p| p.file.is_some())
        })
    }
}

/// The `log` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Log {
    /// Format version; any value is accepted when reading.
    pub version: String,
    /// The tool that wrote the file.
    pub creator: Creator,
    /// The browser that made the traffic, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<Creator>,
    /// Pages, kept as written (harp does not interpret them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<Vec<Value>>,
    /// The recorded exchanges.
    pub entries: Vec<Entry>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            version: default_version(),
            creator: Creator::default(),
            browser: None,
            pages: None,
            entries: Vec::new(),
            comment: None,
            extra: Extra::new(),
        }
    }
}

fn default_version() -> String {
    "1.2".to_string()
}

/// `creator` and `browser`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Creator {
    /// Name of the tool.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for Creator {
    fn default() -> Self {
        Self {
            name: "harp".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            comment: None,
            extra: Extra::new(),
        }
    }
}

/// One exchange.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The page this entry belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pageref: Option<String>,
    /// When the request started, ISO 8601.
    pub started_date_time: String,
    /// Total time in milliseconds.
    #[serde(serialize_with = "write_number")]
    pub time: f64,
    /// The request.
    pub request: Request,
    /// The response.
    pub response: Response,
    /// Cache information, kept as written (`{}` when harp records).
    pub cache: Value,
    /// Phase timings.
    pub timings: Timings,
    /// IP address of the server.
    #[serde(rename = "serverIPAddress", skip_serializing_if = "Option::is_none")]
    pub server_ip_address: Option<String>,
    /// Connection identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields (`_resourceType`, `_error`, …).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Entry {
    /// True for an exchange that never completed: status 0 or -1, or an error recorded
    /// (`_error` by Chrome and harp, `_failureText` by Playwright) on the entry or its
    /// response.
    pub fn is_incomplete(&self) -> bool {
        let failed = |extra: &Extra| {
            ["_error", "_failureText"]
                .iter()
                .any(|k| extra.get(*k).is_some_and(|v| !v.is_null() && v != ""))
        };
        self.response.status <= 0 || failed(&self.extra) || failed(&self.response.extra)
    }
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// A request.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The method, upper case as sent.
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// `HTTP/1.1`, `HTTP/2.0`, or whatever the writer put.
    pub http_version: String,
    /// Parsed cookies, kept as written.
    pub cookies: Vec<Value>,
    /// Headers in the order sent.
    pub headers: Vec<Header>,
    /// Query parameters, decoded.
    pub query_string: Vec<Header>,
    /// The body, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    /// Size of the request head in bytes, -1 when unknown.
    pub headers_size: i64,
    /// Size of the body in bytes, -1 when unknown.
    pub body_size: i64,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Nothing known: empty strings and lists, sizes -1 (unknown).
impl Default for Request {
    fn default() -> Self {
        Self {
            method: String::new(),
            url: String::new(),
            http_version: String::new(),
            cookies: Vec::new(),
            headers: Vec::new(),
            query_string: Vec::new(),
            post_data: None,
            headers_size: -1,
            body_size: -1,
            comment: None,
            extra: Extra::new(),
        }
    }
}

/// A response.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Status code; 0 or -1 for an exchange that never completed.
    pub status: i64,
    /// Reason phrase.
    pub status_text: String,
    /// `HTTP/1.1`, `HTTP/2.0`, or whatever the writer put.
    pub http_version: String,
    /// Parsed cookies, kept as written.
    pub cookies: Vec<Value>,
    /// Headers in the order received.
    pub headers: Vec<Header>,
    /// The body.
    pub content: Content,
    /// The `Location` target of a redirect, or "".
    #[serde(rename = "redirectURL")]
    pub redirect_url: String,
    /// Size of the response head in bytes, -1 when unknown.
    pub headers_size: i64,
    /// Bytes of body on the wire (before content decoding), -1 when unknown.
    pub body_size: i64,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields (`_error`, `_transferSize`, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Nothing known: status 0, empty strings and lists, sizes -1 (unknown).
impl Default for Response {
    fn default() -> Self {
        Self {
            status: 0,
            status_text: String::new(),
            http_version: String::new(),
            cookies: Vec::new(),
            headers: Vec::new(),
            content: Content::default(),
            redirect_url: String::new(),
            headers_size: -1,
            body_size: -1,
            comment: None,
            extra: Extra::new(),
        }
    }
}

/// A name/value pair: headers and query parameters.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Header {
    /// The name as written.
    pub name: String,
    /// The value.
    pub value: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Header {
    /// A plain name/value pair.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            comment: None,
            extra: Extra::new(),
        }
    }
}

/// A request body.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    /// Its MIME type.
    pub mime_type: String,
    /// The body as text (or base64 when `encoding` says so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `base64` when `text` is base64 (a harp extension, as on `content`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Form parameters, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<Value>>,
    /// Payload stored in a file beside the HAR (Playwright's attach mode).
    #[serde(rename = "_file", skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A response body.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// Decoded length in bytes.
    pub size: i64,
    /// Bytes saved by content encoding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<i64>,
    /// The MIME type (the response's `Content-Type`).
    pub mime_type: String,
    /// The decoded body as text, or base64 when `encoding` is `base64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `base64` when `text` is base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Payload stored in a file beside the HAR (Playwright's attach mode).
    #[serde(rename = "_file", skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for Content {
    fn default() -> Self {
        Self {
            size: 0,
            compression: None,
            mime_type: String::new(),
            text: None,
            encoding: None,
            file: None,
            comment: None,
            extra: Extra::new(),
        }
    }
}

/// Phase timings in milliseconds; -1 where a phase does not apply.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Timings {
    /// Queued before a connection was available.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "write_opt_number"
    )]
    pub blocked: Option<f64>,
    /// DNS resolution.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "write_opt_number"
    )]
    pub dns: Option<f64>,
    /// TCP (and TLS) connection set-up.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "write_opt_number"
    )]
    pub connect: Option<f64>,
    /// Sending the request.
    #[serde(serialize_with = "write_number")]
    pub send: f64,
    /// Waiting for the first response byte.
    #[serde(serialize_with = "write_number")]
    pub wait: f64,
    /// Reading the response.
    #[serde(serialize_with = "write_number")]
    pub receive: f64,
    /// TLS negotiation.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "write_opt_number"
    )]
    pub ssl: Option<f64>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            blocked: None,
            dns: None,
            connect: None,
            send: -1.0,
            wait: -1.0,
            receive: -1.0,
            ssl: None,
            comment: None,
            extra: Extra::new(),
        }
    }
}

/// Writes whole numbers as integers (`-1`, not `-1.0`) and others exactly as read.
fn write_number<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    match whole_number(*value) {
        Some(whole) => s.serialize_i64(whole),
        None => s.serialize_f64(*value),
    }
}

/// `value` as the integer it is written as, when whole (and within f64's exact range).
pub(crate) fn whole_number(value: f64) -> Option<i64> {
    (value.fract() == 0.0 && value.abs() < 9.0e15).then_some(value as i64)
}

fn write_opt_number<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => write_number(v, s),
        None => s.serialize_none(),
    }
}

// Reading: every object field by field (see `lenient`), unknown fields into `extra`.

use super::lenient::{self, deserialize_objects, Object};

deserialize_objects!(
    Har, Log, Creator, Entry, Request, Response, Header, PostData, Content, Timings
);

impl Object for Har {
    const EXPECTING: &'static str = "a HAR document (an object with a `log`)";
    const REQUIRED: &'static [&'static str] = &["log"];
    fn blank() -> Self {
        Har::default()
    }
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "log" => self.log = map.next_value()?,
            _ => lenient::keep(map, key, &mut self.extra)?,
        }
        Ok(())
    }
}

impl Object for Log {
    const EXPECTING: &'static str = "the `log` object";
    const REQUIRED: &'static [&'static str] = &["entries"];
    fn blank() -> Self {
        Log::default()
    }
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "version" => self.version = lenient::text(map)?,
            "creator" => self.creator = map.next_value()?,
            "browser" => self.browser = map.next_value()?,
            "pages" => self.pages = map.next_value()?,
            "entries" => self.entries = map.next_value()?,
            "comment" => self.comment = lenient::optional_text(map, key, &mut self.extra)?,
            _ => lenient::keep(map, key, &mut self.extra)?,
        }
        Ok(())
    }
}

impl Object for Creator {
    const EXPECTING: &'static str = "a `creator` object";
    fn blank() -> Self {
        Creator {
            name: String::new(),
            version: String::new(),
            comment: None,
            extra: Extra::new(),
        }
    }
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "name" => self.name = lenient::text(map)?,
            "version" => self.version = lenient::text(map)?,
            "comment" => self.comment = lenient::optional_text(map, key, &mut self.extra)?,
            _ => lenient::keep(map, key, &mut self.extra)?,
        }
        Ok(())
    }
}

impl Object for Entry {
    const EXPECTING: &'static str = "an entry object";
    const REQUIRED: &'static [&'static str] = &["request", "response"];
    fn blank() -> Self {
        Entry {
            pageref: None,
            started_date_time: String::new(),
            time: 0.0,
            request: Request::default(),
            response: Response::default(),
            cache: empty_object(),
            timings: Timings::default(),
            server_ip_address: None,
            connection: None,
            comment: None,
            extra: Extra::new(),
        }
    }
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let extra = &mut self.extra;
        match key {
            "pageref" => self.pageref = lenient::optional_text(map, key, extra)?,
            "startedDateTime" => self.started_date_time = lenient::text(map)?,
            "time" => self.time = lenient::float(map)?,
            "request" => self.request = map.next_value()?,
            "response" => self.response = map.next_value()?,
            "cache" => self.cache = lenient::unless_serving(map, |m| m.next_value())?,
            "timings" => self.timings = map.next_value()?,
            "serverIPAddress" => self.server_ip_address = lenient::optional_text(map, key, extra)?,
            "connection" => self.connection = lenient::optional_text(map, key, extra)?,
            "comment" => self.comment = lenient::optional_text(map, key, extra)?,
            _ => lenient::keep(map, key, &mut self.extra)?,
        }
        Ok(())
    }
}

impl Object for Request {
    const EXPECTING: &'static str = "a request object";
    fn blank() -> Self {
        Request::default()
    }
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "method" => self.method = lenient::text(map)?,
            "url" => self.url = lenient::text(map)?,
            "httpVersion" => self.http_version = lenient::text(map)?,
            "cookies" => self.cookies = lenient::unless_serving(map, lenient::values)?,
            "headers" => self.headers = map.next_value::<lenient::Objects<Header>>()?.0,
            "queryString" => {
                self.query_string = lenient::unless_serving(map, |m| {
                    Ok(m.next_value::<lenient::Objects<Header>>()?.0)
                })?
            }
            "postData" => self.post_data = map.next_value()?,
            "headersSize" => self.headers_size = lenient::int(map)?,
            "bodySize" => self.body_size = lenient::int(map)?,
            "comment" => self.comment = lenient::optional_text(map, key, &mut self.extra)?,
            _ => lenient::keep(map, key, &mut self.extra)?,
        }
        Ok(())
    }
}

impl Object for Response {
    const EXPECTING: &'static str = "a response object";
    fn blank() -> Self {
        Response::default()
    }
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "status" => self.status = lenient::int(map)?,
            "statusText" => self.status_text = lenient::text(map)?,
            "httpVersion" => self.http_version = lenient::text(map)?,
            "cookies" => self.cookies = lenient::unless_serving(map, lenient::values)?,
            "headers" => self.headers = map.next_value::<lenient::Objects<Header>>()?.0,
            "content" => self.content = map.next_value::<Option<Content>>()?.unwrap_or_default(),
            "redirectURL" => self.redirect_url = lenient::text(map)?,
            "headersSize" => self.headers_size = lenient::int(map)?,
            "bodySize" => self.body_size = lenient::int(map)?,
            "comment" => self.comment = lenient::optional_text(map, key, &mut self.extra)?,
            _ => lenient::keep(map, key, &mut self.extra)?,
        }
        Ok(())
    }
}

impl Object for Header {
    const EXPECTING: &'static str = "a name/value object";
    fn blank() -> Self {
        Header::new(String::new(), String::new())
    }
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "name" => self.name = lenient::text(map)?,
            "value" => self.value = lenient::text(map)?,
            "comment" => self.comment = lenient::optional_text(map, key, &mut self.extra)?,
            _ => lenient::keep(map, key, &mut self.extra)?,
        }
        Ok(())
    }
}

impl Object for PostData {
    const EXPECTING: &'static str = "a `postData` object";
    fn blank() -> Self {
        PostData::default()
    }
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let extra = &mut self.extra;
        match key {
            "mimeType" => self.mime_type = lenient::text(map)?,
            "text" => self.text = lenient::optional_text(map, key, extra)?,
            "encoding" => self.encoding = lenient::optional_text(map, key, extra)?,
            "params" => self.params = map.next_value()?,
            "_file" => self.file = lenient::optional_text(map, key, extra)?,
            "comment" => self.comment = lenient::optional_text(map, key, extra)?,
            _ => lenient::keep(map, key, &mut self.extra)?,
        }
        Ok(())
    }
}

impl Object for Content {
    const EXPECTING: &'static str = "a `content` object";
    fn blank() -> Self {
        Content::default()
    }
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let extra = &mut self.extra;
        match key {
            "size" => self.size = lenient::int(map)?,
            "compression" => {
                self.compression = map
                    .next_value::<Option<lenient::Number>>()?
                    .map(|n| n.int())
            }
            "mimeType" => self.mime_type = lenient::text(map)?,
            "text" => self.text = lenient::optional_text(map, key, extra)?,
            "encoding" => self.encoding = lenient::optional_text(map, key, extra)?,
            "_file" => self.file = lenient::optional_text(map, key, extra)?,
            "comment" => self.comment = lenient::optional_text(map, key, extra)?,
            _ => lenient::keep(map, key, &mut self.extra)?,
        }
        Ok(())
    }
}

impl Object for Timings {
    const EXPECTING: &'static str = "a `timings` object";
    fn blank() -> Self {
        Timings::default()
    }
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let optional = |map: &mut A| -> Result<Option<f64>, A::Error> {
            Ok(map.next_value::<Option<lenient::Number>>()?.map(|n| n.0))
        };
        match key {
            "blocked" => self.blocked = optional(map)?,
            "dns" => self.dns = optional(map)?,
            "connect" => self.connect = optional(map)?,
            "send" => self.send = lenient::float(map)?,
            "wait" => self.wait = lenient::float(map)?,
            "receive" => self.receive = lenient::float(map)?,
            "ssl" => self.ssl = optional(map)?,
            "comment" => self.comment = lenient::optional_text(map, key, &mut self.extra)?,
            _ => lenient::keep(map, key, &mut self.extra)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_fields_and_unknown_fields_survive() {
        let text = r#"{"log":{"version":null,"creator":{"name":"x","version":"1"},
            "entries":[{"startedDateTime":"2020-01-01T00:00:00Z","time":1.5,
            "request":{"method":"GET","url":"http://a/","httpVersion":"h2","headers":[
                {"name":"a","value":null}],"headersSize":12.7,"bodySize":null,"_x":1},
            "response":{"status":200,"statusText":"OK","httpVersion":"","headers":[],
                "content":{"size":3,"mimeType":"text/plain","text":"abc","_file":"f.txt"},
                "redirectURL":null,"_transferSize":9},
            "_resourceType":"fetch"}]},"_top":true}"#;
        let har: Har = serde_json::from_str(text).unwrap();
        let e = &har.log.entries[0];
        assert_eq!(e.request.headers[0].value, "");
        assert_eq!(e.request.headers_size, 13);
        assert_eq!(e.request.body_size, -1);
        assert_eq!(e.response.content.file.as_deref(), Some("f.txt"));
        assert_eq!(e.extra["_resourceType"], "fetch");
        assert_eq!(har.extra["_top"], true);
        let written = serde_json::to_value(&har).unwrap();
        assert_eq!(written["log"]["entries"][0]["response"]["_transferSize"], 9);
        assert_eq!(written["log"]["entries"][0]["time"], 1.5);
        assert_eq!(written["log"]["entries"][0]["timings"]["send"], -1);
        let again: Har = serde_json::from_value(written).unwrap();
        assert_eq!(again, har);
    }

    #[test]
    fn odd_values_are_read_leniently_and_kept() {
        let text = r#"{"log":{"entries":[{"time":"7.5","request":{"method":"GET","url":"http://a/",
            "headers":[{"name":"a","value":5},"junk",null,{"name":"b","value":"c","comment":3}],
            "cookies":null,"queryString":{"x":1},"headersSize":"12","bodySize":[1]},
            "response":{"status":"404","headers":null,"content":null},
            "timings":{"send":null,"wait":"2","receive":1,"blocked":"x"},"pageref":7}]}}"#;
        let har: Har = serde_json::from_str(text).unwrap();
        let e = &har.log.entries[0];
        assert_eq!(e.time, 7.5);
        assert_eq!(e.request.headers.len(), 2);
        assert_eq!(e.request.headers[0].value, "5");
        assert_eq!(e.request.headers[1].comment, None);
        assert_eq!(e.request.headers[1].extra["comment"], 3);
        assert!(e.request.query_string.is_empty() && e.request.cookies.is_empty());
        assert_eq!((e.request.headers_size, e.request.body_size), (12, -1));
        assert_eq!(e.response.status, 404);
        assert_eq!(e.response.content, Content::default());
        assert_eq!((e.timings.send, e.timings.wait), (-1.0, 2.0));
        assert_eq!(e.timings.blocked, Some(-1.0));
        assert_eq!(
            (e.pageref.as_deref(), &e.extra["pageref"]),
            (None, &Value::from(7))
        );
        assert_eq!(har.log.version, "1.2");
        let missing = serde_json::from_str::<Har>(r#"{"log":{"entries":[{"request":{}}]}}"#);
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("missing field `response`"));
    }
}
