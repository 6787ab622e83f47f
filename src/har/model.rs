//! The HAR data model: lenient when read, faithful when written.
//!
//! Every object keeps the fields it does not know (including `_`-prefixed custom ones)
//! in an `extra` map, so a read + write round trip loses nothing. Numbers may be floats
//! or `null`, strings may be `null`, and optional parts (`cache`, `timings`, `text`)
//! may be missing.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Fields an object carries that harp does not model, kept in file order.
pub type Extra = Map<String, Value>;

/// A whole HAR document.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Log {
    /// Format version; any value is accepted when reading.
    #[serde(default = "default_version", deserialize_with = "lenient_string")]
    pub version: String,
    /// The tool that wrote the file.
    #[serde(default)]
    pub creator: Creator,
    /// The browser that made the traffic, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<Creator>,
    /// Pages, kept as written (harp does not interpret them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<Vec<Value>>,
    /// The recorded exchanges.
    pub entries: Vec<Entry>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Creator {
    /// Name of the tool.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Its version.
    #[serde(default, deserialize_with = "lenient_string")]
    pub version: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The page this entry belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pageref: Option<String>,
    /// When the request started, ISO 8601.
    #[serde(default, deserialize_with = "lenient_string")]
    pub started_date_time: String,
    /// Total time in milliseconds.
    #[serde(
        default,
        deserialize_with = "lenient_f64",
        serialize_with = "write_number"
    )]
    pub time: f64,
    /// The request.
    pub request: Request,
    /// The response.
    pub response: Response,
    /// Cache information, kept as written (`{}` when harp records).
    #[serde(default = "empty_object")]
    pub cache: Value,
    /// Phase timings.
    #[serde(default)]
    pub timings: Timings,
    /// IP address of the server.
    #[serde(
        rename = "serverIPAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub server_ip_address: Option<String>,
    /// Connection identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The method, upper case as sent.
    #[serde(default, deserialize_with = "lenient_string")]
    pub method: String,
    /// The absolute URL.
    #[serde(default, deserialize_with = "lenient_string")]
    pub url: String,
    /// `HTTP/1.1`, `HTTP/2.0`, or whatever the writer put.
    #[serde(default, deserialize_with = "lenient_string")]
    pub http_version: String,
    /// Parsed cookies, kept as written.
    #[serde(default, deserialize_with = "lenient_vec")]
    pub cookies: Vec<Value>,
    /// Headers in the order sent.
    #[serde(default, deserialize_with = "lenient_vec")]
    pub headers: Vec<Header>,
    /// Query parameters, decoded.
    #[serde(default, deserialize_with = "lenient_vec")]
    pub query_string: Vec<Header>,
    /// The body, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    /// Size of the request head in bytes, -1 when unknown.
    #[serde(default = "minus_one", deserialize_with = "lenient_i64")]
    pub headers_size: i64,
    /// Size of the body in bytes, -1 when unknown.
    #[serde(default = "minus_one", deserialize_with = "lenient_i64")]
    pub body_size: i64,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Status code; 0 or -1 for an exchange that never completed.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub status: i64,
    /// Reason phrase.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status_text: String,
    /// `HTTP/1.1`, `HTTP/2.0`, or whatever the writer put.
    #[serde(default, deserialize_with = "lenient_string")]
    pub http_version: String,
    /// Parsed cookies, kept as written.
    #[serde(default, deserialize_with = "lenient_vec")]
    pub cookies: Vec<Value>,
    /// Headers in the order received.
    #[serde(default, deserialize_with = "lenient_vec")]
    pub headers: Vec<Header>,
    /// The body.
    #[serde(default)]
    pub content: Content,
    /// The `Location` target of a redirect, or "".
    #[serde(rename = "redirectURL", default, deserialize_with = "lenient_string")]
    pub redirect_url: String,
    /// Size of the response head in bytes, -1 when unknown.
    #[serde(default = "minus_one", deserialize_with = "lenient_i64")]
    pub headers_size: i64,
    /// Bytes of body on the wire (before content decoding), -1 when unknown.
    #[serde(default = "minus_one", deserialize_with = "lenient_i64")]
    pub body_size: i64,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields (`_error`, `_transferSize`, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A name/value pair: headers and query parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Header {
    /// The name as written.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// The value.
    #[serde(default, deserialize_with = "lenient_string")]
    pub value: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    /// Its MIME type.
    #[serde(default, deserialize_with = "lenient_string")]
    pub mime_type: String,
    /// The body as text (or base64 when `encoding` says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `base64` when `text` is base64 (a harp extension, as on `content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Form parameters, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<Value>>,
    /// Payload stored in a file beside the HAR (Playwright's attach mode).
    #[serde(rename = "_file", default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A response body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// Decoded length in bytes.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub size: i64,
    /// Bytes saved by content encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<i64>,
    /// The MIME type (the response's `Content-Type`).
    #[serde(default, deserialize_with = "lenient_string")]
    pub mime_type: String,
    /// The decoded body as text, or base64 when `encoding` is `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `base64` when `text` is base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Payload stored in a file beside the HAR (Playwright's attach mode).
    #[serde(rename = "_file", default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    /// Queued before a connection was available.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "write_opt_number"
    )]
    pub blocked: Option<f64>,
    /// DNS resolution.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "write_opt_number"
    )]
    pub dns: Option<f64>,
    /// TCP (and TLS) connection set-up.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "write_opt_number"
    )]
    pub connect: Option<f64>,
    /// Sending the request.
    #[serde(
        default = "minus_one_f",
        deserialize_with = "lenient_f64",
        serialize_with = "write_number"
    )]
    pub send: f64,
    /// Waiting for the first response byte.
    #[serde(
        default = "minus_one_f",
        deserialize_with = "lenient_f64",
        serialize_with = "write_number"
    )]
    pub wait: f64,
    /// Reading the response.
    #[serde(
        default = "minus_one_f",
        deserialize_with = "lenient_f64",
        serialize_with = "write_number"
    )]
    pub receive: f64,
    /// TLS negotiation.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "write_opt_number"
    )]
    pub ssl: Option<f64>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

fn minus_one() -> i64 {
    -1
}

fn minus_one_f() -> f64 {
    -1.0
}

/// A string, or `null`/a number/a boolean turned into one.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    })
}

/// A number from an integer, a float, a numeric string, or `null` (-1).
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.round() as i64))
            .unwrap_or(-1),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map(|f| f.round() as i64)
            .unwrap_or(-1),
        _ => -1,
    })
}

/// A float from a number, a numeric string, or `null` (-1).
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64().unwrap_or(-1.0),
        Value::String(s) => s.trim().parse::<f64>().unwrap_or(-1.0),
        _ => -1.0,
    })
}

/// An array whose elements that do not parse are skipped, `null` being an empty array.
fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// Writes whole numbers as integers (`-1`, not `-1.0`) and others exactly as read.
fn write_number<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        s.serialize_i64(*value as i64)
    } else {
        s.serialize_f64(*value)
    }
}

fn write_opt_number<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => write_number(v, s),
        None => s.serialize_none(),
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
}
