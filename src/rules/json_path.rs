//! Paths into JSON documents, as users write them in `--ignore-json` and `--redact-json`:
//! a simple JSONPath (`$.a.b[*].c`, `$.items[0]`, `$["odd key"]`, `$.*`) or a JSON
//! Pointer (`/a/b/0`, with `*` for any member or element). Applying a path removes or
//! replaces what it names; [`differences`] lists where two documents differ, in the same
//! notation.

use std::fmt;

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
    /// Every member of an object or element of an array.
    Any,
}

/// A compiled path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    steps: Vec<Step>,
    source: String,
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON path {path:?}: {reason} (write $.a.b[*].c or /a/b/0)")]
pub struct JsonPathError {
    /// The path as written.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl JsonPath {
    /// Parses `$...` JSONPath or `/...` JSON Pointer notation.
    pub fn parse(text: &str) -> Result<Self, JsonPathError> {
        let fail = |reason: &str| JsonPathError {
            path: text.to_string(),
            reason: reason.to_string(),
        };
        let steps = if let Some(rest) = text.strip_prefix('$') {
            parse_dotted(rest).map_err(|r| fail(&r))?
        } else if let Some(pointer) = text.strip_prefix('/') {
            pointer
                .split('/')
                .map(|seg| {
                    let seg = seg.replace("~1", "/").replace("~0", "~");
                    match seg.as_str() {
                        "*" => Step::Any,
                        s if is_index(s) => Step::Index(s.parse().unwrap_or(usize::MAX)),
                        _ => Step::Key(seg),
                    }
                })
                .collect()
        } else {
            return Err(fail("it starts with neither $ nor /"));
        };
        if steps.is_empty() {
            return Err(fail("it names the whole document"));
        }
        Ok(Self {
            steps,
            source: text.to_string(),
        })
    }

    /// The path as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Removes what the path names (object members are removed; array elements become
    /// `null`, so the other elements keep their places).
    pub fn remove(&self, doc: &mut Value) {
        visit(doc, &self.steps, &mut |parent, step| match (parent, step) {
            (Value::Object(map), Step::Key(k)) => {
                map.shift_remove(k);
            }
            (Value::Object(map), Step::Any) => map.clear(),
            (Value::Array(list), Step::Index(i)) => {
                if let Some(v) = list.get_mut(*i) {
                    *v = Value::Null;
                }
            }
            (Value::Array(list), Step::Any) => list.iter_mut().for_each(|v| *v = Value::Null),
            _ => {}
        });
    }

    /// Replaces every value the path names with `with` (members that are absent stay
    /// absent). Returns how many values were replaced.
    pub fn replace(&self, doc: &mut Value, with: &Value) -> usize {
        let mut count = 0;
        visit(doc, &self.steps, &mut |parent, step| {
            let mut set = |v: &mut Value| {
                *v = with.clone();
                count += 1;
            };
            match (parent, step) {
                (Value::Object(map), Step::Key(k)) => {
                    if let Some(v) = map.get_mut(k) {
                        set(v);
                    }
                }
                (Value::Object(map), Step::Any) => map.values_mut().for_each(set),
                (Value::Array(list), Step::Index(i)) => {
                    if let Some(v) = list.get_mut(*i) {
                        set(v);
                    }
                }
                (Value::Array(list), Step::Any) => list.iter_mut().for_each(set),
                _ => {}
            }
        });
        count
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn is_index(s: &str) -> bool {
    !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses what follows `$`: `.name`, `.*`, `[3]`, `[*]`, `["name"]`, `['name']`.
fn parse_dotted(mut rest: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() {
                return Err("an empty member name (`..` is not supported)".into());
            }
            steps.push(if name == "*" {
                Step::Any
            } else {
                Step::Key(name.to_string())
            });
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let (step, used) = parse_bracket(after)?;
            steps.push(step);
            rest = &after[used..];
        } else {
            return Err(format!(
                "unexpected {:?}",
                rest.chars().next().unwrap_or(' ')
            ));
        }
    }
    Ok(steps)
}

/// Parses the inside of `[...]` and its closing bracket; returns the step and the bytes
/// used.
fn parse_bracket(text: &str) -> Result<(Step, usize), String> {
    if let Some(quote) = text.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let body = &text[1..];
        let end = body
            .find(quote)
            .ok_or_else(|| "an unclosed quoted name".to_string())?;
        if !body[end + 1..].starts_with(']') {
            return Err("a quoted name not followed by ]".into());
        }
        return Ok((Step::Key(body[..end].to_string()), end + 3));
    }
    let end = text.find(']').ok_or_else(|| "an unclosed [".to_string())?;
    let inner = text[..end].trim();
    let step = match inner {
        "*" => Step::Any,
        s if is_index(s) => Step::Index(s.parse().map_err(|_| "an index too large")?),
        _ => {
            return Err(format!(
                "[{inner}] is neither an index, * nor a quoted name"
            ))
        }
    };
    Ok((step, end + 1))
}

/// Calls `act(parent, last step)` for every parent the path's last step applies to.
fn visit(doc: &mut Value, steps: &[Step], act: &mut dyn FnMut(&mut Value, &Step)) {
    let Some((last, init)) = steps.split_last() else {
        return;
    };
    if init.is_empty() {
        act(doc, last);
        return;
    }
    let (first, rest) = (&init[0], &steps[1..]);
    match (doc, first) {
        (Value::Object(map), Step::Key(k)) => {
            if let Some(v) = map.get_mut(k) {
                visit(v, rest, act);
            }
        }
        (Value::Object(map), Step::Any) => map.values_mut().for_each(|v| visit(v, rest, act)),
        (Value::Array(list), Step::Index(i)) => {
            if let Some(v) = list.get_mut(*i) {
                visit(v, rest, act);
            }
        }
        (Value::Array(list), Step::Any) => list.iter_mut().for_each(|v| visit(v, rest, act)),
        _ => {}
    }
}

/// One place two documents differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Difference {
    /// Where, as `$.a.b[0]`.
    pub path: String,
    /// The value on the first side (`absent` when missing), clipped.
    pub left: String,
    /// The value on the second side.
    pub right: String,
}

/// Most differences listed; documents that differ in more places are reported as that
/// many and no more.
const MAX_DIFFERENCES: usize = 32;

/// Where `a` and `b` differ (members present on one side only included), at most
/// [`MAX_DIFFERENCES`] places, in document order of `a` then `b`.
pub(crate) fn differences(a: &Value, b: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    diff_into(a, b, &mut String::from("$"), &mut out);
    out
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None => "absent".into(),
        Some(v) => crate::calllog::clip(&v.to_string(), 60),
    }
}

fn diff_into(a: &Value, b: &Value, path: &mut String, out: &mut Vec<Difference>) {
    if out.len() >= MAX_DIFFERENCES || a == b {
        return;
    }
    let len = path.len();
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            for key in keys {
                push_key(path, key);
                match (x.get(key), y.get(key)) {
                    (Some(l), Some(r)) => diff_into(l, r, path, out),
                    (l, r) => {
                        if out.len() < MAX_DIFFERENCES {
                            out.push(Difference {
                                path: path.clone(),
                                left: shown(l),
                                right: shown(r),
                            });
                        }
                    }
                }
                path.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                path.push_str(&format!("[{i}]"));
                diff_into(l, r, path, out);
                path.truncate(len);
            }
        }
        _ => out.push(Difference {
            path: path.clone(),
            left: shown(Some(a)),
            right: shown(Some(b)),
        }),
    }
}

fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(&format!("[{}]", serde_json::Value::from(key)));
    }
}

/// `$.a[3].b` → `$.a[*].b`: a difference as a rule for every element.
pub(crate) fn generalise(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find('[') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        if let Some(quoted) = after.strip_prefix('"') {
            // A quoted member name: copied as it is, brackets inside included.
            let end = quoted.find("\"]").map_or(after.len(), |e| e + 3);
            out.push('[');
            out.push_str(&after[..end.min(after.len())]);
            rest = &after[end.min(after.len())..];
            continue;
        }
        match after.find(']') {
            Some(end) if is_index(&after[..end]) => {
                out.push_str("[*]");
                rest = &after[end + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &str) -> JsonPath {
        JsonPath::parse(p).unwrap()
    }

    #[test]
    fn parses_both_notations() {
        assert_eq!(
            path("$.a.b[*].c").steps,
            vec![
                Step::Key("a".into()),
                Step::Key("b".into()),
                Step::Any,
                Step::Key("c".into())
            ]
        );
        assert_eq!(path("/a/b~1c/0/*").steps.len(), 4);
        assert_eq!(path("/a/b~1c").steps[1], Step::Key("b/c".into()));
        assert_eq!(path("$['x y'][2]").steps[1], Step::Index(2));
        assert_eq!(path("$[\"x y\"]").steps[0], Step::Key("x y".into()));
        for bad in ["a.b", "$", "$..a", "$[x]", "$['a'", "$.a[", "/"] {
            if bad == "/" {
                // "/" is the pointer to the member named "".
                assert!(JsonPath::parse(bad).is_ok());
                continue;
            }
            let err = JsonPath::parse(bad).unwrap_err();
            assert_eq!(err.path, bad);
        }
    }

    #[test]
    fn removes_members_and_blanks_elements() {
        let mut doc = json!({"id": 1, "items": [{"t": 1, "k": 2}, {"t": 3}], "keep": true});
        path("$.items[*].t").remove(&mut doc);
        path("/id").remove(&mut doc);
        assert_eq!(doc, json!({"items": [{"k": 2}, {}], "keep": true}));
        let mut doc = json!([1, 2, 3]);
        path("$[1]").remove(&mut doc);
        assert_eq!(doc, json!([1, null, 3]));
    }

    #[test]
    fn replaces_only_present_values() {
        let mut doc = json!({"user": {"password": "p", "name": "n"}, "list": [{"token": "a"}, {}]});
        let with = json!("[REDACTED]");
        assert_eq!(path("$.user.password").replace(&mut doc, &with), 1);
        assert_eq!(path("$.list[*].token").replace(&mut doc, &with), 1);
        assert_eq!(path("$.missing.x").replace(&mut doc, &with), 0);
        assert_eq!(
            doc,
            json!({"user": {"password": "[REDACTED]", "name": "n"}, "list": [{"token": "[REDACTED]"}, {}]})
        );
    }

    #[test]
    fn lists_differences_and_generalises_them() {
        let a = json!({"id": "a1", "items": [{"ts": 1, "v": 2}], "same": 1, "x y": 1});
        let b = json!({"id": "b2", "items": [{"ts": 2, "v": 2}], "same": 1, "new": 0});
        let d: Vec<String> = differences(&a, &b).into_iter().map(|d| d.path).collect();
        assert_eq!(d, ["$.id", "$.items[0].ts", "$[\"x y\"]", "$.new"]);
        assert_eq!(generalise("$.items[0].ts[12]"), "$.items[*].ts[*]");
        assert_eq!(generalise("$[\"a[1]\"][2]"), "$[\"a[1]\"][*]");
        assert!(JsonPath::parse("$.items[*].ts").is_ok());
    }
}
