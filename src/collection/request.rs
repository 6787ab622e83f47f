//! One saved request of a collection, by item name, as `harp fire` sends it: method,
//! headers and body with `{{variables}}` resolved (collection variables, then the
//! environment's) and `{{$dynamic}}` values filled fresh.

use serde_json::Value;

use super::dynamic::fill;
use super::model::{body_of, headers_of, text_of, RequestBody, Variables};

/// A request saved in a collection item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRequest {
    /// `Folder/Item`, as found.
    pub path: String,
    /// Upper-case method (GET when the item gives none).
    pub method: String,
    /// The item's URL, variables resolved (for messages; `harp fire` sends elsewhere).
    pub url: String,
    /// Enabled headers, resolved.
    pub headers: Vec<(String, String)>,
    /// The body as bytes (raw text, or a form `urlencoded`); its content type when the
    /// body mode implies one and the headers give none.
    pub body: Vec<u8>,
    /// `application/x-www-form-urlencoded` for a form body, else None.
    pub implied_type: Option<&'static str>,
}

/// Why no request was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ItemError {
    /// No item has that name (or `Folder/Item` path).
    #[error("no item named {name:?}; the collection has: {available}")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The first names the collection has.
        available: String,
    },
    /// Several items have that name.
    #[error("{count} items are named {name:?} ({paths}); name one by its folder path")]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// How many.
        count: usize,
        /// Their paths.
        paths: String,
    },
    /// The item has no request.
    #[error("item {0:?} has no request")]
    NoRequest(String),
    /// A `formdata` body: multipart with files is not something a webhook sends.
    #[error(
        "item {0:?} has a formdata body, which harp fire does not send; use raw or urlencoded"
    )]
    Multipart(String),
}

/// The request of the item called `name` (its name, or its `Folder/Item` path) in the
/// collection `doc`, with `env` over the collection's own variables.
pub fn item_request(doc: &Value, name: &str, env: &Variables) -> Result<ItemRequest, ItemError> {
    let (path, item) = find_item(doc, name)?;
    let mut vars = Variables::default();
    vars.extend_from(doc.get("variable"));
    for (k, v) in env.pairs() {
        vars.set(k, v);
    }
    let request = item
        .get("request")
        .filter(|r| !r.is_null())
        .ok_or_else(|| ItemError::NoRequest(path.clone()))?;
    let (method, url) = match request {
        Value::String(url) => ("GET".to_string(), url.clone()),
        _ => (
            request
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or("GET")
                .to_ascii_uppercase(),
            url_text(request.get("url")),
        ),
    };
    let headers = headers_of(request.get("header"), &vars)
        .into_iter()
        .map(|(k, v)| (k, fill(&v, &[])))
        .collect();
    let (body, implied_type) =
        body_bytes(request, &vars).ok_or_else(|| ItemError::Multipart(path.clone()))?;
    Ok(ItemRequest {
        url: fill(&vars.resolve(&url), &[]),
        path,
        method,
        headers,
        body,
        implied_type,
    })
}

/// The one item called `name` (or at `Folder/Item` path `name`), with its path.
fn find_item<'a>(doc: &'a Value, name: &str) -> Result<(String, &'a Value), ItemError> {
    let mut found = Vec::new();
    walk(doc.get("item"), "", &mut found);
    let matching: Vec<&(String, &Value)> = found
        .iter()
        .filter(|(path, item)| path == name || text_of(item.get("name")) == name)
        .collect();
    match matching.as_slice() {
        [one] => Ok((one.0.clone(), one.1)),
        [] => {
            let names: Vec<&str> = found.iter().take(20).map(|(p, _)| p.as_str()).collect();
            Err(ItemError::NotFound {
                name: name.to_string(),
                available: if names.is_empty() {
                    "no items".into()
                } else {
                    names.join(", ")
                },
            })
        }
        many => Err(ItemError::Ambiguous {
            name: name.to_string(),
            count: many.len(),
            paths: many
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The body as bytes (raw text, or a form URL-encoded, dynamic values filled) and the
/// content type a form implies; None for a `formdata` body, which is not sent.
fn body_bytes(request: &Value, vars: &Variables) -> Option<(Vec<u8>, Option<&'static str>)> {
    Some(match body_of(request.get("body"), vars) {
        RequestBody::None => (Vec::new(), None),
        RequestBody::Raw(text) => (fill(&text, &[]).into_bytes(), None),
        RequestBody::Form(pairs) => {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs {
                form.append_pair(&fill(k, &[]), &fill(v, &[]));
            }
            (
                form.finish().into_bytes(),
                Some("application/x-www-form-urlencoded"),
            )
        }
        RequestBody::Multipart(_) => return None,
    })
}

/// Items that hold a request, with their `Folder/Item` paths, in document order.
fn walk<'a>(items: Option<&'a Value>, prefix: &str, out: &mut Vec<(String, &'a Value)>) {
    for item in items.and_then(Value::as_array).into_iter().flatten() {
        let name = text_of(item.get("name"));
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        match item.get("item") {
            Some(children) => walk(Some(children), &path, out),
            None => out.push((path, item)),
        }
    }
}

/// A URL value as text: the string, or an object's `raw`.
fn url_text(url: Option<&Value>) -> String {
    match url {
        Some(Value::String(s)) => s.clone(),
        Some(obj) => text_of(obj.get("raw")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn collection() -> Value {
        json!({
            "info": {"name": "hooks"},
            "variable": [{"key": "account", "value": "acct_1"}],
            "item": [
                {"name": "Stripe", "item": [
                    {"name": "payment succeeded", "request": {
                        "method": "post",
                        "url": {"raw": "{{base}}/hooks/stripe"},
                        "header": [{"key": "Content-Type", "value": "application/json"},
                                   {"key": "X-Off", "value": "1", "disabled": true}],
                        "body": {"mode": "raw", "raw": "{\"account\":\"{{account}}\",\"id\":\"{{$guid}}\"}"}
                    }}
                ]},
                {"name": "form", "request": {"method": "POST", "url": "http://x.test/f",
                    "body": {"mode": "urlencoded", "urlencoded": [{"key": "a b", "value": "{{account}}"}]}}},
                {"name": "dup", "request": "http://x.test/1"},
                {"name": "Other", "item": [{"name": "dup", "request": "http://x.test/2"}]}
            ]
        })
    }

    #[test]
    fn finds_items_by_name_or_path_and_resolves_variables() {
        let mut env = Variables::default();
        env.set("base", "https://app.test");
        let r = item_request(&collection(), "payment succeeded", &env).unwrap();
        assert_eq!(r.path, "Stripe/payment succeeded");
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "https://app.test/hooks/stripe");
        assert_eq!(
            r.headers,
            [("Content-Type".to_string(), "application/json".to_string())]
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["account"], "acct_1");
        assert_eq!(body["id"].as_str().unwrap().len(), 36, "{body}");
        let form = item_request(&collection(), "form", &env).unwrap();
        assert_eq!(form.body, b"a+b=acct_1");
        assert_eq!(form.implied_type, Some("application/x-www-form-urlencoded"));
        assert_eq!(
            item_request(&collection(), "Other/dup", &env).unwrap().url,
            "http://x.test/2"
        );
    }

    #[test]
    fn says_what_is_missing_or_ambiguous() {
        let env = Variables::default();
        let err = item_request(&collection(), "nope", &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Stripe/payment succeeded, form, dup, Other/dup"),
            "{err}"
        );
        let err = item_request(&collection(), "dup", &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("2 items are named \"dup\" (dup, Other/dup)"),
            "{err}"
        );
    }
}
