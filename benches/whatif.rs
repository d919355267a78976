//! The what-if on the real workload: 10,000 stored events of every source of
//! the shipped pack (60% Typeform leads of mixed contact types and lead
//! sources, which plan 10-15 actions each; the rest the example of each source in turn),
//! spread over the last week in a SQLite store, replayed through the live
//! rules and a candidate that changes one delay. Measures reading them back
//! and replaying both ways (rendering every action), as POST /api/whatif
//! does. Target (issue 15): under 5 s for 10,000 events on 2 cores.
//!
//! Run: `cargo bench --bench whatif` (HSFLOW_BENCH_N changes the count).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use serde_json::Value;

// The examples of every source, stored as the server stores them (shared
// with the what-if tests).
#[path = "../tests/support/shipped.rs"]
mod shipped;
use shipped::{stored_event, EXAMPLES};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TYPES: &[&str] = &[
    "Artist",
    "Gallery Contact",
    "General Contact",
    "Business Contact",
    "Potential Client",
    "Academic Contact",
    "Media Contact",
];

fn lead(root: &Path, i: usize) -> Vec<u8> {
    let text =
        std::fs::read_to_string(root.join("examples/typeform_artist.json")).expect("example");
    let mut b: Value = serde_json::from_str(&text).expect("json");
    b["event_id"] = format!("bench-{i}").into();
    let answers = &mut b["form_response"]["answers"];
    answers[0]["email"] = format!("lead{i}@example.org").into();
    answers[3]["choices"]["labels"] = serde_json::json!([TYPES[i % TYPES.len()]]);
    serde_json::to_vec(&b).expect("json")
}

fn main() {
    let n: usize = std::env::var("HSFLOW_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (rules, templates) = (root.join("rules"), root.join("templates"));
    let live = hsflow::rules::load_to_serve(&rules, &templates)
        .ruleset
        .expect("the shipped rules load");
    let flow = "rules/flows/contact_workflows.toml";
    let changed = live.text.get(flow).expect("flow").replacen(
        "template = \"artist_welcome\"\ndelay = \"24h\"",
        "template = \"artist_welcome\"\ndelay = \"12h\"",
        1,
    );
    let files = Arc::new(live.text.with(flow, &changed).expect("path"));
    let candidate = hsflow::rules::load_files(files, &rules, &templates)
        .ruleset
        .expect("the candidate loads");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tmp");
    rt.block_on(async {
        let store = hsflow::store::Store::open(dir.path(), hsflow::store::Durability::Normal)
            .await
            .expect("store");
        let now = Utc::now();
        let t = Instant::now();
        let mut pending = Vec::new();
        for i in 0..n {
            let at = now - Duration::seconds((i as i64) * 7 * 86_400 / n as i64 + 1);
            let key = Some(format!("k{i}"));
            let ev = if i % 10 < 6 {
                stored_event(&live, "typeform", &lead(root, i), &[], at, key)
            } else {
                let (source, file, headers) = EXAMPLES[i % EXAMPLES.len()];
                let body = std::fs::read(root.join("examples").join(file)).expect("example");
                stored_event(&live, source, &body, headers, at, key)
            };
            let s = store.clone();
            pending.push(tokio::spawn(async move { s.accept(ev).await }));
            if pending.len() == 256 {
                for p in pending.drain(..) {
                    p.await.expect("join").expect("stored");
                }
            }
        }
        for p in pending.drain(..) {
            p.await.expect("join").expect("stored");
        }
        eprintln!(
            "stored {n} events in {:.1} s (setup, not measured)",
            t.elapsed().as_secs_f64()
        );

        let mut runs = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let since = (now - Duration::days(8)).timestamp_millis();
            let requests = store
                .stored_requests(since, n as i64, None)
                .await
                .expect("read");
            let waiting = store.waiting_actions(10_000).await.expect("waiting");
            let read = t.elapsed().as_secs_f64();
            let report =
                hsflow::studio::whatif::compare(&live, &candidate, &requests, waiting, &[])
                    .expect("the replay runs");
            let total = t.elapsed().as_secs_f64();
            runs.push((
                total,
                read,
                report.summary.events_replayed,
                report.summary.events_changed,
                report.pending.len(),
            ));
        }
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (total, read, replayed, changed, orphans) = runs[1];
        println!("what-if, shipped pack, {replayed} stored events (median of 3)");
        println!("  read from SQLite   {read:.2} s");
        println!("  replay both ways   {:.2} s", total - read);
        println!(
            "  total              {total:.2} s  ({:.0} events/s; target: 10,000 in under 5 s)",
            replayed as f64 / total
        );
        println!("  events changed     {changed}; waiting actions dropped {orphans}");
    });
}
