//! OpenAPI 3.0 and 3.1 definitions (JSON or YAML) into Postman collections with saved
//! examples, so `harp convert` writes them and `harp mock` serves them.
//!
//! - One item per operation, in a folder per first tag; named by `summary`, else
//!   `operationId`, else `METHOD /path`.
//! - URLs start with `{{baseUrl}}`: the first server's URL with its variables' defaults
//!   (an operation's or path's own `servers` win), so a server's base path (`/v2`) is part
//!   of every mocked path. Path templates become Postman path variables (`/pet/:petId`)
//!   with an empty value, which the mock matches against any segment; the parameter's
//!   example is in the variable's description.
//! - Query parameters and headers carry their example (or a sample); optional query
//!   parameters are disabled. A request body is sent as JSON, a URL-encoded form or
//!   multipart text fields, from its example or a sample of its schema.
//! - One example per documented response: each named `examples` entry, else `example`,
//!   else a sample built from the schema (`sample`); 2xx first. `default` is served as
//!   200 when the operation documents no 2xx response, else as 500; `2XX`-style ranges
//!   as their first code.

pub mod sample;

use std::path::Path;

use serde_json::{json, Map, Value};

use super::convert::{Conversion, SCHEMA_V21};
use sample::{resolve, sample, Side};

/// Largest definition read.
pub const MAX_DEFINITION_BYTES: u64 = 64 << 20;

/// Why a definition cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenApiError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
    /// Neither JSON nor YAML.
    #[error("{path}: not JSON or YAML: {reason}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message.
        reason: String,
    },
    /// Not an OpenAPI 3 definition.
    #[error("{path}: {reason}")]
    NotOpenApi {
        /// The file.
        path: String,
        /// What is missing.
        reason: String,
    },
}

/// True when `path` looks like an OpenAPI definition by name (`.yaml`, `.yml`), or a JSON
/// file whose first bytes mention `"openapi"`.
pub fn is_definition(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("yaml" | "yml") => true,
        Some("json") => std::fs::File::open(path)
            .and_then(|f| {
                use std::io::Read;
                let mut head = Vec::new();
                f.take(4096).read_to_end(&mut head)?;
                Ok(String::from_utf8_lossy(&head).contains("\"openapi\""))
            })
            .unwrap_or(false),
        _ => false,
    }
}

/// Reads a definition (JSON, or YAML) and checks it is OpenAPI 3.
pub fn load(path: &Path) -> Result<Value, OpenApiError> {
    let shown = path.display().to_string();
    let bytes = crate::input::read_regular_file(path, MAX_DEFINITION_BYTES).map_err(|source| {
        OpenApiError::Io {
            path: shown.clone(),
            source,
        }
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let doc: Value = match serde_json::from_str(&text) {
        Ok(doc) => doc,
        Err(json_err) => {
            serde_saphyr::from_str(&text).map_err(|yaml_err| OpenApiError::Syntax {
                path: shown.clone(),
                reason: if text.trim_start().starts_with('{') {
                    json_err.to_string()
                } else {
                    yaml_err.to_string()
                },
            })?
        }
    };
    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("3.") {
        let reason = if doc.get("swagger").is_some() {
            "a Swagger 2.0 definition: harp reads OpenAPI 3.0 and 3.1 (convert it first, e.g. with swagger2openapi)".to_string()
        } else {
            format!("not an OpenAPI 3 definition (\"openapi\": {:?})", version)
        };
        return Err(OpenApiError::NotOpenApi {
            path: shown,
            reason,
        });
    }
    if !doc.get("paths").is_some_and(Value::is_object)
        && !doc.get("webhooks").is_some_and(Value::is_object)
    {
        return Err(OpenApiError::NotOpenApi {
            path: shown,
            reason: "no \"paths\"".into(),
        });
    }
    Ok(doc)
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The collection for definition `doc`, and what it left out.
pub fn to_collection(doc: &Value, name: Option<&str>) -> Conversion {
    let mut notes = Vec::new();
    let title = doc
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("API");
    let name = name.unwrap_or(title);
    let base = server_url(doc.get("servers")).unwrap_or_default();
    let mut folders: Vec<(String, Vec<Value>)> = Vec::new();
    let mut loose = Vec::new();
    let mut operations = 0usize;
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let item = resolve(doc, item).unwrap_or(item);
        for method in METHODS {
            let Some(op) = item.get(*method).filter(|o| o.is_object()) else {
                continue;
            };
            operations += 1;
            let server = server_url(op.get("servers")).or_else(|| server_url(item.get("servers")));
            let built = operation(doc, path, method, item, op, server.as_deref(), &mut notes);
            match op.pointer("/tags/0").and_then(Value::as_str) {
                Some(tag) => match folders.iter_mut().find(|(t, _)| t == tag) {
                    Some((_, list)) => list.push(built),
                    None => folders.push((tag.to_string(), vec![built])),
                },
                None => loose.push(built),
            }
        }
    }
    if operations == 0 {
        notes.push("the definition has no operations under \"paths\"".into());
    }
    let mut items: Vec<Value> = folders
        .into_iter()
        .map(|(tag, list)| json!({"name": tag, "item": list}))
        .collect();
    items.extend(loose);
    let collection = json!({
        "info": {
            "_postman_id": super::convert::pseudo_uuid(name, operations),
            "name": name,
            "description": doc.pointer("/info/description").and_then(Value::as_str).unwrap_or(""),
            "schema": SCHEMA_V21,
        },
        "item": items,
        "variable": [{"key": "baseUrl", "value": base, "type": "string"}],
    });
    Conversion { collection, notes }
}

/// A server's URL with its variables' defaults, without a trailing slash.
fn server_url(servers: Option<&Value>) -> Option<String> {
    let server = servers?.as_array()?.first()?;
    let mut url = server.get("url")?.as_str()?.to_string();
    for (name, var) in server
        .get("variables")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let default = var.get("default").map(text).unwrap_or_default();
        url = url.replace(&format!("{{{name}}}"), &default);
    }
    Some(url.trim_end_matches('/').to_string())
}

/// One operation as a collection item with its examples.
fn operation(
    doc: &Value,
    path: &str,
    method: &str,
    item: &Value,
    op: &Value,
    server: Option<&str>,
    notes: &mut Vec<String>,
) -> Value {
    let upper = method.to_ascii_uppercase();
    let label = format!("{upper} {path}");
    let name = op
        .get("summary")
        .or_else(|| op.get("operationId"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map_or_else(|| label.clone(), str::to_string);
    // Path-level parameters, overridden by the operation's of the same name and place.
    let mut params: Vec<&Value> = Vec::new();
    for p in [item.get("parameters"), op.get("parameters")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
    {
        let p = resolve(doc, p).unwrap_or(p);
        let key = |p: &Value| (text_at(p, "name"), text_at(p, "in"));
        params.retain(|q| key(q) != key(p));
        params.push(p);
    }
    let url = url_of(doc, path, server, &params);
    let mut headers: Vec<Value> = params
        .iter()
        .filter(|p| text_at(p, "in") == "header")
        .map(|p| json!({"key": text_at(p, "name"), "value": param_value(doc, p)}))
        .collect();
    let body = request_body(doc, op, &mut headers, &label, notes);
    let mut request = json!({"method": upper, "header": headers, "url": url});
    if let Some(d) = op.get("description").and_then(Value::as_str) {
        request["description"] = json!(d);
    }
    if let Some(body) = body {
        request["body"] = body;
    }
    let examples = responses(doc, op, &request, &label, notes);
    json!({"name": name, "request": request, "response": examples})
}

/// `{{baseUrl}}/pet/:petId?status=available`, as a Postman URL object.
fn url_of(doc: &Value, path: &str, server: Option<&str>, params: &[&Value]) -> Value {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => s.to_string(),
            },
        )
        .collect();
    let host = server.map_or_else(|| "{{baseUrl}}".to_string(), str::to_string);
    let variables: Vec<Value> = params
        .iter()
        .filter(|p| text_at(p, "in") == "path")
        .map(|p| {
            json!({"key": text_at(p, "name"), "value": "",
                   "description": format!("{} (e.g. {})", text_at(p, "description"), param_value(doc, p)).trim().to_string()})
        })
        .collect();
    let query: Vec<Value> = params
        .iter()
        .filter(|p| text_at(p, "in") == "query")
        .map(|p| {
            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            json!({"key": text_at(p, "name"), "value": param_value(doc, p), "disabled": !required})
        })
        .collect();
    let enabled: Vec<String> = query
        .iter()
        .filter(|q| !q["disabled"].as_bool().unwrap_or(false))
        .map(|q| format!("{}={}", text_at(q, "key"), text_at(q, "value")))
        .collect();
    let mut raw = format!("{host}/{}", segments.join("/"));
    if !enabled.is_empty() {
        raw = format!("{raw}?{}", enabled.join("&"));
    }
    json!({"raw": raw, "host": [host], "path": segments, "query": query, "variable": variables})
}

/// A parameter's example (or a sample of its schema), as text.
fn param_value(doc: &Value, p: &Value) -> String {
    if let Some(v) = p.get("example") {
        return text(v);
    }
    if let Some(v) = p
        .get("examples")
        .and_then(Value::as_object)
        .and_then(|m| m.values().next())
        .and_then(|e| resolve(doc, e))
        .and_then(|e| e.get("value"))
    {
        return text(v);
    }
    p.get("schema")
        .map(|s| text(&sample(doc, s, Side::Request)))
        .unwrap_or_default()
}

/// The request body (JSON, form, multipart text fields), its content type added to
/// `headers`.
fn request_body(
    doc: &Value,
    op: &Value,
    headers: &mut Vec<Value>,
    label: &str,
    notes: &mut Vec<String>,
) -> Option<Value> {
    let body = op.get("requestBody")?;
    let body = resolve(doc, body).unwrap_or(body);
    let content = body.get("content")?.as_object()?;
    let (mime, media) = pick_media(content)?;
    headers.push(json!({"key": "Content-Type", "value": mime}));
    let value = media_example(doc, media, Side::Request).unwrap_or(Value::Null);
    let essence = crate::codec::essence(mime);
    if essence == "application/x-www-form-urlencoded" || essence == "multipart/form-data" {
        let mode = if essence == "multipart/form-data" {
            "formdata"
        } else {
            "urlencoded"
        };
        let pairs: Vec<Value> = value
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| json!({"key": k, "value": text(v), "type": "text"}))
            .collect();
        return Some(json!({"mode": mode, mode: pairs}));
    }
    if !is_json(mime) && !value.is_string() {
        notes.push(format!(
            "{label}: request body {mime}: no example, left empty"
        ));
        return None;
    }
    Some(
        json!({"mode": "raw", "raw": body_text(mime, &value), "options": {"raw": {"language": if is_json(mime) { "json" } else { "text" }}}}),
    )
}

/// The examples of an operation: one per documented response (and per named example).
fn responses(
    doc: &Value,
    op: &Value,
    request: &Value,
    label: &str,
    notes: &mut Vec<String>,
) -> Vec<Value> {
    let Some(list) = op.get("responses").and_then(Value::as_object) else {
        notes.push(format!("{label}: no responses documented; no example"));
        return Vec::new();
    };
    let has_2xx = list.keys().any(|k| k.starts_with('2'));
    let mut coded: Vec<(u16, &String, &Value)> = list
        .iter()
        .filter_map(|(code, resp)| Some((status_of(code, has_2xx)?, code, resp)))
        .collect();
    // 2xx first (what the mock serves when the request names no code), then by code.
    coded.sort_by_key(|(c, _, _)| (!(200..300).contains(c), *c));
    let mut out = Vec::new();
    for (code, key, resp) in coded {
        let resp = resolve(doc, resp).unwrap_or(resp);
        out.extend(examples_of(doc, code, key, resp, request));
    }
    out
}

/// The examples of one documented response (`key`, served as `code`): one per named
/// example of its media type, else one with its example or a sample.
fn examples_of(doc: &Value, code: u16, key: &str, resp: &Value, request: &Value) -> Vec<Value> {
    let description = text_at(resp, "description");
    let headers: Vec<Value> = resp
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, h)| {
            let h = resolve(doc, h).unwrap_or(h);
            json!({"key": name, "value": param_value(doc, h)})
        })
        .collect();
    let media = resp
        .get("content")
        .and_then(Value::as_object)
        .and_then(pick_media);
    let reason = http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let bodies: Vec<(String, String, Option<&str>)> = match media {
        None => vec![(String::new(), String::new(), None)],
        Some((mime, media)) => named_examples(doc, media)
            .map(|list| {
                list.into_iter()
                    .map(|(n, v)| (n, body_text(mime, &v), Some(mime)))
                    .collect()
            })
            .unwrap_or_else(|| {
                let v = media_example(doc, media, Side::Response).unwrap_or(Value::Null);
                vec![(String::new(), body_text(mime, &v), Some(mime))]
            }),
    };
    bodies
        .into_iter()
        .map(|(example_name, body, mime)| {
            let mut header = headers.clone();
            if let Some(mime) = mime {
                header.insert(0, json!({"key": "Content-Type", "value": mime}));
            }
            let title = if example_name.is_empty() {
                format!("{key} {description}")
            } else {
                format!("{key} {example_name}")
            };
            json!({
                "name": title.trim(),
                "originalRequest": request,
                "status": reason,
                "code": code,
                "_postman_previewlanguage": if mime.is_some_and(is_json) { "json" } else { "text" },
                "header": header,
                "cookie": [],
                "body": body,
            })
        })
        .collect()
}

/// `200`, `2XX` → 200, `default` → 200 without a documented 2xx, else 500.
fn status_of(key: &str, has_2xx: bool) -> Option<u16> {
    if key == "default" {
        return Some(if has_2xx { 500 } else { 200 });
    }
    if let Some(first) = key.strip_suffix("XX").or_else(|| key.strip_suffix("xx")) {
        return first.parse::<u16>().ok().map(|d| d * 100);
    }
    key.parse().ok().filter(|c| (100..=599).contains(c))
}

/// The media type to use: JSON first, then forms, then the first listed.
fn pick_media(content: &Map<String, Value>) -> Option<(&str, &Value)> {
    content
        .iter()
        .find(|(m, _)| is_json(m))
        .or_else(|| content.iter().find(|(m, _)| m.contains("form")))
        .or_else(|| content.iter().next())
        .map(|(m, v)| (m.as_str(), v))
}

/// A media type's `examples`, by name (their `value`s; `externalValue`s are skipped).
fn named_examples(doc: &Value, media: &Value) -> Option<Vec<(String, Value)>> {
    let map = media.get("examples")?.as_object()?;
    let list: Vec<(String, Value)> = map
        .iter()
        .filter_map(|(name, e)| {
            let e = resolve(doc, e)?;
            let title = e.get("summary").and_then(Value::as_str).unwrap_or(name);
            Some((title.to_string(), e.get("value")?.clone()))
        })
        .collect();
    (!list.is_empty()).then_some(list)
}

/// A media type's `example`, else its first named example, else a sample of its schema.
fn media_example(doc: &Value, media: &Value, side: Side) -> Option<Value> {
    if let Some(v) = media.get("example") {
        return Some(v.clone());
    }
    if let Some(mut list) = named_examples(doc, media) {
        return Some(list.remove(0).1);
    }
    media.get("schema").map(|s| sample(doc, s, side))
}

fn is_json(mime: &str) -> bool {
    let e = crate::codec::essence(mime);
    e == "application/json" || e.ends_with("+json") || e == "*/*"
}

/// A body as text: JSON pretty-printed, a string as it is.
fn body_text(mime: &str, value: &Value) -> String {
    match value {
        Value::String(s) if !is_json(mime) => s.clone(),
        Value::Null if !is_json(mime) => String::new(),
        v => serde_json::to_string_pretty(v).unwrap_or_default(),
    }
}

/// A JSON value as plain text (strings without quotes).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn text_at(v: &Value, key: &str) -> String {
    v.get(key).map(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_server_urls() {
        assert_eq!(status_of("default", false), Some(200));
        assert_eq!(status_of("default", true), Some(500));
        assert_eq!(status_of("4XX", true), Some(400));
        assert_eq!(status_of("201", true), Some(201));
        assert_eq!(status_of("x", true), None);
        let servers = json!([{"url": "https://{region}.api.test/{base}/", "variables": {
            "region": {"default": "eu"}, "base": {"default": "v2"}}}]);
        assert_eq!(
            server_url(Some(&servers)).as_deref(),
            Some("https://eu.api.test/v2")
        );
    }

    #[test]
    fn an_operation_becomes_an_item_with_an_example_per_response() {
        let doc = json!({
            "openapi": "3.1.0", "info": {"title": "T"},
            "servers": [{"url": "http://api.test/v1"}],
            "paths": {"/pets/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}, "example": 7}],
                "get": {"tags": ["pets"], "operationId": "getPet",
                    "parameters": [{"name": "full", "in": "query", "schema": {"type": "boolean"}}],
                    "responses": {
                        "404": {"description": "missing", "content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}},
                        "200": {"description": "ok", "content": {"application/json": {"examples": {
                            "cat": {"value": {"name": "Tom"}}, "dog": {"summary": "A dog", "value": {"name": "Rex"}}}}}}
                    }}
            }}
        });
        let c = to_collection(&doc, None).collection;
        assert_eq!(c["variable"][0]["value"], "http://api.test/v1");
        let item = &c["item"][0]["item"][0];
        assert_eq!(c["item"][0]["name"], "pets");
        assert_eq!(item["name"], "getPet");
        assert_eq!(item["request"]["url"]["raw"], "{{baseUrl}}/pets/:id");
        assert_eq!(
            item["request"]["url"]["variable"][0]["description"],
            "(e.g. 7)"
        );
        assert_eq!(item["request"]["url"]["query"][0]["disabled"], true);
        let names: Vec<&str> = item["response"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["200 cat", "200 A dog", "404 missing"]);
        assert_eq!(item["response"][2]["body"], "{\n  \"error\": \"string\"\n}");
    }
}
