//! `conformance/SEMANTICS.md` against the conformance suite: every case a rule names exists,
//! and every rule names a case (or says why none can show it, and which test checks it).
//!
//! A rule is a list item (`- ...`, with its indented continuation lines) or a data row of a
//! table. A case reference is a Markdown link `[file::case](file.case)`; a rule without one
//! must say `(no case: ...)` and link the test or source that checks it instead.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use twinspace::case::parse_cases;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// The case names of every `*.case` file, by file stem.
fn suite() -> BTreeMap<String, BTreeSet<String>> {
    let mut suite = BTreeMap::new();
    for entry in fs::read_dir(conformance_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "case") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = fs::read_to_string(&path).unwrap();
            let cases = parse_cases(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            suite.insert(stem, cases.into_iter().map(|c| c.name).collect());
        }
    }
    suite
}

/// The rules of the page: (line number, text), continuation lines joined.
fn rules(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut rules: Vec<(usize, String)> = Vec::new();
    let mut in_item = false;
    for (i, line) in lines.iter().enumerate() {
        let next_is_separator = lines.get(i + 1).is_some_and(|l| l.starts_with("|---"));
        if line.starts_with("- ") {
            rules.push((i + 1, line.to_string()));
            in_item = true;
        } else if in_item && line.starts_with("  ") && !line.trim().is_empty() {
            let last = rules.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            in_item = false;
            if line.starts_with('|') && !line.starts_with("|---") && !next_is_separator {
                rules.push((i + 1, line.to_string()));
            }
        }
    }
    rules
}

/// The `(label, target)` of every Markdown link in `text`.
fn links(text: &str) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find("](") else { break };
        let label = &rest[..close];
        let after = &rest[close + 2..];
        let Some(end) = after.find(')') else { break };
        if !label.contains('[') {
            found.push((label, &after[..end]));
        }
        rest = &after[end..];
    }
    found
}

#[test]
fn every_rule_names_existing_cases() {
    let path = conformance_dir().join("SEMANTICS.md");
    let text = fs::read_to_string(&path).unwrap();
    let suite = suite();
    let mut problems = Vec::new();
    let mut without_case = Vec::new();
    let rules = rules(&text);
    assert!(rules.len() > 50, "too few rules found: {}", rules.len());
    for (line, rule) in &rules {
        let mut cases = 0;
        let mut checked_elsewhere = false;
        for (label, target) in links(rule) {
            if let Some((file, case)) = label.split_once("::") {
                cases += 1;
                if target != format!("{file}.case") {
                    problems
                        .push(format!("line {line}: [{label}] links to {target}, not {file}.case"));
                }
                match suite.get(file) {
                    None => problems.push(format!("line {line}: no conformance/{file}.case")),
                    Some(names) if !names.contains(case) => {
                        problems.push(format!("line {line}: {file}.case has no case `{case}`"))
                    }
                    Some(_) => {}
                }
            } else if !target.starts_with("http") {
                let linked = conformance_dir().join(target);
                if !linked.exists() {
                    problems.push(format!("line {line}: [{label}] links to missing {target}"));
                }
                checked_elsewhere = true;
            }
        }
        let explained = rule.contains("(no case:") && checked_elsewhere;
        if cases == 0 || rule.contains("(no case:") {
            without_case
                .push(format!("line {line}: {}", rule.chars().take(70).collect::<String>()));
            if !explained {
                problems.push(format!(
                    "line {line}: a rule with no case must say `(no case: ...)` and link what checks it"
                ));
            }
        }
    }
    eprintln!("rules without a conformance case for all of them ({}):", without_case.len());
    for rule in &without_case {
        eprintln!("  {rule}");
    }
    assert!(problems.is_empty(), "{}:\n{}", path.display(), problems.join("\n"));
}

#[test]
fn the_readmes_point_at_the_project_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, link) in
        [("README.md", "conformance/SEMANTICS.md"), ("conformance/README.md", "(SEMANTICS.md)")]
    {
        let text = fs::read_to_string(root.join(file)).unwrap();
        assert!(text.contains(link), "{file} does not link {link}");
        assert!(!text.contains("shared/SEMANTICS"), "{file} links outside the repository");
    }
}
