//! `hsflow serve`: webhooks in, actions out, on the embedded defaults unless told otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use super::RuleDirs;
use crate::server::{serve, Settings};
use crate::store::Durability;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dirs: RuleDirs,
    /// Where the database, the email outbox and notifications go.
    #[arg(long, env = "HSFLOW_DATA", default_value = "data")]
    pub data: PathBuf,
    /// The address to listen on (port 0 picks a free one).
    #[arg(long, env = "HSFLOW_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// The store: unset (the default) keeps it in SQLite under --data;
    /// postgres://user@host/database puts it in PostgreSQL, where several
    /// servers may share it.
    #[arg(long, env = "HSFLOW_DATABASE_URL")]
    pub database_url: Option<String>,
    /// SQLite only. normal: a commit survives a crash of hsflow; full: also a power cut (one fsync per commit).
    #[arg(long, env = "HSFLOW_DURABILITY", default_value = "normal")]
    pub durability: Durability,
    /// Largest request body accepted, in bytes (larger is 413).
    #[arg(long, env = "HSFLOW_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Attempts before a failing action is parked as dead.
    #[arg(long, env = "HSFLOW_MAX_ATTEMPTS", default_value_t = 8)]
    pub max_attempts: i64,
    /// The first retry's delay; each further attempt doubles it (with jitter).
    #[arg(long, env = "HSFLOW_RETRY_BASE", default_value = "10s", value_parser = parse_duration)]
    pub retry_base: std::time::Duration,
    /// Notion databases (keys, comma-separated) polled for staff edits; needs the Notion API.
    #[arg(long, env = "HSFLOW_NOTION_POLL", value_delimiter = ',')]
    pub notion_poll: Vec<String>,
    /// How often the Notion databases are polled.
    #[arg(long, env = "HSFLOW_NOTION_POLL_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub notion_poll_interval: std::time::Duration,
    /// How often the scheduler looks for due schedules (rules/schedules.toml).
    #[arg(long, env = "HSFLOW_SCHEDULER_TICK", default_value = "30s", value_parser = parse_duration)]
    pub scheduler_tick: std::time::Duration,
    /// Actions carried out at once.
    #[arg(long, env = "HSFLOW_WORKERS", default_value_t = 8)]
    pub workers: usize,
}

pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hsflow: can't start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let sinks = match crate::sinks::config::SinkSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hsflow: the sink configuration is wrong: {e}");
            return ExitCode::from(2);
        }
    };
    let settings = Settings {
        rules_dir: args.dirs.rules,
        templates_dir: args.dirs.templates,
        data_dir: args.data,
        listen: args.listen,
        durability: args.durability,
        database_url: args.database_url.filter(|u| !u.trim().is_empty()),
        body_limit: args.body_limit,
        dispatch: crate::dispatch::Config {
            concurrency: args.workers.max(1),
            max_attempts: args.max_attempts.max(1),
            backoff_base: args.retry_base,
            ..Default::default()
        },
        sinks,
        notion_poll: args
            .notion_poll
            .iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect(),
        notion_poll_interval: args.notion_poll_interval,
        scheduler_tick: args.scheduler_tick.max(std::time::Duration::from_secs(1)),
    };
    match runtime.block_on(serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hsflow: {e}");
            ExitCode::from(1)
        }
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::rules::model::Duration::parse(s).map(|d| std::time::Duration::from_secs(d.secs()))
}
