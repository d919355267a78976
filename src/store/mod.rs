//! The durable store: events, actions as jobs, workflow instances, the local
//! Notion pages, idempotency keys.
//!
//! An accepted webhook is written here (event, planned actions, idempotency
//! key, cancellations: one transaction) before it is acknowledged; delayed
//! actions live here until due, so they survive restarts. SQLite in WAL mode
//! is the embedded default; PostgreSQL is the engine for several servers
//! sharing one database. Both run the same SQL (placeholders `$1, $2`, times
//! as integer milliseconds, JSON as text): most reads through sqlx's `Any`
//! driver, the few a running job makes on each engine's own driver
//! ([`reads`]), writes through [`writer`] on each engine's own. What differs
//! between the engines (how a write transaction begins, how a claim skips
//! rows another server holds, the column types of the schema) lives in
//! [`dialect`] and [`schema`].

/// Compile the items given once for each database engine, in modules
/// `sqlite` and `postgres`, with `Conn` the engine's own connection type.
///
/// The writer's statements are the same text on both engines, but going
/// through sqlx's runtime-generic `Any` driver copies every bound value and
/// every returned row twice more, which cost a quarter of intake throughput.
/// So the write path is compiled for each engine's native connection, from
/// one source. Inside, the sibling modules of the same engine are in scope
/// by their plain names (`accept`, `job_writes`, `workflows`, `notion_local`), and
/// the enclosing file's items through `super::*`.
macro_rules! for_each_engine {
    ($($item:item)*) => {
        pub(crate) mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::store::{
                accept::sqlite as accept, action_names::sqlite as action_names,
                contacts::sqlite as contacts, housekeeping::sqlite as housekeeping, job_writes::sqlite as job_writes,
                notion_local::sqlite as notion_local, workflows::sqlite as workflows,
            };
            // On SQLite the writer calls the database on its own thread,
            // through a module with the part of sqlx's API this code uses.
            #[allow(unused_imports)]
            use crate::store::sqlite_direct as sqlx;
            pub(crate) type Conn = crate::store::sqlite_direct::Conn;
            $($item)*
        }
        pub(crate) mod postgres {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::store::{
                accept::postgres as accept, action_names::postgres as action_names,
                contacts::postgres as contacts, housekeeping::postgres as housekeeping,
                job_writes::postgres as job_writes, notion_local::postgres as notion_local,
                workflows::postgres as workflows,
            };
            pub(crate) type Conn = sqlx::PgConnection;
            $($item)*
        }
    };
}
pub(crate) use for_each_engine;

pub mod accept;
pub mod action_event;
pub mod action_names;
pub mod action_payload;
pub mod action_version;
pub mod audit;
pub mod browse;
mod checkpoints;
pub mod contacts;
pub mod cursors;
pub mod dialect;
pub mod email;
pub mod event_pack;
pub mod events;
pub mod events_list;
pub mod housekeeping;
pub mod ids;
pub mod job_writes;
pub mod jobs;
pub mod new_event;
pub mod notion_local;
pub mod packed;
mod reads;
pub mod replay;
pub mod schema;
pub(crate) mod sqlite_direct;
pub mod stats;
pub mod versions;
pub mod workflows;

#[cfg(test)]
mod round_tests;
pub mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, Connection, Executor, Row};

pub use dialect::Backend;

/// How hard SQLite works to keep a commit across a power cut.
///
/// `Normal` (the default): in WAL mode a commit survives a crash of hsflow
/// (kill -9) but the last transactions may be lost if the *machine* loses
/// power before the WAL is synced. `Full`: every commit is synced to disk
/// before it is acknowledged; nothing acknowledged is lost even on power loss,
/// at the cost of one fsync per commit. (PostgreSQL keeps its own setting,
/// `synchronous_commit`, which is on unless the server says otherwise.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Normal,
    Full,
}

impl FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Ok(Durability::Normal),
            "full" => Ok(Durability::Full),
            other => Err(format!("`{other}` is not a durability: use normal or full")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database failed: {0}")]
    Db(#[from] sqlx::Error),
    /// The writer's own SQLite connection (store::sqlite_direct).
    #[error("the database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("{0}")]
    NotFound(String),
    /// The job's lease ran out and it was claimed again: this worker's
    /// outcome and side effects are refused (the new claim's stand).
    #[error("job {0} is no longer this worker's: its lease ran out and it was claimed again")]
    LeaseLost(String),
    #[error("{0}")]
    Other(String),
}

/// A handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads, through sqlx's `Any` driver: one code path for both engines.
    pub pool: AnyPool,
    /// Every write, committed in rounds by one task on one connection of the
    /// engine's own driver. SQLite takes one writer at a time; a second
    /// writing connection would wait in SQLite's busy handler, which sleeps
    /// in growing steps (up to 100 ms). On PostgreSQL the one connection
    /// keeps each server's rounds in order; several servers write side by side.
    writer: writer::Writer,
    /// The reads a running job makes, on the engine's own driver (store::reads).
    reads: reads::Reads,
    backend: Backend,
    /// SQLite: how to open the database file, for the checkpoint at a
    /// graceful stop (store::checkpoints).
    sqlite: Option<SqliteConnectOptions>,
}

/// Events per round of the writer (and as many other writes).
const ROUND: usize = 256;

/// `sqlite:///abs/path?mode=rwc` (create if missing), with every byte of
/// the path that a URL can't hold as is percent-encoded (sqlx decodes it).
fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    url
}

/// Milliseconds since the epoch: how the store keeps time.
pub fn millis(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Store {
    /// Open (creating if needed) `data_dir/hsflow.db` and bring its schema up to date.
    pub async fn open(data_dir: &Path, durability: Durability) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Corrupt(format!("can't create {}: {e}", data_dir.display()))
        })?;
        sqlx::any::install_default_drivers();
        let dir = std::fs::canonicalize(data_dir)
            .map_err(|e| StoreError::Corrupt(format!("can't find {}: {e}", data_dir.display())))?;
        let file = dir.join("hsflow.db");
        let options = AnyConnectOptions::from_str(&sqlite_url(&file))?;
        let synchronous = match durability {
            Durability::Normal => SqliteSynchronous::Normal,
            Durability::Full => SqliteSynchronous::Full,
        };
        // The writer's connection: WAL (readers never wait for the writer),
        // the chosen sync mode, foreign keys on.
        let native = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Checkpoints are made beside the writer (store::checkpoints), not
            // inside its commits. Those can't finish while the writer keeps
            // appending, and a WAL whose checkpoint never finishes never
            // starts over: under steady load it grew by the whole volume
            // written (1.4 GB in one bench run). So the writer still
            // checkpoints itself once the WAL passes 16 MB (4,096 pages; the
            // side checkpoints have copied most of it by then, so it is
            // short), which lets the next commit start the WAL over, and a
            // WAL that grew in a burst is cut back to 64 MB when it does.
            .pragma("wal_autocheckpoint", "4096")
            .pragma("journal_size_limit", "67108864")
            // A statement that writes many rows inside the writer's round
            // (a multi-row insert of a round's actions) keeps the pages it
            // changes in a statement journal, so it alone can be undone.
            // By default that journal spills to a temporary file past 64 KB:
            // opened, written page by page, closed and deleted, round after
            // round; `perf` put 14% of the writer's time there at 1,500
            // leads/s. In memory it is a copy of each page instead.
            .pragma("temp_store", "memory");
        // A pool pings a connection before handing it out, by default: a
        // round trip to the connection's thread before every read and every
        // writer round, which `perf` showed at about 3% of the server's CPU
        // with the dispatcher busy. A connection to a file can't go stale
        // the way one to a database server can (PostgreSQL keeps the ping).
        let native_for_stop = native.clone();
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(native)
            .await?;
        // Readers: the same file through `Any` (they write only the schema,
        // at start, before the writer runs).
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let reads = reads::Reads::Sqlite(std::sync::Arc::new(reads::SqliteReaders::new(file)));
        let mut store = Store::start(
            pool,
            writer::WritePool::Sqlite(writes),
            reads,
            Backend::Sqlite,
        )
        .await?;
        store.sqlite = Some(native_for_stop);
        Ok(store)
    }

    /// Connect to PostgreSQL at `url` (postgres://user@host/database) and
    /// bring its schema up to date. Several servers may share one database:
    /// claims skip the rows another server has locked.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let writes = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        // Connected when first needed, like the `Any` pool's spares.
        let reads = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_lazy(url)?;
        Store::start(
            pool,
            writer::WritePool::Postgres(writes),
            reads::Reads::Postgres(reads),
            Backend::Postgres,
        )
        .await
    }

    async fn start(
        pool: AnyPool,
        writes: writer::WritePool,
        reads: reads::Reads,
        backend: Backend,
    ) -> Result<Store, StoreError> {
        migrate(&pool, backend).await?;
        let writer = writer::Writer::start(writes, backend, ROUND).await?;
        Ok(Store {
            pool,
            writer,
            reads,
            backend,
            sqlite: None,
        })
    }

    /// Which database engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A rare write (an operator's retry, a poller's cursor), through the
    /// writer like every other; returns the rows it touched.
    pub async fn execute(
        &self,
        sql: &'static str,
        binds: Vec<writer::Bind>,
    ) -> Result<u64, StoreError> {
        match self
            .writer
            .submit(writer::Write::Execute { sql, binds })
            .await?
        {
            writer::Written::Rows(n) => Ok(n),
            other => Err(other.mismatch()),
        }
    }

    /// Whether the database answers and the writer is there to write to it
    /// (a writer that has stopped would refuse every webhook with 503).
    pub async fn ping(&self) -> bool {
        self.writer.is_running() && sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Bring the schema up to date, before the writer starts.
async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    // Two servers starting on one PostgreSQL database must not both
    // migrate it: the first takes this lock, the second waits for it.
    if backend == Backend::Postgres {
        conn.execute("SELECT pg_advisory_lock(7307190)").await?;
    }
    let result = migrate_on(&mut conn, backend).await;
    if backend == Backend::Postgres {
        conn.execute("SELECT pg_advisory_unlock(7307190)").await?;
    }
    result
}

async fn migrate_on(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<(), StoreError> {
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .filter_map(|r| r.try_get::<i64, _>("version").ok())
        .collect();
    // A store a newer hsflow has upgraded has tables this one doesn't know
    // how to write: every webhook would fail. Refused at start instead.
    let known = schema::migrations(backend).last().map_or(0, |(v, _)| *v);
    if let Some(&newer) = applied.iter().filter(|&&v| v > known).max() {
        return Err(StoreError::Other(format!(
            "this store was upgraded by a newer hsflow (schema version {newer}; this hsflow knows \
             up to {known}). Run that newer hsflow, or restore a backup taken before the upgrade"
        )));
    }
    // Said before and after, on an existing store: an upgrade that rewrites
    // a big table (versions 12 and 13 on a million actions: about 6.5 s
    // here) should not look like a server that hangs at start.
    let started = std::time::Instant::now();
    let pending = schema::migrations(backend)
        .iter()
        .filter(|(v, _)| !applied.contains(v))
        .count();
    if !applied.is_empty() && pending > 0 {
        let steps = if pending == 1 { "step" } else { "steps" };
        tracing::info!(
            "upgrading the store's schema ({pending} {steps}); a big store can take a while, once"
        );
    }
    for (version, sql) in schema::migrations(backend) {
        if applied.contains(version) {
            continue;
        }
        let mut tx = conn.begin_with(backend.begin_write()).await?;
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(sqlx::AssertSqlSafe(stmt))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(millis(chrono::Utc::now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    if let (Some(from), Some(&(to, _))) = (applied.iter().max(), schema::migrations(backend).last())
    {
        if to > *from {
            tracing::info!(
                "the store was upgraded from schema version {from} to {to} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
