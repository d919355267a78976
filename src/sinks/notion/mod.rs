//! The Notion sink: notion actions and tasks written to a real workspace.
//!
//! An upsert finds the page by its key property (a query with an `equals`
//! filter of the key's type), then updates it or creates it. That makes a
//! retried upsert safe: if an earlier attempt created the page and lost the
//! answer, the retry finds it and updates it instead of creating a second.
//! Tasks are upserted into the Tasks database by `Task ID` (the job id) for
//! the same reason. A plain `create` has no key and can't be made idempotent;
//! the rule author chooses it knowingly.

pub mod client;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::SinkError;
use crate::engine::action::{Crossing, Increment, Link, MatchOn};
use crate::engine::notion::property_value;
use crate::rules::model::{Database, NotionOperation, PropertyType};
use crate::rules::RuleSet;
use crate::sinks::links::Waiter;
use crate::sinks::Done;
pub use client::{NotionClient, NotionConfig};

/// One notion action's write: which database, how, and what.
pub struct Write<'a> {
    /// The database key (rules/databases.toml).
    pub database: &'a str,
    pub operation: NotionOperation,
    pub match_on: Option<&'a MatchOn>,
    pub properties: &'a Map<String, Value>,
    pub links: &'a [Link],
    pub add: &'a [Increment],
}

pub struct NotionSink {
    /// Shared with the Notion poller: one rate limit for the integration.
    pub client: Arc<NotionClient>,
    /// One lock per page key being upserted: two workers upserting the same
    /// contact at once would both find nothing and both create. Notion has
    /// no unique constraint, so this process serialises them itself.
    keys: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The database `key` of the rule set, and its id from the environment.
pub fn database<'r>(rules: &'r RuleSet, key: &str) -> Result<(&'r Database, String), SinkError> {
    let db = rules.databases.get(key).ok_or_else(|| {
        SinkError::Permanent(format!("rules/databases.toml has no database `{key}`"))
    })?;
    match std::env::var(&db.env) {
        Ok(id) if !id.trim().is_empty() => Ok((db, id.trim().to_string())),
        _ => Err(SinkError::Permanent(format!(
            "the Notion database \"{}\" has no id: set {} to its id (hsflow check lists every missing one)",
            db.name, db.env
        ))),
    }
}

/// The query filter that finds a page whose `property` equals `value`.
pub fn equals_filter(db: &Database, property: &str, value: &Value) -> Result<Value, SinkError> {
    let kind = db.properties.get(property).copied().ok_or_else(|| {
        SinkError::Permanent(format!("\"{}\" has no property `{property}`", db.name))
    })?;
    let text = || match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let condition = match kind {
        PropertyType::Title
        | PropertyType::RichText
        | PropertyType::Email
        | PropertyType::PhoneNumber
        | PropertyType::Url
        | PropertyType::Select
        | PropertyType::Status => json!({"equals": text()}),
        PropertyType::Number => match value.as_f64().or_else(|| text().trim().parse().ok()) {
            Some(n) => json!({"equals": n}),
            None => {
                return Err(SinkError::Permanent(format!(
                    "`{property}` is a number, but the key value is {value}"
                )))
            }
        },
        PropertyType::Checkbox => json!({"equals": value.as_bool().unwrap_or(text() == "true")}),
        other => {
            return Err(SinkError::Permanent(format!(
            "a page can't be found by `{property}`: Notion can't filter a {} property by equality",
            other.api_name()
        )))
        }
    };
    Ok(json!({"property": property, kind.api_name(): condition}))
}

/// The added number properties from a page's current values (`None`: a new page).
/// Against Notion this is read-then-write: the per-key lock keeps this
/// process's upserts of one page in order, but a retry after a lost answer
/// adds twice (the local store records each job's additions and does not).
fn increments(page: Option<&Value>, add: &[Increment]) -> (Map<String, Value>, Vec<Crossing>) {
    let mut props = Map::new();
    let mut crossings = Vec::new();
    for inc in add {
        let current = page.and_then(|p| p["properties"][&inc.property]["number"].as_f64());
        let new = inc.how.apply(current);
        props.insert(inc.property.clone(), json!({"number": new}));
        crossings.extend(inc.how.crossed(current, new).into_iter().map(|t| Crossing {
            property: inc.property.clone(),
            threshold: t,
            score: new,
        }));
    }
    (props, crossings)
}

fn page_id(page: &Value) -> Result<String, SinkError> {
    page["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| SinkError::retryable("Notion answered without a page id"))
}

impl NotionSink {
    pub fn new(client: NotionClient) -> NotionSink {
        NotionSink {
            client: Arc::new(client),
            keys: Default::default(),
        }
    }

    /// Run `f` holding the lock of page key `key`; the lock is dropped from
    /// the table once nobody else waits for it.
    async fn exclusive<T>(&self, key: String, f: impl std::future::Future<Output = T>) -> T {
        let lock = {
            let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            keys.entry(key.clone()).or_default().clone()
        };
        let out = {
            let _held = lock.lock().await;
            f.await
        };
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        // Two references: the table's and ours. Nobody else is waiting.
        if Arc::strong_count(&lock) == 2 {
            keys.remove(&key);
        }
        out
    }

    /// The relation bodies of `links`: each value looked up in its database.
    /// A value with no page is left out (with a warning): the page is still written.
    pub async fn resolve(
        &self,
        rules: &RuleSet,
        links: &[Link],
        waiter: &Waiter<'_>,
    ) -> Result<Map<String, Value>, SinkError> {
        let mut out = Map::new();
        for link in links {
            let (db, id) = database(rules, &link.database)?;
            let mut ids = Vec::new();
            for v in link.values.iter().take(crate::engine::notion::ARRAY_LIMIT) {
                let filter = equals_filter(db, &link.by, &Value::String(v.clone()))?;
                let find = || async {
                    let (found, _) = self.client.query_page(&id, Some(&filter), None, 1).await?;
                    Ok(found
                        .first()
                        .and_then(|p| p["id"].as_str())
                        .map(str::to_string))
                };
                if let Some(pid) = waiter.find(link, v, find).await? {
                    ids.push(json!({"id": pid}));
                }
            }
            if !ids.is_empty() {
                out.insert(link.property.clone(), json!({"relation": ids}));
            }
        }
        Ok(out)
    }

    /// Carry out one notion action; the text says what was done.
    pub async fn write(
        &self,
        rules: &RuleSet,
        w: Write<'_>,
        waiter: &Waiter<'_>,
    ) -> Result<Done, SinkError> {
        let Write {
            database: key,
            operation,
            match_on,
            properties,
            links,
            add,
        } = w;
        let (db, id) = database(rules, key)?;
        let linked;
        let properties = if links.is_empty() {
            properties
        } else {
            let mut all = properties.clone();
            all.extend(self.resolve(rules, links, waiter).await?);
            linked = all;
            &linked
        };
        let m = match (operation, match_on) {
            (NotionOperation::Create, _) => {
                let (adds, crossings) = increments(None, add);
                let mut props = properties.clone();
                props.extend(adds);
                let page = self.client.create_page(&id, &props).await?;
                return Ok(Done {
                    message: format!("created page {} in {}", page_id(&page)?, db.name),
                    crossings,
                    recorded: false,
                });
            }
            (_, Some(m)) => m,
            (_, None) => {
                return Err(SinkError::Permanent(format!(
                    "a {operation:?} in \"{}\" needs a key property to find the page",
                    db.name
                )))
            }
        };
        let filter = equals_filter(db, &m.property, &m.value)?;
        let key = format!("{id}\u{1f}{}\u{1f}{}", m.property, m.value);
        self.exclusive(
            key,
            self.find_and_write(db, &id, operation, m, &filter, properties, add),
        )
        .await
    }

    /// The locked part of an upsert or update: find the page, then write it.
    #[allow(clippy::too_many_arguments)]
    async fn find_and_write(
        &self,
        db: &Database,
        id: &str,
        operation: NotionOperation,
        m: &MatchOn,
        filter: &Value,
        properties: &Map<String, Value>,
        add: &[Increment],
    ) -> Result<Done, SinkError> {
        let found = self.client.query(id, Some(filter)).await?;
        if found.len() > 1 {
            tracing::warn!(
                "{} pages in \"{}\" have {} = {}; hsflow updates the first",
                found.len(),
                db.name,
                m.property,
                m.value
            );
        }
        match found.first() {
            Some(page) => {
                let pid = page_id(page)?;
                let (adds, crossings) = increments(Some(page), add);
                let mut props = properties.clone();
                props.extend(adds);
                self.client.update_page(&pid, &props).await?;
                Ok(Done {
                    message: format!("updated page {pid} in {}", db.name),
                    crossings,
                    recorded: false,
                })
            }
            None if operation == NotionOperation::Update => Err(SinkError::Permanent(format!(
                "no page in \"{}\" has {} = {}, so there is nothing to update",
                db.name, m.property, m.value
            ))),
            None => {
                // The key must be on the new page, or the next upsert won't find it.
                let mut props = properties.clone();
                if !props.contains_key(&m.property) {
                    let kind = db
                        .properties
                        .get(&m.property)
                        .copied()
                        .unwrap_or(PropertyType::RichText);
                    let mut notes = Vec::new();
                    let v = property_value(kind, &m.value, &m.property, &mut notes)
                        .map_err(SinkError::Permanent)?;
                    props.insert(m.property.clone(), v);
                }
                let (adds, crossings) = increments(None, add);
                props.extend(adds);
                let page = self.client.create_page(id, &props).await?;
                Ok(Done {
                    message: format!("created page {} in {}", page_id(&page)?, db.name),
                    crossings,
                    recorded: false,
                })
            }
        }
    }

    /// Compare a database's schema in Notion with rules/databases.toml.
    /// Returns every mismatch as a sentence (empty: they agree).
    pub async fn check_schema(&self, db: &Database, id: &str) -> Result<Vec<String>, SinkError> {
        let remote = self.client.schema(id).await?;
        let mut problems = Vec::new();
        for (name, want) in &db.properties {
            match remote.get(name).and_then(|p| p["type"].as_str()) {
                None => problems.push(format!(
                    "\"{}\" has no property \"{name}\" (rules/databases.toml expects a {})",
                    db.name,
                    want.api_name()
                )),
                Some(t) if t != want.api_name() => problems.push(format!(
                    "\"{}\".\"{name}\" is a {t} in Notion, but rules/databases.toml says {}",
                    db.name,
                    want.api_name()
                )),
                Some(_) => {}
            }
        }
        Ok(problems)
    }
}
