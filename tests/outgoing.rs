//! Notifications to Slack and outgoing webhooks, against a local HTTP
//! receiver that answers as Slack's incoming webhooks do (`ok`, or a plain
//! error string with its status) and checks webhook signatures.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use support::*;

#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Answers to give first (status, body), then 200 "ok".
    script: Arc<Mutex<Vec<(u16, &'static str)>>>,
}

impl Receiver {
    /// A receiver that first gives these answers, then 200 "ok".
    fn answering(script: Vec<(u16, &'static str)>) -> Receiver {
        Receiver {
            script: Arc::new(Mutex::new(script)),
            ..Receiver::default()
        }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

async fn receive(
    State(r): State<Receiver>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    if let Ok(mut g) = r.got.lock() {
        g.push(Received {
            path: path.clone(),
            headers: headers.clone(),
            body: body.to_vec(),
        });
    }
    let scripted = r
        .script
        .lock()
        .ok()
        .and_then(|mut s| (!s.is_empty()).then(|| s.remove(0)));
    if let Some((status, text)) = scripted {
        let mut resp = (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            text,
        )
            .into_response();
        if status == 429 {
            resp.headers_mut()
                .insert("retry-after", "1".parse().expect("header"));
        }
        return resp;
    }
    if path.starts_with("huge/") {
        // A hostile or broken service: a rate limit asking for ~3 million years.
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
        resp.headers_mut()
            .insert("retry-after", "100000000000000".parse().expect("header"));
        return resp;
    }
    if path.starts_with("services/") {
        // Slack: a JSON body with non-empty text, or 400 invalid_payload.
        let ok = serde_json::from_slice::<Value>(&body)
            .ok()
            .is_some_and(|v| {
                v["text"].as_str().is_some_and(|t| !t.is_empty()) && v["blocks"].is_array()
            });
        return if ok {
            (StatusCode::OK, "ok").into_response()
        } else {
            (StatusCode::BAD_REQUEST, "invalid_payload").into_response()
        };
    }
    (StatusCode::OK, "received").into_response()
}

async fn start_receiver(r: &Receiver) -> String {
    let app = Router::new()
        .route("/{*path}", post(receive))
        .with_state(r.clone());
    serve_local(app).await
}

fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sinks/rules")
}

#[tokio::test]
async fn a_notification_goes_to_slack_as_text_and_blocks_on_its_channels_own_webhook() {
    let r = Receiver::default();
    let base = start_receiver(&r).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        &tmp.path().join("data"),
        &rules(),
        &[],
        &[
            (
                "HSFLOW_SLACK_WEBHOOK_URL",
                format!("{base}/services/T0/B0/default"),
            ),
            (
                "HSFLOW_SLACK_WEBHOOK_URL_GALLERY_CURATOR",
                format!("{base}/services/T0/B1/gallery"),
            ),
        ],
    );
    let e = accepted(
        &s,
        &json!({"id": "n1", "type": "notify", "email": "ada@example.com"}),
    )
    .await;
    let job = settled(&s, &e, "ping/tell_team").await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let got = r.got();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].path, "services/T0/B1/gallery",
        "the channel's own webhook"
    );
    let body: Value = serde_json::from_slice(&got[0].body).expect("json");
    assert!(
        body["text"]
            .as_str()
            .unwrap_or("")
            .contains("New signup: ada@example.com"),
        "{body}"
    );
    assert_eq!(body["blocks"][0]["type"], "section");
    s.kill();
}

#[tokio::test]
async fn slack_refusals_are_retried_or_parked_by_their_status() {
    // A rate limit first (retried after Retry-After), then an archived channel (parked).
    let r = Receiver::answering(vec![(429, "rate_limited"), (410, "channel_is_archived")]);
    let base = start_receiver(&r).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        &tmp.path().join("data"),
        &rules(),
        &["--retry-base", "1s"],
        &[(
            "HSFLOW_SLACK_WEBHOOK_URL",
            format!("{base}/services/T0/B0/x"),
        )],
    );
    let e = accepted(
        &s,
        &json!({"id": "n2", "type": "notify", "email": "ada@example.com"}),
    )
    .await;
    let job = settled(&s, &e, "ping/tell_team").await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("channel_is_archived"),
        "{job}"
    );
    s.kill();
}

#[tokio::test]
async fn notifications_can_go_to_any_json_endpoint() {
    let r = Receiver::default();
    let base = start_receiver(&r).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        &tmp.path().join("data"),
        &rules(),
        &[],
        &[("HSFLOW_NOTIFY_WEBHOOK_URL", format!("{base}/notify"))],
    );
    let e = accepted(
        &s,
        &json!({"id": "n3", "type": "notify", "email": "ada@example.com"}),
    )
    .await;
    assert_eq!(
        settled(&s, &e, "ping/tell_team").await["status"],
        "succeeded"
    );
    let body: Value = serde_json::from_slice(&r.got()[0].body).expect("json");
    assert_eq!(body["channel"], "gallery curator");
    assert_eq!(body["text"], "New signup: ada@example.com");
    s.kill();
}

#[tokio::test]
async fn a_signed_webhook_is_retried_with_the_same_idempotency_key_and_a_valid_signature() {
    let r = Receiver::answering(vec![(503, "busy")]);
    let base = start_receiver(&r).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        &tmp.path().join("data"),
        &rules(),
        &["--retry-base", "1s"],
        &[
            ("HSFLOW_WEBHOOKS", "send".into()),
            ("HSFLOW_TEST_HOOK_SECRET", "hook-secret".into()),
        ],
    );
    let e = accepted(
        &s,
        &json!({"id": "w1", "type": "hook", "email": "ada@example.com", "first_name": "Ada", "hook_url": format!("{base}/crm")}),
    )
    .await;
    let job = settled(&s, &e, "hook/crm_hook").await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let got = r.got();
    assert_eq!(got.len(), 2, "one 503, one delivery");
    let key = |g: &Received| {
        g.headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(key(&got[0]), key(&got[1]));
    assert_eq!(key(&got[1]).as_deref(), job["id"].as_str());
    let body: Value = serde_json::from_slice(&got[1].body).expect("json");
    assert_eq!(body, json!({"email": "ada@example.com", "who": "Ada"}));
    let expected = hsflow::sources::auth::sign(
        hsflow::rules::model::SignatureEncoding::Hex,
        Some("sha256="),
        "hook-secret",
        &got[1].body,
    );
    assert_eq!(
        got[1]
            .headers
            .get("x-hsflow-signature")
            .and_then(|v| v.to_str().ok()),
        Some(expected.as_str())
    );
    s.kill();
}

#[tokio::test]
async fn a_webhook_that_must_be_signed_without_its_secret_is_parked() {
    let r = Receiver::default();
    let base = start_receiver(&r).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        &tmp.path().join("data"),
        &rules(),
        &[],
        &[("HSFLOW_WEBHOOKS", "send".into())],
    );
    let e = accepted(&s, &json!({"id": "w2", "type": "hook", "email": "a@example.com", "hook_url": format!("{base}/crm")})).await;
    let job = settled(&s, &e, "hook/crm_hook").await;
    assert_eq!(job["status"], "dead");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("HSFLOW_TEST_HOOK_SECRET is not set"),
        "{job}"
    );
    assert!(r.got().is_empty(), "nothing unsigned was sent");
    s.kill();
}

#[tokio::test]
async fn a_webhook_the_receiver_refuses_is_parked_with_its_answer() {
    let r = Receiver::answering(vec![(422, "email is not valid")]);
    let base = start_receiver(&r).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        &tmp.path().join("data"),
        &rules(),
        &[],
        &[
            ("HSFLOW_WEBHOOKS", "send".into()),
            ("HSFLOW_TEST_HOOK_SECRET", "k".into()),
        ],
    );
    let e = accepted(&s, &json!({"id": "w3", "type": "hook", "email": "a@example.com", "hook_url": format!("{base}/crm")})).await;
    let job = settled(&s, &e, "hook/crm_hook").await;
    assert_eq!(
        (job["status"].as_str(), job["attempts"].as_i64()),
        (Some("dead"), Some(1)),
        "{job}"
    );
    let err = job["last_error"].as_str().unwrap_or("");
    assert!(
        err.contains("422") && err.contains("email is not valid"),
        "{err}"
    );
    s.kill();
}

/// A notification to a service that always answers 429 with a Retry-After
/// of about three million years, on a server started with `flags`: the
/// action once it is finished, and the requests the service saw.
async fn against_a_huge_retry_after(key: &str, flags: &[&str]) -> (Value, usize) {
    let r = Receiver::default();
    let base = start_receiver(&r).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        &tmp.path().join("data"),
        &rules(),
        flags,
        &[("HSFLOW_SLACK_WEBHOOK_URL", format!("{base}/huge/x"))],
    );
    let e = accepted(
        &s,
        &json!({"id": key, "type": "notify", "email": "ada@example.com"}),
    )
    .await;
    let job = settled(&s, &e, "ping/tell_team").await;
    assert_eq!(health(&s).await["status"], "ok");
    s.kill();
    (job, r.got().len())
}

#[tokio::test]
async fn a_huge_retry_after_is_capped_and_the_job_ends_parked_not_stuck() {
    let (job, requests) =
        against_a_huge_retry_after("h1", &["--retry-after-max", "1s", "--max-attempts", "3"]).await;
    // Parked after its attempts, seconds later: never left running, never
    // rescheduled for centuries.
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["attempts"], 3, "{job}");
    let why = job["last_error"].as_str().unwrap_or("");
    assert!(why.contains("gave up after 3 attempts"), "{why}");
    // The pause it asked for holds for every later attempt: one request only.
    assert_eq!(requests, 1, "requests sent inside the pause");
    assert!(why.contains("nothing was sent"), "{why}");
}

#[tokio::test]
async fn a_retry_past_the_actions_deadline_parks_it_with_the_reason() {
    let (job, _) = against_a_huge_retry_after("h2", &["--give-up-after", "1m"]).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["attempts"], 1, "{job}");
    let why = job["last_error"].as_str().unwrap_or("");
    assert!(why.contains("after the action's deadline"), "{why}");
}
