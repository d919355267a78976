//! Backup and restore as docs/operations.md says: deploy/backup.sh copies the
//! SQLite store while the server takes webhooks, and a server started on the
//! restored copy has every event the copy holds (a redelivery of one is a
//! duplicate) and its delayed actions still to run.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_to_a_working_server() {
    debian_tool("sqlite3", "sqlite3");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let s = Server::start(&data, &fixture().join("rules"), &[]);
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(accepted(&s, &json!({"id": format!("b{i}"), "type": "signup", "email": format!("b{i}@example.org")})).await);
    }
    // The backup runs while more webhooks arrive.
    let more = {
        let url = s.url("/webhooks/form");
        tokio::spawn(async move {
            for i in 20..120 {
                let body = serde_json::to_vec(
                    &json!({"id": format!("b{i}"), "type": "signup", "email": "x@example.org"}),
                )
                .expect("json");
                let _ = client()
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-signature", sign(&body))
                    .body(body)
                    .send()
                    .await;
            }
        })
    };
    let copy = tmp.path().join("backup.db");
    let out = std::process::Command::new(root.join("deploy/backup.sh"))
        .arg(&data)
        .arg(&copy)
        .output()
        .expect("run deploy/backup.sh");
    assert!(
        out.status.success(),
        "backup.sh failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = more.await;
    s.kill();

    // Restore into a fresh data directory, as the docs say, and serve it.
    let restored = tmp.path().join("restored");
    std::fs::create_dir_all(&restored).expect("mkdir");
    std::fs::copy(&copy, restored.join("hsflow.db")).expect("restore");
    let s = Server::start(&restored, &fixture().join("rules"), &[]);
    for id in &ids {
        let e = admin_get(&s, &format!("/api/events/{id}")).await;
        assert_eq!(
            e["id"].as_str(),
            Some(id.as_str()),
            "event {id} not in the restored store"
        );
    }
    // A redelivery of a backed-up event is still a duplicate.
    let (status, _) = post_signed(
        &s,
        &json!({"id": "b0", "type": "signup", "email": "b0@example.org"}),
    )
    .await;
    assert_eq!(status, 200);
    // The restored server carries on: the delayed emails (3 s) run.
    drained(&s, Duration::from_secs(30)).await;
    let h = health(&s).await;
    assert_eq!(h["status"], "ok", "{h}");
}
