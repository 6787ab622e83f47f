//! HAR → Postman Collection v2.1: one folder per host, one item per method + URL with
//! one example per entry, hosts as `{{baseUrlN}}` collection variables, transport
//! headers dropped, bodies kept exactly.
//!
//! Entries that never completed (status 0/-1, `_error`) are left out: they have no
//! response to save.
//!
//! Binary bodies (not valid UTF-8, or a non-text MIME type) are stored as base64 in the
//! example's `body` with `"_harpBodyEncoding": "base64"` beside it: `harp mock` serves the
//! original bytes; Postman itself shows the base64 text.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::codec;
use crate::har::{HarError, HarFile};

/// The schema URL a v2.1 collection declares.
pub(crate) const SCHEMA_V21: &str =
    "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

/// A converted collection and what the conversion left out or changed, one line each
/// naming the entry.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// The v2.1 collection.
    pub collection: Value,
    /// Entries left out and headers dropped, with why.
    pub notes: Vec<String>,
}

/// Converts a loaded HAR into a v2.1 collection named `name`.
pub fn har_to_collection(file: &HarFile, name: &str) -> Result<Value, HarError> {
    convert(file, name).map(|c| c.collection)
}

/// Converts a loaded HAR into a v2.1 collection named `name`, saying what was left out.
pub fn convert(file: &HarFile, name: &str) -> Result<Conversion, HarError> {
    let mut builder = Builder::default();
    for i in 0..file.har.log.entries.len() {
        builder.add(file, i)?;
    }
    Ok(builder.finish(file, name))
}

/// One item: a method and URL, with an example per entry.
struct Item {
    origin: usize,
    method: String,
    /// Path and query.
    rest: String,
    examples: Vec<Value>,
    request: Value,
}

/// A collection being built: a folder and a `baseUrl` variable per origin (scheme and
/// authority, in first-seen order), an item per method and URL.
#[derive(Default)]
struct Builder {
    origins: Vec<String>,
    items: Vec<Item>,
    item_index: BTreeMap<(String, String), usize>,
    notes: Vec<String>,
}

impl Builder {
    /// Adds entry `i` as an example (of a new item, or of the item of its method and
    /// URL), or notes why it is left out.
    fn add(&mut self, file: &HarFile, i: usize) -> Result<(), HarError> {
        let entry = &file.har.log.entries[i];
        let label = || {
            format!(
                "entry {i} ({} {})",
                entry.request.method,
                crate::calllog::clip(&entry.request.url, 120)
            )
        };
        // An exchange that never completed has no response to save as an example.
        if entry.is_incomplete() || entry.response.status < 100 {
            let status = entry.response.status;
            self.notes.push(format!(
                "{}: left out: the exchange never completed (status {status})",
                label()
            ));
            return Ok(());
        }
        let url = crate::urls::normalise(&entry.request.url);
        let Some((origin, rest)) = split_origin(&url) else {
            let scheme = url.split(':').next().unwrap_or("");
            self.notes.push(format!(
                "{}: left out: a {scheme}: URL is not a request a mock can serve (only http and https)",
                label()
            ));
            return Ok(());
        };
        let origin = self.origin_index(origin);
        let var = format!("baseUrl{origin}");
        let request = request_json(file, i, &var, rest, &mut self.notes)?;
        let example = example_json(file, i, request.clone(), &mut self.notes)?;
        let key = (entry.request.method.clone(), url.clone());
        match self.item_index.get(&key) {
            Some(&k) => self.items[k].examples.push(example),
            None => {
                self.item_index.insert(key, self.items.len());
                self.items.push(Item {
                    origin,
                    method: entry.request.method.clone(),
                    rest: rest.to_string(),
                    examples: vec![example],
                    request,
                });
            }
        }
        Ok(())
    }

    fn origin_index(&mut self, origin: String) -> usize {
        match self.origins.iter().position(|o| *o == origin) {
            Some(p) => p,
            None => {
                self.origins.push(origin);
                self.origins.len() - 1
            }
        }
    }

    /// The collection: folders of items, the `baseUrl` variables, and `info`.
    fn finish(self, file: &HarFile, name: &str) -> Conversion {
        let mut folders: Vec<Value> = self
            .origins
            .iter()
            .map(|o| json!({"name": crate::urls::split(o).map_or(o.as_str(), |p| p.authority), "item": []}))
            .collect();
        for mut item in self.items {
            dedupe_names(&mut item.examples);
            if let Some(list) = folders[item.origin]["item"].as_array_mut() {
                list.push(json!({
                    "name": format!("{} {}", item.method, item.rest),
                    "request": item.request,
                    "response": item.examples,
                }));
            }
        }
        let variables: Vec<Value> = self
            .origins
            .iter()
            .enumerate()
            .map(|(i, o)| json!({"key": format!("baseUrl{i}"), "value": o, "type": "string"}))
            .collect();
        let file_name = file.path.file_name().map_or_else(
            || file.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let collection = json!({
            "info": {
                "_postman_id": pseudo_uuid(name, file.har.log.entries.len()),
                "name": name,
                "description": format!(
                    "Converted by harp from {file_name} ({} entries).",
                    file.har.log.entries.len()
                ),
                "schema": SCHEMA_V21,
            },
            "item": folders,
            "variable": variables,
        });
        Conversion {
            collection,
            notes: self.notes,
        }
    }
}

/// `https://host:port` and `/path?query` of a normalised absolute URL.
fn split_origin(url: &str) -> Option<(String, &str)> {
    let parts = crate::urls::split(url)?;
    if parts.scheme != "http" && parts.scheme != "https" {
        return None;
    }
    let origin = format!("{}://{}", parts.scheme, parts.authority);
    Some((origin.clone(), &url[origin.len()..]))
}

/// The headers worth saving: transport and HTTP/2 pseudo-headers dropped silently,
/// headers that are not valid HTTP (a name with spaces, a value with CR/LF: newman
/// would refuse the whole request) dropped with a note naming them.
fn header_list(headers: &[crate::har::Header], whose: &str, notes: &mut Vec<String>) -> Vec<Value> {
    headers
        .iter()
        .filter(|h| {
            let n = h.name.to_ascii_lowercase();
            !n.starts_with(':')
                && !crate::proxy::is_framing(&n)
                && !matches!(n.as_str(), "content-encoding" | "host" | "trailer")
        })
        .filter(|h| {
            let valid = http::HeaderName::from_bytes(h.name.as_bytes()).is_ok()
                && http::HeaderValue::from_str(&h.value).is_ok();
            if !valid {
                notes.push(format!(
                    "{whose}: header {:?} dropped: not a valid HTTP header name or value",
                    crate::calllog::clip(&h.name, 80)
                ));
            }
            valid
        })
        .map(|h| json!({"key": h.name, "value": h.value}))
        .collect()
}

fn request_json(
    file: &HarFile,
    i: usize,
    var: &str,
    rest: &str,
    notes: &mut Vec<String>,
) -> Result<Value, HarError> {
    let entry = &file.har.log.entries[i];
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut url = Map::new();
    url.insert("raw".into(), json!(format!("{{{{{var}}}}}{rest}")));
    url.insert("host".into(), json!([format!("{{{{{var}}}}}")]));
    url.insert(
        "path".into(),
        json!(path
            .split('/')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()),
    );
    if !query.is_empty() {
        let q: Vec<Value> = query
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                json!({"key": k, "value": v})
            })
            .collect();
        url.insert("query".into(), json!(q));
    }
    let mut request = json!({
        "method": entry.request.method,
        "header": header_list(&entry.request.headers, &format!("entry {i} request"), notes),
        "url": url,
    });
    let post = entry.request.post_data.as_ref();
    let mime = post.map(|p| p.mime_type.clone()).unwrap_or_default();
    if let Some(body) = file.request_body(i)?.filter(|b| !b.is_empty()) {
        request["body"] = body_json(&body, &mime);
    } else if let Some(params) = post
        .and_then(|p| p.params.as_ref())
        .filter(|p| !p.is_empty())
    {
        // Exporters that write a form only as `params` (no `text`).
        request["body"] = params_json(params, &mime);
    }
    Ok(request)
}

/// A body known only by its `postData.params` (`name`, `value`, `fileName`).
fn params_json(params: &[Value], mime: &str) -> Value {
    let text = |p: &Value, k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if codec::essence(mime) == "multipart/form-data" {
        let fields: Vec<Value> = params
            .iter()
            .map(|p| match text(p, "fileName") {
                f if !f.is_empty() => json!({"key": text(p, "name"), "type": "file", "src": f}),
                _ => json!({"key": text(p, "name"), "value": text(p, "value"), "type": "text"}),
            })
            .collect();
        return json!({"mode": "formdata", "formdata": fields});
    }
    let pairs: Vec<Value> = params
        .iter()
        .map(|p| json!({"key": text(p, "name"), "value": text(p, "value"), "type": "text"}))
        .collect();
    json!({"mode": "urlencoded", "urlencoded": pairs})
}

fn body_json(body: &[u8], mime: &str) -> Value {
    let essence = codec::essence(mime);
    let text = String::from_utf8_lossy(body);
    if essence == "application/x-www-form-urlencoded" {
        let pairs: Vec<Value> = form_urlencoded::parse(body)
            .map(|(k, v)| json!({"key": k, "value": v, "type": "text"}))
            .collect();
        return json!({"mode": "urlencoded", "urlencoded": pairs});
    }
    if essence == "multipart/form-data" {
        if let Some(fields) = multipart_fields(body, mime) {
            return json!({"mode": "formdata", "formdata": fields});
        }
    }
    let language = match essence.as_str() {
        m if m.contains("json") => "json",
        m if m.contains("xml") => "xml",
        "text/html" => "html",
        "application/javascript" | "text/javascript" => "javascript",
        _ => "text",
    };
    json!({"mode": "raw", "raw": text, "options": {"raw": {"language": language}}})
}

/// Fields of a multipart body: text fields with their value, file fields with their
/// file name (`src`): Postman cannot embed file contents.
fn multipart_fields(body: &[u8], mime: &str) -> Option<Vec<Value>> {
    let fields: Vec<Value> = codec::multipart_parts(body, mime)
        .into_iter()
        .map(|p| match p.filename {
            Some(filename) => json!({"key": p.name, "type": "file", "src": filename}),
            None => json!({"key": p.name, "value": p.value, "type": "text"}),
        })
        .collect();
    (!fields.is_empty()).then_some(fields)
}

fn example_json(
    file: &HarFile,
    i: usize,
    original_request: Value,
    notes: &mut Vec<String>,
) -> Result<Value, HarError> {
    let entry = &file.har.log.entries[i];
    let response = &entry.response;
    let body = file.response_body(i)?;
    let mime = response.content.mime_type.as_str();
    let textual = codec::is_textual(mime) || mime.is_empty() || mime == "x-unknown";
    let mut example = json!({
        "name": format!("{} {}", response.status, response.status_text).trim().to_string(),
        "originalRequest": original_request,
        "status": response.status_text,
        "code": response.status,
        "_postman_previewlanguage": preview_language(mime),
        "header": header_list(&response.headers, &format!("entry {i} response"), notes),
        "cookie": [],
    });
    let (text, encoding) = crate::har::encode_text(&body, textual);
    example["body"] = json!(text);
    if encoding.is_some() {
        example["_harpBodyEncoding"] = json!("base64");
    }
    let timing = crate::pacing::Timing::of(entry);
    if !timing.is_empty() {
        example[crate::pacing::EXAMPLE_FIELD] = timing.to_json();
    }
    Ok(example)
}

fn preview_language(mime: &str) -> &'static str {
    let m = codec::essence(mime);
    if m.contains("json") {
        "json"
    } else if m.contains("html") {
        "html"
    } else if m.contains("xml") {
        "xml"
    } else if m.contains("javascript") {
        "javascript"
    } else {
        "text"
    }
}

/// Several examples of one item get distinct names ("200 OK", "200 OK (2)", …).
fn dedupe_names(examples: &mut [Value]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for e in examples.iter_mut() {
        let name = e["name"].as_str().unwrap_or("").to_string();
        let n = seen.entry(name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            e["name"] = json!(format!("{name} ({n})"));
        }
    }
}

/// A stable UUID-shaped id from the name and size, so converting twice gives the same
/// output.
pub(crate) fn pseudo_uuid(name: &str, n: usize) -> String {
    use sha1::{Digest, Sha1};
    let d = Sha1::digest(format!("{name}\n{n}").as_bytes());
    let h: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_origins_and_bodies() {
        assert_eq!(
            split_origin("https://a.test:8443/x?y=1"),
            Some(("https://a.test:8443".into(), "/x?y=1"))
        );
        assert_eq!(split_origin("data:text/plain,hi"), None);
        let form = body_json(b"a=1&b=two+words", "application/x-www-form-urlencoded");
        assert_eq!(form["urlencoded"][1]["value"], "two words");
        let raw = body_json(b"{\"a\":1}", "application/json");
        assert_eq!(raw["options"]["raw"]["language"], "json");
        let mp = body_json(
            b"--B\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\nv\r\n--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.png\"\r\n\r\nPNG\r\n--B--\r\n",
            "multipart/form-data; boundary=B",
        );
        assert_eq!(
            mp["formdata"][0],
            json!({"key": "t", "value": "v", "type": "text"})
        );
        assert_eq!(
            mp["formdata"][1],
            json!({"key": "f", "type": "file", "src": "a.png"})
        );
        assert_eq!(pseudo_uuid("x", 1).len(), 36);
        let params = params_json(
            &[
                json!({"name": "a", "value": "1"}),
                json!({"name": "b", "value": "x y"}),
            ],
            "application/x-www-form-urlencoded",
        );
        assert_eq!(params["mode"], "urlencoded");
        assert_eq!(params["urlencoded"][1]["value"], "x y");
        let files = params_json(
            &[json!({"name": "f", "fileName": "a.png"})],
            "multipart/form-data; boundary=x",
        );
        assert_eq!(files["formdata"][0]["src"], "a.png");
    }

    #[test]
    fn invalid_header_names_are_dropped_with_a_note() {
        let headers = vec![
            crate::har::Header::new("Good", "1"),
            crate::har::Header::new("bad name", "2"),
            crate::har::Header::new("X-Split", "a\r\nb"),
        ];
        let mut notes = Vec::new();
        let kept = header_list(&headers, "entry 3 request", &mut notes);
        assert_eq!(kept, vec![json!({"key": "Good", "value": "1"})]);
        assert_eq!(notes.len(), 2);
        assert!(
            notes[0].starts_with("entry 3 request: header \"bad name\""),
            "{notes:?}"
        );
    }
}
