//! `[[enrich]]`: an Acuity webhook carries ids only; hsflow fetches the
//! appointment from Acuity's API (here a faithful simulator: HTTP Basic
//! enforced, 404 for an unknown id, 429 with Retry-After, the real response
//! shape with forms[].values[]) before reading its fields, over real HTTP.
//! Offline tools never call the API: `simulate --enriched` stands in for it.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use support::*;

const USER: &str = "12345";
const KEY: &str = "acuity-api-key";

fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/enrich/rules")
}

/// The appointment as Acuity's API returns it.
fn appointment(id: u64) -> Value {
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

/// Acuity's appointment API: Basic auth, 404 for unknown ids, and for id
/// 429 a rate limit on the first request (Retry-After: 1).
fn simulator(hits: Arc<AtomicU32>) -> Router {
    async fn one(
        State(hits): State<Arc<AtomicU32>>,
        UrlPath(id): UrlPath<u64>,
        headers: HeaderMap,
    ) -> Response {
        let n = hits.fetch_add(1, Ordering::SeqCst);
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{KEY}"))
        );
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
            return (StatusCode::UNAUTHORIZED, Json(json!({"status_code": 401, "message": "We were unable to authenticate you.", "error": "unauthorized"}))).into_response();
        }
        match id {
            429 if n == 0 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], Json(json!({"status_code": 429, "error": "too_many_requests"}))).into_response(),
            404 => (StatusCode::NOT_FOUND, Json(json!({"status_code": 404, "message": "Appointment not found.", "error": "not_found"}))).into_response(),
            id => Json(appointment(id)).into_response(),
        }
    }
    async fn me(headers: HeaderMap) -> Response {
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{KEY}"))
        );
        if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str()) {
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
        .with_state(hits)
}

fn signature(body: &str) -> String {
    hsflow::sources::auth::sign(
        hsflow::rules::model::SignatureEncoding::Base64,
        None,
        KEY,
        body.as_bytes(),
    )
}

async fn post(s: &Server, body: &str) -> (u16, Value) {
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

fn start(dir: &Path, api: &str, user: &str) -> Server {
    Server::start_with_env(
        dir,
        &rules(),
        &[],
        &[
            ("HSFLOW_TEST_ACUITY_URL", api.to_string()),
            ("HSFLOW_TEST_ACUITY_USER", user.to_string()),
            ("HSFLOW_TEST_ACUITY_KEY", KEY.to_string()),
        ],
    )
}

#[tokio::test]
async fn an_id_only_webhook_is_read_with_the_appointment_the_api_returns() {
    let hits = Arc::new(AtomicU32::new(0));
    let api = serve_local(simulator(hits.clone())).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = start(tmp.path(), &api, USER);

    let (code, body) = post(
        &s,
        "action=scheduled&id=123&calendarID=27238&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let event = body["event_id"].as_str().expect("event id").to_string();
    let tell = settled(&s, &event, "booked/tell").await;
    assert_eq!(tell["status"], "succeeded", "{tell}");
    let notes = std::fs::read_to_string(tmp.path().join("notifications.jsonl")).unwrap_or_default();
    assert!(
        notes.contains("Bea <bea.okafor@example.com> booked Sound bath: Rest"),
        "{notes}"
    );
    // The explain trace keeps the request (no credentials) and what came back.
    let stored = admin_get(&s, &format!("/api/events/{event}")).await;
    let step = &stored["trace"]["enrich"][0];
    assert_eq!(step["url"], format!("{api}/appointments/123"), "{stored}");
    assert_eq!(step["status"], 200);
    assert_eq!(step["response"]["calendar"], "The 7 Space");
    assert!(
        !stored.to_string().contains(KEY),
        "a secret reached the trace"
    );

    // The console's event page says what was fetched.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signin = no_redirect
        .post(s.url("/ui/signin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN}"))
        .send()
        .await
        .expect("sign in");
    let cookie = signin.headers()["set-cookie"]
        .to_str()
        .expect("a cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_string();
    let page = no_redirect
        .get(s.url(&format!("/ui/events/{event}")))
        .header("cookie", cookie)
        .send()
        .await
        .expect("event page")
        .text()
        .await
        .unwrap_or_default();
    assert!(
        page.contains(&format!(
            "it was fetched first: GET {api}/appointments/123 answered 200"
        )),
        "{page}"
    );

    // A replay (the what-if) reads the answer the trace kept: no API call, not refused.
    let calls = hits.load(Ordering::SeqCst);
    let r = client()
        .post(s.url("/api/whatif"))
        .bearer_auth(ADMIN)
        .json(&json!({"source": "acuity"}))
        .send()
        .await
        .expect("whatif");
    let whatif: Value = r.json().await.expect("json");
    assert_eq!(whatif["summary"]["events_replayed"], 1, "{whatif}");
    assert_eq!(whatif["summary"]["events_refused"], 0, "{whatif}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        calls,
        "the replay called the API"
    );

    // The same delivery again: a duplicate, answered without asking the API.
    let calls = hits.load(Ordering::SeqCst);
    let (code, again) = post(
        &s,
        "action=scheduled&id=123&calendarID=27238&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["event_id"], event.as_str(), "{again}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        calls,
        "a duplicate called the API"
    );

    // Rate limited once: waited for Retry-After and tried again, still accepted.
    let before = hits.load(Ordering::SeqCst);
    hits.store(0, Ordering::SeqCst);
    let (code, body) = post(
        &s,
        "action=scheduled&id=429&calendarID=27238&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "one 429, then the appointment"
    );
    assert!(before >= 1);

    // An id Acuity doesn't know: refused in words, nothing stored.
    let (code, body) = post(
        &s,
        "action=scheduled&id=404&calendarID=1&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("found nothing (404)"),
        "{body}"
    );
    s.kill();
}

#[tokio::test]
async fn wrong_credentials_refuse_the_webhook_with_a_reason() {
    let api = serve_local(simulator(Arc::new(AtomicU32::new(0)))).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = start(tmp.path(), &api, "not-the-user");
    let (code, body) = post(
        &s,
        "action=scheduled&id=123&calendarID=27238&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 503, "{body}");
    let why = body["error"].as_str().unwrap_or("");
    assert!(why.contains("refused hsflow's credentials (401"), "{why}");
    s.kill();
}

#[test]
fn simulate_reads_the_enriched_file_and_never_calls_the_api() {
    let tmp = tempfile::tempdir().expect("tmp");
    let body = tmp.path().join("hook.txt");
    std::fs::write(
        &body,
        "action=scheduled&id=123&calendarID=27238&appointmentTypeID=1",
    )
    .expect("write");
    let fixture = tmp.path().join("appointment.json");
    std::fs::write(&fixture, appointment(123).to_string()).expect("write");
    let run = |extra: &[&str]| {
        let mut args = vec!["simulate", "--source", "acuity", "--rules"];
        let r = rules();
        let t = r.parent().expect("project").join("templates");
        let (r, t) = (r.display().to_string(), t.display().to_string());
        args.push(&r);
        args.push("--templates");
        args.push(&t);
        args.extend_from_slice(extra);
        let b = body.display().to_string();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hsflow"))
            .args(&args)
            .arg(&b)
            .output()
            .expect("run hsflow");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let f = fixture.display().to_string();
    let (code, out) = run(&["--enriched", &f]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Bea <bea.okafor@example.com> booked Sound bath: Rest"),
        "{out}"
    );
    assert!(out.contains("enrich `appointment`: GET https://acuityscheduling.com/api/v1/appointments/123 (answered from the --enriched file)"), "{out}");
    // Without the file, it says what to give.
    let (code, out) = run(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("simulate --enriched FILE"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_proves_the_credentials_with_one_cheap_call() {
    let api = serve_local(simulator(Arc::new(AtomicU32::new(0)))).await;
    let r = rules();
    let t = r.parent().expect("project").join("templates");
    let url = api.clone();
    let run = move |user: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hsflow"))
            .args(["check", "--rules"])
            .arg(&r)
            .arg("--templates")
            .arg(&t)
            .env("HSFLOW_TEST_ACUITY_URL", &url)
            .env("HSFLOW_TEST_ACUITY_USER", user)
            .env("HSFLOW_TEST_ACUITY_KEY", KEY)
            .output()
            .expect("run hsflow check");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let ((code, out), (bad_code, bad_out)) =
        tokio::task::spawn_blocking(move || (run(USER), run("someone-else")))
            .await
            .expect("join");
    assert!(
        out.contains(&format!(
            "GET {api}/me answers 200 OK with these credentials"
        )),
        "{out}"
    );
    assert_eq!(code, 0, "{out}");
    // Credentials the API refuses: an error that says what to check.
    assert!(
        bad_out.contains("refused the credentials (401"),
        "{bad_out}"
    );
    assert_eq!(bad_code, 1, "{bad_out}");
}
