//! Where the links in an email lead: the unsubscribe page, the open pixel
//! and the click-through. These are for the people who got the email, not
//! for operators: no sign-in (the signed link is the proof), plain pages that
//! read well on a phone, and nothing that says more than the link itself
//! knows.
//!
//! - `GET /email/unsubscribe/{token}` shows who is being unsubscribed and a
//!   button; nothing changes on a GET, because mail scanners and link
//!   previews open links on their own.
//! - `POST /email/unsubscribe/{token}` unsubscribes at once: the button, and
//!   the one-click `List-Unsubscribe-Post` of Gmail, Yahoo and Apple Mail.
//! - `GET /email/open/{token}.gif` answers a 1x1 image and records the open.
//! - `GET /email/click/{token}` records the click and redirects, only ever to
//!   a URL that was in that email.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::prepare::hrefs;
use super::suppress::{stored_email, suppress, StoredEmail};
use super::token::{Link, Signer};
use crate::server::App;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/email/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/email/open/{token}", get(open))
        .route("/email/click/{token}", get(click))
}

/// A 1x1 transparent GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A small page for the person who followed a link.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\">\
<title>{t}</title><style>\
body{{font:17px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;color:#1f2328;background:#f6f7f9;margin:0;padding:2rem 1rem}}\
main{{max-width:30rem;margin:0 auto;background:#fff;border:1px solid #d8dde3;border-radius:10px;padding:1.5rem 1.75rem}}\
h1{{font-size:1.35rem;margin:0 0 .75rem}}p{{margin:.5rem 0}}\
button{{font:inherit;background:#1f6feb;color:#fff;border:0;border-radius:8px;padding:.65rem 1.2rem;margin-top:.75rem;cursor:pointer;min-height:44px}}\
button:focus-visible{{outline:3px solid #0b3d91;outline-offset:2px}}.muted{{color:#57606a;font-size:.95rem}}\
</style></head><body><main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    );
    (status, Html(html)).into_response()
}

/// The signer and raise channel, once the sinks run.
fn signer(app: &App) -> Option<&Signer> {
    app.sinks.get().map(|s| &s.links)
}

fn refused(why: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "This link doesn’t work",
        &format!("<p>{}</p>", esc(why)),
    )
}

fn not_ready() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again in a minute",
        "<p>The server is starting. Open the link again in a minute.</p>",
    )
}

/// Who is writing: the entity's name from the stored email, if known.
fn sender(email: Option<&StoredEmail>) -> String {
    email
        .and_then(|e| e.entity.clone())
        .unwrap_or_else(|| "us".to_string())
}

async fn unsubscribe_page(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let Some(signer) = signer(&app) else {
        return not_ready();
    };
    let (job, address) = match signer.read("unsubscribe", &token) {
        Ok(Link::Unsubscribe { job, address }) => (job, address),
        Ok(_) => return refused("this is not an unsubscribe link"),
        Err(e) => return refused(&e.to_string()),
    };
    if let Ok(Some(s)) = app.store.suppression(&address).await {
        return page(
            StatusCode::OK,
            "You’re unsubscribed",
            &format!(
                "<p><strong>{}</strong> gets no more of these emails (since {}).</p><p class=\"muted\">Messages about something you booked or ordered still reach you.</p>",
                esc(&s.address),
                s.at.format("%-d %B %Y")
            ),
        );
    }
    let email = stored_email(&app.store, None, &job).await;
    page(
        StatusCode::OK,
        "Unsubscribe?",
        &format!(
            "<p>Stop emails from {} to <strong>{}</strong>, such as news, follow-ups and invitations?</p>\
<form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>\
<p class=\"muted\">You will still get messages about something you booked or ordered.</p>",
            esc(&sender(email.as_ref())),
            esc(&address)
        ),
    )
}

async fn unsubscribe(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    body: String,
) -> Response {
    let Some(sinks) = app.sinks.get() else {
        return not_ready();
    };
    let (job, address) = match sinks.links.read("unsubscribe", &token) {
        Ok(Link::Unsubscribe { job, address }) => (job, address),
        Ok(_) => return refused("this is not an unsubscribe link"),
        Err(e) => return refused(&e.to_string()),
    };
    let email = stored_email(&app.store, None, &job).await;
    // A mail program's button posts exactly this body (RFC 8058).
    let how = if body.trim() == "List-Unsubscribe=One-Click" {
        "the unsubscribe button of their mail program"
    } else {
        "the unsubscribe link"
    };
    let detail = match &email {
        Some(e) => format!("{how} in `{}`", e.email.template),
        None => how.to_string(),
    };
    match suppress(
        &app.store,
        sinks.raise.as_ref(),
        &address,
        "unsubscribed",
        &detail,
        email.as_ref().map(|e| &e.email),
    )
    .await
    {
        Ok(_) => page(
            StatusCode::OK,
            "You’re unsubscribed",
            &format!(
                "<p><strong>{}</strong> gets no more of these emails from {}.</p><p class=\"muted\">Messages about something you booked or ordered still reach you. Changed your mind? Reply to any of our emails.</p>",
                esc(&address),
                esc(&sender(email.as_ref()))
            ),
        ),
        Err(e) => {
            tracing::error!("an unsubscribe of {address} could not be recorded: {e}");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again in a minute",
                "<p>Your unsubscribe could not be saved just now. Open the link again in a minute; nothing else is needed.</p>",
            )
        }
    }
}

/// Record `what` for a tracked email and raise `email.<what>`; the `id`
/// makes repeats (the same email opened twice) one event.
async fn engaged(app: &App, email: &StoredEmail, what: &str, url: Option<&str>, id: String) {
    let Some(sinks) = app.sinks.get() else {
        return;
    };
    if let Err(e) = app
        .store
        .email_activity(&email.email, what, url.unwrap_or_default())
        .await
    {
        tracing::warn!(job = %email.email.job_id, "an email was {what}, but it could not be recorded: {e}");
    }
    let event = json!({
        "type": format!("email.{what}"),
        "id": id,
        "email": email.contact.as_deref().unwrap_or(&email.to),
        "template": email.email.template,
        "variant": (!email.email.variant.is_empty()).then_some(&email.email.variant),
        "rule": email.email.rule,
        "flow": email.email.flow,
        "url": url,
        "job": email.email.job_id,
    });
    if let Some(tx) = &sinks.raise {
        if let Err(e) = crate::sinks::raise(tx, event).await {
            tracing::warn!(job = %email.email.job_id, "the email was {what}, but the event could not be raised: {e}");
        }
    }
}

async fn open(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let gif = (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PIXEL,
    );
    let Some(signer) = signer(&app) else {
        return gif.into_response();
    };
    let job = match signer.read("open", &token) {
        Ok(Link::Open { job }) => job,
        _ => return (StatusCode::BAD_REQUEST, gif).into_response(),
    };
    if let Some(email) = stored_email(&app.store, None, &job).await {
        engaged(&app, &email, "opened", None, format!("{job}:opened")).await;
    }
    gif.into_response()
}

async fn click(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let Some(signer) = signer(&app) else {
        return not_ready();
    };
    let (job, url) = match signer.read("click", &token) {
        Ok(Link::Click { job, url }) => (job, url),
        Ok(_) => return refused("this is not a link from one of our emails"),
        Err(e) => return refused(&e.to_string()),
    };
    let email = stored_email(&app.store, Some(&app.rules), &job).await;
    if let Some(e) = &email {
        // The signature already says hsflow made this link; the email itself
        // must also hold the URL, so not even a leaked key makes an open redirect.
        if !hrefs(&e.html).iter().any(|(_, u)| *u == url) {
            return refused("this link leads somewhere that was not in the email");
        }
        let id = format!("{job}:clicked:{}", super::token::short_hash(&url));
        engaged(&app, e, "clicked", Some(&url), id).await;
    }
    Redirect::to(&url).into_response()
}
