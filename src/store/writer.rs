//! The single writer: every hot write (accepting events, claiming jobs,
//! recording their outcomes, moving workflow instances) goes through one task
//! that owns the write connection and commits what is queued together.
//!
//! SQLite takes one writer at a time, and through sqlx each statement is a
//! round trip to the connection's own thread. Written one by one, the
//! dispatcher's three or four small transactions per event took the write
//! connection away from intake. Here a *round* gathers whatever is queued
//! when the writer comes free and writes it in one transaction:
//! - webhooks first: intake has its own channel, read before the other one,
//!   so a busy dispatcher can delay an acknowledgement by one round at most;
//! - like with like: the round's events and their actions go in with
//!   multi-row statements, its successes with one `UPDATE … WHERE id IN`;
//! - nothing waits to fill a round: a lone write commits at once and a burst
//!   batches by itself.
//!
//! Every caller is answered only after the commit that holds its write. If a
//! round fails, it is rolled back and each write is tried again in its own
//! transaction, so one bad write never fails its neighbours.

use tokio::sync::{mpsc, oneshot};

use super::accept::{Accepted, NewEvent};
use super::action_names::NameIds;
use super::jobs::{Fence, Job};
use super::notion_local::{PageRequest, PageWrite};
use super::workflows::{Transition, TransitionRequest};
use super::{millis, sqlite_direct, Backend, StoreError};
use crate::engine::action::Crossing;

/// One write, as the writer's callers ask for it.
pub enum Write {
    /// Events, accepted together (one transaction, one answer each).
    Accept(Vec<NewEvent>),
    Claim {
        limit: i64,
        lease_ms: i64,
    },
    /// A job succeeded (only while its fence holds).
    Succeeded(Fence),
    /// A job failed: retried at `retry_at` (ms), or parked when `None`.
    Failed {
        fence: Fence,
        error: String,
        retry_at: Option<i64>,
        /// A wait, not a failure: the attempt is given back.
        refund: bool,
    },
    /// An event's plan, made once its fetch answered, with the fetch job's
    /// success (only while its fence holds).
    Fetched {
        fence: Fence,
        event_id: String,
        /// Boxed: an event is most of the size of any write.
        planned: Box<NewEvent>,
    },
    Transition(TransitionRequest),
    /// A page of the local Notion store.
    Page(PageRequest),
    /// Housekeeping: delete the contacts numbered in `(from, to]` that no
    /// action names any more (see store::housekeeping).
    PruneContacts {
        from: i64,
        to: i64,
    },
    /// A rare write: one statement (written for both engines) and its values.
    Execute {
        sql: &'static str,
        binds: Vec<Bind>,
    },
}

/// A value bound to a [`Write::Execute`] statement.
pub enum Bind {
    Int(i64),
    Text(String),
    /// Text or SQL NULL.
    OptText(Option<String>),
}

/// What a write returns.
pub enum Written {
    Accepted(Vec<Accepted>),
    Claimed(Vec<Job>),
    Done,
    /// A workflow move; `true` when the job's success was recorded with it.
    Transitioned(Transition, bool),
    /// A page write, the thresholds its additions crossed, and whether the
    /// job's success was recorded with it.
    Page(PageWrite, Vec<Crossing>, bool),
    /// Rows an [`Write::Execute`] touched.
    Rows(u64),
}

impl Written {
    /// The error for an answer that doesn't fit its write (a bug, never data).
    pub fn mismatch(&self) -> StoreError {
        let what = match self {
            Written::Accepted(_) => "accepted events",
            Written::Claimed(_) => "claimed jobs",
            Written::Done => "done",
            Written::Transitioned(..) => "a workflow move",
            Written::Page(..) => "a page",
            Written::Rows(_) => "a row count",
        };
        StoreError::Other(format!(
            "the store's writer answered with {what}, which doesn't fit the write"
        ))
    }
}

/// The write connection, in the engine's own driver.
#[derive(Clone)]
pub enum WritePool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

type Reply = oneshot::Sender<Result<Written, StoreError>>;

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    intake: mpsc::Sender<(Write, Reply)>,
    background: mpsc::Sender<(Write, Reply)>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Start the writer on `pool` (one connection); a round holds at most
    /// `max_batch` event writes and `max_batch` other writes. Returns once
    /// the writer holds its connection.
    pub async fn start(
        pool: WritePool,
        backend: Backend,
        max_batch: usize,
    ) -> Result<Writer, StoreError> {
        let (intake, intake_rx) = mpsc::channel::<(Write, Reply)>(max_batch * 4);
        let (background, background_rx) = mpsc::channel::<(Write, Reply)>(max_batch * 4);
        let queues = Queues {
            intake: intake_rx,
            background: background_rx,
            max_batch,
        };
        // SQLite: the WAL is copied back into the database file by a
        // connection of its own, so the writer's commits never do it. On
        // the caller's runtime: the writer's thread is busy in SQLite for
        // whole rounds, and the checkpoints keep their own time.
        if let WritePool::Sqlite(p) = &pool {
            let writer = intake.downgrade();
            tokio::spawn(super::checkpoints::run(
                (*p.connect_options()).clone(),
                move || writer.strong_count() > 0,
            ));
        }
        let (ready, opened) = oneshot::channel();
        let run = async move {
            match pool {
                WritePool::Sqlite(pool) => serve_sqlite(pool, backend, queues, ready).await,
                WritePool::Postgres(pool) => {
                    let _ = ready.send(Ok(()));
                    serve(&mut Db::Postgres(&pool), backend, queues).await
                }
            }
        };
        spawn_writer(run)?;
        let stopped = || StoreError::Other("the store writer stopped as it started".into());
        opened.await.map_err(|_| stopped())??;
        Ok(Writer { intake, background })
    }

    /// Whether the writer task is still taking writes.
    pub fn is_running(&self) -> bool {
        !self.intake.is_closed()
    }

    /// Queue a write; returns once it is committed.
    pub async fn submit(&self, write: Write) -> Result<Written, StoreError> {
        let (reply, answer) = oneshot::channel();
        let queue = match write {
            Write::Accept(_) => &self.intake,
            _ => &self.background,
        };
        let stopped = || StoreError::Other("the store writer has stopped".into());
        queue.send((write, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Run the writer's loop on a thread of its own, with a runtime of its own.
///
/// A round is a chain of statements, each a hop to the database driver and
/// back; on the server's shared runtime every hop back waited its turn
/// behind the requests and jobs being worked on, and under load a round
/// spent most of its time in that queue (the writer was busy 94% of the
/// time at 1,000 leads/s while the cores sat 27% idle). Here nothing else
/// runs, so each answer is taken up at once; on SQLite the thread calls the
/// database itself (store::sqlite_direct), so there are no hops at all.
fn spawn_writer(
    run: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StoreError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Other(format!("can't make the store writer's runtime ({e})")))?;
    std::thread::Builder::new()
        .name("hsflow-writer".into())
        .spawn(move || runtime.block_on(run))
        .map_err(|e| StoreError::Other(format!("can't start the store writer's thread ({e})")))?;
    Ok(())
}

/// The writer's two queues: webhooks, and everything else.
struct Queues {
    intake: mpsc::Receiver<(Write, Reply)>,
    background: mpsc::Receiver<(Write, Reply)>,
    max_batch: usize,
}

/// The connection a round is written on.
enum Db<'a> {
    Sqlite(&'a mut sqlite_direct::Conn),
    Postgres(&'a sqlx::PgPool),
}

/// Take sqlx's SQLite connection for the writer's thread (see
/// store::sqlite_direct), say whether that worked, and serve on it.
async fn serve_sqlite(
    pool: sqlx::SqlitePool,
    backend: Backend,
    queues: Queues,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let mut held = match pool.acquire().await {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    let mut locked = match held.lock_handle().await {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    // SAFETY: `locked` keeps sqlx's thread off the handle, and `held` keeps
    // it open, until after `conn` is dropped below.
    let mut conn = match unsafe { sqlite_direct::Conn::from_handle(locked.as_raw_handle()) } {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    serve(&mut Db::Sqlite(&mut conn), backend, queues).await;
    drop(conn);
    drop(locked);
    drop(held);
}

/// Write rounds until every handle to the writer is gone.
async fn serve(db: &mut Db<'_>, backend: Backend, mut queues: Queues) {
    let mut names = NameIds::default();
    let max_batch = queues.max_batch;
    loop {
        let first = tokio::select! {
            biased;
            Some(x) = queues.intake.recv() => x,
            Some(x) = queues.background.recv() => x,
            else => break,
        };
        let mut round = vec![first];
        while round.len() < max_batch {
            match queues.intake.try_recv() {
                Ok(x) => round.push(x),
                Err(_) => break,
            }
        }
        let cap = round.len() + max_batch;
        while round.len() < cap {
            match queues.background.try_recv() {
                Ok(x) => round.push(x),
                Err(_) => break,
            }
        }
        run_round(db, backend, &mut names, round).await;
    }
}

async fn run_round(
    db: &mut Db<'_>,
    backend: Backend,
    names: &mut NameIds,
    round: Vec<(Write, Reply)>,
) {
    let (writes, replies): (Vec<Write>, Vec<Reply>) = round.into_iter().unzip();
    let all: Vec<&Write> = writes.iter().collect();
    let started = std::time::Instant::now();
    let outcome = in_transaction(db, backend, names, &all).await;
    crate::server::metrics::record_store_round(writes.len(), started.elapsed(), outcome.is_ok());
    match outcome {
        Ok(results) => {
            for (reply, r) in replies.into_iter().zip(results) {
                let _ = reply.send(r);
            }
        }
        Err(e) if writes.len() == 1 => {
            for reply in replies {
                let _ = reply.send(Err(StoreError::Other(e.to_string())));
            }
        }
        // One bad write must not fail its neighbours: write them one by one.
        Err(e) => {
            tracing::warn!(
                "a round of {} writes failed ({e}); writing them one by one",
                writes.len()
            );
            for (w, reply) in writes.iter().zip(replies) {
                let one = match in_transaction(db, backend, names, &[w]).await {
                    Ok(mut r) => r.pop().unwrap_or_else(|| {
                        Err(StoreError::Other("the write answered nothing".into()))
                    }),
                    Err(e) => Err(e),
                };
                let _ = reply.send(one);
            }
        }
    }
}

/// Apply `writes` in one transaction; `names` learns the action names it
/// read for good only if that commits.
async fn in_transaction(
    db: &mut Db<'_>,
    backend: Backend,
    names: &mut NameIds,
    writes: &[&Write],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let outcome = match db {
        Db::Sqlite(conn) => {
            let outcome = async {
                conn.batch(backend.begin_write())?;
                let results = sqlite::apply(conn, backend, names, writes).await?;
                conn.batch("COMMIT")?;
                Ok(results)
            }
            .await;
            if outcome.is_err() {
                if let Err(e) = conn.rollback() {
                    tracing::error!("could not roll back the store writer's failed round: {e}");
                }
            }
            outcome
        }
        Db::Postgres(pool) => {
            async {
                let mut tx = pool.begin_with(backend.begin_write()).await?;
                let results = postgres::apply(&mut tx, backend, names, writes).await?;
                tx.commit().await?;
                Ok(results)
            }
            .await
        }
    };
    names.settle(outcome.is_ok());
    outcome
}

// A round's writes on one connection, like with like, for each engine's own
// connection type `Conn` (see `for_each_engine` in store/mod.rs).
crate::store::for_each_engine! {
/// Apply a round's writes; one answer per write, in the order given. An
/// error returned here rolls the round back; an answer that is an `Err` is
/// a write refused without touching the database (a page that must exist
/// and doesn't), which doesn't spoil its neighbours.
pub(crate) async fn apply(
    conn: &mut Conn,
    backend: Backend,
    names: &mut NameIds,
    writes: &[&Write],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let now = millis(chrono::Utc::now());
    let mut out: Vec<Option<Result<Written, StoreError>>> = writes.iter().map(|_| None).collect();

    // Events first: their actions may be claimed in this same round.
    let mut slots: Vec<(usize, usize)> = Vec::new();
    let mut events: Vec<&NewEvent> = Vec::new();
    for (i, w) in writes.iter().enumerate() {
        if let Write::Accept(batch) = w {
            slots.push((i, batch.len()));
            events.extend(batch.iter());
        }
    }
    if !events.is_empty() {
        let mut answers = accept::accept_in(conn, backend, names, &events).await?.into_iter();
        for (i, n) in slots {
            out[i] = Some(Ok(Written::Accepted(answers.by_ref().take(n).collect())));
        }
    }

    // A store-side effect of a job (a workflow move, a local page) commits
    // in this transaction together with the job's success: a crash can't
    // leave one without the other, so a re-run never repeats it. A worker
    // that no longer holds its job does nothing at all.
    // Every fence is checked here, once, at the round's start. Should a
    // write further on take a checked job back (an expired lease
    // recovered), its success can't be marked below, and that rolls the
    // round back to be written one write at a time, each checked alone.
    let fenced: Vec<&Fence> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Transition(t) => t.fence.as_ref(),
            Write::Page(p) => p.fence.as_ref(),
            Write::Fetched { fence, .. } | Write::Succeeded(fence) => Some(fence),
            _ => None,
        })
        .collect();
    let held = if fenced.is_empty() {
        std::collections::HashSet::new()
    } else {
        job_writes::holding_in(conn, backend, &fenced).await?
    };
    let lost = |f: &Fence| !held.contains(&(f.job_id.clone(), f.claim));
    let mut succeeded: Vec<(usize, &Fence)> = Vec::new();
    // Jobs whose store-side effect was written above under their (checked)
    // fence: their success goes into the round's one batched update.
    let mut with_effect: Vec<&Fence> = Vec::new();
    let mut pages: Vec<(usize, &PageRequest)> = Vec::new();
    let mut moves: Vec<(usize, &TransitionRequest)> = Vec::new();
    for (i, w) in writes.iter().enumerate() {
        let answer = match w {
            Write::Succeeded(fence) => {
                if lost(fence) {
                    Err(StoreError::LeaseLost(fence.job_id.clone()))
                } else {
                    succeeded.push((i, fence));
                    continue;
                }
            }
            Write::Failed {
                fence,
                error,
                retry_at,
                refund,
            } => {
                if job_writes::fail_in(conn, fence, error, *retry_at, *refund, now).await? {
                    Ok(Written::Done)
                } else {
                    Err(StoreError::LeaseLost(fence.job_id.clone()))
                }
            }
            Write::Transition(t) => match &t.fence {
                Some(f) if lost(f) => {
                    Err(StoreError::LeaseLost(f.job_id.clone()))
                }
                // Written together below.
                _ => {
                    moves.push((i, t));
                    continue;
                }
            },
            Write::Page(p) => match &p.fence {
                Some(f) if lost(f) => {
                    Err(StoreError::LeaseLost(f.job_id.clone()))
                }
                // Written together below.
                _ => {
                    pages.push((i, p));
                    continue;
                }
            },
            Write::Fetched {
                fence,
                event_id,
                planned,
            } => {
                if lost(fence) {
                    Err(StoreError::LeaseLost(fence.job_id.clone()))
                } else {
                    match accept::plan_in(conn, backend, names, event_id, planned).await {
                        Ok(a) => {
                            with_effect.push(fence);
                            Ok(Written::Accepted(vec![a]))
                        }
                        // Nothing was written: the event is gone.
                        Err(StoreError::NotFound(why)) => Err(StoreError::NotFound(why)),
                        Err(e) => return Err(e),
                    }
                }
            }
            Write::Execute { sql, binds } => {
                Ok(Written::Rows(job_writes::execute_in(conn, sql, binds).await?))
            }
            Write::PruneContacts { from, to } => Ok(Written::Rows(
                housekeeping::prune_contacts_in(conn, backend, *from, *to).await?,
            )),
            Write::Accept(_) | Write::Claim { .. } => continue,
        };
        out[i] = Some(answer);
    }
    if !moves.is_empty() {
        let requests: Vec<&TransitionRequest> = moves.iter().map(|(_, t)| *t).collect();
        let moved = workflows::transitions_in(conn, backend, &requests, now).await?;
        for ((i, t), m) in moves.into_iter().zip(moved) {
            if let Some(f) = &t.fence {
                with_effect.push(f);
            }
            out[i] = Some(Ok(Written::Transitioned(m, t.fence.is_some())));
        }
    }
    if !pages.is_empty() {
        let requests: Vec<&PageRequest> = pages.iter().map(|(_, p)| *p).collect();
        let written = notion_local::pages_in(conn, backend, &requests, now).await?;
        for ((i, p), answer) in pages.into_iter().zip(written) {
            out[i] = Some(answer.map(|(w, crossings)| {
                // Crossings are raised as events after this commit and
                // before the job counts as done (the dispatcher records
                // that); the page's record of its additions makes a re-run
                // find the write done and raise the same events.
                let done = match &p.fence {
                    Some(f) if crossings.is_empty() => {
                        with_effect.push(f);
                        true
                    }
                    _ => false,
                };
                Written::Page(w, crossings, done)
            }));
        }
    }
    // Every job to mark held its claim at the round's start, so each is
    // marked; if one weren't (a write of this round took it back), an
    // effect must not stand without its success: the round is rolled back
    // and its writes tried one by one, each checked alone.
    let fences = Fence::distinct(succeeded.iter().map(|(_, f)| *f).chain(with_effect.iter().copied()));
    let marked = job_writes::succeed_in(conn, backend, &fences, now).await?;
    if marked != fences.len() as u64 {
        return Err(StoreError::Other(format!(
            "{} of the round's {} successes could be recorded though their claims held at its start",
            marked,
            fences.len()
        )));
    }
    for (i, _) in succeeded {
        out[i] = Some(Ok(Written::Done));
    }

    // Claims last, so they see this round's new events and freed jobs.
    for (i, w) in writes.iter().enumerate() {
        if let Write::Claim { limit, lease_ms } = w {
            out[i] = Some(Ok(Written::Claimed(
                job_writes::claim_in(conn, backend, names, now, *limit, *lease_ms).await?,
            )));
        }
    }
    out.into_iter()
        .map(|w| w.ok_or_else(|| StoreError::Other("a write was not applied".into())))
        .collect()
}
}
