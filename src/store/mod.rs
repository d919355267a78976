//! The durable store: events, actions as jobs, workflow instances, the local
//! Notion pages, idempotency keys.
//!
//! An accepted webhook is written here (event, planned actions, idempotency
//! key, cancellations: one transaction) before it is acknowledged; delayed
//! actions live here until due, so they survive restarts. SQLite in WAL mode
//! is the embedded default. The SQL is kept portable and the job claim sits
//! behind [`jobs`], so a PostgreSQL backend can follow.

pub mod accept;
pub mod cursors;
pub mod events;
pub mod jobs;
pub mod notion_local;
pub mod schema;
pub mod workflows;
pub mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

/// How hard SQLite works to keep a commit across a power cut.
///
/// `Normal` (the default): in WAL mode a commit survives a crash of hsflow
/// (kill -9) but the last transactions may be lost if the *machine* loses
/// power before the WAL is synced. `Full`: every commit is synced to disk
/// before it is acknowledged; nothing acknowledged is lost even on power loss,
/// at the cost of one fsync per commit.
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
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

/// A handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads.
    pub pool: SqlitePool,
    /// Writes, through one connection. SQLite takes one writer at a time; a
    /// second connection that wants the lock waits in SQLite's busy handler,
    /// which sleeps in growing steps (up to 100 ms). Queuing writers here,
    /// in the pool, instead makes them wait only as long as the write ahead.
    pub writes: SqlitePool,
    /// The hot writes (events, claims, outcomes, transitions), committed
    /// together by one task on the write connection.
    writer: writer::Writer,
}

/// Events per round of the writer (and as many other writes).
const ROUND: usize = 256;

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
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("hsflow.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let writer = writer::Writer::start(writes.clone(), ROUND);
        let store = Store {
            pool,
            writes,
            writer,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&self.writes)
            .await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .filter_map(|r| r.try_get::<i64, _>("version").ok())
            .collect();
        for (version, sql) in schema::MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            let mut tx = self.write_tx().await?;
            for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(stmt).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
                .bind(version)
                .bind(millis(chrono::Utc::now()))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock up front:
    /// a deferred transaction that reads and then writes can't upgrade its
    /// lock when another connection committed meanwhile, and SQLite then fails
    /// at once with "database is locked" instead of waiting (busy_timeout).
    pub async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.writes.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}
