//! The page writes and workflow moves of one writer round, each kind taken
//! together (see `notion_local::pages_in`, `workflows::transitions_in`):
//! they must come out as if written one after the other. The writer can't
//! be made to put given writes in one round from outside, so these tests
//! hand a round to those functions themselves, on a connection of their own
//! to a store's SQLite file.

use serde_json::{json, Map, Value};

use super::notion_local::{sqlite::pages_in, PageRequest, PageWrite};
use super::sqlite_direct::Conn;
use super::workflows::{sqlite::transitions_in, Transition, TransitionRequest};
use super::{Backend, Durability, Store, StoreError};
use crate::engine::action::{Crossing, Increment};
use crate::rules::model::IncrementSpec;

fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn upsert(database: &str, key: (&str, &str), properties: Value, job: &str) -> PageRequest {
    PageRequest {
        database: database.into(),
        key: Some((key.0.into(), key.1.into())),
        properties: props(properties),
        must_exist: false,
        increments: Vec::new(),
        job_id: job.into(),
        fence: None,
    }
}

fn score(by: f64) -> Vec<Increment> {
    vec![Increment {
        property: "Score".into(),
        how: IncrementSpec {
            by,
            start: 0.0,
            min: None,
            max: None,
            events_at: vec![15.0],
        },
    }]
}

type Answers = Vec<Result<(PageWrite, Vec<Crossing>), StoreError>>;

/// A connection of the writer's kind (store::sqlite_direct) to the store's file.
fn connect(dir: &std::path::Path) -> Conn {
    Conn::open(&dir.join("hsflow.db")).expect("a connection to the store's file")
}

fn begin(conn: &mut Conn) {
    conn.batch("BEGIN IMMEDIATE").expect("begin");
}

fn commit(conn: &mut Conn) {
    conn.batch("COMMIT").expect("commit");
}

/// Write `round` in one transaction, as the writer would.
async fn round(dir: &std::path::Path, round: &[PageRequest]) -> Answers {
    let mut conn = connect(dir);
    begin(&mut conn);
    let requests: Vec<&PageRequest> = round.iter().collect();
    let answers = pages_in(&mut conn, Backend::Sqlite, &requests, 1_000)
        .await
        .expect("the round is written");
    commit(&mut conn);
    answers
}

fn id(w: &PageWrite) -> &str {
    match w {
        PageWrite::Created(id) | PageWrite::Updated(id) => id,
    }
}

#[tokio::test]
async fn writes_to_one_page_in_a_round_merge_as_if_one_after_the_other() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path(), Durability::Normal)
        .await
        .expect("store");
    let key = ("Email", "ada@example.com");
    let mut second = upsert(
        "contacts",
        key,
        json!({"Phone": {"phone_number": "1"}}),
        "j2",
    );
    second.increments = score(10.0);
    let mut third = upsert("contacts", key, json!({}), "j3");
    third.increments = score(10.0);
    let answers = round(
        tmp.path(),
        &[
            upsert("contacts", key, json!({"Name": {"title": []}}), "j1"),
            second,
            third.clone(),
        ],
    )
    .await;
    let [first, second, third_answer] = &answers[..] else {
        panic!("one answer per write: {answers:?}");
    };
    let (made, none) = first.as_ref().expect("the first write");
    assert!(matches!(made, PageWrite::Created(_)), "{made:?}");
    assert!(none.is_empty());
    let (updated, crossed) = second.as_ref().expect("the second write");
    assert_eq!(*updated, PageWrite::Updated(id(made).to_string()));
    assert!(crossed.is_empty(), "10 is short of 15: {crossed:?}");
    // The third adds to what the second left: 10 + 10 crosses 15.
    let (_, crossed) = third_answer.as_ref().expect("the third write");
    assert_eq!(crossed.len(), 1, "{crossed:?}");
    assert_eq!(crossed[0].score, 20.0);

    let pages = store.pages("contacts").await.expect("pages");
    assert_eq!(pages.len(), 1, "one page for one key: {pages:?}");
    let p = &pages[0]["properties"];
    assert!(p.get("Name").is_some() && p.get("Phone").is_some(), "{p}");
    assert_eq!(p["Score"]["number"], 20.0);

    // A re-run of the third job (a crash before its success) finds its
    // addition made and gets the same crossing back, adding nothing.
    let again = round(tmp.path(), &[third]).await;
    let (w, crossed) = again[0].as_ref().expect("the re-run");
    assert_eq!(*w, PageWrite::Updated(id(made).to_string()));
    assert_eq!(crossed.len(), 1);
    let pages = store.pages("contacts").await.expect("pages");
    assert_eq!(pages[0]["properties"]["Score"]["number"], 20.0);
}

#[tokio::test]
async fn a_missing_page_fails_its_write_alone_and_new_pages_keep_their_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path(), Durability::Normal)
        .await
        .expect("store");
    // A page stored by an earlier round.
    let earlier = round(
        tmp.path(),
        &[upsert(
            "contacts",
            ("Email", "old@example.com"),
            json!({"A": 1}),
            "j0",
        )],
    )
    .await;
    let (stored, _) = earlier[0].as_ref().expect("stored");

    let mut update_missing = upsert("contacts", ("Email", "nobody@example.com"), json!({}), "j1");
    update_missing.must_exist = true;
    let unkeyed = |n: i64| PageRequest {
        key: None,
        ..upsert("tasks", ("", ""), json!({"N": n}), "j")
    };
    let answers = round(
        tmp.path(),
        &[
            unkeyed(1),
            update_missing,
            upsert(
                "contacts",
                ("Email", "old@example.com"),
                json!({"B": 2}),
                "j2",
            ),
            unkeyed(2),
            unkeyed(3),
        ],
    )
    .await;
    assert_eq!(answers.len(), 5);
    match &answers[1] {
        Err(StoreError::NotFound(why)) => assert!(why.contains("nobody@example.com"), "{why}"),
        other => panic!("an update of a page that isn't there is refused: {other:?}"),
    }
    let (w, _) = answers[2].as_ref().expect("the stored page is updated");
    assert_eq!(*w, PageWrite::Updated(id(stored).to_string()));
    for i in [0, 3, 4] {
        let (w, _) = answers[i].as_ref().expect("an unkeyed page");
        assert!(matches!(w, PageWrite::Created(_)), "{w:?}");
    }
    let contacts = store.pages("contacts").await.expect("pages");
    assert_eq!(contacts.len(), 1, "no page made for the refused update");
    assert_eq!(contacts[0]["properties"], json!({"A": 1, "B": 2}));
    // Made in the order written (pages are listed by creation, then rowid).
    let tasks: Vec<Value> = store
        .pages("tasks")
        .await
        .expect("pages")
        .iter()
        .map(|p| p["properties"]["N"].clone())
        .collect();
    assert_eq!(tasks, vec![json!(1), json!(2), json!(3)]);
}

fn move_to(contact: &str, to: &str, from: &[&str]) -> TransitionRequest {
    TransitionRequest {
        workflow: "onboarding".into(),
        contact: contact.into(),
        to: to.into(),
        from: from.iter().map(|s| s.to_string()).collect(),
        terminal: to == "done",
        cause: format!("to {to}"),
        fence: None,
    }
}

#[tokio::test]
async fn moves_of_one_instance_in_a_round_chain_as_if_one_after_the_other() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path(), Durability::Normal)
        .await
        .expect("store");
    let mut conn = connect(tmp.path());
    begin(&mut conn);
    let round = [
        move_to("a@example.com", "new", &[]),
        move_to("a@example.com", "welcomed", &["new"]),
        move_to("a@example.com", "done", &["new"]),
        move_to("b@example.com", "welcomed", &["new"]),
    ];
    let requests: Vec<&TransitionRequest> = round.iter().collect();
    let moved = transitions_in(&mut conn, Backend::Sqlite, &requests, 1_000)
        .await
        .expect("the round is written");
    commit(&mut conn);

    let Transition::Created { instance: a, state } = &moved[0] else {
        panic!("the first move starts the instance: {moved:?}");
    };
    assert_eq!(state, "new");
    assert_eq!(
        moved[1],
        Transition::Moved {
            instance: a.clone(),
            from: "new".into(),
            to: "welcomed".into()
        }
    );
    // The third sees the second's state, not the stored one.
    assert_eq!(
        moved[2],
        Transition::Skipped {
            instance: a.clone(),
            state: "welcomed".into()
        }
    );
    // A missing instance starts in the state asked for, whatever `from` says.
    assert!(matches!(&moved[3], Transition::Created { state, .. } if state == "welcomed"));

    let stored = store.instance(a).await.expect("the instance");
    assert_eq!(stored["state"], "welcomed");
    assert_eq!(stored["status"], "Active");
    let history: Vec<&str> = stored["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(history, ["created", "moved", "skipped"]);

    // A later round moves the stored instance on, to a state that ends it.
    begin(&mut conn);
    let last = move_to("a@example.com", "done", &["welcomed"]);
    let moved = transitions_in(&mut conn, Backend::Sqlite, &[&last], 2_000)
        .await
        .expect("written");
    commit(&mut conn);
    assert!(matches!(&moved[0], Transition::Moved { from, .. } if from == "welcomed"));
    let stored = store.instance(a).await.expect("the instance");
    assert_eq!(
        (stored["state"].as_str(), stored["status"].as_str()),
        (Some("done"), Some("Completed"))
    );
}

#[tokio::test]
async fn the_writers_statement_journals_stay_in_memory() {
    use sqlx::{Connection, Row};
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path(), Durability::Normal)
        .await
        .expect("open");
    // The options the writer's connection was opened with (kept for the
    // checkpoint at a graceful stop): a round's multi-row statements must
    // not spill their statement journals to temporary files (store/mod.rs).
    let options = store.sqlite.clone().expect("a SQLite store keeps them");
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("connect");
    let temp_store: i64 = sqlx::query("PRAGMA temp_store")
        .fetch_one(&mut conn)
        .await
        .expect("pragma")
        .get(0);
    assert_eq!(
        temp_store, 2,
        "2 is MEMORY; 0 (the default) spills to files"
    );
}
