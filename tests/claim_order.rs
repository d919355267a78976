//! A claim takes the due jobs that fell due first, whether they wait for
//! their first run (`queued`) or for a retry (`failed`). On both engines.

mod support;

use chrono::{Duration, Utc};
use hsflow::store::Store;
use support::events::{new_event, sqlite_store};
use support::postgres::on_postgres_store;

async fn claims_take_the_earliest_due_of_queued_and_failed_jobs(store: &Store) {
    let now = Utc::now();
    // Three events, each with its due actions due when it was received.
    let a = store
        .accept(new_event("a", now - Duration::hours(3), 3600))
        .await
        .expect("a");
    let b = store
        .accept(new_event("b", now - Duration::hours(2), 3600))
        .await
        .expect("b");
    store
        .accept(new_event("c", now - Duration::hours(1), 3600))
        .await
        .expect("c");
    let lease = 60_000;

    // The first due job is one of a's; it fails and is retried at -2h30,
    // after a's others and before b's.
    let first = store.claim(1, lease).await.expect("claim");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].event_id, a.event_id);
    store
        .fail(&first[0], "try later", Some(now - Duration::minutes(150)))
        .await
        .expect("fail");

    let mut order = Vec::new();
    loop {
        let got = store.claim(1, lease).await.expect("claim");
        let Some(job) = got.into_iter().next() else {
            break;
        };
        let which = if job.id == first[0].id {
            "retry".to_string()
        } else if job.event_id == a.event_id {
            "a".into()
        } else if job.event_id == b.event_id {
            "b".into()
        } else {
            "c".into()
        };
        if order.last() != Some(&which) {
            order.push(which);
        }
        store.succeed(&job).await.expect("succeed");
    }
    assert_eq!(order, ["a", "retry", "b", "c"]);

    // A claim of several takes them in the same order across the two.
    let d = store
        .accept(new_event("d", now - Duration::minutes(30), 3600))
        .await
        .expect("d");
    let due = store.claim(100, lease).await.expect("claim");
    let late = store.claim(100, lease).await.expect("claim");
    assert!(late.is_empty(), "everything due was taken: {late:?}");
    assert!(due.iter().all(|j| j.event_id == d.event_id));
}

#[tokio::test]
async fn on_sqlite_claims_take_the_earliest_due_of_queued_and_failed_jobs() {
    let (_tmp, store) = sqlite_store().await;
    claims_take_the_earliest_due_of_queued_and_failed_jobs(&store).await;
}

#[tokio::test]
async fn on_postgres_claims_take_the_earliest_due_of_queued_and_failed_jobs() {
    on_postgres_store(claims_take_the_earliest_due_of_queued_and_failed_jobs).await;
}
