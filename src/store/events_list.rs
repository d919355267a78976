//! The console's list of events: one page, newest first, with each event's
//! outcome, and the search over the events' fields.
//!
//! An event's fields are packed with its other parts (store::event_pack),
//! so SQL can't search them. A search reads the events newest first, the
//! other filters applied by SQL through the `received_at` index, in batches
//! of [`SEARCH_BATCH`], unpacks each event's fields and keeps those that
//! hold the text (case aside). It stops when the page is full or after
//! [`SEARCH_READS`] events, and then says how far back it looked
//! ([`EventsPage::searched_to`]) and where the next search goes on, so an
//! older match is one click away, never silently missing. Unpacking an
//! event takes a few microseconds: a page searches 5,000 events in tens of
//! milliseconds.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::writer::Bind;
use super::{from_millis, Store, StoreError};

/// How many events a search reads for one page before it says how far it got.
pub const SEARCH_READS: usize = 5_000;

/// How many events a search reads per statement.
const SEARCH_BATCH: i64 = 500;

/// One event in a list.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub received_at: DateTime<Utc>,
    /// The contact's email, when the event has one.
    pub email: Option<String>,
    /// The flows with a rule that fired.
    pub flows: Vec<String>,
    /// Action counts by status.
    pub statuses: HashMap<String, i64>,
}

/// What to list: filters (each optional) and the page.
#[derive(Debug, Default, Clone)]
pub struct EventQuery {
    pub source: Option<String>,
    pub event_type: Option<String>,
    /// Events with an action for this contact.
    pub contact: Option<String>,
    /// Events whose normalised fields hold this text (case aside).
    pub text: Option<String>,
    /// Received before this (the page before).
    pub before: Option<(i64, String)>,
    /// Received at or after this (ms).
    pub since: Option<i64>,
    pub limit: i64,
    /// How many events a text search reads at most for this page (0: the
    /// default, [`SEARCH_READS`]).
    pub search_reads: usize,
}

/// A page of events.
#[derive(Debug, Clone, Default)]
pub struct EventsPage {
    pub rows: Vec<EventRow>,
    /// Where the next page starts (received at, id), when there may be more.
    pub next: Option<(i64, String)>,
    /// A search that read its [`SEARCH_READS`] events before the page was
    /// full: the arrival of the oldest it read. Older events are not yet
    /// searched; `next` goes on from there.
    pub searched_to: Option<DateTime<Utc>>,
    /// How many events a text search read for this page.
    pub searched: usize,
}

/// The statement for up to `limit` events older than `before`, with every
/// filter of `q` but the text, and its values.
fn statement(q: &EventQuery, before: Option<&(i64, String)>, limit: i64) -> (String, Vec<Bind>) {
    let mut sql = format!(
        "SELECT id, source, event_type, received_at, {} FROM events WHERE 1 = 1",
        super::event_pack::PART_COLUMNS
    );
    let mut binds: Vec<Bind> = Vec::new();
    let mut arg = |sql: &mut String, fragment: &str, values: Vec<Bind>| {
        let mut f = fragment.to_string();
        for v in values {
            binds.push(v);
            f = f.replacen('?', &format!("${}", binds.len()), 1);
        }
        sql.push_str(&f);
    };
    if let Some((t, id)) = before {
        arg(
            &mut sql,
            " AND received_at <= ? AND NOT (received_at = ? AND id >= ?)",
            vec![Bind::Int(*t), Bind::Int(*t), Bind::Text(id.clone())],
        );
    }
    if let Some(t) = q.since {
        arg(&mut sql, " AND received_at >= ?", vec![Bind::Int(t)]);
    }
    if let Some(s) = &q.source {
        arg(&mut sql, " AND source = ?", vec![Bind::Text(s.clone())]);
    }
    if let Some(t) = &q.event_type {
        arg(&mut sql, " AND event_type = ?", vec![Bind::Text(t.clone())]);
    }
    if let Some(c) = &q.contact {
        arg(
            &mut sql,
            concat!(
                " AND id IN (SELECT ",
                super::action_event::action_event!("actions"),
                " FROM actions WHERE contact_id = (SELECT contact_id FROM contacts WHERE contact = ?))"
            ),
            vec![Bind::Text(c.clone())],
        );
    }
    arg(
        &mut sql,
        " ORDER BY received_at DESC, id DESC LIMIT ?",
        vec![Bind::Int(limit)],
    );
    (sql, binds)
}

/// An event row as the list shows it, if it holds `needle` (lowercase).
fn listed(r: &sqlx::any::AnyRow, needle: Option<&str>) -> Result<Option<EventRow>, StoreError> {
    let parts = super::event_pack::shown_parts(r);
    if let Some(needle) = needle {
        if !parts.fields.to_lowercase().contains(needle) {
            return Ok(None);
        }
    }
    let fields = super::event_pack::shown_json(&parts.fields);
    let trace = super::event_pack::shown_json(&parts.trace);
    let mut flows: Vec<String> = trace["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["matched"] == true)
        .filter_map(|r| r["flow"].as_str().map(str::to_string))
        .collect();
    flows.dedup();
    Ok(Some(EventRow {
        id: r.try_get("id")?,
        source: r.try_get("source")?,
        event_type: r.try_get("event_type")?,
        received_at: from_millis(r.try_get("received_at")?),
        email: fields["email"].as_str().map(str::to_string),
        flows,
        statuses: HashMap::new(),
    }))
}

impl Store {
    /// One page of events, newest first, with their outcome. The statement
    /// holds only the filters given, so the page is read through the
    /// `received_at` index instead of a scan; a text search reads on in
    /// batches (see the module comment).
    pub async fn events_page(&self, q: &EventQuery) -> Result<EventsPage, StoreError> {
        let needle = q.text.as_ref().map(|t| t.to_lowercase());
        let reads = match q.search_reads {
            0 => SEARCH_READS,
            n => n,
        };
        let batch = if needle.is_some() {
            SEARCH_BATCH.min(reads as i64)
        } else {
            q.limit
        };
        let mut page = EventsPage::default();
        let mut at = q.before.clone();
        let mut read = 0;
        'reading: loop {
            let (sql, binds) = statement(q, at.as_ref(), batch);
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                query = match b {
                    Bind::Int(i) => query.bind(*i),
                    Bind::Text(t) => query.bind(t.clone()),
                    Bind::OptText(t) => query.bind(t.clone()),
                };
            }
            let rows = query.fetch_all(&self.pool).await?;
            for r in &rows {
                read += 1;
                at = Some((r.try_get("received_at")?, r.try_get("id")?));
                if let Some(row) = listed(r, needle.as_deref())? {
                    page.rows.push(row);
                    if page.rows.len() as i64 == q.limit {
                        page.next = at;
                        break 'reading;
                    }
                }
            }
            if (rows.len() as i64) < batch {
                break;
            }
            if needle.is_some() && read >= reads {
                page.searched_to = at.as_ref().map(|(t, _)| from_millis(*t));
                page.next = at;
                break;
            }
        }
        if needle.is_some() {
            page.searched = read;
        }
        self.with_outcomes(&mut page.rows).await?;
        Ok(page)
    }

    /// Each listed event's action counts by status, in one grouped query.
    async fn with_outcomes(&self, rows: &mut [EventRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = (1..=rows.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT e.id AS event_id, a.status, COUNT(*) AS n FROM events e JOIN actions a ON {} \
             WHERE e.id IN ({}) GROUP BY e.id, a.status",
            super::action_event::of_event!("a", "e.id"),
            list.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in rows.iter() {
            q = q.bind(e.id.clone());
        }
        let mut by_event: HashMap<String, HashMap<String, i64>> = HashMap::new();
        for c in q.fetch_all(&self.pool).await? {
            by_event
                .entry(c.try_get("event_id")?)
                .or_default()
                .insert(c.try_get("status")?, c.try_get("n")?);
        }
        for e in rows.iter_mut() {
            e.statuses = by_event.remove(&e.id).unwrap_or_default();
        }
        Ok(())
    }
}
