//! The writer's SQLite connection, called directly on the writer's thread
//! (and the dispatcher's read connections, store::reads).
//!
//! Through sqlx, every SQLite statement is a message to the connection's own
//! thread and every row a message back: a round that claims 64 jobs, records
//! 64 outcomes and accepts a few events took dozens of thread switches, and
//! `perf` put about half of the dispatcher's CPU in switching and waking,
//! the writer waiting on each answer in turn. The writer already runs on a
//! thread of its own that does nothing else, so here it takes the
//! connection sqlx opened (with every pragma the store set) out of sqlx's
//! hands for its whole life ([`sqlx::sqlite::LockedSqliteHandle`]) and
//! calls SQLite through rusqlite, statement by statement, on that thread.
//!
//! The write path's code is written once for both engines (see
//! `for_each_engine` in store/mod.rs). In its SQLite copy the name `sqlx`
//! means this module, which offers the part of sqlx's query API that code
//! uses: [`query`], [`query_scalar`], [`query_as`], `bind`, `fetch_all`,
//! `fetch_one`, `fetch_optional`, `execute`, and rows read with `try_get`
//! by column name or position. Parameters are numbered the way sqlx numbers
//! them on SQLite (`$N` and `?N` by number, a bare `?` in turn). The
//! functions are `async` only to match sqlx's; each finishes in one poll.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

use rusqlite::types::{FromSql, ToSqlOutput, Value, ValueRef};

pub use rusqlite::Error;

/// Prepared statements kept: a multi-row insert is a statement per row
/// count, and a busy round uses a few dozen shapes.
const STATEMENTS_CACHED: usize = 256;

/// The writer's connection.
pub struct Conn {
    db: rusqlite::Connection,
}

impl Conn {
    /// Drive the SQLite connection `handle` directly.
    ///
    /// # Safety
    /// `handle` must stay open, and nothing else may call SQLite on it,
    /// until the `Conn` is dropped: the writer holds sqlx's lock on it
    /// ([`sqlx::SqliteConnection::lock_handle`]) for as long, and drops the
    /// `Conn` first. The `Conn` never closes the handle (sqlx does); it
    /// finalizes its own prepared statements when dropped.
    pub unsafe fn from_handle(
        handle: std::ptr::NonNull<rusqlite::ffi::sqlite3>,
    ) -> Result<Conn, Error> {
        // SAFETY: as the caller promised above. (rusqlite's `ffi` is the
        // libsqlite3-sys sqlx uses, so the handle's type is the same.)
        let db = unsafe { rusqlite::Connection::from_handle(handle.as_ptr()) }?;
        Conn::configured(db)
    }

    /// The writer's settings on `db`.
    fn configured(db: rusqlite::Connection) -> Result<Conn, Error> {
        db.set_prepared_statement_cache_capacity(STATEMENTS_CACHED);
        // A statement's plan doesn't depend on the values it is given. By
        // default SQLite compiles a statement again whenever a value that
        // might change its plan changes, and `LIMIT $4` is one: the claim
        // (its limit is the dispatcher's free slots, different nearly every
        // time) was compiled anew on almost every round, 12% of the
        // writer's time in `perf`.
        db.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        Ok(Conn { db })
    }

    /// A connection of its own to the database file at `path`, for tests
    /// that hand the writer's functions a round themselves.
    #[cfg(test)]
    pub fn open(path: &std::path::Path) -> Result<Conn, Error> {
        let db = rusqlite::Connection::open(path)?;
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        Conn::configured(db)
    }

    /// A connection that only reads, to the database file at `path` (which
    /// the writer has opened in WAL mode: a reader sees the last commit and
    /// never waits for the writer). See store::reads.
    pub fn open_reader(path: &std::path::Path) -> Result<Conn, Error> {
        use rusqlite::OpenFlags;
        // Read-write at the file level: a WAL reader writes its read marks
        // in the shared-memory index. `query_only` refuses any write.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let db = rusqlite::Connection::open_with_flags(path, flags)?;
        // A reader is only kept waiting in the rare moments SQLite itself
        // holds the WAL's index (recovering it after a crash); it runs on
        // an async worker thread, so it gives up sooner than the writer.
        db.busy_timeout(std::time::Duration::from_secs(2))?;
        db.execute_batch("PRAGMA query_only = ON")?;
        Conn::configured(db)
    }

    /// Run statements without parameters or rows (`BEGIN IMMEDIATE`, `COMMIT`).
    pub fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.db.execute_batch(sql)
    }

    /// Roll back the transaction open on the connection, if one is.
    pub fn rollback(&mut self) -> Result<(), Error> {
        if self.db.is_autocommit() {
            return Ok(());
        }
        self.db.execute_batch("ROLLBACK")
    }

    /// Run `sql` with `args`, handing each row to `row`.
    fn run(
        &mut self,
        sql: &str,
        args: &[ToSqlOutput<'_>],
        mut row: impl FnMut(&rusqlite::Row<'_>) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let mut stmt = self.db.prepare_cached(sql)?;
        bind(&mut stmt, args)?;
        let mut rows = stmt.raw_query();
        while let Some(r) = rows.next()? {
            row(r)?;
        }
        drop(rows);
        Ok(self.db.changes())
    }

    /// Every row of `sql`, read out whole. The column names, which only
    /// these rows need (`try_get` by name), are read once, at the first row.
    fn rows(&mut self, sql: &str, args: &[ToSqlOutput<'_>]) -> Result<Vec<Row>, Error> {
        let mut out = Vec::new();
        let mut columns: Option<Arc<[String]>> = None;
        self.run(sql, args, |r| {
            let columns = columns.get_or_insert_with(|| {
                let stmt: &rusqlite::Statement<'_> = r.as_ref();
                stmt.column_names().into_iter().map(String::from).collect()
            });
            let values = (0..columns.len())
                .map(|i| r.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Row {
                columns: columns.clone(),
                values,
            });
            Ok(())
        })?;
        Ok(out)
    }
}

/// Bind `args` the way sqlx-sqlite does: `$N` and `?N` take argument N, a
/// bare `?` the next one in turn. A parameter without its argument is an
/// error here (sqlx would bind NULL): every statement is the store's own.
fn bind(stmt: &mut rusqlite::Statement<'_>, args: &[ToSqlOutput<'_>]) -> Result<(), Error> {
    let mut next = 0;
    for i in 1..=stmt.parameter_count() {
        let n = match stmt.parameter_name(i) {
            None => {
                next += 1;
                next
            }
            Some(name) => name
                .strip_prefix(['$', '?'])
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| Error::InvalidParameterName(name.to_string()))?,
        };
        let arg = n
            .checked_sub(1)
            .and_then(|k| args.get(k))
            .ok_or(Error::InvalidParameterCount(n, args.len()))?;
        stmt.raw_bind_parameter(i, arg)?;
    }
    Ok(())
}

/// A statement's text, as sqlx takes it: a `&'static str`, or a string
/// built at run time and vouched for with [`AssertSqlSafe`].
pub struct AssertSqlSafe<T>(pub T);

/// What [`query`] and its kin accept as SQL.
pub trait SqlText<'q> {
    fn text(self) -> Cow<'q, str>;
}

impl<'q> SqlText<'q> for &'q str {
    fn text(self) -> Cow<'q, str> {
        Cow::Borrowed(self)
    }
}

impl<'q> SqlText<'q> for AssertSqlSafe<String> {
    fn text(self) -> Cow<'q, str> {
        Cow::Owned(self.0)
    }
}

impl<'q> SqlText<'q> for AssertSqlSafe<&'q str> {
    fn text(self) -> Cow<'q, str> {
        Cow::Borrowed(self.0)
    }
}

/// A value a statement can be given: borrowed where it can be, so a packed
/// event is never copied on its way in.
pub trait Encode<'q> {
    fn encode(self) -> ToSqlOutput<'q>;
}

impl<'q> Encode<'q> for i64 {
    fn encode(self) -> ToSqlOutput<'q> {
        ToSqlOutput::Owned(Value::Integer(self))
    }
}

impl<'q> Encode<'q> for bool {
    fn encode(self) -> ToSqlOutput<'q> {
        ToSqlOutput::Owned(Value::Integer(i64::from(self)))
    }
}

impl<'q> Encode<'q> for &'q str {
    fn encode(self) -> ToSqlOutput<'q> {
        ToSqlOutput::Borrowed(ValueRef::Text(self.as_bytes()))
    }
}

impl<'q> Encode<'q> for &'q String {
    fn encode(self) -> ToSqlOutput<'q> {
        self.as_str().encode()
    }
}

impl<'q> Encode<'q> for String {
    fn encode(self) -> ToSqlOutput<'q> {
        ToSqlOutput::Owned(Value::Text(self))
    }
}

impl<'q> Encode<'q> for &'q [u8] {
    fn encode(self) -> ToSqlOutput<'q> {
        ToSqlOutput::Borrowed(ValueRef::Blob(self))
    }
}

impl<'q> Encode<'q> for Vec<u8> {
    fn encode(self) -> ToSqlOutput<'q> {
        ToSqlOutput::Owned(Value::Blob(self))
    }
}

impl<'q, T: Encode<'q>> Encode<'q> for Option<T> {
    fn encode(self) -> ToSqlOutput<'q> {
        match self {
            Some(v) => v.encode(),
            None => ToSqlOutput::Owned(Value::Null),
        }
    }
}

/// A statement and its arguments; see [`query`].
pub struct Query<'q> {
    sql: Cow<'q, str>,
    args: Vec<ToSqlOutput<'q>>,
}

/// A statement whose rows are read as values of type `O`, by `M`: its
/// first column ([`query_scalar`]) or a tuple ([`query_as`]).
pub struct Mapped<'q, O, M> {
    inner: Query<'q>,
    out: PhantomData<fn() -> (O, M)>,
}

pub type QueryScalar<'q, O> = Mapped<'q, O, Scalar>;
pub type QueryAs<'q, O> = Mapped<'q, O, Tuple>;

/// A statement to run, like `sqlx::query`.
pub fn query<'q>(sql: impl SqlText<'q>) -> Query<'q> {
    Query {
        sql: sql.text(),
        args: Vec::new(),
    }
}

/// A statement whose rows are one value each, like `sqlx::query_scalar`
/// (the first type parameter, sqlx's database, is the SQL's type here).
pub fn query_scalar<'q, S: SqlText<'q>, O: FromSql>(sql: S) -> QueryScalar<'q, O> {
    QueryScalar {
        inner: query(sql),
        out: PhantomData,
    }
}

/// A statement whose rows are tuples, like `sqlx::query_as`.
pub fn query_as<'q, S: SqlText<'q>, O: FromRow>(sql: S) -> QueryAs<'q, O> {
    QueryAs {
        inner: query(sql),
        out: PhantomData,
    }
}

/// What `execute` reports.
pub struct Done {
    rows: u64,
}

impl Done {
    /// Rows the statement inserted, updated or deleted.
    pub fn rows_affected(&self) -> u64 {
        self.rows
    }
}

impl<'q> Query<'q> {
    pub fn bind(mut self, value: impl Encode<'q>) -> Self {
        self.args.push(value.encode());
        self
    }

    pub async fn execute(self, conn: &mut Conn) -> Result<Done, Error> {
        let rows = conn.run(&self.sql, &self.args, |_| Ok(()))?;
        Ok(Done { rows })
    }

    pub async fn fetch_all(self, conn: &mut Conn) -> Result<Vec<Row>, Error> {
        conn.rows(&self.sql, &self.args)
    }
}

impl<'q, O, M: ReadAs<O>> Mapped<'q, O, M> {
    pub fn bind(mut self, value: impl Encode<'q>) -> Self {
        self.inner = self.inner.bind(value);
        self
    }

    pub async fn fetch_all(self, conn: &mut Conn) -> Result<Vec<O>, Error> {
        let mut out = Vec::new();
        conn.run(&self.inner.sql, &self.inner.args, |r| {
            out.push(M::read(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    pub async fn fetch_optional(self, conn: &mut Conn) -> Result<Option<O>, Error> {
        Ok(self.fetch_all(conn).await?.into_iter().next())
    }

    pub async fn fetch_one(self, conn: &mut Conn) -> Result<O, Error> {
        self.fetch_optional(conn)
            .await?
            .ok_or(Error::QueryReturnedNoRows)
    }
}

/// How a [`Mapped`] statement reads each row as an `O`.
pub trait ReadAs<O> {
    fn read(row: &rusqlite::Row<'_>) -> Result<O, Error>;
}

/// Rows read as their first column ([`query_scalar`]).
pub struct Scalar;

impl<O: FromSql> ReadAs<O> for Scalar {
    fn read(row: &rusqlite::Row<'_>) -> Result<O, Error> {
        row.get(0)
    }
}

/// Rows read as tuples ([`query_as`]).
pub struct Tuple;

impl<O: FromRow> ReadAs<O> for Tuple {
    fn read(row: &rusqlite::Row<'_>) -> Result<O, Error> {
        O::from_row(row)
    }
}

/// A row type [`query_as`] can read.
pub trait FromRow: Sized {
    fn from_row(row: &rusqlite::Row<'_>) -> Result<Self, Error>;
}

impl<A: FromSql, B: FromSql> FromRow for (A, B) {
    fn from_row(row: &rusqlite::Row<'_>) -> Result<Self, Error> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

/// A row, read out of the statement.
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

/// A column named or numbered from 0, as `Row::try_get` takes it.
pub trait ColumnIndex {
    fn position(&self, columns: &[String]) -> Result<usize, Error>;
}

impl ColumnIndex for &str {
    fn position(&self, columns: &[String]) -> Result<usize, Error> {
        columns
            .iter()
            .position(|c| c == self)
            .ok_or_else(|| Error::InvalidColumnName(self.to_string()))
    }
}

impl ColumnIndex for usize {
    fn position(&self, columns: &[String]) -> Result<usize, Error> {
        if *self < columns.len() {
            Ok(*self)
        } else {
            Err(Error::InvalidColumnIndex(*self))
        }
    }
}

impl Row {
    /// The value of a column, like `sqlx::Row::try_get`.
    pub fn try_get<T: FromSql, I: ColumnIndex>(&self, index: I) -> Result<T, Error> {
        let i = index.position(&self.columns)?;
        let value = ValueRef::from(&self.values[i]);
        T::column_result(value).map_err(|e| match e {
            rusqlite::types::FromSqlError::InvalidType => {
                Error::InvalidColumnType(i, self.columns[i].clone(), value.data_type())
            }
            other => Error::FromSqlConversionFailure(i, value.data_type(), Box::new(other)),
        })
    }
}

#[cfg(test)]
#[path = "sqlite_direct_tests.rs"]
mod tests;
