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

mod validate;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Notion simulator");
        let addr = listener.local_addr().expect("simulator address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
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

fn uses_data_sources(version: &str) -> bool {
    version >= "2025-09-03"
}

fn page_json(p: &Page, db: &Database, version: &str) -> Value {
    let parent = if uses_data_sources(version) {
        json!({"type": "data_source_id", "data_source_id": db.data_source_id, "database_id": db.id})
    } else {
        json!({"type": "database_id", "database_id": db.id})
    };
    let mut props = Map::new();
    for (name, v) in &p.properties {
        let mut v = v.clone();
        if let (Value::Object(m), Some(t)) = (&mut v, db.properties.get(name)) {
            m.insert("type".into(), json!(t.key()));
            m.insert("id".into(), json!(validate::property_id(name)));
        }
        props.insert(name.clone(), v);
    }
    json!({"object": "page", "id": p.id, "created_time": p.created_time, "last_edited_time": p.last_edited_time,
           "last_edited_by": {"object": "user", "id": p.last_edited_by},
           "archived": false, "in_trash": false, "url": format!("https://www.notion.so/{}", p.id.replace('-', "")),
           "parent": parent, "properties": props})
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(error(
            400,
            "validation_error",
            "body failed validation: body should be an object.",
        )),
        Err(e) => Err(error(
            400,
            "invalid_json",
            &format!("Error parsing JSON body: {e}"),
        )),
    }
}

async fn users_me(State(sim): State<NotionSim>, h: HeaderMap) -> Response {
    if let Err(r) = sim.admit("GET", "/v1/users/me", &h) {
        return r;
    }
    Json(json!({"object": "user", "id": BOT, "type": "bot", "name": "hsflow", "bot": {}}))
        .into_response()
}

async fn create_page(
    State(sim): State<NotionSim>,
    h: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let version = match sim.admit("POST", "/v1/pages", &h) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let parent = body.get("parent").cloned().unwrap_or(Value::Null);
    let db = match (parent.get("database_id"), parent.get("data_source_id")) {
        (Some(Value::String(id)), _) => sim.database(id, false),
        (_, Some(Value::String(id))) if uses_data_sources(&version) => sim.database(id, true),
        (_, Some(_)) => {
            return error(
                400,
                "validation_error",
                "body failed validation: body.parent.data_source_id is not supported before Notion-Version 2025-09-03.",
            )
        }
        _ => {
            return error(
                400,
                "validation_error",
                "body failed validation: body.parent.database_id should be defined, instead was `undefined`.",
            )
        }
    };
    let Some(db) = db else {
        return error(404, "object_not_found", "Could not find database. Make sure the relevant pages and databases are shared with your integration.");
    };
    let props = body.get("properties").cloned().unwrap_or(json!({}));
    let props = match validate::properties(&db, &props, true) {
        Ok(p) => p,
        Err(m) => return error(400, "validation_error", &m),
    };
    let page = {
        let mut g = sim.lock();
        g.next_id += 1;
        let t = now_iso();
        let page = Page {
            id: uuid_like(g.next_id),
            database: db.id.clone(),
            properties: props,
            created_time: t.clone(),
            last_edited_time: t,
            last_edited_by: BOT.into(),
        };
        g.pages.push(page.clone());
        page
    };
    sim.after_write(Json(page_json(&page, &db, &version)).into_response())
}

async fn update_page(
    State(sim): State<NotionSim>,
    Path(id): Path<String>,
    h: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let version = match sim.admit("PATCH", &format!("/v1/pages/{id}"), &h) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(page) = sim.lock().pages.iter().find(|p| p.id == id).cloned() else {
        return error(
            404,
            "object_not_found",
            &format!("Could not find page with ID: {id}."),
        );
    };
    let Some(db) = sim.database(&page.database, false) else {
        return error(404, "object_not_found", "Could not find database.");
    };
    let props = body.get("properties").cloned().unwrap_or(json!({}));
    let props = match validate::properties(&db, &props, false) {
        Ok(p) => p,
        Err(m) => return error(400, "validation_error", &m),
    };
    let updated = {
        let mut g = sim.lock();
        let Some(p) = g.pages.iter_mut().find(|p| p.id == id) else {
            return error(404, "object_not_found", "Could not find page.");
        };
        p.properties.extend(props);
        p.last_edited_time = now_iso();
        p.last_edited_by = BOT.into();
        p.clone()
    };
    sim.after_write(Json(page_json(&updated, &db, &version)).into_response())
}

fn schema_json(db: &Database) -> Map<String, Value> {
    db.properties
        .iter()
        .map(|(name, t)| {
            let id = if *t == PropType::Title {
                "title".to_string()
            } else {
                validate::property_id(name)
            };
            (
                name.clone(),
                json!({"id": id, "name": name, "type": t.key(), t.key(): {}}),
            )
        })
        .collect()
}

async fn get_database(
    State(sim): State<NotionSim>,
    Path(id): Path<String>,
    h: HeaderMap,
) -> Response {
    let version = match sim.admit("GET", &format!("/v1/databases/{id}"), &h) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(db) = sim.database(&id, false) else {
        return error(404, "object_not_found", &format!("Could not find database with ID: {id}. Make sure the relevant pages and databases are shared with your integration."));
    };
    let title = json!([{"type": "text", "text": {"content": db.name}, "plain_text": db.name}]);
    if uses_data_sources(&version) {
        Json(json!({"object": "database", "id": db.id, "title": title,
                    "data_sources": [{"id": db.data_source_id, "name": db.name}]}))
        .into_response()
    } else {
        Json(json!({"object": "database", "id": db.id, "title": title, "properties": schema_json(&db)}))
            .into_response()
    }
}

async fn get_data_source(
    State(sim): State<NotionSim>,
    Path(id): Path<String>,
    h: HeaderMap,
) -> Response {
    let version = match sim.admit("GET", &format!("/v1/data_sources/{id}"), &h) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !uses_data_sources(&version) {
        return error(400, "invalid_request_url", "Invalid request URL.");
    }
    let Some(db) = sim.database(&id, true) else {
        return error(
            404,
            "object_not_found",
            &format!("Could not find data source with ID: {id}."),
        );
    };
    Json(json!({"object": "data_source", "id": db.data_source_id, "parent": {"type": "database_id", "database_id": db.id},
                "properties": schema_json(&db)}))
    .into_response()
}

async fn query_database(
    State(sim): State<NotionSim>,
    Path(id): Path<String>,
    h: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    query(sim, id, h, body, false).await
}

async fn query_data_source(
    State(sim): State<NotionSim>,
    Path(id): Path<String>,
    h: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    query(sim, id, h, body, true).await
}

async fn query(
    sim: NotionSim,
    id: String,
    h: HeaderMap,
    body: axum::body::Bytes,
    by_source: bool,
) -> Response {
    let path = if by_source {
        format!("/v1/data_sources/{id}/query")
    } else {
        format!("/v1/databases/{id}/query")
    };
    let version = match sim.admit("POST", &path, &h) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if uses_data_sources(&version) != by_source {
        return error(400, "invalid_request_url", "Invalid request URL.");
    }
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(db) = sim.database(&id, by_source) else {
        return error(
            404,
            "object_not_found",
            &format!("Could not find database with ID: {id}."),
        );
    };
    let page_size = body.get("page_size").and_then(Value::as_u64).unwrap_or(100);
    if !(1..=100).contains(&page_size) {
        return error(400, "validation_error", &format!("body failed validation: body.page_size should be ≤ `100`, instead was `{page_size}`."));
    }
    let filter = body.get("filter").cloned();
    let mut matching = Vec::new();
    for p in sim.pages(&db.id) {
        match validate::filter_matches(&db, filter.as_ref(), &p) {
            Ok(true) => matching.push(p),
            Ok(false) => {}
            Err(m) => return error(400, "validation_error", &m),
        }
    }
    let start = match body.get("start_cursor").and_then(Value::as_str) {
        None => 0,
        Some(c) => match matching.iter().position(|p| p.id == c) {
            Some(i) => i,
            None => {
                return error(
                    400,
                    "validation_error",
                    "body failed validation: body.start_cursor should be a valid cursor.",
                )
            }
        },
    };
    let end = (start + page_size as usize).min(matching.len());
    let results: Vec<Value> = matching[start..end]
        .iter()
        .map(|p| page_json(p, &db, &version))
        .collect();
    let next = matching
        .get(end)
        .map(|p| json!(p.id))
        .unwrap_or(Value::Null);
    Json(json!({"object": "list", "results": results, "next_cursor": next, "has_more": end < matching.len(),
                "type": "page_or_database", "page_or_database": {}}))
    .into_response()
}
