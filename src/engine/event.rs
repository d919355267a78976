//! The event envelope: what the engine plans from.

use chrono::{DateTime, Utc};
use std::sync::Arc;

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
    /// Shared, so the plan's view of them costs no copy.
    pub fields: Arc<Fields>,
}

/// The event as the explain trace and the JSON contract show it.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub received_at: DateTime<Utc>,
    pub fields: FieldsView,
}

/// Normalised fields by name, in slot order; serialised as a JSON object.
/// It shares the event's fields and the rule set's names: making one copies nothing.
#[derive(Debug, Clone, Default)]
pub struct FieldsView {
    pub(super) names: Arc<[Arc<str>]>,
    pub(super) fields: Arc<Fields>,
}

impl FieldsView {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(slot, k)| Some((&**k, self.fields.get(slot)?)))
    }
}

impl Serialize for FieldsView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}
