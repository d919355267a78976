//! The console's Email page: how each email does (sent, opened, clicked,
//! unsubscribed, per template and A/B variant), and the suppression list,
//! where staff re-subscribe an address (only ever on purpose: the person
//! asked) or add one by hand (someone asked by phone). Both changes call what
//! the email API calls and go in the audit log.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::act::{back, chrome, field, form, may_change};
use super::pages::Signed;
use super::render::page;
use super::store_down;
use crate::email::stats::summarise;
use crate::server::App;

#[derive(Deserialize, Default)]
pub struct Notice {
    notice: Option<String>,
}

/// A reason as the pages say it.
pub(super) fn reason_words(reason: &str) -> &'static str {
    match reason {
        "unsubscribed" => "unsubscribed",
        "bounced" => "the address bounced",
        "complained" => "marked an email as spam",
        "manual" => "added by staff",
        _ => "suppressed",
    }
}

/// A share as a percentage, or a dash when nothing was sent.
fn percent(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_string(), |r| format!("{:.0}%", r * 100.0))
}

pub async fn show(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Query(n): Query<Notice>,
) -> Response {
    let counts = match app.store.email_counts().await {
        Ok(c) => c,
        Err(e) => return store_down(e),
    };
    let (list, total) = match app.store.suppressions(200).await {
        Ok(l) => l,
        Err(e) => return store_down(e),
    };
    let stats = summarise(&counts);
    let with_pcts = |key: &str| -> Vec<Value> {
        stats[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let mut r = r.clone();
                r["open_pct"] = json!(percent(&r["open_rate"]));
                r["click_pct"] = json!(percent(&r["click_rate"]));
                r["unsubscribe_pct"] = json!(percent(&r["unsubscribe_rate"]));
                r
            })
            .collect()
    };
    let rows = with_pcts("templates");
    let rules = with_pcts("rules");
    let suppressed: Vec<Value> = list
        .iter()
        .map(|x| {
            json!({
                "address": x.address, "why": reason_words(&x.reason), "detail": x.detail,
                "when": x.at.format("%-d %b %Y %H:%M UTC").to_string(),
            })
        })
        .collect();
    let mut data = chrome(&s, "Email");
    if let Some(o) = data.as_object_mut() {
        o.insert("nav".into(), json!({"email": true}));
        o.insert("notice".into(), json!(n.notice));
        o.insert("templates".into(), json!(rows));
        o.insert("rules".into(), json!(rules));
        o.insert("suppressed".into(), json!(suppressed));
        o.insert("total".into(), json!(total));
        o.insert("more".into(), json!(total > list.len() as i64));
    }
    page("email", data).into_response()
}

/// POST /ui/email/suppress: add an address to the list by hand.
pub async fn suppress(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let s = match may_change(&app, &headers, &f) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let address = field(&f, "address").trim().to_string();
    if !crate::server::api::looks_like_email(&address) {
        return back(
            &f,
            "/ui/email",
            &format!("\"{address}\" is not an email address; nothing was added. Write it like ada@example.com."),
        );
    }
    let note = field(&f, "note").trim();
    // `who` already says where: "console admin", "Ana (console)".
    let detail = if note.is_empty() {
        format!("added by {}", s.who())
    } else {
        format!("added by {}: {note}", s.who())
    };
    let raise = app.sinks.get().and_then(|x| x.raise.as_ref());
    match crate::email::suppress::suppress(&app.store, raise, &address, "manual", &detail, None)
        .await
    {
        Ok(o) => {
            app.audit(&s.who(), "suppress", &o.address, &detail).await;
            let said = if o.newly_suppressed {
                format!(
                    "{} is on the suppression list: no more marketing email goes to it ({} waiting email(s) cancelled).",
                    o.address, o.cancelled
                )
            } else {
                format!("{} was already on the suppression list.", o.address)
            };
            back(&f, "/ui/email", &said)
        }
        Err(e) => store_down(e),
    }
}

/// POST /ui/email/resubscribe: take an address off the list.
pub async fn resubscribe(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let s = match may_change(&app, &headers, &f) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let address = field(&f, "address");
    match app.store.unsuppress(address).await {
        Ok(true) => {
            app.audit(
                &s.who(),
                "resubscribe",
                address,
                "taken off the suppression list in the console",
            )
            .await;
            back(
                &f,
                "/ui/email",
                &format!("{address} is re-subscribed: marketing email goes to it again from now on (emails cancelled while it was unsubscribed stay cancelled)."),
            )
        }
        Ok(false) => back(
            &f,
            "/ui/email",
            &format!("{address} was not on the suppression list; nothing changed."),
        ),
        Err(e) => store_down(e),
    }
}
