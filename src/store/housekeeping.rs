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
//!
//! An action names its contact by number (`contacts`, schema version 13),
//! so when retention has deleted the last action of a contact, the address
//! is deleted too: it is personal data, kept for nothing. A writer adding
//! an action must never be handed a number that is being deleted, so on
//! PostgreSQL, where other servers write at the same moment, the deletion
//! first locks `contacts` against writers (SHARE ROW EXCLUSIVE): it waits
//! for every transaction that has written to `contacts` (every round that
//! adds actions does, with its `INSERT … ON CONFLICT DO NOTHING`, even when
//! nothing is new) and holds new ones back until its own round commits, so
//! the actions it checks for are all committed. SQLite's one writer does
//! the same by itself. Should that lock close a cycle of waits with another
//! server's round (both writing one idempotency key at that moment),
//! PostgreSQL breaks it within a second by failing one round, which the
//! writer then retries one write at a time.

use chrono::{DateTime, Utc};

use super::writer::Bind;
use super::{millis, Backend, Store, StoreError};

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
    /// Contacts no action names any more.
    pub contacts: u64,
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
                concat!(
                    "DELETE FROM actions WHERE status NOT IN ('queued', 'failed', 'running') AND id IN \
                     (SELECT a.id FROM (SELECT e.id FROM events e WHERE e.received_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM actions p WHERE ",
                    super::action_event::of_event!("p", "e.id"),
                    // `|| ''`: else SQLite reads every pending action (through
                    // actions_due) for each event, rather than the event's own.
                    // `LIMIT 1 OFFSET 0` keeps PostgreSQL from turning the test
                    // into a join with every pending action: it can't tell how
                    // few ids the range holds, so it looks up each event's.
                    " AND p.status || '' IN ('queued', 'failed', 'running') LIMIT 1 OFFSET 0) LIMIT $2) f JOIN actions a ON ",
                    super::action_event::of_event!("a", "f.id"),
                    ")"
                ),
                vec![Bind::Int(before), Bind::Int(batch)],
            )
            .await?;
        let events = self
            .execute(
                concat!(
                    "DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.received_at < $1 \
                     AND NOT EXISTS (SELECT 1 FROM actions a WHERE ",
                    super::action_event::of_event!("a", "e.id"),
                    " LIMIT 1 OFFSET 0) LIMIT $2)"
                ),
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
            contacts: 0,
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
                if total.actions > 0 {
                    total.contacts = self.prune_unnamed_contacts().await?;
                }
                return Ok(total);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Delete every contact no action names any more, a range of numbers
    /// at a time: each step looks at most [`CONTACTS_PER_STEP`] contacts
    /// (a few milliseconds of the writer's time), however many there are.
    pub async fn prune_unnamed_contacts(&self) -> Result<u64, StoreError> {
        use sqlx::Row;
        let last: Option<i64> = sqlx::query("SELECT MAX(contact_id) AS last FROM contacts")
            .fetch_one(&self.pool)
            .await?
            .try_get("last")?;
        let mut deleted = 0;
        let mut from = 0;
        while from < last.unwrap_or(0) {
            let to = from.saturating_add(CONTACTS_PER_STEP);
            match self
                .writer
                .submit(super::writer::Write::PruneContacts { from, to })
                .await?
            {
                super::writer::Written::Rows(n) => deleted += n,
                other => return Err(other.mismatch()),
            }
            from = to;
            tokio::task::yield_now().await;
        }
        Ok(deleted)
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

/// How many contact numbers one step of [`Store::prune_unnamed_contacts`]
/// looks at.
const CONTACTS_PER_STEP: i64 = 2000;

crate::store::for_each_engine! {
/// Delete the contacts numbered in `(from, to]` that no action names, in
/// the writer's round (see the module comment for the lock).
pub(crate) async fn prune_contacts_in(
    conn: &mut Conn,
    backend: Backend,
    from: i64,
    to: i64,
) -> Result<u64, StoreError> {
    if backend == Backend::Postgres {
        sqlx::query("LOCK TABLE contacts IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *conn)
            .await?;
    }
    Ok(sqlx::query(
        "DELETE FROM contacts WHERE contact_id > $1 AND contact_id <= $2 \
         AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.contact_id = contacts.contact_id)",
    )
    .bind(from)
    .bind(to)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
}
