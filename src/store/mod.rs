//! The durable store: events, actions as jobs, workflow instances, the local
//! Notion pages, idempotency keys.
//!
//! An accepted webhook is written here (event, planned actions, idempotency
//! key, cancellations: one transaction) before it is acknowledged; delayed
//! actions live here until due, so they survive restarts. SQLite in WAL mode
//! is the embedded default; PostgreSQL is the engine for several servers
//! sharing one database. Both run the same SQL through sqlx's `Any` driver
//! (placeholders `$1, $2`, times as integer milliseconds, JSON as text); what
//! differs between them (how a write transaction begins, how a claim skips
//! rows another server holds, the column types of the schema) lives in
//! [`dialect`] and [`schema`].

pub mod accept;
pub mod cursors;
pub mod dialect;
pub mod events;
pub mod jobs;
pub mod notion_local;
pub mod schema;
pub mod workflows;
pub mod writer;

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
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
    pub pool: AnyPool,
    /// Writes, through one connection. SQLite takes one writer at a time; a
    /// second connection that wants the lock waits in SQLite's busy handler,
    /// which sleeps in growing steps (up to 100 ms). Queuing writers here,
    /// in the pool, instead makes them wait only as long as the write ahead.
    /// (On PostgreSQL the one connection keeps each server's rounds in order;
    /// several servers write side by side.)
    pub writes: AnyPool,
    /// The hot writes (events, claims, outcomes, transitions), committed
    /// together by one task on the write connection.
    writer: writer::Writer,
    backend: Backend,
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
        let dir = std::fs::canonicalize(data_dir).map_err(|e| {
            StoreError::Corrupt(format!("can't find {}: {e}", data_dir.display()))
        })?;
        let options = AnyConnectOptions::from_str(&sqlite_url(&dir.join("hsflow.db")))?;
        let synchronous = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        // Every connection: WAL (readers never wait for the writer), the
        // chosen sync mode, a busy timeout for the rare write outside the
        // writer, and foreign keys on.
        let pragmas = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;"
        );
        let pool_with = |max: u32| {
            let pragmas = pragmas.clone();
            AnyPoolOptions::new()
                .max_connections(max)
                .after_connect(move |conn, _| {
                    let pragmas = pragmas.clone();
                    Box::pin(async move {
                        conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                        Ok(())
                    })
                })
        };
        let writes = pool_with(1).connect_with(options.clone()).await?;
        let pool = pool_with(4).connect_with(options).await?;
        Store::start(pool, writes, Backend::Sqlite).await
    }

    /// Connect to PostgreSQL at `url` (postgres://user@host/database) and
    /// bring its schema up to date. Several servers may share one database:
    /// claims skip the rows another server has locked.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url)?;
        let writes = AnyPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Store::start(pool, writes, Backend::Postgres).await
    }

    async fn start(pool: AnyPool, writes: AnyPool, backend: Backend) -> Result<Store, StoreError> {
        let writer = writer::Writer::start(writes.clone(), backend, ROUND);
        let store = Store {
            pool,
            writes,
            writer,
            backend,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Which database engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.writes.acquire().await?;
        // Two servers starting on one PostgreSQL database must not both
        // migrate it: the first takes this lock, the second waits for it.
        if self.backend == Backend::Postgres {
            conn.execute("SELECT pg_advisory_lock(7307190)").await?;
        }
        let result = self.migrate_on(&mut conn).await;
        if self.backend == Backend::Postgres {
            conn.execute("SELECT pg_advisory_unlock(7307190)").await?;
        }
        result
    }

    async fn migrate_on(&self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .filter_map(|r| r.try_get::<i64, _>("version").ok())
            .collect();
        for (version, sql) in schema::migrations(self.backend) {
            if applied.contains(version) {
                continue;
            }
            let mut tx = conn.begin_with(self.backend.begin_write()).await?;
            for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(sqlx::AssertSqlSafe(stmt)).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(millis(chrono::Utc::now()))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// A write transaction outside the writer's rounds (rare writes: the
    /// cursor of a poller, an operator's retry). On SQLite `BEGIN IMMEDIATE`
    /// takes the write lock up front: a deferred transaction that reads and
    /// then writes can't upgrade its lock when another connection committed
    /// meanwhile, and SQLite then fails at once with "database is locked"
    /// instead of waiting (busy_timeout).
    pub async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(self.writes.begin_with(self.backend.begin_write()).await?)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}
