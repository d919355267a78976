//! What the console changes: signing in and out, and retrying or cancelling
//! actions (what POST /api/actions/{id}/retry and /cancel do). Every change
//! needs a session that may change things and the session's CSRF token.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::render::page;
use super::session::{self, Role, Session};
use super::{problem, store_down};
use crate::server::App;

/// The fields of a posted form (a key may repeat).
pub(crate) fn form(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

pub(crate) fn field<'a>(f: &'a [(String, String)], name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// The session of a request that may change something, or the answer that refuses it.
/// (The refusal is boxed: a Response is large, and this is the cold path.)
pub(crate) fn may_change(
    app: &App,
    headers: &HeaderMap,
    f: &[(String, String)],
) -> Result<Session, Box<Response>> {
    let s = may_look(app, headers, f)?;
    if !s.role.can_change() {
        return Err(Box::new(problem(
            StatusCode::FORBIDDEN,
            "You can look, not change",
            "You signed in with the viewer token. Changes (retry, cancel, save, roll back, send a test) need the admin token.",
        )));
    }
    Ok(s)
}

/// The session of a signed-in request whose form carries its CSRF token,
/// whatever the role (a check that changes nothing), or the refusal.
pub(crate) fn may_look(
    app: &App,
    headers: &HeaderMap,
    f: &[(String, String)],
) -> Result<Session, Box<Response>> {
    let Some((_, s)) = app.sessions.of(headers) else {
        return Err(Box::new(Redirect::to("/ui/signin").into_response()));
    };
    if !session::csrf_ok(&s, field(f, "csrf")) {
        return Err(Box::new(problem(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "The page was older than your session, or came from somewhere else. Go back, reload the page and try again.",
        )));
    }
    Ok(s)
}

/// Where to go after a change: the page the form names, if it is one of ours.
pub(crate) fn back(f: &[(String, String)], default: &str, notice: &str) -> Response {
    let to = field(f, "back");
    let to = if to.starts_with("/ui/") && !to.contains("//") {
        to
    } else {
        default
    };
    let sep = if to.contains('?') { '&' } else { '?' };
    let notice: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    Redirect::to(&format!("{to}{sep}notice={notice}")).into_response()
}

pub async fn signin_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if app.sessions.of(&headers).is_some() {
        return Redirect::to("/ui/").into_response();
    }
    page("signin", json!({"title": "Sign in"})).into_response()
}

pub async fn signin(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let role = session::role_of(
        field(&f, "token"),
        app.admin_token.as_deref(),
        app.viewer_token.as_deref(),
    );
    let Some(role) = role else {
        let why = if app.admin_token.is_none() && app.viewer_token.is_none() {
            "The console is closed: the server has neither HSFLOW_ADMIN_TOKEN nor HSFLOW_VIEWER_TOKEN set."
        } else {
            "That token is not the admin token or the viewer token. Check it with the person who runs hsflow."
        };
        tracing::info!(target: "hsflow::access", "console sign-in refused");
        return (
            StatusCode::UNAUTHORIZED,
            page("signin", json!({"title": "Sign in", "error": why})),
        )
            .into_response();
    };
    let id = app
        .sessions
        .start(role, session::clean_name(field(&f, "name")));
    tracing::info!(target: "hsflow::access", role = role.name(), "console sign-in");
    (
        [(header::SET_COOKIE, session::set_cookie(Some(&id), &headers))],
        Redirect::to("/ui/"),
    )
        .into_response()
}

pub async fn signout(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    if let Some((id, s)) = app.sessions.of(&headers) {
        if !session::csrf_ok(&s, field(&f, "csrf")) {
            return problem(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "Reload the page and sign out again.",
            );
        }
        app.sessions.end(&id);
    }
    (
        [(header::SET_COOKIE, session::set_cookie(None, &headers))],
        Redirect::to("/ui/signin"),
    )
        .into_response()
}

/// What one button does to one action, and what it says after.
enum Change {
    Retry,
    RunNow,
    Cancel,
}

impl Change {
    /// (where to go back by default, what it says when done, when it couldn't)
    fn words(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Change::Retry => (
                "/ui/failed",
                "Queued to run again now.",
                "That action can't be retried: it is already waiting, running or done.",
            ),
            Change::RunNow => (
                "/ui/followups",
                "It runs now.",
                "That action is no longer waiting: it ran, or was cancelled.",
            ),
            Change::Cancel => (
                "/ui/failed",
                "Cancelled: it will not run.",
                "That action can't be cancelled: it already ran or was cancelled.",
            ),
        }
    }
}

/// One button on one action: checked like every change, then done as the
/// admin API does it.
async fn change(app: &App, id: &str, headers: &HeaderMap, body: &Bytes, what: Change) -> Response {
    let f = form(body);
    let s = match may_change(app, headers, &f) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let done = match what {
        Change::Retry => app.store.retry(id).await,
        Change::RunNow => app.store.run_now(id).await,
        Change::Cancel => app.store.cancel(id).await,
    };
    let (to, yes, no) = what.words();
    match done {
        Ok(true) => {
            app.wake.notify_one();
            let verb = match what {
                Change::Retry => "retry",
                Change::RunNow => "run-now",
                Change::Cancel => "cancel",
            };
            app.audit(&s.who(), verb, id, yes).await;
            back(&f, to, yes)
        }
        Ok(false) => back(&f, to, no),
        Err(e) => store_down(e),
    }
}

pub async fn retry(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    change(&app, &id, &headers, &body, Change::Retry).await
}

pub async fn run_now(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    change(&app, &id, &headers, &body, Change::RunNow).await
}

pub async fn cancel(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    change(&app, &id, &headers, &body, Change::Cancel).await
}

pub async fn retry_many(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let s = match may_change(&app, &headers, &f) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let mut n = 0;
    for (_, id) in f.iter().filter(|(k, _)| k == "id") {
        match app.store.retry(id).await {
            Ok(true) => n += 1,
            Ok(false) => {}
            Err(e) => return store_down(e),
        }
    }
    app.wake.notify_one();
    let said = format!("{n} actions queued to run again now.");
    app.audit(&s.who(), "retry", "several actions", &said).await;
    back(&f, "/ui/failed", &said)
}

/// The template data every page's header needs.
pub fn chrome(s: &Session, title: &str) -> serde_json::Value {
    json!({
        "title": title,
        "session": {"role": s.role.name(), "name": s.name, "csrf": s.csrf},
        "can_change": s.role == Role::Admin,
        "csrf": s.csrf,
    })
}
