//! An action's id starts with its event's (schema version 14), and that is
//! how an event's actions are found: no action row names its event, and
//! there is no index of actions by event, yet the event's page, the events
//! list, the events of a contact and retention all find them. On both
//! engines. (Actions stored before version 14 are found by the column they
//! keep: tests/upgrade_keeps_old_actions.rs.)

mod support;

use chrono::{Duration, Utc};
use hsflow::store::browse::EventQuery;
use hsflow::store::Store;
use support::events::{new_event, new_event_from, sqlite_store, work_until_idle};
use support::postgres::on_postgres_store;

async fn an_events_actions_are_found_by_its_id(store: &Store) {
    let first = store
        .accept(new_event_from(
            "k1",
            "signup",
            "a@example.com",
            Utc::now(),
            60,
        ))
        .await
        .expect("accepted");
    let second = store
        .accept(new_event_from(
            "k2",
            "signup",
            "b@example.com",
            Utc::now(),
            60,
        ))
        .await
        .expect("accepted");
    assert!(first.actions >= 2, "{first:?}");

    // Each action's id is its event's and its place in the plan; the row
    // names no event of its own.
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, old_event_id FROM actions ORDER BY id")
            .fetch_all(&store.pool)
            .await
            .expect("rows");
    assert_eq!(rows.len(), first.actions + second.actions);
    for (id, old) in &rows {
        assert_eq!(old, "", "{id}");
        let (event, place) = id.split_at(26);
        assert!(event == first.event_id || event == second.event_id, "{id}");
        assert_eq!(place.len(), 2, "{id}");
    }
    let places: Vec<&str> = rows
        .iter()
        .filter(|(id, _)| id.starts_with(&first.event_id))
        .map(|(id, _)| &id[26..])
        .collect();
    let expected: Vec<String> = (0..first.actions).map(|i| format!("{i:02}")).collect();
    assert_eq!(places, expected, "places 00, 01, ... in plan order");

    // The event's own page lists exactly its actions, with their event.
    for accepted in [&first, &second] {
        let listed = store
            .actions_of_event(&accepted.event_id)
            .await
            .expect("listed");
        assert_eq!(listed.len(), accepted.actions);
        assert!(listed.iter().all(|a| a.event_id == accepted.event_id));
        assert!(listed.iter().all(|a| a.id.starts_with(&accepted.event_id)));
        let details = store
            .action_details(&accepted.event_id)
            .await
            .expect("details");
        assert_eq!(details.len(), accepted.actions);
    }

    // The events list counts each event's own actions by status, and the
    // events of a contact are the ones with an action for that address.
    let page = store
        .events_page(&EventQuery {
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .expect("page");
    assert_eq!(page.rows.len(), 2);
    for row in &page.rows {
        let n: i64 = row.statuses.values().sum();
        let expected = if row.id == first.event_id {
            first.actions
        } else {
            second.actions
        };
        assert_eq!(n as usize, expected, "{row:?}");
    }
    let of_b = store
        .events_page(&EventQuery {
            contact: Some("b@example.com".into()),
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .expect("page");
    assert_eq!(
        of_b.rows.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [second.event_id.as_str()]
    );

    // A claimed job knows its event.
    let jobs = store.claim(50, 60_000).await.expect("claim");
    assert!(!jobs.is_empty());
    for j in &jobs {
        assert!(
            j.event_id == first.event_id || j.event_id == second.event_id,
            "{j:?}"
        );
        assert!(j.id.starts_with(&j.event_id), "{j:?}");
    }
}

#[tokio::test]
async fn on_sqlite_an_events_actions_are_found_by_its_id() {
    let (_tmp, store) = sqlite_store().await;
    an_events_actions_are_found_by_its_id(&store).await;
}

#[tokio::test]
async fn on_postgres_an_events_actions_are_found_by_its_id() {
    on_postgres_store(an_events_actions_are_found_by_its_id).await;
}

/// Retention reads an event's actions by its id too: the old finished
/// event goes with its actions, the neighbour whose ids sort right after
/// it stays whole.
async fn retention_takes_an_event_with_its_own_actions(store: &Store) {
    let old = Utc::now() - Duration::days(100);
    let gone = store.accept(new_event("old", old, 60)).await.expect("old");
    let kept = store
        .accept(new_event("new", Utc::now(), 60))
        .await
        .expect("new");
    work_until_idle(store).await;
    let pruned = store
        .prune_all_finished(Utc::now() - Duration::days(90))
        .await
        .expect("prune");
    assert_eq!(
        (pruned.events, pruned.actions as usize),
        (1, gone.actions),
        "{pruned:?}"
    );
    assert!(store.event(&gone.event_id).await.is_err());
    let left = store.actions_of_event(&kept.event_id).await.expect("kept");
    assert_eq!(left.len(), kept.actions);
}

#[tokio::test]
async fn on_sqlite_retention_takes_an_event_with_its_own_actions() {
    let (_tmp, store) = sqlite_store().await;
    retention_takes_an_event_with_its_own_actions(&store).await;
}

#[tokio::test]
async fn on_postgres_retention_takes_an_event_with_its_own_actions() {
    on_postgres_store(retention_takes_an_event_with_its_own_actions).await;
}
