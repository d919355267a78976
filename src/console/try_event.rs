//! "Try an event": a body pasted (or an example from the project's
//! `examples/`) run through the rules in force with no side effects, and
//! shown like an event's page. The same plan as `hsflow simulate` and
//! POST /api/simulate; nothing is stored or sent, so a viewer may use it.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::act::chrome;
use super::pages::Signed;
use super::render::page;
use super::session;
use super::{pages_event, problem};
use crate::engine::plan::{plan, Options};
use crate::server::App;
use crate::sources::intake::intake;
use crate::sources::normalise::Request;
use crate::store::browse::ActionDetail;

/// Example bodies beside the rules (`<project>/examples/`), if there are any.
fn examples(app: &App) -> Vec<PathBuf> {
    let dir = app
        .rules_dir
        .parent()
        .map(|p| p.join("examples"))
        .unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[derive(Deserialize, Default)]
pub struct Pick {
    example: Option<String>,
}

/// The page's data: the form, filled with `source` and `body`.
fn form_data(app: &App, s: &session::Session, source: &str, body: &str, chosen: &str) -> Value {
    let rs = app.rules.current();
    let sources: Vec<Value> = rs
        .sources
        .keys()
        .map(|n| json!({"name": n, "selected": n == source}))
        .collect();
    let examples: Vec<Value> = examples(app)
        .iter()
        .map(|p| json!({"file": file_name(p), "selected": file_name(p) == chosen}))
        .collect();
    let mut data = chrome(s, "Try an event");
    data["nav"] = json!({"try": true});
    data["sources"] = json!(sources);
    data["examples"] = json!(examples);
    data["body"] = json!(body);
    data
}

pub async fn show(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Query(p): Query<Pick>,
) -> Response {
    let chosen = p.example.unwrap_or_default();
    let (source, body) = examples(&app)
        .into_iter()
        .find(|f| file_name(f) == chosen)
        .map(|f| {
            // Examples are named after their source: typeform_artist.json.
            let source = file_name(&f)
                .split(['_', '.'])
                .next()
                .unwrap_or("")
                .to_string();
            (source, std::fs::read_to_string(&f).unwrap_or_default())
        })
        .unwrap_or_default();
    page("try", form_data(&app, &s, &source, &body, &chosen)).into_response()
}

pub async fn run(State(app): State<Arc<App>>, Signed(s): Signed, body: Bytes) -> Response {
    let f: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if !session::csrf_ok(&s, &field("csrf")) {
        return problem(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Reload the page and try again.",
        );
    }
    let (source, text) = (field("source"), field("body"));
    let rs = app.rules.current();
    let content_type = if text.trim_start().starts_with(['{', '[']) {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let headers = vec![("content-type".to_string(), content_type.to_string())];
    let req = Request {
        headers: &headers,
        body: text.as_bytes(),
    };
    let mut data = form_data(&app, &s, &source, &text, "");
    match intake(&rs, &source, &req, Utc::now(), false, &|k| {
        std::env::var(k).ok()
    }) {
        Err(e) => data["refused"] = json!(e.to_string()),
        Ok(ev) => {
            let p = serde_json::to_value(plan(
                &rs,
                &ev,
                Options {
                    render: true,
                    explain: true,
                },
            ))
            .unwrap_or_default();
            let event = json!({
                "id": p["event"]["id"], "source": p["event"]["source"], "type": p["event"]["type"],
                "received_at": p["event"]["received_at"], "fields": p["event"]["fields"],
                "trace": {"rules": p["rules"], "entities": p["entities"], "entities_why": p["entities_why"], "routing": p["routing"]},
                "ruleset_version": p["ruleset_version"],
            });
            let details: Vec<ActionDetail> = p["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| ActionDetail {
                    id: a["id"].as_str().unwrap_or("").to_string(),
                    action: a["id"].as_str().unwrap_or("").to_string(),
                    kind: a["kind"].as_str().unwrap_or("").to_string(),
                    status: "planned".to_string(),
                    attempts: 0,
                    due_at: a["run_at"]
                        .as_str()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.with_timezone(&Utc))
                        .unwrap_or_else(Utc::now),
                    last_error: a["error"].as_str().map(str::to_string),
                    payload: a.clone(),
                    ruleset_version: p["ruleset_version"].as_str().unwrap_or("").to_string(),
                })
                .collect();
            let zone = crate::engine::send_window::zone_of(&app.rules.current(), None);
            let view = pages_event::event_view(&event, &details, &s, zone);
            for k in ["actions", "flows", "entities", "fields", "summary"] {
                data[k] = view[k].clone();
            }
            data["planned"] = json!(true);
        }
    }
    page("try", data).into_response()
}
