//! The what-if: "if I save this change, what would it have done to last
//! week's real events, and what changes for people already waiting?"
//!
//! Each stored request (its body and kept headers as they arrived, at its
//! real arrival time) is normalised and planned twice, by the live rules and
//! by the candidate rules, with no side effects: the planner is pure. The
//! two plans are compared action by action (by `<rule>/<action>` id): added,
//! removed, or changed in kind, timing, recipient, rendered text or Notion
//! properties; and rule by rule (which newly fire, which stop). An event the
//! candidate rules refuse (its source removed, a required field no longer
//! found) is reported, never dropped.
//!
//! Waiting actions (queued, or failed and due to retry) were planned by the
//! rules of their day and stay pinned to that version; those the candidate
//! rules would no longer plan are listed, so a save can cancel them
//! explicitly.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::engine::payload::PlannedAction;
use crate::engine::plan::{matching_rules, plan, Options, Plan};
use crate::rules::RuleSet;
use crate::sources::intake::renormalise;
use crate::sources::normalise::Request;
use crate::store::replay::{StoredRequest, Waiting};

/// What one rule set made of one request.
struct Replayed {
    fired: BTreeSet<Arc<str>>,
    plan: Plan,
}

/// One field of an action that differs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldChange {
    /// `timing`, `to`, `subject`, `text`, `html`, `properties`, `entity`...
    pub field: String,
    pub before: Value,
    pub after: Value,
    /// The change in a few words: short values whole, long texts by the
    /// part that differs ("added \"...\"", "\"...\" -> \"...\"").
    pub said: String,
}

impl FieldChange {
    fn new(field: &str, before: Value, after: Value) -> FieldChange {
        let said = super::said::change(&before, &after);
        FieldChange {
            field: field.to_string(),
            before,
            after,
            said,
        }
    }
}

/// An action in words: enough to recognise it in a list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionBrief {
    /// `<rule>/<action>`.
    pub id: String,
    pub flow: String,
    pub kind: String,
    /// Who or what it goes to: an address, a channel, a Notion database.
    pub target: String,
    /// What it is, in words: "the email “artist_welcome”", "the task “Review…”".
    pub label: String,
    pub delay_s: i64,
    pub run_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionChange {
    #[serde(flatten)]
    pub action: ActionBrief,
    pub changes: Vec<FieldChange>,
}

/// How one event would fare under the candidate rules, when it differs.
#[derive(Debug, Clone, Serialize)]
pub struct EventDiff {
    pub event_id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub received_at: DateTime<Utc>,
    pub contact: Option<String>,
    /// The candidate rules refuse the request (why); its live actions all count as removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The live rules refuse it but the candidate ones accept it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_refused: Option<String>,
    pub rules_newly_firing: Vec<String>,
    pub rules_stopping: Vec<String>,
    pub added: Vec<ActionBrief>,
    pub removed: Vec<ActionBrief>,
    pub changed: Vec<ActionChange>,
}

/// Counts for one flow.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowSummary {
    pub events: usize,
    pub actions_added: usize,
    pub actions_removed: usize,
    pub actions_changed: usize,
    pub rules_newly_firing: BTreeSet<String>,
    pub rules_stopping: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub events_replayed: usize,
    pub events_changed: usize,
    pub events_refused: usize,
    pub actions_added: usize,
    pub actions_removed: usize,
    pub actions_changed: usize,
    pub flows: BTreeMap<String, FlowSummary>,
}

/// A waiting action the candidate rules would not plan any more.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    #[serde(flatten)]
    pub waiting: Waiting,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub live_version: String,
    pub candidate_version: String,
    /// The summary in one sentence, for people.
    pub said: String,
    /// Any difference at all (the CLI exits 1 when there is).
    pub differences: bool,
    pub summary: Summary,
    /// The events that differ, oldest first (at most `MAX_LISTED`).
    pub events: Vec<EventDiff>,
    /// How many differing events were left out of `events`.
    pub events_not_listed: usize,
    pub pending: Vec<Orphan>,
    /// Waiting actions the candidate's send windows would hold past their time.
    pub held: Vec<super::held::Held>,
}

/// Differing events listed in full; the summary counts all of them.
pub const MAX_LISTED: usize = 500;

fn replay(rs: &RuleSet, req: &StoredRequest) -> Result<Replayed, String> {
    let src = rs.sources.get(&req.source).ok_or_else(|| {
        format!(
            "these rules have no source `{}`, so its webhooks would be refused",
            req.source
        )
    })?;
    let r = Request {
        headers: &req.headers,
        body: &req.body,
    };
    let ev = renormalise(rs, src, &r, req.received_at, req.enriched.as_ref())?;
    let fired = matching_rules(rs, &ev)
        .into_iter()
        .map(|i| rs.rules[i].id.clone())
        .collect();
    let plan = plan(
        rs,
        &ev,
        Options {
            render: true,
            explain: false,
        },
    );
    Ok(Replayed { fired, plan })
}

fn brief(a: &PlannedAction) -> ActionBrief {
    use crate::engine::payload::Payload as P;
    let target = match &a.payload {
        P::Email { to, .. } => to.clone(),
        P::Task { assignee, .. } => assignee.clone(),
        P::Notify { channel, .. } => channel.clone(),
        P::Notion { database, .. } => database.clone(),
        P::Webhook { url, .. } => url.clone(),
        P::Beehiiv { email, .. } | P::Hubspot { email, .. } => email.clone(),
        P::Workflow { workflow, .. } => workflow.clone(),
    };
    let clip = super::said::clip;
    let label = match &a.payload {
        P::Email { template, .. } => format!("the email “{template}”"),
        P::Task { title, .. } => format!("the task “{}”", clip(title, 60)),
        P::Notify { channel, .. } => format!("a message to {channel}"),
        P::Notion {
            database,
            operation,
            ..
        } => format!(
            "a Notion {} in {database}",
            format!("{operation:?}").to_lowercase()
        ),
        P::Webhook { url, .. } => format!("a webhook to {}", clip(url, 60)),
        P::Beehiiv { .. } => "a Beehiiv subscription".to_string(),
        P::Hubspot { .. } => "a HubSpot contact".to_string(),
        P::Workflow {
            workflow, to_state, ..
        } => format!("moving {workflow} to {to_state}"),
    };
    ActionBrief {
        id: a.id.to_string(),
        flow: a.flow.to_string(),
        kind: a.payload.kind().to_string(),
        target,
        label,
        delay_s: a.delay_s,
        run_at: a.run_at,
    }
}

/// The fields of two versions of one action that differ (none: the same).
fn changes(live: &PlannedAction, cand: &PlannedAction) -> Vec<FieldChange> {
    let mut out = Vec::new();
    if live.delay_s != cand.delay_s || live.run_at != cand.run_at {
        out.push(FieldChange::new(
            "timing",
            Value::String(crate::console::words::delay(live.delay_s)),
            Value::String(crate::console::words::delay(cand.delay_s)),
        ));
    }
    if live.entity != cand.entity {
        out.push(FieldChange::new(
            "entity",
            live.entity.as_deref().map_or(Value::Null, |e| e.into()),
            cand.entity.as_deref().map_or(Value::Null, |e| e.into()),
        ));
    }
    if live.error != cand.error {
        out.push(FieldChange::new(
            "error",
            live.error.clone().map_or(Value::Null, Value::String),
            cand.error.clone().map_or(Value::Null, Value::String),
        ));
    }
    if live.payload != cand.payload {
        let to_map = |a: &PlannedAction| match serde_json::to_value(&a.payload) {
            Ok(Value::Object(m)) => m,
            _ => Default::default(),
        };
        let (a, b) = (to_map(live), to_map(cand));
        let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for k in keys {
            let (x, y) = (a.get(k), b.get(k));
            if x != y {
                out.push(FieldChange::new(
                    k,
                    x.cloned().unwrap_or(Value::Null),
                    y.cloned().unwrap_or(Value::Null),
                ));
            }
        }
    }
    out
}

fn contact_of(p: &Plan) -> Option<String> {
    p.event
        .fields
        .get("email")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// Compare one request's two outcomes; `None` when they are the same.
fn compare_one(
    req: &StoredRequest,
    live: Result<Replayed, String>,
    cand: &Result<Replayed, String>,
) -> Option<EventDiff> {
    let mut d = EventDiff {
        event_id: req.id.clone(),
        source: req.source.clone(),
        event_type: req.event_type.clone(),
        received_at: req.received_at,
        contact: None,
        refused: None,
        live_refused: None,
        rules_newly_firing: vec![],
        rules_stopping: vec![],
        added: vec![],
        removed: vec![],
        changed: vec![],
    };
    let empty = BTreeSet::new();
    let (live_fired, live_actions) = match &live {
        Ok(r) => (&r.fired, r.plan.actions.as_slice()),
        Err(e) => {
            d.live_refused = Some(e.clone());
            (&empty, &[][..])
        }
    };
    let (cand_fired, cand_actions) = match cand {
        Ok(r) => (&r.fired, r.plan.actions.as_slice()),
        Err(e) => {
            d.refused = Some(e.clone());
            (&empty, &[][..])
        }
    };
    if d.refused.is_some() && d.live_refused.is_some() {
        return None; // refused before and after: nothing changes
    }
    d.contact = live
        .as_ref()
        .ok()
        .and_then(|r| contact_of(&r.plan))
        .or_else(|| cand.as_ref().ok().and_then(|r| contact_of(&r.plan)));
    d.rules_newly_firing = cand_fired
        .difference(live_fired)
        .map(|s| s.to_string())
        .collect();
    d.rules_stopping = live_fired
        .difference(cand_fired)
        .map(|s| s.to_string())
        .collect();
    let by_id: HashMap<&str, &PlannedAction> = cand_actions.iter().map(|a| (&*a.id, a)).collect();
    let live_ids: BTreeSet<&str> = live_actions.iter().map(|a| &*a.id).collect();
    for a in live_actions {
        match by_id.get(&*a.id) {
            None => d.removed.push(brief(a)),
            Some(c) => {
                let ch = changes(a, c);
                if !ch.is_empty() {
                    d.changed.push(ActionChange {
                        action: brief(c),
                        changes: ch,
                    });
                }
            }
        }
    }
    for c in cand_actions.iter().filter(|c| !live_ids.contains(&*c.id)) {
        d.added.push(brief(c));
    }
    let same = d.refused.is_none()
        && d.live_refused.is_none()
        && d.rules_newly_firing.is_empty()
        && d.rules_stopping.is_empty()
        && d.added.is_empty()
        && d.removed.is_empty()
        && d.changed.is_empty();
    (!same).then_some(d)
}

/// Replay every request through both rule sets (on every core) and compare.
/// `waiting` are the actions not yet run; `extra` the requests of their
/// events that `requests` does not hold. An error only if a replay crashed
/// (a bug): then no report at all, rather than one that silently lacks events.
pub fn compare(
    live: &RuleSet,
    candidate: &RuleSet,
    requests: &[StoredRequest],
    waiting: Vec<Waiting>,
    extra: &[StoredRequest],
) -> Result<Report, String> {
    let all: Vec<&StoredRequest> = requests.iter().chain(extra.iter()).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = all.len().div_ceil(threads).max(1);
    // Per request: the diff (if any) and the candidate's action ids (for the waiting work).
    type One = (Option<EventDiff>, Result<BTreeSet<Arc<str>>, String>);
    let results: Result<Vec<Vec<One>>, String> = std::thread::scope(|s| {
        let handles: Vec<_> = all
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|req| {
                            let l = replay(live, req);
                            let c = replay(candidate, req);
                            let ids = c
                                .as_ref()
                                .map(|r| r.plan.actions.iter().map(|a| a.id.clone()).collect())
                                .map_err(|e| e.clone());
                            (compare_one(req, l, &c), ids)
                        })
                        .collect::<Vec<One>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| "a replay crashed; the server's log says where".to_string())
            })
            .collect()
    });
    let (diffs, ids): (Vec<_>, Vec<_>) = results?.into_iter().flatten().unzip();
    let planned: HashMap<&str, &Result<BTreeSet<Arc<str>>, String>> =
        all.iter().map(|r| r.id.as_str()).zip(ids.iter()).collect();
    let mut summary = Summary {
        events_replayed: requests.len(),
        ..Default::default()
    };
    let mut events = Vec::new();
    let mut not_listed = 0;
    for d in diffs.into_iter().take(requests.len()) {
        let Some(d) = d else { continue };
        summary.events_changed += 1;
        summary.events_refused += usize::from(d.refused.is_some());
        summary.actions_added += d.added.len();
        summary.actions_removed += d.removed.len();
        summary.actions_changed += d.changed.len();
        let flows = &mut summary.flows;
        let mut touched = BTreeSet::new();
        for a in &d.added {
            bump(flows, &mut touched, &a.flow).actions_added += 1;
        }
        for a in &d.removed {
            bump(flows, &mut touched, &a.flow).actions_removed += 1;
        }
        for a in &d.changed {
            bump(flows, &mut touched, &a.action.flow).actions_changed += 1;
        }
        for r in &d.rules_newly_firing {
            let f = flow_of(live, candidate, r);
            bump(flows, &mut touched, &f)
                .rules_newly_firing
                .insert(r.clone());
        }
        for r in &d.rules_stopping {
            let f = flow_of(live, candidate, r);
            bump(flows, &mut touched, &f)
                .rules_stopping
                .insert(r.clone());
        }
        for f in touched {
            flows.entry(f).or_default().events += 1;
        }
        if events.len() < MAX_LISTED {
            events.push(d);
        } else {
            not_listed += 1;
        }
    }
    let held = super::held::held(&waiting, live, candidate);
    let pending = waiting
        .into_iter()
        .filter_map(|w| {
            let why = match planned.get(w.event_id.as_str()) {
                None => "its event is no longer in the store, so it can't be replayed".to_string(),
                Some(Err(e)) => format!("the new rules refuse its event: {e}"),
                Some(Ok(ids)) if !ids.contains(w.action.as_str()) => {
                    format!("the new rules no longer plan {} for its event", w.action)
                }
                Some(Ok(_)) => return None,
            };
            Some(Orphan { waiting: w, why })
        })
        .collect::<Vec<_>>();
    Ok(Report {
        live_version: live.version.clone(),
        candidate_version: candidate.version.clone(),
        said: super::said::with_held(super::said::summary(&summary), held.len()),
        differences: summary.events_changed > 0 || !pending.is_empty() || !held.is_empty(),
        summary,
        events,
        events_not_listed: not_listed,
        pending,
        held,
    })
}

/// The summary of flow `f`, noting that this event touched it.
fn bump<'a>(
    flows: &'a mut BTreeMap<String, FlowSummary>,
    touched: &mut BTreeSet<String>,
    f: &str,
) -> &'a mut FlowSummary {
    touched.insert(f.to_string());
    flows.entry(f.to_string()).or_default()
}

/// The flow a rule belongs to, in whichever set has it.
fn flow_of(live: &RuleSet, candidate: &RuleSet, rule: &str) -> String {
    candidate
        .rule(rule)
        .or_else(|| live.rule(rule))
        .map_or_else(|| "(unknown flow)".to_string(), |r| r.flow.to_string())
}
