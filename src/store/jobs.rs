//! Actions as jobs: what a job is, and the reads and operator's writes of
//! them (listing, retrying, parking, running now). The writer's own claims
//! and outcomes are in `store::job_writes`.
//!
//! The claim is one statement that marks a batch of due rows `running` with a
//! lease and returns them; a worker that dies leaves its lease to expire and
//! the job is retried. Nothing ever loads the whole queue: a backlog of a
//! million delayed jobs stays on disk, indexed by (status, due_at).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::writer::{Bind, Write, Written};
use super::{from_millis, millis, Backend, Store, StoreError};

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub event_id: String,
    pub action_key: String,
    pub kind: String,
    pub contact: Option<String>,
    /// The planned action as JSON, rendered when its event was accepted.
    pub payload: String,
    /// Attempts including this one.
    pub attempts: i64,
    /// Which claim of the job this is (see [`Fence`]).
    pub claim: i64,
    /// When the action was planned (ms), for its retry deadline.
    pub created_at: i64,
    /// The rule-set version that planned it (what renders an email's bodies).
    pub ruleset_version: String,
    /// Why its payload can't be read (its event's stored plan is damaged):
    /// the job is parked with this reason instead of run, and the rest of
    /// its claim runs.
    pub unreadable: Option<String>,
}

/// The proof that a worker still holds a job: its id and the number of the
/// claim that handed it out. Every claim of a job counts one up, so a worker
/// whose lease ran out (and whose job another worker then claimed) holds an
/// old number, and the store refuses its outcome and its side effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub job_id: String,
    pub claim: i64,
    /// The job's exactly-once record of number additions is dropped with its
    /// success (only Notion actions keep one).
    pub prune_increments: bool,
}

impl Fence {
    /// `fences` with each (job, claim) once, in the order given.
    pub(crate) fn distinct<'a>(fences: impl IntoIterator<Item = &'a Fence>) -> Vec<&'a Fence> {
        let mut out: Vec<&Fence> = Vec::new();
        for f in fences {
            if !out
                .iter()
                .any(|g| g.job_id == f.job_id && g.claim == f.claim)
            {
                out.push(f);
            }
        }
        out
    }
}

impl Job {
    pub fn fence(&self) -> Fence {
        Fence {
            job_id: self.id.clone(),
            claim: self.claim,
            prune_increments: self.kind == "notion",
        }
    }
}

/// One action as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRow {
    pub id: String,
    pub event_id: String,
    pub action: String,
    pub rule: String,
    pub flow: String,
    pub entity: Option<String>,
    pub kind: String,
    pub contact: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub due_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub ruleset_version: String,
    /// What the planner said about it (why a send window held it); filled
    /// in an event's own list of actions only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What happened to an email after it was sent (opened, clicked,
    /// unsubscribed...), oldest first; in an event's own list only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_activity: Vec<super::email::Activity>,
}

const ROW_COLUMNS: &str = concat!(
    "id, event_id, action_key, rule, flow, entity, kind, contact, status, attempts, due_at, last_error, ",
    super::action_version::action_version!("actions_named")
);

fn action_row(r: &AnyRow) -> Result<ActionRow, sqlx::Error> {
    Ok(ActionRow {
        id: r.try_get("id")?,
        event_id: r.try_get("event_id")?,
        action: r.try_get("action_key")?,
        rule: r.try_get("rule")?,
        flow: r.try_get("flow")?,
        entity: r.try_get("entity")?,
        kind: r.try_get("kind")?,
        contact: r.try_get("contact")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        due_at: from_millis(r.try_get("due_at")?),
        last_error: r.try_get("last_error")?,
        ruleset_version: r.try_get("ruleset_version")?,
        notes: Vec::new(),
        email_activity: Vec::new(),
    })
}

/// Another action of the same event, as a waiting job sees it.
#[derive(Debug, Clone)]
pub struct Sibling {
    pub action_key: String,
    pub status: String,
    pub due_at: DateTime<Utc>,
    /// When its state last changed (for a success: when it succeeded).
    pub updated_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// The planned action as JSON.
    pub payload: String,
}

impl Store {
    /// Claim up to `limit` due jobs for `lease_ms` (through the writer).
    pub async fn claim(&self, limit: i64, lease_ms: i64) -> Result<Vec<Job>, StoreError> {
        match self.writer.submit(Write::Claim { limit, lease_ms }).await? {
            Written::Claimed(jobs) => Ok(jobs),
            other => Err(other.mismatch()),
        }
    }

    /// Record that `job` succeeded. Refused with [`StoreError::LeaseLost`]
    /// when the job is no longer this worker's.
    pub async fn succeed(&self, job: &Job) -> Result<(), StoreError> {
        self.writer
            .submit(Write::Succeeded(job.fence()))
            .await
            .map(|_| ())
    }

    /// Record a failure: retried at `retry_at`, or parked (`dead`) when
    /// `None`. Refused like [`Store::succeed`] when the lease was lost.
    pub async fn fail(
        &self,
        job: &Job,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(Write::Failed {
                fence: job.fence(),
                error: error.to_string(),
                retry_at: retry_at.map(millis),
                refund: false,
            })
            .await
            .map(|_| ())
    }

    /// The job waits for another action of its event (see sinks/links.rs):
    /// tried again at `at`, and the wait doesn't use up an attempt.
    pub async fn wait(&self, job: &Job, why: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.writer
            .submit(Write::Failed {
                fence: job.fence(),
                error: why.to_string(),
                retry_at: Some(millis(at)),
                refund: true,
            })
            .await
            .map(|_| ())
    }

    /// Jobs whose worker vanished (a crash mid-run) go back to the queue.
    pub async fn recover_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let now = millis(now);
        self.execute(
            "UPDATE actions SET status = 'failed', lease_until = NULL, last_error = 'interrupted while running (hsflow stopped); retried', updated_at = $1 WHERE status = 'running' AND lease_until < $2",
            vec![Bind::Int(now), Bind::Int(now)],
        )
        .await
    }

    /// Put one dead, failed or cancelled action back in the queue, due now. Only that action runs again.
    pub async fn retry(&self, id: &str) -> Result<bool, StoreError> {
        let now = millis(Utc::now());
        Ok(self.execute(
            "UPDATE actions SET status = 'queued', due_at = $1, attempts = 0, updated_at = $2 WHERE id = $3 AND status IN ('dead', 'failed', 'cancelled')",
            vec![Bind::Int(now), Bind::Int(now), Bind::Text(id.to_string())],
        )
        .await?
            == 1)
    }

    /// Run one waiting action now instead of at its time. Only that action
    /// moves. A person asked for it, so it no longer keeps its send window
    /// (else an email held for business hours would go straight back to
    /// waiting while the page said it runs now).
    pub async fn run_now(&self, id: &str) -> Result<bool, StoreError> {
        let now = millis(Utc::now());
        // An action whose payload is in its event's plan (store::packed)
        // gets a payload of its own: its planned one without the window.
        // One whose row holds its payload has the window taken out of it.
        let own = match self.planned_payload(id).await? {
            Some(stored) => {
                let mut p: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&stored).map_err(|e| {
                        StoreError::Corrupt(format!("the payload of action {id} is not JSON: {e}"))
                    })?;
                p.remove("window");
                serde_json::Value::Object(p).to_string()
            }
            None => String::new(),
        };
        let sql = match self.backend {
            Backend::Sqlite => "UPDATE actions SET due_at = $1, updated_at = $2, payload = CASE WHEN payload = '' THEN $3 ELSE json_remove(payload, '$.window') END WHERE id = $4 AND status = 'queued'",
            Backend::Postgres => "UPDATE actions SET due_at = $1, updated_at = $2, payload = CASE WHEN payload = '' THEN $3 ELSE (payload::jsonb - 'window')::text END WHERE id = $4 AND status = 'queued'",
        };
        Ok(self
            .execute(
                sql,
                vec![
                    Bind::Int(now),
                    Bind::Int(now),
                    Bind::Text(own),
                    Bind::Text(id.to_string()),
                ],
            )
            .await?
            == 1)
    }

    /// The stored payload of action `id` when it is kept in its event's
    /// plan (None when its row holds its own, or there is no such action).
    async fn planned_payload(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT event_id, action_key, ",
            super::packed::action_plan!("actions_named"),
            " FROM actions_named WHERE id = $1 AND payload = ''"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let (event_id, key): (String, String) = (r.try_get("event_id")?, r.try_get("action_key")?);
        super::packed::Plans::default()
            .stored(String::new(), &event_id, &key, r.try_get("plan")?)
            .map(Some)
    }

    /// Retry every dead action; returns how many.
    pub async fn retry_dead(&self) -> Result<u64, StoreError> {
        let now = millis(Utc::now());
        self.execute(
            "UPDATE actions SET status = 'queued', due_at = $1, attempts = 0, updated_at = $2 WHERE status = 'dead'",
            vec![Bind::Int(now), Bind::Int(now)],
        )
        .await
    }

    /// Cancel one pending action.
    pub async fn cancel(&self, id: &str) -> Result<bool, StoreError> {
        self.cancel_because(id, "cancelled by an operator").await
    }

    /// Actions filtered by status, kind and contact (any may be None), newest first.
    pub async fn list_actions(
        &self,
        status: Option<&str>,
        kind: Option<&str>,
        contact: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ActionRow>, StoreError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM actions_named WHERE ($1 IS NULL OR status = $2) AND ($3 IS NULL OR kind = $4) AND ($5 IS NULL OR contact_id = (SELECT contact_id FROM contacts WHERE contact = $6)) ORDER BY due_at DESC LIMIT $7"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(status)
            .bind(status)
            .bind(kind)
            .bind(kind)
            .bind(contact)
            .bind(contact)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(action_row)
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }

    pub async fn actions_of_event(&self, event_id: &str) -> Result<Vec<ActionRow>, StoreError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS}, payload, {} FROM actions_named WHERE {} ORDER BY due_at, action_key",
            super::packed::action_plan!("actions_named"),
            super::action_event::of_event!("actions_named", "$1")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(event_id)
            .fetch_all(&self.pool)
            .await?;
        let mut activity = self.email_activity_of_event(event_id).await?;
        let mut plans = super::packed::Plans::default();
        rows.iter()
            .map(|r| -> Result<ActionRow, StoreError> {
                let mut row = action_row(r)?;
                row.email_activity = activity.remove(&row.id).unwrap_or_default();
                // A damaged plan costs the notes (said in the log), not the list.
                let payload = super::action_payload::shown(r, &mut plans);
                row.notes = serde_json::from_value(payload["notes"].clone()).unwrap_or_default();
                Ok(row)
            })
            .collect()
    }
}
