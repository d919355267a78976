//! The store's single writer under concurrent use: events, claims and
//! outcomes arriving together are committed in shared rounds, yet every
//! caller gets its own answer, no job is handed out twice, and nothing
//! accepted goes missing.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use support::events::{new_event, sqlite_store, work, work_until_idle};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_made_while_events_pour_in_never_hand_a_job_out_twice() {
    let (_tmp, store) = sqlite_store().await;
    let now = Utc::now();

    // 300 events from 300 tasks, while 4 claimers take due jobs and record them done.
    let mut intake = Vec::new();
    for i in 0..300 {
        let store = store.clone();
        intake.push(tokio::spawn(async move {
            store.accept(new_event(&format!("k{i}"), now, 3600)).await
        }));
    }
    let mut claimers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        claimers.push(tokio::spawn(async move {
            work(&store, 200, 16, Duration::ZERO).await
        }));
    }
    let mut planned = 0;
    let mut ids = HashSet::new();
    for t in intake {
        let a = t.await.expect("task").expect("accepted");
        assert!(!a.duplicate);
        assert!(ids.insert(a.event_id), "every event gets its own id");
        planned += a.actions;
    }
    let mut claimed = Vec::new();
    for t in claimers {
        claimed.extend(t.await.expect("claimer"));
    }
    // Whatever the claimers did not get to is still due: take it now.
    let idle_at = Utc::now();
    claimed.extend(work_until_idle(&store).await);
    let distinct: HashSet<&String> = claimed.iter().collect();
    assert_eq!(distinct.len(), claimed.len(), "a job was claimed twice");

    let counts = store.counts().await.expect("counts");
    // The fixture's signup plans a notify and a workflow move now and an email 3 s later.
    assert_eq!(planned, 900);
    assert_eq!(counts.succeeded as usize, claimed.len());
    assert_eq!(counts.succeeded + counts.queued, 900, "{counts:?}");
    assert_eq!(counts.running, 0);
    // The 600 jobs due at once all ran. The 300 emails fall due 3 s after
    // their event, so on a slow machine some fall due before the test ends:
    // those ran too, and nothing due by then was left behind.
    assert!(
        claimed.len() >= 600,
        "every job due now ran once: {}",
        claimed.len()
    );
    let left = store.backlog(idle_at).await.expect("backlog");
    assert_eq!(left.due, 0, "nothing due was left behind: {left:?}");
}
