//! An event's planned actions, request body, fields, trace and kept headers
//! are stored packed in one frame (store::event_pack): its action rows keep
//! no payload. Every reader still gets exactly what was planned and
//! received: the claim, the event's page, the events list and its search,
//! the waiting list, the email suppressions, the what-if's stored requests,
//! the raw body. "Run now" gives a packed action a payload of its own
//! without its window. Damaged parts park their own event's jobs with the
//! reason and keep no other job or page from running or showing; the
//! damaged event's fields and trace show as null.

mod support;

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use hsflow::engine::deferred::for_storage;
use hsflow::store::Store;
use serde_json::Value;
use support::events::sqlite_store;
use support::postgres::on_postgres_store;
use support::shipped::planned_event;
use support::typeform_lead;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const CONTACT: &str = "packed@example.org";

/// A shipped-pack Typeform lead from `contact` received on a Saturday (so
/// its welcome email is always held for the entity's office hours, whatever
/// the hour the test runs; before, the test failed on weekdays between 09:00
/// and 17:00 New York time): its body and each action's JSON as the store
/// keeps it (an email without its bodies), by key. Everything it plans is
/// due by now.
fn lead(
    contact: &str,
) -> (
    hsflow::store::accept::NewEvent,
    Vec<u8>,
    HashMap<String, String>,
) {
    let rs = hsflow::rules::load_to_serve(&root().join("rules"), &root().join("templates"))
        .ruleset
        .expect("the shipped pack loads");
    let body = typeform_lead(contact, contact, "Artist");
    let saturday = chrono::DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
        .expect("a time")
        .with_timezone(&Utc);
    let (ev, plan) = planned_event(&rs, "typeform", &body, &[], saturday, None);
    let expected = plan
        .actions
        .iter()
        .map(|a| {
            let stored = for_storage(a).unwrap_or_else(|| a.clone());
            (
                a.id.to_string(),
                serde_json::to_string(&stored).expect("json"),
            )
        })
        .collect();
    (ev, body, expected)
}

async fn every_reader_gets_the_lead_whole(store: &Store) {
    let (ev, body, expected) = lead(CONTACT);
    assert!(expected.len() >= 10, "a lead plans 10 to 15 actions");
    let id = store.accept(ev).await.expect("accepted").event_id;

    // The event's page and its action list.
    let details = store.action_details(&id).await.expect("details");
    assert_eq!(details.len(), expected.len());
    for d in &details {
        let want: Value = serde_json::from_str(&expected[&d.action]).expect("json");
        assert_eq!(d.payload, want, "{}", d.action);
    }
    let rows = store.actions_of_event(&id).await.expect("actions");
    let held = rows
        .iter()
        .find(|r| r.action == "artist_discovery/email_3")
        .expect("the welcome email of an artist lead");
    assert!(
        held.notes.iter().any(|n| n.contains("business_hours")),
        "the notes come from the plan: {:?}",
        held.notes
    );

    // The events list finds it by any of its fields' text, case aside.
    let search = |text: &str| hsflow::store::browse::EventQuery {
        text: Some(text.into()),
        limit: 10,
        ..Default::default()
    };
    let found = store
        .events_page(&search("PACKED@example"))
        .await
        .expect("search");
    assert_eq!(found.rows.len(), 1);
    assert_eq!(found.rows[0].email.as_deref(), Some(CONTACT));
    assert!(
        found.rows[0].flows.contains(&"lead_capture".to_string()),
        "{:?}",
        found.rows[0].flows
    );
    assert!(found.next.is_none() && found.searched_to.is_none());
    let none = store
        .events_page(&search("nobody@else"))
        .await
        .expect("search");
    assert!(none.rows.is_empty());

    // The body, for the raw view and for the what-if.
    assert_eq!(store.raw_event(&id).await.expect("raw").0, body);
    let replayed = store
        .stored_requests_by_id(std::slice::from_ref(&id))
        .await
        .expect("stored request");
    assert_eq!(replayed[0].body, body);

    // The waiting list and an address's pending emails.
    let waiting = store.waiting_actions(100).await.expect("waiting");
    let email = waiting
        .iter()
        .find(|w| w.action == "artist_discovery/email_3")
        .expect("the welcome email waits");
    assert_eq!(
        email.window.as_ref().map(|w| w.id.to_string()).as_deref(),
        Some("business_hours")
    );
    let pending = store.pending_emails(CONTACT).await.expect("pending");
    assert!(!pending.is_empty());
    for (_, p) in &pending {
        let key = serde_json::from_str::<Value>(p).expect("json")["id"].clone();
        let key = key.as_str().expect("an id");
        assert_eq!(p, &expected[key], "{key}");
    }

    // Run now: the email gets a payload of its own, without its window.
    assert!(store.run_now(&email.id).await.expect("run now"));
    let jobs = store.claim(100, 60_000).await.expect("claim");
    assert!(jobs.len() >= 6, "{} due now", jobs.len());
    for j in &jobs {
        let mut want: Value = serde_json::from_str(&expected[&j.action_key]).expect("json");
        if j.id == email.id {
            want.as_object_mut().expect("an object").remove("window");
        } else {
            // Byte for byte, as the planned action serialises.
            assert_eq!(j.payload, expected[&j.action_key], "{}", j.action_key);
        }
        let got: Value = serde_json::from_str(&j.payload).expect("json");
        assert_eq!(got, want, "{}", j.action_key);
    }
    assert!(jobs.iter().any(|j| j.id == email.id), "the email runs now");
}

#[tokio::test]
async fn every_reader_gets_the_lead_whole_on_sqlite() {
    let (tmp, store) = sqlite_store().await;
    every_reader_gets_the_lead_whole(&store).await;

    // What is on disk: rows without payloads, and the event's parts (its
    // body, fields, headers, trace and plan) in one compressed frame, the
    // columns that held them before left empty.
    let db = support::events::store_file(tmp.path(), false).await;
    let (packed, old_columns_empty): (Vec<u8>, bool) = sqlx::query_as(
        "SELECT packed, plan IS NULL AND trace_packed IS NULL AND headers_packed IS NULL \
         AND length(body) = 0 AND trace = '' AND headers = '' AND fields = '' FROM events",
    )
    .fetch_one(&db)
    .await
    .expect("the event");
    assert!(old_columns_empty);
    let parts = hsflow::store::event_pack::EventParts::unpack(&packed).expect("the parts");
    let (_, received, _) = lead(CONTACT);
    assert_eq!(parts.body, received);
    assert!(
        parts.trace.contains("\"rules_later\":true"),
        "{}",
        parts.trace
    );
    assert!(parts.fields.contains(CONTACT), "{}", parts.fields);
    // This lead kept no headers.
    assert_eq!(parts.headers, "{}");
    let payloads: Vec<(String, String)> =
        sqlx::query_as("SELECT action_key, payload FROM actions_named")
            .fetch_all(&db)
            .await
            .expect("the actions");
    let own: Vec<&str> = payloads
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        own,
        ["artist_discovery/email_3"],
        "only the email run now has its own"
    );
    let unpacked = hsflow::store::packed::unpack_plan(&packed).expect("the plan");
    assert_eq!(unpacked.len(), payloads.len());
    let raw = parts.plan.len() + parts.body.len() + parts.fields.len() + parts.trace.len();
    // Against the store's dictionary, a lead's parts pack to under a sixth
    // (about 7.5 KB to 1.1 KB), so three event rows fit a 4 KB page.
    assert!(
        packed.len() * 6 < raw && packed.len() < 1_300,
        "the parts pack {raw} bytes into {}",
        packed.len()
    );
}

#[tokio::test]
async fn every_reader_gets_the_lead_whole_on_postgres() {
    on_postgres_store(every_reader_gets_the_lead_whole).await;
}

/// Two leads in a fresh store, the first's rows broken by `damage` (SQL
/// with the event id as $1), and one claim: (the store's directory, the
/// store, a pool on its file, the broken event, the whole one, the broken
/// event's jobs, the other's).
async fn two_leads_one_broken(
    damage: &'static str,
) -> (
    tempfile::TempDir,
    hsflow::store::Store,
    sqlx::SqlitePool,
    String,
    String,
    Vec<hsflow::store::jobs::Job>,
    Vec<hsflow::store::jobs::Job>,
) {
    let (tmp, store) = sqlite_store().await;
    let damaged = store
        .accept(lead("a@example.org").0)
        .await
        .expect("accepted")
        .event_id;
    let whole = store
        .accept(lead("b@example.org").0)
        .await
        .expect("accepted")
        .event_id;
    let db = support::events::store_file(tmp.path(), true).await;
    sqlx::query(damage)
        .bind(&damaged)
        .execute(&db)
        .await
        .expect("damage one lead");
    let jobs = store
        .claim(100, 60_000)
        .await
        .expect("the claim goes through");
    let (bad, good): (Vec<_>, Vec<_>) = jobs.into_iter().partition(|j| j.event_id == damaged);
    assert!(
        !bad.is_empty() && !good.is_empty(),
        "both leads have jobs due now"
    );
    (tmp, store, db, damaged, whole, bad, good)
}

#[tokio::test]
async fn a_damaged_plan_parks_its_own_jobs_and_no_others() {
    let (_tmp, store, _db, damaged, whole, bad, good) =
        two_leads_one_broken("UPDATE events SET packed = X'02FFFF' WHERE id = $1").await;
    for j in &bad {
        let why = j.unreadable.as_deref().unwrap_or_default();
        assert!(why.contains("stored parts can't be unpacked"), "{why}");
    }
    for j in &good {
        assert_eq!(j.event_id, whole);
        assert_eq!(j.unreadable, None);
        serde_json::from_str::<hsflow::engine::payload::PlannedAction>(&j.payload)
            .unwrap_or_else(|e| panic!("{e}: {}", j.payload));
    }
    // The damaged event's page still lists its actions, without payloads.
    let details = store.action_details(&damaged).await.expect("details");
    assert!(!details.is_empty());
    assert!(details.iter().all(|d| d.payload.is_null()));

    // Its fields and trace show as null; the rest of the event still shows.
    let event = store.event(&damaged).await.expect("the event still reads");
    assert!(event["trace"].is_null(), "{}", event["trace"]);
    assert!(event["fields"].is_null(), "{}", event["fields"]);
    assert_eq!(event["source"], "typeform");
    assert!(!event["actions"].as_array().expect("its actions").is_empty());
    let whole_event = store.event(&whole).await.expect("the other event");
    assert!(
        whole_event["trace"]["rules"].is_array(),
        "{}",
        whole_event["trace"]
    );
}

/// An action whose names are gone from `action_names` (a row removed by
/// hand) is parked alone when it falls due, and still listed; the other
/// lead's jobs run as ever.
#[tokio::test]
async fn an_action_whose_names_are_gone_parks_alone() {
    let (_tmp, store, _db, broken, _whole, bad, good) =
        two_leads_one_broken("UPDATE actions SET name_id = 999999 WHERE substr(id, 1, 26) = $1")
            .await;
    for j in &bad {
        let why = j.unreadable.as_deref().unwrap_or_default();
        assert!(why.contains("which action_names doesn't hold"), "{why}");
    }
    assert!(good
        .iter()
        .all(|j| j.unreadable.is_none() && !j.kind.is_empty()));
    let listed = store.actions_of_event(&broken).await.expect("listed");
    assert!(!listed.is_empty(), "its actions still show");
    assert!(listed.iter().all(|a| a.rule.is_empty()));
}
