//! Accepting an event: everything it causes, written in one transaction.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{millis, Store, StoreError};
use crate::engine::plan::Plan;

/// The outcome of accepting a webhook.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    pub event_id: String,
    pub duplicate: bool,
    pub actions: usize,
    /// Pending actions of earlier events this one cancelled.
    pub cancelled: u64,
}

/// What is stored of one event.
pub struct NewEvent<'a> {
    pub source: &'a str,
    pub event_type: &'a str,
    pub idem_key: &'a str,
    pub window_s: u64,
    pub received_at: DateTime<Utc>,
    /// The headers that matter (signature, topic, delivery id), as JSON.
    pub headers: serde_json::Value,
    pub body: &'a [u8],
    pub plan: &'a Plan,
    /// For each planned action, the contact it concerns (for cancellation).
    pub contacts: Vec<Option<String>>,
}

impl Store {
    /// Store an event and its planned actions, unless its idempotency key was
    /// seen within the source's window: then nothing new is written and the
    /// first event's id comes back with `duplicate: true`.
    pub async fn accept(&self, ev: NewEvent<'_>) -> Result<Accepted, StoreError> {
        let mut tx = self.write_tx().await?;
        let accepted = accept_in(&mut tx, ev).await?;
        tx.commit().await?;
        Ok(accepted)
    }

    /// Accept many events in one transaction (one commit, one sync): what the
    /// group writer does with the events that arrived together.
    pub async fn accept_batch(
        &self,
        events: Vec<NewEvent<'_>>,
    ) -> Result<Vec<Accepted>, StoreError> {
        let mut tx = self.write_tx().await?;
        let mut out = Vec::with_capacity(events.len());
        for ev in events {
            out.push(accept_in(&mut tx, ev).await?);
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// The work of accepting one event, inside a transaction the caller commits.
async fn accept_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    ev: NewEvent<'_>,
) -> Result<Accepted, StoreError> {
    let now = millis(ev.received_at);
    sqlx::query("DELETE FROM idempotency WHERE source = ? AND idem_key = ? AND expires_at <= ?")
        .bind(ev.source)
        .bind(ev.idem_key)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let event_id = uuid::Uuid::now_v7().to_string();
    let expires = now
        + i64::try_from(ev.window_s)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(1000);
    let inserted = sqlx::query("INSERT INTO idempotency (source, idem_key, event_id, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (source, idem_key) DO NOTHING")
            .bind(ev.source)
            .bind(ev.idem_key)
            .bind(&event_id)
            .bind(expires)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if inserted == 0 {
        let first: String =
            sqlx::query("SELECT event_id FROM idempotency WHERE source = ? AND idem_key = ?")
                .bind(ev.source)
                .bind(ev.idem_key)
                .fetch_one(&mut **tx)
                .await?
                .try_get("event_id")?;
        return Ok(Accepted {
            event_id: first,
            duplicate: true,
            actions: 0,
            cancelled: 0,
        });
    }
    let fields = serde_json::to_string(&ev.plan.event.fields)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let trace = serde_json::json!({"rules": ev.plan.rules, "entities": ev.plan.entities, "cancels": ev.plan.cancels, "notes": ev.plan.notes});
    sqlx::query("INSERT INTO events (id, source, event_type, idem_key, received_at, headers, body, fields, trace, ruleset_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&event_id)
            .bind(ev.source)
            .bind(ev.event_type)
            .bind(ev.idem_key)
            .bind(now)
            .bind(ev.headers.to_string())
            .bind(ev.body)
            .bind(fields)
            .bind(trace.to_string())
            .bind(&ev.plan.ruleset_version)
            .execute(&mut **tx)
            .await?;
    // Cancellations first, so this event's own new actions are never cancelled by it.
    // Only scheduled actions (due after their own event arrived) are cancelled:
    // the immediate ones (recording the contact, telling the team) are already under way.
    let mut cancelled = 0;
    for c in &ev.plan.cancels {
        let contact = c
            .contact
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| c.contact.to_string());
        cancelled += sqlx::query("UPDATE actions SET status = 'cancelled', last_error = ?, updated_at = ? WHERE contact = ? AND rule = ? AND status IN ('queued', 'failed') AND due_at > created_at")
                .bind(format!("cancelled by event {event_id} ({}:{})", ev.source, ev.event_type))
                .bind(now)
                .bind(contact)
                .bind(&*c.rule)
                .execute(&mut **tx)
                .await?
                .rows_affected();
    }
    for (a, contact) in ev.plan.actions.iter().zip(ev.contacts.iter()) {
        let payload = serde_json::to_string(a).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // An action that could not be rendered is parked at once: it is never sent.
        let (status, error) = match &a.error {
            Some(e) => ("dead", Some(e.as_str())),
            None => ("queued", None),
        };
        sqlx::query("INSERT INTO actions (id, event_id, action_key, rule, flow, entity, kind, contact, payload, due_at, status, attempts, last_error, ruleset_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)")
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&event_id)
                .bind(&*a.id)
                .bind(&*a.rule)
                .bind(&*a.flow)
                .bind(a.entity.as_deref())
                .bind(a.payload.kind())
                .bind(contact.as_deref())
                .bind(payload)
                .bind(millis(a.run_at))
                .bind(status)
                .bind(error)
                .bind(&ev.plan.ruleset_version)
                .bind(now)
                .bind(now)
                .execute(&mut **tx)
                .await?;
    }
    Ok(Accepted {
        event_id,
        duplicate: false,
        actions: ev.plan.actions.len(),
        cancelled,
    })
}

impl Store {
    /// An event with its trace and its actions' statuses (GET /api/events/{id}).
    pub async fn event(&self, id: &str) -> Result<serde_json::Value, StoreError> {
        let row = sqlx::query("SELECT id, source, event_type, idem_key, received_at, fields, trace, ruleset_version FROM events WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("there is no event {id}")))?;
        let parse = |s: String| {
            serde_json::from_str::<serde_json::Value>(&s).unwrap_or(serde_json::Value::Null)
        };
        let actions = self.actions_of_event(id).await?;
        Ok(serde_json::json!({
            "id": row.try_get::<String, _>("id")?,
            "source": row.try_get::<String, _>("source")?,
            "type": row.try_get::<String, _>("event_type")?,
            "idempotency_key": row.try_get::<String, _>("idem_key")?,
            "received_at": super::from_millis(row.try_get::<i64, _>("received_at")?),
            "fields": parse(row.try_get("fields")?),
            "trace": parse(row.try_get("trace")?),
            "ruleset_version": row.try_get::<String, _>("ruleset_version")?,
            "actions": actions,
        }))
    }
}
