//! The SQLite read connections see what the writer committed the moment it
//! is committed, never write, and are kept for the next read (a few of them).

use super::*;
use crate::store::Durability;

fn props(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().expect("an object")
}

#[tokio::test]
async fn a_page_the_writer_committed_is_found_by_the_next_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path(), Durability::Normal)
        .await
        .expect("open");
    assert_eq!(
        store
            .find_page("Contacts", "Email", "ann@example.org")
            .await
            .expect("read"),
        None
    );
    let written = store
        .write_page(
            "Contacts",
            Some(("Email", "ann@example.org")),
            &props(serde_json::json!({"Email": {"email": "ann@example.org"}})),
            false,
        )
        .await
        .expect("write");
    let crate::store::notion_local::PageWrite::Created(id) = written else {
        panic!("expected a new page, got {written:?}");
    };
    // The read connection that answered "none" above is the one asked again:
    // it must not answer from the snapshot it read then.
    assert_eq!(
        store
            .find_page("Contacts", "Email", "ann@example.org")
            .await
            .expect("read"),
        Some(id)
    );
    assert_eq!(
        store
            .find_page("Contacts", "Email", "bob@example.org")
            .await
            .expect("read"),
        None
    );
}

#[tokio::test]
async fn a_read_connection_refuses_to_write_and_goes_back_to_be_used_again() {
    let tmp = tempfile::tempdir().expect("tmp");
    // The schema is the store's; the readers open the file it made.
    let _store = Store::open(tmp.path(), Durability::Normal)
        .await
        .expect("open");
    let readers = SqliteReaders::new(tmp.path().join("hsflow.db"));
    {
        let mut r = readers.take().expect("a reader");
        let err = crate::store::sqlite_direct::query("DELETE FROM events")
            .execute(&mut r)
            .await
            .err()
            .expect("a reader refuses to write");
        assert!(err.to_string().contains("readonly"), "{err}");
    }
    assert_eq!(readers.idle_count(), 1);
    let again = readers.take().expect("a reader");
    assert_eq!(
        readers.idle_count(),
        0,
        "the idle one was taken, not a new one opened"
    );
    drop(again);
    // Many at once: all work, and only a few are kept afterwards.
    let many: Vec<_> = (0..KEPT + 3)
        .map(|_| readers.take().expect("a reader"))
        .collect();
    drop(many);
    assert_eq!(readers.idle_count(), KEPT);
}
