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

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::accept::{accept_in, Accepted, NewEvent};
use super::jobs::{claim_in, fail_in, succeed_in, Job};
use super::workflows::{transition_in, Transition, TransitionRequest};
use super::{millis, Backend, StoreError};

/// One write, as the writer's callers ask for it.
pub enum Write {
    Accept(NewEvent),
    Claim {
        limit: i64,
        lease_ms: i64,
    },
    /// A job succeeded; `prune_increments` drops its exactly-once record of
    /// number additions (a succeeded job never runs again).
    Succeeded {
        id: String,
        prune_increments: bool,
    },
    /// A job failed: retried at `retry_at` (ms), or parked when `None`.
    Failed {
        id: String,
        error: String,
        retry_at: Option<i64>,
    },
    Transition(TransitionRequest),
}

/// What a write returns.
pub enum Written {
    Accepted(Accepted),
    Claimed(Vec<Job>),
    Done,
    Transitioned(Transition),
}

type Reply = oneshot::Sender<Result<Written, String>>;

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
    /// `max_batch` events and `max_batch` other writes.
    pub fn start(pool: AnyPool, backend: Backend, max_batch: usize) -> Writer {
        let (intake, mut intake_rx) = mpsc::channel::<(Write, Reply)>(max_batch * 4);
        let (background, mut background_rx) = mpsc::channel::<(Write, Reply)>(max_batch * 4);
        tokio::spawn(async move {
            loop {
                let first = tokio::select! {
                    biased;
                    Some(x) = intake_rx.recv() => x,
                    Some(x) = background_rx.recv() => x,
                    else => break,
                };
                let mut round = vec![first];
                while round.len() < max_batch {
                    match intake_rx.try_recv() {
                        Ok(x) => round.push(x),
                        Err(_) => break,
                    }
                }
                let cap = round.len() + max_batch;
                while round.len() < cap {
                    match background_rx.try_recv() {
                        Ok(x) => round.push(x),
                        Err(_) => break,
                    }
                }
                run_round(&pool, backend, round).await;
            }
        });
        Writer { intake, background }
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
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(StoreError::Other)
    }
}

async fn run_round(pool: &AnyPool, backend: Backend, round: Vec<(Write, Reply)>) {
    let (writes, replies): (Vec<Write>, Vec<Reply>) = round.into_iter().unzip();
    let all: Vec<&Write> = writes.iter().collect();
    match in_transaction(pool, backend, &all).await {
        Ok(results) => {
            for (reply, r) in replies.into_iter().zip(results) {
                let _ = reply.send(Ok(r));
            }
        }
        Err(e) if writes.len() == 1 => {
            for reply in replies {
                let _ = reply.send(Err(e.to_string()));
            }
        }
        // One bad write must not fail its neighbours: write them one by one.
        Err(e) => {
            tracing::warn!(
                "a round of {} writes failed ({e}); writing them one by one",
                writes.len()
            );
            for (w, reply) in writes.iter().zip(replies) {
                let one = in_transaction(pool, backend, &[w]).await.and_then(|mut r| {
                    r.pop()
                        .ok_or_else(|| StoreError::Other("the write answered nothing".into()))
                });
                let _ = reply.send(one.map_err(|e| e.to_string()));
            }
        }
    }
}

async fn in_transaction(
    pool: &AnyPool,
    backend: Backend,
    writes: &[&Write],
) -> Result<Vec<Written>, StoreError> {
    let mut tx = pool.begin_with(backend.begin_write()).await?;
    let results = apply(&mut tx, backend, writes).await?;
    tx.commit().await?;
    Ok(results)
}

/// Apply a round's writes on one connection, like with like; one answer per
/// write, in the order given.
async fn apply(
    conn: &mut AnyConnection,
    backend: Backend,
    writes: &[&Write],
) -> Result<Vec<Written>, StoreError> {
    let now = millis(chrono::Utc::now());
    let mut out: Vec<Option<Written>> = writes.iter().map(|_| None).collect();

    // Events first: their actions may be claimed in this same round.
    let (slots, events): (Vec<usize>, Vec<&NewEvent>) = writes
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Write::Accept(e) => Some((i, e)),
            _ => None,
        })
        .unzip();
    if !events.is_empty() {
        for (i, a) in slots.into_iter().zip(accept_in(conn, backend, &events).await?) {
            out[i] = Some(Written::Accepted(a));
        }
    }

    let mut succeeded = Vec::new();
    let mut prune = Vec::new();
    for (i, w) in writes.iter().enumerate() {
        match w {
            Write::Succeeded {
                id,
                prune_increments,
            } => {
                succeeded.push(id.as_str());
                if *prune_increments {
                    prune.push(id.as_str());
                }
                out[i] = Some(Written::Done);
            }
            Write::Failed {
                id,
                error,
                retry_at,
            } => {
                fail_in(conn, id, error, *retry_at, now).await?;
                out[i] = Some(Written::Done);
            }
            Write::Transition(t) => {
                out[i] = Some(Written::Transitioned(transition_in(conn, backend, t, now).await?));
            }
            Write::Accept(_) | Write::Claim { .. } => {}
        }
    }
    succeed_in(conn, backend, &succeeded, &prune, now).await?;

    // Claims last, so they see this round's new events and freed jobs.
    for (i, w) in writes.iter().enumerate() {
        if let Write::Claim { limit, lease_ms } = w {
            out[i] = Some(Written::Claimed(
                claim_in(conn, backend, now, *limit, *lease_ms).await?,
            ));
        }
    }
    out.into_iter()
        .map(|w| w.ok_or_else(|| StoreError::Other("a write was not applied".into())))
        .collect()
}
