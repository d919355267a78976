//! The shipped rule pack, end to end: the real workload (a Typeform lead
//! plans 10 to 15 actions: emails, tasks, Notion upserts, a workflow
//! instance, notifications, about 6 of them due at once), measured against
//! the same server's HTTP ceiling in one run.
//!
//! Run: `cargo bench --bench shipped`. It starts the release `hsflow serve`
//! on rules/ and templates/ (local sinks, a fresh data directory each phase)
//! and reports:
//! 1. the HTTP ceiling: `GET /health/live` (a route that does nothing) at
//!    HSFLOW_BENCH_CONNS connections (64);
//! 2. intake: distinct, signed Typeform leads of mixed contact types and lead
//!    sources as fast as answers come back, at the same connections:
//!    accepted/s (and as a ratio of the ceiling), p50 and p99;
//! 3. for each rate of HSFLOW_BENCH_RATES (leads/s, "500,1000,2000"), a
//!    fresh server and an open-loop stream at that rate (requests leave on
//!    schedule, whether or not earlier ones were answered; latency counts
//!    from the scheduled moment, so a stall is not hidden): p50, p99, and
//!    the queue of due work sampled every second (`GET /health`): the rate
//!    is sustained when that queue doesn't grow;
//! 4. the dispatcher alone: phase 2's server left to drain its due queue
//!    for a phase's length with no intake (due actions carried out/s);
//! 5. stored bytes per lead after phase 2 (SQLite: the database files,
//!    checkpointed, over the events stored), and each table's share
//!    (shipped/stored.rs).
//!
//! HSFLOW_DATABASE_URL=postgres://… (a database of its own: each phase
//! empties it) measures PostgreSQL instead of SQLite.
//! HSFLOW_BENCH_SERVERS (1; PostgreSQL only) runs each rate on that many
//! servers sharing the database, requests taking turns among them.
//! HSFLOW_BENCH_SECONDS (10) sets each phase's length. The load generator
//! shares the machine's cores with hsflow: compare ratios within one run.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "shipped/stored.rs"]
mod stored;
#[path = "support/mod.rs"]
mod support;

#[path = "../tests/support/shipped.rs"]
mod shipped;

use shipped::{CONTACT_TYPES as TYPES, LEAD_SOURCES as SOURCES};

const SECRET: &str = "bench-secret";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh server: a new data directory, and with PostgreSQL an emptied database.
async fn fresh(data: &Path) -> (Child, String) {
    if let Some(url) = postgres() {
        reset_postgres(&url).await;
    }
    start(data)
}

fn start(data: &Path) -> (Child, String) {
    let (child, base, _) = support::serve(
        &root().join("rules"),
        &root().join("templates"),
        data,
        &[("TYPEFORM_SECRET", SECRET), ("HSFLOW_ADMIN_TOKEN", "bench")],
        &[],
    );
    (child, base)
}

fn stop(mut child: Child) {
    // SIGTERM: a graceful stop, so the database files are whole when measured.
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

/// Lead `n` of this run: the shipped example with its own id and address,
/// one of six contact types and three lead sources, and its signature.
fn lead(example: &Value, run: &str, n: u64) -> (String, String) {
    let mut b = example.clone();
    b["event_id"] = format!("{run}-{n}").into();
    let a = &mut b["form_response"]["answers"];
    a[0]["email"] = format!("user{n}.{run}@example.org").into();
    a[3]["choices"]["labels"] = serde_json::json!([TYPES[n as usize % TYPES.len()]]);
    a[4]["choice"]["label"] = SOURCES[n as usize % SOURCES.len()].into();
    let body = b.to_string();
    let sig = hsflow::sources::auth::sign(
        hsflow::rules::model::SignatureEncoding::Base64,
        Some("sha256="),
        SECRET,
        body.as_bytes(),
    );
    (body, sig)
}

/// A pool of prepared leads, so signing is not part of what is measured.
struct Leads {
    all: Vec<(String, String)>,
    next: AtomicU64,
}

impl Leads {
    fn new(count: u64) -> Arc<Leads> {
        let text = std::fs::read_to_string(root().join("examples/typeform_artist.json"))
            .unwrap_or_else(|e| panic!("the example lead: {e}"));
        let example: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("the example lead: {e}"));
        let run = format!("{:08x}", rand::random::<u32>());
        Arc::new(Leads {
            all: (0..count).map(|n| lead(&example, &run, n)).collect(),
            next: AtomicU64::new(0),
        })
    }

    /// The next lead (none when the pool is used up: a duplicate would measure less work).
    fn take(&self) -> Option<&(String, String)> {
        self.all
            .get(self.next.fetch_add(1, Ordering::Relaxed) as usize)
    }
}

async fn post(client: &reqwest::Client, base: &str, lead: &(String, String)) -> bool {
    let r = client
        .post(format!("{base}/webhooks/typeform"))
        .header("content-type", "application/json")
        .header("typeform-signature", &lead.1)
        .body(lead.0.clone())
        .send()
        .await;
    matches!(&r, Ok(resp) if resp.status().as_u16() == 202)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

/// `conns` clients, each sending as soon as its last answer came: requests
/// answered 2xx per second, and the latencies (µs, sorted).
async fn closed_loop<F, Fut>(conns: u64, secs: u64, one: F) -> (f64, Vec<u64>)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let ok = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (one, ok) = (one.clone(), ok.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                if one().await {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(t.elapsed().as_micros() as u64);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap_or_default());
    }
    lat.sort_unstable();
    (ok.load(Ordering::Relaxed) as f64 / secs as f64, lat)
}

/// The queue of due work and how long the oldest has waited (s), from
/// `GET /health`; `None` when it didn't answer with them.
async fn health_queue(client: &reqwest::Client, base: &str) -> Option<(u64, u64)> {
    let r = client.get(format!("{base}/health")).send().await.ok()?;
    let v: Value = r.json().await.ok()?;
    Some((
        v["queue"]["due"].as_u64()?,
        v["queue"]["oldest_due_seconds"].as_f64().unwrap_or(0.0) as u64,
    ))
}

/// [`health_queue`], read as an empty queue when the server didn't answer.
async fn queue(client: &reqwest::Client, base: &str) -> (u64, u64) {
    health_queue(client, base).await.unwrap_or((0, 0))
}

/// An open-loop stream of `rate` leads/s for `secs`: latencies counted from
/// each request's scheduled moment, and the due queue sampled each second.
async fn open_loop(bases: &[String], pids: &[u32], leads: &Arc<Leads>, rate: u64, secs: u64) {
    let client = reqwest::Client::new();
    let cpu = || pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>();
    let cpu_before = cpu();
    // The due queue is the store's: any server reports it.
    let base = bases[0].as_str();
    let start = Instant::now();
    let total = rate * secs;
    let mut sent = Vec::with_capacity(total as usize);
    let mut samples = Vec::new();
    let sampler = {
        let (client, base) = (client.clone(), base.to_string());
        tokio::spawn(async move {
            let mut out = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            for _ in 0..=secs {
                tick.tick().await;
                out.push(queue(&client, &base).await);
            }
            out
        })
    };
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let Some(lead) = leads.take().cloned() else {
            break;
        };
        // Requests take turns among the servers, as a load balancer would.
        let (client, base) = (client.clone(), bases[i as usize % bases.len()].clone());
        sent.push(tokio::spawn(async move {
            let ok = post(&client, &base, &lead).await;
            (ok, due.elapsed().as_micros() as u64)
        }));
    }
    let mut lat = Vec::new();
    let mut ok = 0u64;
    for t in sent {
        if let Ok((good, us)) = t.await {
            ok += u64::from(good);
            lat.push(us);
        }
    }
    if let Ok(s) = sampler.await {
        samples = s;
    }
    let cpu_used = cpu() - cpu_before;
    let mut done = 0.0;
    for b in bases {
        done += actions_done(b).await;
    }
    lat.sort_unstable();
    let dues: Vec<String> = samples.iter().map(|(d, _)| d.to_string()).collect();
    let mut rounds = Vec::new();
    for b in bases {
        rounds.push(writer_rounds(b).await);
    }
    let rounds = rounds.join("; ");
    let servers = match bases.len() {
        1 => String::new(),
        n => format!(" over {n} servers on one database"),
    };
    let (last_due, oldest) = samples.last().copied().unwrap_or((0, 0));
    let first_half_max = samples
        .iter()
        .take(samples.len() / 2)
        .map(|(d, _)| *d)
        .max()
        .unwrap_or(0);
    let verdict = if ok < lat.len() as u64 {
        "REFUSED SOME (see the server's log)"
    } else if last_due <= first_half_max.max(rate) {
        "keeps up"
    } else {
        "FALLS BEHIND (the due queue grows)"
    };
    println!(
        "open loop {rate} leads/s{servers} for {secs} s: {ok} of {} accepted, p50 {:.2} ms, p99 {:.2} ms; due queue each second: [{}]; oldest due at the end {oldest} s: {verdict}; {rounds}; {done:.0} actions carried out; server CPU {:.2} cores = {:.0} µs a lead",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        dues.join(", "),
        cpu_used / secs as f64,
        cpu_used * 1e6 / ok.max(1) as f64
    );
}

/// A server's `/metrics` text (empty if it didn't answer).
async fn metrics(base: &str) -> String {
    match reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth("bench")
        .send()
        .await
    {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The sum of the samples whose line starts with `prefix`.
fn metric_sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Actions carried out so far (every kind), from `/metrics`.
async fn actions_done(base: &str) -> f64 {
    metrics(base)
        .await
        .lines()
        .filter(|l| l.starts_with("hsflow_sink_results_total{") && l.contains("result=\"ok\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// CPU seconds (user and system) the process `pid` has used so far, from
/// /proc (Linux; 0 elsewhere). What one lead or one action costs in CPU
/// holds still on a shared machine where rates swing by a third.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The fields after the command name (which may hold spaces) in parentheses.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100/s on Linux).
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Context switches the threads of process `pid` have made so far, from
/// /proc (Linux; 0 elsewhere). Each hop between threads (a statement handed
/// to SQLite's connection thread and its answer) costs one or two, so their
/// count per action measures those hops without the machine's noise.
fn context_switches(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// The store writer's rounds so far, from `/metrics`: how many, their mean
/// size and mean time (the single writer is where intake and the dispatcher meet).
async fn writer_rounds(base: &str) -> String {
    let text = metrics(base).await;
    let sum = |prefix: &str| metric_sum(&text, prefix);
    let rounds = sum("hsflow_store_rounds_total");
    let writes = sum("hsflow_store_round_writes_total");
    let secs = sum("hsflow_store_round_duration_seconds_sum");
    format!(
        "writer: {rounds:.0} rounds, {:.1} writes and {:.2} ms each",
        writes / rounds.max(1.0),
        secs * 1000.0 / rounds.max(1.0)
    )
}

/// The PostgreSQL database the server uses, if HSFLOW_DATABASE_URL names one.
fn postgres() -> Option<String> {
    std::env::var("HSFLOW_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

/// Empty every table of the PostgreSQL database but the kept rule versions,
/// so each phase starts from nothing as a fresh SQLite directory does.
async fn reset_postgres(url: &str) {
    let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
    else {
        return;
    };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
         AND tablename NOT IN ('schema_migrations', 'rule_blobs', 'rule_versions', 'rule_deploys', 'settings')",
    )
    .fetch_all(&pool)
    .await
    .unwrap_or_default();
    if !tables.is_empty() {
        let sql = format!("TRUNCATE {} CASCADE", tables.join(", "));
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await {
            println!("could not empty the database: {e}");
        }
    }
    pool.close().await;
}

async fn events_stored(base: &str) -> u64 {
    let r = reqwest::Client::new()
        .get(format!("{base}/contact-workflows/status"))
        .bearer_auth("bench")
        .send()
        .await;
    match r {
        Ok(r) => r.json::<Value>().await.unwrap_or_default()["events"]["typeform"]
            .as_u64()
            .unwrap_or(0),
        Err(_) => 0,
    }
}

#[tokio::main]
async fn main() {
    let secs: u64 = env_or("HSFLOW_BENCH_SECONDS", 10);
    let conns: u64 = env_or("HSFLOW_BENCH_CONNS", 64);
    let rates: Vec<u64> = std::env::var("HSFLOW_BENCH_RATES")
        .unwrap_or_else(|_| "500,1000,2000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    println!(
        "the shipped pack (rules/, templates/, local sinks, {}), {} workers",
        if postgres().is_some() {
            "PostgreSQL"
        } else {
            "SQLite, durability normal"
        },
        std::env::var("HSFLOW_WORKERS").unwrap_or_else(|_| "default".into())
    );

    // 1 and 2: the ceiling and intake, on one server (HSFLOW_BENCH_SKIP_INTAKE=1 skips them, to profile a rate).
    if std::env::var("HSFLOW_BENCH_SKIP_INTAKE").is_err() {
        intake_phase(secs, conns).await;
    }

    // 3: sustained rates, each on a fresh server; with PostgreSQL and
    // HSFLOW_BENCH_SERVERS=N, on N servers sharing the one database.
    let servers: usize = if postgres().is_some() {
        env_or("HSFLOW_BENCH_SERVERS", 1).max(1)
    } else {
        1
    };
    for rate in rates {
        let dirs: Vec<tempfile::TempDir> = (0..servers)
            .map(|_| tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")))
            .collect();
        let (first, base) = fresh(dirs[0].path()).await;
        let mut children = vec![first];
        let mut bases = vec![base];
        for d in &dirs[1..] {
            let (child, base) = start(d.path());
            children.push(child);
            bases.push(base);
        }
        let leads = Leads::new(rate * secs + 1);
        let pids: Vec<u32> = children.iter().map(Child::id).collect();
        open_loop(&bases, &pids, &leads, rate, secs).await;
        for child in children {
            stop(child);
        }
    }
}

/// The HTTP ceiling, then intake at `conns` connections, then the bytes stored.
async fn intake_phase(secs: u64, conns: u64) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (child, base) = fresh(dir.path()).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conns as usize)
        .build()
        .unwrap_or_default();
    let (c, b) = (client.clone(), base.clone());
    let (ceiling, _) = closed_loop(conns, secs, move || {
        let (c, b) = (c.clone(), b.clone());
        async move {
            matches!(c.get(format!("{b}/health/live")).send().await, Ok(r) if r.status().is_success())
        }
    })
    .await;
    println!("HTTP ceiling (GET /health/live, {conns} connections): {ceiling:.0} req/s");

    let leads = Leads::new(secs * 15_000);
    let (c, b, l) = (client.clone(), base.clone(), leads.clone());
    let before = queue(&client, &base).await;
    let (intake, lat) = closed_loop(conns, secs, move || {
        let (c, b, l) = (c.clone(), b.clone(), l.clone());
        async move {
            match l.take() {
                Some(lead) => post(&c, &b, lead).await,
                None => false,
            }
        }
    })
    .await;
    let after = queue(&client, &base).await;
    println!(
        "intake ({conns} connections): {intake:.0} accepted leads/s = {:.3} of the ceiling, p50 {:.2} ms, p99 {:.2} ms; due queue {} before, {} after",
        intake / ceiling.max(1.0),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        before.0,
        after.0
    );
    // The dispatcher alone: no more leads, the queue of due work drains.
    // A sample /health could not give is left out, not read as an empty queue.
    let mut dues = vec![after.0];
    let (cpu_before, done_before) = (cpu_seconds(child.id()), actions_done(&base).await);
    let switches_before = context_switches(child.id());
    for _ in 0..secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some((due, _)) = health_queue(&client, &base).await {
            dues.push(due);
        }
    }
    let done = actions_done(&base).await - done_before;
    let cpu = cpu_seconds(child.id()) - cpu_before;
    let switches = context_switches(child.id()) - switches_before;
    println!(
        "dispatcher alone (no intake) for {secs} s: due queue each second {dues:?}; {:.0} actions carried out/s, {:.0} µs of the server's CPU and {:.1} context switches each",
        done / secs as f64,
        cpu * 1e6 / done.max(1.0),
        switches / done.max(1.0)
    );
    let stored = events_stored(&base).await;
    stop(child);
    match postgres() {
        Some(url) => println!(
            "stored (PostgreSQL tables with indexes): {}",
            stored::postgres(&url, stored).await
        ),
        None => println!("stored: {}", stored::sqlite(dir.path(), stored).await),
    }
}
