//! Order inside a rule, as lint sees it.
//!
//! When an action links to a page (a task to its contact, a Notion page to
//! another through a relation) and another action of the same event writes
//! that page, the link waits for the write at run time (see
//! `sinks/links.rs`); authors write nothing for it. What lint can tell them
//! is when that wait is long: an action of a rule links to pages that
//! another action of the same rule writes *later* (a larger `delay`). It
//! runs only then, which is rarely what the author meant.

use std::collections::BTreeMap;

use crate::rules::diagnostic::Finding;
use crate::rules::model::{Database, NotionOperation, PropertyType};
use crate::rules::ruleset::{Action, ActionKind};

/// (database, property) pairs of the pages `a` links to.
fn links(a: &Action, databases: &BTreeMap<String, Database>) -> Vec<(String, String)> {
    let rels = |db: &str| databases.get(db).map(|d| &d.relations);
    match &a.kind {
        // A task links through every Tasks relation found by an email (sinks/task.rs).
        ActionKind::Task { .. } => rels(crate::sinks::task::DATABASE)
            .into_iter()
            .flatten()
            .filter(|(_, t)| {
                databases
                    .get(&t.database)
                    .and_then(|d| d.properties.get(&t.by))
                    == Some(&PropertyType::Email)
            })
            .map(|(_, t)| (t.database.clone(), t.by.clone()))
            .collect(),
        ActionKind::Notion {
            database,
            properties,
            ..
        } => properties
            .iter()
            .filter_map(|p| rels(database)?.get(&p.name))
            .map(|t| (t.database.clone(), t.by.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `a` creates or upserts pages of `database` keyed by `by`.
fn writes(a: &Action, database: &str, by: &str) -> bool {
    matches!(&a.kind, ActionKind::Notion { database: d, operation, match_on: Some(m), .. }
        if d == database && m == by && *operation != NotionOperation::Update)
}

fn human(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Warn for each action that links to a page its rule writes later.
/// `actions` are the rule's compiled actions with their index in the file.
pub fn check(
    actions: &[(usize, &Action)],
    databases: &BTreeMap<String, Database>,
    rule_ptr: &str,
    out: &mut Vec<Finding>,
) {
    for (i, linker) in actions {
        // An action timed from a date field (`at`) has no fixed delay to compare.
        if linker.at.is_some() {
            continue;
        }
        for (database, by) in links(linker, databases) {
            let later = actions.iter().find(|(_, w)| {
                w.at.is_none() && w.delay_s > linker.delay_s && writes(w, &database, &by)
            });
            if let Some((_, writer)) = later {
                out.push(
                    Finding::warning(
                        "link-waits",
                        format!("{rule_ptr}/actions/{i}"),
                        format!(
                            "`{}` links to the `{database}` page that `{}` writes {} later, so it will wait that long for it",
                            linker.id,
                            writer.id,
                            human(writer.delay_s - linker.delay_s)
                        ),
                    )
                    .hint(format!(
                        "give `{}` no more delay than `{}`, or `{}` at least as much as `{}`",
                        writer.id, linker.id, linker.id, writer.id
                    )),
                );
            }
        }
    }
}
