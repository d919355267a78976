//! Named cursors: how far a poller has read an outside system (the Notion
//! poller keeps "notion:<database>" -> the last edit time it has seen), kept
//! in the store so a restart resumes where it stopped instead of replaying.

use super::writer::Bind;
use super::{millis, Store, StoreError};

impl Store {
    pub async fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM cursors WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            vec![
                Bind::Text(name.to_string()),
                Bind::Text(value.to_string()),
                Bind::Int(millis(chrono::Utc::now())),
            ],
        )
        .await
        .map(|_| ())
    }
}
