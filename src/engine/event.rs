//! The event envelope: what the engine plans from.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::fields::Fields;

/// One normalised event.
#[derive(Debug, Clone)]
pub struct Event {
    pub source: String,
    pub event_type: String,
    /// The idempotency key: the sender's event id, or a hash of the body.
    pub id: String,
    pub received_at: DateTime<Utc>,
    /// The body as received, parsed (form bodies become an object of strings).
    pub payload: Value,
    /// The normalised fields, by slot of the rule set they were made with.
    pub fields: Fields,
}

/// The event as the explain trace and the JSON contract show it.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub received_at: DateTime<Utc>,
    pub fields: serde_json::Map<String, Value>,
}
