//! A backlog of 1,000,000 delayed actions: the server starts serving quickly
//! and its memory stays what it is with an empty queue (jobs stay on disk;
//! workers claim only what is due).
//!
//! Run: `cargo bench --bench backlog` (HSFLOW_BENCH_BACKLOG changes the size).

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

fn start(data: &Path) -> (Child, Duration) {
    let (rules, templates) = support::fixture();
    let (child, _, took) = support::serve(
        &rules,
        &templates,
        data,
        &[("HSFLOW_TEST_FORM_SECRET", "x")],
        &[],
    );
    (child, took)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let n: i64 = std::env::var("HSFLOW_BENCH_BACKLOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let full = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Create both stores (schema) with the real code, then fill one.
    for d in [empty.path(), full.path()] {
        let _ = hsflow::store::Store::open(d, hsflow::store::Durability::Normal)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let store = hsflow::store::Store::open(full.path(), hsflow::store::Durability::Normal)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let far = chrono::Utc::now().timestamp_millis() + 30 * 86_400_000;
    let t = Instant::now();
    let payload = r#"{"id":"welcome/welcome_email","rule":"welcome","flow":"runtime","entity":"Main","delay_s":2592000,"run_at":"2026-12-22T00:00:00Z","kind":"email","to":"x@example.org","template":"welcome","subject":"Welcome","text":"Hello","html":"<p>Hello</p>"}"#;
    let sql = format!(
        "INSERT INTO action_names (name_id, rule, flow, entity, action_key, kind) \
         VALUES (1000, 'welcome', 'runtime', 'Main', 'welcome/welcome_email', 'email'); \
         INSERT INTO contacts (contact_id, contact) \
         WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {n}) \
         SELECT x, 'c' || x FROM seq; \
         INSERT INTO actions (id, old_event_id, name_id, contact_id, payload, due_at, status, attempts, ruleset_version, created_at, updated_at) \
         WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {n}) \
         SELECT 'job-' || x, 'ev-' || x, 1000, x, '{payload}', {far} + x, 'queued', 0, 'bench', {far}, {far} FROM seq"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&store.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "backlog: {n} delayed actions written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    drop(store);

    for (label, dir) in [("empty queue", empty.path()), ("1M backlog", full.path())] {
        let (mut child, ready) = start(dir);
        let at_start = rss_kib(child.id());
        tokio::time::sleep(Duration::from_secs(5)).await;
        let later = rss_kib(child.id());
        println!("{label:>12}: serving {:.0} ms after start; RSS {:.1} MiB at start, {:.1} MiB after 5 s of polling", ready.as_secs_f64() * 1000.0, at_start as f64 / 1024.0, later as f64 / 1024.0);
        let _ = child.kill();
        let _ = child.wait();
    }
}
