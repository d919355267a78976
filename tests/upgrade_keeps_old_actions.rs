//! A store written before schema version 12, when every action row spelt
//! out its rule, flow, entity, key, kind and contact, is upgraded at the
//! first start (versions 12 and 13 number the names and the contacts): its
//! actions keep their names and contacts (read, claimed, listed, and
//! cancelled by rule and contact as before), and new actions share the
//! combinations already there. Version 14 finds new actions by their ids;
//! the old ones still by the event they name (listed, counted, retained).

mod support;

use chrono::Utc;
use hsflow::store::{dialect::Backend, schema, Durability, Store};
use sqlx::Row;
use support::events::{new_event, new_event_of_type};
use support::postgres::TestDb;

/// The database at `url` as a server before version 12 left it: the
/// migrations up to 11 and one event with three actions in the old shape.
async fn old_store(url: &str, backend: Backend) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("old database");
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&pool)
    .await
    .expect("migrations table");
    for (version, sql) in schema::migrations(backend) {
        if *version > 11 {
            break;
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
            .execute(&pool)
            .await
            .expect("old migration");
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)")
            .bind(version)
            .execute(&pool)
            .await
            .expect("recorded");
    }
    let now = Utc::now().timestamp_millis();
    sqlx::query(
        "INSERT INTO events (id, source, event_type, idem_key, received_at, headers, body, fields, trace, ruleset_version) \
         VALUES ('old-event', 'form', 'signup', 'old', $1, '{}', $2, '{\"email\":\"a@example.com\"}', '[]', 'v-old')",
    )
    .bind(now)
    .bind(b"{}".to_vec())
    .execute(&pool)
    .await
    .expect("old event");
    // Two follow-ups of the fixture's rule `welcome` (one for an entity,
    // one for none), which a reply cancels, and a task of another rule due
    // now; payloads whole, as rows were then written.
    for (id, key, entity, kind, due) in [
        (
            "old-1",
            "welcome/email_1",
            Some("The 7 Space"),
            "email",
            now + 86_400_000,
        ),
        (
            "old-2",
            "welcome/notify_2",
            None,
            "notify",
            now + 86_400_000,
        ),
        (
            "old-3",
            "intake/task_1",
            Some("AM Consulting"),
            "task",
            now - 1_000,
        ),
    ] {
        let rule = key.split('/').next().unwrap_or_default();
        let payload = serde_json::json!({
            "id": key, "rule": rule, "flow": "contact_workflows", "entity": entity,
            "delay_s": 0, "run_at": "2026-12-01T00:00:00Z", "kind": kind,
        });
        sqlx::query(
            "INSERT INTO actions (id, event_id, action_key, rule, flow, entity, kind, contact, payload, due_at, status, attempts, ruleset_version, created_at, updated_at) \
             VALUES ($1, 'old-event', $2, $3, 'contact_workflows', $4, $5, 'a@example.com', $6, $7, 'queued', 0, 'v-old', $8, $8)",
        )
        .bind(id)
        .bind(key)
        .bind(rule)
        .bind(entity)
        .bind(kind)
        .bind(payload.to_string())
        .bind(due)
        .bind(now - 5_000)
        .execute(&pool)
        .await
        .expect("old action");
    }
    pool.close().await;
}

#[tokio::test]
async fn old_actions_keep_their_names_and_contacts_after_the_upgrade_on_sqlite() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = format!(
        "sqlite://{}?mode=rwc",
        tmp.path().join("hsflow.db").display()
    );
    old_store(&url, Backend::Sqlite).await;
    let store = Store::open(tmp.path(), Durability::Normal)
        .await
        .expect("the upgrade runs at start");
    check_upgraded(&store, "SELECT name FROM pragma_table_info('actions')").await;
}

#[tokio::test]
async fn old_actions_keep_their_names_and_contacts_after_the_upgrade_on_postgres() {
    let db = TestDb::create().await;
    old_store(&db.url, Backend::Postgres).await;
    let store = Store::connect(&db.url)
        .await
        .expect("the upgrade runs at start");
    check_upgraded(
        &store,
        "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns WHERE table_name = 'actions'",
    )
    .await;
    store.pool.close().await;
    db.drop_now().await;
}

/// What the old store's actions read after the upgrade; `columns_sql`
/// lists the actions table's columns (as `name`) on the store's engine.
async fn check_upgraded(store: &Store, columns_sql: &'static str) {
    // The old event's parts are read from their columns (events stored from
    // schema version 15 on keep them packed together): its page, its body,
    // the search.
    let event = store.event("old-event").await.expect("the old event");
    assert_eq!(event["fields"]["email"], "a@example.com", "{event}");
    assert_eq!(event["source"], "form");
    assert_eq!(store.raw_event("old-event").await.expect("raw").0, b"{}");
    let found = store
        .events_page(&hsflow::store::browse::EventQuery {
            text: Some("A@Example.com".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("search");
    assert_eq!(
        found.rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["old-event"]
    );
    // Listed with every name, the entity-less one as none.
    let listed = store.actions_of_event("old-event").await.expect("list");
    let names: Vec<(&str, &str, &str, Option<&str>, &str)> = listed
        .iter()
        .map(|a| {
            (
                a.action.as_str(),
                a.rule.as_str(),
                a.flow.as_str(),
                a.entity.as_deref(),
                a.kind.as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (
                "intake/task_1",
                "intake",
                "contact_workflows",
                Some("AM Consulting"),
                "task"
            ),
            (
                "welcome/email_1",
                "welcome",
                "contact_workflows",
                Some("The 7 Space"),
                "email"
            ),
            (
                "welcome/notify_2",
                "welcome",
                "contact_workflows",
                None,
                "notify"
            ),
        ]
    );
    assert!(listed.iter().all(|a| a.ruleset_version == "v-old"));

    // The old columns are gone: the names are stored once each.
    let columns: Vec<String> = sqlx::query(columns_sql)
        .fetch_all(&store.pool)
        .await
        .expect("columns")
        .iter()
        .map(|r| r.try_get("name").unwrap_or_default())
        .collect();
    assert!(listed
        .iter()
        .all(|a| a.contact.as_deref() == Some("a@example.com")));
    for gone in ["action_key", "rule", "flow", "entity", "kind", "contact"] {
        assert!(!columns.iter().any(|c| c == gone), "{gone} in {columns:?}");
    }

    // The one due now is claimed with its names.
    let jobs = store.claim(10, 60_000).await.expect("claim");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        (jobs[0].action_key.as_str(), jobs[0].kind.as_str()),
        ("intake/task_1", "task")
    );
    assert!(
        jobs[0].payload.contains("\"rule\":\"intake\""),
        "{}",
        jobs[0].payload
    );
    assert_eq!(jobs[0].contact.as_deref(), Some("a@example.com"));

    let emails = store
        .pending_emails("a@example.com")
        .await
        .expect("pending emails");
    assert_eq!(
        emails.len(),
        1,
        "the old email is still an email: {emails:?}"
    );

    // Still cancelled by rule and contact: a reply cancels the two
    // `welcome` follow-ups.
    let reply = store
        .accept(new_event_of_type("r1", "reply", Utc::now(), 3600))
        .await
        .expect("reply accepted");
    assert_eq!(reply.cancelled, 2, "{reply:?}");

    // New events add their own combinations once, however many come.
    let count = |store: &Store| {
        let pool = store.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM action_names")
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    let before = count(store).await;
    assert!(before >= 3, "the old three and the reply's");
    let first = store
        .accept(new_event("k1", Utc::now(), 3600))
        .await
        .expect("accepted");
    let after_one = count(store).await;
    assert!(after_one > before, "the fixture's actions add their names");
    store
        .accept(new_event("k2", Utc::now(), 3600))
        .await
        .expect("accepted");
    assert_eq!(count(store).await, after_one, "the second lead adds none");
    let fresh = store.actions_of_event(&first.event_id).await.expect("list");
    assert_eq!(fresh.len(), first.actions);
    assert!(fresh
        .iter()
        .all(|a| !a.rule.is_empty() && !a.kind.is_empty()));
    assert!(fresh.iter().all(|a| a.id.starts_with(&first.event_id)));

    // The old actions still name their event in the renamed column (the
    // new ones are found by their ids: schema version 14); the events list
    // counts them, and retention takes the old event with them once the
    // last one has run.
    let page = store
        .events_page(&hsflow::store::browse::EventQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("page");
    let old_row = page
        .rows
        .iter()
        .find(|e| e.id == "old-event")
        .expect("the old event is listed");
    assert_eq!(old_row.statuses.values().sum::<i64>(), 3, "{old_row:?}");
    assert!(!columns.iter().any(|c| c == "event_id"), "{columns:?}");
    store.succeed(&jobs[0]).await.expect("the old task ran");
    let pruned = store
        .prune_all_finished(Utc::now() + chrono::Duration::minutes(1))
        .await
        .expect("retention");
    assert!(pruned.actions >= 3, "{pruned:?}");
    assert!(
        store.event("old-event").await.is_err(),
        "the old event went"
    );
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM actions WHERE old_event_id = 'old-event'")
            .fetch_one(&store.pool)
            .await
            .expect("count");
    assert_eq!(left, 0, "with its actions");
}

#[tokio::test]
async fn a_store_upgraded_by_a_newer_hsflow_is_refused_at_start() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = Store::open(tmp.path(), Durability::Normal)
        .await
        .expect("a new store");
    sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)")
        .execute(&store.pool)
        .await
        .expect("a newer version");
    store.pool.close().await;
    drop(store);
    let refused = Store::open(tmp.path(), Durability::Normal).await;
    let message = refused.map(|_| ()).expect_err("refused").to_string();
    assert!(
        message.contains("upgraded by a newer hsflow (schema version 9999"),
        "{message}"
    );
}
