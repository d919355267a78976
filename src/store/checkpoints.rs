//! Copying SQLite's WAL back into the database file, beside the writer.
//!
//! In WAL mode every commit appends the pages it changed to the WAL, and a
//! checkpoint copies them back into the database file (and syncs it). In a
//! commit, as SQLite does by default every 1,000 pages, that was about 5% of
//! all the machine's samples at 1,000 leads/s (fsync included), all of it on
//! the writer's path; here, on a connection of its own (PASSIVE: it never
//! waits for the writer or a reader), a round took 1.75-1.90 ms instead of
//! 2.37-2.45.
//!
//! A WAL only starts over when a commit finds all of it copied, which never
//! happens while the writer keeps appending, so the writer still checkpoints
//! itself once the WAL passes 16 MB (see `Store::open`). That checkpoint
//! copies what the side checkpoints have not yet, and the webhooks waiting
//! for the writer meanwhile were most of the tail: at a steady 1,000
//! shipped-pack leads/s the WAL grows by about 50 MB/s, so a checkpoint
//! every 250 ms left up to 13 MB for the writer to copy, and the webhooks'
//! p99 was 16-18 ms (intake alone) and 21 ms (with the dispatcher busy). A
//! checkpoint every 25 ms while the WAL grows leaves little: p99 7.4-7.8 and
//! 10.4-11.1 ms, with intake's and the dispatcher's rates unchanged
//! (`cargo bench --bench shipped`). An idle WAL is looked at four times a
//! second, which costs next to nothing.
//!
//! At a graceful stop the WAL could still hold the last writes (20-28 MB in
//! the shipped bench, stopped with its dispatcher busy): nothing was lost
//! (SQLite applies them at the next start), but `hsflow.db` alone was not
//! whole, and a copy of it taken after the stop missed them.
//! [`Store::checkpoint_at_stop`] copies them in and empties the WAL.

use std::time::Duration;

use super::Store;

/// How soon the next checkpoint runs while the WAL grows.
const BUSY: Duration = Duration::from_millis(25);

/// How soon the next checkpoint runs when the last found nothing new.
const IDLE: Duration = Duration::from_millis(250);

/// Checkpoint the database of `options` for as long as `writing()` says
/// the store's writer takes writes (it runs on the server's runtime, not
/// the writer's thread, which is busy in SQLite for whole rounds).
pub(super) async fn run(
    options: sqlx::sqlite::SqliteConnectOptions,
    writing: impl Fn() -> bool + Send + 'static,
) {
    use sqlx::ConnectOptions as _;
    let mut conn = match options.connect().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(
                "can't open the checkpoint connection ({e}); the WAL file will grow until restart"
            );
            return;
        }
    };
    // The WAL's length in frames at the last checkpoint: when it has not
    // changed, nothing was written since.
    let mut last_frames = -1;
    while writing() {
        // (busy, frames in the WAL, frames copied into the database)
        let wait = match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut conn)
            .await
        {
            Ok((_, frames, _)) if frames != last_frames => {
                last_frames = frames;
                BUSY
            }
            Ok(_) => IDLE,
            Err(e) => {
                tracing::warn!("a checkpoint of the store failed: {e}");
                IDLE
            }
        };
        tokio::time::sleep(wait).await;
    }
}

impl Store {
    /// The last step of a graceful stop (SQLite; nothing on PostgreSQL):
    /// copy what the WAL still holds into the database file and empty the
    /// WAL, so `hsflow.db` alone holds everything. It waits (up to the busy
    /// timeout, 10 s) for a write still in flight; if it can't finish, the
    /// WAL keeps the rest, which the next start applies, and the log says so.
    pub async fn checkpoint_at_stop(&self) {
        use sqlx::{ConnectOptions as _, Connection as _};
        let Some(options) = &self.sqlite else {
            return;
        };
        let done = async {
            let mut conn = options.connect().await?;
            let row = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&mut conn)
                .await?;
            conn.close().await?;
            Ok::<_, sqlx::Error>(row)
        };
        match done.await {
            Ok((0, _, _)) => tracing::debug!("the database file holds every write"),
            Ok((_, frames, copied)) => tracing::warn!(
                "at the stop, {} of the WAL's {frames} pages could not be copied into the database file (a write held it); the next start applies them",
                frames - copied
            ),
            Err(e) => tracing::warn!(
                "the checkpoint at the stop failed ({e}); the WAL keeps the last writes and the next start applies them"
            ),
        }
    }
}
