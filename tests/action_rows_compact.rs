//! An action row does not repeat in its payload what its columns hold (id,
//! rule, flow, entity): the stored JSON leaves them out and a read puts
//! them back, giving the text the planned action serialises to, byte for
//! byte. Rows written whole before the change, and fetch jobs, read as they
//! are.

mod support;

use std::path::Path;

use chrono::{TimeZone, Utc};
use hsflow::engine::payload::PlannedAction;
use hsflow::store::action_payload::{compact, expand};
use hsflow::store::Store;
use support::events::{new_event, sqlite_store};
use support::postgres::on_postgres_store;
use support::shipped::{planned_event, EXAMPLES};
use support::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shipped_action_reads_back_byte_for_byte() {
    let rs = hsflow::rules::load_to_serve(&root().join("rules"), &root().join("templates"))
        .ruleset
        .expect("the shipped pack loads");
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 14, 5, 9).unwrap();
    let mut requests: Vec<(&str, Vec<u8>, &[support::shipped::Header])> = EXAMPLES
        .iter()
        .map(|(s, f, h)| {
            let body = std::fs::read(root().join("examples").join(f)).expect("example");
            (*s, body, *h)
        })
        .collect();
    for (i, t) in [
        "Artist",
        "Business Contact",
        "General Contact",
        "Potential Client",
    ]
    .iter()
    .enumerate()
    {
        let lead = typeform_lead(&format!("t{i}"), &format!("p{i}@example.org"), t);
        requests.push(("typeform", lead, &[]));
    }
    let (mut actions, mut saved) = (0, 0);
    for (source, body, headers) in &requests {
        let (_, planned) = planned_event(&rs, source, body, headers, at, None);
        for a in &planned.actions {
            let whole = serde_json::to_string(a).expect("json");
            let stored = compact(a).expect("compact");
            assert!(!stored.contains("\"rule\":"), "{stored}");
            let back = expand(stored.clone(), &a.id, &a.rule, &a.flow, a.entity.as_deref());
            assert_eq!(back, whole, "{source}: {}", a.id);
            // A row written whole reads as it is.
            let old = expand(whole.clone(), &a.id, &a.rule, &a.flow, a.entity.as_deref());
            assert_eq!(old, whole);
            actions += 1;
            saved += whole.len() - stored.len();
        }
    }
    assert!(actions > 60, "{actions} actions compared");
    assert!(
        saved / actions > 60,
        "{} bytes saved an action",
        saved / actions
    );
}

#[test]
fn a_fetch_jobs_payload_reads_as_it_is() {
    let fetch = r#"{"source":"acuity","steps":["appointment"]}"#;
    assert_eq!(
        expand(fetch.into(), "enrich", "enrich", "acuity", None),
        fetch
    );
}

/// "Run now" rewrites a waiting action's payload in the database (without
/// its send window); on PostgreSQL through jsonb, which reorders the keys.
/// The claimed job is still the whole planned action.
async fn run_now_keeps_the_action_whole(store: &Store) {
    let accepted = store
        .accept(new_event("k", Utc::now(), 3600))
        .await
        .expect("accepted");
    let details = store
        .action_details(&accepted.event_id)
        .await
        .expect("details");
    let email = details
        .iter()
        .find(|a| a.kind == "email")
        .expect("the fixture plans an email 3 s later");
    assert!(store.run_now(&email.id).await.expect("run now"));
    let jobs = store.claim(10, 60_000).await.expect("claim");
    let job = jobs
        .iter()
        .find(|j| j.id == email.id)
        .expect("the email runs now");
    let action: PlannedAction =
        serde_json::from_str(&job.payload).unwrap_or_else(|e| panic!("{e}: {}", job.payload));
    assert_eq!(
        serde_json::to_value(&action).expect("json"),
        email.payload,
        "{}",
        job.payload
    );
}

#[tokio::test]
async fn run_now_keeps_the_action_whole_on_sqlite() {
    let (_tmp, store) = sqlite_store().await;
    run_now_keeps_the_action_whole(&store).await;
}

#[tokio::test]
async fn run_now_keeps_the_action_whole_on_postgres() {
    on_postgres_store(run_now_keeps_the_action_whole).await;
}
