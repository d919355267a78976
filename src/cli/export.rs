//! `hsflow export`: events with their actions as JSON lines, one event per
//! line (the same shape as GET /api/events/{id}), for an archive before a
//! retention removes them, or for analysis elsewhere.
//!
//! It reads the store the server uses (SQLite under --data, or PostgreSQL)
//! and may run while the server serves: SQLite's WAL lets readers in.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::store::{Durability, Store};

#[derive(clap::Args)]
pub struct Args {
    /// Where the server keeps its data (SQLite: DIR/hsflow.db).
    #[arg(long, env = "HSFLOW_DATA", default_value = "data")]
    pub data: PathBuf,
    /// The PostgreSQL store, when the server uses one.
    #[arg(long, env = "HSFLOW_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Events received from then on: a time (2026-09-01T00:00:00Z) or how long ago (90d).
    #[arg(long, value_parser = parse_when)]
    pub since: Option<DateTime<Utc>>,
    /// Events received before then: a time or how long ago (e.g. 90d, what a retention of 90d removes next).
    #[arg(long, value_parser = parse_when)]
    pub until: Option<DateTime<Utc>>,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// A time as RFC 3339, or a duration meaning that long ago.
fn parse_when(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    match crate::rules::model::Duration::parse(s) {
        Ok(d) => Ok(Utc::now() - chrono::Duration::seconds(d.secs() as i64)),
        Err(_) => Err(format!(
            "`{s}` is neither a time like 2026-09-01T00:00:00Z nor a duration like 90d"
        )),
    }
}

pub fn run(args: &Args) -> ExitCode {
    let runtime = match super::runtime(super::Threads::One) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(export(args)) {
        Ok(n) => {
            eprintln!("hsflow: exported {n} events");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hsflow: {e}");
            ExitCode::from(2)
        }
    }
}

async fn export(args: &Args) -> Result<u64, String> {
    let store = match args
        .database_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        Some(url) => Store::connect(url).await.map_err(|e| {
            format!(
                "can't open the PostgreSQL store at {}: {e}",
                crate::server::redact(url)
            )
        })?,
        None => {
            let db = args.data.join("hsflow.db");
            if !db.is_file() {
                return Err(format!(
                    "there is no store at {}; pass --data DIR (where `hsflow serve` keeps it) or --database-url",
                    db.display()
                ));
            }
            Store::open(&args.data, Durability::Normal)
                .await
                .map_err(|e| e.to_string())?
        }
    };
    let since = args.since.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let until = args.until.unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("can't write {}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut after = None;
    let mut n = 0u64;
    // The rule-set versions the events were planned with, built once each.
    let versions = crate::server::rules::RuleVersions::default();
    loop {
        let page = store
            .event_ids_between(since, until, after.clone(), 500)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        for (_, id) in &page {
            let mut event = store.event(id).await.map_err(|e| e.to_string())?;
            // The trace whole, as GET /api/events/{id} shows it.
            if let Some(v) = crate::server::trace_later::version_needed(&event) {
                let rs = versions.get(&store, &v, None).await;
                crate::server::trace_later::fill(&store, &mut event, rs).await;
            }
            match writeln!(out, "{event}") {
                Ok(()) => n += 1,
                // The reader stopped reading (`| head`): a quiet end, as for any tool.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(n),
                Err(e) => return Err(format!("can't write the export: {e}")),
            }
        }
        after = Some(last);
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("can't write the export: {e}"))
        }
        _ => Ok(n),
    }
}
