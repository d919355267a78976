//! The rule files as read, before compiling: each file kind parsed and
//! schema-checked into its typed form, and what a broken file still tells
//! (its rule ids, its source name), so other files' references to it are not
//! reported a second time as unknown.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::document::Document;
use super::kind::FileKind;
use super::model::{
    CalendarFile, DatabasesFile, EmailsFile, EntitiesFile, FlowFile, LeadSourcesFile,
    SchedulesFile, SourceFile, TestsFile,
};

/// A parsed, schema-valid file and its typed content.
pub(super) struct Parsed<T> {
    pub doc: Document,
    pub rel: PathBuf,
    pub value: T,
}

#[derive(Default)]
pub(super) struct Files {
    pub sources: Vec<Parsed<SourceFile>>,
    pub entities: Option<Parsed<EntitiesFile>>,
    pub lead_sources: Option<Parsed<LeadSourcesFile>>,
    pub databases: Option<Parsed<DatabasesFile>>,
    pub schedules: Option<Parsed<SchedulesFile>>,
    pub calendar: Option<Parsed<CalendarFile>>,
    pub emails: Option<Parsed<EmailsFile>>,
    /// emails.toml exists but could not be read: categories aren't checked.
    pub emails_broken: bool,
    /// lead_sources.toml exists but could not be read: follow_up actions aren't told to add it.
    pub lead_sources_broken: bool,
    /// calendar.toml failed to load: window names aren't checked.
    pub calendar_broken: bool,
    /// databases.toml exists but could not be read: references to it can't be checked.
    pub databases_broken: bool,
    /// The same for entities.toml.
    pub entities_broken: bool,
    /// schedules.toml failed to load: `schedule:<id>` references aren't checked.
    pub schedules_broken: bool,
    pub flows: Vec<Parsed<FlowFile>>,
    pub tests: Vec<Parsed<TestsFile>>,
    /// Rule ids and source names declared in files that failed validation:
    /// references to them are not reported again as "unknown".
    pub broken_rule_ids: BTreeSet<String>,
    pub broken_sources: BTreeSet<String>,
    /// A flow file that isn't even TOML: its rule ids are unknown.
    pub unreadable_flow: bool,
}

pub(super) fn stem(rel: &Path) -> String {
    rel.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Per source, the event types the project knows of, and how often: each a
/// source maps to (counted as many) and each plain `source:event` a rule
/// listens to. A type mentioned once, next to a close one that is known, is
/// likely a typo (see `flow::patterns`).
pub(super) fn known_event_types(files: &Files) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut known: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for s in &files.sources {
        let types = known.entry(stem(&s.rel)).or_default();
        let locator = &s.value.event_type;
        for t in locator.map.values().chain(locator.value.iter()) {
            *types.entry(t.clone()).or_default() += 1000;
        }
    }
    for f in &files.flows {
        for rule in &f.value.rules {
            for pattern in rule.on.iter().chain(rule.cancel_on.iter()) {
                if let Some((src, ev)) = pattern.split_once(':') {
                    if !src.contains('*') && !ev.contains(['*', '?', '[']) {
                        *known
                            .entry(src.to_string())
                            .or_default()
                            .entry(ev.to_string())
                            .or_default() += 1;
                    }
                }
            }
        }
    }
    known
}

/// Keep what a broken file declares, so other files' references to it stay quiet.
pub(super) fn remember_broken(doc: &Document, kind: FileKind, rel: &Path, files: &mut Files) {
    match kind {
        FileKind::Databases => files.databases_broken = true,
        FileKind::Entities => files.entities_broken = true,
        FileKind::Schedules => files.schedules_broken = true,
        FileKind::Calendar => files.calendar_broken = true,
        FileKind::Emails => files.emails_broken = true,
        FileKind::LeadSources => files.lead_sources_broken = true,
        FileKind::Source => {
            files.broken_sources.insert(stem(rel));
        }
        FileKind::Flow => {
            // A flow file with no readable rules (empty, or `rules` mistyped)
            // may have declared any rule: tests' references stay quiet.
            files.unreadable_flow |= !doc.value.get("rules").is_some_and(|r| r.is_array());
            let ids = doc
                .value
                .get("rules")
                .and_then(|r| r.as_array())
                .into_iter()
                .flatten();
            for id in ids.filter_map(|r| r.get("id").and_then(|i| i.as_str())) {
                files.broken_rule_ids.insert(id.to_string());
            }
        }
        _ => {}
    }
}
