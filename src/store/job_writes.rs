//! Jobs as the writer changes them, inside its transaction: the claim that
//! hands due jobs out under a lease, the fences that say whether a worker
//! still holds its job, and the outcomes (success, retry, parking). The
//! reads of jobs, and the types, are in `store::jobs`; the writer batches
//! these into its rounds (`store::writer`).

use sqlx::Row;

use super::jobs::{Fence, Job};
use super::writer::Bind;
use super::{Backend, StoreError};

// Claims and outcomes inside the writer's transaction, for each engine's
// own connection type `Conn` (see `for_each_engine` in store/mod.rs).
crate::store::for_each_engine! {
/// Mark up to `limit` due jobs running under a lease and return them.
pub(crate) async fn claim_in(
    conn: &mut Conn,
    backend: Backend,
    names: &mut crate::store::action_names::NameIds,
    now: i64,
    limit: i64,
    lease_ms: i64,
) -> Result<Vec<Job>, StoreError> {
    let rows = sqlx::query(backend.claim_sql())
        .bind(now + lease_ms)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    // The jobs' names, from the writer's memory of them (read again when a
    // number is new to it: another server's, or from before a restart).
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        ids.push(r.try_get::<i64, _>("name_id")?);
    }
    if ids.iter().any(|&id| names.names(id).is_none()) {
        action_names::read_names_in(conn, names).await?;
    }
    // A claim's jobs come mostly a few events at a time: each plan is
    // unpacked once.
    let mut plans = crate::store::packed::Plans::default();
    rows.iter()
        .zip(ids)
        .map(|(r, name_id)| -> Result<Job, StoreError> {
            let event_id: String = r.try_get("event_id")?;
            // A number action_names doesn't hold (a row removed by hand)
            // parks this job alone, like a damaged plan: failing the claim
            // would stop every job behind it.
            let (action_key, kind, payload, unreadable) = match names.names(name_id) {
                None => (
                    String::new(),
                    String::new(),
                    String::new(),
                    Some(format!("its names are combination {name_id}, which action_names doesn't hold")),
                ),
                Some(n) => {
                    let (payload, unreadable) =
                        match plans.stored(r.try_get("payload")?, &event_id, &n.action_key, r.try_get("plan")?) {
                            Ok(stored) => (
                                crate::store::action_payload::expand(stored, &n.action_key, &n.rule, &n.flow, n.entity()),
                                None,
                            ),
                            Err(e) => (String::new(), Some(e.to_string())),
                        };
                    (n.action_key.clone(), n.kind.clone(), payload, unreadable)
                }
            };
            Ok(Job {
                id: r.try_get("id")?,
                payload,
                unreadable,
                event_id,
                action_key,
                kind,
                contact: r.try_get("contact")?,
                attempts: r.try_get("attempts")?,
                claim: r.try_get("claims")?,
                created_at: r.try_get("created_at")?,
                ruleset_version: r.try_get("ruleset_version")?,
            })
        })
        .collect()
}

/// Rows per `IN (...)` list (well under SQLite's bound-parameter limit).
const IDS_PER_STATEMENT: usize = 500;

/// Mark running jobs succeeded, one statement per 500, each only while its
/// worker holds the claim named in its fence; drop the addition records of
/// those that prune (they will never run again). Returns how many were
/// marked: the caller checked the fences with [`holding_in`] and knows how
/// many to expect. (Asked to return the ids it marked, the statement sent
/// each back as a row of its own: through sqlx, a hop from its SQLite
/// thread apiece; a row read and copied out, even on the writer's own
/// thread today.)
pub(crate) async fn succeed_in(
    conn: &mut Conn,
    backend: Backend,
    fences: &[&Fence],
    now: i64,
) -> Result<u64, StoreError> {
    let mut marked = 0;
    for chunk in fences.chunks(IDS_PER_STATEMENT) {
        let sql = format!(
            "UPDATE actions SET status = 'succeeded', lease_until = NULL, last_error = NULL, updated_at = {} \
             WHERE status = 'running' AND (id, claims) IN (VALUES {})",
            // One placeholder style per statement: SQLite numbers `?` after `$1` wrongly.
            backend.in_list(1, 1),
            backend.values_list(chunk.len(), 2, 2)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for f in chunk {
            q = q.bind(f.job_id.as_str()).bind(f.claim);
        }
        marked += q.execute(&mut *conn).await?.rows_affected();
    }
    let prune: Vec<&str> = fences
        .iter()
        .filter(|f| f.prune_increments)
        .map(|f| f.job_id.as_str())
        .collect();
    for chunk in prune.chunks(IDS_PER_STATEMENT) {
        let sql = format!(
            "DELETE FROM applied_increments WHERE job_id IN ({})",
            backend.in_list(chunk.len(), 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(marked)
}

/// Which of `fences` their workers still hold, locking those rows until the
/// transaction ends (PostgreSQL; SQLite's one writer holds everything).
///
/// One statement for a whole round. A job whose side effect the store
/// writes (a local page, a workflow move, a fetched event's plan) is checked
/// here before the effect is written; checked one at a time, that was a
/// round trip to the database for every page and every move.
///
/// A fence is a job *and* its claim: two writes of one round may name the
/// same job, one from the worker that holds it now and one from a worker
/// whose lease ran out, and only the first is held.
pub(crate) async fn holding_in(
    conn: &mut Conn,
    backend: Backend,
    fences: &[&Fence],
) -> Result<std::collections::HashSet<(String, i64)>, StoreError> {
    let mut held = std::collections::HashSet::new();
    for chunk in fences.chunks(IDS_PER_STATEMENT) {
        // Nearly always every fence holds, and counted that is one row back
        // instead of one per job (each row read and copied out; a thread
        // hop apiece when this went through sqlx). Only when some don't are
        // they asked for by name.
        let distinct = Fence::distinct(chunk.iter().copied());
        let count = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM actions WHERE status = 'running' AND (id, claims) IN (VALUES {}){}) held",
            backend.values_list(distinct.len(), 2, 1),
            backend.lock_rows()
        );
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count));
        for f in &distinct {
            q = q.bind(f.job_id.as_str()).bind(f.claim);
        }
        if q.fetch_one(&mut *conn).await? == distinct.len() as i64 {
            held.extend(distinct.iter().map(|f| (f.job_id.clone(), f.claim)));
            continue;
        }
        let sql = format!(
            "SELECT id, claims FROM actions WHERE status = 'running' AND (id, claims) IN (VALUES {}){}",
            backend.values_list(chunk.len(), 2, 1),
            backend.lock_rows()
        );
        let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql));
        for f in chunk {
            q = q.bind(f.job_id.as_str()).bind(f.claim);
        }
        held.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(held)
}

/// Record a failure: retried at `retry_at` (ms), or parked (`dead`) when
/// `None`; `refund` gives back the attempt (a wait, not a failure). False
/// when the fence's worker no longer holds the job.
pub(crate) async fn fail_in(
    conn: &mut Conn,
    fence: &Fence,
    error: &str,
    retry_at: Option<i64>,
    refund: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let done = match retry_at {
        // A wait is no failure: the job is queued again, for later, with the reason.
        Some(t) if refund => sqlx::query("UPDATE actions SET status = 'queued', due_at = $1, lease_until = NULL, last_error = $2, updated_at = $3, attempts = attempts - 1 WHERE id = $4 AND status = 'running' AND claims = $5")
            .bind(t)
            .bind(error)
            .bind(now)
            .bind(fence.job_id.as_str())
            .bind(fence.claim),
        Some(t) => sqlx::query("UPDATE actions SET status = 'failed', due_at = $1, lease_until = NULL, last_error = $2, updated_at = $3 WHERE id = $4 AND status = 'running' AND claims = $5")
            .bind(t)
            .bind(error)
            .bind(now)
            .bind(fence.job_id.as_str())
            .bind(fence.claim),
        None => sqlx::query("UPDATE actions SET status = 'dead', lease_until = NULL, last_error = $1, updated_at = $2 WHERE id = $3 AND status = 'running' AND claims = $4")
            .bind(error)
            .bind(now)
            .bind(fence.job_id.as_str())
            .bind(fence.claim),
    }
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A rare write outside the hot path (an operator's retry, a poller's
/// cursor): one statement with its values, returning the rows it touched.
pub(crate) async fn execute_in(
    conn: &mut Conn,
    sql: &'static str,
    binds: &[Bind],
) -> Result<u64, StoreError> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = match b {
            Bind::Int(i) => q.bind(*i),
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::OptText(t) => q.bind(t.as_deref()),
        };
    }
    Ok(q.execute(&mut *conn).await?.rows_affected())
}
}
