//! Group commit: one writer task turns the events that arrive together into
//! one transaction, so a burst of webhooks costs one commit instead of one
//! each. A request is answered only after the commit that holds its event.
//!
//! Nothing waits to fill a batch: the writer takes what is queued when it is
//! free, so a lone event commits at once and a burst batches by itself.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::events::{Accepted, NewEvent};
use super::{Store, StoreError};
use crate::engine::plan::Plan;

/// An event to store, owning its data (it crosses to the writer task).
pub struct OwnedEvent {
    pub source: String,
    pub event_type: String,
    pub idem_key: String,
    pub window_s: u64,
    pub received_at: DateTime<Utc>,
    pub headers: Value,
    pub body: Vec<u8>,
    pub plan: Plan,
    pub contacts: Vec<Option<String>>,
}

impl OwnedEvent {
    fn as_new(&self) -> NewEvent<'_> {
        NewEvent {
            source: &self.source,
            event_type: &self.event_type,
            idem_key: &self.idem_key,
            window_s: self.window_s,
            received_at: self.received_at,
            headers: self.headers.clone(),
            body: &self.body,
            plan: &self.plan,
            contacts: self.contacts.clone(),
        }
    }
}

type Reply = oneshot::Sender<Result<Accepted, String>>;

#[derive(Clone)]
pub struct GroupWriter {
    tx: mpsc::Sender<(OwnedEvent, Reply)>,
}

impl GroupWriter {
    /// Start the writer; batches hold at most `max_batch` events.
    pub fn start(store: Store, max_batch: usize) -> GroupWriter {
        let (tx, mut rx) = mpsc::channel::<(OwnedEvent, Reply)>(max_batch * 4);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(x) => batch.push(x),
                        Err(_) => break,
                    }
                }
                let news: Vec<NewEvent<'_>> = batch.iter().map(|(e, _)| e.as_new()).collect();
                match store.accept_batch(news).await {
                    Ok(results) => {
                        for ((_, reply), r) in batch.into_iter().zip(results) {
                            let _ = reply.send(Ok(r));
                        }
                    }
                    // One bad event must not fail its neighbours: store them one by one.
                    Err(_) if batch.len() > 1 => {
                        for (e, reply) in batch {
                            let _ = reply
                                .send(store.accept(e.as_new()).await.map_err(|e| e.to_string()));
                        }
                    }
                    Err(e) => {
                        for (_, reply) in batch {
                            let _ = reply.send(Err(e.to_string()));
                        }
                    }
                }
            }
        });
        GroupWriter { tx }
    }

    /// Store an event; returns once it is committed.
    pub async fn accept(&self, ev: OwnedEvent) -> Result<Accepted, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((ev, reply))
            .await
            .map_err(|_| StoreError::Other("the store writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Other("the store writer has stopped".into()))?
            .map_err(StoreError::Other)
    }
}
