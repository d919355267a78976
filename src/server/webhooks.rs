//! POST /webhooks/{source}: authenticate, normalise, plan, persist, answer.
//!
//! The order matters. Authentication comes before anything is parsed or
//! stored (a bad signature is 401 and leaves no trace); the event and all it
//! plans are committed in one transaction before the 202, so an acknowledged
//! webhook survives a crash; a repeat of the same idempotency key within the
//! source's window is answered 200 and plans nothing new.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{json, Value};

use super::{metrics, App};
use crate::engine::plan::{plan, Options};
use crate::rules::model::{Auth, BodyFormat};
use crate::rules::ruleset::{Locator, RuleSet, Source};
use crate::sources::auth::{self, AuthError};
use crate::sources::enrich;
use crate::sources::handshake;
use crate::sources::normalise::{
    event_type_of, idempotency_key, normalise, normalise_payload, parse_body, Request,
};
use crate::store::accept::{Envelope, FetchJob, NewEvent};

/// A name from the URL as it may be shown back: at most 64 printable characters.
fn printable(name: &str) -> String {
    let mut out: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
    if name.chars().count() > 64 {
        out.push('…');
    }
    out
}

pub use super::errors::error;

fn headers_vec(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

/// The headers worth keeping with the event: the source's own and the content type.
fn kept_headers(src: &Source, headers: &[(String, String)]) -> Value {
    // The request id (see access.rs) ties the stored event to its log lines.
    let mut names: Vec<String> = vec![
        "content-type".into(),
        "user-agent".into(),
        "x-request-id".into(),
    ];
    if let Auth::HmacSha256 { header, .. } = &src.auth {
        names.push(header.to_ascii_lowercase());
    }
    for loc in [&src.event_type, &src.idempotency] {
        if let Locator::Header(h) = loc {
            names.push(h.clone());
        }
    }
    let kept: serde_json::Map<String, Value> = headers
        .iter()
        .filter(|(k, _)| names.iter().any(|n| n.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
        .collect();
    Value::Object(kept)
}

fn content_type_ok(format: BodyFormat, headers: &[(String, String)]) -> Result<(), String> {
    let ct = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase());
    let (want, ok) = match format {
        BodyFormat::Json => (
            "application/json",
            ct.as_deref().is_some_and(|c| c.contains("json")),
        ),
        BodyFormat::FormUrlencoded => (
            "application/x-www-form-urlencoded",
            ct.as_deref()
                .is_some_and(|c| c.contains("x-www-form-urlencoded")),
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "this source takes Content-Type {want}, but the request says {}",
            ct.as_deref().unwrap_or("nothing")
        ))
    }
}

pub async fn receive(
    State(app): State<Arc<App>>,
    Path(source): Path<String>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rs = app.rules.current();
    let Some(src) = rs.sources.get(&source) else {
        // Counted under one label, whatever the name: a metric label made
        // from an unauthenticated URL would let anyone grow /metrics without
        // bound. The answer doesn't list the sources either (the rule files
        // do, for the people who may read them).
        metrics::record_event(metrics::UNKNOWN_SOURCE, "unknown_source");
        return error(
            StatusCode::NOT_FOUND,
            format!("there is no source `{}`; check the URL against the sender's webhook settings and rules/sources/", printable(&source)),
        );
    };
    let headers = headers_vec(&headers);
    let secret = |name: &str| std::env::var(name).ok();
    if handshake::is_ping(src, &headers, &body) {
        metrics::record_event(&source, "ping");
        return (StatusCode::OK, Json(json!({"ping": true}))).into_response();
    }
    if let Some(token) = handshake::verification(src, &headers, &body) {
        metrics::record_event(&source, "verification");
        let peer = peer.map(|Extension(ConnectInfo(a))| a.ip().to_string());
        return match handshake::keep(src, &app.data_dir, &token, peer.as_deref(), &secret) {
            Ok(path) => {
                tracing::warn!("source `{source}` sent its verification token; it is in {}: confirm it with the sender and set the source's secret to it", path.display());
                (StatusCode::OK, Json(json!({"verification": "received"}))).into_response()
            }
            Err(e @ handshake::Refused::AlreadyVerified(_)) => {
                error(StatusCode::UNAUTHORIZED, e.to_string())
            }
            Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        };
    }
    let req = Request {
        headers: &headers,
        body: &body,
    };
    match auth::verify(&src.auth, &|h| req.header(h), &body, &secret) {
        Ok(()) => {}
        Err(e @ AuthError::Internal) => {
            metrics::record_event(&source, "forbidden");
            return error(StatusCode::FORBIDDEN, format!("source `{source}`: {e}"));
        }
        Err(e @ AuthError::SecretNotSet(_)) => {
            metrics::record_event(&source, "not_configured");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("source `{source}` is not served: {e}"),
            );
        }
        Err(e) => {
            metrics::record_event(&source, "unauthorized");
            return error(StatusCode::UNAUTHORIZED, e.to_string());
        }
    }
    if let Err(e) = content_type_ok(src.format, &headers) {
        metrics::record_event(&source, "invalid");
        return error(StatusCode::BAD_REQUEST, e);
    }
    if src.enrich.is_empty() {
        return accept(&app, &rs, src, &req).await;
    }
    // Fetch what the webhook only points to, before reading it.
    let mut payload = match parse_body(src.format, &body) {
        Ok(p) => p,
        Err(e) => {
            metrics::record_event(&source, "invalid");
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    // The acknowledgement doesn't wait on the vendor: the webhook is stored
    // now and fetched by the dispatcher, durably, then planned.
    if crate::rules::compile::enrich::deferred(&src.enrich) {
        return accept_awaiting_fetch(&app, &rs, src, &req, &payload).await;
    }
    // on_failure = "reject": fetched while the sender waits. A repeat
    // delivery is answered as one without asking the API again (the store
    // still decides for deliveries that race each other).
    let key = idempotency_key(src, &payload, &req);
    if let Ok(Some(event_id)) = app.store.seen(&source, &key, Utc::now()).await {
        metrics::record_event(&source, "duplicate");
        return (
            StatusCode::OK,
            Json(json!({"event_id": event_id, "duplicate": true})),
        )
            .into_response();
    }
    match enrich::fetch(&app.http, &src.enrich, &mut payload, &secret, true).await {
        Ok(trace) => accept_payload(&app, &rs, src, &req, Some((payload, trace))).await,
        Err((e, _)) => {
            metrics::record_event(&source, "enrich_failed");
            tracing::warn!("a webhook from `{source}` was refused: {e}");
            let mut resp = error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the webhook was not accepted, because what it points to could not be fetched: {e}; the sender should send it again"),
            );
            if let enrich::EnrichError::Retryable {
                retry_after: Some(d),
                ..
            } = e
            {
                if let Ok(v) = axum::http::HeaderValue::from_str(&d.as_secs().to_string()) {
                    resp.headers_mut()
                        .insert(axum::http::header::RETRY_AFTER, v);
                }
            }
            resp
        }
    }
}

/// What became of an event hsflow made itself.
pub enum Internal {
    Accepted,
    Duplicate,
    /// It doesn't fit its source (a required field is empty...): retrying won't help.
    Refused(String),
    /// It could not be stored: try again later.
    Failed(String),
}

/// Accept an event hsflow made itself (a polled Notion page, a schedule, a
/// raised event) through `src`, exactly as a webhook is accepted. There is no
/// authentication: it never crossed the network.
pub async fn accept_internal(app: &App, rs: &RuleSet, src: &Source, body: &Value) -> Internal {
    let bytes = body.to_string().into_bytes();
    let req = Request {
        headers: &[],
        body: &bytes,
    };
    let resp = accept(app, rs, src, &req).await;
    let status = resp.status().as_u16();
    let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    match status {
        202 => Internal::Accepted,
        200 => Internal::Duplicate,
        400 => Internal::Refused(text),
        code => Internal::Failed(format!("{code}: {text}")),
    }
}

/// Normalise, plan and persist an authenticated request (also used by the contact-workflow API).
pub async fn accept(app: &App, rs: &RuleSet, src: &Source, req: &Request<'_>) -> Response {
    accept_payload(app, rs, src, req, None).await
}

/// [`accept`], for a body already parsed and enriched, with the enrich trace.
async fn accept_payload(
    app: &App,
    rs: &RuleSet,
    src: &Source,
    req: &Request<'_>,
    enriched: Option<(Value, Vec<enrich::StepTrace>)>,
) -> Response {
    let (normalised, trace) = match enriched {
        Some((payload, trace)) => (normalise_payload(rs, src, payload, req, Utc::now()), trace),
        None => (normalise(rs, src, req, Utc::now()), Vec::new()),
    };
    let event = match normalised {
        Ok(e) => e,
        Err(e) => {
            metrics::record_event(&src.name, "invalid");
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let mut p = plan(rs, &event, Options::TO_STORE);
    p.enrich = trace;
    let contacts = p.contacts(rs, &event);
    let due_now = p.actions.iter().any(|a| a.delay_s <= 0);
    let kinds = p.kinds();
    // Serialised here, on this request's task, so the store's single writer
    // only binds what is ready.
    let env = Envelope {
        source: src.name.clone(),
        event_type: event.event_type.clone(),
        idem_key: event.id.clone(),
        window_s: src.idempotency_window_s,
        received_at: event.received_at,
        headers: kept_headers(src, req.headers),
        body: req.body.to_vec(),
    };
    let stored = Stored::Planned { kinds, due_now };
    store_and_answer(app, src, NewEvent::new(env, &p, &contacts), stored).await
}

/// Store an `[[enrich]]` webhook before it can be read, with the job that
/// fetches what it points to and then plans it (`on_failure = "retry"`).
async fn accept_awaiting_fetch(
    app: &App,
    rs: &RuleSet,
    src: &Source,
    req: &Request<'_>,
    payload: &Value,
) -> Response {
    let env = Envelope {
        source: src.name.clone(),
        // The type is shown while the fetch is pending, when the webhook tells it.
        event_type: event_type_of(src, payload, req).unwrap_or_else(|| "(being fetched)".into()),
        idem_key: idempotency_key(src, payload, req),
        window_s: src.idempotency_window_s,
        received_at: Utc::now(),
        headers: kept_headers(src, req.headers),
        body: req.body.to_vec(),
    };
    // The first request is made from the webhook alone: one that lacks what
    // it needs (the appointment's id) is refused now, not parked later.
    let secret = |name: &str| std::env::var(name).ok();
    let url = match src.enrich.first().map(|s| enrich::url(s, payload, &secret)) {
        Some(Err(why)) => {
            metrics::record_event(&src.name, "invalid");
            return error(StatusCode::BAD_REQUEST, why);
        }
        Some(Ok(u)) => Some(u),
        None => None,
    };
    let fetch = FetchJob {
        source: src.name.clone(),
        steps: src.enrich.iter().map(|s| s.name.to_string()).collect(),
        url,
    };
    let new = NewEvent::awaiting_fetch(env, &fetch, &rs.version);
    store_and_answer(app, src, new, Stored::AwaitingFetch).await
}

/// What is stored with an event.
enum Stored {
    /// Its plan: the kinds of its actions, and whether one is due now.
    Planned {
        kinds: Vec<&'static str>,
        due_now: bool,
    },
    /// The job that fetches what it points to (due now), and no plan yet.
    AwaitingFetch,
}

/// Store a prepared event and answer the sender: 202 when it is new, 200
/// for a duplicate, 503 when it could not be stored (the sender retries).
async fn store_and_answer(
    app: &App,
    src: &Source,
    new: Result<NewEvent, crate::store::StoreError>,
    stored: Stored,
) -> Response {
    let new = match new {
        Ok(n) => n,
        Err(e) => {
            metrics::record_event(&src.name, "store_error");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the event could not be prepared for storing: {e}"),
            );
        }
    };
    match app.store.accept(new).await {
        Ok(a) if a.duplicate => {
            metrics::record_event(&src.name, "duplicate");
            (
                StatusCode::OK,
                Json(json!({"event_id": a.event_id, "duplicate": true})),
            )
                .into_response()
        }
        Ok(a) => {
            metrics::record_event(&src.name, "accepted");
            let (kinds, due_now) = match stored {
                Stored::Planned { kinds, due_now } => (kinds, due_now),
                // Planned later: no action yet, and the answer says why.
                Stored::AwaitingFetch => {
                    app.wake.notify_one();
                    return (StatusCode::ACCEPTED, Json(json!({"event_id": a.event_id, "duplicate": false, "actions": 0, "cancelled": 0, "awaiting_fetch": true}))).into_response();
                }
            };
            for kind in kinds {
                metrics::record_actions_planned(kind, 1);
            }
            if due_now {
                app.wake.notify_one();
            }
            (StatusCode::ACCEPTED, Json(json!({"event_id": a.event_id, "duplicate": false, "actions": a.actions, "cancelled": a.cancelled}))).into_response()
        }
        Err(e) => {
            metrics::record_event(&src.name, "store_error");
            tracing::error!("could not store an event from {}: {e}", src.name);
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the event could not be stored, so it was not accepted; send it again: {e}"
                ),
            )
        }
    }
}
