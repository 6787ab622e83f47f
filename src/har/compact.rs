//! An entry's compact JSON, written by hand: byte for byte what `serde_json::to_writer`
//! makes of it (the tests compare the two on every fixture entry), several times
//! faster. Recording writes one per exchange (its journal line), and serde's
//! field-by-field map serialisation with its byte-at-a-time string escaping was the
//! largest part of that line's cost.
//!
//! Field order, names and skipped fields follow the `Serialize` derives of
//! [`super::model`]; a field added there must be added here (the tests fail until it is).

use serde_json::Value;

use super::escape::write_json_string;
use super::model::{
    whole_number, Content, Entry, Extra, Header, PostData, Request, Response, Timings,
};

/// Appends `entry`'s compact JSON to `out`.
pub(crate) fn write_entry(out: &mut Vec<u8>, entry: &Entry) {
    let mut o = Object::open(out);
    o.opt_str("pageref", &entry.pageref);
    o.str("startedDateTime", &entry.started_date_time);
    o.number("time", entry.time);
    o.key("request");
    request(o.out, &entry.request);
    o.key("response");
    response(o.out, &entry.response);
    o.value("cache", &entry.cache);
    o.key("timings");
    timings(o.out, &entry.timings);
    o.opt_str("serverIPAddress", &entry.server_ip_address);
    o.opt_str("connection", &entry.connection);
    o.opt_str("comment", &entry.comment);
    o.close(&entry.extra);
}

fn request(out: &mut Vec<u8>, r: &Request) {
    let mut o = Object::open(out);
    o.str("method", &r.method);
    o.str("url", &r.url);
    o.str("httpVersion", &r.http_version);
    o.values("cookies", &r.cookies);
    o.headers("headers", &r.headers);
    o.headers("queryString", &r.query_string);
    if let Some(post) = &r.post_data {
        o.key("postData");
        post_data(o.out, post);
    }
    o.int("headersSize", r.headers_size);
    o.int("bodySize", r.body_size);
    o.opt_str("comment", &r.comment);
    o.close(&r.extra);
}

fn response(out: &mut Vec<u8>, r: &Response) {
    let mut o = Object::open(out);
    o.int("status", r.status);
    o.str("statusText", &r.status_text);
    o.str("httpVersion", &r.http_version);
    o.values("cookies", &r.cookies);
    o.headers("headers", &r.headers);
    o.key("content");
    content(o.out, &r.content);
    o.str("redirectURL", &r.redirect_url);
    o.int("headersSize", r.headers_size);
    o.int("bodySize", r.body_size);
    o.opt_str("comment", &r.comment);
    o.close(&r.extra);
}

fn post_data(out: &mut Vec<u8>, p: &PostData) {
    let mut o = Object::open(out);
    o.str("mimeType", &p.mime_type);
    o.opt_str("text", &p.text);
    o.opt_str("encoding", &p.encoding);
    if let Some(params) = &p.params {
        o.values("params", params);
    }
    o.opt_str("_file", &p.file);
    o.opt_str("comment", &p.comment);
    o.close(&p.extra);
}

fn content(out: &mut Vec<u8>, c: &Content) {
    let mut o = Object::open(out);
    o.int("size", c.size);
    if let Some(compression) = c.compression {
        o.int("compression", compression);
    }
    o.str("mimeType", &c.mime_type);
    o.opt_str("text", &c.text);
    o.opt_str("encoding", &c.encoding);
    o.opt_str("_file", &c.file);
    o.opt_str("comment", &c.comment);
    o.close(&c.extra);
}

fn timings(out: &mut Vec<u8>, t: &Timings) {
    let mut o = Object::open(out);
    o.opt_number("blocked", t.blocked);
    o.opt_number("dns", t.dns);
    o.opt_number("connect", t.connect);
    o.number("send", t.send);
    o.number("wait", t.wait);
    o.number("receive", t.receive);
    o.opt_number("ssl", t.ssl);
    o.opt_str("comment", &t.comment);
    o.close(&t.extra);
}

fn header(out: &mut Vec<u8>, h: &Header) {
    let mut o = Object::open(out);
    o.str("name", &h.name);
    o.str("value", &h.value);
    o.opt_str("comment", &h.comment);
    o.close(&h.extra);
}

/// A JSON object being written: `{`, then fields with commas between, then `}`.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// `"name":`, after a comma unless first. Field names here need no escaping.
    fn key(&mut self, name: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn str(&mut self, name: &str, value: &str) {
        self.key(name);
        write_json_string(self.out, value);
    }

    fn opt_str(&mut self, name: &str, value: &Option<String>) {
        if let Some(value) = value {
            self.str(name, value);
        }
    }

    fn int(&mut self, name: &str, value: i64) {
        self.key(name);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// A number as the model writes it (whole numbers as integers).
    fn number(&mut self, name: &str, value: f64) {
        match whole_number(value) {
            Some(whole) => self.int(name, whole),
            None => {
                self.key(name);
                json_value(self.out, &value);
            }
        }
    }

    fn opt_number(&mut self, name: &str, value: Option<f64>) {
        if let Some(value) = value {
            self.number(name, value);
        }
    }

    fn value(&mut self, name: &str, value: &Value) {
        self.key(name);
        json_value(self.out, value);
    }

    fn values(&mut self, name: &str, values: &[Value]) {
        self.key(name);
        self.out.push(b'[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            json_value(self.out, value);
        }
        self.out.push(b']');
    }

    fn headers(&mut self, name: &str, headers: &[Header]) {
        self.key(name);
        self.out.push(b'[');
        for (i, h) in headers.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            header(self.out, h);
        }
        self.out.push(b']');
    }

    /// Writes the unknown fields (in their order, as flattened) and `}`.
    fn close(mut self, extra: &Extra) {
        for (name, value) in extra {
            if !self.first {
                self.out.push(b',');
            }
            self.first = false;
            write_json_string(self.out, name);
            self.out.push(b':');
            json_value(self.out, value);
        }
        self.out.push(b'}');
    }
}

/// Anything else (floats, cookies, extras) as serde_json writes it.
fn json_value<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(out, value).expect("a JSON value serialises");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(entry: &Entry, what: &str) {
        let mut ours = Vec::new();
        write_entry(&mut ours, entry);
        let theirs = serde_json::to_vec(entry).unwrap();
        assert!(
            ours == theirs,
            "{what}:\n ours:   {}\n serde: {}",
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    #[test]
    fn every_fixture_entry_is_written_as_serde_writes_it() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/har");
        let mut files = vec![root];
        let mut seen = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "har") {
                continue;
            }
            let Ok(file) = crate::har::read_har_file(&path) else {
                continue;
            };
            for (i, entry) in file.har.log.entries.iter().enumerate() {
                same(entry, &format!("{} entry {i}", path.display()));
                seen += 1;
            }
        }
        assert!(seen > 100, "only {seen} fixture entries");
    }

    #[test]
    fn every_optional_field_and_extra_is_written_as_serde_writes_it() {
        let mut e: Entry = serde_json::from_value(serde_json::json!({
            "pageref": "page_1", "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1.25,
            "request": {"method": "POST", "url": "http://a/?q=1", "httpVersion": "HTTP/2.0",
                        "cookies": [{"name": "c", "value": "v", "httpOnly": true}],
                        "headers": [{"name": "x-\"q\"", "value": "tab\there\u{1}é ✓", "comment": "c", "_x": [1, 2.5, null]}],
                        "queryString": [{"name": "q", "value": "1"}],
                        "postData": {"mimeType": "application/x-www-form-urlencoded", "text": "a=1",
                                     "encoding": "base64", "params": [{"name": "a", "value": "1"}],
                                     "_file": "f.bin", "comment": "p", "_post": {"k": "v"}},
                        "headersSize": 120, "bodySize": 3, "comment": "r", "_req": false},
            "response": {"status": 599, "statusText": "Odd", "httpVersion": "h3", "cookies": [],
                         "headers": [], "redirectURL": "/there\\", "headersSize": -1, "bodySize": -1,
                         "content": {"size": 3, "compression": -7, "mimeType": "text/plain", "text": "\"\\/\u{7f}",
                                     "encoding": "base64", "_file": "x.txt", "comment": "c", "_c": 1e300},
                         "comment": "resp", "_error": "boom", "_transferSize": 12},
            "cache": {"beforeRequest": null, "afterRequest": {"hitCount": 1}},
            "timings": {"blocked": -1, "dns": 0.5, "connect": 12.125, "send": 0, "wait": 1e-7,
                        "receive": 123456789.5, "ssl": -1, "comment": "t", "_queued": 3},
            "serverIPAddress": "::1", "connection": "42", "comment": "entry", "_resourceType": "xhr",
            "_weird key \"\\\n": {"nested": ["a", {"b": []}]}
        }))
        .unwrap();
        same(&e, "everything");
        e.time = 1e16;
        e.timings.send = -0.0;
        e.timings.wait = f64::NAN;
        e.request.post_data = None;
        e.response.content.compression = None;
        e.pageref = None;
        same(&e, "fewer fields, odd numbers");
    }
}
