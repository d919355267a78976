//! The reads a running job makes, on each engine's own driver.
//!
//! Most reads go through sqlx's `Any` pool (store/mod.rs). On SQLite every
//! such read is two round trips to a thread of sqlx's: the statement, and
//! then a ping, which sqlx sends whenever a connection goes back to its
//! pool. Each trip is a wake of that thread and a wake back. While the
//! dispatcher drained a backlog of shipped-pack leads, `perf` put a fifth of
//! the server's CPU on sqlx's SQLite threads, nearly all of it three small
//! reads the Notion sinks make to link a page to another one the same event
//! writes ([`Store::find_page`], [`Store::siblings`],
//! [`Store::action_status`]; see sinks/links.rs), and as much again on the
//! async threads sending those reads and waiting for them.
//!
//! Here those reads run on the engine's own driver, written once for both
//! (`for_each_engine`, store/mod.rs). On SQLite they take a connection of
//! their own ([`SqliteReaders`], through store::sqlite_direct) and call
//! SQLite right on the task's thread: a read by an index is a few
//! microseconds, less than the trip it saves, and in WAL mode a reader
//! never waits for the writer. On PostgreSQL they use a native pool (the
//! database is across a socket either way; the native driver skips the
//! `Any` driver's copies).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sqlx::Row;

use super::jobs::Sibling;
use super::sqlite_direct::Conn;
use super::{from_millis, Store, StoreError};

/// Idle SQLite read connections kept for the next read. The async runtime
/// has a thread per core and each read finishes before its thread moves
/// on, so a few cover it; one more is opened when all are out.
const KEPT: usize = 4;

/// Where the hot reads run.
#[derive(Clone)]
pub(crate) enum Reads {
    Sqlite(Arc<SqliteReaders>),
    Postgres(sqlx::PgPool),
}

impl std::fmt::Debug for Reads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reads::Sqlite(r) => write!(f, "SqliteReaders({})", r.path.display()),
            Reads::Postgres(_) => f.write_str("PgPool"),
        }
    }
}

/// Read-only connections to the SQLite file, opened as needed and kept.
pub(crate) struct SqliteReaders {
    path: PathBuf,
    idle: Mutex<Vec<Conn>>,
}

impl SqliteReaders {
    pub(crate) fn new(path: PathBuf) -> SqliteReaders {
        SqliteReaders {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection, or a new one.
    pub(crate) fn take(&self) -> Result<Reader<'_>, StoreError> {
        let kept = self.idle().pop();
        let conn = match kept {
            Some(c) => c,
            None => Conn::open_reader(&self.path)?,
        };
        Ok(Reader {
            conn: Some(conn),
            from: self,
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        // A panic while the list was held leaves it whole: take it as it is.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.idle().len()
    }
}

/// A read connection, back among the idle ones when dropped.
pub(crate) struct Reader<'a> {
    conn: Option<Conn>,
    from: &'a SqliteReaders,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a reader holds its connection until dropped")
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            // Reads run outside transactions; should one have been left
            // open, it ends here, or the connection is not kept.
            if conn.rollback().is_err() {
                return;
            }
            let mut idle = self.from.idle();
            if idle.len() < KEPT {
                idle.push(conn);
            }
        }
    }
}

/// Run `$f` of this file's engine modules on a read connection of `$store`.
macro_rules! read {
    ($store:expr, $f:ident($($arg:expr),*)) => {
        match &$store.reads {
            Reads::Sqlite(readers) => {
                let mut conn = readers.take()?;
                sqlite::$f(&mut conn, $($arg),*).await
            }
            Reads::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                postgres::$f(&mut conn, $($arg),*).await
            }
        }
    };
}

impl Store {
    /// The id of the page of `database` whose key property `property` is `value`.
    pub async fn find_page(
        &self,
        database: &str,
        property: &str,
        value: &str,
    ) -> Result<Option<String>, StoreError> {
        read!(self, find_page_in(database, property, value))
    }

    /// The other Notion actions of `event_id` (all but `except`): the ones
    /// that may write a page a job links to (see sinks/links.rs).
    pub async fn siblings(&self, event_id: &str, except: &str) -> Result<Vec<Sibling>, StoreError> {
        read!(self, siblings_in(event_id, except))
    }

    /// The status of the action `action_key` of event `event_id`, if there is one.
    pub async fn action_status(
        &self,
        event_id: &str,
        action_key: &str,
    ) -> Result<Option<String>, StoreError> {
        read!(self, action_status_in(event_id, action_key))
    }
}

const SIBLINGS: &str = concat!(
    "SELECT event_id, action_key, rule, flow, entity, status, due_at, updated_at, last_error, payload, ",
    super::packed::action_plan!("actions_named"),
    " FROM actions_named WHERE ",
    super::action_event::of_event!("actions_named", "$1"),
    " AND id <> $2 AND kind = 'notion'"
);

const STATUS: &str = concat!(
    "SELECT status FROM actions_named WHERE ",
    super::action_event::of_event!("actions_named", "$1"),
    " AND action_key = $2 LIMIT 1"
);

crate::store::for_each_engine! {
    pub(crate) async fn find_page_in(
        conn: &mut Conn,
        database: &str,
        property: &str,
        value: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT id FROM notion_pages WHERE database = $1 AND key_property = $2 AND key_value = $3 LIMIT 1")
            .bind(database)
            .bind(property)
            .bind(value)
            .fetch_optional(&mut *conn)
            .await?)
    }

    pub(crate) async fn siblings_in(
        conn: &mut Conn,
        event_id: &str,
        except: &str,
    ) -> Result<Vec<Sibling>, StoreError> {
        let rows = sqlx::query(SIBLINGS)
            .bind(event_id)
            .bind(except)
            .fetch_all(&mut *conn)
            .await?;
        // Their payloads are entries of one plan, unpacked once.
        let mut plans = crate::store::packed::Plans::default();
        rows.iter()
            .map(|r| -> Result<Sibling, StoreError> {
                let key: String = r.try_get("action_key")?;
                let event: String = r.try_get("event_id")?;
                let stored = plans.stored(r.try_get("payload")?, &event, &key, r.try_get("plan")?)?;
                let (rule, flow): (String, String) = (r.try_get("rule")?, r.try_get("flow")?);
                let entity: Option<String> = r.try_get("entity")?;
                let payload =
                    crate::store::action_payload::expand(stored, &key, &rule, &flow, entity.as_deref());
                Ok(Sibling {
                    action_key: key,
                    status: r.try_get("status")?,
                    due_at: from_millis(r.try_get("due_at")?),
                    updated_at: from_millis(r.try_get("updated_at")?),
                    last_error: r.try_get("last_error")?,
                    payload,
                })
            })
            .collect()
    }

    pub(crate) async fn action_status_in(
        conn: &mut Conn,
        event_id: &str,
        action_key: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(STATUS)
            .bind(event_id)
            .bind(action_key)
            .fetch_optional(&mut *conn)
            .await?)
    }
}

#[cfg(test)]
#[path = "reads_tests.rs"]
mod tests;
