//! What differs between the two database engines, in one place.
//!
//! Every other statement in the store is written once, in SQL both engines
//! take (`$1` placeholders, which sqlx's SQLite driver reads by number too);
//! only the long generated lists of a multi-row statement are written per
//! engine (see [`Backend::values_list`]).
//! What can't be written once is here: how a write transaction begins and how
//! a claim keeps two servers from taking the same job.

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, one file in the data directory; one server.
    Sqlite,
    /// A PostgreSQL server; several hsflow servers may share one database.
    Postgres,
}

impl Backend {
    /// The statement that opens a write transaction.
    ///
    /// SQLite: `BEGIN IMMEDIATE` takes the write lock up front, so a
    /// transaction that reads and then writes never fails to upgrade its lock
    /// ("database is locked") when another connection committed meanwhile.
    /// PostgreSQL locks rows as they are written; a plain `BEGIN` is right.
    pub fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// Mark up to `$4` due jobs running under a lease and return them
    /// (`$1` lease end, `$2` now, `$3` now, `$4` limit).
    ///
    /// On PostgreSQL due jobs are found through the partial index
    /// `actions_pending` (schema version 5), so a claim reads its few rows
    /// in order however many are due.
    ///
    /// SQLite has one writer, so the inner SELECT can't race anyone.
    /// PostgreSQL servers claim side by side: `FOR UPDATE SKIP LOCKED` makes
    /// each take rows no other transaction holds, so no job is handed out
    /// twice and no server waits for another's claim.
    pub fn claim_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                "UPDATE actions SET status = 'running', attempts = attempts + 1, claims = claims + 1, lease_until = $1, updated_at = $2 \
                 WHERE id IN (SELECT id FROM actions WHERE status IN ('queued', 'failed') AND due_at <= $3 ORDER BY due_at LIMIT $4) \
                 RETURNING id, ",
                super::action_event::action_event!("actions"),
                " AS event_id, name_id, (SELECT c.contact FROM contacts c WHERE c.contact_id = actions.contact_id) AS contact, payload, attempts, claims, created_at, ",
                super::action_version::action_version!("actions"),
                ", ",
                super::packed::action_plan!("actions")
            ),
            Backend::Postgres => concat!(
                "UPDATE actions SET status = 'running', attempts = attempts + 1, claims = claims + 1, lease_until = $1, updated_at = $2 \
                 WHERE id IN (SELECT id FROM actions WHERE status IN ('queued', 'failed') AND due_at <= $3 ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, ",
                super::action_event::action_event!("actions"),
                " AS event_id, name_id, (SELECT c.contact FROM contacts c WHERE c.contact_id = actions.contact_id) AS contact, payload, attempts, claims, created_at, ",
                super::action_version::action_version!("actions"),
                ", ",
                super::packed::action_plan!("actions")
            ),
        }
    }

    /// What a SELECT ends with to lock the rows it reads until the
    /// transaction ends: nothing on SQLite (its one writer holds the whole
    /// database), `FOR UPDATE` on PostgreSQL.
    pub fn lock_rows(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Workflow history in the order it was written: by time, then by the
    /// order of insertion (SQLite's rowid, PostgreSQL's `seq` column).
    pub fn history_order(self) -> &'static str {
        match self {
            Backend::Sqlite => "at, rowid",
            Backend::Postgres => "at, seq",
        }
    }
}

impl Backend {
    /// The placeholder of the `n`th bound value (from 1).
    ///
    /// PostgreSQL numbers them (`$n`). SQLite is given plain `?`: it reads
    /// `$n` too, but as a *named* parameter, and sqlx looks each name up
    /// with `sqlite3_bind_parameter_name`, a linear walk, so a multi-row
    /// INSERT of 8,000 values spent most of its time finding their names.
    pub(crate) fn placeholder(self, out: &mut String, n: usize) {
        match self {
            Backend::Sqlite => out.push('?'),
            Backend::Postgres => {
                out.push('$');
                out.push_str(&n.to_string());
            }
        }
    }

    /// `(rows × cols)` placeholders for bound values `first`, `first + 1`, …,
    /// as `($1, $2), ($3, $4)`: the VALUES of a multi-row INSERT. (sqlx's
    /// QueryBuilder writes `?` for the Any driver, which PostgreSQL refuses.)
    pub fn values_list(self, rows: usize, cols: usize, first: usize) -> String {
        let mut s = String::with_capacity(rows * (cols * 5 + 4));
        let mut n = first;
        for r in 0..rows {
            if r > 0 {
                s.push_str(", ");
            }
            s.push('(');
            for c in 0..cols {
                if c > 0 {
                    s.push_str(", ");
                }
                self.placeholder(&mut s, n);
                n += 1;
            }
            s.push(')');
        }
        s
    }

    /// `(a = $1 AND b = $2) OR (a = $3 AND b = $4)`: rows of `columns`
    /// matched by key, `rows` of them, the values bound row by row from `$1`.
    ///
    /// A lookup by a key of several columns, written like this rather than
    /// as a row-value `(a, b) IN (VALUES …)`, which SQLite answers by
    /// scanning the whole table: here each term is a search of the index
    /// on those columns (on both engines).
    pub fn key_terms(self, columns: &[&str], rows: usize) -> String {
        let mut s = String::with_capacity(rows * columns.len() * 16);
        let mut n = 1;
        for r in 0..rows {
            if r > 0 {
                s.push_str(" OR ");
            }
            s.push('(');
            for (i, c) in columns.iter().enumerate() {
                if i > 0 {
                    s.push_str(" AND ");
                }
                s.push_str(c);
                s.push_str(" = ");
                self.placeholder(&mut s, n);
                n += 1;
            }
            s.push(')');
        }
        s
    }

    /// Placeholders for an `IN (…)` list of `n` values from `first` on.
    pub fn in_list(self, n: usize, first: usize) -> String {
        let mut s = String::with_capacity(n * 6);
        for i in first..first + n {
            if i > first {
                s.push_str(", ");
            }
            self.placeholder(&mut s, i);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_across_rows() {
        let pg = Backend::Postgres;
        assert_eq!(pg.values_list(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(pg.values_list(1, 2, 4), "($4, $5)");
        assert_eq!(pg.in_list(3, 2), "$2, $3, $4");
        let lite = Backend::Sqlite;
        assert_eq!(lite.values_list(2, 2, 1), "(?, ?), (?, ?)");
        assert_eq!(lite.in_list(2, 2), "?, ?");
        assert_eq!(
            pg.key_terms(&["a", "b"], 2),
            "(a = $1 AND b = $2) OR (a = $3 AND b = $4)"
        );
        assert_eq!(lite.key_terms(&["a"], 2), "(a = ?) OR (a = ?)");
    }
}
