//! kill -9 under load, on the shipped rule pack, at random moments: no
//! acknowledged event is lost, and no action hsflow owns the effect of runs
//! twice (a notification line, a workflow move, a page, a task), however
//! many actions were cut off mid-run and ran again after the restart.
//! (The full campaign, 20 trials with per-sink counts, is bench/crash.)

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::Value;
use sqlx::Row;
use support::{admin_get, client, drained, typeform_lead, typeform_signature, Server};

const SECRET: &str = "crash-test-secret";

fn lead(run: usize, i: usize) -> Vec<u8> {
    let types = [
        "Artist",
        "Business Contact",
        "General Contact",
        "Potential Client",
    ];
    typeform_lead(
        &format!("crash-{run}-{i}"),
        &format!("c{run}x{i}@example.org"),
        types[i % types.len()],
    )
}

fn start(root: &Path, data: &Path) -> Server {
    Server::start_with_env(
        data,
        &root.join("rules"),
        &[],
        &[("TYPEFORM_SECRET", SECRET.to_string())],
    )
}

/// Post leads from 8 connections until the server dies; the event ids acknowledged.
async fn load(base: String, run: usize, acked: Arc<Mutex<Vec<String>>>) {
    let url = format!("{base}/webhooks/typeform");
    let mut senders = Vec::new();
    for lane in 0..8 {
        let (url, acked) = (url.clone(), acked.clone());
        senders.push(tokio::spawn(async move {
            let c = client();
            for i in (lane..).step_by(8).take(2000) {
                let body = lead(run, i);
                let sig = typeform_signature(SECRET, &body);
                let sent = c
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("typeform-signature", sig)
                    .body(body)
                    .send()
                    .await;
                let Ok(r) = sent else { return };
                if r.status().as_u16() == 202 {
                    if let Ok(v) = r.json::<Value>().await {
                        if let Some(id) = v["event_id"].as_str() {
                            acked.lock().expect("lock").push(id.to_string());
                        }
                    }
                }
            }
        }));
    }
    for s in senders {
        let _ = s.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_and_runs_nothing_twice() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let acked = Arc::new(Mutex::new(Vec::new()));
    for run in 0..3 {
        let s = start(root, &data);
        let before = acked.lock().expect("lock").len();
        let loading = tokio::spawn(load(s.base.clone(), run, acked.clone()));
        // Kill once the load is flowing (on a busy machine a server can take
        // seconds to answer its first leads), at a random moment after that.
        let flowing = std::time::Instant::now();
        while acked.lock().expect("lock").len() < before + 10
            && flowing.elapsed() < Duration::from_secs(30)
            && !loading.is_finished()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let wait = rand::rng().random_range(100..1200);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        s.kill();
        let _ = loading.await;
    }
    let s = start(root, &data);
    drained(&s, Duration::from_secs(180)).await;

    // Nothing acknowledged is lost.
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() > 20,
        "only {} leads were acknowledged",
        acked.len()
    );
    for id in &acked {
        let e = admin_get(&s, &format!("/api/events/{id}")).await;
        assert_eq!(
            e["id"].as_str(),
            Some(id.as_str()),
            "acknowledged event {id} lost"
        );
    }
    s.kill();

    // Notification lines: one per job.
    let text = std::fs::read_to_string(data.join("notifications.jsonl")).unwrap_or_default();
    let mut ids = HashSet::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("a whole JSON line");
        let id = v["id"].as_str().expect("id").to_string();
        assert!(ids.insert(id.clone()), "notification {id} written twice");
    }
    assert!(!ids.is_empty());

    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("hsflow.db").display()))
        .await
        .expect("open the store");
    // Workflow moves: each job's move recorded once.
    let mut moves: BTreeMap<(String, String), u32> = BTreeMap::new();
    for r in sqlx::query(
        "SELECT instance_id, details FROM workflow_history WHERE action IN ('created', 'moved')",
    )
    .fetch_all(&db)
    .await
    .expect("history")
    {
        let details: Value = serde_json::from_str(&r.get::<String, _>("details")).expect("details");
        let cause = details["cause"].as_str().unwrap_or("").to_string();
        *moves.entry((r.get("instance_id"), cause)).or_default() += 1;
    }
    let twice: Vec<_> = moves.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "workflow moves made twice: {twice:?}");
    // Pages: one per key (contacts by email, tasks by job).
    let dup: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT database, key_value, COUNT(*) FROM notion_pages WHERE key_value IS NOT NULL GROUP BY database, key_value HAVING COUNT(*) > 1",
    )
    .fetch_all(&db)
    .await
    .expect("pages");
    assert!(dup.is_empty(), "pages written twice: {dup:?}");
    // The kills did cut actions off mid-run: they ran again, and the checks
    // above are about them.
    let reran: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM actions WHERE claims > 1")
        .fetch_one(&db)
        .await
        .expect("count");
    assert!(reran > 0, "no action was running at any of the kills");
    // Every action due by now finished; none parked.
    let stuck: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT action_key, status, last_error FROM actions_named WHERE status IN ('running', 'dead')",
    )
    .fetch_all(&db)
    .await
    .expect("actions");
    assert!(stuck.is_empty(), "{stuck:?}");
}
