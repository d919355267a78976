//! A faithful stand-in for Acuity's appointment API, shared by the tests of
//! `[[enrich]]` sources: HTTP Basic enforced (the user it accepts can be
//! changed, as when an operator fixes the credentials), 404 for an unknown
//! id, 429 with Retry-After once for id 429, the real response shape with
//! `forms[].values[]`, and a gate that holds every answer (a slow vendor).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use super::{client, Server};

pub const USER: &str = "12345";
pub const KEY: &str = "acuity-api-key";

/// The test rule project whose `acuity` source is enriched from the simulator.
pub fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/enrich/rules")
}

/// The appointment as Acuity's API returns it.
pub fn appointment(id: u64) -> Value {
    json!({
        "id": id, "firstName": "Bea", "lastName": "Okafor", "email": "Bea.Okafor@Example.com",
        "phone": "+1 555 0100", "date": "February 14, 2026", "time": "10:00am", "endTime": "11:00am",
        "datetime": "2026-02-14T10:00:00-0500", "price": "80.00", "paid": "no",
        "type": "Sound bath", "appointmentTypeID": 1, "calendar": "The 7 Space", "calendarID": 27238,
        "timezone": "America/New_York",
        "forms": [{"id": 1, "name": "Intake", "values": [{"fieldID": 7, "name": "What brings you here?", "value": "Rest"}]}],
        "labels": null
    })
}

/// What the simulator has seen, and the knobs a test turns.
pub struct Acuity {
    /// Appointment requests received (any answer).
    pub hits: AtomicU32,
    /// The user id it accepts with [`KEY`].
    pub user: Mutex<String>,
    /// While false, appointment requests wait (a vendor that is slow to answer).
    open: tokio::sync::watch::Sender<bool>,
    rate_limited: AtomicBool,
}

impl Acuity {
    pub fn new() -> Arc<Acuity> {
        Arc::new(Acuity {
            hits: AtomicU32::new(0),
            user: Mutex::new(USER.into()),
            open: tokio::sync::watch::channel(true).0,
            rate_limited: AtomicBool::new(false),
        })
    }

    pub fn hits(&self) -> u32 {
        self.hits.load(Ordering::SeqCst)
    }

    /// Hold (false) or release (true) the answers to appointment requests.
    pub fn answer(&self, now: bool) {
        self.open.send_replace(now);
    }

    pub fn accept_user(&self, user: &str) {
        if let Ok(mut u) = self.user.lock() {
            *u = user.to_string();
        }
    }

    fn signed_in(&self, headers: &HeaderMap) -> bool {
        let user = self.user.lock().map(|u| u.clone()).unwrap_or_default();
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{KEY}"))
        );
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str())
    }

    /// The API's routes, served by `serve_local`.
    pub fn router(self: &Arc<Self>) -> Router {
        async fn one(
            State(api): State<Arc<Acuity>>,
            UrlPath(id): UrlPath<u64>,
            headers: HeaderMap,
        ) -> Response {
            api.hits.fetch_add(1, Ordering::SeqCst);
            let mut open = api.open.subscribe();
            let _ = open.wait_for(|o| *o).await;
            if !api.signed_in(&headers) {
                return (StatusCode::UNAUTHORIZED, Json(json!({"status_code": 401, "message": "We were unable to authenticate you.", "error": "unauthorized"}))).into_response();
            }
            match id {
                429 if !api.rate_limited.swap(true, Ordering::SeqCst) => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], Json(json!({"status_code": 429, "error": "too_many_requests"}))).into_response(),
                404 => (StatusCode::NOT_FOUND, Json(json!({"status_code": 404, "message": "Appointment not found.", "error": "not_found"}))).into_response(),
                id => Json(appointment(id)).into_response(),
            }
        }
        async fn me(State(api): State<Arc<Acuity>>, headers: HeaderMap) -> Response {
            if api.signed_in(&headers) {
                Json(json!({"id": 12345, "email": "owner@the7space.example", "timezone": "America/New_York"})).into_response()
            } else {
                (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"status_code": 401, "error": "unauthorized"})),
                )
                    .into_response()
            }
        }
        Router::new()
            .route("/appointments/{id}", get(one))
            .route("/me", get(me))
            .with_state(self.clone())
    }
}

/// Acuity's webhook signature of `body`.
pub fn signature(body: &str) -> String {
    hsflow::sources::auth::sign(
        hsflow::rules::model::SignatureEncoding::Base64,
        None,
        KEY,
        body.as_bytes(),
    )
}

/// POST a signed Acuity webhook; the status and the JSON answer.
pub async fn post(s: &Server, body: &str) -> (u16, Value) {
    let r = client()
        .post(s.url("/webhooks/acuity"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-acuity-signature", signature(body))
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The environment that points the fixture's source at the simulator.
pub fn env(api: &str, user: &str) -> Vec<(&'static str, String)> {
    vec![
        ("HSFLOW_TEST_ACUITY_URL", api.to_string()),
        ("HSFLOW_TEST_ACUITY_USER", user.to_string()),
        ("HSFLOW_TEST_ACUITY_KEY", KEY.to_string()),
    ]
}
