//! The events list's search ("Contains" on the console's events page) reads
//! each event's fields, which are packed with its other parts
//! (store::event_pack) and so can't be searched by SQL: newest first, case
//! aside, page after page, and a search that reads its share of events
//! without filling the page says how far back it looked and goes on from
//! there on the next page: an older match is never silently missing. Events
//! stored before the parts were packed (their fields a column of their own)
//! are found the same way.

mod support;

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use hsflow::store::browse::{EventQuery, EventsPage};
use hsflow::store::Store;
use support::events::sqlite_store;
use support::postgres::on_postgres_store;
use support::shipped::planned_event;
use support::typeform_lead;

fn start() -> DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
        .expect("a time")
        .with_timezone(&Utc)
}

/// Leads from a0@example.org (oldest) to a5@example.org, a minute apart.
async fn six_leads(store: &Store) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rs = hsflow::rules::load_to_serve(&root.join("rules"), &root.join("templates"))
        .ruleset
        .expect("the shipped pack loads");
    for i in 0..6 {
        let contact = format!("a{i}@example.org");
        let body = typeform_lead(&contact, &contact, "Artist");
        let at = start() + Duration::minutes(i);
        let (ev, _) = planned_event(&rs, "typeform", &body, &[], at, None);
        store.accept(ev).await.expect("accepted");
    }
}

async fn search(
    store: &Store,
    text: &str,
    limit: i64,
    reads: usize,
    from: Option<(i64, String)>,
) -> EventsPage {
    store
        .events_page(&EventQuery {
            text: Some(text.into()),
            limit,
            search_reads: reads,
            before: from,
            ..Default::default()
        })
        .await
        .expect("the search")
}

fn emails(page: &EventsPage) -> Vec<&str> {
    page.rows
        .iter()
        .map(|r| r.email.as_deref().unwrap_or(""))
        .collect()
}

async fn searches_read_page_after_page(store: &Store) {
    six_leads(store).await;
    // Everything, newest first; the case of the text doesn't matter.
    let all = search(store, "EXAMPLE.ORG", 10, 0, None).await;
    assert_eq!(
        emails(&all),
        [
            "a5@example.org",
            "a4@example.org",
            "a3@example.org",
            "a2@example.org",
            "a1@example.org",
            "a0@example.org"
        ]
    );
    assert!(all.next.is_none() && all.searched_to.is_none());
    assert_eq!(
        emails(&search(store, "a3@Example", 10, 0, None).await),
        ["a3@example.org"]
    );
    // A full page says where the next one starts, and it goes on from there.
    let first = search(store, "example.org", 2, 0, None).await;
    assert_eq!(emails(&first), ["a5@example.org", "a4@example.org"]);
    assert!(first.searched_to.is_none());
    let second = search(store, "example.org", 2, 0, first.next).await;
    assert_eq!(emails(&second), ["a3@example.org", "a2@example.org"]);
    // A search that reads its share without filling the page says how far
    // back it got, and the next page searches the older events.
    let part = search(store, "a0@", 10, 4, None).await;
    assert!(part.rows.is_empty());
    assert_eq!(part.searched_to, Some(start() + Duration::minutes(2)));
    assert_eq!(part.searched, 4);
    let rest = search(store, "a0@", 10, 4, part.next).await;
    assert_eq!(emails(&rest), ["a0@example.org"]);
    assert!(rest.next.is_none() && rest.searched_to.is_none());
    // Text no event holds finds nothing, and says it read them all.
    let none = search(store, "nobody@", 10, 0, None).await;
    assert!(none.rows.is_empty() && none.next.is_none() && none.searched_to.is_none());
}

#[tokio::test]
async fn searches_read_page_after_page_on_sqlite() {
    let (tmp, store) = sqlite_store().await;
    searches_read_page_after_page(&store).await;

    // An event stored before its parts were packed together: fields in
    // their own column, `packed` NULL. Found, and listed with its email.
    let db = support::events::store_file(tmp.path(), true).await;
    sqlx::query(
        "INSERT INTO events (id, source, event_type, idem_key, received_at, headers, body, fields, trace, ruleset_version) \
         VALUES ('old-event', 'manual', 'new_contact', 'k1', $1, '{}', X'7B7D', '{\"email\":\"Old.Timer@example.org\"}', '{}', '')",
    )
    .bind((start() - Duration::days(1)).timestamp_millis())
    .execute(&db)
    .await
    .expect("an event of the old layout");
    let old = search(&store, "old.timer", 10, 0, None).await;
    assert_eq!(emails(&old), ["Old.Timer@example.org"]);
    assert_eq!(old.rows[0].id, "old-event");
    let all = search(&store, "example.org", 10, 0, None).await;
    assert_eq!(all.rows.len(), 7);
    assert_eq!(all.rows[6].id, "old-event");
}

#[tokio::test]
async fn searches_read_page_after_page_on_postgres() {
    on_postgres_store(searches_read_page_after_page).await;
}
