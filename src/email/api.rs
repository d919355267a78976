//! The email API: the suppression list for operators, and the endpoint that
//! email providers post bounces and complaints to.
//!
//! - `GET /api/suppressions` lists the suppressed addresses (admin);
//! - `POST /api/suppressions` suppresses one by hand (admin: a person who
//!   asked by phone);
//! - `DELETE /api/suppressions/{email}` re-subscribes one (admin): only
//!   ever an explicit act, recorded in the audit log;
//! - `POST /email/events/{provider}` takes a provider's bounce and complaint
//!   notifications (ses, postmark, sendgrid), authenticated by
//!   `HSFLOW_BOUNCE_TOKEN` as the password of HTTP Basic auth (which all
//!   three can send in the webhook's URL) or a `token` query parameter.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::bounces;
use super::suppress::suppress;
use crate::server::admin::Admin;
use crate::server::api::looks_like_email;
use crate::server::webhooks::error;
use crate::server::App;
use crate::store::email::REASONS;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/suppressions", get(list))
        .route("/api/suppressions", post(add))
        .route("/api/suppressions/{email}", delete(resubscribe))
        .route("/email/events/{provider}", post(provider_events))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<String>,
}

async fn list(State(app): State<Arc<App>>, _admin: Admin, Query(q): Query<ListQuery>) -> Response {
    let limit = match crate::server::admin::limit(q.limit.as_deref()) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    match app.store.suppressions(limit).await {
        Ok((list, total)) => Json(json!({"suppressions": list, "total": total})).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn add(State(app): State<Arc<App>>, admin: Admin, Json(body): Json<Value>) -> Response {
    if !body.is_object() {
        return error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object: {\"email\": \"ada@example.com\"}",
        );
    }
    let Some(address) = body.get("email").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "say which address: {\"email\": \"ada@example.com\", \"reason\": \"manual\", \"note\": \"asked by phone\"}",
        );
    };
    if !looks_like_email(address) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("`email` must be an email address like ada@example.com; got {address:?}"),
        );
    }
    for key in ["reason", "note"] {
        if body.get(key).is_some_and(|v| !v.is_string()) {
            return error(StatusCode::BAD_REQUEST, format!("`{key}` must be text"));
        }
    }
    let reason = body
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("manual");
    if !REASONS.contains(&reason) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "`reason` is {reason:?}; it can be one of: {}",
                REASONS.join(", ")
            ),
        );
    }
    let note = body.get("note").and_then(Value::as_str).unwrap_or("");
    let detail = match note.trim() {
        "" => format!("added by {}", admin.who),
        n => format!("added by {}: {n}", admin.who),
    };
    let raise = app.sinks.get().and_then(|s| s.raise.as_ref());
    match suppress(&app.store, raise, address, reason, &detail, None).await {
        Ok(outcome) => {
            app.audit(&admin.who, "suppress", &outcome.address, &detail)
                .await;
            let code = if outcome.newly_suppressed {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (code, Json(outcome)).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn resubscribe(
    State(app): State<Arc<App>>,
    admin: Admin,
    Path(email): Path<String>,
) -> Response {
    match app.store.unsuppress(&email).await {
        Ok(true) => {
            let address = super::normal(&email);
            app.audit(
                &admin.who,
                "resubscribe",
                &address,
                "taken off the suppression list; marketing email goes to it again",
            )
            .await;
            Json(json!({"address": address, "suppressed": false})).into_response()
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("{email} is not on the suppression list, so there is nothing to re-subscribe"),
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Whether the request carries `HSFLOW_BOUNCE_TOKEN` (Basic auth password or `?token=`).
fn authorised(want: &str, headers: &HeaderMap, query: Option<&str>) -> bool {
    let from_basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|up| up.split_once(':').map(|(_, p)| p.to_string()));
    let got = from_basic.as_deref().or(query).unwrap_or("");
    bool::from(got.as_bytes().ct_eq(want.as_bytes()))
}

async fn provider_events(
    State(app): State<Arc<App>>,
    Path(provider): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(want) = std::env::var("HSFLOW_BOUNCE_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    else {
        return error(
            StatusCode::FORBIDDEN,
            "bounce notifications are off: set HSFLOW_BOUNCE_TOKEN, and give the provider the webhook URL with it as the password (https://any:TOKEN@your-host/email/events/ses)",
        );
    };
    if !authorised(&want, &headers, q.token.as_deref()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "wrong or missing token: send HSFLOW_BOUNCE_TOKEN as the password of HTTP Basic auth, or as ?token=",
        );
    }
    if !bounces::PROVIDERS.contains(&provider.as_str()) {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "hsflow doesn't read notifications from {provider:?}; it reads {}",
                bounces::PROVIDERS.join(", ")
            ),
        );
    }
    // SNS posts JSON as text/plain, so the body is read whatever its type says.
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON ({e}); hsflow reads the provider's JSON notification as it is posted"),
            )
        }
    };
    let read = match bounces::read(&provider, &value) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if let Some(url) = &read.confirm_url {
        tracing::warn!("Amazon SNS asks to confirm the bounce subscription: open {url} once to start receiving notifications");
        return Json(json!({"confirm": url, "suppressed": 0, "ignored": 0})).into_response();
    }
    let raise = app.sinks.get().and_then(|s| s.raise.as_ref());
    let (mut newly, mut already, mut cancelled) = (0, 0, 0);
    for n in &read.notices {
        if !looks_like_email(&n.address) {
            continue;
        }
        match suppress(&app.store, raise, &n.address, n.reason, &n.detail, None).await {
            Ok(o) => {
                cancelled += o.cancelled;
                if o.newly_suppressed {
                    newly += 1
                } else {
                    already += 1
                }
            }
            // The provider retries a notification that isn't answered 2xx.
            Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
        }
    }
    Json(json!({"suppressed": newly, "already_suppressed": already, "cancelled": cancelled, "ignored": read.ignored})).into_response()
}
