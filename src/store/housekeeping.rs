//! Housekeeping: idempotency keys whose window has passed are only dead
//! weight (a new delivery with the same key is a new event either way), so
//! they are deleted now and then, a small batch at a time through the writer,
//! so intake never waits long behind a cleanup.
//!
//! Events and actions are the audit log. They are kept unless the operator
//! sets a retention (`HSFLOW_RETAIN`): then finished work older than that is
//! deleted the same way, in small batches through the writer. Finished
//! means no action of the event is still to run (queued, retrying or
//! running): a pending job is never deleted, however old its event.
//! `hsflow export` writes events out before they go.

use chrono::{DateTime, Utc};

use super::writer::Bind;
use super::{millis, Store, StoreError};

impl Store {
    /// Delete up to `batch` idempotency keys that expired before `now`;
    /// returns how many went. Keys are looked for in the order they were
    /// written, where the expired ones are, so no index is needed.
    pub async fn prune_expired_keys(
        &self,
        now: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM idempotency WHERE (source, idem_key) IN \
             (SELECT source, idem_key FROM idempotency WHERE expires_at < $1 LIMIT $2)",
            vec![Bind::Int(millis(now)), Bind::Int(batch)],
        )
        .await
    }

    /// Delete every expired key, `batch` at a time, yielding between batches.
    pub async fn prune_all_expired_keys(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        const BATCH: i64 = 1000;
        let mut total = 0;
        loop {
            let n = self.prune_expired_keys(now, BATCH).await?;
            total += n;
            if n < BATCH as u64 {
                return Ok(total);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// What a retention pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub events: u64,
    pub actions: u64,
    pub history: u64,
}

impl Store {
    /// One batch of retention: the actions of up to `batch` finished events
    /// received before `cutoff`, then up to `batch` such events left with
    /// no actions, then up to `batch` history rows of completed workflow
    /// instances written before `cutoff`.
    pub async fn prune_finished(
        &self,
        cutoff: DateTime<Utc>,
        batch: i64,
    ) -> Result<Pruned, StoreError> {
        let before = millis(cutoff);
        let actions = self
            .execute(
                "DELETE FROM actions WHERE status NOT IN ('queued', 'failed', 'running') AND event_id IN \
                 (SELECT e.id FROM events e WHERE e.received_at < $1 AND NOT EXISTS \
                 (SELECT 1 FROM actions p WHERE p.event_id = e.id AND p.status IN ('queued', 'failed', 'running')) LIMIT $2)",
                vec![Bind::Int(before), Bind::Int(batch)],
            )
            .await?;
        let events = self
            .execute(
                "DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.received_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.event_id = e.id) LIMIT $2)",
                vec![Bind::Int(before), Bind::Int(batch)],
            )
            .await?;
        let history = self
            .execute(
                "DELETE FROM workflow_history WHERE (instance_id, at) IN (SELECT h.instance_id, h.at FROM workflow_history h \
                 JOIN workflow_instances i ON i.id = h.instance_id WHERE h.at < $1 AND i.status = 'Completed' LIMIT $2)",
                vec![Bind::Int(before), Bind::Int(batch)],
            )
            .await?;
        Ok(Pruned {
            events,
            actions,
            history,
        })
    }

    /// Retention: every finished event, action and completed instance's
    /// history older than `cutoff`, 500 at a time, yielding between batches.
    pub async fn prune_all_finished(&self, cutoff: DateTime<Utc>) -> Result<Pruned, StoreError> {
        const BATCH: i64 = 500;
        let mut total = Pruned::default();
        loop {
            let p = self.prune_finished(cutoff, BATCH).await?;
            total.events += p.events;
            total.actions += p.actions;
            total.history += p.history;
            if p.events == 0 && p.actions == 0 && p.history == 0 {
                return Ok(total);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Event ids received in `[since, until)`, oldest first, after the
    /// (received_at, id) key `after`: one page of an export.
    pub async fn event_ids_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let (after_t, after_id) = after.unwrap_or((i64::MIN, String::new()));
        let rows = sqlx::query(
            "SELECT received_at, id FROM events WHERE received_at >= $1 AND received_at < $2 \
             AND (received_at > $3 OR (received_at = $4 AND id > $5)) ORDER BY received_at, id LIMIT $6",
        )
        .bind(millis(since))
        .bind(millis(until))
        .bind(after_t)
        .bind(after_t)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        use sqlx::Row;
        rows.iter()
            .map(|r| Ok((r.try_get("received_at")?, r.try_get("id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
