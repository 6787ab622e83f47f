//! Request bodies as matching compares them: JSON by value (key order and whitespace
//! ignored, `ignore-json` paths removed, GraphQL queries normalised), URL-encoded forms
//! as key/value lists, multipart bodies without their boundary, anything else byte for
//! byte.

use serde_json::Value;

use super::{graphql, Rules};
use crate::codec::multipart_boundary;

/// A body reduced to what decides a match.
#[derive(Debug, Clone, PartialEq)]
pub enum Canon {
    /// Compared byte for byte.
    Raw(Vec<u8>),
    /// A JSON document, rules applied.
    Json(Value),
    /// `application/x-www-form-urlencoded` pairs, decoded, ordered by name (values of one
    /// name keep their order).
    Form(Vec<(String, String)>),
    /// `multipart/form-data`: the bytes with the boundary string removed, and the text
    /// fields (file fields as name and file name), ordered by name.
    Multipart {
        /// The body without its boundary.
        stripped: Vec<u8>,
        /// The fields.
        fields: Vec<(String, String)>,
    },
    /// Only the fields are known (a HAR `postData.params` without `text`).
    Fields(Vec<(String, String)>),
}

fn is_form(content_type: &str) -> bool {
    content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
}

/// True when a body of `content_type` is worth parsing as JSON: a JSON or GraphQL type,
/// or bytes that open an object or array (clients often send JSON as text/plain).
pub(crate) fn looks_json(content_type: &str, bytes: &[u8]) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.contains("json")
        || ct.contains("graphql")
        || bytes
            .trim_ascii_start()
            .first()
            .is_some_and(|b| *b == b'{' || *b == b'[')
}

fn sorted(mut pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

/// Form pairs decoded (`+` as space).
fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

impl Canon {
    /// The body `bytes` sent with `content_type`, reduced by `rules`.
    pub fn of(content_type: &str, bytes: &[u8], rules: &Rules) -> Self {
        if let Some(boundary) = multipart_boundary(content_type) {
            let fields = crate::codec::multipart_parts(bytes, content_type)
                .into_iter()
                .map(|p| (p.name, p.filename.unwrap_or(p.value)))
                .collect();
            return Canon::Multipart {
                stripped: remove_all(bytes, boundary.as_bytes()),
                fields: sorted(fields),
            };
        }
        if is_form(content_type) {
            return Canon::Form(sorted(form_pairs(bytes)));
        }
        if looks_json(content_type, bytes) {
            if let Ok(mut doc) = serde_json::from_slice::<Value>(bytes) {
                normalise_graphql(&mut doc);
                rules.strip_json(&mut doc);
                return Canon::Json(doc);
            }
        }
        Canon::Raw(bytes.to_vec())
    }

    /// A body known only by its fields (`postData.params`: `name`, `value`, `fileName`).
    pub(crate) fn of_params(content_type: &str, params: &[Value]) -> Self {
        let pairs: Vec<(String, String)> = params
            .iter()
            .map(|p| {
                let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let file = text("fileName");
                (
                    text("name"),
                    if file.is_empty() { text("value") } else { file },
                )
            })
            .collect();
        if is_form(content_type) || multipart_boundary(content_type).is_none() {
            Canon::Form(sorted(pairs))
        } else {
            Canon::Fields(sorted(pairs))
        }
    }

    /// True when a request body reduced to `incoming` matches this recorded one.
    pub fn matches(&self, incoming: &Canon) -> bool {
        match (self, incoming) {
            (Canon::Multipart { stripped: a, .. }, Canon::Multipart { stripped: b, .. }) => a == b,
            (Canon::Fields(a), Canon::Multipart { fields: b, .. })
            | (Canon::Fields(a), Canon::Form(b))
            | (Canon::Form(a), Canon::Form(b)) => a == b,
            (Canon::Json(a), Canon::Json(b)) => a == b,
            (Canon::Raw(a), Canon::Raw(b)) => a == b,
            _ => false,
        }
    }

    /// The GraphQL operation this body carries: its `operationName`, else the name its
    /// query declares, else `anonymous`; `None` when it is not a GraphQL request.
    pub(crate) fn graphql_operation(&self) -> Option<String> {
        let Canon::Json(Value::Object(map)) = self else {
            return None;
        };
        let query = map.get("query")?.as_str()?;
        Some(
            map.get("operationName")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| graphql::declared_name(query))
                .unwrap_or_else(|| "anonymous".into()),
        )
    }
}

/// A GraphQL request (`{"query": "...", ...}`, or a batch of them) with each query
/// normalised, so formatting and comments do not decide a match.
fn normalise_graphql(doc: &mut Value) {
    match doc {
        Value::Object(map) => {
            if let Some(Value::String(q)) = map.get_mut("query") {
                *q = graphql::normalise(q);
            }
            if map.get("operationName").is_some_and(Value::is_null) {
                map.shift_remove("operationName");
            }
        }
        Value::Array(list) => list.iter_mut().for_each(normalise_graphql),
        _ => {}
    }
}

/// `haystack` with every occurrence of `needle` removed.
fn remove_all(haystack: &[u8], needle: &[u8]) -> Vec<u8> {
    if needle.is_empty() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSpec;
    use serde_json::json;

    fn rules(ignore_json: &[&str]) -> Rules {
        let mut spec = RuleSpec::default();
        spec.matching.ignore_json = ignore_json.iter().map(|s| s.to_string()).collect();
        Rules::compile(&spec).unwrap()
    }

    #[test]
    fn json_compares_by_value_with_ignored_fields_removed() {
        let none = rules(&[]);
        let a = Canon::of("application/json", br#"{"a":1,"b":[1,2]}"#, &none);
        let b = Canon::of("text/plain", b"{ \"b\": [1, 2],\n \"a\": 1 }", &none);
        assert!(a.matches(&b));
        assert!(!a.matches(&Canon::of(
            "application/json",
            br#"{"a":2,"b":[1,2]}"#,
            &none
        )));
        let ignore = rules(&["$.requestId", "/meta/ts"]);
        let a = Canon::of(
            "application/json",
            br#"{"q":"x","requestId":"r1","meta":{"ts":1}}"#,
            &ignore,
        );
        let b = Canon::of(
            "application/json",
            br#"{"meta":{"ts":2},"q":"x","requestId":"r2"}"#,
            &ignore,
        );
        assert!(a.matches(&b));
    }

    #[test]
    fn forms_compare_as_pairs_and_params_only_entries_still_compare() {
        let none = rules(&[]);
        let ct = "application/x-www-form-urlencoded";
        let a = Canon::of(ct, b"a=1&b=x+y", &none);
        assert!(a.matches(&Canon::of(ct, b"b=x%20y&a=1", &none)));
        assert!(!a.matches(&Canon::of(ct, b"a=2&b=x+y", &none)));
        let params = Canon::of_params(ct, &[json!({"name": "a", "value": "1"})]);
        assert!(params.matches(&Canon::of(ct, b"a=1", &none)));
        assert!(
            !params.matches(&Canon::of(ct, b"a=2", &none)),
            "params-only entries check the body"
        );
    }

    #[test]
    fn multipart_ignores_the_boundary_and_params_compare_with_fields() {
        let none = rules(&[]);
        let body = |b: &str, v: &str| {
            format!("--{b}\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n{v}\r\n--{b}--\r\n")
        };
        let a = Canon::of(
            "multipart/form-data; boundary=AAA",
            body("AAA", "v").as_bytes(),
            &none,
        );
        let b = Canon::of(
            "multipart/form-data; boundary=BBB",
            body("BBB", "v").as_bytes(),
            &none,
        );
        let c = Canon::of(
            "multipart/form-data; boundary=BBB",
            body("BBB", "w").as_bytes(),
            &none,
        );
        assert!(a.matches(&b));
        assert!(!a.matches(&c));
        let params = Canon::of_params(
            "multipart/form-data; boundary=x",
            &[json!({"name": "f", "value": "v"})],
        );
        assert!(params.matches(&b));
        assert!(!params.matches(&c));
    }

    #[test]
    fn graphql_matches_on_operation_normalised_query_and_variables() {
        let none = rules(&[]);
        let a = Canon::of(
            "application/json",
            br#"{"operationName":"GetUser","query":"query GetUser($id: ID!) {\n  user(id: $id) { id, name } # c\n}","variables":{"id":"1"}}"#,
            &none,
        );
        let b = Canon::of(
            "application/json",
            br#"{"variables":{"id":"1"},"query":"query GetUser($id:ID!){user(id:$id){id name}}","operationName":"GetUser"}"#,
            &none,
        );
        assert!(a.matches(&b));
        let other = Canon::of(
            "application/json",
            br#"{"operationName":"GetUser","query":"query GetUser($id:ID!){user(id:$id){id name}}","variables":{"id":"2"}}"#,
            &none,
        );
        assert!(!a.matches(&other));
        assert_eq!(a.graphql_operation().as_deref(), Some("GetUser"));
        assert_eq!(
            Canon::of("application/json", b"{\"a\":1}", &none).graphql_operation(),
            None
        );
    }

    #[test]
    fn other_bodies_compare_as_bytes() {
        let none = rules(&[]);
        let a = Canon::of("text/plain", b"hello", &none);
        assert!(a.matches(&Canon::of("text/plain", b"hello", &none)));
        assert!(!a.matches(&Canon::of("text/plain", b"hello ", &none)));
        assert!(
            !Canon::of("application/json", b"{bad", &none).matches(&Canon::of(
                "application/json",
                b"{bad ",
                &none
            ))
        );
    }
}
