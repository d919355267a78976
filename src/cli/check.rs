//! `hsflow check`: is this machine ready to serve these rules for real?
//!
//! Like `vector validate`, it goes past the files: the rules load, every
//! source has its secret, the sink settings make sense, each Notion database
//! has an id, is reachable and has the properties rules/databases.toml
//! expects (with the right types), and the SMTP server answers. Every problem
//! is listed, not just the first. Secrets are never printed.
//!
//! Exit 0 when nothing is wrong (warnings allowed), 1 otherwise.

use std::process::ExitCode;

use super::RuleDirs;
use crate::rules::RuleSet;
use crate::sinks::config::SinkSettings;
use crate::sinks::notion::{NotionClient, NotionSink};
use crate::sinks::smtp::SmtpSink;

/// What one check found.
enum Finding {
    Ok(String),
    Warn(String),
    Error(String),
}

#[derive(Default)]
struct Report {
    findings: Vec<Finding>,
}

/// Each finding is printed as it is made, so a slow check shows where it is.
impl Report {
    fn ok(&mut self, s: impl Into<String>) {
        self.add(Finding::Ok(s.into()));
    }
    fn warn(&mut self, s: impl Into<String>) {
        self.add(Finding::Warn(s.into()));
    }
    fn error(&mut self, s: impl Into<String>) {
        self.add(Finding::Error(s.into()));
    }
    fn add(&mut self, f: Finding) {
        match &f {
            Finding::Ok(s) => println!("  ok    {s}"),
            Finding::Warn(s) => println!("  warn  {s}"),
            Finding::Error(s) => println!("  ERROR {s}"),
        }
        self.findings.push(f);
    }
    fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| matches!(f, Finding::Error(_)))
            .count()
    }
}

pub fn run(dirs: &RuleDirs) -> ExitCode {
    let Some(rs) = super::load_or_report(dirs) else {
        return ExitCode::from(1);
    };
    let runtime = match super::runtime(super::Threads::One) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut report = Report::default();
    report.ok(format!(
        "rules: {} rules in {} flows, {} sources, {} databases",
        rs.rules.len(),
        rs.flows.len(),
        rs.sources.len(),
        rs.databases.len()
    ));
    sources(&rs, &mut report);
    match std::env::var("HSFLOW_ADMIN_TOKEN") {
        Ok(t) if !t.is_empty() => report.ok("HSFLOW_ADMIN_TOKEN is set (the admin API is enabled)"),
        _ => report
            .warn("HSFLOW_ADMIN_TOKEN is not set: the admin API (/api/...) refuses every request"),
    }
    match SinkSettings::from_env() {
        Err(e) => report.error(format!("sinks: {e}")),
        Ok(settings) => {
            for line in settings.describe() {
                report.ok(format!("sink {line}"));
            }
            runtime.block_on(sinks(&rs, &settings, &mut report));
            runtime.block_on(enrich_credentials(&rs, settings.http_timeout, &mut report));
        }
    }
    let errors = report.errors();
    if errors == 0 {
        println!("check: ready");
        ExitCode::SUCCESS
    } else {
        println!(
            "check: {errors} problem{} to fix",
            if errors == 1 { "" } else { "s" }
        );
        ExitCode::from(1)
    }
}

fn sources(rs: &RuleSet, report: &mut Report) {
    let missing = crate::server::unconfigured_sources(rs);
    for (name, env) in &missing {
        report.error(format!(
            "source `{name}`: {env} is not set; webhooks to /webhooks/{name} get 503 until it is"
        ));
    }
    // Sources hsflow feeds itself (the clock, raised events) need no secret.
    let need = rs
        .sources
        .values()
        .filter(|s| crate::sources::auth::secret_env(&s.auth).is_some())
        .count();
    let line = format!(
        "{} of the {need} sources that take a secret have it",
        need - missing.len()
    );
    if missing.is_empty() {
        report.ok(line);
    } else {
        report.warn(line);
    }
}

async fn sinks(rs: &RuleSet, settings: &SinkSettings, report: &mut Report) {
    if let Some(cfg) = &settings.notion {
        // The check's own timeout decides when Notion has not answered, so
        // the verdict always reads "no answer within Ns ...": the client's
        // timeout, the same length, raced it and sometimes won with its
        // terser "operation timed out" (seen on a loaded machine). Here the
        // client waits longer than the check.
        let cfg = crate::sinks::notion::NotionConfig {
            timeout: cfg.timeout + std::time::Duration::from_secs(5),
            ..cfg.clone()
        };
        match NotionClient::new(cfg) {
            Ok(client) => notion(rs, &NotionSink::new(client), settings.http_timeout, report).await,
            Err(e) => report.error(format!("notion: {e}")),
        }
    }
    if let Some(cfg) = &settings.smtp {
        match SmtpSink::new(cfg) {
            Ok(smtp) => {
                println!("  ...   SMTP {}:{}", cfg.host, cfg.port);
                match tokio::time::timeout(settings.http_timeout, smtp.reachable()).await {
                    Ok(Ok(())) => report.ok(format!("SMTP {}:{} answers", cfg.host, cfg.port)),
                    Ok(Err(e)) => report.error(format!(
                        "SMTP {}:{} is not reachable: {e}",
                        cfg.host, cfg.port
                    )),
                    Err(_) => report.error(format!(
                        "SMTP {}:{} did not answer within {}s (HSFLOW_HTTP_TIMEOUT_SECS)",
                        cfg.host,
                        cfg.port,
                        settings.http_timeout.as_secs()
                    )),
                }
            }
            Err(e) => report.error(format!("SMTP: {e}")),
        }
    }
    email_links(rs, report);
}

/// Each `[[enrich]]` step with a `check_endpoint`: one request with its credentials.
async fn enrich_credentials(rs: &RuleSet, timeout: std::time::Duration, report: &mut Report) {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => return report.error(format!("can't make an HTTP client: {e}")),
    };
    let env = |k: &str| std::env::var(k).ok();
    for src in rs.sources.values() {
        for step in &src.enrich {
            match crate::sources::enrich::probe(&client, step, &env).await {
                Some(Ok(said)) => report.ok(format!(
                    "source `{}`, step `{}`: {said}",
                    src.name, step.name
                )),
                Some(Err(why)) => report.error(format!(
                    "source `{}`, step `{}`: {why}",
                    src.name, step.name
                )),
                None => {}
            }
        }
    }
}

/// Marketing email carries links back to hsflow: they must reach it.
fn email_links(rs: &RuleSet, report: &mut Report) {
    let marketing = rs
        .email_categories
        .values()
        .any(|c| *c == crate::rules::model::EmailCategory::Marketing);
    if !marketing {
        return;
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    match env("HSFLOW_PUBLIC_URL") {
        None => report.warn("HSFLOW_PUBLIC_URL is not set: unsubscribe links in marketing email (and opens and clicks, where tracked) point at this server's own address, which only this machine can open; set it to the https address people reach hsflow at"),
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => report.error(format!("HSFLOW_PUBLIC_URL is {u:?}; write the address people reach hsflow at, starting with https://")),
        Some(u) if u.starts_with("http://") => report.warn(format!("HSFLOW_PUBLIC_URL is {u}: mail programs offer one-click unsubscribe only for an https link (RFC 8058); use https in production")),
        Some(u) => report.ok(format!("email links point at {u}")),
    }
    if env("HSFLOW_LINK_SECRET").is_some_and(|k| k.trim().len() < 16) {
        report.error("HSFLOW_LINK_SECRET is shorter than 16 characters; use a long random value (e.g. from `openssl rand -hex 32`), or leave it unset and hsflow keeps its own key in the store");
    }
}

async fn notion(
    rs: &RuleSet,
    sink: &NotionSink,
    timeout: std::time::Duration,
    report: &mut Report,
) {
    for db in rs.databases.values() {
        let id = std::env::var(&db.env).ok().filter(|v| !v.trim().is_empty());
        let Some(id) = id else {
            let msg = format!("Notion \"{}\": {} is not set (its id)", db.name, db.env);
            if db.optional {
                report.warn(format!("{msg}; it is optional"));
            } else {
                report.error(msg);
            }
            continue;
        };
        println!("  ...   Notion \"{}\"", db.name);
        let checked = tokio::time::timeout(timeout, sink.check_schema(db, id.trim())).await;
        let Ok(checked) = checked else {
            report.error(format!(
                "Notion \"{}\" ({}): no answer within {}s (HSFLOW_HTTP_TIMEOUT_SECS); is Notion reachable from here?",
                db.name,
                db.env,
                timeout.as_secs()
            ));
            continue;
        };
        match checked {
            Ok(problems) if problems.is_empty() => report.ok(format!(
                "Notion \"{}\": reachable, {} properties as expected",
                db.name,
                db.properties.len()
            )),
            Ok(problems) => {
                for p in problems {
                    report.error(format!("Notion {p}"));
                }
            }
            Err(e) => report.error(format!("Notion \"{}\" ({}): {e}", db.name, db.env)),
        }
    }
}
