//! A job whose lease runs out while it still runs is claimed again; from
//! then on the first worker is refused everything: its success, its
//! failure, and the side effects hsflow keeps in its own store (a workflow
//! move, a page). The new claim's outcome stands. On both engines.

mod support;

use chrono::Utc;
use hsflow::store::jobs::Job;
use hsflow::store::notion_local::PageRequest;
use hsflow::store::workflows::TransitionRequest;
use hsflow::store::{Store, StoreError};
use support::events::{new_event, sqlite_store};
use support::postgres::on_postgres_store;

/// Accept one event and claim its due jobs under a 1 ms lease; let the
/// lease run out and claim the same jobs again. (first claim, second claim)
async fn claimed_twice(store: &Store) -> (Vec<Job>, Vec<Job>) {
    store
        .accept(new_event("k", Utc::now(), 3600))
        .await
        .expect("accepted");
    let first = store.claim(10, 1).await.expect("claim");
    assert!(!first.is_empty(), "the fixture's signup has due actions");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let back = store.recover_expired(Utc::now()).await.expect("recover");
    assert_eq!(back as usize, first.len());
    let mut first = first;
    let mut second = store.claim(10, 60_000).await.expect("claim again");
    first.sort_by(|a, b| a.id.cmp(&b.id));
    second.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        second.iter().map(|j| &j.id).collect::<Vec<_>>(),
        first.iter().map(|j| &j.id).collect::<Vec<_>>()
    );
    (first, second)
}

fn lost(r: Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(r, Err(StoreError::LeaseLost(_)))
}

async fn a_worker_that_lost_its_lease_records_nothing(store: &Store) {
    let (first, second) = claimed_twice(store).await;
    let (old, new) = (&first[0], &second[0]);
    assert!(new.claim > old.claim);

    // The first worker's outcome is refused, whatever it is.
    assert!(lost(store.succeed(old).await));
    assert!(lost(store.fail(old, "timed out", None).await));
    assert!(lost(store.fail(old, "timed out", Some(Utc::now())).await));

    // So are its side effects in the store: nothing is moved or written.
    let moved = store
        .transition(TransitionRequest {
            workflow: "onboarding".into(),
            contact: "a@example.com".into(),
            to: "welcomed".into(),
            from: Vec::new(),
            terminal: false,
            cause: "test".into(),
            fence: Some(old.fence()),
        })
        .await;
    assert!(lost(moved));
    // A task page, written by the worker holding the claim `job`.
    let task = |job: &Job| PageRequest {
        database: "tasks".into(),
        key: Some(("Task ID".into(), job.id.clone())),
        properties: serde_json::Map::new(),
        must_exist: false,
        increments: Vec::new(),
        job_id: job.id.clone(),
        fence: Some(job.fence()),
    };
    let page = store.page(task(old)).await;
    assert!(lost(page));
    assert!(store.pages("tasks").await.expect("pages").is_empty());

    // The new claim's side effect commits together with its success, also
    // when the old worker writes for the same job at the same moment (the
    // store checks a round's fences together, each a job and its claim):
    // the old claim is refused, the current one writes.
    assert!(
        second.len() >= 2,
        "the fixture's signup has two due actions"
    );
    let (stale, current, same_job_now) = tokio::join!(
        store.page(task(&first[1])),
        store.page(task(new)),
        store.page(task(&second[1])),
    );
    assert!(lost(stale));
    let (_, _, recorded) = current.expect("the current claim writes");
    assert!(recorded, "the page and the job's success commit together");
    let (_, _, recorded) = same_job_now.expect("the stale claim's job, claimed anew, writes");
    assert!(recorded);
    assert_eq!(store.pages("tasks").await.expect("pages").len(), 2);
    for job in &second[2..] {
        store.succeed(job).await.expect("current claims succeed");
    }
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts.running, 0, "{counts:?}");
    assert_eq!(counts.succeeded as usize, second.len(), "{counts:?}");
    // And the old worker still can't undo any of it.
    assert!(lost(store.fail(old, "late", None).await));
    assert_eq!(store.counts().await.expect("counts").dead, 0);
}

#[tokio::test]
async fn on_sqlite_a_worker_that_lost_its_lease_records_nothing() {
    let (_tmp, store) = sqlite_store().await;
    a_worker_that_lost_its_lease_records_nothing(&store).await;
}

#[tokio::test]
async fn on_postgres_a_worker_that_lost_its_lease_records_nothing() {
    on_postgres_store(a_worker_that_lost_its_lease_records_nothing).await;
}
