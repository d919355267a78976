//! Events raised by actions as they run (a score crossing a threshold),
//! accepted through the internal `hsflow` source like any other event, so
//! rules can react to them (flow 6 rewards an engagement score of 50).

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::oneshot;

use super::webhooks::{accept_internal, Internal};
use super::App;
use crate::sinks::Raise;

/// The source raised events go through.
pub const SOURCE: &str = "hsflow";

/// Start accepting raised events; the returned sender is the sinks' [`Raise`].
pub fn start(app: Arc<App>) -> Raise {
    let (tx, mut rx) =
        tokio::sync::mpsc::unbounded_channel::<(Value, oneshot::Sender<Result<(), String>>)>();
    tokio::spawn(async move {
        while let Some((event, answer)) = rx.recv().await {
            let _ = answer.send(accept(&app, &event).await);
        }
    });
    tx
}

async fn accept(app: &App, event: &Value) -> Result<(), String> {
    let rs = app.rules.current();
    let Some(src) = rs.sources.get(SOURCE) else {
        // No rules listen for raised events: nothing to store, nothing lost.
        tracing::debug!("a raised event has no `hsflow` source to go through: {event}");
        return Ok(());
    };
    match accept_internal(app, &rs, src, event).await {
        Internal::Accepted | Internal::Duplicate => Ok(()),
        // The event doesn't fit the source: retrying won't change that.
        Internal::Refused(why) => {
            tracing::warn!("a raised event was refused by rules/sources/hsflow.toml: {why}");
            Ok(())
        }
        Internal::Failed(why) => Err(format!("the store answered {why}")),
    }
}
