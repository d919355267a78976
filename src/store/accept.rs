//! Accepting events: each event and everything it causes, written in one
//! transaction with the other events that arrived together.
//!
//! The write connection is the store's bottleneck (one writer, by design),
//! so the work done while holding it is cut to the bone:
//! - everything is serialised to JSON before the transaction starts, on the
//!   request's own task ([`NewEvent::new`]), in parallel with other requests;
//! - the idempotency check is one statement per event (an upsert that only
//!   replaces an expired key, returning the id when the event is new);
//! - the batch's events and their actions go in with one multi-row INSERT
//!   each instead of one statement per row.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{millis, Store, StoreError};
use crate::engine::plan::Plan;

/// The outcome of accepting a webhook.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    pub event_id: String,
    /// True when the idempotency key was seen within the source's window: nothing new was planned.
    pub duplicate: bool,
    pub actions: usize,
    /// Pending actions this event cancelled.
    pub cancelled: u64,
}

/// An event ready to store, owning its data, already serialised.
pub struct NewEvent {
    pub source: String,
    pub event_type: String,
    pub idem_key: String,
    pub window_s: u64,
    pub received_at: DateTime<Utc>,
    pub headers: String,
    pub body: Vec<u8>,
    fields: String,
    trace: String,
    ruleset_version: String,
    /// (contact, rule) whose pending actions this event cancels.
    cancels: Vec<(String, String)>,
    actions: Vec<NewAction>,
}

struct NewAction {
    key: String,
    rule: String,
    flow: String,
    entity: Option<String>,
    kind: &'static str,
    contact: Option<String>,
    payload: String,
    due_at: i64,
    status: &'static str,
    error: Option<String>,
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

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl NewEvent {
    /// Serialise an event and its plan; `contacts[i]` is the contact of action `i`.
    pub fn new(
        env: Envelope,
        plan: &Plan,
        contacts: &[Option<String>],
    ) -> Result<NewEvent, StoreError> {
        let trace = serde_json::json!({"rules": plan.rules, "entities": plan.entities, "cancels": plan.cancels, "notes": plan.notes});
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
                payload: json(a)?,
                due_at: millis(a.run_at),
                status,
                error,
            });
        }
        Ok(NewEvent {
            fields: json(&plan.event.fields)?,
            trace: trace.to_string(),
            ruleset_version: plan.ruleset_version.clone(),
            cancels: plan
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
                .collect(),
            actions,
            source: env.source,
            event_type: env.event_type,
            idem_key: env.idem_key,
            window_s: env.window_s,
            received_at: env.received_at,
            headers: env.headers.to_string(),
            body: env.body,
        })
    }
}

/// Rows per multi-row INSERT (well under SQLite's 32,766 bound parameters).
const ROWS_PER_INSERT: usize = 500;

impl Store {
    pub async fn accept(&self, ev: &NewEvent) -> Result<Accepted, StoreError> {
        let mut out = self.accept_batch(std::slice::from_ref(ev)).await?;
        out.pop()
            .ok_or_else(|| StoreError::Other("the batch answered nothing".into()))
    }

    /// Store events in one transaction; one answer per event, in order.
    pub async fn accept_batch(&self, events: &[NewEvent]) -> Result<Vec<Accepted>, StoreError> {
        let mut tx = self.write_tx().await?;
        let mut out = Vec::with_capacity(events.len());
        let mut fresh: Vec<(&NewEvent, String)> = Vec::with_capacity(events.len());
        for ev in events {
            let now = millis(ev.received_at);
            let event_id = uuid::Uuid::now_v7().to_string();
            let expires = now
                + i64::try_from(ev.window_s)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1000);
            // New key, or an expired one taken over: returns our id. A live key: nothing.
            let claimed: Option<String> = sqlx::query_scalar(
                "INSERT INTO idempotency (source, idem_key, event_id, expires_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (source, idem_key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at \
                 WHERE idempotency.expires_at <= ? RETURNING event_id",
            )
            .bind(&ev.source)
            .bind(&ev.idem_key)
            .bind(&event_id)
            .bind(expires)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if claimed.is_none() {
                let first: String = sqlx::query(
                    "SELECT event_id FROM idempotency WHERE source = ? AND idem_key = ?",
                )
                .bind(&ev.source)
                .bind(&ev.idem_key)
                .fetch_one(&mut *tx)
                .await?
                .try_get("event_id")?;
                out.push(Accepted {
                    event_id: first,
                    duplicate: true,
                    actions: 0,
                    cancelled: 0,
                });
                continue;
            }
            let mut cancelled = 0;
            for (contact, rule) in &ev.cancels {
                cancelled += sqlx::query("UPDATE actions SET status = 'cancelled', last_error = ?, updated_at = ? WHERE contact = ? AND rule = ? AND status IN ('queued', 'failed') AND due_at > created_at")
                    .bind(format!("cancelled by event {event_id} ({}:{})", ev.source, ev.event_type))
                    .bind(now)
                    .bind(contact)
                    .bind(rule)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            out.push(Accepted {
                event_id: event_id.clone(),
                duplicate: false,
                actions: ev.actions.len(),
                cancelled,
            });
            fresh.push((ev, event_id));
        }
        for chunk in fresh.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (id, source, event_type, idem_key, received_at, headers, body, fields, trace, ruleset_version) ",
            );
            q.push_values(chunk, |mut b, (ev, id)| {
                b.push_bind(id.as_str())
                    .push_bind(ev.source.as_str())
                    .push_bind(ev.event_type.as_str())
                    .push_bind(ev.idem_key.as_str())
                    .push_bind(millis(ev.received_at))
                    .push_bind(ev.headers.as_str())
                    .push_bind(ev.body.as_slice())
                    .push_bind(ev.fields.as_str())
                    .push_bind(ev.trace.as_str())
                    .push_bind(ev.ruleset_version.as_str());
            });
            q.build().execute(&mut *tx).await?;
        }
        let rows: Vec<(&NewEvent, &str, &NewAction)> = fresh
            .iter()
            .flat_map(|(ev, id)| ev.actions.iter().map(move |a| (*ev, id.as_str(), a)))
            .collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO actions (id, event_id, action_key, rule, flow, entity, kind, contact, payload, due_at, status, attempts, last_error, ruleset_version, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut b, (ev, event_id, a)| {
                let now = millis(ev.received_at);
                b.push_bind(uuid::Uuid::now_v7().to_string())
                    .push_bind(*event_id)
                    .push_bind(a.key.as_str())
                    .push_bind(a.rule.as_str())
                    .push_bind(a.flow.as_str())
                    .push_bind(a.entity.as_deref())
                    .push_bind(a.kind)
                    .push_bind(a.contact.as_deref())
                    .push_bind(a.payload.as_str())
                    .push_bind(a.due_at)
                    .push_bind(a.status)
                    .push_bind(0i64)
                    .push_bind(a.error.as_deref())
                    .push_bind(ev.ruleset_version.as_str())
                    .push_bind(now)
                    .push_bind(now);
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}
