//! An action's rule-set version is stored once, on its event: the action
//! rows carry no 64-character hash of their own, yet every reader (the
//! claim, the API's lists, the email parts, the replay list) still gets the
//! version that planned the action; a row written before the change keeps
//! and reads its own.

mod support;

use chrono::Utc;
use sqlx::Row;
use support::events::{new_event, sqlite_store};

#[tokio::test]
async fn actions_read_the_version_of_their_event() {
    let (_tmp, store) = sqlite_store().await;
    let accepted = store
        .accept(new_event("k1", Utc::now(), 3600))
        .await
        .expect("accepted");
    let version: String = sqlx::query_scalar("SELECT ruleset_version FROM events WHERE id = $1")
        .bind(&accepted.event_id)
        .fetch_one(&store.pool)
        .await
        .expect("event");
    assert_eq!(version.len(), 64, "the event keeps the full version");

    // Stored: nothing in the rows themselves.
    let own: Vec<String> = sqlx::query_scalar("SELECT ruleset_version FROM actions")
        .fetch_all(&store.pool)
        .await
        .expect("actions");
    assert_eq!(own.len(), accepted.actions);
    assert!(own.iter().all(String::is_empty), "{own:?}");

    // Read: the event's, by every reader.
    // The two due now (the email 3 s later is left waiting, however slow the machine).
    let jobs = store.claim(2, 60_000).await.expect("claim");
    assert!(!jobs.is_empty());
    assert!(jobs.iter().all(|j| j.ruleset_version == version));
    let listed = store
        .actions_of_event(&accepted.event_id)
        .await
        .expect("list");
    assert!(listed.iter().all(|a| a.ruleset_version == version));
    let details = store
        .action_details(&accepted.event_id)
        .await
        .expect("details");
    assert!(details.iter().all(|a| a.ruleset_version == version));
    let parts = store
        .action_parts(&jobs[0].id)
        .await
        .expect("parts")
        .expect("found");
    assert_eq!(parts.ruleset_version, version);
    let waiting = store.waiting_actions(100).await.expect("waiting");
    assert!(!waiting.is_empty(), "the email 3 s later waits");
    assert!(waiting.iter().all(|w| w.ruleset_version == version));

    // A row from before the change reads its own version.
    sqlx::query("UPDATE actions SET ruleset_version = 'older' WHERE id = $1")
        .bind(&jobs[0].id)
        .execute(&store.pool)
        .await
        .expect("old row");
    let parts = store
        .action_parts(&jobs[0].id)
        .await
        .expect("parts")
        .expect("found");
    assert_eq!(parts.ruleset_version, "older");
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM actions_named WHERE ruleset_version = '' AND event_id = $1",
    )
    .bind(&accepted.event_id)
    .fetch_one(&store.pool)
    .await
    .expect("count");
    assert_eq!(
        row.try_get::<i64, _>("n").expect("n") as usize,
        accepted.actions - 1
    );
}
