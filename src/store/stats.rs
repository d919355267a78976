//! What the queue and the work look like, counted by SQL: the queue for
//! /health and /metrics (what is due now apart from what is scheduled), the
//! totals of the contact-workflow status, and the per-rule statistics.
//! Reads only; every count covers the whole table, never a page of it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{millis, Store, StoreError};

/// The queue as an operator watches it: work due now (a backlog) apart
/// from work scheduled for later (follow-ups due next week are no backlog).
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Backlog {
    /// Queued or retrying actions whose time has come.
    pub due: i64,
    /// How long the oldest of them has been waiting, in seconds (0: none).
    pub oldest_due_s: f64,
    /// Queued or retrying actions due later.
    pub scheduled: i64,
}

/// Queue depth and parked jobs, for /health and /metrics.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct QueueCounts {
    pub queued: i64,
    pub running: i64,
    pub failed: i64,
    pub dead: i64,
    pub succeeded: i64,
    pub cancelled: i64,
    /// Marketing emails not sent because their address is suppressed.
    pub suppressed: i64,
}

impl Store {
    /// Work due now and how long it has waited, apart from work due later.
    pub async fn backlog(&self, now: DateTime<Utc>) -> Result<Backlog, StoreError> {
        let now_ms = millis(now);
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(due_at) AS oldest FROM actions WHERE status IN ('queued', 'failed') AND due_at <= $1",
        )
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        let due: i64 = r.try_get("n")?;
        let oldest: Option<i64> = r.try_get("oldest")?;
        let scheduled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM actions WHERE status IN ('queued', 'failed') AND due_at > $1",
        )
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(Backlog {
            due,
            oldest_due_s: oldest.map_or(0.0, |t| ((now_ms - t).max(0)) as f64 / 1000.0),
            scheduled,
        })
    }

    pub async fn counts(&self) -> Result<QueueCounts, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM actions GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut c = QueueCounts::default();
        for r in rows {
            let n: i64 = r.try_get("n")?;
            match r.try_get::<String, _>("status")?.as_str() {
                "queued" => c.queued = n,
                "running" => c.running = n,
                "failed" => c.failed = n,
                "dead" => c.dead = n,
                "succeeded" => c.succeeded = n,
                "cancelled" => c.cancelled = n,
                "suppressed" => c.suppressed = n,
                _ => {}
            }
        }
        Ok(c)
    }
}

impl Store {
    /// True totals for the contact-workflow status: every action and instance
    /// counted by SQL, never one page of them.
    pub async fn totals(&self) -> Result<serde_json::Value, StoreError> {
        let mut by_status = serde_json::Map::new();
        for r in sqlx::query(
            // Counted by name number first: the names are joined to a
            // few dozen counts rather than to every action.
            "SELECT n.kind, c.status, CAST(SUM(c.n) AS BIGINT) AS n FROM \
                 (SELECT name_id, status, COUNT(*) AS n FROM actions GROUP BY name_id, status) c \
                 JOIN action_names n ON n.name_id = c.name_id GROUP BY n.kind, c.status",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let (kind, status, n): (String, String, i64) =
                (r.try_get("kind")?, r.try_get("status")?, r.try_get("n")?);
            let entry = by_status
                .entry(kind)
                .or_insert_with(|| serde_json::json!({}));
            entry[status] = serde_json::json!(n);
        }
        let mut instances = serde_json::Map::new();
        for r in sqlx::query("SELECT workflow, state, COUNT(*) AS n FROM workflow_instances GROUP BY workflow, state").fetch_all(&self.pool).await? {
            let (wf, state, n): (String, String, i64) = (r.try_get("workflow")?, r.try_get("state")?, r.try_get("n")?);
            let entry = instances.entry(wf).or_insert_with(|| serde_json::json!({}));
            entry[state] = serde_json::json!(n);
        }
        let mut events = serde_json::Map::new();
        for r in sqlx::query("SELECT source, COUNT(*) AS n FROM events GROUP BY source")
            .fetch_all(&self.pool)
            .await?
        {
            events.insert(
                r.try_get("source")?,
                serde_json::json!(r.try_get::<i64, _>("n")?),
            );
        }
        let contacts: i64 = sqlx::query("SELECT COUNT(*) AS n FROM contacts")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(
            serde_json::json!({"actions": by_status, "workflow_instances": instances, "events": events, "contacts": contacts}),
        )
    }
}

impl Store {
    /// Runs and success rate per flow and rule (GET /api/stats): every action counted.
    pub async fn stats(&self) -> Result<serde_json::Value, StoreError> {
        let rows = sqlx::query(
            "SELECT flow, rule, COUNT(*) AS planned, \
             SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) AS succeeded, \
             SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END) AS dead, \
             SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled, \
             SUM(CASE WHEN status IN ('queued', 'failed', 'running') THEN 1 ELSE 0 END) AS pending, \
             COUNT(DISTINCT event_id) AS runs \
             FROM actions_named GROUP BY flow, rule ORDER BY flow, rule",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let succeeded: i64 = r.try_get("succeeded")?;
            let dead: i64 = r.try_get("dead")?;
            let finished = succeeded + dead;
            out.push(serde_json::json!({
                "flow": r.try_get::<String, _>("flow")?,
                "rule": r.try_get::<String, _>("rule")?,
                "runs": r.try_get::<i64, _>("runs")?,
                "actions": r.try_get::<i64, _>("planned")?,
                "succeeded": succeeded,
                "dead": dead,
                "cancelled": r.try_get::<i64, _>("cancelled")?,
                "pending": r.try_get::<i64, _>("pending")?,
                // Of the actions that finished, the share that succeeded (null until one finishes).
                "success_rate": if finished > 0 { serde_json::json!(succeeded as f64 / finished as f64) } else { serde_json::Value::Null },
            }));
        }
        Ok(serde_json::json!({"rules": out}))
    }
}
