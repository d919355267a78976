//! Duplicate deliveries at the store: the same idempotency key twice in one
//! group commit is one event; a key whose window has passed is a new event.

mod support;

use chrono::{Duration, Utc};
use support::events::{new_event as event, sqlite_store};

#[tokio::test]
async fn the_same_key_twice_in_one_batch_is_one_event() {
    let (_tmp, store) = sqlite_store().await;
    let now = Utc::now();
    let out = store
        .accept_batch(vec![
            event("k1", now, 3600),
            event("k1", now, 3600),
            event("k2", now, 3600),
        ])
        .await
        .expect("batch");
    assert_eq!(
        out.iter().map(|a| a.duplicate).collect::<Vec<_>>(),
        [false, true, false]
    );
    assert_eq!(
        out[1].event_id, out[0].event_id,
        "the duplicate names the first event"
    );
    assert_eq!(out[1].actions, 0);
    assert!(out[0].actions > 0);
}

#[tokio::test]
async fn a_key_seen_before_its_window_ended_is_a_duplicate_and_after_it_a_new_event() {
    let (_tmp, store) = sqlite_store().await;
    let t0 = Utc::now();
    let first = store.accept(event("k", t0, 60)).await.expect("first");
    let within = store
        .accept(event("k", t0 + Duration::seconds(59), 60))
        .await
        .expect("within");
    let after = store
        .accept(event("k", t0 + Duration::seconds(61), 60))
        .await
        .expect("after");
    assert!(!first.duplicate && within.duplicate && !after.duplicate);
    assert_eq!(within.event_id, first.event_id);
    assert_ne!(after.event_id, first.event_id);
}

#[tokio::test]
async fn keys_past_their_window_are_pruned_and_live_ones_kept() {
    let (_tmp, store) = sqlite_store().await;
    let t0 = Utc::now() - Duration::seconds(120);
    store.accept(event("old-1", t0, 60)).await.expect("old 1");
    store.accept(event("old-2", t0, 60)).await.expect("old 2");
    let live = store.accept(event("live", t0, 3600)).await.expect("live");

    assert_eq!(
        store
            .prune_expired_keys(Utc::now(), 1)
            .await
            .expect("prune"),
        1,
        "one per batch"
    );
    assert_eq!(
        store
            .prune_all_expired_keys(Utc::now())
            .await
            .expect("prune"),
        1
    );
    assert_eq!(
        store
            .prune_all_expired_keys(Utc::now())
            .await
            .expect("again"),
        0
    );
    let keys: Vec<String> = sqlx::query_scalar("SELECT idem_key FROM idempotency")
        .fetch_all(&store.pool)
        .await
        .expect("keys");
    assert_eq!(keys, ["live"]);
    let again = store
        .accept(event("live", Utc::now(), 3600))
        .await
        .expect("dup");
    assert!(again.duplicate, "a live key still catches its duplicate");
    assert_eq!(again.event_id, live.event_id);
}
