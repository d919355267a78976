//! The server's periodic upkeep of the store (see `store::housekeeping`):
//! once a minute after start, then every hour: expired idempotency keys,
//! and, when a retention is set, finished work older than it.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::Store;

pub async fn run(store: Store, retain: Option<Duration>, mut shutdown: watch::Receiver<bool>) {
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
        let Some(retain) = retain else { continue };
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(retain).unwrap_or(chrono::Duration::MAX);
        match store.prune_all_finished(cutoff).await {
            Ok(p) if p.events + p.actions + p.history + p.contacts == 0 => {}
            Ok(p) => tracing::info!(
                "retention: removed {} events, {} actions and {} workflow history rows finished before {cutoff}, and {} contacts no action names any more",
                p.events, p.actions, p.history, p.contacts
            ),
            Err(e) => tracing::warn!("retention could not remove old work: {e}"),
        }
    }
}
