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

    /// The id of the page of `database` whose key property `property` is `value`.
    pub async fn find_page(
        &self,
        database: &str,
        property: &str,
        value: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT id FROM notion_pages WHERE database = $1 AND key_property = $2 AND key_value = $3 LIMIT 1")
            .bind(database)
            .bind(property)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Pages of a local database (GET /api/notion/{database}).
    pub async fn pages(&self, database: &str) -> Result<Vec<Value>, StoreError> {
        let rows = sqlx::query("SELECT id, properties, created_at, updated_at FROM notion_pages WHERE database = $1 ORDER BY created_at")
            .bind(database)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(serde_json::json!({
                    "id": r.try_get::<String, _>("id")?,
                    "properties": serde_json::from_str::<Value>(&r.try_get::<String, _>("properties")?).unwrap_or(Value::Null),
                    "created_time": super::from_millis(r.try_get("created_at")?),
                    "last_edited_time": super::from_millis(r.try_get("updated_at")?),
                }))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
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

// The page write inside the writer's transaction, for each engine's own
// connection type `Conn` (see `for_each_engine` in store/mod.rs).
crate::store::for_each_engine! {
    pub(crate) async fn page_in(
        conn: &mut Conn,
        backend: Backend,
        request: &PageRequest,
        now: i64,
    ) -> Result<(PageWrite, Vec<Crossing>), StoreError> {
        let PageRequest {
            database,
            key,
            properties,
            must_exist,
            increments,
            job_id,
            fence: _,
        } = request;
        let key = key.as_ref().map(|(p, v)| (p.as_str(), v.as_str()));
        // A job with additions that already wrote its page (a crash came
        // before its success was recorded) finds the whole write done.
        if !increments.is_empty() {
            let done = sqlx::query("SELECT crossings, page_id FROM applied_increments WHERE job_id = $1")
                .bind(job_id)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(r) = done {
                let crossings = serde_json::from_str(&r.try_get::<String, _>("crossings")?).unwrap_or_default();
                let page: Option<String> = r.try_get("page_id")?;
                return Ok((PageWrite::Updated(page.unwrap_or_default()), crossings));
            }
        }
        let existing = match key {
            Some((p, v)) => sqlx::query(sqlx::AssertSqlSafe(format!("SELECT id, properties FROM notion_pages WHERE database = $1 AND key_property = $2 AND key_value = $3{}", backend.lock_rows())))
                .bind(database)
                .bind(p)
                .bind(v)
                .fetch_optional(&mut *conn)
                .await?,
            None => None,
        };
        let (id, mut merged) = match &existing {
            Some(r) => {
                let current: Map<String, Value> =
                    serde_json::from_str(&r.try_get::<String, _>("properties")?)
                        .unwrap_or_default();
                (Some(r.try_get::<String, _>("id")?), current)
            }
            None if *must_exist => {
                let (p, v) = key.unwrap_or(("?", "?"));
                return Err(StoreError::NotFound(format!(
                    "no page in `{database}` has {p} = {v}"
                )));
            }
            None => (None, Map::new()),
        };
        let mut crossings = Vec::new();
        let mut adds = Map::new();
        for inc in increments {
            let current = merged.get(&inc.property).and_then(|v| v["number"].as_f64());
            let new = inc.how.apply(current);
            adds.insert(inc.property.clone(), serde_json::json!({"number": new}));
            crossings.extend(inc.how.crossed(current, new).into_iter().map(|t| Crossing {
                property: inc.property.clone(),
                threshold: t,
                score: new,
            }));
        }
        merged.extend(properties.clone());
        merged.extend(adds);
        let result = match id {
            Some(id) => {
                sqlx::query("UPDATE notion_pages SET properties = $1, updated_at = $2 WHERE id = $3")
                    .bind(Value::Object(merged).to_string())
                    .bind(now)
                    .bind(&id)
                    .execute(&mut *conn)
                    .await?;
                PageWrite::Updated(id)
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                sqlx::query("INSERT INTO notion_pages (id, database, key_property, key_value, properties, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&id)
                    .bind(database)
                    .bind(key.map(|k| k.0))
                    .bind(key.map(|k| k.1))
                    .bind(Value::Object(merged).to_string())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                PageWrite::Created(id)
            }
        };
        if !increments.is_empty() {
            let page = match &result {
                PageWrite::Created(id) | PageWrite::Updated(id) => id,
            };
            sqlx::query("INSERT INTO applied_increments (job_id, crossings, applied_at, page_id) VALUES ($1, $2, $3, $4)")
                .bind(job_id)
                .bind(serde_json::to_string(&crossings).unwrap_or_else(|_| "[]".into()))
                .bind(now)
                .bind(page)
                .execute(&mut *conn)
                .await?;
        }
        Ok((result, crossings))
    }
}
