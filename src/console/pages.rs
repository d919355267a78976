//! The console's pages: the overview, the events, one event (the "why"
//! page), a rendered email, and the failed actions.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::act::chrome;
use super::render::page;
use super::session::Session;
use super::{problem, store_down, words};
use crate::server::App;
use crate::store::browse::EventQuery;

/// A signed-in request's session; without one, the answer is a redirect to
/// sign in.
pub struct Signed(pub Session);

impl axum::extract::FromRequestParts<Arc<App>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &Arc<App>,
    ) -> Result<Signed, Response> {
        app.sessions
            .of(&parts.headers)
            .map(|(_, s)| Signed(s))
            .ok_or_else(|| Redirect::to("/ui/signin").into_response())
    }
}

/// "3 minutes ago", "2 hours ago"; or, for a time to come, "in 5 days".
fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let (n, unit) = match secs.abs() {
        s if s < 60 => return "just now".to_string(),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    let span = format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs < 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%a %-d %b %Y, %H:%M UTC").to_string()
}

/// 5000 as "5,000".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn span(secs: f64) -> String {
    match secs as i64 {
        0 => "none".to_string(),
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

#[derive(Deserialize, Default)]
pub struct Notice {
    notice: Option<String>,
}

type Totals = (
    crate::store::stats::QueueCounts,
    crate::store::stats::Backlog,
    Vec<crate::store::browse::FlowActivity>,
    Vec<crate::store::browse::FlowActivity>,
    Vec<i64>,
);

/// How long the overview's totals are reused: they count whole tables
/// (a busy week is hundreds of thousands of actions), and the page refreshes
/// itself every 30 s; a few seconds old is fresh enough.
const TOTALS_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// The overview's totals, counted at most every few seconds.
async fn totals(app: &App, now: DateTime<Utc>) -> Result<Totals, crate::store::StoreError> {
    static LAST: std::sync::Mutex<Option<(std::time::Instant, Totals)>> =
        std::sync::Mutex::new(None);
    if let Some((at, t)) = LAST.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        if at.elapsed() < TOTALS_FOR {
            return Ok(t.clone());
        }
    }
    let t = tokio::try_join!(
        app.store.counts(),
        app.store.backlog(now),
        app.store.flow_activity(now - chrono::Duration::days(1)),
        app.store.flow_activity(now - chrono::Duration::days(7)),
        app.store.events_per_hour(now),
    )?;
    *LAST.lock().unwrap_or_else(|p| p.into_inner()) = Some((std::time::Instant::now(), t.clone()));
    Ok(t)
}

pub async fn overview(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Query(n): Query<Notice>,
) -> Response {
    let now = Utc::now();
    let (counts, backlog, day, week, hours) = match totals(&app, now).await {
        Ok(x) => x,
        Err(e) => return store_down(e),
    };
    let status = app.rules.status();
    let rs = app.rules.current();
    let refused: Vec<Value> = crate::server::unconfigured_sources(&rs)
        .into_iter()
        .map(|(name, env)| json!({"name": name, "env": env}))
        .collect();
    let max = hours.iter().copied().max().unwrap_or(0).max(1);
    let bars: Vec<Value> = hours
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let h = ((*n as f64 / max as f64) * 56.0)
                .round()
                .max(if *n > 0 { 1.0 } else { 0.0 });
            json!({"x": i * 10, "y": 58.0 - h, "h": h,
                   "label": format!("{n} events, {} to {} hours ago", 24 - i, 23 - i)})
        })
        .collect();
    let mut flows: BTreeMap<String, Value> = BTreeMap::new();
    for f in &week {
        let finished = f.succeeded + f.dead;
        flows.insert(f.flow.clone(), json!({"flow": f.flow, "week_events": f.events, "week_actions": f.actions,
            "day_events": 0, "day_actions": 0,
            "rate": if finished > 0 { format!("{}%", f.succeeded * 100 / finished) } else { "nothing finished yet".to_string() }}));
    }
    for f in &day {
        if let Some(v) = flows.get_mut(&f.flow) {
            v["day_events"] = json!(f.events);
            v["day_actions"] = json!(f.actions);
        }
    }
    let data = with(
        chrome(&s, "Overview"),
        json!({
            "nav": {"overview": true},
            "notice": n.notice,
            "failed_count": counts.dead,
            "version": status.version,
            "short_version": status.version.chars().take(12).collect::<String>(),
            "loaded_at": when(status.loaded_at),
            "loaded_ago": ago(status.loaded_at, now),
            "reload_error": status.last_error,
            "reloads": status.reloads,
            "failed_reloads": status.failed_reloads,
            "queue": {"due": backlog.due, "oldest": span(backlog.oldest_due_s), "scheduled": backlog.scheduled,
                      "failed": counts.failed, "dead": counts.dead},
            "sources_total": rs.sources.len(),
            "sources_served": rs.sources.len() - refused.len(),
            "refused": refused,
            "events_24h": hours.iter().sum::<i64>(),
            "max_hour": max,
            "bars": bars,
            "flows": flows.into_values().collect::<Vec<_>>(),
        }),
    );
    page("overview", data).into_response()
}

#[derive(Deserialize, Default)]
pub struct EventFilters {
    source: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    contact: Option<String>,
    q: Option<String>,
    /// A day (2026-11-30): events received from its start (UTC).
    since: Option<String>,
    before: Option<String>,
    notice: Option<String>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// An event's outcome from its actions' statuses: (words, badge class).
fn outcome(statuses: &std::collections::HashMap<String, i64>) -> (&'static str, &'static str) {
    let n = |k: &str| statuses.get(k).copied().unwrap_or(0);
    if statuses.is_empty() {
        ("nothing fired", "none")
    } else if n("dead") > 0 {
        ("failed", "dead")
    } else if n("failed") > 0 {
        ("retrying", "failing")
    } else if n("queued") + n("running") > 0 {
        ("pending", "pending")
    } else if n("succeeded") + n("suppressed") > 0 {
        ("all done", "done")
    } else {
        ("cancelled", "cancelled")
    }
}

pub async fn events(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Query(f): Query<EventFilters>,
) -> Response {
    const PAGE: i64 = 50;
    let before = f.before.as_deref().and_then(|b| {
        let (t, id) = b.split_once(':')?;
        Some((t.parse::<i64>().ok()?, id.to_string()))
    });
    let q = EventQuery {
        source: given(&f.source),
        event_type: given(&f.event_type),
        contact: given(&f.contact).map(|c| c.to_lowercase()),
        text: given(&f.q),
        since: given(&f.since).and_then(|d| {
            chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp_millis())
        }),
        before,
        limit: PAGE,
        search_reads: 0,
    };
    let found = match app.store.events_page(&q).await {
        Ok(r) => r,
        Err(e) => return store_down(e),
    };
    let rows = &found.rows;
    let next = found.next.as_ref().map(|(at, id)| {
        let mut params: Vec<(&str, String)> = Vec::new();
        for (k, v) in [
            ("source", &q.source),
            ("type", &q.event_type),
            ("contact", &q.contact),
            ("q", &q.text),
        ] {
            if let Some(v) = v {
                params.push((k, v.clone()));
            }
        }
        params.push(("before", format!("{at}:{id}")));
        let qs: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("/ui/events?{qs}")
    });
    let rs = app.rules.current();
    let sources: Vec<Value> = rs
        .sources
        .keys()
        .map(|n| json!({"name": n, "selected": q.source.as_deref() == Some(n)}))
        .collect();
    let events: Vec<Value> = rows
        .iter()
        .map(|e| {
            let (words, class) = outcome(&e.statuses);
            json!({"id": e.id, "received_at": e.received_at.to_rfc3339(), "when": when(e.received_at),
                   "email": e.email, "source": e.source, "event_type": e.event_type,
                   "flows": e.flows, "outcome": words, "outcome_class": class})
        })
        .collect();
    let filtered =
        q.source.is_some() || q.event_type.is_some() || q.contact.is_some() || q.text.is_some();
    let data = with(
        chrome(&s, "Events"),
        json!({"nav": {"events": true}, "notice": f.notice, "events": events, "next": next, "sources": sources,
               "searched_to": found.searched_to.map(|t| t.format("%a %-d %b %Y, %H:%M:%S UTC").to_string()),
               "searched": thousands(found.searched),
               "filtered": filtered,
               "filter": {"type": q.event_type, "contact": q.contact, "q": q.text, "since": given(&f.since)}}),
    );
    page("events", data).into_response()
}

pub async fn event(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Path(id): Path<String>,
    Query(n): Query<Notice>,
) -> Response {
    let ev = match app.store.event(&id).await {
        Ok(mut e) => {
            app.rules.explained(&app.store, &mut e).await;
            e
        }
        Err(crate::store::StoreError::NotFound(_)) => {
            return problem(
                StatusCode::NOT_FOUND,
                "No such event",
                "There is no event with that id. It may have been removed by the retention.",
            )
        }
        Err(e) => return store_down(e),
    };
    let mut details = match app.store.action_details(&id).await {
        Ok(d) => d,
        Err(e) => return store_down(e),
    };
    super::pages_event::render_bodies(&app.rules, &app.store, &id, &mut details).await;
    let zone = crate::engine::send_window::zone_of(&app.rules.current(), None);
    let mut view = super::pages_event::event_view(&ev, &details, &s, zone);
    // A stored event's emails can be previewed (see email_preview).
    view["stored"] = json!(true);
    // The request as it came: the body, and the headers kept with it, less
    // the ones that authenticate it (a signature or a token).
    if let Ok((body, headers)) = app.store.raw_event(&id).await {
        let rs = app.rules.current();
        let secret_header = rs
            .sources
            .get(ev["source"].as_str().unwrap_or(""))
            .and_then(|src| match &src.auth {
                crate::rules::model::Auth::HmacSha256 { header, .. }
                | crate::rules::model::Auth::SharedSecret { header, .. } => {
                    Some(header.to_ascii_lowercase())
                }
                _ => None,
            });
        let kept: Vec<Value> = headers
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let shown = if Some(k) == secret_header.as_ref() {
                    "(hidden: it authenticates the request)".to_string()
                } else {
                    words::value(v)
                };
                json!({"name": k, "value": shown})
            })
            .collect();
        let text = String::from_utf8_lossy(&body);
        // JSON is shown indented; anything else as it came.
        let pretty = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| text.into_owned());
        view["raw"] = json!({"body": pretty, "headers": kept});
    }
    let data = with(chrome(&s, "Event"), with(view, json!({"notice": n.notice})));
    page("event", data).into_response()
}

/// A planned email's HTML, for the sandboxed frame on the event page. It
/// is the event's text: no script runs, nothing loads, nothing navigates.
pub async fn email_preview(
    State(app): State<Arc<App>>,
    _signed: Signed,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let mut details = match app.store.action_details(&id).await {
        Ok(d) => d,
        Err(e) => return store_down(e),
    };
    super::pages_event::render_bodies(&app.rules, &app.store, &id, &mut details).await;
    let Some(html) = details
        .iter()
        .find(|a| a.id == action)
        .and_then(|a| a.payload["html"].as_str().map(str::to_string))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox",
            ),
        ],
        html,
    )
        .into_response()
}

pub async fn failed(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Query(n): Query<Notice>,
) -> Response {
    let rows = match app.store.failing(300).await {
        Ok(r) => r,
        Err(e) => return store_down(e),
    };
    let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for f in &rows {
        let state = if f.status == "dead" {
            "parked"
        } else {
            "will retry"
        };
        groups.entry(f.last_error.clone()).or_default().push(json!({
            "id": f.id, "event_id": f.event_id, "action": f.action, "contact": f.contact,
            "status": f.status, "state": state, "attempts": f.attempts,
            // A parked action is done with: retry it, or leave it.
            "cancellable": f.status == "failed",
        }));
    }
    let mut groups: Vec<Value> = groups
        .into_iter()
        .map(|(error, items)| json!({"error": error, "count": items.len(), "items": items}))
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g["count"].as_u64().unwrap_or(0)));
    let data = with(
        chrome(&s, "Failed"),
        json!({"nav": {"failed": true}, "notice": n.notice, "groups": groups, "failed_count": rows.iter().filter(|f| f.status == "dead").count()}),
    );
    page("failed", data).into_response()
}

#[derive(Deserialize, Default)]
pub struct FollowupFilters {
    contact: Option<String>,
    after: Option<String>,
    notice: Option<String>,
}

pub async fn followups(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Query(f): Query<FollowupFilters>,
) -> Response {
    const PAGE: i64 = 50;
    let now = Utc::now();
    let contact = given(&f.contact).map(|c| c.to_lowercase());
    let after = f.after.as_deref().and_then(|b| {
        let (t, id) = b.split_once(':')?;
        Some((t.parse::<i64>().ok()?, id.to_string()))
    });
    let rows = match app
        .store
        .scheduled_page(now, contact.as_deref(), after, PAGE)
        .await
    {
        Ok(r) => r,
        Err(e) => return store_down(e),
    };
    let next = (rows.len() as i64 == PAGE).then(|| {
        let last = &rows[rows.len() - 1];
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(c) = &contact {
            q.append_pair("contact", c);
        }
        q.append_pair(
            "after",
            &format!("{}:{}", last.due_at.timestamp_millis(), last.id),
        );
        format!("/ui/followups?{}", q.finish())
    });
    let items: Vec<Value> = rows
        .iter()
        .map(|a| {
            json!({"id": a.id, "event_id": a.event_id, "contact": a.contact,
                   "due": when(a.due_at), "in": ago(a.due_at, now),
                   "title": super::pages_event::title_of(&a.kind, &a.payload)})
        })
        .collect();
    let data = with(
        chrome(&s, "Follow-ups"),
        json!({"nav": {"followups": true}, "notice": f.notice, "items": items, "next": next, "contact": contact,
        // After a change, back to the same list.
        "back": match &contact {
            Some(c) => format!("/ui/followups?{}", form_urlencoded::Serializer::new(String::new()).append_pair("contact", c).finish()),
            None => "/ui/followups".to_string(),
        }}),
    );
    page("followups", data).into_response()
}

pub async fn contact(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Path(email): Path<String>,
) -> Response {
    const EVENTS: i64 = 20;
    let now = Utc::now();
    let contact = email.trim().to_lowercase();
    let q = EventQuery {
        contact: Some(contact.clone()),
        limit: EVENTS,
        ..EventQuery::default()
    };
    let (events, instances, scheduled) = match tokio::try_join!(
        app.store.events_page(&q),
        app.store.instances_of(&contact),
        app.store.scheduled_page(now, Some(&contact), None, 20),
    ) {
        Ok(x) => x,
        Err(e) => return store_down(e),
    };
    let events: Vec<Value> = events
        .rows
        .iter()
        .map(|e| {
            let (words, class) = outcome(&e.statuses);
            json!({"id": e.id, "when": when(e.received_at), "source": e.source, "event_type": e.event_type,
                   "flows": e.flows, "outcome": words, "outcome_class": class})
        })
        .collect();
    let instances: Vec<Value> = instances
        .iter()
        .map(|i| {
            let history: Vec<Value> = i["history"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|h| {
                    let d = &h["details"];
                    let words = match h["action"].as_str().unwrap_or("") {
                        "created" => format!("started in {}", words::value(&d["state"])),
                        "moved" => format!("moved from {} to {}", words::value(&d["from"]), words::value(&d["to"])),
                        "skipped" => format!(
                            "stayed in {} (a move to {} wasn't allowed from there)",
                            words::value(&d["state"]),
                            words::value(&d["wanted"])
                        ),
                        other => other.to_string(),
                    };
                    let at = h["timestamp"]
                        .as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| when(t.with_timezone(&Utc)))
                        .unwrap_or_default();
                    json!({"when": at, "words": words})
                })
                .collect();
            json!({"workflow": i["workflow"], "state": i["state"], "done": i["status"] == "Completed", "history": history})
        })
        .collect();
    let scheduled: Vec<Value> = scheduled
        .iter()
        .map(|a| json!({"event_id": a.event_id, "due": format!("{} ({})", when(a.due_at), ago(a.due_at, now)),
                        "title": super::pages_event::title_of(&a.kind, &a.payload)}))
        .collect();
    // Whether marketing email still reaches them.
    let suppressed = match app.store.suppression(&contact).await {
        Ok(found) => found.map(|x| {
            json!({"since": when(x.at), "why": super::email_page::reason_words(&x.reason), "detail": x.detail})
        }),
        Err(e) => return store_down(e),
    };
    let data = with(
        chrome(&s, &contact),
        json!({"contact": contact, "more": events.len() as i64 == EVENTS, "events": events,
               "instances": instances, "scheduled": scheduled, "suppressed": suppressed}),
    );
    page("contact", data).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_as_people_say_them() {
        let now = chrono::Utc::now();
        let h = chrono::Duration::hours;
        assert_eq!(super::ago(now - h(2), now), "2 hours ago");
        assert_eq!(super::ago(now + h(25), now), "in 1 day");
        assert_eq!(
            super::ago(now + chrono::Duration::minutes(1), now),
            "in 1 minute"
        );
        assert_eq!(super::ago(now, now), "just now");
    }

    #[test]
    fn counts_read_with_thousands_marked() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (5_000, "5,000"),
            (1_234_567, "1,234,567"),
        ];
        for (n, words) in cases {
            assert_eq!(super::thousands(n), words);
        }
    }
}
