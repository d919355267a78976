//! Reads for the console: pages of events with their outcome, an event's
//! actions with what they carry, failing actions, and activity per flow.
//! Every list is one page through an index or a bounded scan, never a whole
//! table in memory.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

pub use super::events_list::{EventQuery, EventRow, EventsPage};
use super::{from_millis, millis, Store, StoreError};

/// An action with what it carries, for the event page.
#[derive(Debug, Clone, Serialize)]
pub struct ActionDetail {
    pub id: String,
    pub action: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub due_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub payload: serde_json::Value,
    /// The rule-set version that planned it (what renders an email's bodies).
    pub ruleset_version: String,
}

/// A failing or parked action.
#[derive(Debug, Clone, Serialize)]
pub struct Failing {
    pub id: String,
    pub event_id: String,
    pub action: String,
    pub kind: String,
    pub contact: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub due_at: DateTime<Utc>,
    pub last_error: String,
}

/// A flow's work since some time.
#[derive(Debug, Clone, Serialize, Default)]
pub struct FlowActivity {
    pub flow: String,
    pub events: i64,
    pub actions: i64,
    pub succeeded: i64,
    pub dead: i64,
}

impl Store {
    /// An event's actions with their payloads, in the order they are due.
    pub async fn action_details(&self, event_id: &str) -> Result<Vec<ActionDetail>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT id, event_id, action_key, rule, flow, entity, kind, status, attempts, due_at, last_error, payload, ",
            super::action_version::action_version!("actions_named"),
            ", ",
            super::packed::action_plan!("actions_named"),
            " FROM actions_named WHERE ",
            super::action_event::of_event!("actions_named", "$1"),
            " ORDER BY due_at, action_key"
        ))
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?;
        let mut plans = super::packed::Plans::default();
        rows.iter()
            .map(|r| -> Result<ActionDetail, StoreError> {
                Ok(ActionDetail {
                    id: r.try_get("id")?,
                    action: r.try_get("action_key")?,
                    kind: r.try_get("kind")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    due_at: from_millis(r.try_get("due_at")?),
                    last_error: r.try_get("last_error")?,
                    payload: super::action_payload::shown(r, &mut plans),
                    ruleset_version: r.try_get("ruleset_version")?,
                })
            })
            .collect()
    }

    /// Parked and retrying actions, the latest due first (at most `limit`;
    /// through the (status, due_at) index).
    pub async fn failing(&self, limit: i64) -> Result<Vec<Failing>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, event_id, action_key, kind, contact, status, attempts, due_at, last_error FROM actions_named \
             WHERE status IN ('dead', 'failed') AND last_error IS NOT NULL ORDER BY due_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Failing {
                    id: r.try_get("id")?,
                    event_id: r.try_get("event_id")?,
                    action: r.try_get("action_key")?,
                    kind: r.try_get("kind")?,
                    contact: r.try_get("contact")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    due_at: from_millis(r.try_get("due_at")?),
                    last_error: r
                        .try_get::<Option<String>, _>("last_error")?
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Per flow: events and actions planned since `since`, and how they ended.
    pub async fn flow_activity(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<FlowActivity>, StoreError> {
        let rows = sqlx::query(
            "SELECT flow, COUNT(DISTINCT event_id) AS events, COUNT(*) AS actions, \
             SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) AS succeeded, \
             SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END) AS dead \
             FROM actions_named WHERE created_at >= $1 GROUP BY flow ORDER BY flow",
        )
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FlowActivity {
                    flow: r.try_get("flow")?,
                    events: r.try_get("events")?,
                    actions: r.try_get("actions")?,
                    succeeded: r.try_get::<Option<i64>, _>("succeeded")?.unwrap_or(0),
                    dead: r.try_get::<Option<i64>, _>("dead")?.unwrap_or(0),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Events received per hour over the 24 hours before `now` (oldest first).
    pub async fn events_per_hour(&self, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        let end = millis(now);
        let start = end - 24 * 3_600_000;
        let rows = sqlx::query(
            "SELECT (received_at - $1) / 3600000 AS h, COUNT(*) AS n FROM events \
             WHERE received_at >= $2 AND received_at < $3 GROUP BY (received_at - $4) / 3600000",
        )
        .bind(start)
        .bind(start)
        .bind(end)
        .bind(start)
        .fetch_all(&self.pool)
        .await?;
        let mut hours = vec![0i64; 24];
        for r in rows {
            let h: i64 = r.try_get("h")?;
            hours[h.clamp(0, 23) as usize] += r.try_get::<i64, _>("n")?;
        }
        Ok(hours)
    }
}

/// A scheduled action, for the follow-ups page.
#[derive(Debug, Clone, Serialize)]
pub struct Scheduled {
    pub id: String,
    pub event_id: String,
    pub action: String,
    pub kind: String,
    pub contact: Option<String>,
    pub due_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

impl Store {
    /// Actions waiting for a time still to come, soonest first, after the
    /// (due_at, id) key `after`; for one contact when given.
    pub async fn scheduled_page(
        &self,
        now: DateTime<Utc>,
        contact: Option<&str>,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<Scheduled>, StoreError> {
        let (after_t, after_id) = after.unwrap_or((millis(now), String::new()));
        let rows = sqlx::query(concat!(
            "SELECT id, event_id, action_key, rule, flow, entity, kind, contact, due_at, payload, ",
            super::packed::action_plan!("actions_named"),
            " FROM actions_named WHERE status = 'queued' AND (due_at > $1 OR (due_at = $2 AND id > $3)) \
             AND ($4 IS NULL OR contact_id = (SELECT contact_id FROM contacts WHERE contact = $5)) ORDER BY due_at, id LIMIT $6",
        ))
        .bind(after_t)
        .bind(after_t)
        .bind(after_id)
        .bind(contact)
        .bind(contact)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut plans = super::packed::Plans::default();
        rows.iter()
            .map(|r| -> Result<Scheduled, StoreError> {
                Ok(Scheduled {
                    id: r.try_get("id")?,
                    event_id: r.try_get("event_id")?,
                    action: r.try_get("action_key")?,
                    kind: r.try_get("kind")?,
                    contact: r.try_get("contact")?,
                    due_at: from_millis(r.try_get("due_at")?),
                    payload: super::action_payload::shown(r, &mut plans),
                })
            })
            .collect()
    }
}

impl Store {
    /// The workflow instances of a contact, each with its history (oldest first).
    pub async fn instances_of(&self, contact: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM workflow_instances WHERE contact = $1 ORDER BY created_at",
        )
        .bind(contact)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.instance(&id).await?);
        }
        Ok(out)
    }
}

impl Store {
    /// The body and kept headers of an event, as received.
    pub async fn raw_event(&self, id: &str) -> Result<(Vec<u8>, serde_json::Value), StoreError> {
        let row = super::event_pack::event_row(&self.pool, "id", id).await?;
        let parts = super::event_pack::parts_of(&row)?;
        let (body, headers) = (parts.body, super::event_pack::shown_json(&parts.headers));
        Ok((body, headers))
    }
}
