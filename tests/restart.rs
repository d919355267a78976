//! Durability: accepted work survives kill -9, and a failing sink retries,
//! parks, and runs again when an operator retries it.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

#[tokio::test]
async fn a_delayed_action_survives_a_crash_and_fires_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = fixture().join("rules");
    let s = Server::start(dir.path(), &rules, &[]);
    let (status, body) = post_signed(
        &s,
        &json!({"id": "r1", "type": "signup", "email": "late@b.example", "first_name": "Lou"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let event_id = body["event_id"].as_str().expect("id").to_string();
    // Crash at once: the email is due in 3 seconds and has not run.
    s.kill();
    let outbox = dir.path().join("outbox");
    assert!(!outbox.exists() || std::fs::read_dir(&outbox).map(|d| d.count()).unwrap_or(0) == 0);

    let s = Server::start(dir.path(), &rules, &[]);
    let eml = eventually(
        Duration::from_secs(15),
        "the welcome email after the restart",
        || {
            let outbox = outbox.clone();
            async move { first_eml(&outbox) }
        },
    )
    .await;
    assert!(eml.contains("To: late@b.example"), "{eml}");
    assert!(eml.contains("Subject: Welcome, Lou"), "{eml}");
    assert!(
        eml.contains("Message-ID: <") && eml.contains("@hsflow>"),
        "{eml}"
    );
    // The status is written right after the file.
    let statuses = eventually(
        Duration::from_secs(5),
        "the email marked succeeded",
        || async {
            let a = actions_of(&s, &event_id).await;
            (status_of(&a, "welcome/welcome_email") == Some("succeeded")).then_some(a)
        },
    )
    .await;
    assert_eq!(
        status_of(&statuses, "welcome/welcome_email"),
        Some("succeeded")
    );
}

#[tokio::test]
async fn a_failing_sink_retries_then_parks_and_a_retry_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A file where the outbox directory should be: every email write fails (a real I/O error).
    std::fs::write(dir.path().join("outbox"), b"not a directory").expect("block the outbox");
    let s = Server::start(
        dir.path(),
        &fixture().join("rules"),
        &["--max-attempts", "3", "--retry-base", "1s"],
    );
    let (status, body) = post_signed(
        &s,
        &json!({"id": "f1", "type": "instant", "email": "f@b.example"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let event_id = body["event_id"].as_str().expect("id").to_string();

    let parked = eventually(
        Duration::from_secs(20),
        "the email to be parked",
        || async {
            let a = actions_of(&s, &event_id).await;
            (status_of(&a, "instant/instant_email") == Some("dead")).then_some(a)
        },
    )
    .await;
    let job = parked
        .iter()
        .find(|a| a["action"] == "instant/instant_email")
        .cloned()
        .unwrap_or_default();
    assert_eq!(job["attempts"], 3, "{job:#}");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("gave up after 3 attempts"),
        "{job:#}"
    );
    let dead = admin_get(&s, "/api/actions?status=dead").await;
    assert_eq!(dead["actions"].as_array().map(Vec::len), Some(1));
    let health = health(&s).await;
    assert_eq!(health["dead"], 1);

    // Fix the cause, retry that one action: it runs, and only it.
    std::fs::remove_file(dir.path().join("outbox")).expect("unblock");
    let id = job["id"].as_str().expect("job id");
    let (code, _) = admin_post(&s, &format!("/api/actions/{id}/retry")).await;
    assert_eq!(code, 200);
    eventually(
        Duration::from_secs(10),
        "the retried email to succeed",
        || async {
            let a = actions_of(&s, &event_id).await;
            (status_of(&a, "instant/instant_email") == Some("succeeded")).then_some(())
        },
    )
    .await;
    let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .expect("outbox")
        .flatten()
        .collect();
    assert_eq!(files.len(), 1, "exactly one message");
    let (code, _) = admin_post(&s, &format!("/api/actions/{id}/retry")).await;
    assert_eq!(code, 409, "a succeeded action is not retried");
}
