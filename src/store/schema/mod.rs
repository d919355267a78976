//! The store's tables, as numbered migrations applied at start.
//!
//! The same tables on both engines: times are integer milliseconds since the
//! epoch, JSON is text, ids are text. The PostgreSQL migrations mirror the
//! SQLite ones version for version; column types differ (BYTEA for BLOB, an
//! explicit insertion order for the workflow history) and PostgreSQL has
//! one index more (version 5). Each engine's list is written out in full,
//! rather than one derived from the other, so each reads as the schema it is.

use super::Backend;

mod postgres;
mod sqlite;

/// The migrations of `backend`, in order.
pub fn migrations(backend: Backend) -> &'static [(i64, &'static str)] {
    match backend {
        Backend::Sqlite => sqlite::SQLITE,
        Backend::Postgres => postgres::POSTGRES,
    }
}
