//! A planned action as its row stores it: without what the row's own
//! columns already hold.
//!
//! A planned action's JSON begins with its id, rule, flow and entity, and
//! the actions row keeps each of them in a column of its own (`action_key`,
//! `rule`, `flow`, `entity`), so every row said them twice: about 100 bytes
//! an action, 1.2 KB a shipped-pack lead (12 actions, measured). [`compact`]
//! writes the JSON without them; [`expand`] puts them back, in front, when a
//! row is read, so every reader still gets the whole planned action. A row written
//! before this change starts with its `id` and is read as it is.

use serde::Serialize;
use std::sync::Arc;

use crate::engine::payload::{Payload, PlannedAction, WindowRef};

use sqlx::any::AnyRow;
use sqlx::Row;

use super::packed::Plans;
use super::StoreError;

/// The fields of a planned action its row's columns don't hold.
#[derive(Serialize)]
struct Stored<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    entity_id: &'a Option<Arc<str>>,
    delay_s: i64,
    run_at: &'a chrono::DateTime<chrono::Utc>,
    #[serde(flatten)]
    payload: &'a Payload,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: &'a Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: &'a Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window: &'a Option<WindowRef>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    bodies_later: bool,
}

/// `a` as its row stores it.
pub fn compact(a: &PlannedAction) -> Result<String, StoreError> {
    // Named one by one, with no `..`: a field added to PlannedAction fails
    // to compile here until it is either stored or read from a column.
    let PlannedAction {
        id: _,
        rule: _,
        flow: _,
        entity: _,
        entity_id,
        delay_s,
        run_at,
        payload,
        error,
        notes,
        window,
        bodies_later,
    } = a;
    serde_json::to_string(&Stored {
        entity_id,
        delay_s: *delay_s,
        run_at,
        payload,
        error,
        notes,
        window,
        bodies_later: *bodies_later,
    })
    .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The whole planned action from its row: the stored JSON with the id, rule,
/// flow and entity of its columns put back in front, which gives the text
/// the action serialises to, byte for byte.
pub fn expand(stored: String, key: &str, rule: &str, flow: &str, entity: Option<&str>) -> String {
    let Some(rest) = stored.strip_prefix('{') else {
        return stored;
    };
    // A row written whole (before this change) begins with its id, and a
    // fetch job's payload is not a planned action (it has no `delay_s`):
    // both are read as they are. The test is on the keys, not on which comes
    // first: "run now" on PostgreSQL rewrites a payload through jsonb, which
    // puts its keys in its own order (shortest first, so `id` still leads).
    if rest.starts_with("\"id\":") || !rest.contains("\"delay_s\":") {
        return stored;
    }
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let entity = entity.map_or_else(|| "null".to_string(), quote);
    format!(
        "{{\"id\":{},\"rule\":{},\"flow\":{},\"entity\":{entity},{rest}",
        quote(key),
        quote(rule),
        quote(flow)
    )
}

/// [`expand`] on a row read through the store's pool, which selected
/// `payload`, `event_id`, `action_key`, `rule`, `flow`, `entity` and
/// [`super::packed::action_plan!`]: a row without a payload of its own reads
/// its entry in its event's plan, unpacked once per `plans`.
pub fn from_row(r: &AnyRow, plans: &mut Plans) -> Result<String, StoreError> {
    let key: String = r.try_get("action_key")?;
    let stored = plans.stored(
        r.try_get("payload")?,
        r.try_get("event_id")?,
        &key,
        r.try_get("plan")?,
    )?;
    Ok(expand(
        stored,
        &key,
        r.try_get("rule")?,
        r.try_get("flow")?,
        r.try_get("entity")?,
    ))
}

/// [`from_row`] as a page shows it: JSON, or null when it can't be read
/// (a damaged plan), said in the log, so one damaged event doesn't keep a
/// whole list from showing.
pub fn shown(r: &AnyRow, plans: &mut Plans) -> serde_json::Value {
    match from_row(r, plans) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
        Err(e) => {
            let id = r.try_get::<String, _>("id").unwrap_or_default();
            tracing::warn!(action = %id, "an action's payload can't be shown: {e}");
            serde_json::Value::Null
        }
    }
}
