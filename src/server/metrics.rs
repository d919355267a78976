//! GET /metrics: what a Prometheus server scrapes.
//!
//! Counters and histograms are recorded through the `metrics` facade and
//! rendered by `metrics-exporter-prometheus`, which writes HELP and TYPE
//! lines and real histograms (buckets, so percentiles can be computed, not
//! just a mean). Every series the rules can produce is registered at zero
//! when the server starts (and again on reload), so a rate is defined from
//! the first scrape and an alert on "no accepted events" sees a 0, not a
//! missing series.
//!
//! Labels come only from the rule set and from hsflow's own vocabulary,
//! never from a request: a request for an unknown source counts under
//! [`UNKNOWN_SOURCE`], an unknown route under `unmatched`.
//!
//! What is read from the store or the process when scraped (the queue,
//! the rules version, memory) is written here directly, after the
//! exporter's text, in the same format.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::rules::model::Auth;
use crate::rules::ruleset::Source;
use crate::rules::RuleSet;

/// The `source` label of requests to a source the rules don't have.
pub const UNKNOWN_SOURCE: &str = "(unknown)";

/// Action kinds (the `kind` label).
pub const KINDS: [&str; 8] = [
    "notion", "email", "notify", "task", "webhook", "workflow", "beehiiv", "hubspot",
];

/// Latency buckets, seconds: from a fast local write to a slow remote sink.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the recorder (once per process) and describe every metric.
/// `None` if another recorder was installed first (a test harness).
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    describe_counter!(
        "hsflow_events_total",
        "Requests that reached a webhook source, by source and what became of them."
    );
    describe_counter!(
        "hsflow_actions_planned_total",
        "Actions planned by accepted events, by kind."
    );
    describe_counter!(
        "hsflow_sink_results_total",
        "Attempts to carry out an action, by kind and result: ok, error, or waiting (for another action of its event to write the page it links to)."
    );
    describe_histogram!(
        "hsflow_sink_duration_seconds",
        Unit::Seconds,
        "How long carrying out one action took, by kind."
    );
    describe_counter!(
        "hsflow_store_rounds_total",
        "Transactions of the store's writer, by result."
    );
    describe_counter!(
        "hsflow_store_round_writes_total",
        "Writes committed in the writer's rounds (divided by rounds: the mean round size)."
    );
    describe_histogram!(
        "hsflow_store_round_duration_seconds",
        Unit::Seconds,
        "How long one round of the store's writer took to commit."
    );
    describe_counter!(
        "hsflow_reloads_total",
        "Rule reloads, by result (ok, or refused because the new rules have errors)."
    );
    describe_counter!(
        "hsflow_http_requests_total",
        "HTTP requests answered, by route and status."
    );
    describe_histogram!(
        "hsflow_http_request_duration_seconds",
        Unit::Seconds,
        "How long answering an HTTP request took, by route."
    );
}

/// The outcomes a request to `src` can have (a source without a secret is
/// never unauthorized, one without a ping never pings...).
fn outcomes_of(src: &Source) -> Vec<&'static str> {
    let mut out = vec!["accepted", "duplicate", "invalid", "store_error"];
    match &src.auth {
        Auth::Internal {} => out.push("forbidden"),
        auth if crate::sources::auth::secret_env(auth).is_some() => {
            out.extend(["unauthorized", "not_configured"])
        }
        _ => {}
    }
    if src.ping_field.is_some() {
        out.push("ping");
    }
    if src.verification_field.is_some() {
        out.push("verification");
    }
    // Refused because what the webhook points to could not be fetched.
    if !src.enrich.is_empty() {
        out.push("enrich_failed");
    }
    out
}

/// Register at zero the series of each source's possible outcomes.
fn register<'a>(sources: impl IntoIterator<Item = &'a Source>) {
    for src in sources {
        for o in outcomes_of(src) {
            counter!("hsflow_events_total", "source" => src.name.clone(), "outcome" => o)
                .increment(0);
        }
    }
}

/// Start recording, and register at zero every series the rules can produce.
pub fn init(rules: &RuleSet) {
    if handle().is_none() {
        return;
    }
    register(rules.sources.values());
    counter!("hsflow_events_total", "source" => UNKNOWN_SOURCE, "outcome" => "unknown_source")
        .absolute(0);
    for k in KINDS {
        counter!("hsflow_actions_planned_total", "kind" => k).absolute(0);
        for r in SINK_RESULTS {
            counter!("hsflow_sink_results_total", "kind" => k, "result" => r).absolute(0);
        }
    }
    for r in ["ok", "failed"] {
        counter!("hsflow_store_rounds_total", "result" => r).absolute(0);
    }
    counter!("hsflow_store_round_writes_total").absolute(0);
    for r in ["ok", "refused"] {
        counter!("hsflow_reloads_total", "result" => r).absolute(0);
    }
}

/// Register the series of sources that a reload added (counters keep counting).
pub fn register_sources(rules: &RuleSet) {
    register(rules.sources.values());
}

/// A request reached a source: outcome is accepted, duplicate, unauthorized,
/// forbidden, invalid, not_configured, ping, verification or store_error
/// (unknown_source under [`UNKNOWN_SOURCE`]).
pub fn record_event(source: &str, outcome: &'static str) {
    counter!("hsflow_events_total", "source" => source.to_string(), "outcome" => outcome)
        .increment(1);
}

pub fn record_actions_planned(kind: &'static str, n: usize) {
    counter!("hsflow_actions_planned_total", "kind" => kind).increment(n as u64);
}

/// A sink finished a job.
/// The results an attempt is counted under: `SINK_RESULTS[0]` done (or an
/// email suppressed, the list doing its job), `[1]` failed, `[2]` waiting
/// (its turn has not come: no failure, and no attempt used up).
pub const SINK_RESULTS: [&str; 3] = ["ok", "error", "waiting"];

pub fn record_sink(kind: &str, took: Duration, result: &'static str) {
    let kind = kind.to_string();
    histogram!("hsflow_sink_duration_seconds", "kind" => kind.clone()).record(took.as_secs_f64());
    counter!("hsflow_sink_results_total", "kind" => kind, "result" => result).increment(1);
}

/// The store's writer committed (or failed) a round of `writes` writes.
pub fn record_store_round(writes: usize, took: Duration, ok: bool) {
    counter!("hsflow_store_rounds_total", "result" => if ok { "ok" } else { "failed" })
        .increment(1);
    counter!("hsflow_store_round_writes_total").increment(writes as u64);
    histogram!("hsflow_store_round_duration_seconds").record(took.as_secs_f64());
}

pub fn record_reload(ok: bool) {
    counter!("hsflow_reloads_total", "result" => if ok { "ok" } else { "refused" }).increment(1);
}

/// An HTTP request was answered. `route` is the route's pattern
/// (`/webhooks/{source}`), never the path itself.
pub fn record_request(route: &str, status: u16, took: Duration) {
    let route = route.to_string();
    histogram!("hsflow_http_request_duration_seconds", "route" => route.clone())
        .record(took.as_secs_f64());
    counter!("hsflow_http_requests_total", "route" => route, "status" => status.to_string())
        .increment(1);
}

/// A gauge family read when scraped: its HELP, TYPE and samples.
pub struct Gauge<'a> {
    pub name: &'a str,
    pub help: &'a str,
    /// `gauge`, or `counter` for a total read from elsewhere (CPU seconds).
    pub kind: &'static str,
    /// (labels as `key="value",...` or empty, value)
    pub samples: Vec<(String, f64)>,
}

/// The exposition text: the recorded metrics, then `gauges`, then the process's own.
pub fn render(gauges: &[Gauge<'_>]) -> String {
    let mut out = handle().map(PrometheusHandle::render).unwrap_or_default();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for g in gauges.iter().chain(process::gauges().iter()) {
        let _ = writeln!(out, "# HELP {} {}", g.name, g.help);
        let _ = writeln!(out, "# TYPE {} {}", g.name, g.kind);
        for (labels, v) in &g.samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{} {v}", g.name);
            } else {
                let _ = writeln!(out, "{}{{{labels}}} {v}", g.name);
            }
        }
    }
    out
}

/// A label value as the text format needs it.
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The process's memory, CPU, descriptors and start, from /proc (Linux;
/// elsewhere nothing is reported), under the names Prometheus clients use.
mod process {
    use super::Gauge;

    fn stat_fields() -> Option<Vec<String>> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name, in parentheses, may hold spaces: split after it.
        let rest = stat.rsplit_once(')')?.1;
        Some(rest.split_whitespace().map(str::to_string).collect())
    }

    pub fn gauges() -> Vec<Gauge<'static>> {
        let mut out = Vec::new();
        // Clock ticks per second and page size: 100 and 4096 on Linux x86_64 and aarch64.
        const TICKS: f64 = 100.0;
        const PAGE: f64 = 4096.0;
        if let Some(f) = stat_fields() {
            // After the name: state(0) ... utime(11) stime(12) ... starttime(19) ... rss(21).
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
            if let (Some(u), Some(s)) = (num(11), num(12)) {
                out.push(Gauge {
                    name: "process_cpu_seconds_total",
                    kind: "counter",
                    help: "CPU time the process has used, user and system, in seconds.",
                    samples: vec![(String::new(), (u + s) / TICKS)],
                });
            }
            if let Some(rss) = num(21) {
                out.push(Gauge {
                    name: "process_resident_memory_bytes",
                    kind: "gauge",
                    help: "Resident memory of the process, in bytes.",
                    samples: vec![(String::new(), rss * PAGE)],
                });
            }
            let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("btime "))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            });
            if let (Some(start), Some(boot)) = (num(19), boot) {
                out.push(Gauge {
                    name: "process_start_time_seconds",
                    kind: "gauge",
                    help: "When the process started, in seconds since the epoch.",
                    samples: vec![(String::new(), boot + start / TICKS)],
                });
            }
        }
        if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
            out.push(Gauge {
                name: "process_open_fds",
                kind: "gauge",
                help: "File descriptors the process has open.",
                samples: vec![(String::new(), d.count() as f64)],
            });
        }
        out
    }
}
