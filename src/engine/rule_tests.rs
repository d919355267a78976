//! Running the rule test cases of `rules/tests/` (`hsflow test`).
//!
//! A case feeds one event through intake and planning, exactly as the server
//! would, and compares the plan with its expectations. Failures say what was
//! expected and what was planned instead, naming the closest action.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::action::PlannedAction;
use super::plan::{plan, Options, Plan};
use crate::rules::model::{BodyFormat, ExpectedAction, TestCase};
use crate::rules::RuleSet;
use crate::sources::intake::intake_enriched;
use crate::sources::normalise::Request;

/// The arrival time of a case that doesn't give one.
pub const DEFAULT_AT: &str = "2026-01-05T15:00:00Z";

pub struct CaseResult {
    pub name: String,
    pub failures: Vec<String>,
}

/// The request body of a case, encoded as its source expects.
fn body(rs: &RuleSet, case: &TestCase, root: &Path) -> Result<Vec<u8>, String> {
    if let Some(f) = &case.payload_file {
        return std::fs::read(root.join(f)).map_err(|e| format!("could not read {f}: {e}"));
    }
    let payload = case.payload.clone().unwrap_or(Value::Null);
    let form = rs
        .sources
        .get(&case.source)
        .is_some_and(|s| s.format == BodyFormat::FormUrlencoded);
    if form {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in payload.as_object().into_iter().flatten() {
            ser.append_pair(
                k,
                &v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            );
        }
        Ok(ser.finish().into_bytes())
    } else {
        serde_json::to_vec(&payload).map_err(|e| e.to_string())
    }
}

pub fn run_case(rs: &RuleSet, case: &TestCase, root: &Path) -> CaseResult {
    let mut failures = Vec::new();
    let result = |failures| CaseResult {
        name: case.name.clone(),
        failures,
    };
    let at = case.at.as_deref().unwrap_or(DEFAULT_AT);
    let at: DateTime<Utc> = match DateTime::parse_from_rfc3339(at) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => return result(vec![format!("`at` is not an RFC 3339 time: {e}")]),
    };
    let body = match body(rs, case, root) {
        Ok(b) => b,
        Err(e) => return result(vec![e]),
    };
    let headers: Vec<(String, String)> = case
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let req = Request {
        headers: &headers,
        body: &body,
    };
    let enriched = match &case.enriched {
        None => None,
        Some(file) => match crate::sources::enrich::read_answers(&root.join(file)) {
            Ok(v) => Some(v),
            Err(e) => return result(vec![format!("`enriched` {file}: {e}")]),
        },
    };
    let event = match (
        intake_enriched(
            rs,
            &case.source,
            &req,
            at,
            false,
            &|_| None,
            enriched.as_ref(),
        )
        .map(|(e, _)| e),
        &case.expect.error,
    ) {
        (Err(e), Some(want)) if e.to_string().contains(want.as_str()) => return result(vec![]),
        (Err(e), Some(want)) => {
            return result(vec![format!(
                "expected the event to be refused with {want:?}, but it was refused with: {e}"
            )])
        }
        (Err(e), None) => return result(vec![format!("the event was refused: {e}")]),
        (Ok(_), Some(want)) => {
            return result(vec![format!(
                "expected the event to be refused with {want:?}, but it was accepted"
            )])
        }
        (Ok(ev), None) => ev,
    };
    let p = plan(rs, &event, Options::default());
    check(&p, case, &mut failures);
    result(failures)
}

fn check(p: &Plan, case: &TestCase, failures: &mut Vec<String>) {
    let x = &case.expect;
    for r in &x.matched {
        match p.rules.iter().find(|t| *t.id == **r) {
            Some(t) if t.matched => {}
            Some(t) => {
                let why: Vec<String> = t
                    .conditions
                    .iter()
                    .filter(|c| !c.result)
                    .map(|c| {
                        format!(
                            "      {} was false ({})",
                            c.expr,
                            serde_json::Value::Object(c.values.clone())
                        )
                    })
                    .collect();
                failures.push(format!(
                    "expected rule `{r}` to match, but it did not:\n{}",
                    why.join("\n")
                ));
            }
            None => failures.push(format!(
                "expected rule `{r}` to match, but it doesn't listen to {}:{}",
                p.event.source, p.event.event_type
            )),
        }
    }
    for r in &x.not_matched {
        if p.rules.iter().any(|t| *t.id == **r && t.matched) {
            failures.push(format!("expected rule `{r}` not to match, but it did"));
        }
    }
    if let Some(want) = &x.entities {
        let mut w = want.clone();
        let mut g = p.entities.clone();
        w.sort();
        g.sort();
        if w != g {
            failures.push(format!("entities: expected {want:?}, got {:?}", p.entities));
        }
    }
    let expects_error = x.actions.iter().any(|a| a.fields.contains_key("error"));
    for a in &p.actions {
        if let (Some(e), false) = (&a.error, expects_error) {
            failures.push(format!("action {} can't be carried out: {e}", a.id));
        }
    }
    for want in &x.actions {
        if let Err(msg) = find(p, want) {
            failures.push(msg);
        }
    }
    for r in &x.cancels {
        if !p.cancels.iter().any(|c| *c.rule == **r) {
            let got: Vec<&str> = p.cancels.iter().map(|c| &*c.rule).collect();
            failures.push(format!(
                "expected the event to cancel `{r}`'s pending actions; it cancels {got:?}"
            ));
        }
    }
    for kind in &x.no_actions {
        let found: Vec<&str> = p
            .actions
            .iter()
            .filter(|a| a.payload.kind() == kind)
            .map(|a| &*a.id)
            .collect();
        if !found.is_empty() {
            failures.push(format!(
                "expected no {kind} action, but planned: {}",
                found.join(", ")
            ));
        }
    }
}

/// The differences between an expectation and one planned action (empty: it matches).
fn differences(a: &PlannedAction, want: &ExpectedAction) -> Vec<String> {
    let mut d = Vec::new();
    let actual = serde_json::to_value(a).unwrap_or(Value::Null);
    if a.payload.kind() != want.kind {
        d.push(format!(
            "kind: expected {}, got {}",
            want.kind,
            a.payload.kind()
        ));
        return d;
    }
    if let Some(r) = &want.rule {
        if *a.rule != **r {
            d.push(format!("rule: expected {r}, got {}", a.rule));
        }
    }
    if let Some(delay) = want.delay {
        if a.delay_s != delay.secs() as i64 {
            let mut said = format!(
                "delay: expected {} ({delay}), got {} (runs {})",
                crate::rules::model::time::in_words(delay.secs()),
                crate::rules::model::time::in_words(a.delay_s.unsigned_abs()),
                a.run_at.to_rfc3339()
            );
            // A send window is the usual reason a delay is longer than written.
            if let Some(note) = a.notes.iter().find(|n| n.starts_with("held for")) {
                said.push_str(&format!("; {note}"));
            }
            d.push(said);
        }
    }
    if let Some(c) = &want.contains {
        let texts = ["subject", "text", "html", "title", "description"]
            .iter()
            .filter_map(|k| actual.get(*k).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n");
        if !texts.contains(c.as_str()) {
            d.push(format!(
                "contains: expected the text to contain {c:?}; it reads {texts:?}"
            ));
        }
    }
    for (k, v) in &want.fields {
        let got = actual.get(k);
        let ok = match (k.as_str(), got, v) {
            ("error", Some(Value::String(g)), Value::String(w)) => g.contains(w.as_str()),
            (_, Some(g), w) => g == w || g.as_str().is_some_and(|gs| w.as_str() == Some(gs)),
            (_, None, _) => false,
        };
        if !ok {
            d.push(format!(
                "{k}: expected {v}, got {}",
                got.map(|g| g.to_string())
                    .unwrap_or_else(|| "nothing".into())
            ));
        }
    }
    d
}

fn find(p: &Plan, want: &ExpectedAction) -> Result<(), String> {
    let mut closest: Option<(&PlannedAction, Vec<String>)> = None;
    for a in &p.actions {
        let d = differences(a, want);
        if d.is_empty() {
            return Ok(());
        }
        if a.payload.kind() == want.kind
            && closest.as_ref().is_none_or(|(_, cd)| d.len() < cd.len())
        {
            closest = Some((a, d));
        }
    }
    let described = describe(want);
    Err(match closest {
        Some((a, d)) => format!(
            "expected {described}\n    closest planned: {} (+{}s)\n      {}",
            a.id,
            a.delay_s,
            d.join("\n      ")
        ),
        None => format!(
            "expected {described}, but no {} action was planned",
            want.kind
        ),
    })
}

fn describe(w: &ExpectedAction) -> String {
    let mut parts = vec![format!("kind = {:?}", w.kind)];
    if let Some(r) = &w.rule {
        parts.push(format!("rule = {r:?}"));
    }
    if let Some(d) = w.delay {
        parts.push(format!("delay = \"{d}\""));
    }
    if let Some(c) = &w.contains {
        parts.push(format!("contains = {c:?}"));
    }
    for (k, v) in &w.fields {
        parts.push(format!("{k} = {v}"));
    }
    format!("an action {{ {} }}", parts.join(", "))
}
