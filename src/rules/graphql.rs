//! GraphQL documents reduced to what decides their meaning: comments, commas and
//! whitespace are insignificant in GraphQL (spec §2.1.7), so two queries that differ only
//! in them are the same operation. Strings (block strings included) are kept verbatim.

/// The query with comments removed and insignificant whitespace and commas collapsed:
/// one space between two names or numbers, none around punctuation.
pub fn normalise(query: &str) -> String {
    let chars: Vec<char> = query.chars().collect();
    let mut out = String::with_capacity(query.len());
    let mut i = 0;
    // Whether the last token written was a name or number (needs a space before another).
    let mut last_word = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' && chars[i] != '\r' {
                    i += 1;
                }
            }
            c if c.is_whitespace() || c == ',' || c == '\u{feff}' => i += 1,
            '"' => {
                let end = string_end(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
                last_word = false;
            }
            c if c.is_alphanumeric()
                || c == '_'
                || c == '-'
                || c == '.' && is_number_dot(&chars, i) =>
            {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric()
                        || matches!(chars[i], '_' | '-' | '+')
                        || chars[i] == '.' && is_number_dot(&chars, i))
                {
                    i += 1;
                }
                if last_word {
                    out.push(' ');
                }
                out.extend(&chars[start..i]);
                last_word = true;
            }
            _ => {
                out.push(c);
                i += 1;
                last_word = false;
            }
        }
    }
    out
}

/// A `.` inside a number (`1.5`), not the spread operator.
fn is_number_dot(chars: &[char], i: usize) -> bool {
    i > 0 && chars[i - 1].is_ascii_digit() && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
}

/// The index just past the string starting at `start` (a `"..."` with escapes, or a
/// `"""..."""` block string); the end of input when it is not closed.
fn string_end(chars: &[char], start: usize) -> usize {
    let block = chars[start..].starts_with(&['"', '"', '"']);
    let mut i = start + if block { 3 } else { 1 };
    while i < chars.len() {
        if block {
            if chars[i] == '\\' && chars[i + 1..].starts_with(&['"', '"', '"']) {
                i += 4;
                continue;
            }
            if chars[i..].starts_with(&['"', '"', '"']) {
                return i + 3;
            }
        } else {
            if chars[i] == '\\' {
                i += 2;
                continue;
            }
            if chars[i] == '"' || chars[i] == '\n' {
                return i + 1;
            }
        }
        i += 1;
    }
    chars.len()
}

/// The operation's name as the query declares it (`query GetUser(...) {`), when it does.
pub(crate) fn declared_name(query: &str) -> Option<String> {
    let normal = normalise(query);
    let rest = ["query ", "mutation ", "subscription "]
        .iter()
        .find_map(|k| normal.strip_prefix(k))?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_commas_and_whitespace_do_not_matter() {
        let a = "query GetUser($id: ID!) {\n  # who\n  user(id: $id) { id, name }\n}";
        let b = "query GetUser($id:ID!){user(id:$id){id name}}";
        assert_eq!(normalise(a), normalise(b));
        assert_eq!(
            normalise(b),
            "query GetUser($id:ID!){user(id:$id){id name}}"
        );
        assert_ne!(
            normalise(a),
            normalise("query GetUser($id: ID!) { user(id: $id) { id } }")
        );
    }

    #[test]
    fn strings_numbers_and_spreads_are_kept() {
        assert_eq!(
            normalise("{ search(q: \"a,  b # c\", n: 1.5) { ...F } }"),
            "{search(q:\"a,  b # c\"n:1.5){...F}}"
        );
        assert_eq!(
            normalise("{ f(s: \"\"\"x,\n  \\\"\"\" y\"\"\") }"),
            "{f(s:\"\"\"x,\n  \\\"\"\" y\"\"\")}"
        );
        assert_eq!(normalise("{ a(n: -1e+5) }"), "{a(n:-1e+5)}");
    }

    #[test]
    fn names_the_declared_operation() {
        assert_eq!(
            declared_name("# c\nmutation  AddTodo($t: String) { add(t: $t) }"),
            Some("AddTodo".into())
        );
        assert_eq!(declared_name("query { me { id } }"), None);
        assert_eq!(declared_name("{ me { id } }"), None);
    }
}
