//! The address an action is for, written once.
//!
//! A lead's dozen actions are all for one address, which each row spelt
//! out, and again in the index of a contact's actions (about 700 bytes a
//! shipped-pack lead). Since schema version 13 an address is a row of
//! `contacts` and an action holds its `contact_id`; `actions_named` reads
//! the address back as `contact`, and a lookup by address asks `contacts`
//! for the number first (`contact_id = (SELECT contact_id FROM contacts
//! WHERE contact = $1)`), so it still uses the index. Retention removes an
//! address with its contact's last action (store::housekeeping).
//!
//! Unlike the few dozen combinations of names, addresses are as many as
//! the contacts, so the writer doesn't keep them in memory: each round adds
//! and reads back the addresses of its actions.

use std::collections::{BTreeSet, HashMap};

use sqlx::Row;

use super::{Backend, StoreError};

/// Rows a statement adds or reads at most.
const ROWS_PER_STATEMENT: usize = 500;

// Inside the writer's transaction, for each engine's own connection type
// `Conn` (see `for_each_engine` in store/mod.rs).
crate::store::for_each_engine! {
/// The number of each of `contacts` in `contacts` (schema version 13),
/// adding those not there yet; in order, so that two PostgreSQL servers
/// adding the same addresses wait for each other rather than deadlock.
pub(crate) async fn contact_ids_in(
    conn: &mut Conn,
    backend: Backend,
    contacts: BTreeSet<&str>,
) -> Result<HashMap<String, i64>, StoreError> {
    let contacts: Vec<&str> = contacts.into_iter().collect();
    let mut ids = HashMap::with_capacity(contacts.len());
    for chunk in contacts.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO contacts (contact) VALUES {} ON CONFLICT DO NOTHING",
            backend.values_list(chunk.len(), 1, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in chunk {
            q = q.bind(*c);
        }
        q.execute(&mut *conn).await?;
        let sql = format!(
            "SELECT contact_id, contact FROM contacts WHERE contact IN ({})",
            backend.in_list(chunk.len(), 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in chunk {
            q = q.bind(*c);
        }
        for r in q.fetch_all(&mut *conn).await? {
            ids.insert(r.try_get("contact")?, r.try_get("contact_id")?);
        }
    }
    Ok(ids)
}

}
