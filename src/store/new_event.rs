//! An event made ready to store: the request's own task serialises and
//! packs everything (its fields, trace, headers, body and every planned
//! action's payload, in one frame: store::event_pack) before the event
//! reaches the store's one writer, so the writer's transaction only binds
//! what is already made (`store::accept`). Also the event that waits for an `[[enrich]]` fetch,
//! stored with its one job.

use chrono::{DateTime, Utc};

use super::event_pack::EventParts;
use super::{millis, StoreError};
use crate::engine::plan::Plan;

/// An event ready to store, owning its data, already serialised.
pub struct NewEvent {
    pub source: String,
    pub event_type: String,
    pub idem_key: String,
    pub window_s: u64,
    pub received_at: DateTime<Utc>,
    /// Its body, fields, kept headers, trace and planned actions' payloads,
    /// packed in one frame (store::event_pack); its actions are stored with
    /// an empty payload.
    pub(super) packed: Vec<u8>,
    pub(super) ruleset_version: String,
    /// (contact, rule) whose pending actions this event cancels.
    pub(super) cancels: Vec<(String, String)>,
    pub(super) actions: Vec<NewAction>,
}

pub(super) struct NewAction {
    pub(super) key: String,
    pub(super) rule: String,
    pub(super) flow: String,
    pub(super) entity: Option<String>,
    pub(super) kind: &'static str,
    pub(super) contact: Option<String>,
    pub(super) payload: String,
    pub(super) due_at: i64,
    pub(super) status: &'static str,
    pub(super) error: Option<String>,
}

/// What identifies the event, as the request saw it.
pub struct Envelope {
    pub source: String,
    pub event_type: String,
    pub idem_key: String,
    pub window_s: u64,
    pub received_at: DateTime<Utc>,
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
}

/// The explain trace as stored. Each rule's conditions with their values,
/// and the routing step route by route, are most of a trace and follow from
/// the stored request and the rule-set version that planned it: they are
/// rebuilt when the event is read (`server::trace_later`), so intake plans
/// without them. Kept: which rules fired (the events list reads them), the
/// entities and why, cancellations and notes, and what an `[[enrich]]`
/// source fetched (a replay needs it).
fn compact_trace(plan: &Plan) -> serde_json::Value {
    let fired: Vec<serde_json::Value> = plan
        .rules
        .iter()
        .filter(|r| r.matched)
        .map(|r| serde_json::json!({"id": r.id, "flow": r.flow, "matched": true}))
        .collect();
    serde_json::json!({"rules": fired, "rules_later": true, "entities": plan.entities, "entities_why": plan.entities_why, "cancels": plan.cancels, "notes": plan.notes})
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl NewEvent {
    /// The event of `env` with what is stored beside it; `plan` is its
    /// actions' entries (`packed::plan_bytes`).
    fn from_parts(
        env: Envelope,
        fields: String,
        trace: String,
        ruleset_version: String,
        cancels: Vec<(String, String)>,
        actions: Vec<NewAction>,
        plan: Vec<u8>,
    ) -> Result<NewEvent, StoreError> {
        let parts = EventParts {
            body: env.body,
            fields,
            headers: env.headers.to_string(),
            trace,
            plan,
        };
        Ok(NewEvent {
            source: env.source,
            event_type: env.event_type,
            idem_key: env.idem_key,
            window_s: env.window_s,
            received_at: env.received_at,
            packed: parts.pack()?,
            ruleset_version,
            cancels,
            actions,
        })
    }

    /// What is stored packed, unpacked again (the dictionary's trainer
    /// reads it: benches/dictionary.rs).
    pub fn parts(&self) -> Result<EventParts, StoreError> {
        EventParts::unpack(&self.packed)
    }

    /// Serialise an event and its plan; `contacts[i]` is the contact of action `i`.
    pub fn new(
        env: Envelope,
        plan: &Plan,
        contacts: &[Option<String>],
    ) -> Result<NewEvent, StoreError> {
        let mut trace = compact_trace(plan);
        // What an [[enrich]] source fetched before the webhook was read.
        if !plan.enrich.is_empty() {
            trace["enrich"] = serde_json::json!(plan.enrich);
        }
        let mut actions = Vec::with_capacity(plan.actions.len());
        for (i, a) in plan.actions.iter().enumerate() {
            let (status, error) = match &a.error {
                Some(e) => ("dead", Some(e.clone())),
                None => ("queued", None),
            };
            actions.push(NewAction {
                key: a.id.to_string(),
                rule: a.rule.to_string(),
                flow: a.flow.to_string(),
                entity: a.entity.as_deref().map(str::to_string),
                kind: a.payload.kind(),
                contact: contacts.get(i).cloned().flatten(),
                // An email's bodies are rendered again when it is sent
                // (engine::deferred); what the columns hold is not repeated
                // (store::action_payload).
                payload: match crate::engine::deferred::for_storage(a) {
                    Some(stored) => super::action_payload::compact(&stored)?,
                    None => super::action_payload::compact(a)?,
                },
                due_at: millis(a.run_at),
                status,
                error,
            });
        }
        let cancels = plan
            .cancels
            .iter()
            .map(|c| {
                let contact = c
                    .contact
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| c.contact.to_string());
                (contact, c.rule.to_string())
            })
            .collect();
        // The payloads go in the event's plan, and the rows keep none.
        let entries = super::packed::plan_bytes(
            actions.iter().map(|a| (a.key.as_str(), a.payload.as_str())),
        )?;
        for a in &mut actions {
            a.payload.clear();
        }
        NewEvent::from_parts(
            env,
            json(&plan.event.fields)?,
            trace.to_string(),
            plan.ruleset_version.clone(),
            cancels,
            actions,
            entries,
        )
    }
}

/// The job that fetches what an `[[enrich]]` webhook points to: its payload.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FetchJob {
    /// The source whose steps are fetched.
    pub source: String,
    /// The steps' names, for people reading the job.
    pub steps: Vec<String>,
    /// The first step's URL, as the webhook made it (never a credential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The kind, rule and key of a fetch job in the actions table.
pub const FETCH_KIND: &str = "enrich";

impl NewEvent {
    /// An event accepted before it can be read: its source fetches from an
    /// API first (`on_failure = "retry"`), so it is stored with no fields and
    /// one job, the fetch, which plans it when the answer arrives.
    pub fn awaiting_fetch(
        env: Envelope,
        fetch: &FetchJob,
        ruleset_version: &str,
    ) -> Result<NewEvent, StoreError> {
        let note = format!(
            "accepted before it could be read: source `{}` fetches {} from its API first, and the event is planned when the answer arrives",
            fetch.source,
            fetch.steps.join(", ")
        );
        let trace = serde_json::json!({"rules": [], "entities": [], "notes": [note], "awaiting_fetch": fetch.steps});
        let fetch_job = NewAction {
            key: FETCH_KIND.into(),
            rule: FETCH_KIND.into(),
            flow: fetch.source.clone(),
            entity: None,
            kind: FETCH_KIND,
            contact: None,
            payload: json(fetch)?,
            due_at: millis(env.received_at),
            status: "queued",
            error: None,
        };
        NewEvent::from_parts(
            env,
            "{}".into(),
            trace.to_string(),
            ruleset_version.to_string(),
            Vec::new(),
            vec![fetch_job],
            Vec::new(),
        )
    }
}

impl NewAction {
    /// Its names as `action_names` holds them: rule, flow, entity ('' for
    /// none), action key, kind.
    pub(super) fn names(&self) -> [&str; 5] {
        [
            self.rule.as_str(),
            self.flow.as_str(),
            self.entity.as_deref().unwrap_or(""),
            self.key.as_str(),
            self.kind,
        ]
    }
}
