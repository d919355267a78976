//! normalise + match + plan over 100,000 generated events against the shipped
//! rules, without rendering and with. Single threaded, median of 3.
//!
//! Run: `cargo bench --bench pipeline`.

use std::path::Path;
use std::time::Instant;

use chrono::Utc;
use hsflow::engine::plan::{plan, Options};
use hsflow::sources::normalise::{normalise, Request};
use serde_json::json;

// The same allocator as the hsflow binary, so the figures are what it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A small deterministic generator, so every run sees the same events.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() as usize) % from.len()]
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    // HSFLOW_BENCH_N changes the event count (e.g. small, under callgrind).
    let n: usize = std::env::var("HSFLOW_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = hsflow::rules::load(&root.join("rules"), &root.join("templates"));
    let Some(rs) = loaded.ruleset else {
        eprintln!("the shipped rules don't load; run hsflow lint");
        std::process::exit(1);
    };
    let types = [
        "Artist",
        "Gallery Contact",
        "General Contact",
        "Business Contact",
        "Potential Client",
        "Academic Contact",
        "Media Contact",
    ];
    let sources = ["Website", "Event", "Referral"];
    let tags = ["hot", "vip", "community_member", "newsletter"];
    let names = ["Ana", "Ben", "Chen", "Dara", "Eli"];
    let mut rng = Lcg(20_240_607);
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let name = rng.pick(&names);
            let body = json!({
                "event": "new_contact",
                "email": format!("{}.{i}@example.com", name.to_lowercase()),
                "first_name": name,
                "last_name": "Example",
                "contact_types": [rng.pick(&types)],
                "lead_source": rng.pick(&sources),
                "tags": [rng.pick(&tags)],
                "interests": ["art"],
            });
            serde_json::to_vec(&body).unwrap_or_default()
        })
        .collect();
    let source = &rs.sources["manual"];
    let now = Utc::now();
    // HSFLOW_BENCH_MODE=plain or =render runs one mode only (for profiling).
    let mode = std::env::var("HSFLOW_BENCH_MODE").unwrap_or_default();
    for (label, render) in [("without rendering", false), ("with rendering", true)] {
        if (mode == "plain" && render) || (mode == "render" && !render) {
            continue;
        }
        let mut rates = Vec::new();
        let mut actions = 0usize;
        for _ in 0..3 {
            actions = 0;
            let t = Instant::now();
            for b in &bodies {
                if let Ok(ev) = normalise(
                    &rs,
                    source,
                    &Request {
                        headers: &[],
                        body: b,
                    },
                    now,
                ) {
                    actions += plan(
                        &rs,
                        &ev,
                        Options {
                            render,
                            explain: false,
                        },
                    )
                    .actions
                    .len();
                }
            }
            rates.push(n as f64 / t.elapsed().as_secs_f64());
        }
        let r = median(rates);
        println!("normalise + match + plan, {label:<18}: {r:>9.0} events/s ({:.2} µs/event, {actions} actions planned)", 1e6 / r);
    }
}
