//! The planner: (rule set, event) -> plan of typed actions, with its reasons.
//!
//! Pure: no I/O and no clock (the event's `received_at` is "now"), so the
//! CLI's `simulate`, the rule tests and the server all plan identically.

use std::sync::Arc;

use chrono::Duration;
use handlebars::Context as HbContext;
use serde::Serialize;
use serde_json::Value;

use super::action::{payload, schedule, Ctx, Payload, PlannedAction, Renderer};
use super::condition::Verdict;
use super::event::{Event, EventView};
use super::routing::{route, EntityWhy, RouteTrace, Routing, Why};
use super::send_window;
use crate::rules::model::Priority;
use crate::rules::ruleset::{ActionKind, EntityInfo, LeadOverride, LeadSourceRule, Rule, RuleSet};
use crate::rules::templates::Templates;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub event: EventView,
    /// The names of every entity that acts for the event: routed ones in
    /// routing order, then those of the rules that fired.
    pub entities: Vec<String>,
    /// The same entities, each with why it acts (route, explicit, fallback, rule).
    pub entities_why: Vec<EntityWhy>,
    /// The routing step, route by route (with `explain`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routing: Vec<RouteTrace>,
    pub rules: Vec<RuleTrace>,
    pub actions: Vec<PlannedAction>,
    /// Pending actions this event cancels (a reply, a booking...).
    pub cancels: Vec<Cancellation>,
    pub ruleset_version: String,
    /// The network's time zone (entities.toml), the wall clock times are shown on for people.
    pub zone: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The requests an `[[enrich]]` source made to its API before the
    /// webhook was read, and what came back (the explain trace keeps them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrich: Vec<crate::sources::enrich::StepTrace>,
}

impl Plan {
    /// The kind of each action (`email`, `notion`...), for the planned-actions metric.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.actions.iter().map(|a| a.payload.kind()).collect()
    }

    /// The contact each action is for (its rule's contact field, as text),
    /// in the order of `actions`: the store keys follow-ups by it, so a reply
    /// can cancel them.
    pub fn contacts(&self, rs: &RuleSet, event: &Event) -> Vec<Option<String>> {
        self.actions
            .iter()
            .map(|a| {
                let slot = rs.rule(&a.rule).map(|r| r.contact_slot)?;
                event.fields.get(slot).map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleTrace {
    pub id: Arc<str>,
    pub flow: Arc<str>,
    pub matched: bool,
    pub conditions: Vec<Verdict>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cancellation {
    pub rule: Arc<str>,
    pub flow: Arc<str>,
    /// The contact whose pending actions of that rule are cancelled.
    pub contact: Value,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Render templates (off for the fastest path; the server renders at run time too).
    pub render: bool,
    /// Record every candidate rule's conditions with their verdicts and
    /// values, and the routing step route by route. Without it, `rules`
    /// lists only the rules that fired, without their conditions (what
    /// intake stores: the rest is rebuilt when the event is read).
    pub explain: bool,
}

impl Options {
    /// What a plan that is stored needs: its actions rendered, and no
    /// verdicts, which the stored trace drops (store::accept) and a read
    /// rebuilds (server::trace_later). Intake and a fetched event's planning
    /// both use it.
    pub const TO_STORE: Options = Options {
        render: true,
        explain: false,
    };
}

impl Default for Options {
    fn default() -> Self {
        Options {
            render: true,
            explain: true,
        }
    }
}

/// The positions of the rules an event matches: the hot path, no trace, no plan.
pub fn matching_rules(rs: &RuleSet, ev: &Event) -> Vec<usize> {
    let mut out = Vec::new();
    matching_rules_into(rs, ev, &mut out);
    out
}

/// [`matching_rules`] into a buffer the caller reuses across events.
pub fn matching_rules_into(rs: &RuleSet, ev: &Event, out: &mut Vec<usize>) {
    out.clear();
    // Routed only when a candidate is scoped to an entity.
    let mut routed: Option<Routing> = None;
    for &i in rs.index.candidates(&ev.source, &ev.event_type).iter() {
        let rule = &rs.rules[i];
        if let Some(e) = &rule.for_entity {
            let r = routed.get_or_insert_with(|| route(rs, ev, false, &mut Vec::new()));
            if !r.reached(e) {
                continue;
            }
        }
        if rule.when.eval(&ev.fields, &ev.payload, ev.received_at) {
            out.push(i);
        }
    }
}

/// Every entity that acts for the event, with why: the routed ones, then
/// each one a fired rule's actions act for (so the plan never contradicts
/// its actions).
fn acting_entities(rs: &RuleSet, routing: &Routing, actions: &[PlannedAction]) -> Vec<EntityWhy> {
    let mut out: Vec<EntityWhy> = Vec::new();
    // The fallback files the event when nothing routes it: listed when an
    // action acts for it, or when no action acts for anyone.
    let acts = |id: &Arc<str>| actions.iter().any(|a| a.entity_id.as_ref() == Some(id));
    let nobody = actions.iter().all(|a| a.entity_id.is_none());
    let routed = routing
        .entities
        .iter()
        .filter(|(id, why)| *why != Why::Fallback || nobody || acts(id))
        .map(|(id, why)| (id, *why, None));
    let by_rules = actions
        .iter()
        .filter_map(|a| Some((a.entity_id.as_ref()?, Why::Rule, Some(a.rule.clone()))));
    for (id, why, rule) in routed.chain(by_rules) {
        if out.iter().any(|e| &e.id == id) {
            continue;
        }
        if let Some(e) = rs.entity(id) {
            out.push(EntityWhy {
                id: e.id.clone(),
                name: e.name.clone(),
                why,
                rule,
            });
        }
    }
    out
}

/// The lead source of an event, and the override that applies, if any.
pub fn lead_source<'a>(
    rs: &'a RuleSet,
    ev: &Event,
) -> Option<(&'a LeadSourceRule, Option<&'a LeadOverride>)> {
    let l = rs.lead_sources.as_ref()?;
    let value = ev.fields.get(l.slot).and_then(Value::as_str);
    let ls = value
        .and_then(|v| {
            l.sources
                .iter()
                .find(|s| s.values.iter().any(|x| x.eq_ignore_ascii_case(v)))
        })
        .or_else(|| {
            l.default
                .as_ref()
                .and_then(|d| l.sources.iter().find(|s| &s.id == d))
        })?;
    let ov = ls
        .overrides
        .iter()
        .find(|o| o.when.eval(&ev.fields, &ev.payload, ev.received_at));
    Some((ls, ov))
}

/// Plan everything an event causes.
pub fn plan(rs: &RuleSet, ev: &Event, opts: Options) -> Plan {
    plan_showing(rs, ev, opts, None)
}

/// [`plan`], rendering the A/B variant whose template is `variant`
/// (`artist_welcome.b`) wherever its email is planned, whichever variant
/// the contact would get: the studio's preview and test send of one variant.
pub fn plan_showing(rs: &RuleSet, ev: &Event, opts: Options, variant: Option<&str>) -> Plan {
    let mut notes = Vec::new();
    let fields = rs.fields.view(&ev.fields);
    let routing = route(rs, ev, opts.explain, &mut notes);
    let mut ctx = Ctx::new(rs, ev, opts.render);
    ctx.show_variant = variant;

    let mut traces = Vec::new();
    let mut actions = Vec::new();
    // Template data with `entity` set, prepared once per entity of this event.
    let mut per_entity: Vec<(Option<Arc<str>>, HbContext)> = Vec::new();
    for &i in rs.index.candidates(&ev.source, &ev.event_type).iter() {
        let rule = &rs.rules[i];
        // `for_entity`: the routing step must have put the event there.
        let in_scope = rule
            .for_entity
            .as_deref()
            .is_none_or(|e| routing.reached(e));
        let matched = if opts.explain {
            let mut conditions = Vec::new();
            if let Some(e) = &rule.for_entity {
                conditions.push(routing.verdict(rs, e));
            }
            let m = rule
                .when
                .explain(&ev.fields, &ev.payload, ev.received_at, &mut conditions);
            traces.push(RuleTrace {
                id: rule.id.clone(),
                flow: rule.flow.clone(),
                matched: in_scope && m,
                conditions,
            });
            in_scope && m
        } else {
            let m = in_scope && rule.when.eval(&ev.fields, &ev.payload, ev.received_at);
            if m {
                traces.push(RuleTrace {
                    id: rule.id.clone(),
                    flow: rule.flow.clone(),
                    matched: true,
                    conditions: Vec::new(),
                });
            }
            m
        };
        if matched {
            plan_rule(
                rs,
                rule,
                ev,
                &ctx,
                routing.ids().next(),
                &mut per_entity,
                &mut actions,
            );
        }
    }
    let mut cancels = Vec::new();
    for &i in rs
        .cancel_index
        .candidates(&ev.source, &ev.event_type)
        .iter()
    {
        let rule = &rs.rules[i];
        if rule
            .cancel_when
            .eval(&ev.fields, &ev.payload, ev.received_at)
        {
            match ev.fields.get(rule.contact_slot) {
                Some(contact) => cancels.push(Cancellation { rule: rule.id.clone(), flow: rule.flow.clone(), contact: contact.clone() }),
                None => notes.push(format!("this event would cancel `{}`'s pending actions, but it has no `{}` to say whose", rule.id, rs.fields.name(rule.contact_slot))),
            }
        }
    }
    let entities_why = acting_entities(rs, &routing, &actions);
    let entities = entities_why.iter().map(|e| e.name.to_string()).collect();
    Plan {
        event: EventView {
            id: ev.id.clone(),
            source: ev.source.clone(),
            event_type: ev.event_type.clone(),
            received_at: ev.received_at,
            fields,
        },
        entities,
        entities_why,
        routing: routing.trace,
        rules: traces,
        actions,
        cancels,
        ruleset_version: rs.version.clone(),
        zone: send_window::zone_of(rs, None).name().to_string(),
        notes,
        enrich: Vec::new(),
    }
}

/// The template data for actions of `entity`, built once per entity; `None`
/// when nothing is rendered (field lookups then read the slots directly).
fn data_for<'c>(
    ctx: &Ctx<'_>,
    entity: Option<&EntityInfo>,
    cache: &'c mut Vec<(Option<Arc<str>>, HbContext)>,
) -> Option<&'c HbContext> {
    if !ctx.render {
        return None;
    }
    let key = entity.map(|e| e.id.clone());
    let pos = match cache.iter().position(|(k, _)| *k == key) {
        Some(p) => p,
        None => {
            let data = super::deferred::with_entity(ctx.data().clone(), ctx.rules, entity);
            cache.push((key, Templates::context(data)));
            cache.len() - 1
        }
    };
    let cache: &'c Vec<(Option<Arc<str>>, HbContext)> = cache;
    Some(&cache[pos].1)
}

#[allow(clippy::too_many_arguments)]
fn plan_rule(
    rs: &RuleSet,
    rule: &Rule,
    ev: &Event,
    ctx: &Ctx<'_>,
    first_entity: Option<&Arc<str>>,
    per_entity: &mut Vec<(Option<Arc<str>>, HbContext)>,
    out: &mut Vec<PlannedAction>,
) {
    let start = out.len();
    // The window each action planned here keeps, in step with `out[start..]`.
    let mut kept = Vec::new();
    for a in &rule.actions {
        // The action's entity, else the rule's (or its flow's), else the event's first.
        let entity = a
            .entity
            .as_deref()
            .or(rule.entity.as_deref())
            .or(first_entity.map(|e| &**e))
            .and_then(|id| rs.entity(id));
        let entity_id = entity.map(|e| e.id.clone());
        let data = data_for(ctx, entity, per_entity);
        let mut notes = Vec::new();
        let zone = send_window::zone_of(rs, entity);
        let (delay_s, run_at, mut error) =
            match schedule(a.delay_s, a.at.as_ref(), ctx, zone, &mut notes) {
                Ok((d, t)) => (d, t, None),
                Err(e) => (0, ctx.received_at, Some(e)),
            };
        if let ActionKind::FollowUp { assignee } = &a.kind {
            let from = out.len();
            follow_up(rs, rule, ev, ctx, data, entity, assignee.as_deref(), out);
            // The sequence's emails keep the window; its first-response task doesn't.
            for f in &out[from..] {
                let email = matches!(f.payload, Payload::Email { .. });
                kept.push(
                    email
                        .then(|| send_window::kept(rs, &a.window, &f.payload, entity, true))
                        .flatten(),
                );
            }
            continue;
        }
        let mut r = Renderer::new(ctx, data);
        let Some(p) = payload(&a.kind, &mut r, entity, run_at, &mut notes) else {
            continue;
        };
        kept.push(send_window::kept(rs, &a.window, &p, entity, a.at.is_none()));
        error = error.or(r.error);
        out.push(PlannedAction {
            id: a.key.clone(),
            rule: rule.id.clone(),
            flow: rule.flow.clone(),
            entity: entity.map(|e| e.name.clone()),
            entity_id: entity_id.clone(),
            delay_s,
            run_at,
            payload: p,
            error,
            notes,
            window: None,
            bodies_later: false,
        });
    }
    send_window::apply(&mut out[start..], &kept, ctx.received_at);
}

/// A `follow_up` action: the first-response task and the follow-up emails of the lead source.
#[allow(clippy::too_many_arguments)]
fn follow_up(
    rs: &RuleSet,
    rule: &Rule,
    ev: &Event,
    ctx: &Ctx<'_>,
    data: Option<&HbContext>,
    entity: Option<&EntityInfo>,
    assignee: Option<&str>,
    out: &mut Vec<PlannedAction>,
) {
    let Some((ls, ov)) = lead_source(rs, ev) else {
        return;
    };
    let first_response = ov
        .map(|o| o.first_response_s)
        .unwrap_or(ls.first_response_s);
    let sequence = ov
        .and_then(|o| o.follow_ups.as_ref())
        .unwrap_or(&ls.follow_ups);
    let who = ctx
        .lookup("first_name")
        .and_then(Value::as_str)
        .or_else(|| ctx.lookup("email").and_then(Value::as_str))
        .unwrap_or("the new contact");
    let kind = ov
        .map(|o| o.id.replace('_', " "))
        .unwrap_or_else(|| format!("{} lead", ls.id));
    let base = |id: Arc<str>, delay: i64, payload: Payload, error: Option<String>| PlannedAction {
        id,
        rule: rule.id.clone(),
        flow: rule.flow.clone(),
        entity: entity.map(|e| e.name.clone()),
        entity_id: entity.map(|e| e.id.clone()),
        delay_s: delay,
        run_at: ev.received_at + Duration::seconds(delay),
        payload,
        error,
        notes: vec![],
        window: None,
        bodies_later: false,
    };
    let due = ev.received_at + Duration::seconds(i64::try_from(first_response).unwrap_or(0));
    out.push(base(
        rule.follow_up_id(None),
        0,
        Payload::Task {
            title: format!("First response to {who} ({kind})"),
            description: None,
            assignee: assignee
                .map(str::to_string)
                .or_else(|| ls.assignee.clone())
                .unwrap_or_else(|| "Lead response team".into()),
            priority: if ov.is_some() {
                Priority::Urgent
            } else {
                Priority::High
            },
            due_at: due,
        },
        None,
    ));
    let to = ctx
        .lookup("email")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    for (day, template) in sequence {
        let mut r = Renderer::new(ctx, data);
        let mut notes = Vec::new();
        let p = super::action::email(&mut r, template, to.clone(), entity, &mut notes);
        let error = if to.is_empty() {
            Some("the follow-up has no recipient: the event has no email".to_string())
        } else {
            r.error
        };
        let mut action = base(
            rule.follow_up_id(Some(*day)),
            i64::from(*day) * 86_400,
            p,
            error,
        );
        action.notes = notes;
        out.push(action);
    }
}
