//! Housekeeping: idempotency keys whose window has passed are only dead
//! weight (a new delivery with the same key is a new event either way), so
//! they are deleted now and then, a small batch at a time through the writer,
//! so intake never waits long behind a cleanup.
//!
//! Events and actions are the audit log and are kept.

use chrono::{DateTime, Utc};

use super::writer::Bind;
use super::{millis, Store, StoreError};

impl Store {
    /// Delete up to `batch` idempotency keys that expired before `now`;
    /// returns how many went. Keys are looked for in the order they were
    /// written, where the expired ones are, so no index is needed.
    pub async fn prune_expired_keys(
        &self,
        now: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM idempotency WHERE (source, idem_key) IN \
             (SELECT source, idem_key FROM idempotency WHERE expires_at < $1 LIMIT $2)",
            vec![Bind::Int(millis(now)), Bind::Int(batch)],
        )
        .await
    }

    /// Delete every expired key, `batch` at a time, yielding between batches.
    pub async fn prune_all_expired_keys(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        const BATCH: i64 = 1000;
        let mut total = 0;
        loop {
            let n = self.prune_expired_keys(now, BATCH).await?;
            total += n;
            if n < BATCH as u64 {
                return Ok(total);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
