//! The results of `twinspace conform` for people (a table per topic, each failure with its
//! diff and re-run command) and for CI systems (JSON, JUnit XML).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Outcome, Target, Verdict};

/// Passed, failed and not applicable counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Items that passed.
    pub passed: usize,
    /// Items that failed.
    pub failed: usize,
    /// Items not applicable to the engine.
    pub not_applicable: usize,
}

impl Counts {
    fn add(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Passed => self.passed += 1,
            Verdict::Failed(_) => self.failed += 1,
            Verdict::NotApplicable(_) => self.not_applicable += 1,
        }
    }

    /// All items.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.not_applicable
    }
}

/// The counts per topic, in the order topics first appear, and in total.
pub fn counts(outcomes: &[Outcome]) -> (Vec<(String, Counts)>, Counts) {
    let mut topics: Vec<(String, Counts)> = Vec::new();
    let mut total = Counts::default();
    for o in outcomes {
        let i = match topics.iter().position(|(t, _)| *t == o.item.topic) {
            Some(i) => i,
            None => {
                topics.push((o.item.topic.clone(), Counts::default()));
                topics.len() - 1
            }
        };
        topics[i].1.add(&o.verdict);
        total.add(&o.verdict);
    }
    (topics, total)
}

/// The text report: the failures (each with its report and re-run command), the reasons for
/// items not applicable (counted), and the table.
pub fn text(outcomes: &[Outcome], target: &Target, rerun: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    for o in outcomes {
        if let Verdict::Failed(report) = &o.verdict {
            let _ = writeln!(out, "FAILED {} ({})", o.item.id, o.item.location);
            for line in report.lines() {
                let _ = writeln!(out, "  {line}");
            }
            let _ = writeln!(out, "  rerun: {}\n", rerun(&o.item.id));
        }
    }
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes {
        if let Verdict::NotApplicable(why) = &o.verdict {
            // Reasons that name the limits are grouped by their first words.
            let key = why.split(" (").next().unwrap_or(why).to_owned();
            *reasons.entry(key).or_default() += 1;
        }
    }
    let _ = writeln!(out, "engine:       {}", target.name());
    let _ = writeln!(out, "compared:     {}", target.compared());
    if let Some(not) = target.not_compared() {
        let _ = writeln!(out, "not compared: {not}");
    }
    if !reasons.is_empty() {
        let _ = writeln!(out, "not applicable:");
        for (why, n) in &reasons {
            let _ = writeln!(out, "  {n:>5}  {why}");
        }
    }
    let (topics, total) = counts(outcomes);
    let width = topics.iter().map(|(t, _)| t.len()).max().unwrap_or(0).max(5);
    let _ = writeln!(
        out,
        "\n{:<width$}  {:>6}  {:>6}  {:>14}",
        "topic", "passed", "failed", "not applicable"
    );
    for (topic, c) in topics.iter().chain(std::iter::once(&("total".to_owned(), total))) {
        if topic == "total" {
            let _ = writeln!(out, "{}", "-".repeat(width + 32));
        }
        let _ = writeln!(
            out,
            "{topic:<width$}  {:>6}  {:>6}  {:>14}",
            c.passed, c.failed, c.not_applicable
        );
    }
    out
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_counts(c: &Counts) -> String {
    format!(
        "{{\"passed\": {}, \"failed\": {}, \"not_applicable\": {}}}",
        c.passed, c.failed, c.not_applicable
    )
}

/// The JSON report: the engine, what is compared, counts per topic and in total, and every
/// item with its verdict (and report or reason, and re-run command for a failure).
pub fn json(outcomes: &[Outcome], target: &Target, rerun: &dyn Fn(&str) -> String) -> String {
    let (topics, total) = counts(outcomes);
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"engine\": {},", json_string(&target.name()));
    let _ = writeln!(out, "  \"compared\": {},", json_string(target.compared()));
    let _ =
        writeln!(out, "  \"not_compared\": {},", json_string(target.not_compared().unwrap_or("")));
    let _ = writeln!(out, "  \"total\": {},", json_counts(&total));
    out.push_str("  \"topics\": {\n");
    for (i, (topic, c)) in topics.iter().enumerate() {
        let comma = if i + 1 < topics.len() { "," } else { "" };
        let _ = writeln!(out, "    {}: {}{comma}", json_string(topic), json_counts(c));
    }
    out.push_str("  },\n  \"cases\": [\n");
    for (i, o) in outcomes.iter().enumerate() {
        let (verdict, detail) = match &o.verdict {
            Verdict::Passed => ("passed", String::new()),
            Verdict::Failed(r) => (
                "failed",
                format!(
                    ", \"report\": {}, \"rerun\": {}",
                    json_string(r),
                    json_string(&rerun(&o.item.id))
                ),
            ),
            Verdict::NotApplicable(why) => {
                ("not_applicable", format!(", \"reason\": {}", json_string(why)))
            }
        };
        let comma = if i + 1 < outcomes.len() { "," } else { "" };
        let _ = writeln!(
            out,
            "    {{\"id\": {}, \"topic\": {}, \"location\": {}, \"verdict\": \"{verdict}\", \"seconds\": {:.6}{detail}}}{comma}",
            json_string(&o.item.id),
            json_string(&o.item.topic),
            json_string(&o.item.location),
            o.elapsed.as_secs_f64()
        );
    }
    out.push_str("  ]\n}\n");
    out
}

/// `s` escaped for XML text and attributes; characters XML 1.0 cannot hold are written as
/// `\u{..}`.
fn xml(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML report: one `testsuite` per topic, one `testcase` per item; a failure holds
/// its report and re-run command, an item not applicable is `skipped` with its reason.
pub fn junit(outcomes: &[Outcome], target: &Target, rerun: &dyn Fn(&str) -> String) -> String {
    let (topics, total) = counts(outcomes);
    let seconds = |topic: Option<&str>| -> f64 {
        outcomes
            .iter()
            .filter(|o| topic.is_none_or(|t| o.item.topic == t))
            .map(|o| o.elapsed.as_secs_f64())
            .sum()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        xml(&format!("twinspace conform {}", target.name())),
        total.total(),
        total.failed,
        total.not_applicable,
        seconds(None)
    );
    for (topic, c) in &topics {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            xml(topic),
            c.total(),
            c.failed,
            c.not_applicable,
            seconds(Some(topic))
        );
        for o in outcomes.iter().filter(|o| &o.item.topic == topic) {
            let name = o.item.id.rsplit("::").next().unwrap_or(&o.item.id);
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{:.6}\"",
                xml(topic),
                xml(name),
                xml(&o.item.location),
                o.elapsed.as_secs_f64()
            );
            match &o.verdict {
                Verdict::Passed => {
                    let _ = writeln!(out, "{open}/>");
                }
                Verdict::Failed(report) => {
                    let first = report.lines().next().unwrap_or("failed");
                    let _ = writeln!(
                        out,
                        "{open}>\n      <failure message=\"{}\">{}\nrerun: {}</failure>\n    </testcase>",
                        xml(first),
                        xml(report),
                        xml(&rerun(&o.item.id))
                    );
                }
                Verdict::NotApplicable(why) => {
                    let _ = writeln!(
                        out,
                        "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                        xml(why)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_for_json_and_xml() {
        assert_eq!(json_string("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
        assert_eq!(xml("<a & 'b'>\u{1}"), "&lt;a &amp; &apos;b&apos;&gt;\\u{1}");
    }
}
