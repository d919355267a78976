//! Notion as a source: staff edit pages in Notion, and those edits trigger
//! rules like any webhook (the older server's contact monitoring).
//!
//! Every interval (5 minutes by default) each watched database is queried for
//! pages edited on or after its cursor. Each page becomes a request to the
//! `notion` source (rules/sources/notion.toml) with a body of plain values:
//! the envelope of Notion's own webhooks (`id`, `type`: "page.created" or
//! "page.properties_updated", `entity.id`) plus `database` (its key) and
//! `properties` (plain values: `{"Email": "ada@example.com", ...}`). It is
//! normalised, planned and stored exactly as a webhook would be.
//!
//! Notion's `last_edited_time` has minute precision, so the cursor is
//! inclusive and pages at the cursor come back on the next poll; the event id
//! (`<page id>@<edit time>`) makes those repeats duplicates that plan nothing.
//! Pages last edited by hsflow's own integration are skipped: a rule that
//! writes a page must not trigger itself. The cursor lives in the store, so a
//! restart resumes where it stopped; the first poll of a database starts from
//! "now" rather than replaying its history.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::webhooks::{accept_internal, Internal};
use super::App;
use crate::sinks::notion::{database, NotionClient};

pub struct Poller {
    pub app: Arc<App>,
    pub client: Arc<NotionClient>,
    /// Database keys (rules/databases.toml) to watch.
    pub databases: Vec<String>,
    pub interval: Duration,
}

/// A property's plain value: text as text, selects as names, dates as their start.
pub fn plain(prop: &Value) -> Value {
    // Pages from the API say their type; local pages are just `{"<type>": value}`.
    let kind = prop["type"].as_str().unwrap_or_else(|| {
        prop.as_object()
            .and_then(|m| m.keys().find(|k| *k != "id").map(String::as_str))
            .unwrap_or("")
    });
    let v = &prop[kind];
    let names = |a: &Value| -> Value {
        Value::Array(
            a.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("name").or_else(|| x.get("id")).cloned())
                        .collect()
                })
                .unwrap_or_default(),
        )
    };
    match kind {
        "title" | "rich_text" => Value::String(
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| {
                            t["plain_text"]
                                .as_str()
                                .or_else(|| t.pointer("/text/content")?.as_str())
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "select" | "status" => v.get("name").cloned().unwrap_or(Value::Null),
        "multi_select" | "relation" | "people" => names(v),
        "date" => v.get("start").cloned().unwrap_or(Value::Null),
        "formula" => v
            .get(v["type"].as_str().unwrap_or(""))
            .cloned()
            .unwrap_or(Value::Null),
        _ => v.clone(),
    }
}

/// Every property of a page (API or local) as its plain value.
pub fn plain_properties(page: &Value) -> Map<String, Value> {
    page["properties"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
        .unwrap_or_default()
}

impl Poller {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let me = loop {
            match self.client.me().await {
                Ok(id) => break id,
                Err(e) => {
                    tracing::warn!(
                        "Notion polling can't start yet (GET /v1/users/me: {e}); trying again"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(self.interval) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        };
        loop {
            for key in &self.databases {
                match self.poll(key, &me).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("Notion {key}: {n} edited pages became events"),
                    Err(e) => tracing::warn!(
                        "Notion {key}: polling failed ({e}); the next poll tries again"
                    ),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One poll of one database; returns how many pages were accepted as events.
    pub async fn poll(&self, key: &str, me: &str) -> Result<usize, String> {
        let rs = self.app.rules.current();
        let src = rs
            .sources
            .get("notion")
            .ok_or("there is no rules/sources/notion.toml to normalise Notion pages with")?;
        let (_, id) = database(&rs, key).map_err(|e| e.to_string())?;
        let cursor_name = format!("notion:{key}");
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let Some(since) = self
            .app
            .store
            .cursor(&cursor_name)
            .await
            .map_err(|e| e.to_string())?
        else {
            self.app
                .store
                .set_cursor(&cursor_name, &now)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(0);
        };
        let filter =
            json!({"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": since}});
        let pages = self
            .client
            .query(&id, Some(&filter))
            .await
            .map_err(|e| e.to_string())?;
        let mut newest = since.clone();
        let mut accepted = 0;
        for page in &pages {
            let edited = page["last_edited_time"].as_str().unwrap_or_default();
            if edited > newest.as_str() {
                newest = edited.to_string();
            }
            if page.pointer("/last_edited_by/id").and_then(Value::as_str) == Some(me) {
                continue;
            }
            let created = page["created_time"].as_str().unwrap_or_default();
            let props = plain_properties(page);
            let page_id = page["id"].as_str().unwrap_or_default();
            // The envelope of Notion's own webhooks, plus the page's values.
            let body = json!({
                "id": format!("{page_id}@{edited}"),
                "timestamp": edited,
                "type": if created >= since.as_str() { "page.created" } else { "page.properties_updated" },
                "entity": {"id": page_id, "type": "page"},
                "data": {"parent": {"id": id, "type": "database"}},
                "database": key, "url": page["url"], "properties": props,
            });
            match accept_internal(&self.app, &rs, src, &body).await {
                Internal::Accepted => accepted += 1,
                Internal::Duplicate => {}
                // The page doesn't fit the source: say so, move on.
                Internal::Refused(why) => {
                    tracing::warn!(
                        "Notion {key}: page {page_id} was not accepted as an event: {why}"
                    )
                }
                Internal::Failed(why) => {
                    return Err(format!(
                        "the event for page {page_id} could not be stored ({why})"
                    ))
                }
            }
        }
        self.app
            .store
            .set_cursor(&cursor_name, &newest)
            .await
            .map_err(|e| e.to_string())?;
        Ok(accepted)
    }
}
