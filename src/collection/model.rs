//! Postman collections (v2.0 and v2.1, as real exports write them) read into a flat list
//! of saved examples ready for matching: variables resolved, URLs split into path and
//! query, malformed examples set aside with the reason.

use serde_json::Value;

use crate::urls::{decode_segment, query_pairs, strip_host};

/// Variables: `{{name}}` → value. Later sources override earlier ones.
#[derive(Debug, Clone, Default)]
pub struct Variables(Vec<(String, String)>);

impl Variables {
    /// Adds (or replaces) a variable.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.0.push((key.to_string(), value.to_string())),
        }
    }

    /// Reads `[{key, value, enabled?, disabled?}]` (collection `variable`, environment `values`).
    pub(crate) fn extend_from(&mut self, list: Option<&Value>) {
        for v in list.and_then(Value::as_array).into_iter().flatten() {
            let enabled = v.get("enabled").and_then(Value::as_bool).unwrap_or(true)
                && !v.get("disabled").and_then(Value::as_bool).unwrap_or(false);
            let key = v.get("key").or_else(|| v.get("id")).and_then(Value::as_str);
            if let (true, Some(key)) = (enabled, key) {
                self.set(key, &text_of(v.get("value")));
            }
        }
    }

    /// Every variable, in the order set.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Replaces every `{{name}}` that has a value; `{{$dynamic}}` and unknown names stay.
    pub fn resolve(&self, text: &str) -> String {
        substitute(text, |name| {
            (!name.starts_with('$'))
                .then(|| self.get(name).map(str::to_string))
                .flatten()
        })
    }
}

/// `text` with each `{{name}}` (name trimmed) replaced by `value(name)`; names it has no
/// value for, and an unclosed `{{`, stay as written. The one `{{…}}` scanner: collection
/// variables, path variables and dynamic variables all go through it.
pub(crate) fn substitute(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        match value(after[..end].trim()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// One path segment of an example's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Literal text.
    Text(String),
    /// An unresolved `{{variable}}` or `:pathVariable`: matches any one segment, whose
    /// value the response can use as `{{name}}` (empty name: a segment with other text
    /// around the variable, matched but not captured).
    Var(String),
}

/// A saved example, flattened for matching and serving.
#[derive(Debug, Clone)]
pub struct Example {
    /// Position in the file (0-based), the tie-breaker.
    pub order: usize,
    /// The example's `id`, when it has one.
    pub id: Option<String>,
    /// The example's name.
    pub name: String,
    /// The request (item) name it belongs to.
    pub item: String,
    /// Upper-case method of the original request.
    pub method: String,
    /// Path segments (the part after the host), variables resolved.
    pub path: Vec<Segment>,
    /// True when the path ends with `/`.
    pub trailing_slash: bool,
    /// Query parameters (disabled ones left out).
    pub query: Vec<(String, String)>,
    /// Request headers, names lower-case.
    pub request_headers: Vec<(String, String)>,
    /// The request body, for body matching.
    pub request_body: RequestBody,
    /// Status code.
    pub code: u16,
    /// Response headers as saved.
    pub headers: Vec<(String, String)>,
    /// Response body text (may hold `{{$dynamic}}` variables).
    pub body: String,
    /// True when `body` is base64 of binary bytes (harp's `_harpBodyEncoding`).
    pub body_base64: bool,
    /// The recorded timing of a converted HAR entry (`_harpTimings`), for `--latency`.
    pub timing: crate::pacing::Timing,
}

/// The body of an example's original request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// None recorded.
    None,
    /// `raw` text.
    Raw(String),
    /// `urlencoded` pairs.
    Form(Vec<(String, String)>),
    /// `formdata` text fields (file fields are not compared).
    Multipart(Vec<(String, String)>),
}

/// A collection's examples and what was set aside.
#[derive(Debug, Clone, Default)]
pub struct Examples {
    /// The collection's name.
    pub name: String,
    /// Usable examples, in file order.
    pub examples: Vec<Example>,
    /// Examples dropped as malformed, with why (`item / example: reason`).
    pub dropped: Vec<String>,
    /// The examples grouped for matching.
    pub index: super::matcher::MockIndex,
}

/// Why a file is not a collection.
#[derive(Debug, thiserror::Error)]
#[error("not a Postman collection: {0}")]
pub struct NotACollection(pub String);

/// Reads a collection document (v2.0 or v2.1) into examples, resolving `{{variables}}`
/// from `env` first, then the collection's own `variable` list.
pub fn examples_from(doc: &Value, env: &Variables) -> Result<Examples, NotACollection> {
    let items = doc
        .get("item")
        .and_then(Value::as_array)
        .ok_or_else(|| NotACollection("no \"item\" array".into()))?;
    let mut vars = Variables::default();
    vars.extend_from(doc.get("variable"));
    for (k, v) in &env.0 {
        vars.set(k, v);
    }
    let name = doc
        .pointer("/info/name")
        .and_then(Value::as_str)
        .unwrap_or("collection")
        .to_string();
    let mut out = Examples {
        name,
        ..Examples::default()
    };
    walk(items, &vars, &mut out);
    out.index = super::matcher::MockIndex::new(&out.examples);
    Ok(out)
}

fn walk(items: &[Value], vars: &Variables, out: &mut Examples) {
    for item in items {
        if let Some(children) = item.get("item").and_then(Value::as_array) {
            walk(children, vars, out);
            continue;
        }
        let item_name = text_of(item.get("name"));
        let request = item.get("request");
        for response in item
            .get("response")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let order = out.examples.len() + out.dropped.len();
            match example(order, &item_name, request, response, vars) {
                Ok(e) => out.examples.push(e),
                Err(why) => out.dropped.push(format!(
                    "{item_name} / {}: {why}",
                    text_of(response.get("name"))
                )),
            }
        }
    }
}

fn example(
    order: usize,
    item: &str,
    request: Option<&Value>,
    response: &Value,
    vars: &Variables,
) -> Result<Example, String> {
    if !response.is_object() {
        return Err("not an object".into());
    }
    // The example's own request, else the item's (examples without originalRequest, or
    // with an empty one, as some exports save). Each part falls back on its own.
    let original = response.get("originalRequest").filter(|r| !r.is_null());
    let req = original
        .or(request)
        .ok_or("no originalRequest and no item request")?;
    if !req.is_object() && !req.is_string() {
        return Err("request is neither a URL nor an object".into());
    }
    let (method, url) = method_and_url(original, request);
    let SplitUrl {
        path,
        trailing_slash,
        query,
    } = split_url(&url, vars)?;
    let (body, body_base64) = response_body(response, vars);
    Ok(Example {
        order,
        id: response
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string),
        name: text_of(response.get("name")),
        item: item.to_string(),
        method,
        path,
        trailing_slash,
        query,
        request_headers: headers_of(req.get("header"), vars)
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        request_body: body_of(req.get("body"), vars),
        code: status_code(response)?,
        headers: headers_of(response.get("header"), vars),
        body,
        body_base64,
        timing: response
            .get(crate::pacing::EXAMPLE_FIELD)
            .map(crate::pacing::Timing::from_json)
            .unwrap_or_default(),
    })
}

/// The method (GET when none is given) and URL of an example: the example's own
/// request first, the item's where it says nothing.
fn method_and_url(original: Option<&Value>, request: Option<&Value>) -> (String, Value) {
    let method_of = |r: Option<&Value>| {
        r.and_then(|r| r.get("method"))
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
    };
    let url_of = |r: Option<&Value>| -> Option<Value> {
        match r? {
            Value::String(url) if !url.trim().is_empty() => Some(Value::String(url.clone())),
            Value::Object(_) => r?.get("url").filter(|u| has_url(u)).cloned(),
            _ => None,
        }
    };
    let method = method_of(original)
        .or_else(|| method_of(request))
        .unwrap_or_else(|| "GET".to_string());
    let url = url_of(original)
        .or_else(|| url_of(request))
        .unwrap_or(Value::Null);
    (method, url)
}

/// An example's status. One saved with neither `code` nor `status` is served as 200,
/// as Postman's editor shows it; a code or status that is present but not a status is
/// malformed.
fn status_code(response: &Value) -> Result<u16, String> {
    match (response.get("code"), response.get("status")) {
        (None | Some(Value::Null), None | Some(Value::Null)) => Ok(200),
        (code, status) => match code {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .or_else(|| {
            text_of(status)
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
        })
        .filter(|c| (100..=999).contains(c))
        .map(|c| c as u16)
        .ok_or_else(|| "no valid status code".to_string()),
    }
}

/// The response body (variables resolved, unless it is base64) and whether it is base64.
fn response_body(response: &Value, vars: &Variables) -> (String, bool) {
    let base64 = response.get("_harpBodyEncoding").and_then(Value::as_str) == Some("base64");
    let body = match response.get("body") {
        Some(Value::String(s)) if base64 => s.clone(),
        Some(Value::String(s)) => vars.resolve(s),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    (body, base64)
}

/// True when a URL value names something (a non-empty string, or an object with a
/// non-empty `raw`, `host` or `path`).
fn has_url(url: &Value) -> bool {
    match url {
        Value::String(s) => !s.trim().is_empty(),
        Value::Object(_) => ["raw", "host", "path"].iter().any(|k| match url.get(*k) {
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            _ => false,
        }),
        _ => false,
    }
}

/// Text of a JSON value: strings as they are, numbers and booleans printed, null empty.
pub(crate) fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Headers from `[{key, value, disabled}]`, a `"Name: value\n…"` string, or `["Name: value"]`.
pub(crate) fn headers_of(v: Option<&Value>, vars: &Variables) -> Vec<(String, String)> {
    let from_line = |line: &str| -> Option<(String, String)> {
        let (k, val) = line.split_once(':')?;
        (!k.trim().is_empty()).then(|| (k.trim().to_string(), vars.resolve(val.trim())))
    };
    match v {
        Some(Value::String(s)) => s.lines().filter_map(from_line).collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|h| match h {
                Value::String(s) => from_line(s),
                Value::Object(_) if h.get("disabled").and_then(Value::as_bool).unwrap_or(false) => {
                    None
                }
                Value::Object(_) => {
                    let key = text_of(h.get("key"));
                    (!key.trim().is_empty()).then(|| {
                        (
                            key.trim().to_string(),
                            vars.resolve(&text_of(h.get("value"))),
                        )
                    })
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn body_of(v: Option<&Value>, vars: &Variables) -> RequestBody {
    let Some(body) = v.filter(|b| b.is_object()) else {
        return RequestBody::None;
    };
    let pairs = |key: &str| -> Vec<(String, String)> {
        body.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|p| !p.get("disabled").and_then(Value::as_bool).unwrap_or(false))
            .filter(|p| p.get("type").and_then(Value::as_str) != Some("file"))
            .map(|p| {
                (
                    vars.resolve(&text_of(p.get("key"))),
                    vars.resolve(&text_of(p.get("value"))),
                )
            })
            .collect()
    };
    match body.get("mode").and_then(Value::as_str) {
        Some("raw") => match body.get("raw") {
            Some(Value::String(s)) if !s.is_empty() => RequestBody::Raw(vars.resolve(s)),
            _ => RequestBody::None,
        },
        Some("urlencoded") => RequestBody::Form(pairs("urlencoded")),
        Some("formdata") => RequestBody::Multipart(pairs("formdata")),
        _ => RequestBody::None,
    }
}

/// Splits a request URL (string or object) into path segments, trailing slash, and
/// query pairs, after resolving variables. The host part is ignored: a mock answers on
/// its own host.
fn split_url(url: &Value, vars: &Variables) -> Result<SplitUrl, String> {
    let (raw, path_vars, query_list) = match url {
        Value::String(s) => (s.clone(), Variables::default(), None),
        Value::Object(_) => {
            let mut path_vars = Variables::default();
            path_vars.extend_from(url.get("variable"));
            let raw = match url.get("raw").and_then(Value::as_str) {
                Some(raw) => raw.to_string(),
                None => assemble(url),
            };
            (raw, path_vars, url.get("query"))
        }
        _ => return Err("no URL".into()),
    };
    let resolved = vars.resolve(&raw);
    let no_fragment = resolved.split('#').next().unwrap_or("");
    let (before_query, query_text) = no_fragment.split_once('?').unwrap_or((no_fragment, ""));
    let path_text = strip_host(before_query);
    let trailing_slash = path_text.len() > 1 && path_text.ends_with('/');
    let path = path_text
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|seg| segment_of(seg, &path_vars, vars))
        .collect();
    // The structured query list knows which parameters are disabled; prefer it.
    let query = match query_list.and_then(Value::as_array) {
        Some(list) => enabled_pairs(list, vars),
        None => query_pairs(query_text),
    };
    Ok(SplitUrl {
        path,
        trailing_slash,
        query,
    })
}

/// One path segment: `:name` (its value when the URL's variables give one), a whole
/// `{{name}}`, or text, percent-decoded.
fn segment_of(seg: &str, path_vars: &Variables, vars: &Variables) -> Segment {
    if let Some(name) = seg.strip_prefix(':') {
        return match path_vars
            .get(name)
            .map(|v| vars.resolve(v))
            .filter(|v| !v.is_empty() && !v.contains("{{"))
        {
            Some(value) => Segment::Text(value),
            None => Segment::Var(name.to_string()),
        };
    }
    if seg.contains("{{") {
        let whole = seg
            .strip_prefix("{{")
            .and_then(|s| s.strip_suffix("}}"))
            .filter(|name| !name.contains("{{") && !name.contains("}}"));
        return Segment::Var(whole.unwrap_or("").trim().to_string());
    }
    Segment::Text(decode_segment(seg))
}

/// The enabled `key`/`value` pairs of a structured query list, variables resolved.
fn enabled_pairs(list: &[Value], vars: &Variables) -> Vec<(String, String)> {
    list.iter()
        .filter(|q| !q.get("disabled").and_then(Value::as_bool).unwrap_or(false))
        .map(|q| {
            (
                vars.resolve(&text_of(q.get("key"))),
                vars.resolve(&text_of(q.get("value"))),
            )
        })
        .collect()
}

/// A request URL as matching needs it.
struct SplitUrl {
    path: Vec<Segment>,
    trailing_slash: bool,
    query: Vec<(String, String)>,
}

fn assemble(url: &Value) -> String {
    let join = |v: Option<&Value>, sep: &str| match v {
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| text_of(Some(p)))
            .collect::<Vec<_>>()
            .join(sep),
        other => text_of(other),
    };
    let host = join(url.get("host"), ".");
    let path = join(url.get("path"), "/");
    let protocol = text_of(url.get("protocol"));
    let mut raw = String::new();
    if !protocol.is_empty() {
        raw.push_str(&protocol);
        raw.push_str("://");
    }
    raw.push_str(&host);
    if !path.is_empty() && !path.starts_with('/') {
        raw.push('/');
    }
    raw.push_str(&path);
    raw
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_variables_and_leaves_dynamic_ones() {
        let mut v = Variables::default();
        v.set("host", "api.test");
        assert_eq!(
            v.resolve("https://{{host}}/{{missing}}/{{$guid}}"),
            "https://api.test/{{missing}}/{{$guid}}"
        );
        assert_eq!(v.resolve("no vars {{"), "no vars {{");
    }

    #[test]
    fn reads_examples_with_fallbacks() {
        let doc = json!({
            "info": {"name": "t"},
            "variable": [{"key": "url", "value": "localhost:3000"}],
            "item": [
                {"name": "folder", "item": [{
                    "name": "get todo",
                    "request": {"method": "GET", "url": {"raw": "{{url}}/todos/:id", "variable": [{"key": "id", "value": ""}]}},
                    "response": [
                        {"name": "ok", "code": 200, "header": [{"key": "A", "value": "1"}, {}], "body": "{}",
                         "originalRequest": {"method": "get", "url": {"raw": "{{url}}/todos/:id?x=1&y", "query": [{"key": "x", "value": "1"}, {"key": "z", "value": "2", "disabled": true}]}}},
                        {"name": "no original request", "status": "404 Not Found", "body": null},
                        {"name": "bad", "code": "abc"},
                        {"name": "no status at all"}
                    ]
                }]},
                {"name": "string url", "request": "https://x.test/plain/", "response": [{"name": "s", "code": 201, "header": "X-A: 1\nX-B: 2"}]}
            ]
        });
        let ex = examples_from(&doc, &Variables::default()).unwrap();
        assert_eq!(ex.examples.len(), 4);
        assert_eq!(ex.dropped.len(), 1);
        assert!(ex.dropped[0].contains("no valid status code"));
        let a = &ex.examples[0];
        assert_eq!(a.method, "GET");
        assert_eq!(
            a.path,
            vec![Segment::Text("todos".into()), Segment::Var("id".into())]
        );
        assert_eq!(a.query, vec![("x".to_string(), "1".to_string())]);
        assert_eq!(a.headers, vec![("A".to_string(), "1".to_string())]);
        assert_eq!(ex.examples[1].code, 404);
        assert_eq!(ex.examples[1].body, "");
        assert_eq!(ex.examples[2].code, 200);
        let s = &ex.examples[3];
        assert!(s.trailing_slash);
        assert_eq!(s.headers.len(), 2);
        assert!(examples_from(&json!({"info": {}}), &Variables::default()).is_err());
    }

    #[test]
    fn host_stripping() {
        assert_eq!(strip_host("https://a.test:8/x/y"), "/x/y");
        assert_eq!(strip_host("{{url}}/todos"), "/todos");
        assert_eq!(strip_host("/already"), "/already");
    }
}
