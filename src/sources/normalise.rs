//! From a raw request to an [`Event`]: parse the body, find the event type and
//! idempotency key, and map payload fields to normalised fields.
//!
//! Errors are for the sender and the operator: they name the field, the
//! JSONPath and the value found, so a 400 says exactly what to fix.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::transform;
use crate::engine::event::Event;
use crate::rules::model::BodyFormat;
use crate::rules::ruleset::{Locator, RuleSet, Source};

/// A request as the source sees it. Header names are matched case-insensitively.
pub struct Request<'a> {
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Request<'_> {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NormaliseError {
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the body is not a form (application/x-www-form-urlencoded): {0}")]
    NotForm(String),
    #[error("the event type is missing: {0} found nothing")]
    NoEventType(String),
    #[error("the event type at {path} must be text, but it is {found}")]
    BadEventType { path: String, found: String },
    #[error("the required field `{field}` is missing: {path} found nothing")]
    Required { field: String, path: String },
    #[error("the field `{field}` at {path} is wrong: {reason} (value found: {found})")]
    BadValue {
        field: String,
        path: String,
        found: String,
        reason: String,
    },
}

/// Parse the body per the source's format.
pub fn parse_body(format: BodyFormat, body: &[u8]) -> Result<Value, NormaliseError> {
    match format {
        BodyFormat::Json => {
            serde_json::from_slice(body).map_err(|e| NormaliseError::NotJson(e.to_string()))
        }
        BodyFormat::FormUrlencoded => {
            let text =
                std::str::from_utf8(body).map_err(|e| NormaliseError::NotForm(e.to_string()))?;
            if !text.is_empty() && !text.contains('=') {
                return Err(NormaliseError::NotForm("no key=value pairs".into()));
            }
            let mut m = Map::new();
            for (k, v) in form_urlencoded::parse(text.as_bytes()) {
                m.insert(k.into_owned(), Value::String(v.into_owned()));
            }
            Ok(Value::Object(m))
        }
    }
}

fn locate(loc: &Locator, payload: &Value, req: &Request<'_>) -> Option<Value> {
    match loc {
        Locator::Path(p) => p.select_value(payload),
        Locator::Header(h) => req.header(h).map(Value::String),
        Locator::Value(v) => Some(Value::String(v.clone())),
        Locator::BodyHash => Some(Value::String(hex::encode(Sha256::digest(req.body)))),
    }
}

fn describe(loc: &Locator) -> String {
    match loc {
        Locator::Path(p) => p.as_str().to_string(),
        Locator::Header(h) => format!("the {h} header"),
        Locator::Value(_) => "the fixed value".into(),
        Locator::BodyHash => "the body hash".into(),
    }
}

/// The request's idempotency key: where the source says, else a hash of the body.
pub fn idempotency_key(source: &Source, payload: &Value, req: &Request<'_>) -> String {
    match source.idempotency {
        Locator::BodyHash => hex::encode(Sha256::digest(req.body)),
        ref loc => match locate(loc, payload, req) {
            Some(Value::String(s)) if !s.is_empty() => s,
            Some(Value::Number(n)) => n.to_string(),
            // No key where one was promised: fall back to the body, so identical deliveries still dedupe.
            _ => hex::encode(Sha256::digest(req.body)),
        },
    }
}

/// Normalise a request through `source` into an event of `rules`.
pub fn normalise(
    rules: &RuleSet,
    source: &Source,
    req: &Request<'_>,
    received_at: DateTime<Utc>,
) -> Result<Event, NormaliseError> {
    let payload = parse_body(source.format, req.body)?;
    normalise_payload(rules, source, payload, req, received_at)
}

/// The event's type as far as the webhook alone tells it (mapped like
/// [`normalise_payload`] maps it), for an event stored before its fetch:
/// `None` when the type is only in what is fetched.
pub fn event_type_of(source: &Source, payload: &Value, req: &Request<'_>) -> Option<String> {
    match locate(&source.event_type, payload, req) {
        Some(Value::String(s)) if !s.is_empty() => {
            Some(source.event_type_map.get(&s).cloned().unwrap_or(s))
        }
        _ => None,
    }
}

/// [`normalise`] for a body already parsed (and enriched: see `sources::enrich`).
pub fn normalise_payload(
    rules: &RuleSet,
    source: &Source,
    mut payload: Value,
    req: &Request<'_>,
    received_at: DateTime<Utc>,
) -> Result<Event, NormaliseError> {
    let event_type = match locate(&source.event_type, &payload, req) {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Null) | None => {
            return Err(NormaliseError::NoEventType(describe(&source.event_type)))
        }
        Some(Value::String(_)) => {
            return Err(NormaliseError::NoEventType(describe(&source.event_type)))
        }
        Some(other) => {
            return Err(NormaliseError::BadEventType {
                path: describe(&source.event_type),
                found: other.to_string(),
            })
        }
    };
    let event_type = source
        .event_type_map
        .get(&event_type)
        .cloned()
        .unwrap_or(event_type);
    let id = idempotency_key(source, &payload, req);
    let mut fields = rules.fields.empty();
    // The envelope fields are interned first, so slot i is ENVELOPE_FIELDS[i].
    for (slot, v) in [&source.name, &event_type, &id].into_iter().enumerate() {
        fields.set(slot, Value::String(v.clone()));
    }
    for f in &source.fields {
        // When the event won't keep the body, a field's value can be moved out of it.
        let raw = if f.take && !rules.reads_payload {
            f.path.take_value(&mut payload)
        } else {
            f.path.select_value(&payload)
        };
        let found = || {
            raw.as_ref()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "nothing".into())
        };
        let value = transform::apply(raw.clone(), &f.transforms).map_err(|reason| {
            NormaliseError::BadValue {
                field: f.name.clone(),
                path: f.path.as_str().into(),
                found: found(),
                reason,
            }
        })?;
        let value =
            match value {
                Some(Value::Null) | None => None,
                Some(v) => Some(transform::coerce(v, f.kind).map_err(|reason| {
                    NormaliseError::BadValue {
                        field: f.name.clone(),
                        path: f.path.as_str().into(),
                        found: found(),
                        reason,
                    }
                })?),
            };
        match value {
            Some(v) => fields.set(f.slot, v),
            None if f.required => {
                return Err(NormaliseError::Required {
                    field: f.name.clone(),
                    path: f.path.as_str().into(),
                })
            }
            None => {}
        }
    }
    // Keep the parsed body only when some rule reads it (the store keeps the raw bytes).
    let payload = if rules.reads_payload {
        payload
    } else {
        Value::Null
    };
    Ok(Event {
        source: source.name.clone(),
        event_type,
        id,
        // To the millisecond, the precision it is stored with: an event read
        // back and planned again (its explain trace, an email's bodies)
        // sees the very time it was planned with.
        received_at: received_at.trunc_subsecs(3),
        payload,
        fields: std::sync::Arc::new(fields),
    })
}
