//! The local Notion store: pages with the same property model as Notion,
//! kept in the database so hsflow runs end to end with no Notion account.
//! Create, upsert by a key property and update behave like the real sink.

use serde_json::{Map, Value};
use sqlx::Row;

use super::writer::{Write, Written};
use super::{Backend, Store, StoreError};
use crate::engine::action::{Crossing, Increment};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageWrite {
    Created(String),
    Updated(String),
}

/// The plain value of a Notion property body, for matching by key.
pub fn plain(prop: &Value) -> String {
    let text = |arr: &Value| {
        arr.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.pointer("/text/content").and_then(Value::as_str))
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    if let Some(t) = prop.get("title") {
        return text(t);
    }
    if let Some(t) = prop.get("rich_text") {
        return text(t);
    }
    for k in ["email", "phone_number", "url"] {
        if let Some(v) = prop.get(k) {
            return v.as_str().unwrap_or("").to_string();
        }
    }
    prop.to_string()
}

impl Store {
    /// Write a page: `key` = Some((property, value)) upserts (or, with
    /// `must_exist`, updates) the page whose property has that value.
    pub async fn write_page(
        &self,
        database: &str,
        key: Option<(&str, &str)>,
        properties: &Map<String, Value>,
        must_exist: bool,
    ) -> Result<PageWrite, StoreError> {
        Ok(self
            .write_page_adding(database, key, properties, must_exist, &[], "")
            .await?
            .0)
    }

    /// [`Store::write_page`], also adding to number properties. The additions
    /// of job `job_id` happen once: a retry of the same job finds them done
    /// and gets the same crossings back. Returns what `events_at` values the
    /// additions crossed. Written through the store's writer.
    pub async fn write_page_adding(
        &self,
        database: &str,
        key: Option<(&str, &str)>,
        properties: &Map<String, Value>,
        must_exist: bool,
        increments: &[Increment],
        job_id: &str,
    ) -> Result<(PageWrite, Vec<Crossing>), StoreError> {
        let request = PageRequest {
            database: database.to_string(),
            key: key.map(|(p, v)| (p.to_string(), v.to_string())),
            properties: properties.clone(),
            must_exist,
            increments: increments.to_vec(),
            job_id: job_id.to_string(),
            fence: None,
        };
        let (w, crossings, _) = self.page(request).await?;
        Ok((w, crossings))
    }

    /// A page write as a job's side effect: refused if the job is no longer
    /// the caller's, and committed with the job's success when it crossed
    /// nothing (the last value says whether it was).
    pub async fn page(
        &self,
        request: PageRequest,
    ) -> Result<(PageWrite, Vec<Crossing>, bool), StoreError> {
        match self.writer.submit(Write::Page(request)).await? {
            Written::Page(w, crossings, done) => Ok((w, crossings, done)),
            other => Err(other.mismatch()),
        }
    }

    /// Pages of a local database (GET /api/notion/{database}).
    pub async fn pages(&self, database: &str) -> Result<Vec<Value>, StoreError> {
        let rows = sqlx::query("SELECT id, properties, properties_packed, created_at, updated_at FROM notion_pages WHERE database = $1 ORDER BY created_at, id")
            .bind(database)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let mut page = serde_json::json!({
                    "id": id,
                    "created_time": super::from_millis(r.try_get("created_at")?),
                    "last_edited_time": super::from_millis(r.try_get("updated_at")?),
                });
                // A damaged page is listed with the reason, not left out
                // and not shown empty; the rest of the list is unaffected.
                let (text, packed): (String, Option<Vec<u8>>) =
                    (r.try_get("properties")?, r.try_get("properties_packed")?);
                match super::packed::properties(text, packed, &id) {
                    Ok(properties) => page["properties"] = Value::Object(properties),
                    Err(e) => {
                        tracing::warn!(page = %id, "{e}");
                        page["properties"] = Value::Null;
                        page["error"] = e.to_string().into();
                    }
                }
                Ok(page)
            })
            .collect()
    }
}

/// A page write, as the writer carries it out (see [`Store::write_page_adding`]).
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub database: String,
    /// (key property, value): upsert (or update) the page that has it.
    pub key: Option<(String, String)>,
    pub properties: Map<String, Value>,
    /// Only update: no page with the key is an error.
    pub must_exist: bool,
    pub increments: Vec<Increment>,
    pub job_id: String,
    /// The job writing it (see [`super::jobs::Fence`]); `None` outside a job.
    pub fence: Option<super::jobs::Fence>,
}

// A round's page writes inside the writer's transaction, for each engine's
// own connection type `Conn` (see `for_each_engine` in store/mod.rs).
//
// Written one by one, a page write was two statements (find the page by its
// key, then insert or update it), and each statement is a round trip to the
// database: a third of a busy round's statements. Together, the round finds
// every page it touches with one SELECT, works each write out in memory in
// the order they came (so two writes to one page in a round merge as they
// would one after the other: created, then updated), then inserts the new
// pages with one multi-row INSERT and updates the others one by one.
crate::store::for_each_engine! {
    pub(crate) async fn pages_in(
        conn: &mut Conn,
        backend: Backend,
        requests: &[&PageRequest],
        now: i64,
    ) -> Result<Vec<Result<(PageWrite, Vec<Crossing>), StoreError>>, StoreError> {
        use std::collections::hash_map::{Entry, HashMap};
        // Jobs with additions that already wrote their page (a crash came
        // before their success was recorded) find the whole write done.
        let adding: Vec<&str> = requests
            .iter()
            .filter(|r| !r.increments.is_empty())
            .map(|r| r.job_id.as_str())
            .collect();
        let mut applied: HashMap<String, (Vec<Crossing>, String)> = HashMap::new();
        for chunk in adding.chunks(KEYS_PER_STATEMENT) {
            let sql = format!(
                "SELECT job_id, crossings, page_id FROM applied_increments WHERE job_id IN ({})",
                backend.in_list(chunk.len(), 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *conn).await? {
                let crossings = serde_json::from_str(&r.try_get::<String, _>("crossings")?).unwrap_or_default();
                let page: Option<String> = r.try_get("page_id")?;
                applied.insert(r.try_get("job_id")?, (crossings, page.unwrap_or_default()));
            }
        }

        // Every page the round's keyed writes name, found at once.
        let mut keys: Vec<(&str, &str, &str)> = Vec::new();
        for r in requests {
            if let Some((p, v)) = &r.key {
                let k = (r.database.as_str(), p.as_str(), v.as_str());
                if !applied.contains_key(&r.job_id) && !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        let mut pages: HashMap<(String, String, String), Page> = HashMap::new();
        // Pages whose stored properties can't be read: their writes fail
        // with the reason (merging into nothing would lose the page).
        let mut damaged: HashMap<(String, String, String), String> = HashMap::new();
        for chunk in keys.chunks(KEYS_PER_STATEMENT) {
            for (key, page) in find_in(conn, backend, chunk).await? {
                match page {
                    Ok(page) => pages.insert(key, page).map(drop),
                    Err(why) => damaged.insert(key, why).map(drop),
                };
            }
        }

        // Each write, in order, against the pages as the round leaves them.
        let mut answers = Vec::with_capacity(requests.len());
        let mut unkeyed: Vec<Page> = Vec::new();
        // Pages made in this round, counted so they are inserted in order.
        let mut made = 0usize;
        let mut increments_rows: Vec<(&str, String, String)> = Vec::new();
        for r in requests {
            if let Some((crossings, page)) = applied.get(&r.job_id) {
                answers.push(Ok((PageWrite::Updated(page.clone()), crossings.clone())));
                continue;
            }
            let not_found = || {
                let (p, v) = r.key.as_ref().map_or(("?", "?"), |(p, v)| (p.as_str(), v.as_str()));
                StoreError::NotFound(format!("no page in `{}` has {p} = {v}", r.database))
            };
            let page = match &r.key {
                Some((p, v)) => match pages.entry((r.database.clone(), p.clone(), v.clone())) {
                    Entry::Vacant(slot) if damaged.contains_key(slot.key()) => {
                        answers.push(Err(StoreError::Corrupt(damaged[slot.key()].clone())));
                        continue;
                    }
                    Entry::Occupied(found) => found.into_mut(),
                    Entry::Vacant(_) if r.must_exist => {
                        answers.push(Err(not_found()));
                        continue;
                    }
                    Entry::Vacant(slot) => {
                        made += 1;
                        slot.insert(Page::new(r, made))
                    }
                },
                None if r.must_exist => {
                    answers.push(Err(not_found()));
                    continue;
                }
                None => {
                    made += 1;
                    unkeyed.push(Page::new(r, made));
                    let last = unkeyed.len() - 1;
                    &mut unkeyed[last]
                }
            };
            let crossings = page.apply(&r.properties, &r.increments);
            // A page made by an earlier write of this round is updated by this one.
            let answer = if page.stored || page.written {
                PageWrite::Updated(page.id.clone())
            } else {
                PageWrite::Created(page.id.clone())
            };
            page.written = true;
            if !r.increments.is_empty() {
                let crossed = serde_json::to_string(&crossings).unwrap_or_else(|_| "[]".into());
                increments_rows.push((r.job_id.as_str(), crossed, page.id.clone()));
            }
            answers.push(Ok((answer, crossings)));
        }

        // Then the writes themselves: new pages together, changed ones each.
        let mut new: Vec<&Page> = pages
            .values()
            .chain(unkeyed.iter())
            .filter(|p| !p.stored)
            .collect();
        new.sort_by_key(|p| p.made);
        for chunk in new.chunks(KEYS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO notion_pages (id, database, key_property, key_value, properties, properties_packed, created_at, updated_at) VALUES {}",
                backend.values_list(chunk.len(), 8, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for p in chunk {
                let (text, packed) = crate::store::packed::pack_text(Value::Object(p.properties.clone()).to_string())?;
                q = q
                    .bind(p.id.as_str())
                    .bind(p.database.as_str())
                    .bind(p.key.as_ref().map(|k| k.0.as_str()))
                    .bind(p.key.as_ref().map(|k| k.1.as_str()))
                    .bind(text)
                    .bind(packed)
                    .bind(now)
                    .bind(now);
            }
            q.execute(&mut *conn).await?;
        }
        for p in pages.values().filter(|p| p.written && p.stored) {
            let (text, packed) = crate::store::packed::pack_text(Value::Object(p.properties.clone()).to_string())?;
            sqlx::query("UPDATE notion_pages SET properties = $1, properties_packed = $2, updated_at = $3 WHERE id = $4")
                .bind(text)
                .bind(packed)
                .bind(now)
                .bind(p.id.as_str())
                .execute(&mut *conn)
                .await?;
        }
        for chunk in increments_rows.chunks(KEYS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO applied_increments (job_id, crossings, applied_at, page_id) VALUES {}",
                backend.values_list(chunk.len(), 4, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (job, crossed, page) in chunk {
                q = q.bind(*job).bind(crossed.as_str()).bind(now).bind(page.as_str());
            }
            q.execute(&mut *conn).await?;
        }
        Ok(answers)
    }

    /// The stored pages with these (database, key property, key value)
    /// keys, locked until the round commits (on PostgreSQL). Where two pages
    /// share a key, the first found is the one written, as before.
    async fn find_in(
        conn: &mut Conn,
        backend: Backend,
        keys: &[(&str, &str, &str)],
    ) -> Result<Vec<Found>, StoreError> {
        let sql = format!(
            "SELECT id, database, key_property, key_value, properties, properties_packed FROM notion_pages WHERE {}{}",
            backend.key_terms(&["database", "key_property", "key_value"], keys.len()),
            backend.lock_rows()
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (d, p, v) in keys {
            q = q.bind(*d).bind(*p).bind(*v);
        }
        let mut found: Vec<Found> = Vec::new();
        for r in q.fetch_all(&mut *conn).await? {
            let key = (
                r.try_get::<String, _>("database")?,
                r.try_get::<String, _>("key_property")?,
                r.try_get::<String, _>("key_value")?,
            );
            if found.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let id: String = r.try_get("id")?;
            let (text, packed): (String, Option<Vec<u8>>) = (r.try_get("properties")?, r.try_get("properties_packed")?);
            let page = crate::store::packed::properties(text, packed, &id)
                .map(|properties| Page {
                    id,
                    database: key.0.clone(),
                    key: Some((key.1.clone(), key.2.clone())),
                    properties,
                    stored: true,
                    written: false,
                    made: 0,
                })
                .map_err(|e| e.to_string());
            found.push((key, page));
        }
        Ok(found)
    }
}

/// Keys (or rows) per statement of a round's page writes: 150 bound values
/// at most for a lookup, 700 for an insert, within both engines' limits.
const KEYS_PER_STATEMENT: usize = 100;

/// A stored page found by its (database, key property, key value), or
/// why its properties can't be read.
type Found = ((String, String, String), Result<Page, String>);

/// A page as a round's writes leave it.
struct Page {
    id: String,
    database: String,
    key: Option<(String, String)>,
    properties: Map<String, Value>,
    /// It is in the database already (else it is new in this round).
    stored: bool,
    /// A write of this round changed it (or made it).
    written: bool,
    /// Its place among the pages this round made (0 for a stored page).
    made: usize,
}

impl Page {
    /// The page `request` makes, with a new id; the `made`th of its round.
    /// Ids are time-ordered (UUIDv7, increasing within a process), so pages
    /// made at the same millisecond are still listed in the order made.
    fn new(request: &PageRequest, made: usize) -> Page {
        Page {
            id: uuid::Uuid::now_v7().to_string(),
            database: request.database.clone(),
            key: request.key.clone(),
            properties: Map::new(),
            stored: false,
            written: false,
            made,
        }
    }

    /// Merge `properties` in and add `increments`; returns the `events_at`
    /// thresholds the additions crossed.
    fn apply(
        &mut self,
        properties: &Map<String, Value>,
        increments: &[Increment],
    ) -> Vec<Crossing> {
        let mut crossings = Vec::new();
        let mut adds = Map::new();
        for inc in increments {
            let current = self
                .properties
                .get(&inc.property)
                .and_then(|v| v["number"].as_f64());
            let new = inc.how.apply(current);
            adds.insert(inc.property.clone(), serde_json::json!({"number": new}));
            crossings.extend(inc.how.crossed(current, new).into_iter().map(|t| Crossing {
                property: inc.property.clone(),
                threshold: t,
                score: new,
            }));
        }
        self.properties.extend(properties.clone());
        self.properties.extend(adds);
        crossings
    }
}
