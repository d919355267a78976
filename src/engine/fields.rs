//! Normalised fields, addressed by slot.
//!
//! At load every field name any source produces or any rule tests gets a
//! slot number. An event's normalised fields are a vector indexed by slot, so
//! a compiled condition reads its field with one index instead of a hash
//! lookup by name on every event.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

/// Field name <-> slot, fixed for one rule set.
#[derive(Debug, Clone, Default)]
pub struct FieldTable {
    names: Vec<Arc<str>>,
    by_name: HashMap<String, usize>,
    /// The names again, shared by every event's [`FieldsView`](super::event::FieldsView).
    shared: std::sync::OnceLock<Arc<[Arc<str>]>>,
}

impl FieldTable {
    /// The slot of `name`, adding it if new.
    pub fn intern(&mut self, name: &str) -> usize {
        if let Some(&slot) = self.by_name.get(name) {
            return slot;
        }
        let slot = self.names.len();
        self.names.push(name.into());
        self.shared = std::sync::OnceLock::new();
        self.by_name.insert(name.to_string(), slot);
        slot
    }

    pub fn slot(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn name(&self, slot: usize) -> &str {
        self.names.get(slot).map(|n| &**n).unwrap_or("?")
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &**n)
    }

    /// An empty set of fields for an event.
    pub fn empty(&self) -> Fields {
        Fields {
            values: vec![None; self.names.len()],
        }
    }

    /// Fields from a JSON object (tests, benchmarks, the manual API); unknown keys are kept out.
    pub fn from_object(&self, obj: &Map<String, Value>) -> Fields {
        let mut f = self.empty();
        for (k, v) in obj {
            if let Some(slot) = self.slot(k) {
                f.set(slot, v.clone());
            }
        }
        f
    }

    /// The fields by name, sharing the names and the values (no copy).
    pub fn view(&self, fields: &Arc<Fields>) -> super::event::FieldsView {
        super::event::FieldsView {
            names: self
                .shared
                .get_or_init(|| self.names.iter().cloned().collect())
                .clone(),
            fields: fields.clone(),
        }
    }

    /// The fields as a JSON object, for templates, traces and the API.
    pub fn to_object(&self, fields: &Fields) -> Map<String, Value> {
        let mut m = Map::new();
        for (slot, v) in fields.values.iter().enumerate() {
            if let Some(v) = v {
                m.insert(self.name(slot).to_string(), v.clone());
            }
        }
        m
    }
}

/// One event's normalised fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    values: Vec<Option<Value>>,
}

impl Fields {
    /// The value in a slot; `None` when the event doesn't have that field.
    #[inline]
    pub fn get(&self, slot: usize) -> Option<&Value> {
        self.values.get(slot).and_then(Option::as_ref)
    }

    pub fn set(&mut self, slot: usize, v: Value) {
        if slot >= self.values.len() {
            self.values.resize(slot + 1, None);
        }
        // A JSON null is the same as absent: rules can't tell them apart.
        self.values[slot] = if v.is_null() { None } else { Some(v) };
    }
}
