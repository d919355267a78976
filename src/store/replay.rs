//! Reading stored requests back to replay them (the what-if): the body and
//! kept headers exactly as they arrived, with their arrival time, and the
//! actions still waiting to run.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::event_pack::PART_COLUMNS as PARTS;
use super::{from_millis, Store, StoreError};

/// A stored request, as it arrived.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub received_at: DateTime<Utc>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub ruleset_version: String,
    /// What an `[[enrich]]` source fetched for it (from its trace), so a
    /// replay reads the same answers without calling the API again.
    pub enriched: Option<serde_json::Value>,
}

/// An action that has not run yet (queued, or failed and waiting to retry).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Waiting {
    pub id: String,
    pub event_id: String,
    /// `<rule>/<action>`.
    pub action: String,
    pub rule: String,
    pub flow: String,
    pub kind: String,
    pub contact: Option<String>,
    pub due_at: DateTime<Utc>,
    pub ruleset_version: String,
    /// The send window it keeps, if any (from its stored plan).
    #[serde(skip)]
    pub window: Option<crate::engine::payload::WindowRef>,
}

fn request(r: &sqlx::any::AnyRow) -> Result<StoredRequest, StoreError> {
    let parts = super::event_pack::parts_of(r)?;
    let headers = match super::event_pack::shown_json(&parts.headers) {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
    .into_iter()
    .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
    .collect();
    Ok(StoredRequest {
        id: r.try_get("id")?,
        source: r.try_get("source")?,
        event_type: r.try_get("event_type")?,
        received_at: from_millis(r.try_get("received_at")?),
        headers,
        body: parts.body,
        ruleset_version: r.try_get("ruleset_version")?,
        enriched: crate::sources::enrich::answers(&super::event_pack::shown_json(&parts.trace)),
    })
}

/// An event's columns a replay reads, its parts (in either layout) aside.
const COLUMNS: &str = "id, source, event_type, received_at, ruleset_version";

impl Store {
    /// The latest `limit` requests received at or after `since` (ms), of
    /// `source` if given, oldest first (the order they were planned in).
    pub async fn stored_requests(
        &self,
        since: i64,
        limit: i64,
        source: Option<&str>,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let rows = match source {
            Some(s) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS}, {PARTS} FROM events WHERE received_at >= $1 AND source = $2 \
                     ORDER BY received_at DESC, id DESC LIMIT $3"
                )))
                .bind(since)
                .bind(s)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS}, {PARTS} FROM events WHERE received_at >= $1 \
                     ORDER BY received_at DESC, id DESC LIMIT $2"
                )))
                .bind(since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut out = rows.iter().map(request).collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// Stored requests by id (those the list above did not reach).
    pub async fn stored_requests_by_id(
        &self,
        ids: &[String],
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS}, {PARTS} FROM events WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(r) = row {
                out.push(request(&r)?);
            }
        }
        Ok(out)
    }

    /// Actions that have not run yet, soonest first, at most `limit`.
    pub async fn waiting_actions(&self, limit: i64) -> Result<Vec<Waiting>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT id, event_id, action_key, rule, flow, kind, contact, due_at, payload, ",
            super::action_version::action_version!("actions_named"),
            ", ",
            super::packed::action_plan!("actions_named"),
            " FROM actions_named WHERE status IN ('queued', 'failed') ORDER BY due_at, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut plans = super::packed::Plans::default();
        rows.iter()
            .map(|r| -> Result<Waiting, StoreError> {
                let event_id: String = r.try_get("event_id")?;
                let action: String = r.try_get("action_key")?;
                let payload = plans.stored(
                    r.try_get("payload")?,
                    &event_id,
                    &action,
                    r.try_get("plan")?,
                )?;
                Ok(Waiting {
                    id: r.try_get("id")?,
                    event_id,
                    action,
                    rule: r.try_get("rule")?,
                    flow: r.try_get("flow")?,
                    kind: r.try_get("kind")?,
                    contact: r.try_get("contact")?,
                    due_at: from_millis(r.try_get("due_at")?),
                    ruleset_version: r.try_get("ruleset_version")?,
                    window: serde_json::from_str::<serde_json::Value>(&payload)
                        .ok()
                        .and_then(|p| serde_json::from_value(p["window"].clone()).ok()),
                })
            })
            .collect()
    }
}
