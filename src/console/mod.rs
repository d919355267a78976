//! The console: web pages, served by `hsflow serve` under `/ui/`, for the
//! people who run hsflow and are not engineers. What happened, why, and
//! what to do about it, in plain words.
//!
//! Plain server-rendered HTML (Handlebars templates, HTML-escaped, embedded
//! in the binary with the stylesheet and one small script): it needs no
//! build step, no CDN and no internet, and it works without JavaScript.
//! Every page needs a session (see session.rs); every form that changes
//! something carries the session's CSRF token and calls what the admin API
//! calls. Pages are sent with a strict Content-Security-Policy: no inline
//! script or style, nothing from elsewhere, never framed. Rendered emails,
//! which are payload text and so hostile input, are shown in a sandboxed
//! frame with a policy of their own.

mod act;
mod email_page;
mod pages;
mod pages_event;
mod render;
mod rules_page;
pub mod session;
mod try_event;
pub mod words;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::server::App;

// What the studio's pages (src/studio/pages.rs) share with the console's.
pub(crate) use act::{back, chrome, field, form, may_change, may_look};
pub(crate) use pages::Signed;
pub(crate) use render::page;

/// The console's policy: everything from this server, nothing inline, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
const STUDIO_JS: &str = include_str!("../studio/assets/studio.js");
/// CodeMirror 5 (MIT), vendored: the studio's code editor (highlighting,
/// lint markers, completion). See src/studio/assets/vendor/.
const CODEMIRROR_JS: &str = include_str!("../studio/assets/vendor/codemirror.js");
const CODEMIRROR_CSS: &str = include_str!("../studio/assets/vendor/codemirror.css");

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(pages::overview))
        .route("/ui/signin", get(act::signin_page).post(act::signin))
        .route("/ui/signout", post(act::signout))
        .route("/ui/events", get(pages::events))
        .route("/ui/events/{id}", get(pages::event))
        .route(
            "/ui/events/{id}/actions/{action}/email",
            get(pages::email_preview),
        )
        .route("/ui/failed", get(pages::failed))
        .route("/ui/email", get(email_page::show))
        .route("/ui/email/suppress", post(email_page::suppress))
        .route("/ui/email/resubscribe", post(email_page::resubscribe))
        .route("/ui/followups", get(pages::followups))
        .route("/ui/contacts/{email}", get(pages::contact))
        .route("/ui/try", get(try_event::show).post(try_event::run))
        .route("/ui/rules", get(rules_page::show))
        .route(
            "/ui/studio",
            get(crate::studio::pages::show).post(crate::studio::pages::post),
        )
        .route("/ui/studio/lint", post(crate::studio::pages::lint))
        .route("/ui/studio/schema", get(crate::studio::pages::schema))
        .route("/ui/studio/frame/{id}", get(crate::studio::pages::frame))
        .route("/ui/history", get(crate::studio::pages::history))
        .route("/ui/history/diff", get(crate::studio::pages::diff_page))
        .route("/ui/history/rollback", post(crate::studio::pages::rollback))
        .route("/ui/actions/{id}/run-now", post(act::run_now))
        .route("/ui/failed/retry", post(act::retry_many))
        .route("/ui/actions/{id}/retry", post(act::retry))
        .route("/ui/actions/{id}/cancel", post(act::cancel))
        .route(
            "/ui/assets/console.css",
            get(|| async { asset(CSS, "text/css") }),
        )
        .route(
            "/ui/assets/console.js",
            get(|| async { asset(JS, "text/javascript") }),
        )
        .route(
            "/ui/assets/studio.js",
            get(|| async { asset(STUDIO_JS, "text/javascript") }),
        )
        .route(
            "/ui/assets/vendor/codemirror.js",
            get(|| async { asset(CODEMIRROR_JS, "text/javascript") }),
        )
        .route(
            "/ui/assets/vendor/codemirror.css",
            get(|| async { asset(CODEMIRROR_CSS, "text/css") }),
        )
        .layer(axum::middleware::from_fn(headers))
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, format!("{kind}; charset=utf-8")),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        body,
    )
        .into_response()
}

/// Security headers on every console answer (a page may set its own CSP).
async fn headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The page for a store that did not answer.
pub(crate) fn store_down(e: impl std::fmt::Display) -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "The store did not answer",
        &format!("{e}. Try again in a moment; if it stays, the server's log says why."),
    )
}

/// An error page in words, with the status.
pub(crate) fn problem(status: StatusCode, title: &str, msg: &str) -> Response {
    let body = render::page(
        "problem",
        serde_json::json!({"title": title, "message": msg}),
    );
    (status, body).into_response()
}
