//! Which businesses an event belongs to, and why: the routing step.
//!
//! rules/entities.toml routes an event to entities by conditions (a route per
//! entity), by the sender naming them (`explicit_field`), or, when nothing
//! else does, to the fallback. Rules scoped with `for_entity` fire only for
//! events a route or the sender put in that entity: the fallback files a
//! record somewhere, it doesn't make a contact belong to a business. Routing
//! is written once, in entities.toml; rules follow it.
//!
//! The explain trace shows this step like any rule: each route's conditions
//! with their verdicts and values.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::condition::Verdict;
use super::event::Event;
use crate::rules::ruleset::RuleSet;

/// How a `for_entity` verdict's expression begins (the console's words read it).
pub const FOR_ENTITY_EXPR: &str = "for_entity = \"";

/// Why an entity acts for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Why {
    /// A route's conditions held.
    Route,
    /// The sender named it (the manual API's business_entities).
    Explicit,
    /// Nothing else matched: the fallback of entities.toml.
    Fallback,
    /// A rule that fired acts for it (its `entity`, or an action's).
    Rule,
}

/// One entity of an event, with why.
#[derive(Debug, Clone, Serialize)]
pub struct EntityWhy {
    pub id: Arc<str>,
    pub name: Arc<str>,
    pub why: Why,
    /// For `Why::Rule`: the first rule that acts for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Arc<str>>,
}

/// One route of entities.toml, as evaluated for an event (explain only).
#[derive(Debug, Clone, Serialize)]
pub struct RouteTrace {
    pub entity: Arc<str>,
    /// The entity's name, for people.
    pub name: Arc<str>,
    pub matched: bool,
    pub conditions: Vec<Verdict>,
}

/// The routing of one event.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    pub entities: Vec<(Arc<str>, Why)>,
    pub trace: Vec<RouteTrace>,
}

impl Routing {
    /// The entity ids, in routing order.
    pub fn ids(&self) -> impl Iterator<Item = &Arc<str>> {
        self.entities.iter().map(|(id, _)| id)
    }

    /// Did a route or the sender put the event in `entity` (what `for_entity` asks)?
    pub fn reached(&self, entity: &str) -> bool {
        self.entities
            .iter()
            .any(|(id, why)| &**id == entity && matches!(why, Why::Route | Why::Explicit))
    }

    /// The verdict `for_entity = "<entity>"` adds to a rule's trace; its
    /// values name businesses as people know them ("AM Consulting").
    pub fn verdict(&self, rs: &RuleSet, entity: &str) -> Verdict {
        let reached = self.reached(entity);
        let name = |id: &str| rs.entity(id).map_or(id.to_string(), |e| e.name.to_string());
        let mut values = serde_json::Map::new();
        values.insert("for".into(), Value::String(name(entity)));
        values.insert(
            "routed_to".into(),
            Value::Array(
                self.entities
                    .iter()
                    .filter(|(_, w)| matches!(w, Why::Route | Why::Explicit))
                    .map(|(id, _)| Value::String(name(id)))
                    .collect(),
            ),
        );
        let mut notes = Vec::new();
        if !reached
            && self
                .entities
                .iter()
                .any(|(id, w)| &**id == entity && *w == Why::Fallback)
        {
            notes.push(format!("`{entity}` is only the fallback here: no route in entities.toml reached it, so rules for it don't fire"));
        }
        // Say how an event gets there in this rule set: routes, and the sender if it may name one.
        let how = if rs.entities.explicit_slot.is_some() {
            "routed there by entities.toml, or named by the sender"
        } else {
            "routed there by entities.toml"
        };
        Verdict {
            expr: format!("{FOR_ENTITY_EXPR}{entity}\" ({how})"),
            result: reached,
            values,
            notes,
        }
    }
}

/// Route an event: every route whose conditions hold, then the entities the
/// sender names, else the fallback. With `explain`, each route's verdicts.
pub fn route(rs: &RuleSet, ev: &Event, explain: bool, notes: &mut Vec<String>) -> Routing {
    let r = &rs.entities;
    let mut out = Routing::default();
    for (entity, cond) in &r.routes {
        let matched = if explain {
            let mut conditions = Vec::new();
            let m = cond.explain(&ev.fields, &ev.payload, ev.received_at, &mut conditions);
            out.trace.push(RouteTrace {
                entity: entity.clone(),
                name: rs.entity(entity).map_or(entity.clone(), |e| e.name.clone()),
                matched: m,
                conditions,
            });
            m
        } else {
            cond.eval(&ev.fields, &ev.payload, ev.received_at)
        };
        if matched && !out.ids().any(|id| id == entity) {
            out.entities.push((entity.clone(), Why::Route));
        }
    }
    if let Some(slot) = r.explicit_slot {
        let named: Vec<String> = match ev.fields.get(slot) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => vec![],
        };
        for n in named {
            let found = r
                .entities
                .iter()
                .find(|e| e.id.eq_ignore_ascii_case(&n) || e.name.eq_ignore_ascii_case(&n));
            match found {
                Some(e) if !out.ids().any(|id| *id == e.id) => {
                    out.entities.push((e.id.clone(), Why::Explicit))
                }
                Some(_) => {}
                None => notes.push(format!("the event names the entity \"{n}\", which entities.toml doesn't have; it was ignored")),
            }
        }
    }
    if out.entities.is_empty() {
        if let Some(f) = &r.fallback {
            out.entities.push((f.clone(), Why::Fallback));
        }
    }
    out
}
