//! Email bodies rendered when they are sent or shown, not stored when planned.
//!
//! A shipped-pack lead plans four or five emails, and their text and HTML
//! were two fifths of everything stored for it (docs/benchmarks.md). The
//! bodies are a pure function of what is stored anyway: the event's fields,
//! its source, type, id and arrival time, the entity the email acts for, the
//! A/B variant chosen, and the templates of the rule-set version it was
//! planned with (kept in the store by version). So an email is stored with
//! its subject, recipient and everything else, but `bodies_later` instead of
//! its text and HTML, and [`fill`] renders them from those inputs when the
//! dispatcher sends it or the console shows it; a later edit of a template
//! changes nothing already planned, as before.
//!
//! Planning still renders the bodies once, so a template that fails for this
//! event parks the email at once with the reason, as it always did; such an
//! email is stored whole.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Map, Value};

use super::payload::{Payload, PlannedAction};
use crate::rules::ruleset::{EntityInfo, RuleSet};
use crate::rules::templates::Templates;

/// What rendering needs of a stored event.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub source: String,
    pub event_type: String,
    /// The idempotency key (`event.id` in templates).
    pub idem_key: String,
    pub received_at: DateTime<Utc>,
    /// The normalised fields by name, as stored.
    pub fields: Map<String, Value>,
}

/// The template data every action of an event shares: its fields by name,
/// `fields`, `event` and `now`. The arrival time reads to the millisecond,
/// the precision it is stored with, so planning and a later render agree.
pub fn event_data(
    fields: Map<String, Value>,
    source: &str,
    event_type: &str,
    id: &str,
    received_at: DateTime<Utc>,
) -> Value {
    let at = received_at.trunc_subsecs(3).to_rfc3339();
    let mut data = fields.clone();
    data.insert("fields".into(), Value::Object(fields));
    data.insert(
        "event".into(),
        json!({"source": source, "type": event_type, "id": id, "received_at": at}),
    );
    data.insert("now".into(), Value::String(at));
    Value::Object(data)
}

/// `data` with `entity` (its name, addresses, vars and zone) and the
/// unsubscribe link's placeholder, which the email sink fills in.
pub fn with_entity(mut data: Value, rs: &RuleSet, entity: Option<&EntityInfo>) -> Value {
    if let Value::Object(m) = &mut data {
        let zone = super::send_window::zone_of(rs, entity).name();
        let e = match entity {
            Some(e) => {
                json!({"id": e.id, "name": e.name, "from_email": e.from_email, "reply_to": e.reply_to, "vars": e.vars, "zone": zone})
            }
            None => json!({"zone": zone}),
        };
        m.insert("entity".into(), e);
        m.insert(
            "unsubscribe_url".into(),
            crate::email::UNSUBSCRIBE_MARKER.into(),
        );
    }
    data
}

/// The action as it is stored: an email that rendered without error loses
/// its text and HTML and says `bodies_later`; anything else is kept whole.
pub fn for_storage(a: &PlannedAction) -> Option<PlannedAction> {
    if a.error.is_some() || !matches!(a.payload, Payload::Email { .. }) {
        return None;
    }
    let mut stored = a.clone();
    if let Payload::Email { text, html, .. } = &mut stored.payload {
        *text = String::new();
        *html = String::new();
    }
    stored.bodies_later = true;
    Some(stored)
}

/// Render the text and HTML of a stored email with `rs`, the rule set of
/// the version it was planned with; a no-op for anything stored whole.
pub fn fill(rs: &RuleSet, a: &mut PlannedAction, ev: &StoredEvent) -> Result<(), String> {
    if !a.bodies_later {
        return Ok(());
    }
    let entity = a.entity_id.as_deref().and_then(|id| rs.entity(id));
    let Payload::Email {
        template,
        variant,
        text,
        html,
        ..
    } = &mut a.payload
    else {
        return Ok(());
    };
    // The variant chosen when it was planned (by the address), by its id.
    let name = match variant.as_deref() {
        None => template.to_string(),
        Some(v) => rs
            .email_variants
            .get(&**template)
            .and_then(|vs| vs.iter().find(|x| &*x.id == v))
            .map(|x| x.template.to_string())
            .ok_or_else(|| {
                format!(
                    "rule-set version {} has no variant `{v}` of the email `{template}`",
                    short(&rs.version)
                )
            })?,
    };
    let data = event_data(
        ev.fields.clone(),
        &ev.source,
        &ev.event_type,
        &ev.idem_key,
        ev.received_at,
    );
    let data = Templates::context(with_entity(data, rs, entity));
    *text = rs.templates.render_email(&name, "txt", &data)?;
    *html = rs.templates.render_email(&name, "html", &data)?;
    a.bodies_later = false;
    Ok(())
}

fn short(version: &str) -> &str {
    version.get(..12).unwrap_or(version)
}
