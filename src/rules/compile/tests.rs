//! Checking `rules/tests/*.toml` against the rest of the rule set.

use std::collections::BTreeSet;
use std::path::Path;

use super::suggest;
use crate::rules::diagnostic::Finding;
use crate::rules::model::TestsFile;

pub const ACTION_KINDS: [&str; 8] = [
    "notion", "email", "notify", "task", "webhook", "workflow", "beehiiv", "hubspot",
];

/// `rules` is `None` when some flow file couldn't be read: rule references are
/// then not checked. `project_root` is `None` when serving: payload files are
/// only read by `hsflow test`, so they aren't looked for.
pub fn check(
    file: &TestsFile,
    sources: &BTreeSet<String>,
    rules: Option<&BTreeSet<String>>,
    project_root: Option<&Path>,
    out: &mut Vec<Finding>,
) {
    let empty = BTreeSet::new();
    let (rules, check_rules) = match rules {
        Some(r) => (r, true),
        None => (&empty, false),
    };
    let mut names = BTreeSet::new();
    for (i, case) in file.cases.iter().enumerate() {
        let ptr = format!("/cases/{i}");
        if !names.insert(case.name.clone()) {
            out.push(
                Finding::error(
                    "duplicate-id",
                    format!("{ptr}/name"),
                    format!("two cases are called `{}`", case.name),
                )
                .hint("give each case its own name so failures can be told apart"),
            );
        }
        if !sources.contains(&case.source) {
            out.push(
                Finding::error(
                    "unknown-source",
                    format!("{ptr}/source"),
                    format!("there is no source `{}`", case.source),
                )
                .hint(suggest(
                    &case.source,
                    sources.iter().map(String::as_str),
                    "source",
                )),
            );
        }
        match (&case.payload, &case.payload_file) {
            (Some(_), Some(_)) => out.push(
                Finding::error(
                    "ambiguous",
                    ptr.clone(),
                    "give either `payload` or `payload_file`, not both",
                )
                .hint("keep the one you mean and delete the other line"),
            ),
            (None, None) => out.push(
                Finding::error("missing-key", ptr.clone(), "this case has no event")
                    .hint("add payload = { ... } or payload_file = \"examples/<file>.json\""),
            ),
            (None, Some(f)) if project_root.is_some_and(|r| !r.join(f).is_file()) => {
                out.push(Finding::error("missing-file", format!("{ptr}/payload_file"), format!("there is no file `{f}`")).hint("paths are relative to the project root, e.g. \"examples/typeform_artist.json\""));
            }
            _ => {}
        }
        if let Some(at) = &case.at {
            if chrono::DateTime::parse_from_rfc3339(at).is_err() {
                out.push(
                    Finding::error(
                        "bad-time",
                        format!("{ptr}/at"),
                        format!("`{at}` is not an RFC 3339 time"),
                    )
                    .hint("write e.g. \"2026-01-05T09:00:00Z\""),
                );
            }
        }
        for (key, list) in [
            ("matched", &case.expect.matched),
            ("not_matched", &case.expect.not_matched),
            ("cancels", &case.expect.cancels),
        ] {
            for (j, r) in list.iter().enumerate() {
                if check_rules && !rules.contains(r) {
                    out.push(
                        Finding::error(
                            "unknown-rule",
                            format!("{ptr}/expect/{key}/{j}"),
                            format!("there is no rule `{r}`"),
                        )
                        .hint(suggest(
                            r,
                            rules.iter().map(String::as_str),
                            "rule",
                        )),
                    );
                }
            }
        }
        for (j, a) in case.expect.actions.iter().enumerate() {
            kind(&a.kind, &format!("{ptr}/expect/actions/{j}/kind"), out);
            if let Some(r) = &a.rule {
                if check_rules && !rules.contains(r) {
                    out.push(
                        Finding::error(
                            "unknown-rule",
                            format!("{ptr}/expect/actions/{j}/rule"),
                            format!("there is no rule `{r}`"),
                        )
                        .hint(suggest(
                            r,
                            rules.iter().map(String::as_str),
                            "rule",
                        )),
                    );
                }
            }
        }
        for (j, k) in case.expect.no_actions.iter().enumerate() {
            kind(k, &format!("{ptr}/expect/no_actions/{j}"), out);
        }
    }
}

fn kind(k: &str, ptr: &str, out: &mut Vec<Finding>) {
    if !ACTION_KINDS.contains(&k) {
        out.push(
            Finding::error("unknown-kind", ptr, format!("`{k}` is not an action kind"))
                .hint(suggest(k, ACTION_KINDS, "kind")),
        );
    }
}
