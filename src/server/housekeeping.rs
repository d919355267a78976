//! The server's periodic upkeep of the store (see `store::housekeeping`):
//! once a minute after start, then every hour.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::Store;

pub async fn run(store: Store, mut shutdown: watch::Receiver<bool>) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = Duration::from_secs(3600);
        match store.prune_all_expired_keys(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} idempotency keys past their window"),
            Err(e) => tracing::warn!("could not remove expired idempotency keys: {e}"),
        }
    }
}
