//! The rules as served, simulation over HTTP, and the contact-workflow API
//! of the older server (same paths, now backed by the rule engine).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::Admin;
use super::webhooks::{accept, error};
use super::App;
use crate::engine::plan::{plan, Options};
use crate::sources::auth::AuthError;
use crate::sources::intake::{intake, IntakeError};
use crate::sources::normalise::Request;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/rules", get(rules))
        .route("/api/simulate", post(simulate))
        .route("/api/stats", get(stats))
        .route("/api/notion/{database}", get(notion_pages))
        .route("/api/contact-workflows/new-contact", post(new_contact))
        .route("/api/contact-workflows/trigger", post(trigger))
        .route("/api/contact-workflows/status", get(status))
        .route("/api/contact-workflows/templates", get(templates))
        // The older server's paths, kept as aliases: every admin route is
        // also under /api/, so one proxy rule can guard them all.
        .route("/contact-workflows/new-contact", post(new_contact))
        .route("/contact-workflows/trigger", post(trigger))
        .route("/contact-workflows/status", get(status))
        .route("/contact-workflows/templates", get(templates))
}

async fn rules(State(app): State<Arc<App>>, _admin: Admin) -> Response {
    let rs = app.rules.current();
    let status = app.rules.status();
    let flows: Vec<Value> = rs
        .flows
        .iter()
        .map(|f| json!({"id": f.id, "description": f.description, "file": f.file, "rules": rs.rules.iter().filter(|r| *r.flow == *f.id).map(|r| json!({"id": r.id, "on": r.on.iter().map(|p| &p.text).collect::<Vec<_>>(), "enabled": r.enabled})).collect::<Vec<_>>()}))
        .collect();
    Json(json!({
        "version": rs.version,
        "loaded_at": status.loaded_at,
        "files": rs.files,
        "sources": rs.sources.keys().collect::<Vec<_>>(),
        "flows": flows,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct SimulateRequest {
    source: String,
    /// The request body: a JSON value, or a string sent as is (form bodies).
    body: Value,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
    /// Check the signature, as `hsflow simulate --verify` does.
    #[serde(default)]
    verify: bool,
}

/// What `hsflow simulate --format json` prints, for a body sent over HTTP. No side effects.
async fn simulate(
    State(app): State<Arc<App>>,
    _admin: Admin,
    Json(req): Json<SimulateRequest>,
) -> Response {
    let rs = app.rules.current();
    let body = match &req.body {
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    };
    let headers: Vec<(String, String)> = req.headers.into_iter().collect();
    let r = Request {
        headers: &headers,
        body: &body,
    };
    match intake(
        &rs,
        &req.source,
        &r,
        req.at.unwrap_or_else(Utc::now),
        req.verify,
        &|k| std::env::var(k).ok(),
    ) {
        Ok(ev) => Json(plan(&rs, &ev, Options::default())).into_response(),
        Err(e @ IntakeError::UnknownSource(..)) => error(StatusCode::NOT_FOUND, e.to_string()),
        // The simulation worked: its finding is that hsflow would refuse
        // this request, and with which status.
        Err(e) => {
            let would = match &e {
                IntakeError::Auth(AuthError::SecretNotSet(_)) => 503,
                IntakeError::Auth(AuthError::Internal) => 403,
                IntakeError::Auth(_) => 401,
                _ => 400,
            };
            Json(json!({"refused": e.to_string(), "would_answer": would})).into_response()
        }
    }
}

/// Feed a body to the `manual` source, with `event` set if the caller didn't.
/// Whether `s` looks like an email address: something@domain.tld, no spaces.
pub fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.trim().rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s
            .trim()
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
}

async fn through_manual(
    app: &App,
    mut body: Value,
    event: Option<&str>,
    headers_in: &HeaderMap,
) -> Response {
    let rs = app.rules.current();
    let Some(src) = rs.sources.get("manual") else {
        return error(StatusCode::NOT_FOUND, "there is no rules/sources/manual.toml, so the contact-workflow API has nothing to feed");
    };
    let Some(obj) = body.as_object_mut() else {
        return error(StatusCode::BAD_REQUEST, "the body must be a JSON object");
    };
    if let Some(why) = wrong_field(obj) {
        return error(StatusCode::BAD_REQUEST, why);
    }
    match obj.get("email") {
        Some(Value::String(e)) if looks_like_email(e) => {}
        Some(Value::String(e)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("`email` must be an email address like ada@example.com; got {e:?}"),
            )
        }
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "`email` must be text: an email address like ada@example.com",
            )
        }
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "the body needs an `email`: {\"email\": \"ada@example.com\", ...}",
            )
        }
    }
    if let Some(ev) = event {
        obj.entry("event").or_insert_with(|| json!(ev));
    }
    let bytes = body.to_string().into_bytes();
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    // The request id goes with the event (see access.rs).
    if let Some(id) = headers_in.get("x-request-id").and_then(|v| v.to_str().ok()) {
        headers.push(("x-request-id".to_string(), id.to_string()));
    }
    accept(
        app,
        &rs,
        src,
        &Request {
            headers: &headers,
            body: &bytes,
        },
    )
    .await
}

/// POST /contact-workflows/new-contact: {email, first_name?, last_name?, contact_types[], lead_source, ...}
async fn new_contact(
    State(app): State<Arc<App>>,
    _admin: Admin,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    through_manual(&app, body, Some("new_contact"), &headers).await
}

/// What a contact can do, as POST /contact-workflows/trigger names it.
pub const TRIGGER_EVENTS: [&str; 6] = [
    "replied",
    "booked",
    "bought",
    "became_client",
    "consultation.completed",
    "unsubscribed",
];

/// The fields of a new contact that have a type, and which: text or a list of text.
const CONTACT_TEXT: [&str; 3] = ["first_name", "last_name", "lead_source"];
const CONTACT_LISTS: [&str; 4] = ["contact_types", "business_entities", "tags", "interests"];

/// A sentence naming the first field of `obj` that has the wrong type.
fn wrong_field(obj: &serde_json::Map<String, Value>) -> Option<String> {
    for f in CONTACT_TEXT {
        if obj.get(f).is_some_and(|v| !v.is_string() && !v.is_null()) {
            return Some(format!("`{f}` must be text"));
        }
    }
    for f in CONTACT_LISTS {
        let ok = match obj.get(f) {
            None | Some(Value::Null) => true,
            Some(Value::Array(a)) => a.iter().all(Value::is_string),
            Some(_) => false,
        };
        if !ok {
            return Some(format!("`{f}` must be a list of text, e.g. [\"wellness\"]"));
        }
    }
    None
}

/// POST /contact-workflows/trigger: {email, event: "replied" | "booked" | "bought" | "became_client" | "consultation.completed", ...}
async fn trigger(
    State(app): State<Arc<App>>,
    _admin: Admin,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    match body.get("event").and_then(Value::as_str) {
        Some(e) if TRIGGER_EVENTS.contains(&e) => {}
        Some(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "`event` is {e:?}; it can be one of: {}",
                    TRIGGER_EVENTS.join(", ")
                ),
            )
        }
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "say which event: {\"email\": ..., \"event\": \"replied\"}",
            )
        }
    }
    if body.get("event").and_then(Value::as_str) == Some("unsubscribed") {
        return unsubscribed(&app, &body).await;
    }
    through_manual(&app, body, None, &headers).await
}

/// `{"event": "unsubscribed"}`: the contact asked (by phone, in person, in a
/// reply) to get no more marketing email. Suppressed as an unsubscribe link
/// would: waiting marketing email cancelled, `hsflow:contact.unsubscribed` raised.
async fn unsubscribed(app: &App, body: &Value) -> Response {
    let Some(address) = body
        .get("email")
        .and_then(Value::as_str)
        .filter(|e| looks_like_email(e))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "`email` must be the address to unsubscribe, like ada@example.com",
        );
    };
    let raise = app.sinks.get().and_then(|s| s.raise.as_ref());
    match crate::email::suppress::suppress(
        &app.store,
        raise,
        address,
        "unsubscribed",
        "reported through the contact-workflow API",
        None,
    )
    .await
    {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn status(State(app): State<Arc<App>>, _admin: Admin) -> Response {
    match app.store.totals().await {
        Ok(t) => Json(t).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn templates(State(app): State<Arc<App>>, _admin: Admin) -> Response {
    let rs = app.rules.current();
    Json(json!({
        "emails": rs.templates.emails.iter().map(|(k, v)| json!({"name": k, "variables": v})).collect::<Vec<_>>(),
        "notifications": rs.templates.notifications.iter().map(|(k, v)| json!({"name": k, "variables": v})).collect::<Vec<_>>(),
    }))
    .into_response()
}

async fn stats(State(app): State<Arc<App>>, _admin: Admin) -> Response {
    let counts = app.store.email_counts().await;
    match (app.store.stats().await, counts) {
        (Ok(mut v), Ok(counts)) => {
            v["emails"] = crate::email::stats::summarise(&counts);
            Json(v).into_response()
        }
        (Err(e), _) | (_, Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// The pages of the local Notion store, in Notion's page shape.
async fn notion_pages(
    State(app): State<Arc<App>>,
    _admin: Admin,
    Path(database): Path<String>,
) -> Response {
    if !app.rules.current().databases.contains_key(&database) && database != "tasks" {
        return error(
            StatusCode::NOT_FOUND,
            format!("there is no database `{database}` in rules/databases.toml"),
        );
    }
    match app.store.pages(&database).await {
        Ok(pages) => Json(
            json!({"object": "list", "results": pages, "has_more": false, "next_cursor": null}),
        )
        .into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
