//! Duplicate deliveries at the store: the same idempotency key twice in one
//! group commit is one event; a key whose window has passed is a new event.

mod support;

use chrono::{Duration, Utc};
use support::events::{new_event as event, same_key_twice_in_one_batch, sqlite_store, windows};

#[tokio::test]
async fn the_same_key_twice_in_one_batch_is_one_event() {
    let (_tmp, store) = sqlite_store().await;
    same_key_twice_in_one_batch(&store).await;
}

#[tokio::test]
async fn a_key_seen_before_its_window_ended_is_a_duplicate_and_after_it_a_new_event() {
    let (_tmp, store) = sqlite_store().await;
    windows(&store).await;
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
