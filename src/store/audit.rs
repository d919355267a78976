//! The audit log: who changed what, and when. Saves and rollbacks of rules,
//! and retries, cancels and test sends of actions, from the console or the
//! admin API. Kept in the store (not only in the log file) so the console
//! can show it and several servers share one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::writer::Bind;
use super::{from_millis, millis, Store, StoreError};

/// One change someone made.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub who: String,
    /// `save`, `rollback`, `retry`, `cancel`, `retry-dead`, `test-send`, `reload`.
    pub what: String,
    /// What it was done to: a file, a version, an action id.
    pub subject: String,
    /// In words, for the page.
    pub detail: String,
}

impl Store {
    /// Add an entry. A failure to record is returned; callers that have
    /// already made the change log it rather than undo the change.
    pub async fn audit(
        &self,
        who: &str,
        what: &str,
        subject: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO audit (id, at, who, what, subject, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                Bind::Text(uuid::Uuid::now_v7().to_string()),
                Bind::Int(millis(Utc::now())),
                Bind::Text(who.to_string()),
                Bind::Text(what.to_string()),
                Bind::Text(subject.to_string()),
                Bind::Text(detail.to_string()),
            ],
        )
        .await
        .map(|_| ())
    }

    /// The latest entries, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<Entry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, who, what, subject, detail FROM audit ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Entry {
                    at: from_millis(r.try_get("at")?),
                    who: r.try_get("who")?,
                    what: r.try_get("what")?,
                    subject: r.try_get("subject")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
