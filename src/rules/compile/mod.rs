//! Turning typed rule files into the compiled [`RuleSet`](super::ruleset::RuleSet).
//!
//! Each submodule compiles one file kind and reports problems as
//! [`Finding`]s at JSON pointers inside that file; [`Compiler`] carries what
//! the kinds share (the field table, the templates, what sources produce)
//! and turns findings into located diagnostics.

pub mod action;
pub mod calendar;
pub mod clock;
pub mod emails;
pub mod enrich;
pub mod flow;
pub mod integrations;
pub mod link_order;
pub mod notion_action;
pub mod routing;
pub mod routing_checks;
pub mod schedules;
pub mod send_windows;
pub mod source;
pub mod template_checks;
pub mod tests;
pub mod window;

use std::collections::BTreeSet;

use globset::{Glob, GlobMatcher};

use super::diagnostic::{did_you_mean, Diagnostic, Finding};
use super::document::Document;
use super::model::ConditionSpec;
use super::templates::{Templates, Text};
use crate::engine::condition::Condition;
use crate::engine::condition_compile::{compile_all, CompileEnv};
use crate::engine::fields::FieldTable;

/// Fields every event has, whatever its source.
pub const ENVELOPE_FIELDS: [&str; 3] = ["source", "event_type", "event_id"];

/// Shared state while compiling one rule set.
pub struct Compiler {
    pub fields: FieldTable,
    /// Field names some source produces (plus the envelope).
    pub produced: BTreeSet<String>,
    /// Per source: the fields it produces.
    pub produced_by: std::collections::BTreeMap<String, BTreeSet<String>>,
    /// Per source: the fields every one of its events has (see `source::declare`).
    pub always_by: std::collections::BTreeMap<String, BTreeSet<String>>,
    pub templates: Templates,
    pub diagnostics: Vec<Diagnostic>,
    /// Sources whose files failed to load: what they produce is unknown.
    pub broken_sources: BTreeSet<String>,
    /// Some condition reads the raw payload (`payload.<path>`).
    pub reads_payload: bool,
    /// Send windows from calendar.toml, by id.
    pub windows: send_windows::Windows,
    /// calendar.toml failed to load: window names are not reported as unknown.
    pub windows_broken: bool,
    /// The zone time conditions are read in, unless they name a window with
    /// its own: the network's, or the entity's of the rule being compiled.
    pub zone: chrono_tz::Tz,
    /// Entities that name their own zone (entities.toml).
    pub entity_zones: std::collections::BTreeMap<String, chrono_tz::Tz>,
    /// Email templates with A/B variants (emails.toml): the variants' own template names.
    pub email_variants: emails::Variants,
}

impl Compiler {
    pub fn new(templates: Templates) -> Compiler {
        // First, so their slots are 0, 1, 2 (normalise relies on it).
        let mut fields = FieldTable::default();
        for f in ENVELOPE_FIELDS {
            fields.intern(f);
        }
        Compiler {
            fields,
            produced: ENVELOPE_FIELDS.iter().map(|s| s.to_string()).collect(),
            produced_by: Default::default(),
            always_by: Default::default(),
            templates,
            diagnostics: Vec::new(),
            broken_sources: BTreeSet::new(),
            reads_payload: false,
            windows: Default::default(),
            windows_broken: false,
            email_variants: Default::default(),
            zone: chrono_tz::Tz::UTC,
            entity_zones: Default::default(),
        }
    }

    /// Report findings made inside `doc`.
    pub fn emit(&mut self, doc: &Document, findings: Vec<Finding>) {
        for f in findings {
            // Found while compiling `doc` but located in another file (a
            // template): reported there, once however many rules lead to it.
            if let Some(d) = f.located {
                let seen = self.diagnostics.iter().any(|x| {
                    x.file == d.file && x.line == d.line && x.col == d.col && x.code == d.code
                });
                if !seen {
                    self.diagnostics.push(*d);
                }
                continue;
            }
            let mut d = if f.on_key {
                doc.diag_key(f.severity, f.code, &f.pointer, f.message)
            } else {
                doc.diag(f.severity, f.code, &f.pointer, f.message)
            };
            d.hint = f.hint;
            self.diagnostics.push(d);
        }
    }

    /// Compile a `when` list found at `pointer`.
    pub fn conditions(
        &mut self,
        specs: &[ConditionSpec],
        pointer: &str,
        out: &mut Vec<Finding>,
    ) -> Condition {
        let names: Vec<String> = self.produced.iter().cloned().collect();
        let produced = self.produced.clone();
        // A source that failed to load may produce anything: no "unknown field" then.
        let any_broken = !self.broken_sources.is_empty();
        let is_produced = move |n: &str| any_broken || produced.contains(n);
        let mut env = CompileEnv {
            fields: &mut self.fields,
            produced: &is_produced,
            produced_names: &names,
            windows: &self.windows,
            windows_broken: self.windows_broken,
            zone: self.zone,
        };
        let c = compile_all(specs, pointer, &mut env, out);
        self.reads_payload |= c.reads_payload();
        c
    }

    /// The window an action or entity names (`None` for "anytime"); an
    /// unknown name is reported at `ptr`, with the nearest known one.
    pub fn window(
        &self,
        name: &str,
        ptr: &str,
        out: &mut Vec<Finding>,
    ) -> Option<std::sync::Arc<window::Window>> {
        if name == send_windows::ANYTIME {
            return None;
        }
        let found = self.windows.get(name).cloned();
        if found.is_none() && !self.windows_broken {
            let near_anytime = crate::rules::diagnostic::did_you_mean(name, ["anytime"]).is_some();
            let hint = if near_anytime {
                "did you mean \"anytime\"? (it means no window: the action runs whenever it falls due)".to_string()
            } else if self.windows.is_empty() {
                "send windows are defined in rules/calendar.toml ([[windows]] with an id and hours); or write \"anytime\" for none".to_string()
            } else {
                format!(
                    "{}; or write \"anytime\" for none",
                    suggest(name, self.windows.keys().map(String::as_str), "window")
                )
            };
            out.push(
                Finding::error(
                    "unknown-window",
                    ptr,
                    format!("there is no send window `{name}`"),
                )
                .hint(hint),
            );
        }
        found
    }

    /// Whether some source produces `name`, or may (one failed to load, and
    /// its own errors come first: its fields are not reported as unknown).
    pub fn may_produce(&self, name: &str) -> bool {
        self.produced.contains(name) || !self.broken_sources.is_empty()
    }

    /// Compile a text that may hold `{{variables}}`.
    pub fn text(&mut self, source: &str, pointer: &str, out: &mut Vec<Finding>) -> Text {
        match self.templates.inline(source) {
            Ok(t) => t,
            Err(e) => {
                out.push(Finding::error("bad-template", pointer, e.message).hint(e.hint));
                Text::Plain(source.to_string())
            }
        }
    }
}

/// A glob, or a finding saying why it isn't one.
pub fn glob(pattern: &str, pointer: &str, out: &mut Vec<Finding>) -> Option<GlobMatcher> {
    match Glob::new(pattern) {
        Ok(g) => Some(g.compile_matcher()),
        Err(e) => {
            out.push(
                Finding::error(
                    "bad-pattern",
                    pointer,
                    format!("`{pattern}` is not a valid pattern: {e}"),
                )
                .hint("use * for any text, e.g. \"typeform:*\""),
            );
            None
        }
    }
}

/// "did you mean" for a name among candidates, as a hint text.
pub fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
    what: &str,
) -> String {
    match did_you_mean(name, candidates.clone()) {
        Some(m) => format!("did you mean `{m}`?"),
        None => {
            let all: Vec<&str> = candidates.into_iter().collect();
            if all.is_empty() {
                format!("no {what} is defined yet")
            } else {
                format!("the {what}s are: {}", all.join(", "))
            }
        }
    }
}

/// A field or id name a rule author can use in expressions and templates.
pub fn is_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
