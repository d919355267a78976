//! Events ready for the store, made the way the server makes them (the
//! runtime fixture's `form` source, normalised and planned), for tests that
//! drive the store directly.

use std::path::Path;

use chrono::Utc;
use hsflow::engine::plan::{plan, Options};
use hsflow::sources::normalise::{normalise, Request};
use hsflow::store::accept::{Envelope, NewEvent};

/// A `signup` with idempotency key `key`, received at `at`.
pub fn new_event(key: &str, at: chrono::DateTime<Utc>, window_s: u64) -> NewEvent {
    new_event_of_type(key, "signup", at, window_s)
}

/// A runtime-fixture event of `event_type` ("signup", "reply") from
/// a@example.com.
pub fn new_event_of_type(
    key: &str,
    event_type: &str,
    at: chrono::DateTime<Utc>,
    window_s: u64,
) -> NewEvent {
    new_event_from(key, event_type, "a@example.com", at, window_s)
}

/// A runtime-fixture event of `event_type` from `email`.
pub fn new_event_from(
    key: &str,
    event_type: &str,
    email: &str,
    at: chrono::DateTime<Utc>,
    window_s: u64,
) -> NewEvent {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runtime");
    let rs = hsflow::rules::load(&root.join("rules"), &root.join("templates"))
        .ruleset
        .expect("fixture loads");
    let body = format!(r#"{{"id":"{key}","type":"{event_type}","email":"{email}"}}"#);
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
    let contacts = vec![Some(email.to_string()); p.actions.len()];
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

/// What a worker does, `rounds` times: claim up to `limit` due jobs and
/// record them done. Returns the ids of the jobs it got.
pub async fn work(
    store: &hsflow::store::Store,
    rounds: usize,
    limit: i64,
    pause: std::time::Duration,
) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..rounds {
        got.extend(work_once(store, limit).await);
        tokio::time::sleep(pause).await;
    }
    got
}

/// [`work`] until nothing is due.
pub async fn work_until_idle(store: &hsflow::store::Store) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let done = work_once(store, 500).await;
        if done.is_empty() {
            return got;
        }
        got.extend(done);
    }
}

async fn work_once(store: &hsflow::store::Store, limit: i64) -> Vec<String> {
    let jobs = store.claim(limit, 60_000).await.expect("claim");
    for job in &jobs {
        store.succeed(job).await.expect("succeed");
    }
    jobs.into_iter().map(|j| j.id).collect()
}

/// A connection of the test's own to the SQLite store in `dir` (to look at
/// or damage what is on disk), read-only unless `write`.
pub async fn store_file(dir: &std::path::Path, write: bool) -> sqlx::SqlitePool {
    let mode = if write { "" } else { "?mode=ro" };
    sqlx::SqlitePool::connect(&format!(
        "sqlite://{}{mode}",
        dir.join("hsflow.db").display()
    ))
    .await
    .expect("open the store's file")
}

/// A store of its own in a temporary directory (kept while the guard lives).
pub async fn sqlite_store() -> (tempfile::TempDir, hsflow::store::Store) {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = hsflow::store::Store::open(tmp.path(), hsflow::store::Durability::Normal)
        .await
        .expect("store");
    (tmp, store)
}

/// The same key twice in one batch is one event: the second names the first.
pub async fn same_key_twice_in_one_batch(store: &hsflow::store::Store) {
    let now = Utc::now();
    let out = store
        .accept_batch(vec![
            new_event("k1", now, 3600),
            new_event("k1", now, 3600),
            new_event("k2", now, 3600),
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

/// A key seen within its window is a duplicate; after it, a new event.
pub async fn windows(store: &hsflow::store::Store) {
    let t0 = Utc::now();
    let first = store.accept(new_event("k", t0, 60)).await.expect("first");
    let within = store
        .accept(new_event("k", t0 + chrono::Duration::seconds(59), 60))
        .await
        .expect("within");
    let after = store
        .accept(new_event("k", t0 + chrono::Duration::seconds(61), 60))
        .await
        .expect("after");
    assert!(!first.duplicate && within.duplicate && !after.duplicate);
    assert_eq!(within.event_id, first.event_id);
    assert_ne!(after.event_id, first.event_id);
}
