//! What changed between two rule sets, file by file, as unified diffs (the
//! form `git diff` prints and every reviewer can read).

use std::collections::BTreeSet;

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::rules::RuleFiles;

/// One file that differs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileDiff {
    /// `rules/...` or `templates/...`.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    pub lines_added: usize,
    pub lines_removed: usize,
    /// The unified diff, with `--- a/path` and `+++ b/path` headers.
    pub unified: String,
}

/// Every file that differs between `old` and `new`, in path order.
pub fn diff(old: &RuleFiles, new: &RuleFiles) -> Vec<FileDiff> {
    let old_files: std::collections::BTreeMap<String, &str> = old.all().collect();
    let new_files: std::collections::BTreeMap<String, &str> = new.all().collect();
    let paths: BTreeSet<&String> = old_files.keys().chain(new_files.keys()).collect();
    let mut out = Vec::new();
    for path in paths {
        let (a, b) = (old_files.get(path), new_files.get(path));
        if a == b {
            continue;
        }
        let change = match (a, b) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        };
        let (a, b) = (a.copied().unwrap_or(""), b.copied().unwrap_or(""));
        let d = TextDiff::from_lines(a, b);
        let (mut lines_added, mut lines_removed) = (0, 0);
        for c in d.iter_all_changes() {
            match c.tag() {
                ChangeTag::Insert => lines_added += 1,
                ChangeTag::Delete => lines_removed += 1,
                ChangeTag::Equal => {}
            }
        }
        let old_name = if change == "added" {
            "/dev/null".to_string()
        } else {
            format!("a/{path}")
        };
        let new_name = if change == "removed" {
            "/dev/null".to_string()
        } else {
            format!("b/{path}")
        };
        let unified = d
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &new_name)
            .to_string();
        out.push(FileDiff {
            path: path.clone(),
            change,
            lines_added,
            lines_removed,
            unified,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_an_added_file_and_a_removed_one_are_each_one_entry() {
        let mut old = RuleFiles::default();
        old.rules
            .insert("flows/a.toml".into(), "one\ntwo\nthree\n".into());
        old.templates
            .insert("notifications/gone.hbs".into(), "bye\n".into());
        let mut new = RuleFiles::default();
        new.rules
            .insert("flows/a.toml".into(), "one\nTWO\nthree\n".into());
        new.templates
            .insert("notifications/new.hbs".into(), "hi\n".into());
        let d = diff(&old, &new);
        let summary: Vec<(&str, &str, usize, usize)> = d
            .iter()
            .map(|f| (f.path.as_str(), f.change, f.lines_added, f.lines_removed))
            .collect();
        assert_eq!(
            summary,
            [
                ("rules/flows/a.toml", "changed", 1, 1),
                ("templates/notifications/gone.hbs", "removed", 0, 1),
                ("templates/notifications/new.hbs", "added", 1, 0),
            ]
        );
        assert!(d[0].unified.contains("--- a/rules/flows/a.toml"));
        assert!(d[0].unified.contains("-two\n+TWO\n"));
        assert!(d[2].unified.starts_with("--- /dev/null"));
        assert!(diff(&new, &new).is_empty());
    }
}
