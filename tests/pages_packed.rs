//! A local Notion page's properties are stored compressed (store::packed):
//! the `properties` text is empty and `properties_packed` holds them. Every
//! reader gets them back as written, a page stored before (as text) still
//! reads and merges, and a damaged page is never merged into as if empty:
//! its write fails with the reason, the page is left as it was, and the
//! other writes of the same round go through, and the page is listed with
//! the reason. On both engines.

mod support;

use hsflow::store::notion_local::{PageRequest, PageWrite};
use hsflow::store::{Store, StoreError};
use serde_json::{json, Map, Value};
use support::events::sqlite_store;
use support::postgres::on_postgres_store;

fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A contact page's properties as the shipped pack writes them.
fn contact(email: &str, status: &str) -> Map<String, Value> {
    props(json!({
        "Email": {"email": email},
        "Name": {"title": [{"text": {"content": "Ada Lovelace"}}]},
        "Source": {"rich_text": [{"text": {"content": "typeform", "link": null}, "type": "text"}]},
        "Lead Source": {"select": {"name": "Website"}},
        "Status": {"select": {"name": status}},
    }))
}

fn upsert(email: &str, properties: Map<String, Value>, job: &str) -> PageRequest {
    PageRequest {
        database: "contacts".into(),
        key: Some(("Email".into(), email.into())),
        properties,
        must_exist: false,
        increments: vec![],
        job_id: job.into(),
        fence: None,
    }
}

async fn pages_come_back_as_written(store: &Store) {
    let first = store
        .write_page(
            "contacts",
            Some(("Email", "ada@example.org")),
            &contact("ada@example.org", "Lead"),
            false,
        )
        .await
        .expect("created");
    assert!(matches!(first, PageWrite::Created(_)), "{first:?}");
    // An upsert merges into what is stored (read back unpacked).
    let mut more = Map::new();
    more.insert("Status".into(), json!({"select": {"name": "Client"}}));
    let again = store
        .write_page("contacts", Some(("Email", "ada@example.org")), &more, false)
        .await
        .expect("updated");
    assert!(matches!(again, PageWrite::Updated(_)), "{again:?}");

    let pages = store.pages("contacts").await.expect("the pages");
    assert_eq!(pages.len(), 1);
    let want = Value::Object(contact("ada@example.org", "Client"));
    assert_eq!(pages[0]["properties"], want);
}

#[tokio::test]
async fn pages_come_back_as_written_on_sqlite() {
    let (tmp, store) = sqlite_store().await;
    pages_come_back_as_written(&store).await;

    // On disk: no text, a compressed copy smaller than the JSON.
    let db = support::events::store_file(tmp.path(), false).await;
    let (text, packed): (String, Option<Vec<u8>>) =
        sqlx::query_as("SELECT properties, properties_packed FROM notion_pages")
            .fetch_one(&db)
            .await
            .expect("the page");
    let json = Value::Object(contact("ada@example.org", "Client")).to_string();
    let packed = packed.expect("the properties are packed");
    assert_eq!(text, "");
    assert!(
        packed.len() < json.len(),
        "{} bytes of JSON stored in {}",
        json.len(),
        packed.len()
    );
}

#[tokio::test]
async fn pages_come_back_as_written_on_postgres() {
    on_postgres_store(pages_come_back_as_written).await;
}

#[tokio::test]
async fn a_page_stored_as_text_still_reads_and_merges() {
    let (tmp, store) = sqlite_store().await;
    let db = support::events::store_file(tmp.path(), true).await;
    // As a version before packing wrote it.
    let old = Value::Object(contact("old@example.org", "Lead")).to_string();
    sqlx::query(
        "INSERT INTO notion_pages (id, database, key_property, key_value, properties, created_at, updated_at) \
         VALUES ('page-old', 'contacts', 'Email', 'old@example.org', $1, 1, 1)",
    )
    .bind(&old)
    .execute(&db)
    .await
    .expect("an old page");

    let mut more = Map::new();
    more.insert("Status".into(), json!({"select": {"name": "Client"}}));
    let w = store
        .write_page("contacts", Some(("Email", "old@example.org")), &more, true)
        .await
        .expect("updated");
    assert_eq!(w, PageWrite::Updated("page-old".into()));
    let pages = store.pages("contacts").await.expect("the pages");
    assert_eq!(
        pages[0]["properties"],
        Value::Object(contact("old@example.org", "Client"))
    );
}

#[tokio::test]
async fn a_damaged_page_fails_its_own_write_and_no_other() {
    let (tmp, store) = sqlite_store().await;
    for email in ["hurt@example.org", "fine@example.org"] {
        store
            .write_page(
                "contacts",
                Some(("Email", email)),
                &contact(email, "Lead"),
                false,
            )
            .await
            .expect("created");
    }
    let db = support::events::store_file(tmp.path(), true).await;
    sqlx::query(
        "UPDATE notion_pages SET properties = '', properties_packed = X'28B52FFD00' WHERE key_value = 'hurt@example.org'",
    )
    .execute(&db)
    .await
    .expect("damage one page");

    // Both writes, sent at once so they can share a writer round.
    let hurt = store.page(upsert(
        "hurt@example.org",
        contact("hurt@example.org", "Client"),
        "j1",
    ));
    let fine = store.page(upsert(
        "fine@example.org",
        contact("fine@example.org", "Client"),
        "j2",
    ));
    let (hurt, fine) = tokio::join!(hurt, fine);
    match hurt {
        Err(e @ StoreError::Corrupt(_)) => {
            let why = e.to_string();
            assert!(why.contains("properties of local page"), "{why}");
        }
        other => panic!("a damaged page must not be written over: {other:?}"),
    }
    assert!(
        matches!(fine, Ok((PageWrite::Updated(_), _, _))),
        "{fine:?}"
    );

    // The damaged page is as it was; the API says why it can't list it.
    let (text, packed): (String, Vec<u8>) = sqlx::query_as(
        "SELECT properties, properties_packed FROM notion_pages WHERE key_value = 'hurt@example.org'",
    )
    .fetch_one(&db)
    .await
    .expect("the damaged page");
    assert_eq!(
        (text.as_str(), packed.as_slice()),
        ("", &[0x28, 0xB5, 0x2F, 0xFD, 0x00][..])
    );
    let pages = store.pages("contacts").await.expect("the list");
    assert_eq!(pages.len(), 2, "a damaged page is listed, not dropped");
    let listed = pages
        .iter()
        .find(|p| p["properties"].is_null())
        .expect("the damaged page, without properties");
    let why = listed["error"].as_str().unwrap_or_default();
    assert!(why.contains("could not be read"), "{why}");
    assert!(pages
        .iter()
        .any(|p| p["properties"]["Email"]["email"] == "fine@example.org"));
}
