//! Retention: finished work older than the cutoff is removed, in batches,
//! and nothing else: not an old event with an action still to run, not
//! recent work. `hsflow export` writes events out first. On both engines.

mod support;

use chrono::{Duration, Utc};
use hsflow::store::Store;
use support::events::{new_event, new_event_from, sqlite_store, work_until_idle};
use support::postgres::on_postgres_store;

async fn count(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&store.pool)
        .await
        .expect("count")
}

/// Three events: old and finished, old with its actions still queued, recent and finished.
async fn three_events(store: &Store) -> (String, String, String) {
    let old = Utc::now() - Duration::days(100);
    let done_old = store
        .accept(new_event("old-done", old, 60))
        .await
        .expect("a");
    let recent = store
        .accept(new_event("recent", Utc::now() - Duration::seconds(10), 60))
        .await
        .expect("c");
    work_until_idle(store).await;
    let pending_old = store
        .accept(new_event("old-pending", old, 60))
        .await
        .expect("b");
    (done_old.event_id, pending_old.event_id, recent.event_id)
}

async fn only_finished_old_work_goes(store: &Store) {
    let (done_old, pending_old, recent) = three_events(store).await;
    let actions_before = count(store, "actions").await;
    let pruned = store
        .prune_all_finished(Utc::now() - Duration::days(90))
        .await
        .expect("prune");
    assert_eq!(pruned.events, 1, "{pruned:?}");
    assert_eq!(pruned.actions as i64, actions_before / 3, "{pruned:?}");
    assert!(
        store.event(&done_old).await.is_err(),
        "the old finished event stayed"
    );
    let kept = store
        .event(&pending_old)
        .await
        .expect("the old event with pending work");
    assert!(kept["actions"].as_array().is_some_and(|a| !a.is_empty()));
    store.event(&recent).await.expect("the recent event");
    assert_eq!(count(store, "events").await, 2);
    // A second pass finds nothing more.
    let again = store
        .prune_all_finished(Utc::now() - Duration::days(90))
        .await
        .expect("prune");
    assert_eq!(again.events + again.actions, 0);
}

#[tokio::test]
async fn on_sqlite_only_finished_work_past_the_retention_is_removed() {
    let (_tmp, store) = sqlite_store().await;
    only_finished_old_work_goes(&store).await;
}

#[tokio::test]
async fn on_postgres_only_finished_work_past_the_retention_is_removed() {
    on_postgres_store(only_finished_old_work_goes).await;
}

/// A contact whose last action retention removed is removed too (its
/// address is personal data kept for nothing); a contact with an action
/// left, old or new, keeps its address.
async fn a_contact_goes_with_its_last_action(store: &Store) {
    let old = Utc::now() - Duration::days(100);
    for (key, email) in [
        ("gone-1", "gone@example.org"),
        ("kept-1", "kept@example.org"),
    ] {
        store
            .accept(new_event_from(key, "signup", email, old, 60))
            .await
            .expect("old lead");
    }
    work_until_idle(store).await;
    store
        .accept(new_event_from(
            "kept-2",
            "signup",
            "kept@example.org",
            Utc::now(),
            60,
        ))
        .await
        .expect("new lead");
    let pruned = store
        .prune_all_finished(Utc::now() - Duration::days(90))
        .await
        .expect("prune");
    assert_eq!((pruned.events, pruned.contacts), (2, 1), "{pruned:?}");
    let left: Vec<String> = sqlx::query_scalar("SELECT contact FROM contacts ORDER BY contact")
        .fetch_all(&store.pool)
        .await
        .expect("contacts");
    assert_eq!(left, ["kept@example.org"]);
    // The kept contact's actions still read their address, and a new lead
    // from the removed one is written with a new number.
    let pending = store
        .pending_emails("kept@example.org")
        .await
        .expect("pending");
    assert_eq!(pending.len(), 1, "{pending:?}");
    let again = store
        .accept(new_event_from(
            "gone-2",
            "signup",
            "gone@example.org",
            Utc::now(),
            60,
        ))
        .await
        .expect("lead again");
    let actions = store.actions_of_event(&again.event_id).await.expect("list");
    assert!(
        actions
            .iter()
            .all(|a| a.contact.as_deref() == Some("gone@example.org")),
        "{actions:?}"
    );
}

#[tokio::test]
async fn on_sqlite_a_contact_goes_with_its_last_action() {
    let (_tmp, store) = sqlite_store().await;
    a_contact_goes_with_its_last_action(&store).await;
}

#[tokio::test]
async fn on_postgres_a_contact_goes_with_its_last_action() {
    on_postgres_store(a_contact_goes_with_its_last_action).await;
}

fn export(data: &std::path::Path, args: &[&str]) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .arg("export")
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run hsflow export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect()
}

#[tokio::test]
async fn export_writes_what_a_retention_would_remove_as_json_lines() {
    let (tmp, store) = sqlite_store().await;
    let (done_old, pending_old, _) = three_events(&store).await;
    let old = export(tmp.path(), &["--until", "90d"]);
    let ids: Vec<&str> = old.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&done_old.as_str()) && ids.contains(&pending_old.as_str()));
    assert!(old[0]["actions"].as_array().is_some_and(|a| !a.is_empty()));
    assert_eq!(export(tmp.path(), &[]).len(), 3);
    assert_eq!(export(tmp.path(), &["--since", "1h"]).len(), 1);

    store
        .prune_all_finished(Utc::now() - Duration::days(90))
        .await
        .expect("prune");
    let left = export(tmp.path(), &["--until", "90d"]);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], pending_old.as_str());
}

#[test]
fn export_says_where_the_store_should_be_when_there_is_none() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["export", "--data", "/nonexistent/hsflow-data"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("there is no store at") && err.contains("--data"),
        "{err}"
    );
}
