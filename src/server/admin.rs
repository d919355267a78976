//! The admin API: actions, events and workflow instances. Every route needs
//! `Authorization: Bearer $HSFLOW_ADMIN_TOKEN`; without a configured token the
//! admin API is closed.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::webhooks::error;
use super::App;
use crate::store::StoreError;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/actions", get(list_actions))
        .route("/api/actions/{id}/retry", post(retry))
        .route("/api/actions/{id}/cancel", post(cancel))
        .route("/api/actions/retry-dead", post(retry_dead))
        .route("/api/events/{id}", get(event))
        .route("/api/workflows/{id}", get(workflow))
        // The older server's path, kept as an alias.
        .route("/workflows/{id}", get(workflow))
        .route("/api/reload", post(reload_now))
}

/// A list's `limit` query parameter: a whole number from 1, however long
/// (past 1000 it is 1000 anyway); 100 when not given. The error is the answer.
pub fn limit(given: Option<&str>) -> Result<i64, Box<Response>> {
    let digits = |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit());
    match given.map(str::trim) {
        None => Ok(100),
        Some(l) if digits(l) && !l.trim_start_matches('0').is_empty() => {
            Ok(l.parse::<i64>().unwrap_or(i64::MAX).min(1000))
        }
        Some(_) => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "`limit` must be a whole number from 1 (100 when not given; more than 1000 counts as 1000)",
        ))),
    }
}

/// Proof that the request carries the admin token. As an extractor, it
/// refuses the request before the handler runs: 403 while the admin API is
/// closed (no HSFLOW_ADMIN_TOKEN), 401 for a missing or wrong token (compared
/// in constant time). `who` is the `X-Hsflow-User` header when the caller
/// names itself (the CLI sends the login name), for the audit log.
pub struct Admin {
    pub who: String,
}

/// The name the caller gives in `X-Hsflow-User`, kept short and printable.
fn caller(parts: &Parts) -> String {
    parts
        .headers
        .get("x-hsflow-user")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.chars()
                .filter(|c| !c.is_control())
                .take(80)
                .collect::<String>()
        })
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map_or_else(|| "admin API".to_string(), |v| format!("{v} (admin API)"))
}

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Admin, Response> {
        let Some(want) = &app.admin_token else {
            return Err(error(
                StatusCode::FORBIDDEN,
                "the admin API is closed: set HSFLOW_ADMIN_TOKEN to open it",
            ));
        };
        let got = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if bool::from(got.as_bytes().ct_eq(want.as_bytes())) {
            Ok(Admin { who: caller(parts) })
        } else {
            Err(error(
                StatusCode::UNAUTHORIZED,
                "send Authorization: Bearer <HSFLOW_ADMIN_TOKEN>",
            ))
        }
    }
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound(m) => error(StatusCode::NOT_FOUND, m),
        other => error(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
    }
}

/// The filters of GET /api/actions; an empty `contact` filters nothing.
#[derive(Deserialize)]
struct ActionQuery {
    status: Option<String>,
    kind: Option<String>,
    contact: Option<String>,
    limit: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

async fn list_actions(
    State(app): State<Arc<App>>,
    _admin: Admin,
    Query(q): Query<ActionQuery>,
) -> Response {
    // Present but empty is no value at all: refused like any other.
    let limit = match limit(q.limit.as_deref()) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    const STATUSES: [&str; 7] = [
        "queued",
        "running",
        "succeeded",
        "failed",
        "dead",
        "cancelled",
        "suppressed",
    ];
    if let Some(st) = q.status.as_deref().filter(|s| !STATUSES.contains(s)) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "`status` is {st:?}; it can be one of: {}",
                STATUSES.join(", ")
            ),
        );
    }
    if let Some(k) = q
        .kind
        .as_deref()
        .filter(|k| !crate::server::metrics::KINDS.contains(k))
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "`kind` is {k:?}; it can be one of: {}",
                crate::server::metrics::KINDS.join(", ")
            ),
        );
    }
    let q = ActionQuery {
        status: given(&q.status).map(str::to_string),
        kind: given(&q.kind).map(str::to_string),
        contact: given(&q.contact).map(str::to_string),
        limit: None,
    };
    match app
        .store
        .list_actions(
            q.status.as_deref(),
            q.kind.as_deref(),
            q.contact.as_deref(),
            limit,
        )
        .await
    {
        Ok(rows) => Json(json!({"actions": rows})).into_response(),
        Err(e) => store_error(e),
    }
}

async fn retry(State(app): State<Arc<App>>, admin: Admin, Path(id): Path<String>) -> Response {
    match app.store.retry(&id).await {
        Ok(true) => {
            app.wake.notify_one();
            app.audit(&admin.who, "retry", &id, "queued to run again")
                .await;
            Json(json!({"id": id, "status": "queued"})).into_response()
        }
        Ok(false) => error(
            StatusCode::CONFLICT,
            format!("action {id} does not exist or is not dead, failed or cancelled"),
        ),
        Err(e) => store_error(e),
    }
}

async fn retry_dead(State(app): State<Arc<App>>, admin: Admin) -> Response {
    match app.store.retry_dead().await {
        Ok(n) => {
            app.wake.notify_one();
            let detail = format!("{n} parked actions queued to run again");
            app.audit(&admin.who, "retry-dead", "every parked action", &detail)
                .await;
            Json(json!({"retried": n})).into_response()
        }
        Err(e) => store_error(e),
    }
}

async fn cancel(State(app): State<Arc<App>>, admin: Admin, Path(id): Path<String>) -> Response {
    match app.store.cancel(&id).await {
        Ok(true) => {
            app.audit(&admin.who, "cancel", &id, "cancelled before it ran")
                .await;
            Json(json!({"id": id, "status": "cancelled"})).into_response()
        }
        Ok(false) => error(
            StatusCode::CONFLICT,
            format!("action {id} does not exist or is no longer pending"),
        ),
        Err(e) => store_error(e),
    }
}

async fn event(State(app): State<Arc<App>>, _admin: Admin, Path(id): Path<String>) -> Response {
    match app.store.event(&id).await {
        Ok(mut v) => {
            app.rules.explained(&app.store, &mut v).await;
            Json(v).into_response()
        }
        Err(e) => store_error(e),
    }
}

async fn workflow(State(app): State<Arc<App>>, _admin: Admin, Path(id): Path<String>) -> Response {
    match app.store.instance(&id).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => store_error(e),
    }
}

async fn reload_now(State(app): State<Arc<App>>, admin: Admin) -> Response {
    let outcome = app
        .reloader
        .reload(super::reload::How::Api, Some(&admin.who))
        .await;
    let status = if outcome.ok {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, Json(outcome)).into_response()
}
