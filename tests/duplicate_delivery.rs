//! Duplicate deliveries at the store: the same idempotency key twice in one
//! group commit is one event; a key whose window has passed is a new event.

use chrono::{Duration, Utc};
use hsflow::engine::plan::{plan, Options};
use hsflow::sources::normalise::{normalise, Request};
use hsflow::store::accept::{Envelope, NewEvent};
use hsflow::store::{Durability, Store};
use std::path::Path;

fn event(key: &str, at: chrono::DateTime<Utc>, window_s: u64) -> NewEvent {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runtime");
    let rs = hsflow::rules::load(&root.join("rules"), &root.join("templates"))
        .ruleset
        .expect("fixture loads");
    let body = format!(r#"{{"id":"{key}","type":"signup","email":"a@example.com"}}"#);
    let src = &rs.sources["form"];
    let ev = normalise(
        &rs,
        src,
        &Request {
            headers: &[],
            body: body.as_bytes(),
        },
        at,
    )
    .expect("normalise");
    let p = plan(&rs, &ev, Options::default());
    let contacts = vec![Some("a@example.com".to_string()); p.actions.len()];
    let env = Envelope {
        source: "form".into(),
        event_type: ev.event_type.clone(),
        idem_key: ev.id.clone(),
        window_s,
        received_at: at,
        headers: serde_json::json!({}),
        body: body.into_bytes(),
    };
    NewEvent::new(env, &p, &contacts).expect("prepare")
}

#[tokio::test]
async fn the_same_key_twice_in_one_batch_is_one_event() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path(), Durability::Normal)
        .await
        .expect("store");
    let now = Utc::now();
    let out = store
        .accept_batch(&[
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
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path(), Durability::Normal)
        .await
        .expect("store");
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
