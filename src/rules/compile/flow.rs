//! Compiling `rules/flows/*.toml`: rules, their triggers and cancellations.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::action::{self, ActionEnv};
use super::{glob, suggest, Compiler};
use crate::rules::diagnostic::Finding;
use crate::rules::model::{FlowFile, WorkflowDef};
use crate::rules::ruleset::{Action, OnPattern, Rule};

/// What a flow's rules may refer to, gathered from every file first.
pub struct FlowEnv<'a> {
    pub sources: &'a BTreeSet<String>,
    /// The ids in schedules.toml (`None` when that file failed to load).
    pub schedule_ids: Option<&'a BTreeSet<String>>,
    /// Whether rules/schedules.toml exists at all (without it, a `schedule:`
    /// rule is a warning: a project may add its schedules later).
    pub has_schedules_file: bool,
    /// A flow file failed to load: the workflows it defines are unknown, so
    /// references to workflows aren't checked (its own error comes first).
    pub unreadable_flow: bool,
    /// The routes of entities.toml (`None` when it failed to load).
    pub routes: Option<&'a [super::routing_checks::RouteSpec]>,
    /// The field by which senders name entities (entities.toml's `explicit_field`).
    pub explicit_field: Option<&'a str>,
    /// Sources whose files failed to load (what they produce is unknown).
    pub broken_sources: &'a BTreeSet<String>,
    /// Per source, the event types known and how often (see `loader::known_event_types`).
    pub event_types: &'a BTreeMap<String, BTreeMap<String, usize>>,
    pub entities: &'a [String],
    pub databases: &'a BTreeMap<String, crate::rules::model::Database>,
    /// databases.toml failed to load: its own errors say why, references to it aren't checked.
    pub databases_broken: bool,
    /// entities.toml failed to load: the same, for entity references.
    pub entities_broken: bool,
    pub workflows: &'a BTreeMap<String, WorkflowDef>,
    pub has_lead_sources: bool,
    /// Lead-source follow-up templates (checked against each follow_up rule's sources).
    pub follow_up_templates: &'a [String],
}

pub fn check_workflows(file: &FlowFile, out: &mut Vec<Finding>) {
    for (id, wf) in &file.workflows {
        let ptr = format!("/workflows/{}", crate::rules::document::escape_segment(id));
        let states: BTreeSet<&str> = wf.states.iter().map(String::as_str).collect();
        if states.len() != wf.states.len() {
            out.push(
                Finding::error(
                    "duplicate-id",
                    format!("{ptr}/states"),
                    "a state is listed twice",
                )
                .hint("list each state once in `states`"),
            );
        }
        if !states.contains(wf.initial.as_str()) {
            out.push(
                Finding::error(
                    "unknown-state",
                    format!("{ptr}/initial"),
                    format!("the initial state `{}` is not in `states`", wf.initial),
                )
                .hint(suggest(&wf.initial, states.iter().copied(), "state")),
            );
        }
        for (i, t) in wf.terminal.iter().enumerate() {
            if !states.contains(t.as_str()) {
                out.push(
                    Finding::error(
                        "unknown-state",
                        format!("{ptr}/terminal/{i}"),
                        format!("`{t}` is not in `states`"),
                    )
                    .hint(suggest(t, states.iter().copied(), "state")),
                );
            }
        }
    }
}

pub fn compile(
    c: &mut Compiler,
    file: &FlowFile,
    env: &FlowEnv<'_>,
    seen_rules: &mut BTreeMap<String, String>,
    here: &str,
    out: &mut Vec<Finding>,
) -> Vec<Rule> {
    let mut rules = Vec::new();
    if let Some(e) = &file.entity {
        check_entity(e, "/entity", env, out);
    }
    let contact_field = file
        .contact_field
        .clone()
        .unwrap_or_else(|| "email".to_string());
    if !c.may_produce(&contact_field) {
        out.push(
            Finding::warning("unknown-field", "/contact_field", format!("no source produces `{contact_field}`, so cancellations can't find this flow's contacts"))
                .hint("name the field that holds the contact's address, usually contact_field = \"email\", and map it in the sources' [fields]"),
        );
    }
    let contact_slot = c.fields.intern(&contact_field);
    for (i, spec) in file.rules.iter().enumerate() {
        let ptr = format!("/rules/{i}");
        if let Some(first) = seen_rules.get(&spec.id) {
            out.push(
                Finding::error(
                    "duplicate-id",
                    format!("{ptr}/id"),
                    format!("the rule id `{}` is already used in {first}", spec.id),
                )
                .hint("rule ids must be unique across all flows; rename one"),
            );
        } else {
            seen_rules.insert(spec.id.clone(), here.to_string());
        }
        if spec.on.is_empty() {
            out.push(
                Finding::error(
                    "no-trigger",
                    format!("{ptr}/on"),
                    "this rule listens to no events",
                )
                .hint("add e.g. on = [\"typeform:form_response\"]"),
            );
        }
        let on = patterns(&spec.on, &format!("{ptr}/on"), env, out);
        let cancel_on = patterns(&spec.cancel_on, &format!("{ptr}/cancel_on"), env, out);
        // Time conditions read the clock of the entity the rule acts for, if it has its own.
        let network_zone = c.zone;
        let acts_for = spec
            .for_entity
            .as_ref()
            .or(spec.entity.as_ref())
            .or(file.entity.as_ref());
        if let Some(z) = acts_for.and_then(|e| c.entity_zones.get(e)) {
            c.zone = *z;
        }
        let when = c.conditions(&spec.when, &format!("{ptr}/when"), out);
        let cancel_when = c.conditions(&spec.cancel_when, &format!("{ptr}/cancel_when"), out);
        c.zone = network_zone;
        if let Some(e) = &spec.entity {
            check_entity(e, &format!("{ptr}/entity"), env, out);
        }
        // The routing a rule fires for (for_entity), else the entity it acts for.
        let scoped = spec
            .for_entity
            .as_deref()
            .or(spec.entity.as_deref())
            .or(file.entity.as_deref());
        super::routing_checks::restated(spec, scoped, ptr.as_str(), env, out);
        // The fields an event reaching this rule can carry: what its sources produce.
        let mut available: BTreeSet<String> = super::ENVELOPE_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut reached = Vec::new();
        for (name, fields) in &c.produced_by {
            if on.iter().any(|p| p.source.is_match(name)) {
                available.extend(fields.iter().cloned());
                reached.push(name.clone());
            }
        }
        // If a reached source failed to load, its fields are unknown: skip the
        // variable checks (an empty `reached` does) rather than report noise.
        if on
            .iter()
            .any(|p| c.broken_sources.iter().any(|b| p.source.is_match(b)))
        {
            reached.clear();
        }
        if let Some(e) = &spec.for_entity {
            check_entity(e, &format!("{ptr}/for_entity"), env, out);
            // Only a sender whose events carry the explicit field can name an entity.
            // (With a source that failed to load, `reached` is empty: assume it can.)
            let named = env
                .explicit_field
                .is_some_and(|f| available.contains(f) || reached.is_empty());
            super::routing_checks::scope(e, named, ptr.as_str(), env, out);
        }
        // A copy: compiling actions borrows the compiler mutably.
        let always_by = c.always_by.clone();
        let present = present_when(&spec.when);
        let mut ids = BTreeSet::new();
        let mut actions = Vec::new();
        // Each compiled action's index in the file, for findings about it.
        let mut positions = Vec::new();
        if spec.actions.is_empty() {
            out.push(Finding::warning(
                "no-actions",
                format!("{ptr}/actions"),
                "this rule does nothing when it fires",
            )
            .hint("add an action under [[rules.actions]], or set enabled = false if it is switched off on purpose"));
        }
        for (j, a) in spec.actions.iter().enumerate() {
            let aptr = format!("{ptr}/actions/{j}");
            let aenv = ActionEnv {
                flow: env,
                available: &available,
                reached: &reached,
                always_by: &always_by,
                present: &present,
                rule_id: &spec.id,
            };
            if let Some(act) = action::compile(c, a, j, &aptr, &aenv, out) {
                if !ids.insert(act.id.clone()) {
                    out.push(Finding::error(
                        "duplicate-id",
                        format!("{aptr}/id"),
                        format!("the action id `{}` is used twice in this rule", act.id),
                    )
                    .hint("give each action of a rule its own id (or leave `id` out: hsflow numbers them)"));
                }
                actions.push(act);
                positions.push(j);
            }
        }
        if !env.databases_broken {
            let indexed: Vec<(usize, &Action)> =
                positions.iter().copied().zip(actions.iter()).collect();
            super::link_order::check(&indexed, env.databases, &ptr, out);
        }
        rules.push(Rule {
            id: spec.id.as_str().into(),
            flow: file.id.as_str().into(),
            description: spec.description.clone(),
            entity: spec
                .entity
                .clone()
                .or_else(|| spec.for_entity.clone())
                .or_else(|| file.entity.clone()),
            for_entity: spec.for_entity.as_deref().map(Arc::from),
            on,
            when,
            actions,
            cancel_on,
            cancel_when,
            contact_slot,
            enabled: spec.enabled,
            follow_up_ids: Vec::new(),
            written_at: (std::path::PathBuf::new(), 0),
        });
    }
    rules
}

fn check_entity(e: &str, ptr: &str, env: &FlowEnv<'_>, out: &mut Vec<Finding>) {
    if !env.entities_broken && !env.entities.iter().any(|x| x == e) {
        out.push(
            Finding::error("unknown-entity", ptr, format!("there is no entity `{e}`")).hint(
                suggest(e, env.entities.iter().map(String::as_str), "entity"),
            ),
        );
    }
}

fn patterns(
    list: &[String],
    ptr: &str,
    env: &FlowEnv<'_>,
    out: &mut Vec<Finding>,
) -> Vec<OnPattern> {
    let mut v = Vec::new();
    for (i, text) in list.iter().enumerate() {
        let p = format!("{ptr}/{i}");
        let (src, ev) = text.split_once(':').unwrap_or((text.as_str(), "*"));
        let (Some(source), Some(event)) = (glob(src, &p, out), glob(ev, &p, out)) else {
            continue;
        };
        if !env.sources.iter().any(|s| source.is_match(s)) {
            out.push(
                Finding::error(
                    "unknown-source",
                    p.clone(),
                    format!("`{text}` names no source: there is no rules/sources/{src}.toml"),
                )
                .hint(suggest(
                    src,
                    env.sources.iter().map(String::as_str),
                    "source",
                )),
            );
        }
        let plain = |s: &str| !s.contains(['*', '?', '[']);
        if let (super::schedules::SOURCE, Some(ids)) = (src, env.schedule_ids) {
            if plain(ev) && !ids.contains(ev) {
                let finding = if env.has_schedules_file {
                    Finding::error(
                        "unknown-schedule",
                        p.clone(),
                        format!("`{text}` names no schedule: there is no `{ev}` in rules/schedules.toml, so this never fires"),
                    )
                    .hint(suggest(ev, ids.iter().map(String::as_str), "schedule"))
                } else {
                    Finding::warning(
                        "unknown-schedule",
                        p.clone(),
                        format!("`{text}` names a schedule, but there is no rules/schedules.toml, so this never fires"),
                    )
                    .hint(format!("add rules/schedules.toml with [[schedules]] id = \"{ev}\" and how often it fires, e.g. every = \"1d\""))
                };
                out.push(finding);
            }
        }
        let checkable =
            plain(ev) && src != super::schedules::SOURCE && !env.broken_sources.contains(src);
        if let Some(known) = env.event_types.get(src).filter(|_| checkable) {
            // Not a type the source maps to, yet one slip (a letter missing,
            // extra, wrong or two swapped) from one known better (mapped, or
            // listened to by more rules). Strictly one: real types are often
            // close ("issues.opened", "issues.reopened").
            let mine = known.get(ev).copied().unwrap_or(0);
            let lonely = mine < 1000;
            let near = known
                .iter()
                .filter(|(t, n)| *t != ev && **n > mine && strsim::damerau_levenshtein(t, ev) == 1)
                .min_by_key(|(t, _)| strsim::damerau_levenshtein(t, ev));
            if let (true, Some((m, n))) = (lonely, near) {
                let message = if *n >= 1000 {
                    format!("`{ev}` is not an event rules/sources/{src}.toml produces, but `{m}` is: this may never match")
                } else {
                    format!("`{ev}` is close to `{m}`, which more rules listen to: one of them may be misspelt")
                };
                out.push(
                    Finding::warning("unknown-event", p.clone(), message)
                        .hint(format!("did you mean `{src}:{m}`?")),
                );
            }
        }
        v.push(OnPattern {
            text: text.clone(),
            source,
            event,
        });
    }
    v
}

/// The fields a `when` list can only hold with: each is tested by a
/// condition that is false when the field is missing (`equals`,
/// `contains_any`, `exists = true`, `is_empty = false`, ...). A template may
/// use them unguarded. `any` guarantees what every branch guarantees; `not`
/// and the tests a missing field can pass (`contains_none`, `exists =
/// false`, `is_empty = true`, `expr`) guarantee nothing.
pub fn present_when(when: &[crate::rules::model::ConditionSpec]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in when {
        out.extend(present_if(c));
    }
    out
}

fn present_if(c: &crate::rules::model::ConditionSpec) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(f) = &c.field {
        let needs_value = c.equals.is_some()
            || c.not_equals.is_some()
            || c.in_.is_some()
            || c.contains.is_some()
            || c.contains_any.is_some()
            || c.contains_all.is_some()
            || c.contains_other_than.is_some()
            || c.gt.is_some()
            || c.gte.is_some()
            || c.lt.is_some()
            || c.lte.is_some()
            || c.starts_with.is_some()
            || c.ends_with.is_some()
            || c.text_contains.is_some()
            || c.within_next.is_some()
            || c.within_last.is_some()
            || c.exists == Some(true)
            || c.is_empty == Some(false);
        if needs_value && !f.starts_with("payload.") {
            out.insert(f.clone());
        }
    }
    if let Some(all) = &c.all {
        out.extend(present_when(all));
    }
    if let Some(any) = &c.any {
        let mut branches = any.iter().map(present_if);
        if let Some(first) = branches.next() {
            out.extend(branches.fold(first, |acc, b| acc.intersection(&b).cloned().collect()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::present_when;
    use crate::rules::model::ConditionSpec;

    fn conds(toml_list: &str) -> Vec<ConditionSpec> {
        #[derive(serde::Deserialize)]
        struct W {
            when: Vec<ConditionSpec>,
        }
        toml::from_str::<W>(&format!("when = {toml_list}"))
            .expect("conditions")
            .when
    }

    #[test]
    fn a_when_that_needs_a_value_guarantees_the_field_and_one_a_missing_field_passes_does_not() {
        let p = present_when(&conds(
            r#"[{ field = "interests", contains = "wellness" }, { field = "email", is_empty = false },
                { field = "phone", exists = false }, { field = "tags", contains_none = ["x"] },
                { not = { field = "company", exists = true } }]"#,
        ));
        assert_eq!(
            p.into_iter().collect::<Vec<_>>(),
            ["email", "interests"],
            "exists = false, contains_none and not guarantee nothing"
        );
        // `any` guarantees only what every branch does.
        let p = present_when(&conds(
            r#"[{ any = [{ all = [{ field = "a", equals = 1 }, { field = "b", equals = 2 }] }, { field = "a", gte = 3 }] }]"#,
        ));
        assert_eq!(p.into_iter().collect::<Vec<_>>(), ["a"]);
    }
}
