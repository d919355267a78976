//! The Beehiiv and HubSpot actions against local simulators that follow
//! external-apis.md: bearer auth, the request shapes, errors in each
//! service's format, idempotency by email, and a 429 with Retry-After.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use support::*;

const BEEHIIV_KEY: &str = "bh-test-key";
const PUBLICATION: &str = "pub_00000000-0000-0000-0000-000000000001";
const HUBSPOT_TOKEN: &str = "pat-na1-test";

#[derive(Default)]
struct Services {
    /// Beehiiv: email -> (subscription id, custom fields); the custom fields the publication has.
    subscribers: BTreeMap<String, (String, Value)>,
    beehiiv_fields: BTreeSet<String>,
    /// HubSpot: email -> (contact id, properties); the properties the portal has.
    contacts: BTreeMap<String, (String, Value)>,
    hubspot_properties: BTreeSet<String>,
    /// Answer the next N requests with 429.
    limited: u32,
    requests: usize,
}

type Shared = Arc<Mutex<Services>>;

fn bearer(h: &HeaderMap, want: &str) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {want}"))
}

fn rate_limited(s: &mut Services) -> Option<Response> {
    s.requests += 1;
    if s.limited == 0 {
        return None;
    }
    s.limited -= 1;
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"errors": [{"message": "Too many requests"}]})),
    )
        .into_response();
    r.headers_mut()
        .insert("retry-after", "1".parse().expect("header"));
    Some(r)
}

async fn beehiiv(
    State(st): State<Shared>,
    UrlPath(publication): UrlPath<String>,
    h: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = rate_limited(&mut s) {
        return r;
    }
    let fail = |status: StatusCode, msg: &str| {
        (
            status,
            Json(json!({"status": status.as_u16(), "errors": [{"message": msg}]})),
        )
            .into_response()
    };
    if !bearer(&h, BEEHIIV_KEY) {
        return fail(StatusCode::UNAUTHORIZED, "Invalid API key");
    }
    if publication != PUBLICATION {
        return fail(StatusCode::NOT_FOUND, "Publication not found");
    }
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return fail(StatusCode::BAD_REQUEST, "Invalid JSON");
    };
    let Some(email) = b["email"].as_str().filter(|e| e.contains('@')) else {
        return fail(StatusCode::BAD_REQUEST, "email is invalid");
    };
    for f in b["custom_fields"].as_array().cloned().unwrap_or_default() {
        let name = f["name"].as_str().unwrap_or("");
        if !s.beehiiv_fields.contains(name) {
            return fail(
                StatusCode::BAD_REQUEST,
                &format!("Custom field '{name}' does not exist on this publication"),
            );
        }
    }
    let n = s.subscribers.len();
    let (id, _) = s
        .subscribers
        .entry(email.to_lowercase())
        .or_insert_with(|| (format!("sub_{n:04}"), b.clone()))
        .clone();
    (StatusCode::CREATED, Json(json!({"data": {"id": id, "email": email, "status": "active", "utm_source": b["utm_source"]}}))).into_response()
}

async fn hubspot(State(st): State<Shared>, h: HeaderMap, body: axum::body::Bytes) -> Response {
    let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = rate_limited(&mut s) {
        return r;
    }
    let fail = |status: StatusCode, category: &str, msg: &str| {
        (
            status,
            Json(json!({"status": "error", "message": msg, "category": category})),
        )
            .into_response()
    };
    if !bearer(&h, HUBSPOT_TOKEN) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found.",
        );
    }
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid input JSON",
        );
    };
    let inputs = b["inputs"].as_array().cloned().unwrap_or_default();
    let mut results = Vec::new();
    for input in inputs {
        if input["idProperty"] != "email" || !input["id"].is_string() {
            return fail(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                "idProperty must be a unique property and id must be set",
            );
        }
        let props = input["properties"].as_object().cloned().unwrap_or_default();
        if let Some(bad) = props.keys().find(|k| !s.hubspot_properties.contains(*k)) {
            return fail(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                &format!("Property \"{bad}\" does not exist"),
            );
        }
        let email = input["id"].as_str().unwrap_or("").to_lowercase();
        let n = s.contacts.len();
        let new = !s.contacts.contains_key(&email);
        let entry = s
            .contacts
            .entry(email)
            .or_insert_with(|| (format!("{}", 1000 + n), json!({})));
        for (k, v) in props {
            entry.1[k] = v;
        }
        results.push(json!({"id": entry.0, "properties": entry.1, "new": new}));
    }
    (
        StatusCode::OK,
        Json(json!({"status": "COMPLETE", "results": results})),
    )
        .into_response()
}

async fn start_services(st: &Shared) -> String {
    let app = Router::new()
        .route(
            "/v2/publications/{publication}/subscriptions",
            post(beehiiv),
        )
        .route("/crm/v3/objects/contacts/batch/upsert", post(hubspot))
        .with_state(st.clone());
    serve_local(app).await
}

fn services(beehiiv_fields: &[&str], hubspot_properties: &[&str]) -> Shared {
    Arc::new(Mutex::new(Services {
        beehiiv_fields: beehiiv_fields.iter().map(|s| s.to_string()).collect(),
        hubspot_properties: hubspot_properties.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }))
}

fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sinks/rules")
}

fn start(base: &str, dir: &tempfile::TempDir) -> Server {
    Server::start_with_env(
        &dir.path().join("data"),
        &rules(),
        &["--retry-base", "1s"],
        &[
            ("BEEHIIV_API_KEY", BEEHIIV_KEY.into()),
            ("BEEHIIV_PUBLICATION_ID", PUBLICATION.into()),
            ("HSFLOW_BEEHIIV_URL", base.into()),
            ("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN.into()),
            ("HSFLOW_HUBSPOT_URL", base.into()),
        ],
    )
}

async fn sync(s: &Server, id: &str, email: &str, name: &str) -> String {
    accepted(
        s,
        &json!({"id": id, "type": "sync", "email": email, "first_name": name}),
    )
    .await
}

#[tokio::test]
async fn a_contact_is_subscribed_and_upserted_once_even_when_synced_twice() {
    let st = services(
        &["segment", "first_name"],
        &["email", "firstname", "lifecyclestage"],
    );
    st.lock().expect("lock").limited = 1;
    let base = start_services(&st).await;
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(&base, &dir);

    let first = sync(&s, "y1", "ada@example.com", "Ada").await;
    for a in ["sync/newsletter", "sync/crm"] {
        assert_eq!(settled(&s, &first, a).await["status"], "succeeded", "{a}");
    }
    let second = sync(&s, "y2", "ada@example.com", "Ada L").await;
    let crm = settled(&s, &second, "sync/crm").await;
    assert_eq!(crm["status"], "succeeded");
    assert_eq!(
        settled(&s, &second, "sync/newsletter").await["status"],
        "succeeded"
    );

    let g = st.lock().expect("lock");
    assert_eq!(g.subscribers.len(), 1, "one subscriber");
    let (_, sent) = &g.subscribers["ada@example.com"];
    assert_eq!(sent["utm_source"], "hsflow");
    assert_eq!(sent["send_welcome_email"], false);
    assert_eq!(
        sent["custom_fields"],
        json!([{"name": "first_name", "value": "Ada"}, {"name": "segment", "value": "art lovers"}])
    );
    assert_eq!(g.contacts.len(), 1, "one HubSpot contact");
    assert_eq!(
        g.contacts["ada@example.com"].1,
        json!({"email": "ada@example.com", "firstname": "Ada L", "lifecyclestage": "lead"})
    );
    assert_eq!(g.limited, 0, "the 429 was answered and retried");
    drop(g);
    s.kill();
}

#[tokio::test]
async fn the_services_validation_errors_park_the_jobs_with_their_messages() {
    // The publication lacks the `segment` field; the portal lacks `lifecyclestage`.
    let st = services(&["first_name"], &["email", "firstname"]);
    let base = start_services(&st).await;
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(&base, &dir);
    let e = sync(&s, "z1", "bo@example.com", "Bo").await;
    let news = settled(&s, &e, "sync/newsletter").await;
    assert_eq!(
        (news["status"].as_str(), news["attempts"].as_i64()),
        (Some("dead"), Some(1))
    );
    assert!(
        news["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("Custom field 'segment' does not exist"),
        "{news}"
    );
    let crm = settled(&s, &e, "sync/crm").await;
    assert_eq!(crm["status"], "dead");
    assert!(
        crm["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("Property \"lifecyclestage\" does not exist"),
        "{crm}"
    );
    assert!(st.lock().expect("lock").subscribers.is_empty());
    s.kill();
}

#[tokio::test]
async fn without_keys_the_syncs_are_recorded_locally() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let s = Server::start(&data, &rules(), &[]);
    let e = sync(&s, "l1", "cy@example.com", "Cy").await;
    for a in ["sync/newsletter", "sync/crm"] {
        assert_eq!(settled(&s, &e, a).await["status"], "succeeded");
    }
    let beehiiv = std::fs::read_to_string(data.join("beehiiv.jsonl")).unwrap_or_default();
    let line: Value =
        serde_json::from_str(beehiiv.lines().next().unwrap_or("null")).expect("json line");
    assert_eq!(line["request"]["email"], "cy@example.com");
    let hubspot = std::fs::read_to_string(data.join("hubspot.jsonl")).unwrap_or_default();
    assert!(hubspot.contains("\"firstname\":\"Cy\""), "{hubspot}");
    s.kill();
}
