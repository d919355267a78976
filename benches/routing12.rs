//! routing12: the side-by-side rule-evaluation benchmark of ../shared/bench/routing12.
//!
//! 100,000 contact events and 12 routing rules (benches/routing12/rules).
//! Checks the match counts against the published ones, then measures, single
//! threaded, median of 3:
//!   * evaluation: events normalised up front, every rule evaluated for every event;
//!   * whole path: from the JSON text of each line to the list of matching rules.
//!
//! Run: `cargo bench --bench routing12`. The corpus is generated with the
//! shared script into target/ (it is 18 MB and not committed).

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;
use hsflow::engine::plan::{matching_rules, matching_rules_into};
use hsflow::sources::normalise::{normalise, Request};

// The same allocator as the hsflow binary, so the figures are what it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXPECTED: [(&str, usize); 12] = [
    ("R1", 30_567),
    ("R2", 3_517),
    ("R3", 30_610),
    ("R4", 42_370),
    ("R5", 21_503),
    ("R6", 33_265),
    ("R7", 26_293),
    ("R8", 7_141),
    ("R9", 26_173),
    ("R10", 7_128),
    ("R11", 13_970),
    ("R12", 16_805),
];

fn corpus(root: &Path) -> PathBuf {
    if let Ok(p) = std::env::var("HSFLOW_ROUTING12_CORPUS") {
        return PathBuf::from(p);
    }
    let out = root.join("target/routing12-corpus.jsonl");
    if !out.exists() {
        let script = root.join("../shared/bench/routing12/gen_corpus.py");
        let status = std::process::Command::new("python3")
            .arg(&script)
            .arg("100000")
            .arg(&out)
            .status();
        if !status.map(|s| s.success()).unwrap_or(false) {
            eprintln!(
                "could not generate the corpus with {}; set HSFLOW_ROUTING12_CORPUS",
                script.display()
            );
            std::process::exit(2);
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("benches/routing12");
    let loaded = hsflow::rules::load(&dir.join("rules"), &dir.join("templates"));
    let Some(rs) = loaded.ruleset else {
        for d in loaded.diagnostics {
            eprintln!("{}", d.render_human());
        }
        std::process::exit(1);
    };
    let text = std::fs::read_to_string(corpus(root)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let source = &rs.sources["contact"];
    let now = Utc::now();
    let events: Vec<_> = lines
        .iter()
        .filter_map(|l| {
            normalise(
                &rs,
                source,
                &Request {
                    headers: &[],
                    body: l.as_bytes(),
                },
                now,
            )
            .ok()
        })
        .collect();
    assert_eq!(events.len(), lines.len(), "every corpus line normalises");

    // Correctness first: the published counts.
    let mut counts = vec![0usize; rs.rules.len()];
    for ev in &events {
        for i in matching_rules(&rs, ev) {
            counts[i] += 1;
        }
    }
    let mut total = 0;
    for (id, want) in EXPECTED {
        let i = rs
            .rules
            .iter()
            .position(|r| &*r.id == id)
            .unwrap_or(usize::MAX);
        let got = counts.get(i).copied().unwrap_or(0);
        total += got;
        assert_eq!(got, want, "{id}: hsflow matched {got}, expected {want}");
    }
    println!(
        "routing12: {} events, {} rules, {total} matches: counts match the published ones",
        events.len(),
        rs.rules.len()
    );

    let mut eval = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut n = 0usize;
        let mut buf = Vec::new();
        for ev in &events {
            matching_rules_into(&rs, ev, &mut buf);
            n += buf.len();
        }
        eval.push(events.len() as f64 / t.elapsed().as_secs_f64());
        assert_eq!(n, total);

        let t = Instant::now();
        let mut n = 0usize;
        let mut buf = Vec::new();
        for l in &lines {
            if let Ok(ev) = normalise(
                &rs,
                source,
                &Request {
                    headers: &[],
                    body: l.as_bytes(),
                },
                now,
            ) {
                matching_rules_into(&rs, &ev, &mut buf);
                n += buf.len();
            }
        }
        whole.push(lines.len() as f64 / t.elapsed().as_secs_f64());
        assert_eq!(n, total);
    }
    // The same evaluation over 1,000 events that stay in cache: how much of
    // the full-corpus time is memory traffic rather than rule evaluation.
    let hot = &events[..1000];
    let mut hot_rates = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut n = 0usize;
        let mut buf = Vec::new();
        for _ in 0..100 {
            for ev in hot {
                matching_rules_into(&rs, ev, &mut buf);
                n += buf.len();
            }
        }
        hot_rates.push(100_000.0 / t.elapsed().as_secs_f64());
        std::hint::black_box(n);
    }
    let h = median(hot_rates);
    println!(
        "evaluation, 1,000 events in cache:  {:>10.0} events/s  ({:.3} µs/event)",
        h,
        1e6 / h
    );
    let (e, w) = (median(eval), median(whole));
    println!(
        "evaluation (events parsed up front): {:>10.0} events/s  ({:.3} µs/event)",
        e,
        1e6 / e
    );
    println!(
        "whole path (from JSON text):         {:>10.0} events/s  ({:.3} µs/event)",
        w,
        1e6 / w
    );
}
