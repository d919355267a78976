//! The studio's admin API: versions, diffs, rollback, the what-if and the
//! audit log. Every route needs the admin token (see `server::admin`); the
//! console's studio pages call the same functions with a session instead.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::diff::diff;
use super::whatif::{self, Report};
use super::write::{self, Finding, Refused};
use crate::rules::RuleFiles;
use crate::server::admin::Admin;
use crate::server::errors::error;
use crate::server::reload::{How, Outcome};
use crate::server::App;
use crate::store::StoreError;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/versions", get(versions))
        .route("/api/versions/{version}", get(version))
        .route("/api/versions/{version}/rollback", post(rollback))
        .route("/api/diff", get(diff_of))
        .route("/api/whatif", post(whatif_route))
        .route("/api/audit", get(audit))
        .route("/api/send-test", post(send_test))
}

pub fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound(m) => error(StatusCode::NOT_FOUND, m),
        other => error(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
    }
}

/// Why a write was refused, in a sentence.
pub fn refusal_words(r: &Refused) -> String {
    match r {
        Refused::Lint(findings) => {
            let first = findings
                .first()
                .map(|f| format!(" The first: {}:{}:{}: {}", f.path, f.line, f.col, f.message))
                .unwrap_or_default();
            format!(
                "nothing was written: the rules would have {} error{}.{first}",
                findings.len(),
                if findings.len() == 1 { "" } else { "s" }
            )
        }
        Refused::Bad(m) | Refused::Io(m) => m.clone(),
    }
}

/// A refused write as an answer: 422 with the lint findings, 400, or 500.
pub fn refused(r: Refused) -> Response {
    let msg = refusal_words(&r);
    match r {
        Refused::Lint(findings) => {
            let mut resp = error(StatusCode::UNPROCESSABLE_ENTITY, msg.clone());
            *resp.body_mut() =
                axum::body::Body::from(json!({"error": msg, "findings": findings}).to_string());
            resp
        }
        Refused::Bad(_) => error(StatusCode::BAD_REQUEST, msg),
        Refused::Io(_) => error(StatusCode::INTERNAL_SERVER_ERROR, msg),
    }
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<i64>,
}

/// `limit`, from 1 to 1000, or `default`; a 400 otherwise.
fn limit_of(q: &Limit, default: i64) -> Result<i64, Box<Response>> {
    match q.limit {
        None => Ok(default),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(_) => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "`limit` must be a whole number from 1 to 1000",
        ))),
    }
}

async fn versions(State(app): State<Arc<App>>, _a: Admin, Query(q): Query<Limit>) -> Response {
    let limit = match limit_of(&q, 50) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    match app.store.deploys(limit).await {
        Ok(d) => Json(json!({"live": app.rules.current().version, "versions": d})).into_response(),
        Err(e) => store_error(e),
    }
}

/// A version named by a prefix, or `live` for the set in force.
pub async fn files_of(app: &App, name: &str) -> Result<(String, RuleFiles), Response> {
    named(app, name).await.map_err(store_error)
}

async fn named(app: &App, name: &str) -> Result<(String, RuleFiles), StoreError> {
    if name == "live" {
        let rs = app.rules.current();
        return Ok((rs.version.clone(), (*rs.text).clone()));
    }
    let v = app.store.resolve_version(name).await?;
    let files = app.store.version_files(&v).await?;
    Ok((v, files))
}

async fn version(State(app): State<Arc<App>>, _a: Admin, Path(v): Path<String>) -> Response {
    match files_of(&app, &v).await {
        Ok((version, files)) => {
            let files: BTreeMap<String, &str> = files.all().collect();
            Json(json!({"version": version, "files": files})).into_response()
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn diff_of(State(app): State<Arc<App>>, _a: Admin, Query(q): Query<DiffQuery>) -> Response {
    let Some(from) = q.from.as_deref().filter(|s| !s.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "say which versions to compare: ?from=V1&to=V2 (`to` is the live version when left out)",
        );
    };
    let to = q.to.as_deref().unwrap_or("live");
    let (a, b) = match (files_of(&app, from).await, files_of(&app, to).await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    Json(json!({"from": a.0, "to": b.0, "files": diff(&a.1, &b.1)})).into_response()
}

async fn rollback(State(app): State<Arc<App>>, admin: Admin, Path(v): Path<String>) -> Response {
    match roll_back(&app, &v, &admin.who).await {
        Ok(outcome) => {
            Json(json!({"ok": outcome.ok, "version": outcome.version, "errors": outcome.errors}))
                .into_response()
        }
        Err(RollbackFailed::Store(e)) => store_error(e),
        Err(RollbackFailed::Refused(r)) => refused(r),
    }
}

/// Why a rollback did not happen.
pub enum RollbackFailed {
    /// No such version, or the store did not answer.
    Store(StoreError),
    /// Its files don't lint now, or the disk refused; nothing (or not all) was written.
    Refused(Refused),
}

impl RollbackFailed {
    /// In a sentence, for a person.
    pub fn words(&self) -> String {
        match self {
            RollbackFailed::Store(e) => e.to_string(),
            RollbackFailed::Refused(r) => refusal_words(r),
        }
    }
}

/// Write version `v`'s files back and reload, and audit it; shared by the
/// API and the console. The outcome is the reload's.
pub async fn roll_back(app: &App, v: &str, who: &str) -> Result<Outcome, RollbackFailed> {
    let (version, files) = named(app, v).await.map_err(RollbackFailed::Store)?;
    let from = app.rules.current().version.clone();
    let outcome = write::apply(&app.reloader, How::Rollback, who, |_| Ok(files))
        .await
        .map_err(RollbackFailed::Refused)?;
    let detail = format!(
        "rolled back from {} to {}",
        &from[..12.min(from.len())],
        &version[..12]
    );
    app.audit(who, "rollback", &version, &detail).await;
    Ok(outcome)
}

/// What to replay and against which files.
#[derive(Deserialize, Default)]
pub struct WhatIfRequest {
    /// `rules/...` / `templates/...` -> text: the files that differ from the live set.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// `files` is the whole candidate set (files the live set has and this lacks are removed).
    #[serde(default)]
    pub complete: bool,
    /// How far back: `7d` (the default), `24h`...
    pub since: Option<String>,
    /// At most this many events, the latest (10,000 when not given). A
    /// number, as JSON has them: 744.0 is 744.
    pub events: Option<serde_json::Number>,
    /// Only events of this source.
    pub source: Option<String>,
}

/// Why a what-if could not run.
pub enum WhatIfError {
    Bad(String),
    Lint(Vec<Finding>),
    Store(StoreError),
    /// A bug: a replay crashed. 500, and no partial report.
    Failed(String),
}

impl WhatIfError {
    pub fn into_response(self) -> Response {
        match self {
            WhatIfError::Bad(m) => error(StatusCode::BAD_REQUEST, m),
            WhatIfError::Lint(f) => refused(Refused::Lint(f)),
            WhatIfError::Store(e) => store_error(e),
            WhatIfError::Failed(m) => {
                tracing::error!("{m}");
                error(StatusCode::INTERNAL_SERVER_ERROR, m)
            }
        }
    }
}

/// The candidate set a request describes.
pub fn candidate_of(live: &RuleFiles, req: &WhatIfRequest) -> Result<RuleFiles, WhatIfError> {
    let mut out = if req.complete {
        RuleFiles::default()
    } else {
        live.clone()
    };
    for (path, text) in &req.files {
        out = out.with(path, text).ok_or_else(|| {
            WhatIfError::Bad(format!(
                "`{path}` is not a rule or template path: use rules/<file>.toml or templates/<file>.hbs"
            ))
        })?;
    }
    Ok(out)
}

/// `since`: a whole number (up to 6 digits) and one unit, s, m, h, d or w.
fn since_secs(s: &str) -> Result<i64, WhatIfError> {
    let bad = || {
        WhatIfError::Bad(format!(
            "`since` is {s:?}: write a number and a unit, like 7d, 24h or 30m (s, m, h, d or w)"
        ))
    };
    // Split before the last character (which may be more than one byte).
    let cut = s.char_indices().last().map_or(0, |(i, _)| i);
    let (digits, unit) = s.split_at(cut);
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    Ok(n * unit)
}

/// Replay stored events through the live rules and `candidate`.
pub async fn run(
    app: &App,
    candidate: RuleFiles,
    req: &WhatIfRequest,
) -> Result<Report, WhatIfError> {
    let since = since_secs(req.since.as_deref().unwrap_or("7d"))?;
    let limit = match &req.events {
        None => 10_000,
        Some(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .unwrap_or(0),
    };
    if !(1..=100_000).contains(&limit) {
        return Err(WhatIfError::Bad(
            "`events` must be from 1 to 100000".to_string(),
        ));
    }
    let (cand, findings) = super::write::build(&app.reloader, Arc::new(candidate)).await;
    let Some(cand) = cand else {
        let errors = findings
            .into_iter()
            .filter(|f| f.severity == "error")
            .collect();
        return Err(WhatIfError::Lint(errors));
    };
    run_with(app, Arc::new(cand), since, limit, req.source.as_deref()).await
}

/// [`run`] with the candidate already built.
pub async fn run_with(
    app: &App,
    cand: Arc<crate::rules::RuleSet>,
    since: i64,
    limit: i64,
    source: Option<&str>,
) -> Result<Report, WhatIfError> {
    let live = app.rules.current();
    let since_ms = Utc::now()
        .checked_sub_signed(chrono::Duration::seconds(since))
        .map_or(0, |t| t.timestamp_millis());
    let store = &app.store;
    let requests = store
        .stored_requests(since_ms, limit, source)
        .await
        .map_err(WhatIfError::Store)?;
    let waiting = store
        .waiting_actions(10_000)
        .await
        .map_err(WhatIfError::Store)?;
    let have: BTreeSet<&str> = requests.iter().map(|r| r.id.as_str()).collect();
    let missing: Vec<String> = waiting
        .iter()
        .map(|w| w.event_id.as_str())
        .filter(|id| !have.contains(id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_string)
        .collect();
    let extra = store
        .stored_requests_by_id(&missing)
        .await
        .map_err(WhatIfError::Store)?;
    tokio::task::spawn_blocking(move || whatif::compare(&live, &cand, &requests, waiting, &extra))
        .await
        .map_err(|e| WhatIfError::Failed(format!("the what-if crashed: {e}")))?
        .map_err(WhatIfError::Failed)
}

async fn whatif_route(State(app): State<Arc<App>>, _a: Admin, body: axum::body::Bytes) -> Response {
    let req: WhatIfRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body must be JSON like {{\"files\": {{\"rules/flows/x.toml\": \"...\"}}, \"since\": \"7d\"}}: {e}"),
            )
        }
    };
    let live = app.rules.current();
    let candidate = match candidate_of(&live.text, &req) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match run(&app, candidate, &req).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn audit(State(app): State<Arc<App>>, _a: Admin, Query(q): Query<Limit>) -> Response {
    let limit = match limit_of(&q, 100) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    match app.store.audit_log(limit).await {
        Ok(entries) => Json(json!({"entries": entries})).into_response(),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct SendTest {
    /// `emails/<name>` or `notifications/<name>`.
    template: String,
    /// The address (emails) or channel (notifications) to send the test to.
    to: String,
    /// The stored event to render it for (the latest that uses it when not given).
    event_id: Option<String>,
}

/// POST /api/send-test: one rendered email or notification of the live
/// rules, sent through the real sink to `to`, marked as a test.
async fn send_test(State(app): State<Arc<App>>, admin: Admin, body: axum::body::Bytes) -> Response {
    let req: SendTest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body must be JSON like {{\"template\": \"emails/welcome\", \"to\": \"you@example.org\"}}: {e}"),
            )
        }
    };
    let path = match req.template.split_once('/') {
        Some(("emails", name)) if tame(name) => format!("templates/emails/{name}.html.hbs"),
        Some(("notifications", name)) if tame(name) => {
            format!("templates/notifications/{name}.hbs")
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "`{}` is not a template: write emails/<name> or notifications/<name>",
                    req.template
                ),
            )
        }
    };
    let rs = app.rules.current();
    let Some((kind, name)) = super::preview::template_of(&path) else {
        return error(StatusCode::BAD_REQUEST, "not a template path");
    };
    if super::preview::action_keys(&rs, kind, &name).is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no rule in force uses {}, so there is nothing to render it with",
                req.template
            ),
        );
    }
    match super::preview::send_test(&app, &rs, &path, req.event_id.as_deref(), &req.to).await {
        Ok(done) => {
            let detail = format!("a test to {}: {done}", req.to.trim());
            app.audit(&admin.who, "test-send", &req.template, &detail)
                .await;
            Json(json!({"sent": true, "to": req.to.trim(), "said": done})).into_response()
        }
        Err(why) if why.starts_with("the sink") => error(
            StatusCode::BAD_GATEWAY,
            format!("the test was not sent: {why}"),
        ),
        Err(why) if why.starts_with("no recent event") => error(
            StatusCode::NOT_FOUND,
            format!("the test was not sent: {why}"),
        ),
        Err(why) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the test was not sent: {why}"),
        ),
    }
}

fn tame(name: &str) -> bool {
    // A dot only between words: an A/B variant (`artist_welcome.b`), never a path.
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}
