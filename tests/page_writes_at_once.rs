//! Local Notion pages written at the same moment: the store's writer takes
//! a round's page writes together (one lookup, one insert), and whatever
//! goes into one round, the pages must come out as if written one after the
//! other. On both engines.

mod support;

use hsflow::engine::action::Increment;
use hsflow::rules::model::IncrementSpec;
use hsflow::store::notion_local::PageRequest;
use hsflow::store::{Store, StoreError};
use serde_json::{json, Map, Value};
use support::events::sqlite_store;
use support::postgres::on_postgres_store;

fn upsert(email: &str, properties: Value, job: String, add: f64) -> PageRequest {
    PageRequest {
        database: "contacts".into(),
        key: Some(("Email".into(), email.into())),
        properties: properties.as_object().cloned().unwrap_or_else(Map::new),
        must_exist: false,
        increments: vec![Increment {
            property: "Score".into(),
            how: IncrementSpec {
                by: add,
                start: 0.0,
                min: None,
                max: None,
                events_at: vec![50.0],
            },
        }],
        job_id: job,
        fence: None,
    }
}

async fn writes_at_once_come_out_as_one_after_the_other(store: &Store) {
    // Twenty upserts of one contact and twenty of others, sent together,
    // with an update of a page no one made among them.
    let mut writes = Vec::new();
    for i in 0..20 {
        let field = format!("F{i}");
        writes.push(upsert(
            "same@example.com",
            json!({ field: i }),
            format!("s{i}"),
            5.0,
        ));
        writes.push(upsert(
            &format!("p{i}@example.com"),
            json!({"N": i}),
            format!("p{i}"),
            1.0,
        ));
    }
    let mut missing = upsert("nobody@example.com", json!({}), "m".into(), 1.0);
    missing.must_exist = true;
    missing.increments.clear();
    writes.insert(7, missing);
    // Each on a task of its own, all queued before the writer comes free.
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move { store.page(w).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("the write's task"));
    }

    let mut crossings = 0;
    for (i, a) in answers.iter().enumerate() {
        match a {
            Err(StoreError::NotFound(why)) if i == 7 => {
                assert!(why.contains("nobody@example.com"), "{why}")
            }
            Ok((_, crossed, _)) if i != 7 => crossings += crossed.len(),
            other => panic!("write {i}: {other:?}"),
        }
    }
    let pages = store.pages("contacts").await.expect("pages");
    assert_eq!(
        pages.len(),
        21,
        "one page per contact, none for the refused update"
    );
    let same = pages
        .iter()
        .find(|p| p["properties"].get("F0").is_some())
        .expect("the shared contact's page");
    let props = &same["properties"];
    for i in 0..20 {
        assert_eq!(
            props[format!("F{i}")],
            json!(i),
            "every write merged: {props}"
        );
    }
    // 20 additions of 5, each once, in some order: 50 was crossed once.
    assert_eq!(props["Score"]["number"], 100.0, "{props}");
    assert_eq!(
        crossings, 1,
        "the threshold is crossed by exactly one write"
    );
}

#[tokio::test]
async fn on_sqlite_page_writes_at_once_come_out_as_one_after_the_other() {
    let (_tmp, store) = sqlite_store().await;
    writes_at_once_come_out_as_one_after_the_other(&store).await;
}

#[tokio::test]
async fn on_postgres_page_writes_at_once_come_out_as_one_after_the_other() {
    on_postgres_store(writes_at_once_come_out_as_one_after_the_other).await;
}
