//! A Notion API simulator: a local HTTP server that behaves as
//! ../shared/reference/external-apis.md says api.notion.com does.
//!
//! It is strict where Notion is strict, so a sink that passes against it has
//! sent what Notion would accept: the bearer token and `Notion-Version` are
//! required (400 `missing_version`), page bodies are validated per property
//! type against the database's schema (unknown properties, wrong shapes, text
//! over 2,000 characters and arrays over 100 are 400 `validation_error`),
//! queries paginate at `page_size` (at most 100) and a rate limit answers 429
//! with `Retry-After`. Both API flavours are served: 2022-06-28 (databases)
//! and 2025-09-03 (data sources).
//!
//! Tests can also inject faults: a number of 5xx answers, or "crash after
//! write" (the page is created, then the answer is a 500), which is what a
//! connection lost mid-send looks like to the client.

// Handlers return an early answer as `Err(Response)`; boxing it buys nothing in a test server.
#![allow(clippy::result_large_err)]

mod handlers;
mod validate;

use handlers::*;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

pub use validate::PropType;

pub const TOKEN: &str = "secret_sim_token";
/// The integration's bot user: the author of every write made with [`TOKEN`].
pub const BOT: &str = "bot-00000000-0000-4000-8000-000000000001";
/// A person editing in the Notion app.
pub const STAFF: &str = "user-00000000-0000-4000-8000-000000000002";

/// One simulated database: its schema and its pages.
#[derive(Debug, Clone)]
pub struct Database {
    pub id: String,
    pub data_source_id: String,
    pub name: String,
    pub properties: BTreeMap<String, PropType>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub id: String,
    pub database: String,
    pub properties: Map<String, Value>,
    pub created_time: String,
    pub last_edited_time: String,
    pub last_edited_by: String,
}

/// Faults and limits a test can set while the simulator runs.
#[derive(Debug, Default)]
pub struct Faults {
    /// Requests allowed per window before 429s (None: no limit).
    pub rate_limit: Option<(u32, Duration)>,
    /// The Retry-After (seconds) sent with 429.
    pub retry_after_s: u64,
    /// The next N requests answer 503 service_unavailable.
    pub unavailable: u32,
    /// The next N writes (create/update) happen, then answer 500 as if the connection dropped.
    pub crash_after_write: u32,
    /// Added to every answer (a slow network widens race windows).
    pub latency: Duration,
}

#[derive(Default)]
struct Inner {
    databases: Vec<Database>,
    pages: Vec<Page>,
    faults: Faults,
    window: Option<(Instant, u32)>,
    /// Every request: (method, path, status).
    log: Vec<(String, String, u16)>,
    next_id: u64,
}

#[derive(Clone, Default)]
pub struct NotionSim {
    inner: Arc<Mutex<Inner>>,
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let request_id = format!("req-{}", uuid_like(status as u64));
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(json!({"object": "error", "status": status, "code": code, "message": message, "request_id": request_id})),
    )
        .into_response();
    if let Ok(v) = request_id.parse() {
        r.headers_mut().insert("x-notion-request-id", v);
    }
    r
}

fn uuid_like(n: u64) -> String {
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        n,
        n.wrapping_mul(2654435761)
    )
}

impl NotionSim {
    pub fn new(databases: Vec<Database>) -> NotionSim {
        let sim = NotionSim::default();
        sim.lock().databases = databases;
        sim
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Change faults while running.
    pub fn faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.lock().faults)
    }

    /// A simulator serving the databases of a project (`dir` holds rules/ and
    /// templates/): ids `db-<key>`, data sources `ds-<key>`, each changed by `edit`.
    pub fn from_project(dir: &std::path::Path, edit: impl Fn(&mut Database)) -> NotionSim {
        let rs = hsflow::rules::load(&dir.join("rules"), &dir.join("templates"))
            .ruleset
            .expect("the project's rules load");
        let dbs = rs
            .databases
            .values()
            .map(|d| {
                let mut db = Database {
                    id: format!("db-{}", d.key),
                    data_source_id: format!("ds-{}", d.key),
                    name: d.name.clone(),
                    properties: d
                        .properties
                        .iter()
                        .filter_map(|(n, t)| Some((n.clone(), PropType::parse(t.api_name())?)))
                        .collect(),
                };
                edit(&mut db);
                db
            })
            .collect();
        NotionSim::new(dbs)
    }

    /// A person creates a page in the Notion app (properties as the API returns them).
    pub fn staff_create(&self, database: &str, properties: Map<String, Value>) -> String {
        let mut g = self.lock();
        g.next_id += 1;
        let t = now_iso();
        let id = uuid_like(g.next_id);
        g.pages.push(Page {
            id: id.clone(),
            database: database.into(),
            properties,
            created_time: t.clone(),
            last_edited_time: t,
            last_edited_by: STAFF.into(),
        });
        id
    }

    /// A person edits a page in the Notion app.
    pub fn staff_edit(&self, page_id: &str, properties: Map<String, Value>) {
        let mut g = self.lock();
        if let Some(p) = g.pages.iter_mut().find(|p| p.id == page_id) {
            p.properties.extend(properties);
            p.last_edited_time = now_iso();
            p.last_edited_by = STAFF.into();
        }
    }

    pub fn pages(&self, database: &str) -> Vec<Page> {
        self.lock()
            .pages
            .iter()
            .filter(|p| p.database == database)
            .cloned()
            .collect()
    }

    /// How many requests got each status.
    pub fn statuses(&self) -> BTreeMap<u16, usize> {
        let mut m = BTreeMap::new();
        for (_, _, s) in &self.lock().log {
            *m.entry(*s).or_default() += 1;
        }
        m
    }

    pub fn requests(&self) -> Vec<(String, String, u16)> {
        self.lock().log.clone()
    }

    /// Serve on a free local port; returns the base URL (no trailing slash).
    pub async fn start(&self) -> String {
        let app = Router::new()
            .route("/v1/users/me", get(users_me))
            .route("/v1/pages", post(create_page))
            .route("/v1/pages/{id}", patch(update_page))
            .route("/v1/databases/{id}", get(get_database))
            .route("/v1/databases/{id}/query", post(query_database))
            .route("/v1/data_sources/{id}", get(get_data_source))
            .route("/v1/data_sources/{id}/query", post(query_data_source))
            .layer(axum::middleware::from_fn_with_state(self.clone(), slow))
            .with_state(self.clone());
        super::serve_local(app).await
    }

    /// Headers, rate limit and injected unavailability, in Notion's order.
    /// Returns the API version on success.
    fn admit(&self, method: &str, path: &str, h: &HeaderMap) -> Result<String, Response> {
        let mut g = self.lock();
        let outcome = admit_locked(&mut g, h);
        let status = match &outcome {
            Ok(_) => 200,
            Err(r) => r.status().as_u16(),
        };
        g.log.push((method.into(), path.into(), status));
        outcome
    }

    fn database(&self, id: &str, by_source: bool) -> Option<Database> {
        self.lock()
            .databases
            .iter()
            .find(|d| {
                if by_source {
                    d.data_source_id == id
                } else {
                    d.id == id
                }
            })
            .cloned()
    }

    /// A write happened; with `crash_after_write` set, its answer is lost.
    fn after_write(&self, ok: Response) -> Response {
        let mut g = self.lock();
        if g.faults.crash_after_write > 0 {
            g.faults.crash_after_write -= 1;
            if let Some(last) = g.log.last_mut() {
                last.2 = 500;
            }
            return error(500, "internal_server_error", "Unexpected error occurred.");
        }
        ok
    }
}

async fn slow(
    State(sim): State<NotionSim>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let latency = sim.lock().faults.latency;
    tokio::time::sleep(latency).await;
    next.run(req).await
}

fn admit_locked(g: &mut Inner, h: &HeaderMap) -> Result<String, Response> {
    let auth = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {TOKEN}") {
        return Err(error(401, "unauthorized", "API token is invalid."));
    }
    let Some(version) = h.get("notion-version").and_then(|v| v.to_str().ok()) else {
        return Err(error(
            400,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
        ));
    };
    const KNOWN: [&str; 6] = [
        "2021-05-13",
        "2021-08-16",
        "2022-02-22",
        "2022-06-28",
        "2025-09-03",
        "2026-03-11",
    ];
    if !KNOWN.contains(&version) {
        return Err(error(
            400,
            "invalid_request",
            &format!("Notion-Version {version} is not a valid version."),
        ));
    }
    if let Some((limit, window)) = g.faults.rate_limit {
        let now = Instant::now();
        let (start, count) = g.window.get_or_insert((now, 0));
        if now.duration_since(*start) >= window {
            *start = now;
            *count = 0;
        }
        *count += 1;
        if *count > limit {
            let mut r = error(
                429,
                "rate_limited",
                "You have been rate limited. Please try again in a few minutes.",
            );
            if let Ok(v) = g.faults.retry_after_s.to_string().parse() {
                r.headers_mut().insert("retry-after", v);
            }
            return Err(r);
        }
    }
    if g.faults.unavailable > 0 {
        g.faults.unavailable -= 1;
        return Err(error(
            503,
            "service_unavailable",
            "Notion is unavailable, please try again later.",
        ));
    }
    Ok(version.to_string())
}
