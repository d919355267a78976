//! `hsflow serve`: webhooks in, actions out, on the embedded defaults unless told otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use super::RuleDirs;
use crate::server::{serve, Settings};
use crate::store::Durability;

/// Shown after `hsflow serve --help`: what the environment sets besides the flags.
pub const ENVIRONMENT: &str = "\
Also read from the environment (`hsflow check` says what is missing):

Access and logs
  HSFLOW_ADMIN_TOKEN        bearer token of the admin API (/api/..., and the older paths
                            /workflows/... and /contact-workflows/...); signs in to the console;
                            unset: every admin request is refused
  HSFLOW_VIEWER_TOKEN       signs in to the console (/ui/) to look, not change
  HSFLOW_LOG_FORMAT         text (default) or json: one record per line on stderr
  RUST_LOG                  log level, e.g. info (default) or info,hsflow=debug

Each source's secret       the variable its rules/sources/<name>.toml names in `secret_env`;
                            the shipped pack: TYPEFORM_SECRET, WOOCOMMERCE_WEBHOOK_SECRET,
                            AMELIA_WEBHOOK_TOKEN, ACUITY_API_KEY, BEEHIIV_WEBHOOK_TOKEN,
                            CIRCLE_WEBHOOK_TOKEN, SNOVIO_PUSH_TOKEN, USERFEEDBACK_WEBHOOK_TOKEN,
                            NOTION_WEBHOOK_SECRET, HSFLOW_MANUAL_TOKEN, HSFLOW_CONTENT_TOKEN;
                            a source whose secret is unset answers 503
Each Notion database's id  the variable rules/databases.toml names in `env`

Sinks (unset: everything is written locally under --data)
  HSFLOW_NOTION             api or local (api when NOTION_API_TOKEN is set)
  NOTION_API_TOKEN          the Notion integration's token
  HSFLOW_NOTION_VERSION     Notion-Version (2022-06-28; 2025-09-03 or later: data sources)
  HSFLOW_NOTION_RATE        Notion requests per second, all workers together (3)
  HSFLOW_NOTION_URL         Notion's base URL (for a simulator)
  HSFLOW_EMAIL              smtp or local (smtp when HSFLOW_SMTP_HOST is set)
  HSFLOW_SMTP_HOST, HSFLOW_SMTP_PORT, HSFLOW_SMTP_TLS (starttls, tls, none),
  HSFLOW_SMTP_USER, HSFLOW_SMTP_PASSWORD, HSFLOW_SMTP_FROM
  HSFLOW_NOTIFY             slack, webhook or local
  HSFLOW_SLACK_WEBHOOK_URL  Slack incoming webhook; HSFLOW_SLACK_WEBHOOK_URL_<CHANNEL> per channel
  HSFLOW_NOTIFY_WEBHOOK_URL a JSON endpoint for notifications
  HSFLOW_WEBHOOKS           send: send `webhook` actions (default: record them)
  HSFLOW_BEEHIIV, BEEHIIV_API_KEY, BEEHIIV_PUBLICATION_ID, HSFLOW_BEEHIIV_URL
  HSFLOW_HUBSPOT, HUBSPOT_ACCESS_TOKEN, HSFLOW_HUBSPOT_URL
  HSFLOW_HTTP_TIMEOUT_SECS  timeout of every outgoing request and SMTP command (30)
";

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
    #[arg(long, env = "HSFLOW_WORKERS", default_value_t = 64)]
    pub workers: usize,
    /// How long a running action is this server's before it counts as
    /// interrupted and may run elsewhere; one attempt gets four fifths of it.
    #[arg(long, env = "HSFLOW_LEASE", default_value = "5m", value_parser = parse_duration)]
    pub lease: std::time::Duration,
    /// The longest wait a service's Retry-After can ask for; longer is read as this.
    #[arg(long, env = "HSFLOW_RETRY_AFTER_MAX", default_value = "1h", value_parser = parse_duration)]
    pub retry_after_max: std::time::Duration,
    /// How long after it was due an action is still tried; a retry that
    /// would come later parks it (dead, with the reason).
    #[arg(long, env = "HSFLOW_GIVE_UP_AFTER", default_value = "48h", value_parser = parse_duration)]
    pub give_up_after: std::time::Duration,
    /// A request's headers must arrive within this, and a kept-alive
    /// connection may sit idle this long between requests.
    #[arg(long, env = "HSFLOW_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: std::time::Duration,
    /// A request's body must arrive within this.
    #[arg(long, env = "HSFLOW_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub body_timeout: std::time::Duration,
    /// Connections served at once; more wait until one closes.
    #[arg(long, env = "HSFLOW_MAX_CONNECTIONS", default_value_t = 512)]
    pub max_connections: usize,
    /// Keep finished events, actions and workflow history this long (e.g.
    /// 90d), then remove them; unset keeps everything. Pending actions are
    /// never removed. `hsflow export` writes them out first.
    #[arg(long, env = "HSFLOW_RETAIN", value_parser = parse_duration)]
    pub retain: Option<std::time::Duration>,
    /// On SIGTERM or Ctrl-C, how long requests and actions in flight are given to finish.
    #[arg(long, env = "HSFLOW_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: std::time::Duration,
}

pub fn run(args: Args) -> ExitCode {
    let runtime = match super::runtime(super::Threads::Many) {
        Ok(r) => r,
        Err(code) => return code,
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
            lease: args.lease.max(std::time::Duration::from_secs(1)),
            retry_after_max: args.retry_after_max,
            give_up_after: args.give_up_after,
            ..Default::default()
        },
        retain: args.retain,
        edge: crate::server::listen::Limits {
            header_timeout: args.header_timeout.max(std::time::Duration::from_secs(1)),
            body_timeout: args.body_timeout.max(std::time::Duration::from_secs(1)),
            max_connections: args.max_connections.max(1),
            shutdown_grace: args.shutdown_grace,
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
