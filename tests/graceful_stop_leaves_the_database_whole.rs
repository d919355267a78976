//! A graceful stop (SIGTERM) ends with the database file whole: what the
//! SQLite WAL still held is copied into `hsflow.db` and the WAL emptied
//! (store::checkpoints), so a copy of `hsflow.db` alone, taken after the
//! stop, holds every event accepted and every action's outcome. Before,
//! the WAL could keep the last writes (20-28 MB in the shipped bench):
//! nothing was lost, since the next start applies them, but the file alone
//! was short of them.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{post_typeform, typeform_lead, Server};

const SECRET: &str = "graceful-stop-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_database_file_alone_after_a_stop_holds_everything() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let mut s = Server::start_with_env(
        &data,
        &root.join("rules"),
        &[],
        &[("TYPEFORM_SECRET", SECRET.to_string())],
    );
    // Leads, and the stop while their actions are still being carried out.
    let leads = 150;
    for i in 0..leads {
        let email = format!("stop{i}@example.org");
        let status = post_typeform(&s, SECRET, typeform_lead(&email, &email, "Artist")).await;
        assert_eq!(status, 202);
    }
    let (status, _) = s.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");

    // The WAL is empty (or gone).
    let wal = std::fs::metadata(data.join("hsflow.db-wal")).map_or(0, |m| m.len());
    assert_eq!(
        wal, 0,
        "the WAL still holds {wal} bytes after a graceful stop"
    );

    // The database file alone, copied elsewhere without its WAL, has every
    // event and as many finished actions as the stopped server reported.
    let copy = tmp.path().join("copy");
    std::fs::create_dir(&copy).expect("a directory for the copy");
    std::fs::copy(data.join("hsflow.db"), copy.join("hsflow.db")).expect("copy the file");
    let alone = support::events::store_file(&copy, false).await;
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE source = 'typeform'")
        .fetch_one(&alone)
        .await
        .expect("count the events");
    assert_eq!(events, leads);
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&alone)
        .await
        .expect("integrity check");
    assert_eq!(integrity, "ok");
    let with_wal = support::events::store_file(&data, false).await;
    let count = "SELECT status || ':' || COUNT(*) FROM actions GROUP BY status ORDER BY status";
    let statuses = |pool| async move {
        sqlx::query_scalar::<_, String>(count)
            .fetch_all(&pool)
            .await
            .expect("statuses")
    };
    assert_eq!(
        statuses(alone.clone()).await,
        statuses(with_wal.clone()).await
    );
}
