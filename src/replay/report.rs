//! The replay report (`--report PATH`): what was served, what was not matched (with the
//! nearest entries, how they differ and the rule that would match), and which entries
//! were never used; as JSON, or as JUnit XML (one failing test case per distinct
//! unmatched request) for CI systems to display.

use serde::Serialize;

use super::{NearMiss, Summary, Unmatched};

/// An entry and how many times it was served.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EntryUse {
    /// Index of the entry in the HAR.
    pub entry: usize,
    /// Its method.
    pub method: String,
    /// Its URL.
    pub url: String,
    /// Times served.
    pub count: u64,
}

/// Everything a replay saw, for people and for `harp prune`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The HAR replayed.
    pub har: String,
    /// Entries in it.
    pub entries: usize,
    /// Counts.
    pub summary: Summary,
    /// Entries served, in file order.
    pub served: Vec<EntryUse>,
    /// Distinct unmatched requests, first seen first.
    pub unmatched: Vec<Unmatched>,
    /// Distinct unmatched requests beyond those listed.
    pub unmatched_not_listed: u64,
    /// Entries never served, in file order (`count` is 0).
    pub unused: Vec<EntryUse>,
}

impl Report {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The report as JUnit XML: suite `harp replay`, one failing case per distinct
    /// unmatched request, one passing case for the requests served.
    pub fn to_junit(&self) -> String {
        let failures = self.unmatched.len();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"harp\" tests=\"{}\" failures=\"{failures}\">\n",
            failures + 1
        ));
        out.push_str(&format!(
            "  <testsuite name=\"harp replay {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n",
            xml(&self.har),
            failures + 1
        ));
        out.push_str(&format!(
            "    <testcase classname=\"harp.replay\" name=\"{} request(s) served from {} entries\"/>\n",
            self.summary.served, self.entries
        ));
        for u in &self.unmatched {
            out.push_str(&format!(
                "    <testcase classname=\"harp.replay.unmatched\" name=\"{} {}\">\n",
                xml(&u.method),
                xml(&u.url)
            ));
            out.push_str(&format!(
                "      <failure message=\"no entry matches (asked {} time(s))\" type=\"unmatched\">{}</failure>\n",
                u.count,
                xml(&failure_text(u))
            ));
            out.push_str("    </testcase>\n");
        }
        if self.unmatched_not_listed > 0 {
            out.push_str(&format!(
                "    <system-out>{} more distinct unmatched request(s) not listed</system-out>\n",
                self.unmatched_not_listed
            ));
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

fn failure_text(u: &Unmatched) -> String {
    let mut text = format!("{} {} matched no entry.\n", u.method, u.url);
    if u.nearest.is_empty() {
        text.push_str("No entry is near it (or it is a redirect cycle).\n");
    }
    for NearMiss {
        entry,
        method,
        url,
        differences,
        rule,
    } in &u.nearest
    {
        text.push_str(&format!(
            "nearest #{entry} {method} {url}\n  differs in: {}\n",
            differences.join("; ")
        ));
        if let Some(rule) = rule {
            text.push_str(&format!("  would match with: {rule}\n"));
        }
    }
    text
}

/// Text escaped for XML attributes and content; characters XML 1.0 cannot hold are
/// replaced.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            har: "hars/a&b.har".into(),
            entries: 2,
            summary: Summary {
                served: 3,
                unmatched: 1,
                ..Summary::default()
            },
            served: vec![EntryUse {
                entry: 0,
                method: "GET".into(),
                url: "https://a.test/".into(),
                count: 3,
            }],
            unmatched: vec![Unmatched {
                method: "GET".into(),
                url: "https://a.test/p?t=1&x=<\u{1}>".into(),
                count: 2,
                nearest: vec![NearMiss {
                    entry: 1,
                    method: "GET".into(),
                    url: "https://a.test/p?t=0".into(),
                    differences: vec!["query recorded t=0; request has t=1".into()],
                    rule: Some("--ignore-query t".into()),
                }],
            }],
            unmatched_not_listed: 0,
            unused: vec![],
        }
    }

    #[test]
    fn json_names_served_unmatched_and_unused() {
        let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        assert_eq!(v["served"][0]["count"], 3);
        assert_eq!(v["unmatched"][0]["nearest"][0]["rule"], "--ignore-query t");
        assert_eq!(v["unmatchedNotListed"], 0);
        assert!(v["unused"].as_array().unwrap().is_empty());
    }

    #[test]
    fn junit_has_one_failing_case_per_unmatched_request_and_is_escaped() {
        let xml = report().to_junit();
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(xml.contains("name=\"harp replay hars/a&amp;b.har\""));
        assert!(xml.contains("name=\"GET https://a.test/p?t=1&amp;x=&lt;\u{fffd}&gt;\""));
        assert!(xml.contains("would match with: --ignore-query t"));
        assert_eq!(xml.matches("<testcase").count(), 2);
        assert_eq!(xml.matches("<failure").count(), 1);
    }
}
