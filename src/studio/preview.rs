//! A template as the email (or notification) will look, and test sends.
//!
//! A template is previewed the way it will really be rendered: a recent
//! stored event that uses it is planned by the rules being edited, and the
//! planned action (subject, recipient, both parts) is shown. The HTML part
//! is shown in a sandboxed frame served with its own policy (no script, no
//! loads), like a planned email on the event page.
//!
//! A test send carries that rendered action out through the real sink (SMTP
//! or the outbox, Slack or the notification file) to an address or channel
//! the user types, marked as a test ("[TEST]" before the subject or text),
//! with no job, no contact record and no Notion page touched.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::engine::payload::{Payload, PlannedAction};
use crate::engine::plan::{plan_showing, Options};
use crate::rules::ruleset::{ActionKind, NotifyBody};
use crate::rules::RuleSet;
use crate::server::App;
use crate::sources::intake::renormalise;
use crate::sources::normalise::Request;
use crate::store::replay::StoredRequest;

/// `templates/emails/welcome.html.hbs` -> ("email", "welcome");
/// `templates/notifications/x.hbs` -> ("notify", "x").
pub fn template_of(path: &str) -> Option<(&'static str, String)> {
    let rest = path.strip_prefix("templates/")?;
    if let Some(f) = rest.strip_prefix("emails/") {
        let stem = f.strip_suffix(".hbs")?;
        for part in crate::rules::templates::EMAIL_PARTS {
            if let Some(name) = stem.strip_suffix(&format!(".{part}")) {
                return Some(("email", name.to_string()));
            }
        }
        return None;
    }
    let name = rest.strip_prefix("notifications/")?.strip_suffix(".hbs")?;
    Some(("notify", name.to_string()))
}

/// For an A/B variant's template (`artist_welcome.a`): the name rules use.
pub fn variant_of<'r>(rs: &'r RuleSet, name: &str) -> Option<&'r str> {
    rs.email_variants
        .iter()
        .find(|(_, vs)| vs.iter().any(|v| &*v.template == name))
        .map(|(base, _)| base.as_str())
}

/// The planned-action ids (`rule/action`) of `rs` that render this template
/// (a variant's template: the actions that render its email).
pub fn action_keys(rs: &RuleSet, kind: &str, name: &str) -> HashSet<Arc<str>> {
    let name = variant_of(rs, name).unwrap_or(name);
    let mut keys = HashSet::new();
    for rule in &rs.rules {
        for a in &rule.actions {
            let uses = match &a.kind {
                ActionKind::Email { template, .. } => kind == "email" && &**template == name,
                ActionKind::Notify {
                    body: NotifyBody::Template(t),
                    ..
                } => kind == "notify" && t == name,
                _ => false,
            };
            if uses {
                keys.insert(a.key.clone());
            }
        }
    }
    keys
}

/// Recent stored events (newest first, at most `max`) whose plan under `rs`
/// renders one of `keys`, each with that planned action (rendered as the
/// A/B variant whose template is `variant`, when given).
pub async fn examples(
    app: &App,
    rs: &RuleSet,
    keys: &HashSet<Arc<str>>,
    variant: Option<&str>,
    max: usize,
) -> Result<Vec<(StoredRequest, PlannedAction)>, String> {
    if keys.is_empty() {
        return Ok(vec![]);
    }
    let since = (chrono::Utc::now() - chrono::Duration::days(30)).timestamp_millis();
    let recent = app
        .store
        .stored_requests(since, 300, None)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for req in recent.into_iter().rev() {
        let Some(src) = rs.sources.get(&req.source) else {
            continue;
        };
        let r = Request {
            headers: &req.headers,
            body: &req.body,
        };
        let Ok(ev) = renormalise(rs, src, &r, req.received_at, req.enriched.as_ref()) else {
            continue;
        };
        let p = plan_showing(
            rs,
            &ev,
            Options {
                render: true,
                explain: false,
            },
            variant,
        );
        if let Some(a) = p.actions.into_iter().find(|a| keys.contains(&a.id)) {
            out.push((req, a));
            if out.len() == max {
                break;
            }
        }
    }
    Ok(out)
}

/// Rendered HTML parts kept for the preview frame: the latest few only.
static FRAMES: Mutex<VecDeque<(String, String)>> = Mutex::new(VecDeque::new());
const FRAMES_KEPT: usize = 32;

fn keep_frame(html: String) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut frames = FRAMES.lock().unwrap_or_else(|p| p.into_inner());
    if frames.len() >= FRAMES_KEPT {
        frames.pop_front();
    }
    frames.push_back((id.clone(), html));
    id
}

/// A kept HTML part, for the frame.
pub fn frame(id: &str) -> Option<String> {
    let frames = FRAMES.lock().unwrap_or_else(|p| p.into_inner());
    frames.iter().find(|(k, _)| k == id).map(|(_, h)| h.clone())
}

fn label(req: &StoredRequest, a: &PlannedAction) -> String {
    let who = match &a.payload {
        Payload::Email { to, .. } => format!(" to {to}"),
        Payload::Notify { channel, .. } => format!(" to {channel}"),
        _ => String::new(),
    };
    format!(
        "{} {} of {}{who}",
        req.source,
        req.event_type,
        req.received_at.format("%-d %b %H:%M")
    )
}

/// The preview section of the studio page for template `path` under `rs`,
/// rendered with the stored event `chosen` (or the latest that uses it).
pub async fn section(app: &App, rs: &RuleSet, path: &str, chosen: Option<&str>) -> Value {
    let Some((kind, name)) = template_of(path) else {
        return Value::Null;
    };
    let keys = action_keys(rs, kind, &name);
    let what = if kind == "email" {
        format!("the email `{name}`")
    } else {
        format!("the notification `{name}`")
    };
    if keys.is_empty() {
        return json!({"none": format!("No rule uses {what} yet, so there is nothing to preview it with.")});
    }
    let variant = variant_of(rs, &name).map(|_| name.as_str());
    let found = match examples(app, rs, &keys, variant, 10).await {
        Ok(f) => f,
        Err(e) => return json!({"none": format!("The stored events could not be read: {e}")}),
    };
    if found.is_empty() {
        return json!({"none": format!("No event of the last 30 days uses {what}. Send one (Try an event shows what would), then check again.")});
    }
    let pick = found
        .iter()
        .position(|(r, _)| Some(r.id.as_str()) == chosen)
        .unwrap_or(0);
    let events: Vec<Value> = found
        .iter()
        .enumerate()
        .map(|(i, (r, a))| json!({"id": r.id, "label": label(r, a), "selected": i == pick}))
        .collect();
    let (req, action) = &found[pick];
    let mut out = json!({"events": events, "event_id": req.id, "error": action.error});
    match &action.payload {
        Payload::Email {
            to,
            subject,
            text,
            html,
            from,
            ..
        } => {
            out["email"] = json!({
                "to": to, "from": from, "subject": subject, "text": text,
                "frame": keep_frame(html.clone()),
            });
        }
        Payload::Notify { channel, text, .. } => {
            out["notify"] = json!({"channel": channel, "text": text});
        }
        _ => {}
    }
    out
}

/// Send the action that template `path` renders for stored event `event_id`
/// (or the latest that uses it) to `to`, marked as a test.
pub async fn send_test(
    app: &App,
    rs: &RuleSet,
    path: &str,
    event_id: Option<&str>,
    to: &str,
) -> Result<String, String> {
    let to = to.trim();
    let Some((kind, name)) = template_of(path) else {
        return Err(format!("`{path}` is not an email or notification template"));
    };
    if to.is_empty() {
        return Err(if kind == "email" {
            "type the address to send the test to".into()
        } else {
            "type the channel to send the test to".into()
        });
    }
    if kind == "email" && !to.contains('@') {
        return Err(format!("`{to}` is not an email address"));
    }
    let keys = action_keys(rs, kind, &name);
    let variant = variant_of(rs, &name).map(|_| name.as_str());
    let found = examples(app, rs, &keys, variant, 10).await?;
    let Some((req, mut action)) = found
        .iter()
        .find(|(r, _)| event_id.is_none_or(|id| r.id == id))
        .cloned()
    else {
        return Err(
            "no recent event uses this template, so there is nothing to render it with".into(),
        );
    };
    if let Some(e) = &action.error {
        return Err(format!("it does not render for that event: {e}"));
    }
    match &mut action.payload {
        Payload::Email {
            to: dest, subject, ..
        } => {
            *dest = to.to_string();
            *subject = format!("[TEST] {subject}");
        }
        Payload::Notify { channel, text, .. } => {
            *channel = to.to_string();
            *text = format!("[TEST] {text}");
        }
        _ => return Err("only emails and notifications can be sent as a test".into()),
    }
    let Some(sinks) = app.sinks.get() else {
        return Err("the sinks are not running yet; try again in a moment".into());
    };
    let job = crate::store::jobs::Job {
        id: format!("test-{}", uuid::Uuid::now_v7()),
        event_id: req.id.clone(),
        action_key: action.id.to_string(),
        kind: kind.to_string(),
        contact: None,
        payload: String::new(),
        attempts: 1,
        claim: 1,
        created_at: chrono::Utc::now().timestamp_millis(),
        ruleset_version: rs.version.clone(),
        unreadable: None,
    };
    sinks
        .execute(&job, &action, rs)
        .await
        .map(|done| done.message)
        .map_err(|e| format!("the sink refused it: {e}"))
}
