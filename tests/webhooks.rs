//! POST /webhooks/{source} over real HTTP: what is accepted, what is refused
//! and why, and that an accepted event's immediate actions really happen.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

#[tokio::test]
async fn a_signed_webhook_is_stored_and_its_immediate_actions_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &fixture().join("rules"), &[]);
    let (status, body) = post_signed(
        &s,
        &json!({"id": "e1", "type": "signup", "email": " Ada@Example.org ", "first_name": "Ada"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["duplicate"], false);
    assert_eq!(body["actions"], 3);
    let event_id = body["event_id"].as_str().expect("event id").to_string();

    // The notification (delay 0) is carried out; the email (3s) waits.
    let notes = dir.path().join("notifications.jsonl");
    let line = eventually(Duration::from_secs(10), "the notification", || {
        let notes = notes.clone();
        async move {
            std::fs::read_to_string(&notes)
                .ok()
                .filter(|t| t.contains("New signup: ada@example.org"))
        }
    })
    .await;
    assert!(line.contains("\"channel\":\"team\""), "{line}");
    let actions = actions_of(&s, &event_id).await;
    assert_eq!(
        status_of(&actions, "welcome/welcome_email"),
        Some("queued"),
        "{actions:#?}"
    );

    // The event, its trace and its fields are kept.
    let ev = admin_get(&s, &format!("/api/events/{event_id}")).await;
    assert_eq!(ev["fields"]["email"], "ada@example.org");
    assert_eq!(ev["trace"]["rules"][0]["matched"], true);
}

#[tokio::test]
async fn a_bad_or_missing_signature_is_401_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &fixture().join("rules"), &[]);
    let body = serde_json::to_vec(&json!({"id": "e2", "type": "signup", "email": "a@b.example"}))
        .expect("json");
    for sig in [Some("sha256=00ff"), None, Some("nonsense")] {
        let mut req = client()
            .post(s.url("/webhooks/form"))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(sig) = sig {
            req = req.header("x-signature", sig);
        }
        let r = req.send().await.expect("send");
        assert_eq!(r.status().as_u16(), 401, "signature {sig:?}");
        let msg: serde_json::Value = r.json().await.expect("json");
        assert!(
            msg["error"].as_str().unwrap_or("").contains("X-Signature"),
            "{msg}"
        );
    }
    let all = admin_get(&s, "/api/actions").await;
    assert_eq!(
        all["actions"].as_array().map(Vec::len),
        Some(0),
        "nothing stored: {all}"
    );
    // The same body, correctly signed, is then accepted (it was never recorded as seen).
    let (status, _) = post_signed(
        &s,
        &json!({"id": "e2", "type": "signup", "email": "a@b.example"}),
    )
    .await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn a_duplicate_delivery_is_answered_200_and_plans_nothing_new() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &fixture().join("rules"), &[]);
    let event = json!({"id": "same-id", "type": "signup", "email": "d@b.example"});
    let (first, a) = post_signed(&s, &event).await;
    let (second, b) = post_signed(&s, &event).await;
    assert_eq!((first, second), (202, 200));
    assert_eq!(b["duplicate"], true);
    assert_eq!(a["event_id"], b["event_id"]);
    let all = admin_get(&s, "/api/actions").await;
    assert_eq!(all["actions"].as_array().map(Vec::len), Some(3), "{all}");
}

#[tokio::test]
async fn bad_requests_get_a_4xx_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(
        dir.path(),
        &fixture().join("rules"),
        &["--body-limit", "2048"],
    );
    let c = client();
    let signed = |b: &[u8]| sign(b);

    let r = c
        .post(s.url("/webhooks/nope"))
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 404);
    let text = r.text().await.unwrap_or_default();
    assert!(text.contains("there is no source `nope`"), "{text}");
    // A stranger learns nothing about which sources exist.
    assert!(!text.contains("form"), "{text}");

    let bad = b"{not json".to_vec();
    let r = c
        .post(s.url("/webhooks/form"))
        .header("content-type", "application/json")
        .header("x-signature", signed(&bad))
        .body(bad)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("not valid JSON"));

    let ok = serde_json::to_vec(&json!({"id": "x", "type": "signup", "email": "e@b.example"}))
        .expect("json");
    let r = c
        .post(s.url("/webhooks/form"))
        .header("content-type", "text/plain")
        .header("x-signature", signed(&ok))
        .body(ok.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("application/json"));

    let no_email = serde_json::to_vec(&json!({"id": "y", "type": "signup"})).expect("json");
    let r = c
        .post(s.url("/webhooks/form"))
        .header("content-type", "application/json")
        .header("x-signature", signed(&no_email))
        .body(no_email)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap_or_default().contains("$.email"));

    let big = vec![b'x'; 4096];
    let r = c
        .post(s.url("/webhooks/form"))
        .header("content-type", "application/json")
        .header("x-signature", signed(&big))
        .body(big)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 413);

    let r = c
        .post(s.url("/webhooks/unset"))
        .header("content-type", "application/json")
        .header("x-token", "anything")
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 503);
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("HSFLOW_TEST_NEVER_SET"));

    let all = admin_get(&s, "/api/actions").await;
    assert_eq!(
        all["actions"].as_array().map(Vec::len),
        Some(0),
        "nothing was stored: {all}"
    );
}

#[tokio::test]
async fn a_creation_ping_is_answered_200_and_not_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &fixture().join("rules"), &[]);
    let r = client()
        .post(s.url("/webhooks/form"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("webhook_id=42")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let health = health(&s).await;
    assert_eq!(health["queue"]["due"], 0);
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn admin_routes_need_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &fixture().join("rules"), &[]);
    let r = client()
        .get(s.url("/api/actions"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let r = client()
        .get(s.url("/api/actions"))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn a_reply_cancels_the_contacts_pending_actions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &fixture().join("rules"), &[]);
    let (_, a) = post_signed(
        &s,
        &json!({"id": "c1", "type": "signup", "email": "c@b.example"}),
    )
    .await;
    let (status, r) = post_signed(
        &s,
        &json!({"id": "c2", "type": "reply", "email": "c@b.example"}),
    )
    .await;
    assert_eq!(status, 202);
    // Only the scheduled email: the immediate notify and workflow move are under way.
    assert_eq!(r["cancelled"], 1, "{r}");
    let actions = actions_of(&s, a["event_id"].as_str().unwrap_or("")).await;
    assert_eq!(
        status_of(&actions, "welcome/welcome_email"),
        Some("cancelled"),
        "{actions:#?}"
    );
}

#[tokio::test]
async fn metrics_count_events_sink_results_and_store_rounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &fixture().join("rules"), &[]);
    let body = json!({"id": "m1", "type": "signup", "email": "m@example.org"});
    let event = accepted(&s, &body).await;
    settled(&s, &event, "welcome/notify_1").await;
    let (dup, _) = post_signed(&s, &body).await;
    assert_eq!(dup, 200);
    let text = metrics_text(&s).await;
    let get = |name: &str| sample(&text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"));
    assert_eq!(
        get(r#"hsflow_events_total{source="form",outcome="accepted"}"#),
        1.0
    );
    assert_eq!(
        get(r#"hsflow_events_total{source="form",outcome="duplicate"}"#),
        1.0
    );
    assert_eq!(
        get(r#"hsflow_sink_results_total{kind="notify",result="ok"}"#),
        1.0
    );
    // The event, a claim and an outcome at least, each committed in some round.
    assert!(get(r#"hsflow_store_rounds_total{result="ok"}"#) >= 2.0);
    assert!(get("hsflow_store_round_writes_total") >= 3.0);
    assert_eq!(
        get(r#"hsflow_actions{status="queued"}"#),
        1.0,
        "the email waits 3 s"
    );
}
