//! The rules in force, written out in words: each flow and its rules ("When
//! a typeform form_response arrives and contact types contains any of
//! Artist: tell gallery-curator now; a task for Gallery Curator after 2h"),
//! the entity routing and the lead-source timing as tables, each flow with
//! the file it comes from. Read-only.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::act::chrome;
use super::pages::Signed;
use super::render::page;
use super::words;
use crate::engine::condition::Condition;
use crate::rules::ruleset::{Action, ActionKind, NotifyBody, Rule, RuleSet};
use crate::server::App;

/// A condition in words; `None` for one that is always true.
pub fn condition(c: &Condition) -> Option<String> {
    match c {
        Condition::All(v) => {
            let parts: Vec<String> = v.iter().filter_map(condition).collect();
            (!parts.is_empty()).then(|| parts.join(" and "))
        }
        Condition::Any(v) => {
            let parts: Vec<String> = v.iter().filter_map(condition).collect();
            (!parts.is_empty()).then(|| format!("either {}", parts.join(" or ")))
        }
        Condition::Not(inner) => condition(inner).map(|w| format!("not ({w})")),
        Condition::Test(t) => Some(words::test(&t.text)),
        Condition::Expr(e) => Some(e.text().to_string()),
        Condition::Time(t) => Some(t.text.replace('_', " ")),
    }
}

/// A template as a reader sees it: `{{first_name}}` as [first name], and
/// `{{#if a}}A{{else}}B{{/if}}` as "A or B".
fn readable(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = rest[start + 2..start + end].trim();
        if inner == "else" {
            out.push_str(" or ");
        } else if !(inner.starts_with('#') || inner.starts_with('/')) {
            out.push_str(&format!("[{}]", inner.replace('_', " ")));
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

fn action(a: &Action) -> String {
    let what = match &a.kind {
        ActionKind::Email { template, .. } => format!("the {template} email"),
        ActionKind::Notify {
            channel,
            urgent,
            body,
            ..
        } => {
            let text = match body {
                NotifyBody::Template(t) => format!(" (the {t} message)"),
                NotifyBody::Text(_) => String::new(),
            };
            format!(
                "tell {channel}{}{text}",
                if *urgent { ", urgently" } else { "" }
            )
        }
        ActionKind::Task {
            title, assignee, ..
        } => format!(
            "a task for {}: “{}”",
            readable(assignee.source()),
            readable(title.source())
        ),
        ActionKind::Notion {
            database,
            operation,
            ..
        } => format!(
            "{} a page in {database}",
            match operation {
                crate::rules::model::NotionOperation::Create => "add",
                crate::rules::model::NotionOperation::Update => "update",
                crate::rules::model::NotionOperation::Upsert => "add or update",
            }
        ),
        ActionKind::Webhook { url, .. } => format!("call {}", readable(url.source())),
        ActionKind::Workflow { workflow, to, .. } => format!("move {workflow} to {to}"),
        ActionKind::FollowUp { .. } => {
            "the lead source's first response and follow-up emails".to_string()
        }
        ActionKind::Beehiiv { .. } => "subscribe the contact to the newsletter".to_string(),
        ActionKind::Hubspot { .. } => "add or update the contact in HubSpot".to_string(),
    };
    let when = match (&a.at, a.delay_s) {
        (Some(at), _) => at.text.clone(),
        (None, 0) => "now".to_string(),
        (None, d) => format!("after {}", words::span(d)),
    };
    format!("{what} {when}")
}

fn rule(r: &Rule, rs: &RuleSet) -> Value {
    let on: Vec<String> = r.on.iter().map(|p| p.text.replace(':', " ")).collect();
    let mut sentence = format!("When {} arrives", on.join(" or "));
    if let Some(e) = &r.for_entity {
        let name = rs.entity(e).map_or(e.to_string(), |x| x.name.to_string());
        sentence.push_str(&format!(" for a contact routed to {name}"));
    }
    if let Some(w) = condition(&r.when) {
        sentence.push_str(&format!(" and {w}"));
    }
    let actions: Vec<String> = r.actions.iter().map(action).collect();
    sentence.push_str(&format!(": {}.", actions.join("; ")));
    let cancels: Vec<String> = r
        .cancel_on
        .iter()
        .map(|p| p.text.replace(':', " "))
        .collect();
    json!({
        "id": r.id, "description": r.description, "enabled": r.enabled,
        "at": format!("rules/{}:{}", r.written_at.0.display(), r.written_at.1),
        "sentence": sentence,
        "cancels": (!cancels.is_empty()).then(|| format!("Its pending actions are cancelled when {} arrives for the same contact.", cancels.join(" or "))),
    })
}

pub async fn show(State(app): State<Arc<App>>, Signed(s): Signed) -> Response {
    let rs = app.rules.current();
    let flows: Vec<Value> = rs
        .flows
        .iter()
        .map(|f| {
            let rules: Vec<Value> = rs.rules.iter().filter(|r| *r.flow == *f.id).map(|r| rule(r, &rs)).collect();
            json!({"id": f.id, "description": f.description, "file": f.file.display().to_string(), "rules": rules})
        })
        .collect();
    let name_of = |id: &str| {
        rs.entities
            .entities
            .iter()
            .find(|e| &*e.id == id)
            .map(|e| e.name.to_string())
            .unwrap_or_else(|| id.to_string())
    };
    let routes: Vec<Value> = rs
        .entities
        .routes
        .iter()
        .map(|(e, c)| json!({"entity": name_of(e), "when": condition(c).unwrap_or_else(|| "always".to_string())}))
        .collect();
    let leads: Vec<Value> = rs
        .lead_sources
        .iter()
        .flat_map(|t| t.sources.iter())
        .map(|l| {
            let days: Vec<String> = l.follow_ups.iter().map(|(d, t)| format!("day {d}: {t}")).collect();
            json!({"id": l.id, "values": l.values.join(", "), "first": words::span(l.first_response_s),
                   "follow_ups": if days.is_empty() { "none".to_string() } else { days.join("; ") }})
        })
        .collect();
    let mut data = chrome(&s, "Rules");
    data["nav"] = json!({"rules": true});
    data["version"] = json!(rs.version.chars().take(12).collect::<String>());
    data["flows"] = json!(flows);
    data["routes"] = json!(routes);
    data["fallback"] = json!(rs.entities.fallback.as_deref().map(name_of));
    data["leads"] = json!(leads);
    let now = chrono::Utc::now();
    let schedules: Vec<Value> = rs
        .schedules
        .iter()
        .map(|s| {
            let next: Vec<Value> = s
                .timing
                .upcoming(now, 5)
                .into_iter()
                .map(|(local, utc)| json!({"local": local, "utc": utc}))
                .collect();
            json!({"id": s.id, "when": s.timing.describe(), "query": s.query, "next": next})
        })
        .collect();
    data["schedules"] = json!(schedules);
    data["windows"] = json!(windows(&rs, now));
    data["lead_field"] = json!(rs.lead_sources.as_ref().map(|t| t.field.clone()));
    page("rules", data).into_response()
}

/// Each send window: its hours, whether it is open now, its next closed
/// days, and whether its closed dates are about to run out.
fn windows(rs: &RuleSet, now: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    let network = crate::engine::send_window::zone_of(rs, None);
    let emails_of: Vec<(&str, String)> = rs
        .entities
        .entities
        .iter()
        .filter_map(|e| Some((e.email_window.as_ref()?.id.as_ref(), e.name.to_string())))
        .collect();
    rs.windows
        .values()
        .map(|w| {
            let zone = w.zone_or(network);
            let today = now.with_timezone(&zone).date_naive();
            let closed: Vec<Value> = w
                .closed_days(today, 3)
                .into_iter()
                .map(|(d, name)| json!({"day": d.format("%a %-d %b %Y").to_string(), "name": name}))
                .collect();
            let last = w.last_closed();
            let runs_out = last.is_some_and(|l| l - today < chrono::Duration::days(90));
            let used_by: Vec<&str> = emails_of.iter().filter(|(id, _)| *id == &*w.id).map(|(_, n)| n.as_str()).collect();
            json!({"id": w.id, "description": w.description, "hours": w.hours.join(", "), "zone": zone.name(), "own_zone": w.zone.is_some(),
                   "state": w.state_at(now, zone), "closed": closed,
                   "last": last.map(|l| l.format("%-d %B %Y").to_string()), "runs_out": runs_out,
                   "used_by": used_by.join(", ")})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn templates_read_as_text_with_their_blanks() {
        assert_eq!(
            super::readable(
                "Review {{#if first_name}}{{first_name}}{{else}}{{email}}{{/if}}'s work"
            ),
            "Review [first name] or [email]'s work"
        );
        assert_eq!(super::readable("Call {{email}} now"), "Call [email] now");
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(super::words::span(0), "at once");
        assert_eq!(super::words::span(7200), "2 hours");
        assert_eq!(super::words::span(86_400), "1 day");
        assert_eq!(super::words::span(90), "90 seconds");
    }
}
