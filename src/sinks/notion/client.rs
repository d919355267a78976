//! The Notion REST API, the few calls hsflow needs: create a page, update a
//! page, query a database (every page of results), read a database's schema.
//!
//! Two API flavours are spoken. Up to 2022-06-28 a database is queried and
//! described at `/v1/databases/{id}`. From 2025-09-03 a database holds data
//! sources: its id is looked up once (`GET /v1/databases/{id}` lists them)
//! and queries, schemas and page parents go through the data source.
//!
//! Every request waits for its slot in one shared [`Spacing`] (3 requests/s
//! by default). A 429 or 529 is retried here, twice, after its Retry-After
//! (the official SDK does the same); anything still failing goes back to the
//! dispatcher as a [`SinkError`] with Notion's own message.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use tokio::sync::Mutex;

use crate::sinks::http::{self, Spacing};
use crate::sinks::SinkError;

/// How to reach Notion.
#[derive(Debug, Clone)]
pub struct NotionConfig {
    /// `https://api.notion.com` (or a simulator).
    pub base_url: String,
    pub token: String,
    /// The `Notion-Version` header: 2022-06-28 by default; 2025-09-03 or later
    /// switches to data sources.
    pub version: String,
    /// Requests per second across all workers.
    pub rate: f64,
    pub timeout: Duration,
}

impl NotionConfig {
    pub const DEFAULT_VERSION: &'static str = "2022-06-28";

    pub fn uses_data_sources(&self) -> bool {
        self.version.as_str() >= "2025-09-03"
    }
}

pub struct NotionClient {
    cfg: NotionConfig,
    http: reqwest::Client,
    spacing: Spacing,
    /// Database id -> its data source id (2025-09-03 mode), looked up once.
    data_sources: Mutex<HashMap<String, String>>,
}

/// How many times a 429/529 is retried inside one call.
const RATE_LIMIT_RETRIES: u32 = 2;
/// Longest Retry-After waited for inline; longer ones go back to the dispatcher.
const INLINE_WAIT_MAX: Duration = Duration::from_secs(10);

impl NotionClient {
    pub fn new(cfg: NotionConfig) -> Result<NotionClient, String> {
        Ok(NotionClient {
            http: http::client(cfg.timeout)?,
            spacing: Spacing::per_second(cfg.rate),
            data_sources: Mutex::new(HashMap::new()),
            cfg,
        })
    }

    pub fn config(&self) -> &NotionConfig {
        &self.cfg
    }

    /// One API call, with the rate limit and the inline 429 retries.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, SinkError> {
        let url = format!("{}/v1/{}", self.cfg.base_url.trim_end_matches('/'), path);
        let mut attempt = 0;
        loop {
            if let Err(left) = self.spacing.wait(INLINE_WAIT_MAX).await {
                return Err(SinkError::Retryable {
                    reason: format!(
                        "Notion asked for a pause ({}s left); nothing was sent",
                        left.as_secs()
                    ),
                    retry_after: Some(left),
                });
            }
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.cfg.token)
                .header("Notion-Version", &self.cfg.version);
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| http::unreachable("Notion", &e))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let text = resp
                .text()
                .await
                .map_err(|e| http::unreachable("Notion", &e))?;
            if status.is_success() {
                return serde_json::from_str(&text).map_err(|e| {
                    SinkError::retryable(format!(
                        "Notion answered {status} with a body that isn't JSON: {e}"
                    ))
                });
            }
            let limited = status == StatusCode::TOO_MANY_REQUESTS || status.as_u16() == 529;
            let wait = http::retry_after(&headers).unwrap_or(Duration::from_secs(1));
            if limited {
                self.spacing.pause(wait).await;
                if attempt < RATE_LIMIT_RETRIES && wait <= INLINE_WAIT_MAX {
                    attempt += 1;
                    tracing::debug!("Notion rate limit on {path}; retrying after {wait:?}");
                    continue;
                }
            }
            return Err(http::failure(
                "Notion",
                status,
                &headers,
                &error_message(&text),
            ));
        }
    }

    /// Where queries and page parents go for database `db`.
    async fn target(&self, db: &str) -> Result<Target, SinkError> {
        if !self.cfg.uses_data_sources() {
            return Ok(Target::Database(db.to_string()));
        }
        if let Some(ds) = self.data_sources.lock().await.get(db) {
            return Ok(Target::DataSource(ds.clone()));
        }
        let info = self
            .call(Method::GET, &format!("databases/{db}"), None)
            .await?;
        let sources = info["data_sources"].as_array().cloned().unwrap_or_default();
        let Some(ds) = sources.first().and_then(|s| s["id"].as_str()) else {
            return Err(SinkError::Permanent(format!(
                "the Notion database {db} has no data source (Notion-Version {})",
                self.cfg.version
            )));
        };
        if sources.len() > 1 {
            tracing::warn!(
                "the Notion database {db} has {} data sources; hsflow uses the first",
                sources.len()
            );
        }
        self.data_sources
            .lock()
            .await
            .insert(db.to_string(), ds.to_string());
        Ok(Target::DataSource(ds.to_string()))
    }

    pub async fn create_page(
        &self,
        db: &str,
        properties: &Map<String, Value>,
    ) -> Result<Value, SinkError> {
        let parent = match self.target(db).await? {
            Target::Database(id) => json!({"database_id": id}),
            Target::DataSource(id) => json!({"type": "data_source_id", "data_source_id": id}),
        };
        let body = json!({"parent": parent, "properties": properties});
        self.call(Method::POST, "pages", Some(&body)).await
    }

    pub async fn update_page(
        &self,
        page_id: &str,
        properties: &Map<String, Value>,
    ) -> Result<Value, SinkError> {
        let body = json!({"properties": properties});
        self.call(Method::PATCH, &format!("pages/{page_id}"), Some(&body))
            .await
    }

    /// One page of query results and the cursor of the next.
    pub async fn query_page(
        &self,
        db: &str,
        filter: Option<&Value>,
        cursor: Option<&str>,
        page_size: u32,
    ) -> Result<(Vec<Value>, Option<String>), SinkError> {
        let path = match self.target(db).await? {
            Target::Database(id) => format!("databases/{id}/query"),
            Target::DataSource(id) => format!("data_sources/{id}/query"),
        };
        let mut body = json!({"page_size": page_size.clamp(1, 100)});
        if let Some(f) = filter {
            body["filter"] = f.clone();
        }
        if let Some(c) = cursor {
            body["start_cursor"] = json!(c);
        }
        let r = self.call(Method::POST, &path, Some(&body)).await?;
        let results = r["results"].as_array().cloned().unwrap_or_default();
        let next = match (r["has_more"].as_bool(), r["next_cursor"].as_str()) {
            (Some(true), Some(c)) => Some(c.to_string()),
            _ => None,
        };
        Ok((results, next))
    }

    /// Every page matching `filter`, following `next_cursor` to the end.
    pub async fn query(&self, db: &str, filter: Option<&Value>) -> Result<Vec<Value>, SinkError> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let (mut page, next) = self.query_page(db, filter, cursor.as_deref(), 100).await?;
            all.append(&mut page);
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(all),
            }
        }
    }

    /// The integration's own user id: pages it last edited are not staff edits.
    pub async fn me(&self) -> Result<String, SinkError> {
        let r = self.call(Method::GET, "users/me", None).await?;
        r["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| SinkError::retryable("Notion described the integration without an id"))
    }

    /// The database's properties as Notion describes them (`{name: {type, ...}}`).
    pub async fn schema(&self, db: &str) -> Result<Map<String, Value>, SinkError> {
        let path = match self.target(db).await? {
            Target::Database(id) => format!("databases/{id}"),
            Target::DataSource(id) => format!("data_sources/{id}"),
        };
        let r = self.call(Method::GET, &path, None).await?;
        match r.get("properties") {
            Some(Value::Object(m)) => Ok(m.clone()),
            _ => Err(SinkError::Permanent(format!(
                "Notion described {path} without properties"
            ))),
        }
    }
}

enum Target {
    Database(String),
    DataSource(String),
}

/// Notion's error body says what went wrong in `message`; keep its code too.
fn error_message(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => match (v["code"].as_str(), v["message"].as_str()) {
            (Some(code), Some(msg)) => format!("{code}: {msg}"),
            (None, Some(msg)) => msg.to_string(),
            _ => body.chars().take(300).collect(),
        },
        Err(_) => body.chars().take(300).collect(),
    }
}
