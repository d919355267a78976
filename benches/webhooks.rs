//! Load on `hsflow serve` over loopback: accepted webhooks per second and
//! latency percentiles, then kill -9 and a restart to count what survived.
//!
//! Run: `cargo bench --bench webhooks` (defaults: 1,000 req/s for 10 s on a
//! fresh server, 64 connections for 10 s, 1,000 req/s for 10 s again while
//! the overload's backlog drains). HSFLOW_BENCH_SECONDS and HSFLOW_BENCH_CONNS
//! change the load; HSFLOW_BENCH_DURABILITY=full measures the strict mode;
//! HSFLOW_DATABASE_URL=postgres://… (an empty database) measures PostgreSQL.

use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

const SECRET: &str = "bench-secret";

fn start(data: &Path, durability: &str) -> (Child, String) {
    let (rules, templates) = support::fixture();
    let (child, base, _) = support::serve(
        &rules,
        &templates,
        data,
        &[
            ("HSFLOW_TEST_FORM_SECRET", SECRET),
            ("HSFLOW_ADMIN_TOKEN", "bench"),
        ],
        &["--durability", durability],
    );
    (child, base)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn send(client: &reqwest::Client, base: &str, n: u64) -> (bool, u64) {
    let body = format!(
        r#"{{"id":"bench-{n}","type":"signup","email":"user{n}@example.org","first_name":"User"}}"#
    );
    let sig = hsflow::sources::auth::sign(
        hsflow::rules::model::SignatureEncoding::Hex,
        Some("sha256="),
        SECRET,
        body.as_bytes(),
    );
    let t = Instant::now();
    let r = client
        .post(format!("{base}/webhooks/form"))
        .header("content-type", "application/json")
        .header("x-signature", sig)
        .body(body)
        .send()
        .await;
    let ok = matches!(&r, Ok(resp) if resp.status().as_u16() == 202);
    (ok, t.elapsed().as_micros() as u64)
}

async fn stored_events(base: &str) -> u64 {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("{base}/contact-workflows/status"))
            .bearer_auth("bench")
            .send()
            .await
        {
            if let Ok(v) = r.json::<serde_json::Value>().await {
                return v["events"]["form"].as_u64().unwrap_or(0);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    0
}

/// `secs` seconds at 1,000 requests/s; prints the latency, returns how many were accepted.
async fn paced(
    client: &reqwest::Client,
    base: &str,
    counter: &Arc<AtomicU64>,
    secs: u64,
    label: &str,
) -> u64 {
    let mut lat = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let mut inflight = Vec::new();
    let paced_until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < paced_until {
        ticker.tick().await;
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let (client, base) = (client.clone(), base.to_string());
        inflight.push(tokio::spawn(async move { send(&client, &base, n).await }));
    }
    let mut ok_paced = 0;
    for t in inflight {
        if let Ok((ok, us)) = t.await {
            ok_paced += u64::from(ok);
            lat.push(us);
        }
    }
    lat.sort_unstable();
    println!(
        "at 1,000 req/s for {secs} s, {label}: p50 {:.2} ms, p99 {:.2} ms ({ok_paced} of {} accepted)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.len()
    );
    ok_paced
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("HSFLOW_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let conns: u64 = std::env::var("HSFLOW_BENCH_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let durability = std::env::var("HSFLOW_BENCH_DURABILITY").unwrap_or_else(|_| "normal".into());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (child, base) = start(dir.path(), &durability);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conns as usize)
        .build()
        .unwrap_or_default();
    let counter = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));

    // 1. Latency at a steady 1,000 requests/s on a fresh server (its own
    // actions run as they come: notify and workflow at once, email 3 s later).
    let ok_paced = paced(&client, &base, &counter, secs, "steady").await;

    // 2. Throughput: `conns` clients sending as fast as answers come back.
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (client, base, counter, accepted) = (
            client.clone(),
            base.clone(),
            counter.clone(),
            accepted.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let (ok, us) = send(&client, &base, n).await;
                if ok {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(us);
            }
            lat
        }));
    }
    let mut lat: Vec<u64> = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap_or_default());
    }
    lat.sort_unstable();
    let acc = accepted.load(Ordering::Relaxed);
    println!(
        "throughput ({conns} connections, {secs} s, durability {durability}): {:.0} accepted webhooks/s, p50 {:.2} ms, p99 {:.2} ms ({} sent, {acc} accepted)",
        acc as f64 / secs as f64,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.len()
    );

    // 2. The same 1,000 requests/s again, now while the dispatcher drains
    // the backlog the overload left (about two jobs per accepted event).
    let ok_paced2 = paced(
        &client,
        &base,
        &counter,
        secs,
        "right after the overload, backlog draining",
    )
    .await;

    // 3. kill -9, restart, count: every accepted event must be there.
    let total_accepted = ok_paced + acc + ok_paced2;
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    let t = Instant::now();
    let (mut again, base2) = start(dir.path(), &durability);
    let serving = t.elapsed();
    let stored = stored_events(&base2).await;
    println!("after kill -9: restarted and serving in {:.0} ms; {stored} events stored, {total_accepted} were acknowledged{}", serving.as_secs_f64() * 1000.0, if stored >= total_accepted { " (none lost)" } else { " (LOST SOME)" });
    let _ = again.kill();
    let _ = again.wait();
}
