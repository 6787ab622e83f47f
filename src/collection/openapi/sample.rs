//! A sample value for a JSON Schema (OpenAPI 3.0 and 3.1 dialects), when a definition
//! gives no example: the schema's own `example`/`examples`/`const`/`default`/first `enum`
//! value first, else one built from its type and format, with every property of an
//! object (required or not), one item per array (or `minItems`), `allOf` merged and the
//! first of `oneOf`/`anyOf`. Local `$ref`s are followed; a reference cycle or more than
//! [`MAX_DEPTH`] levels ends in `null`.

use serde_json::{json, Map, Value};

/// Deepest nesting sampled.
pub const MAX_DEPTH: usize = 12;

/// Which side a sample is for: requests leave `readOnly` properties out, responses
/// `writeOnly` ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A request body.
    Request,
    /// A response body.
    Response,
}

/// Follows a local reference (`#/components/schemas/Pet`) in `doc`.
pub fn resolve<'a>(doc: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let mut node = node;
    // References to references, within reason.
    for _ in 0..16 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(r) => node = doc.pointer(r.strip_prefix('#')?)?,
            None => return Some(node),
        }
    }
    None
}

/// A sample for `schema` within `doc`.
pub fn sample(doc: &Value, schema: &Value, side: Side) -> Value {
    Sampler {
        doc,
        side,
        refs: Vec::new(),
    }
    .value(schema, 0)
}

struct Sampler<'a> {
    doc: &'a Value,
    side: Side,
    /// References being expanded (a cycle ends in null).
    refs: Vec<String>,
}

impl Sampler<'_> {
    fn value(&mut self, schema: &Value, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            if self.refs.iter().any(|seen| seen == r) {
                return Value::Null;
            }
            let Some(target) = resolve(self.doc, schema) else {
                return Value::Null;
            };
            self.refs.push(r.to_string());
            let v = self.value(target, depth + 1);
            self.refs.pop();
            return v;
        }
        if let Some(v) = given(schema) {
            return v;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            return self.all_of(all, depth);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = schema
                .get(key)
                .and_then(Value::as_array)
                .and_then(|l| l.first())
            {
                return self.value(first, depth + 1);
            }
        }
        match type_of(schema).as_deref() {
            Some("object") => self.object(schema, depth),
            Some("array") => self.array(schema, depth),
            Some("string") => string(schema),
            Some("integer") => number(schema, true),
            Some("number") => number(schema, false),
            Some("boolean") => Value::Bool(true),
            Some("null") => Value::Null,
            _ if schema.get("properties").is_some() => self.object(schema, depth),
            _ if schema.get("items").is_some() => self.array(schema, depth),
            _ => Value::Null,
        }
    }

    fn all_of(&mut self, parts: &[Value], depth: usize) -> Value {
        let mut merged = Map::new();
        let mut other = Value::Null;
        for part in parts {
            match self.value(part, depth + 1) {
                Value::Object(map) => merged.extend(map),
                v if other.is_null() => other = v,
                _ => {}
            }
        }
        if merged.is_empty() {
            other
        } else {
            Value::Object(merged)
        }
    }

    fn object(&mut self, schema: &Value, depth: usize) -> Value {
        let mut out = Map::new();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                let prop_schema = resolve(self.doc, prop).unwrap_or(prop);
                let hidden = match self.side {
                    Side::Request => flag(prop_schema, "readOnly"),
                    Side::Response => flag(prop_schema, "writeOnly"),
                };
                if !hidden {
                    out.insert(name.clone(), self.value(prop, depth + 1));
                }
            }
        } else if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
            out.insert("key".into(), self.value(extra, depth + 1));
        }
        Value::Object(out)
    }

    fn array(&mut self, schema: &Value, depth: usize) -> Value {
        let items = schema.get("items").cloned().unwrap_or(Value::Null);
        let n = schema
            .get("minItems")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .clamp(1, 3) as usize;
        let one = self.value(&items, depth + 1);
        Value::Array(vec![one; n])
    }
}

/// A value the schema states itself: `example`, the first of 3.1's `examples`, `const`,
/// `default`, the first `enum` value.
fn given(schema: &Value) -> Option<Value> {
    if let Some(v) = schema.get("example") {
        return Some(v.clone());
    }
    if let Some(v) = schema
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
    {
        return Some(v.clone());
    }
    for key in ["const", "default"] {
        if let Some(v) = schema.get(key) {
            return Some(v.clone());
        }
    }
    schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find(|v| !v.is_null()).or(l.first()))
        .cloned()
}

/// The schema's type: 3.0's string, or the first non-null of 3.1's list.
fn type_of(schema: &Value) -> Option<String> {
    match schema.get("type")? {
        Value::String(t) => Some(t.clone()),
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .or_else(|| list.first().and_then(Value::as_str))
            .map(str::to_string),
        _ => None,
    }
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// A string for the schema's `format` (or length bounds).
fn string(schema: &Value) -> Value {
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let text = match format {
        "date-time" => "2024-01-01T12:00:00Z",
        "date" => "2024-01-01",
        "time" => "12:00:00",
        "email" | "idn-email" => "user@example.com",
        "uuid" => "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "uri" | "url" | "iri" => "https://example.com/",
        "hostname" | "idn-hostname" => "example.com",
        "ipv4" => "192.0.2.1",
        "ipv6" => "2001:db8::1",
        "byte" => "aGFycA==",
        "binary" => "",
        "password" => "secret",
        "duration" => "P1D",
        _ => "string",
    };
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    let mut text = text.to_string();
    while text.len() < min {
        text.push('x');
    }
    if let Some(max) = max {
        text.truncate(max.max(min));
    }
    json!(text)
}

/// A number within `minimum`/`maximum` (0 when allowed).
fn number(schema: &Value, integer: bool) -> Value {
    let min = schema.get("minimum").and_then(Value::as_f64);
    let max = schema.get("maximum").and_then(Value::as_f64);
    let exclusive_min = schema.get("exclusiveMinimum");
    let mut v = match (min, max) {
        (Some(lo), _) => lo,
        (None, Some(hi)) if hi < 0.0 => hi,
        _ => 0.0,
    };
    // 3.0: `exclusiveMinimum: true` with `minimum`; 3.1: `exclusiveMinimum: N`.
    match exclusive_min {
        Some(Value::Bool(true)) => v += 1.0,
        Some(Value::Number(n)) => v = v.max(n.as_f64().unwrap_or(0.0) + 1.0),
        _ => {}
    }
    if integer {
        json!(v.ceil() as i64)
    } else {
        json!(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_from_types_formats_enums_and_refs() {
        let doc = json!({"components": {"schemas": {
            "Pet": {"type": "object", "required": ["name"], "properties": {
                "id": {"type": "integer", "format": "int64", "readOnly": true},
                "name": {"type": "string", "example": "doggie"},
                "status": {"type": "string", "enum": ["available", "sold"]},
                "born": {"type": "string", "format": "date"},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                "owner": {"$ref": "#/components/schemas/Pet"},
                "weight": {"type": ["number", "null"], "minimum": 0.5}
            }},
            "Tag": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1}}}
        }}});
        let pet = json!({"$ref": "#/components/schemas/Pet"});
        let response = sample(&doc, &pet, Side::Response);
        assert_eq!(
            response,
            json!({"id": 0, "name": "doggie", "status": "available", "born": "2024-01-01",
                   "tags": [{"id": 1}], "owner": null, "weight": 0.5})
        );
        let request = sample(&doc, &pet, Side::Request);
        assert!(
            request.get("id").is_none(),
            "readOnly left out of requests: {request}"
        );
    }

    #[test]
    fn all_of_merges_one_of_takes_the_first_and_given_values_win() {
        let doc = json!({});
        let s = json!({"allOf": [
            {"type": "object", "properties": {"a": {"const": 1}}},
            {"type": "object", "properties": {"b": {"oneOf": [{"type": "boolean"}, {"type": "string"}]}}}
        ]});
        assert_eq!(sample(&doc, &s, Side::Response), json!({"a": 1, "b": true}));
        let s = json!({"type": "string", "examples": ["first", "second"], "default": "d"});
        assert_eq!(sample(&doc, &s, Side::Response), json!("first"));
        let s = json!({"type": "string", "format": "uuid"});
        assert_eq!(sample(&doc, &s, Side::Response).as_str().unwrap().len(), 36);
        let s = json!({"type": "integer", "minimum": 5, "exclusiveMinimum": true});
        assert_eq!(sample(&doc, &s, Side::Response), json!(6));
        let s =
            json!({"type": "array", "minItems": 2, "items": {"type": "string", "minLength": 8}});
        assert_eq!(
            sample(&doc, &s, Side::Response),
            json!(["stringxx", "stringxx"])
        );
    }
}
