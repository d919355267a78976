//! Accepting events: each event and everything it causes, written in one
//! transaction with the other events that arrived together.
//!
//! The write connection is the store's bottleneck (one writer, by design),
//! so the work done while holding it is cut to the bone:
//! - everything is serialised to JSON before the transaction starts, on the
//!   request's own task (`store::new_event`), in parallel with other requests;
//! - the idempotency check is one statement per batch (an upsert that only
//!   replaces an expired key, returning the ids of the events that are new);
//! - the batch's events and their actions go in with one multi-row INSERT
//!   each instead of one statement per row.

use super::action_names::NameIds;
use super::writer::{Write, Written};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::new_event::NewAction;
pub use super::new_event::{Envelope, FetchJob, NewEvent, FETCH_KIND};
use super::{millis, Backend, Store, StoreError};

/// The outcome of accepting a webhook.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    pub event_id: String,
    /// True when the idempotency key was seen within the source's window: nothing new was planned.
    pub duplicate: bool,
    pub actions: usize,
    /// Pending actions this event cancelled.
    pub cancelled: u64,
}

/// Rows per multi-row INSERT: 16 columns x 500 rows stays well under both
/// SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
const ROWS_PER_INSERT: usize = 500;

/// An action to insert: its event, the event's id, its place in the
/// event's plan (its id's last characters) and the action.
type Placed<'a> = (&'a NewEvent, &'a str, u64, &'a NewAction);

impl Store {
    /// Store one event; returns once it is committed (with whatever else the
    /// store's writer had queued: see [`super::writer`]).
    pub async fn accept(&self, ev: NewEvent) -> Result<Accepted, StoreError> {
        self.accept_batch(vec![ev])
            .await?
            .pop()
            .ok_or_else(|| StoreError::Other("the store answered nothing".into()))
    }

    /// Plan an event that was waiting for its fetch: its fields, trace and
    /// actions are written together with the fetch job's success, while
    /// `fence` holds (else nothing is written: [`StoreError::LeaseLost`]).
    pub async fn plan_fetched(
        &self,
        fence: super::jobs::Fence,
        event_id: &str,
        planned: NewEvent,
    ) -> Result<Accepted, StoreError> {
        let write = Write::Fetched {
            fence,
            event_id: event_id.to_string(),
            planned: Box::new(planned),
        };
        match self.writer.submit(write).await? {
            Written::Accepted(mut a) => a
                .pop()
                .ok_or_else(|| StoreError::Other("the store answered nothing".into())),
            other => Err(other.mismatch()),
        }
    }

    /// Store these events in one transaction; one answer per event, in order.
    pub async fn accept_batch(&self, events: Vec<NewEvent>) -> Result<Vec<Accepted>, StoreError> {
        match self.writer.submit(Write::Accept(events)).await? {
            Written::Accepted(a) => Ok(a),
            other => Err(other.mismatch()),
        }
    }
}

// Accepting events inside the writer's transaction, for each engine's own
// connection type `Conn` (see `for_each_engine` in store/mod.rs).
crate::store::for_each_engine! {
/// Accept `events` inside the caller's transaction; one answer per event, in order.
pub(crate) async fn accept_in(
    conn: &mut Conn,
    backend: Backend,
    names: &mut NameIds,
    events: &[&NewEvent],
) -> Result<Vec<Accepted>, StoreError> {
    let ids: Vec<String> = events
        .iter()
        .map(|_| crate::store::ids::new_id())
        .collect();

    // 1. A key that comes twice in one batch: the later ones are duplicates
    //    of the first (whatever the first turns out to be).
    let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut dup_of: Vec<Option<usize>> = vec![None; events.len()];
    let mut candidates = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        match first_of.entry((ev.source.as_str(), ev.idem_key.as_str())) {
            Entry::Occupied(o) => dup_of[i] = Some(*o.get()),
            Entry::Vacant(v) => {
                v.insert(i);
                candidates.push(i);
            }
        }
    }

    // In key order: two PostgreSQL servers upserting overlapping keys then
    // take their row locks in the same order and can't deadlock.
    candidates.sort_by_key(|&i| (events[i].source.as_str(), events[i].idem_key.as_str()));

    // 2. One upsert claims the keys: new ones, and expired ones taken over.
    //    A key still inside its window is left alone and not returned.
    let mut claimed: HashSet<String> = HashSet::with_capacity(candidates.len());
    for chunk in candidates.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO idempotency (source, idem_key, event_id, expires_at, claimed_at) VALUES {} \
             ON CONFLICT (source, idem_key) DO UPDATE SET event_id = excluded.event_id, \
             expires_at = excluded.expires_at, claimed_at = excluded.claimed_at \
             WHERE idempotency.expires_at <= excluded.claimed_at RETURNING event_id",
            backend.values_list(chunk.len(), 5, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &i in chunk {
            let ev = events[i];
            let now = millis(ev.received_at);
            let window_ms = i64::try_from(ev.window_s)
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(1000);
            q = q
                .bind(ev.source.as_str())
                .bind(ev.idem_key.as_str())
                .bind(ids[i].as_str())
                .bind(now.saturating_add(window_ms))
                .bind(now);
        }
        for row in q.fetch_all(&mut *conn).await? {
            claimed.insert(row.try_get("event_id")?);
        }
    }

    // 3. Answers: a claimed key is a new event; a live one names the event holding it.
    let mut out: Vec<Accepted> = Vec::with_capacity(events.len());
    let mut fresh: Vec<(&NewEvent, &str)> = Vec::with_capacity(candidates.len());
    for (i, ev) in events.iter().enumerate() {
        if let Some(first) = dup_of[i] {
            out.push(Accepted {
                event_id: out[first].event_id.clone(),
                duplicate: true,
                actions: 0,
                cancelled: 0,
            });
            continue;
        }
        if !claimed.contains(&ids[i]) {
            let holder: String = sqlx::query_scalar(
                "SELECT event_id FROM idempotency WHERE source = $1 AND idem_key = $2",
            )
            .bind(&ev.source)
            .bind(&ev.idem_key)
            .fetch_one(&mut *conn)
            .await?;
            out.push(Accepted {
                event_id: holder,
                duplicate: true,
                actions: 0,
                cancelled: 0,
            });
            continue;
        }
        let event_id = ids[i].as_str();
        let cancelled = cancel_in(conn, ev, event_id).await?;
        out.push(Accepted {
            event_id: event_id.to_string(),
            duplicate: false,
            actions: ev.actions.len(),
            cancelled,
        });
        fresh.push((ev, event_id));
    }

    // 4. The new events and their actions, many rows per statement.
    for chunk in fresh.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO events (id, source, event_type, idem_key, received_at, headers, body, fields, trace, ruleset_version, packed) VALUES {}",
            backend.values_list(chunk.len(), 11, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (ev, id) in chunk {
            q = q
                .bind(*id)
                .bind(ev.source.as_str())
                .bind(ev.event_type.as_str())
                .bind(ev.idem_key.as_str())
                .bind(millis(ev.received_at))
                // The parts are in `packed` (store::event_pack); the
                // columns that held them before are empty.
                .bind("")
                .bind(&[][..] as &[u8])
                .bind("")
                .bind("")
                .bind(ev.ruleset_version.as_str())
                .bind(ev.packed.as_slice());
        }
        q.execute(&mut *conn).await?;
    }
    let rows: Vec<Placed> = fresh
        .iter()
        .flat_map(|(ev, id)| ev.actions.iter().zip(0..).map(move |(a, place)| (*ev, *id, place, a)))
        .collect();
    insert_actions_in(conn, backend, names, &rows).await?;
    Ok(out)
}

/// Cancel the pending follow-ups `ev` cancels; how many were.
async fn cancel_in(conn: &mut Conn, ev: &NewEvent, event_id: &str) -> Result<u64, StoreError> {
    let mut cancelled = 0;
    for (contact, rule) in &ev.cancels {
        cancelled += sqlx::query("UPDATE actions SET status = 'cancelled', last_error = $1, updated_at = $2 WHERE contact_id = (SELECT contact_id FROM contacts WHERE contact = $3) AND name_id IN (SELECT name_id FROM action_names WHERE rule = $4) AND status IN ('queued', 'failed') AND due_at > created_at")
            .bind(format!("cancelled by event {event_id} ({}:{})", ev.source, ev.event_type))
            .bind(millis(ev.received_at))
            .bind(contact)
            .bind(rule)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(cancelled)
}

/// Write an event's plan, found once its fetch answered, to the event row
/// that has waited for it: its type and parts, then its cancels and
/// actions, exactly as if it had been planned on arrival.
pub(crate) async fn plan_in(
    conn: &mut Conn,
    backend: Backend,
    names: &mut NameIds,
    event_id: &str,
    ev: &NewEvent,
) -> Result<Accepted, StoreError> {
    // `ev` holds the request again (dispatch::fetch read it back), so its
    // parts replace the row's whole, in either layout.
    let updated = sqlx::query("UPDATE events SET event_type = $1, packed = $2, ruleset_version = $3, headers = '', headers_packed = NULL, body = $4, body_packed = 0, fields = '', trace = '', trace_packed = NULL, plan = NULL WHERE id = $5")
        .bind(ev.event_type.as_str())
        .bind(ev.packed.as_slice())
        .bind(ev.ruleset_version.as_str())
        .bind(&[][..] as &[u8])
        .bind(event_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(StoreError::NotFound(format!("event {event_id} is no longer stored (it was deleted after its retention)")));
    }
    let cancelled = cancel_in(conn, ev, event_id).await?;
    // The event already has its fetch job (and whatever else it was given
    // on arrival): its new actions take the places after those.
    let first = sqlx::query_scalar::<_, String>(concat!(
        "SELECT id FROM actions WHERE ",
        crate::store::action_event::of_event!("actions", "$1")
    ))
    .bind(event_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .filter_map(|id| crate::store::ids::place_of(id, event_id))
    .max()
    .map_or(0, |last| last + 1);
    let rows: Vec<Placed> = ev.actions.iter().zip(first..).map(|(a, place)| (ev, event_id, place, a)).collect();
    insert_actions_in(conn, backend, names, &rows).await?;
    Ok(Accepted {
        event_id: event_id.to_string(),
        duplicate: false,
        actions: ev.actions.len(),
        cancelled,
    })
}

/// Insert actions, many rows per statement, each naming its rule, flow,
/// entity, key and kind by their number in `action_names` (schema version
/// 12). Combinations the writer hasn't seen are added first, inside the
/// same transaction, and all numbers read back once. An action's id is its
/// event's and its place (schema version 14, store/action_event.rs).
async fn insert_actions_in(
    conn: &mut Conn,
    backend: Backend,
    names: &mut NameIds,
    rows: &[Placed<'_>],
) -> Result<(), StoreError> {
    let keys: Vec<String> = rows.iter().map(|(_, _, _, a)| NameIds::key(a.names())).collect();
    // Sorted, so that two PostgreSQL servers adding the same new names wait
    // for each other in one order rather than deadlock.
    let unseen: std::collections::BTreeSet<[&str; 5]> = rows
        .iter()
        .zip(&keys)
        .filter(|(_, key)| names.get(key).is_none())
        .map(|((_, _, _, a), _)| a.names())
        .collect();
    if !unseen.is_empty() {
        let unseen: Vec<[&str; 5]> = unseen.into_iter().collect();
        for chunk in unseen.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO action_names (rule, flow, entity, action_key, kind) VALUES {} ON CONFLICT DO NOTHING",
                backend.values_list(chunk.len(), 5, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for n in chunk {
                for v in n {
                    q = q.bind(*v);
                }
            }
            q.execute(&mut *conn).await?;
        }
        action_names::read_names_in(conn, names).await?;
    }
    let contacts = contacts::contact_ids_in(
        conn,
        backend,
        rows.iter().filter_map(|(_, _, _, a)| a.contact.as_deref()).collect(),
    )
    .await?;
    for (chunk, keys) in rows.chunks(ROWS_PER_INSERT).zip(keys.chunks(ROWS_PER_INSERT)) {
        let sql = format!(
            "INSERT INTO actions (id, old_event_id, name_id, contact_id, payload, due_at, status, attempts, last_error, ruleset_version, created_at, updated_at) VALUES {}",
            backend.values_list(chunk.len(), 12, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((ev, event_id, place, a), key) in chunk.iter().zip(keys) {
            let name_id = names.get(key).ok_or_else(|| {
                StoreError::Other(format!("the names of action {} were added but can't be read back", a.key))
            })?;
            let now = millis(ev.received_at);
            let contact_id = match a.contact.as_deref() {
                None => None,
                Some(c) => Some(contacts.get(c).copied().ok_or_else(|| {
                    StoreError::Other(format!("the address {c} was added but can't be read back"))
                })?),
            };
            // An event stored before these ids (or one of a billion actions)
            // gives its action an id of its own and is named in the row.
            let (id, old_event_id) = match crate::store::ids::action_id(event_id, *place) {
                Some(id) => (id, ""),
                None => (crate::store::ids::new_id(), *event_id),
            };
            q = q
                .bind(id)
                .bind(old_event_id)
                .bind(name_id)
                .bind(contact_id)
                .bind(a.payload.as_str())
                .bind(a.due_at)
                .bind(a.status)
                .bind(0i64)
                .bind(a.error.as_deref())
                // Read from the event (store::action_version).
                .bind("")
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
}
