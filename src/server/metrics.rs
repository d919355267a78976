//! Counters for GET /metrics, in the Prometheus text format.
//!
//! A handful of labelled counters and sums kept in one map; small enough that
//! a lock is cheaper than a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

static COUNTERS: Mutex<BTreeMap<String, f64>> = Mutex::new(BTreeMap::new());

fn add(key: String, v: f64) {
    let mut m = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
    *m.entry(key).or_insert(0.0) += v;
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ")
}

/// The `source` label of requests to a source the rules don't have.
pub const UNKNOWN_SOURCE: &str = "(unknown)";

/// An event reached a source: outcome is accepted, duplicate, unauthorized, invalid, ...
pub fn record_event(source: &str, outcome: &str) {
    add(
        format!(
            "hsflow_events_total{{source=\"{}\",outcome=\"{}\"}}",
            label(source),
            label(outcome)
        ),
        1.0,
    );
}

pub fn record_actions_planned(kind: &str, n: usize) {
    add(
        format!("hsflow_actions_planned_total{{kind=\"{}\"}}", label(kind)),
        n as f64,
    );
}

/// A sink finished a job.
pub fn record_sink(kind: &str, took: Duration, ok: bool) {
    let k = label(kind);
    add(
        format!("hsflow_sink_seconds_sum{{kind=\"{k}\"}}"),
        took.as_secs_f64(),
    );
    add(format!("hsflow_sink_seconds_count{{kind=\"{k}\"}}"), 1.0);
    add(
        format!(
            "hsflow_sink_results_total{{kind=\"{k}\",result=\"{}\"}}",
            if ok { "ok" } else { "error" }
        ),
        1.0,
    );
}

/// The store's writer committed (or failed) a round of `writes` writes.
pub fn record_store_round(writes: usize, took: Duration, ok: bool) {
    let result = if ok { "ok" } else { "failed" };
    add(
        format!("hsflow_store_rounds_total{{result=\"{result}\"}}"),
        1.0,
    );
    add("hsflow_store_round_writes_total".to_string(), writes as f64);
    add(
        "hsflow_store_round_seconds_sum".to_string(),
        took.as_secs_f64(),
    );
    add("hsflow_store_round_seconds_count".to_string(), 1.0);
}

pub fn record_reload(ok: bool) {
    add(
        format!(
            "hsflow_reloads_total{{result=\"{}\"}}",
            if ok { "ok" } else { "refused" }
        ),
        1.0,
    );
}

/// The exposition text; `gauges` are added as they are now.
pub fn render(gauges: &[(&str, f64)]) -> String {
    let mut out = String::new();
    let m = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
    for (k, v) in m.iter() {
        let _ = writeln!(out, "{k} {v}");
    }
    for (k, v) in gauges {
        let _ = writeln!(out, "{k} {v}");
    }
    out
}
