//! One event as the "why" page shows it: what hsflow does about it (each
//! action in words, with what it sends), why (every rule it met, each
//! condition with its verdict and the value it saw), and what the event
//! said. Built from the stored event and its actions; nothing is re-planned.

use std::collections::BTreeMap;

use chrono::Utc;
use chrono_tz::Tz;
use serde_json::{json, Value};

use super::session::Session;
use super::words;
use crate::engine::send_window::both_clocks;
use crate::store::browse::ActionDetail;

fn status_words(status: &str) -> &'static str {
    match status {
        "queued" => "waiting",
        "running" => "running",
        "succeeded" => "done",
        "failed" => "will retry",
        "dead" => "parked",
        "cancelled" => "cancelled",
        "suppressed" => "not sent (unsubscribed)",
        "planned" => "would run",
        _ => "unknown",
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

/// What an action does, in a line.
fn title(a: &ActionDetail) -> String {
    title_of(&a.kind, &a.payload)
}

/// What an action of `kind` carrying `p` does, in a line.
pub fn title_of(kind: &str, p: &Value) -> String {
    match kind {
        "email" => format!("Email “{}” to {}", s(p, "subject"), s(p, "to")),
        "notify" => format!(
            "Tell {}{}",
            s(p, "channel"),
            if p["urgent"] == true { " (urgent)" } else { "" }
        ),
        "task" => format!("Task for {}: {}", s(p, "assignee"), s(p, "title")),
        "notion" => {
            let op = match s(p, "operation") {
                "create" => "Add",
                "update" => "Update",
                _ => "Add or update",
            };
            format!("{op} a page in {}", s(p, "database"))
        }
        "workflow" => format!("Move {} to {}", s(p, "workflow"), s(p, "to_state")),
        "webhook" => format!("Call {} {}", s(p, "method").to_uppercase(), s(p, "url")),
        "beehiiv" => format!("Subscribe {} to the newsletter", s(p, "email")),
        "hubspot" => format!("Add or update {} in HubSpot", s(p, "email")),
        "enrich" => {
            let steps: Vec<&str> = p["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match p["url"].as_str() {
                Some(url) => format!("Fetch the {} from {url}", steps.join(" and ")),
                None => format!(
                    "Fetch the {} from the API of source {}",
                    steps.join(" and "),
                    s(p, "source")
                ),
            }
        }
        other => other.to_string(),
    }
}

/// A Notion property body as a person reads it; an instant on the network's
/// clock (a date, or a date on an entity's clock, stays as written).
fn notion_value(prop: &Value, zone: Tz) -> String {
    let names = |a: &Value| {
        a.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["name"].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(sel) = prop.get("select").or_else(|| prop.get("status")) {
        return sel["name"].as_str().unwrap_or("none").to_string();
    }
    if let Some(m) = prop.get("multi_select") {
        return names(m);
    }
    if let Some(d) = prop.get("date") {
        let start = d["start"].as_str().unwrap_or("none");
        return match chrono::DateTime::parse_from_rfc3339(start) {
            Ok(t) => both_clocks(t.with_timezone(&Utc), zone),
            Err(_) => start.to_string(),
        };
    }
    if let Some(n) = prop.get("number") {
        return words::value(n);
    }
    if let Some(c) = prop.get("checkbox") {
        return if c == true { "yes" } else { "no" }.to_string();
    }
    crate::store::notion_local::plain(prop)
}

/// What happened to an email after it was sent, in words, with the time.
fn activity_words(activity: &Value, zone: Tz) -> Vec<String> {
    activity
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            let at = x["at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&zone).format(" %-d %b %H:%M").to_string())
                .unwrap_or_default();
            let detail = x["detail"].as_str().unwrap_or("");
            let what = match x["what"].as_str().unwrap_or("") {
                "sent" => "sent".to_string(),
                "opened" => "opened".to_string(),
                "clicked" => format!("clicked {detail}"),
                "unsubscribed" => "the reader unsubscribed".to_string(),
                "complained" => "the reader marked it as spam".to_string(),
                "bounced" => format!("bounced ({detail})"),
                "suppressed" => "not sent: the address is unsubscribed".to_string(),
                other => other.to_string(),
            };
            format!("{what}{at}")
        })
        .collect()
}

fn action_view(a: &ActionDetail, can_change: bool, zone: Tz, activity: &Value) -> Value {
    let now = Utc::now();
    let due = both_clocks(a.due_at, zone);
    let timing = match a.status.as_str() {
        "planned" => format!("at {due}"),
        "queued" | "failed" if a.due_at > now => format!("due {due}"),
        "queued" | "failed" => format!("due since {due}"),
        _ => format!("was due {due}"),
    };
    let p = &a.payload;
    let mut v = json!({
        "id": a.id, "action": a.action, "status": a.status, "status_words": status_words(&a.status),
        "title": title(a), "timing": timing, "attempts": a.attempts, "plural": a.attempts != 1,
        "last_error": a.last_error.as_deref().or(p["error"].as_str()),
        // A cancelled or suppressed action's reason is no error.
        "error_label": if matches!(a.status.as_str(), "cancelled" | "suppressed") { "Why" } else { "Last error" },
        "can_change": can_change,
        "retryable": matches!(a.status.as_str(), "dead" | "failed" | "cancelled"),
        "cancellable": matches!(a.status.as_str(), "queued" | "failed"),
        // Why it runs when it does (a send window held it), as the planner said.
        "notes": p["notes"],
        // What became of an email: opened, clicked, unsubscribed.
        "activity": activity_words(activity, zone),
    });
    match a.kind.as_str() {
        "email" => {
            v["email"] =
                json!({"to": s(p, "to"), "subject": s(p, "subject"), "text": s(p, "text")});
        }
        "notify" => v["text"] = json!(s(p, "text")),
        "task" => v["text"] = json!(p["description"].as_str().unwrap_or("")),
        "notion" => {
            let props: Vec<Value> = p["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, prop)| json!({"name": k, "value": notion_value(prop, zone)}))
                .collect();
            v["properties"] = json!(props);
            v["database"] = json!(s(p, "database"));
        }
        _ => {}
    }
    v
}

/// The event page's data; times are shown on the wall clock of `zone` (the
/// network's) with UTC beside them.
pub fn event_view(ev: &Value, details: &[ActionDetail], session: &Session, zone: Tz) -> Value {
    let can_change = session.role.can_change();
    let activity = |id: &str| {
        ev["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["id"] == id)
            .map_or(Value::Null, |x| x["email_activity"].clone())
    };
    let actions: Vec<Value> = details
        .iter()
        .map(|a| action_view(a, can_change, zone, &activity(&a.id)))
        .collect();
    let mut flows: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut fired = Vec::new();
    for r in ev["trace"]["rules"].as_array().into_iter().flatten() {
        let conditions = conditions_view(&r["conditions"]);
        if r["matched"] == true {
            fired.push(r["id"].as_str().unwrap_or("").to_string());
        }
        flows
            .entry(r["flow"].as_str().unwrap_or("").to_string())
            .or_default()
            .push(
                json!({"id": r["id"], "matched": r["matched"] == true, "conditions": conditions}),
            );
    }
    let count = |st: &str| details.iter().filter(|a| a.status == st).count();
    let mut parts = Vec::new();
    for (st, word) in [
        ("succeeded", "done"),
        ("queued", "waiting"),
        ("running", "running"),
        ("failed", "failing and will be retried"),
        ("dead", "parked"),
        ("cancelled", "cancelled"),
        ("suppressed", "not sent to an unsubscribed address"),
        ("planned", "would run"),
    ] {
        let n = count(st);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    // Stored before it could be read: its source fetches from an API first.
    let fetch = details.iter().find(|a| a.kind == "enrich");
    let summary = if let Some(f) = fetch.filter(|_| ev["trace"]["awaiting_fetch"].is_array()) {
        match f.status.as_str() {
            "dead" => "hsflow could not fetch what this webhook points to, so no rule has read it yet. The reason is below. If it can be put right (the credentials, the sender's API back up), press Retry and the event is planned; if the record no longer exists at the sender (deleted, or a test booking), there is nothing to do.".to_string(),
            "failed" => "hsflow could not fetch what this webhook points to yet and will try again (the reason is below); the rules read the event once the answer arrives.".to_string(),
            _ => "Waiting for what this webhook points to: hsflow is fetching it from the sender's API, and the rules read the event once the answer arrives.".to_string(),
        }
    } else if details.is_empty() {
        "No rule fired, so hsflow does nothing about this event.".to_string()
    } else {
        format!(
            "{} action{}: {}. Rules that fired: {}.",
            details.len(),
            if details.len() == 1 { "" } else { "s" },
            parts.join(", "),
            fired.join(", ")
        )
    };
    let fields: Vec<Value> = ev["fields"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| json!({"name": k, "value": words::value(v)}))
        .collect();
    let received = ev["received_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| both_clocks(t.with_timezone(&Utc), zone))
        .unwrap_or_default();
    json!({
        "event": ev,
        // Stored before it could be read: no fields and no rules yet.
        "awaiting": ev["trace"]["awaiting_fetch"].is_array(),
        "email": ev["fields"]["email"],
        "received": received,
        "short_version": s(ev, "ruleset_version").chars().take(12).collect::<String>(),
        "summary": summary,
        "actions": actions,
        "flows": flows.into_iter().map(|(flow, rules)| json!({"flow": flow, "rules": rules})).collect::<Vec<_>>(),
        // What an [[enrich]] source fetched before the webhook was read.
        "fetched": ev["trace"]["enrich"].as_array().into_iter().flatten().map(|t| {
            let tries = t["tries"].as_u64().unwrap_or(1);
            format!(
                "{} {} answered {}{}",
                t["method"].as_str().unwrap_or("GET"),
                t["url"].as_str().unwrap_or(""),
                t["status"].as_u64().map_or_else(|| "from a file".to_string(), |s| s.to_string()),
                if tries > 1 { format!(" after {tries} tries") } else { String::new() }
            )
        }).collect::<Vec<_>>(),
        "entities": entities_view(&ev["trace"]),
        "routing": routing_view(&ev["trace"]),
        "fields": fields,
    })
}

/// Who acts for the event, and why, in words (older events stored names only).
fn entities_view(trace: &Value) -> Vec<Value> {
    if let Some(list) = trace["entities_why"].as_array() {
        return list
            .iter()
            .map(|e| {
                let why = match (e["why"].as_str(), e["rule"].as_str()) {
                    (Some("route"), _) => "routed by entities.toml".to_string(),
                    (Some("explicit"), _) => "named by the sender".to_string(),
                    (Some("fallback"), _) => "no route matched: the fallback".to_string(),
                    (_, Some(rule)) => format!("through rule {rule}"),
                    _ => "through a rule".to_string(),
                };
                json!({"name": e["name"], "why": why})
            })
            .collect();
    }
    trace["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| json!({"name": n}))
        .collect()
}

/// The routing step, route by route, with each condition in words.
fn routing_view(trace: &Value) -> Vec<Value> {
    trace["routing"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let conditions = conditions_view(&r["conditions"]);
            let name = if r["name"].is_string() {
                &r["name"]
            } else {
                &r["entity"]
            };
            json!({"entity": name, "matched": r["matched"] == true, "conditions": conditions})
        })
        .collect()
}

/// Verdicts (of a rule or a route) in words, each with its mark.
fn conditions_view(conditions: &Value) -> Vec<Value> {
    conditions
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let result = c["result"] == true;
            json!({"result": result,
                   "words": words::condition(c["expr"].as_str().unwrap_or(""), result, &c["values"])})
        })
        .collect()
}

/// Render the bodies of the emails among `details` that were stored without
/// them (engine::deferred), so the page shows what is or was sent. One that
/// can't be rendered says why in place of its text.
pub async fn render_bodies(
    rules: &crate::server::rules::SharedRules,
    store: &crate::store::Store,
    event_id: &str,
    details: &mut [crate::store::browse::ActionDetail],
) {
    for d in details
        .iter_mut()
        .filter(|d| d.payload["bodies_later"] == true)
    {
        let Ok(mut action) =
            serde_json::from_value::<crate::engine::payload::PlannedAction>(d.payload.clone())
        else {
            continue;
        };
        match rules
            .render_later(store, event_id, &d.ruleset_version, &mut action)
            .await
        {
            Ok(()) => {
                if let Ok(v) = serde_json::to_value(&action) {
                    d.payload = v;
                }
            }
            Err(e) => {
                let why = format!("(This email's text can't be shown: {e}.)");
                d.payload["text"] = why.clone().into();
                d.payload["html"] = why.into();
            }
        }
    }
}
