//! Plans explained for a person: which rules fired and why, which did not and
//! why not, and every action with its timing and rendered text.

use std::fmt::Write as _;

use crate::engine::action::{Payload, PlannedAction};
use crate::engine::condition::Verdict;
use crate::engine::plan::Plan;
use crate::engine::routing::Why;
use crate::engine::send_window::both_clocks;
use chrono_tz::Tz;

/// An enum as its rule-file word ("high", "upsert", "POST").
fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// "+0m", "+2h", "+1d 6h", "+1w".
pub fn delay(secs: i64) -> String {
    if secs <= 0 {
        return "now".into();
    }
    let (d, h, m) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    match (d, h, m) {
        (0, 0, m) => format!("+{m}m"),
        (0, h, 0) => format!("+{h}h"),
        (0, h, m) => format!("+{h}h{m}m"),
        (d, 0, 0) if d % 7 == 0 => format!("+{}w", d / 7),
        (d, 0, 0) => format!("+{d}d"),
        (d, h, 0) => format!("+{d}d{h}h"),
        (d, h, m) => format!("+{d}d{h}h{m}m"),
    }
}

fn indent(text: &str, by: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("{by}{l}\n"))
        .collect()
}

pub fn plan_human(p: &Plan) -> String {
    let mut o = String::new();
    let e = &p.event;
    let zone: Tz = p.zone.parse().unwrap_or(Tz::UTC);
    let _ = writeln!(
        o,
        "Event {}:{} (id {}) at {}",
        e.source,
        e.event_type,
        e.id,
        both_clocks(e.received_at, zone)
    );
    for (k, v) in e.fields.iter() {
        let _ = writeln!(o, "  {k} = {v}");
    }
    let _ = writeln!(o, "\nRouting (rules/entities.toml):");
    for r in &p.routing {
        let _ = writeln!(
            o,
            "  [{}] {} ({})",
            if r.matched { "routed" } else { "no" },
            r.name,
            r.entity
        );
        conditions_human(&mut o, &r.conditions);
    }
    let _ = writeln!(o, "\nEntities acting for this event:");
    if p.entities_why.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for e in &p.entities_why {
        let why = match (e.why, &e.rule) {
            (Why::Route, _) => "a route in entities.toml".to_string(),
            (Why::Explicit, _) => "named by the sender".to_string(),
            (Why::Fallback, _) => "the fallback: no route matched".to_string(),
            (Why::Rule, Some(rule)) => format!("rule `{rule}` acts for it"),
            (Why::Rule, None) => "a rule acts for it".to_string(),
        };
        let _ = writeln!(o, "  {} ({why})", e.name);
    }
    let _ = writeln!(o, "\nRules considered ({}):", p.rules.len());
    if p.rules.is_empty() {
        let _ = writeln!(
            o,
            "  none: no rule listens to {}:{}",
            e.source, e.event_type
        );
    }
    for r in &p.rules {
        let _ = writeln!(
            o,
            "  [{}] {} ({})",
            if r.matched { "fired" } else { "no" },
            r.id,
            r.flow
        );
        conditions_human(&mut o, &r.conditions);
        if r.conditions.is_empty() {
            let _ = writeln!(o, "      (no conditions: fires on every such event)");
        }
    }
    let _ = writeln!(o, "\nActions ({}):", p.actions.len());
    for a in &p.actions {
        action_human(&mut o, a, zone);
    }
    if !p.cancels.is_empty() {
        let _ = writeln!(o, "\nCancels pending actions of:");
        for c in &p.cancels {
            let _ = writeln!(o, "  {} ({}) for {}", c.rule, c.flow, c.contact);
        }
    }
    for n in &p.notes {
        let _ = writeln!(o, "\nnote: {n}");
    }
    let _ = writeln!(
        o,
        "\nrules version {}",
        &p.ruleset_version[..12.min(p.ruleset_version.len())]
    );
    o
}

fn action_human(o: &mut String, a: &PlannedAction, zone: Tz) {
    let who = a.entity.as_deref().unwrap_or("-");
    let head = match &a.payload {
        Payload::Email {
            to,
            template,
            variant,
            category,
            ..
        } => match variant {
            Some(v) => format!(
                "email to {to} (template {template}, variant {v}, {})",
                category.word()
            ),
            None => format!("email to {to} (template {template}, {})", category.word()),
        },
        Payload::Task {
            title,
            assignee,
            priority,
            due_at,
            ..
        } => format!(
            "task for {assignee}, {} priority, due {}: {title}",
            word(priority),
            both_clocks(*due_at, zone)
        ),
        Payload::Notify {
            channel, urgent, ..
        } => format!("notify {channel}{}", if *urgent { " (urgent)" } else { "" }),
        Payload::Notion {
            database,
            operation,
            match_on,
            ..
        } => format!(
            "notion {} in {database}{}",
            word(operation),
            match_on
                .as_ref()
                .map(|m| format!(" matching {} = {}", m.property, m.value))
                .unwrap_or_default()
        ),
        Payload::Webhook { url, method, .. } => format!("webhook {} {url}", word(method)),
        Payload::Beehiiv {
            email, utm_source, ..
        } => format!(
            "beehiiv subscription for {email}{}",
            utm_source
                .as_ref()
                .map(|s| format!(" (source {s})"))
                .unwrap_or_default()
        ),
        Payload::Hubspot { email, properties } => format!(
            "hubspot contact {email} ({})",
            properties.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        Payload::Workflow {
            workflow,
            to_state,
            from_states,
            ..
        } => format!(
            "workflow {workflow} -> {to_state}{}",
            if from_states.is_empty() {
                String::new()
            } else {
                format!(" (from {})", from_states.join(" or "))
            }
        ),
    };
    let _ = writeln!(
        o,
        "  {:>7}  {head}   [{who}; rule {}]",
        delay(a.delay_s),
        a.rule
    );
    if a.delay_s > 0 {
        let _ = writeln!(o, "           runs {}", both_clocks(a.run_at, zone));
    }
    if let Some(err) = &a.error {
        let _ = writeln!(o, "           NOT SENT: {err}");
    }
    match &a.payload {
        Payload::Email { subject, text, .. } if a.error.is_none() => {
            let _ = writeln!(o, "           Subject: {subject}");
            o.push_str(&indent(text, "           | "));
        }
        Payload::Notify { text, .. } if a.error.is_none() => {
            o.push_str(&indent(text, "           | "))
        }
        Payload::Notion { properties, .. } => {
            let _ = writeln!(
                o,
                "           properties: {}",
                serde_json::Value::Object(properties.clone())
            );
        }
        _ => {}
    }
    for n in &a.notes {
        let _ = writeln!(o, "           note: {n}");
    }
}

/// Each verdict of a rule or a route, with the values it compared.
fn conditions_human(o: &mut String, conditions: &[Verdict]) {
    for c in conditions {
        let values = if c.expr.starts_with(crate::engine::routing::FOR_ENTITY_EXPR) {
            // The routing step: where this event went, in the businesses' names.
            let went: Vec<&str> = c
                .values
                .get("routed_to")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect();
            match went.is_empty() {
                true => "this event went to no business: no route matched".to_string(),
                false => format!("this event went to {}", went.join(", ")),
            }
        } else {
            let values: Vec<String> = c.values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            values.join(", ")
        };
        let _ = writeln!(
            o,
            "      {} {}   ({values})",
            if c.result { "yes" } else { "NO " },
            c.expr,
        );
        for n in &c.notes {
            let _ = writeln!(o, "          note: {n}");
        }
    }
}
