//! Reading events back: an event with its explain trace and its actions.

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// The event already accepted with this idempotency key within its
    /// window, if any (checked before work a duplicate should not cause,
    /// such as fetching from a sender's API).
    pub async fn seen(
        &self,
        source: &str,
        idem_key: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT event_id FROM idempotency WHERE source = $1 AND idem_key = $2 AND expires_at > $3",
        )
        .bind(source)
        .bind(idem_key)
        .bind(super::millis(now))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// An event with its trace and its actions' statuses (GET /api/events/{id}).
    pub async fn event(&self, id: &str) -> Result<serde_json::Value, StoreError> {
        let row = super::event_pack::event_row(
            &self.pool,
            "id, source, event_type, idem_key, received_at, ruleset_version",
            id,
        )
        .await?;
        let parts = super::event_pack::shown_parts(&row);
        let actions = self.actions_of_event(id).await?;
        // The id of the request that brought it (see server/access.rs).
        let request_id = super::event_pack::shown_json(&parts.headers)["x-request-id"].clone();
        Ok(serde_json::json!({
            "id": row.try_get::<String, _>("id")?,
            "source": row.try_get::<String, _>("source")?,
            "type": row.try_get::<String, _>("event_type")?,
            "idempotency_key": row.try_get::<String, _>("idem_key")?,
            "received_at": super::from_millis(row.try_get::<i64, _>("received_at")?),
            "request_id": request_id,
            "fields": super::event_pack::shown_json(&parts.fields),
            "trace": super::event_pack::shown_json(&parts.trace),
            "ruleset_version": row.try_get::<String, _>("ruleset_version")?,
            "actions": actions,
        }))
    }

    /// What rendering an email's bodies needs of event `id` (engine::deferred).
    pub async fn event_to_render(
        &self,
        id: &str,
    ) -> Result<crate::engine::deferred::StoredEvent, StoreError> {
        let row = super::event_pack::event_row(
            &self.pool,
            "id, source, event_type, idem_key, received_at",
            id,
        )
        .await?;
        let fields = super::event_pack::parts_of(&row)?.fields;
        let fields = serde_json::from_str(&fields)
            .map_err(|e| StoreError::Corrupt(format!("event {id}'s fields: {e}")))?;
        Ok(crate::engine::deferred::StoredEvent {
            source: row.try_get("source")?,
            event_type: row.try_get("event_type")?,
            idem_key: row.try_get("idem_key")?,
            received_at: super::from_millis(row.try_get("received_at")?),
            fields,
        })
    }
}
