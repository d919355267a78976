//! normalise + match + plan over 100,000 generated events against the shipped
//! rules, without rendering and with. Single threaded, median of 3. Then the
//! cost of send windows: the same events arriving on a Friday at 23:30 New
//! York time (every email to a contact waits for Monday), planned by the
//! shipped pack and by the same pack with its windows taken off, in one run.
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
    if mode.is_empty() {
        windows_cost(&rs, &bodies);
    }
}

/// Plan `bodies` arriving at `at`, without rendering: events/s (median of 3)
/// and how many actions a send window moved.
fn rate(
    rs: &hsflow::rules::RuleSet,
    bodies: &[Vec<u8>],
    at: chrono::DateTime<Utc>,
) -> (f64, usize) {
    let source = &rs.sources["manual"];
    let mut rates = Vec::new();
    let mut moved = 0;
    for _ in 0..3 {
        moved = 0;
        let t = Instant::now();
        for b in bodies {
            let req = Request {
                headers: &[],
                body: b,
            };
            if let Ok(ev) = normalise(rs, source, &req, at) {
                let p = plan(
                    rs,
                    &ev,
                    Options {
                        render: false,
                        explain: false,
                    },
                );
                moved += p.actions.iter().filter(|a| !a.notes.is_empty()).count();
            }
        }
        rates.push(bodies.len() as f64 / t.elapsed().as_secs_f64());
    }
    (median(rates), moved)
}

fn windows_cost(rs: &hsflow::rules::RuleSet, bodies: &[Vec<u8>]) {
    let entities = rs.text.get("rules/entities.toml").unwrap_or_default();
    let bare: String = entities
        .lines()
        .filter(|l| !l.trim_start().starts_with("email_window"))
        .map(|l| format!("{l}\n"))
        .collect();
    let Some(files) = rs.text.with("rules/entities.toml", &bare) else {
        eprintln!("could not take the windows off");
        return;
    };
    let Some(without) =
        hsflow::rules::load_files(std::sync::Arc::new(files), &rs.rules_dir, &rs.templates_dir)
            .ruleset
    else {
        eprintln!("the pack without windows doesn't load");
        return;
    };
    // Friday 9 January 2026, 23:30 in New York.
    let friday_night = chrono::DateTime::parse_from_rfc3339("2026-01-10T04:30:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let (with_rate, moved) = rate(rs, bodies, friday_night);
    let (bare_rate, _) = rate(&without, bodies, friday_night);
    println!(
        "send windows, Friday 23:30 arrivals: {with_rate:>9.0} events/s with ({moved} actions moved), {bare_rate:>9.0} without: {:.2}x",
        with_rate / bare_rate
    );
}
