//! The simulator's endpoints: pages (create, update), databases and data
//! sources (describe, query) and the integration's own user, each answering
//! as the Notion API does for the version the request names.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::validate::{self, PropType};
use super::{error, uuid_like, Database, NotionSim, Page, BOT};

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

pub(super) fn now_iso() -> String {
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

pub(super) async fn users_me(State(sim): State<NotionSim>, h: HeaderMap) -> Response {
    if let Err(r) = sim.admit("GET", "/v1/users/me", &h) {
        return r;
    }
    Json(json!({"object": "user", "id": BOT, "type": "bot", "name": "hsflow", "bot": {}}))
        .into_response()
}

pub(super) async fn create_page(
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

pub(super) async fn update_page(
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

pub(super) async fn get_database(
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

pub(super) async fn get_data_source(
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

pub(super) async fn query_database(
    State(sim): State<NotionSim>,
    Path(id): Path<String>,
    h: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    query(sim, id, h, body, false).await
}

pub(super) async fn query_data_source(
    State(sim): State<NotionSim>,
    Path(id): Path<String>,
    h: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    query(sim, id, h, body, true).await
}

pub(super) async fn query(
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
