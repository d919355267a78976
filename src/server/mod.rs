//! `hsflow serve`: the HTTP edge (axum), the dispatcher, and their shared state.

pub mod access;
pub mod admin;
pub mod api;
pub mod errors;
pub mod housekeeping;
pub mod listen;
pub mod metrics;
pub mod notion_poll;
pub mod raised;
pub mod reload;
pub mod rules;
pub mod scheduler;
pub mod trace_later;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::{watch, Notify};

use crate::dispatch::{self, Dispatcher};
use crate::sinks::config::SinkSettings;
use crate::sinks::local::LocalSinks;
use crate::sinks::Sinks;
use crate::store::{Durability, Store};
use rules::SharedRules;

/// Everything a request handler needs.
pub struct App {
    pub rules: SharedRules,
    pub store: Store,
    /// Wakes the dispatcher when work is due now.
    pub wake: Arc<Notify>,
    /// `HSFLOW_ADMIN_TOKEN`; admin routes are refused without it.
    pub admin_token: Option<String>,
    /// `HSFLOW_VIEWER_TOKEN`: signs in to the console to look, not change.
    pub viewer_token: Option<String>,
    /// The console's signed-in browsers.
    pub sessions: crate::console::session::Sessions,
    pub rules_dir: PathBuf,
    pub templates_dir: PathBuf,
    pub data_dir: PathBuf,
    /// Reloads (and writes) the rules one at a time; keeps the version history.
    pub reloader: reload::Reloader,
    /// The sinks the dispatcher uses, for the studio's test sends (set once
    /// they are made, just after the App).
    pub sinks: std::sync::OnceLock<Arc<Sinks>>,
    /// For `[[enrich]]` requests to senders' APIs (a connection pool, kept).
    pub http: reqwest::Client,
}

impl App {
    /// Add to the audit log; a failure to record is logged, the change stands.
    pub async fn audit(&self, who: &str, what: &str, subject: &str, detail: &str) {
        if let Err(e) = self.store.audit(who, what, subject, detail).await {
            tracing::warn!(
                "{who} did {what} on {subject}, but the audit log could not record it: {e}"
            );
        }
    }
}

/// How to run the server.
pub struct Settings {
    pub rules_dir: PathBuf,
    pub templates_dir: PathBuf,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub durability: Durability,
    /// PostgreSQL instead of SQLite, when set.
    pub database_url: Option<String>,
    pub body_limit: usize,
    pub dispatch: dispatch::Config,
    /// Which sinks are real (from the environment; local by default).
    pub sinks: SinkSettings,
    /// Notion databases (keys) polled for staff edits, and how often.
    pub notion_poll: Vec<String>,
    pub notion_poll_interval: std::time::Duration,
    /// How often the scheduler looks for schedules due.
    pub scheduler_tick: std::time::Duration,
    /// Timeouts and the connection limit of the HTTP edge.
    pub edge: listen::Limits,
    /// Finished work older than this is deleted (`None`: kept for ever).
    pub retain: Option<std::time::Duration>,
}

pub fn router(app: Arc<App>, body_limit: usize) -> Router {
    Router::new()
        .route("/webhooks/{source}", post(webhooks::receive))
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi))
        .merge(admin::routes())
        .merge(api::routes())
        .merge(crate::studio::api::routes())
        .merge(crate::console::routes())
        .merge(crate::email::pages::routes())
        .merge(crate::email::api::routes())
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app)
        // Outermost last: the id is set first, the access log runs inside it.
        .layer(axum::middleware::from_fn(access::log))
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            access::MakeId,
        ))
}

/// GET /health: the whole picture for a person or a monitor; 503 when
/// anything is wrong (the store, or a refused reload: the server still
/// serves the last good rules, but someone must look).
async fn health(State(app): State<Arc<App>>) -> Response {
    let status = app.rules.status();
    let store_ok = app.store.ping().await;
    let counts = app.store.counts().await.unwrap_or_default();
    let backlog = app
        .store
        .backlog(chrono::Utc::now())
        .await
        .unwrap_or_default();
    let ok = store_ok && status.last_error.is_none();
    let body = Json(json!({
        "status": if ok { "ok" } else { "degraded" },
        "rules": {"version": status.version, "loaded_at": status.loaded_at, "reloads": status.reloads, "failed_reloads": status.failed_reloads},
        "last_reload_error": status.last_error,
        "store_ok": store_ok,
        "queue": {"due": backlog.due, "oldest_due_seconds": backlog.oldest_due_s, "scheduled": backlog.scheduled, "running": counts.running},
        "dead": counts.dead,
    }));
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, body).into_response()
}

/// GET /health/live: the process answers (an orchestrator restarts it if not).
async fn live() -> impl IntoResponse {
    Json(json!({"status": "live"}))
}

/// GET /health/ready: it can take webhooks now (the store answers and its
/// writer runs); a refused reload doesn't make it unready.
async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.store.ping().await {
        Json(json!({"status": "ready"})).into_response()
    } else {
        errors::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store does not answer, so webhooks can't be stored; see the log",
        )
    }
}

/// The OpenAPI document of these routes (kept in sync by tests/openapi.rs).
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl IntoResponse {
    ([("content-type", "application/json")], OPENAPI)
}

async fn metrics_text(State(app): State<Arc<App>>) -> impl IntoResponse {
    use metrics::Gauge;
    let c = app.store.counts().await.unwrap_or_default();
    let b = app
        .store
        .backlog(chrono::Utc::now())
        .await
        .unwrap_or_default();
    let rules = app.rules.status();
    let statuses = [
        ("queued", c.queued),
        ("running", c.running),
        ("failed", c.failed),
        ("dead", c.dead),
        ("succeeded", c.succeeded),
        ("cancelled", c.cancelled),
        ("suppressed", c.suppressed),
    ];
    let one = |v: f64| vec![(String::new(), v)];
    let gauges = [
        Gauge {
            name: "hsflow_actions",
            help: "Actions in the store, by status.",
            kind: "gauge",
            samples: statuses
                .iter()
                .map(|(s, n)| (format!("status=\"{s}\""), *n as f64))
                .collect(),
        },
        Gauge {
            name: "hsflow_queue_due",
            help:
                "Actions whose time has come and that wait for a worker (a backlog when it grows).",
            kind: "gauge",
            samples: one(b.due as f64),
        },
        Gauge {
            name: "hsflow_queue_oldest_due_age_seconds",
            help: "How long the oldest action that is due has waited (0 when none is).",
            kind: "gauge",
            samples: one(b.oldest_due_s),
        },
        Gauge {
            name: "hsflow_queue_scheduled",
            help: "Actions scheduled for later (follow-ups, reminders): not a backlog.",
            kind: "gauge",
            samples: one(b.scheduled as f64),
        },
        Gauge {
            name: "hsflow_rules_info",
            help: "The rule set in force (its version is the hash of its files).",
            kind: "gauge",
            samples: vec![(
                format!("version=\"{}\"", metrics::label(&rules.version)),
                1.0,
            )],
        },
        Gauge {
            name: "hsflow_rules_loaded_timestamp_seconds",
            help: "When the rule set in force was loaded.",
            kind: "gauge",
            samples: one(rules.loaded_at.timestamp() as f64),
        },
        Gauge {
            name: "hsflow_build_info",
            help: "The hsflow build serving.",
            kind: "gauge",
            samples: vec![(format!("version=\"{}\"", env!("CARGO_PKG_VERSION")), 1.0)],
        },
    ];
    (
        [("content-type", "text/plain; version=0.0.4")],
        metrics::render(&gauges),
    )
}

/// Sources that can't be served because their secret is not set: said at start, never skipped silently.
pub fn unconfigured_sources(rs: &crate::rules::RuleSet) -> Vec<(String, String)> {
    rs.sources
        .values()
        .filter_map(|s| {
            let env = crate::sources::auth::secret_env(&s.auth)?;
            std::env::var(env)
                .map(|v| v.is_empty())
                .unwrap_or(true)
                .then(|| (s.name.clone(), env.to_string()))
        })
        .collect()
}

/// A database URL with its password (if any) replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Run until Ctrl-C or SIGTERM. Prints the bound address on stdout.
pub async fn serve(settings: Settings) -> Result<(), String> {
    let loaded = crate::rules::load_to_serve(&settings.rules_dir, &settings.templates_dir);
    let Some(rs) = loaded.ruleset else {
        let errors: Vec<String> = loaded.errors().map(|d| d.render_human()).collect();
        return Err(format!(
            "the rules have errors; nothing was started:\n{}",
            errors.join("\n")
        ));
    };
    for (name, env) in unconfigured_sources(&rs) {
        tracing::warn!(
            "source `{name}` is not served: set {env} to its secret (requests get 503 until then)"
        );
    }
    // The outbox, notifications and the other local files live here, whichever store is used.
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
        format!(
            "can't create the data directory {}: {e}",
            settings.data_dir.display()
        )
    })?;
    let (store, described) = match &settings.database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = Store::connect(url).await.map_err(|e| {
                format!("can't use the PostgreSQL store at {}: {e}", redact(url))
            })?;
            (store, format!("PostgreSQL at {}", redact(url)))
        }
        Some(url) => {
            return Err(format!(
                "HSFLOW_DATABASE_URL must be a postgres:// URL (got {}); leave it unset to use SQLite in {}",
                redact(url),
                settings.data_dir.display()
            ))
        }
        None => {
            let store = Store::open(&settings.data_dir, settings.durability)
                .await
                .map_err(|e| e.to_string())?;
            let file = settings.data_dir.join("hsflow.db");
            (store, format!("SQLite in {}", file.display()))
        }
    };
    tracing::info!("store: {described}");
    // Actions left running by the last stop. SQLite has one server, so all
    // of them were this server's and run again now. A PostgreSQL database
    // may be shared: another server's running actions are not ours to take,
    // so only those whose lease ran out come back (the dispatcher keeps
    // looking for them), a crashed server's after at most one lease.
    if store.backend() == crate::store::Backend::Sqlite {
        let recovered = store
            .recover_expired(chrono::Utc::now() + chrono::Duration::days(36500))
            .await
            .map_err(|e| e.to_string())?;
        if recovered > 0 {
            tracing::info!("{recovered} actions were interrupted by the last stop; they run again");
        }
    }
    metrics::init(&rs);
    let rules = SharedRules::new(rs);
    let reloader = reload::Reloader::new(
        rules.clone(),
        store.clone(),
        settings.rules_dir.clone(),
        settings.templates_dir.clone(),
    );
    reloader.record_current(reload::How::Start, None).await;
    let wake = Arc::new(Notify::new());
    let app = Arc::new(App {
        rules: rules.clone(),
        store: store.clone(),
        wake: wake.clone(),
        admin_token: std::env::var("HSFLOW_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        viewer_token: std::env::var("HSFLOW_VIEWER_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        sessions: Default::default(),
        rules_dir: settings.rules_dir.clone(),
        data_dir: settings.data_dir.clone(),
        templates_dir: settings.templates_dir.clone(),
        reloader: reloader.clone(),
        sinks: Default::default(),
        http: reqwest::Client::builder()
            .user_agent(concat!("hsflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("can't make the HTTP client for [[enrich]] requests: {e}"))?,
    });
    reload::watch(reloader.clone(), std::time::Duration::from_millis(100))?;
    reload::on_sighup(reloader);
    let mut sinks = Sinks::new(
        LocalSinks {
            data_dir: settings.data_dir.clone(),
            store: app.store.clone(),
        },
        &settings.sinks,
    )?;
    sinks.raise = Some(raised::start(app.clone()));
    for line in settings.sinks.describe() {
        tracing::info!("sink {line}");
    }
    if settings.sinks.notion.is_some() {
        for db in app.rules.current().databases.values() {
            if std::env::var(&db.env)
                .map(|v| v.trim().is_empty())
                .unwrap_or(true)
                && !db.optional
            {
                tracing::warn!("Notion database \"{}\" has no id: set {} (its actions will be parked until then)", db.name, db.env);
            }
        }
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let scheduler = scheduler::Scheduler {
        app: app.clone(),
        notion: sinks.notion.as_ref().map(|n| n.client.clone()),
        tick: settings.scheduler_tick,
    };
    tokio::spawn(scheduler.run(stop_rx.clone()));
    if !settings.notion_poll.is_empty() {
        let Some(notion) = &sinks.notion else {
            return Err("HSFLOW_NOTION_POLL watches Notion databases, which needs the Notion API: set NOTION_API_TOKEN".into());
        };
        for key in &settings.notion_poll {
            if !app.rules.current().databases.contains_key(key) {
                return Err(format!(
                    "HSFLOW_NOTION_POLL names `{key}`, which rules/databases.toml doesn't have"
                ));
            }
        }
        let poller = notion_poll::Poller {
            app: app.clone(),
            client: notion.client.clone(),
            databases: settings.notion_poll.clone(),
            interval: settings.notion_poll_interval,
        };
        tokio::spawn(poller.run(stop_rx.clone()));
    }
    if let Some(r) = settings.retain {
        tracing::info!(
            "retention: finished work is kept {} days, then removed (export it first with `hsflow export`)",
            r.as_secs() / 86400
        );
    }
    tokio::spawn(housekeeping::run(
        app.store.clone(),
        settings.retain,
        stop_rx.clone(),
    ));
    // Bound before the sinks start: links in emails name this server's address.
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("can't listen on {}: {e}", settings.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    sinks.links = crate::email::signer(&app.store, addr).await?;
    let sinks = Arc::new(sinks);
    let _ = app.sinks.set(sinks.clone());
    // The checkpoint at the end of a graceful stop (store::checkpoints).
    let stopping = store.clone();
    let dispatcher = Arc::new(Dispatcher {
        store,
        sinks,
        rules,
        cfg: settings.dispatch.clone(),
        wake,
        http: app.http.clone(),
    });
    let worker = tokio::spawn(dispatcher.run(stop_rx.clone()));
    println!("hsflow listening on http://{addr}");
    tracing::info!(
        "serving {} rules from {} on {}",
        app.rules.current().rules.len(),
        settings.rules_dir.display(),
        listen::describe(addr, &settings.edge)
    );
    let reason = listen::serve(
        listener,
        router(app, settings.body_limit),
        &settings.edge,
        listen::signal(),
    )
    .await;
    // The workers finish the actions they are running; each is bounded by
    // its run limit, and the whole wait by the grace period. An action cut
    // off here runs again at the next start (its lease is recovered).
    let _ = stop_tx.send(true);
    let grace = settings.edge.shutdown_grace;
    match tokio::time::timeout(grace, worker).await {
        Ok(_) => tracing::info!("stopped ({reason}); every running action finished"),
        Err(_) => tracing::warn!(
            "stopped ({reason}); actions still running after {}s run again at the next start",
            grace.as_secs()
        ),
    }
    stopping.checkpoint_at_stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_database_password_never_shows() {
        assert_eq!(
            super::redact("postgres://hs:s3cret@db:5432/hsflow"),
            "postgres://hs:***@db:5432/hsflow"
        );
        assert_eq!(
            super::redact("postgres://hs@db/hsflow"),
            "postgres://hs@db/hsflow"
        );
        assert_eq!(
            super::redact("postgres://db/hsflow"),
            "postgres://db/hsflow"
        );
    }
}
