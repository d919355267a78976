//! Hot reload latency: from a rule file saved (write + rename, as editors do)
//! to the new rules answering at /health, p50 and p95 over 40 edits of the
//! shipped rules, while webhooks keep arriving; none may fail.
//!
//! Run: `cargo bench --bench reload`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::create_dir_all(to);
    for e in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            let _ = std::fs::copy(e.path(), &dest);
        }
    }
}

#[tokio::main]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (rules, templates) = (dir.path().join("rules"), dir.path().join("templates"));
    copy_dir(&root.join("rules"), &rules);
    copy_dir(&root.join("templates"), &templates);
    copy_dir(&root.join("examples"), &dir.path().join("examples"));
    let (mut child, base, _) = support::serve(
        &rules,
        &templates,
        &dir.path().join("data"),
        &[("HSFLOW_MANUAL_TOKEN", "tok")],
        &[],
    );
    let client = reqwest::Client::new();

    // Webhooks keep coming during every reload.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load = {
        let (client, base, stop, sent, failed) = (
            client.clone(),
            base.clone(),
            stop.clone(),
            sent.clone(),
            failed.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = format!(
                    r#"{{"event":"new_contact","email":"r{i}@example.org","first_name":"R","contact_types":["Artist"],"lead_source":"Website"}}"#
                );
                let ok = client
                    .post(format!("{base}/webhooks/manual"))
                    .header("content-type", "application/json")
                    .header("x-hsflow-token", "tok")
                    .header("idempotency-key", format!("k{i}"))
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16() == 202)
                    .unwrap_or(false);
                sent.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let flow = rules.join("flows/contact_workflows.toml");
    let original = std::fs::read_to_string(&flow).unwrap_or_default();
    let mut times = Vec::new();
    for i in 0..40 {
        let before = health(&client, &base).await;
        let v0 = before["rules"]["version"].clone();
        let text = original.replace(
            "Review the portfolio of",
            &format!("Review (edit {i}) the portfolio of"),
        );
        let tmp = flow.with_extension("tmp~");
        let t = Instant::now();
        let _ = std::fs::write(&tmp, text);
        let _ = std::fs::rename(&tmp, &flow);
        loop {
            let h = health(&client, &base).await;
            if h["rules"]["version"] != v0 {
                break;
            }
            if t.elapsed() > Duration::from_secs(10) {
                panic!("edit {i} never went live");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = load.await;
    times.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "reload, file saved -> new rules live (40 edits of the shipped rules): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; webhooks during the reloads: {} sent, {} failed",
        p(0.5),
        p(0.95),
        p(1.0),
        sent.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    let _ = child.kill();
    let _ = child.wait();
}

async fn health(client: &reqwest::Client, base: &str) -> serde_json::Value {
    match client.get(format!("{base}/health")).send().await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}
