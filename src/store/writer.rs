//! Group commit: one writer task turns the events that arrive together into
//! one transaction, so a burst of webhooks costs one commit instead of one
//! each. A request is answered only after the commit that holds its event.
//!
//! Nothing waits to fill a batch: the writer takes what is queued when it is
//! free, so a lone event commits at once and a burst batches by itself.

use tokio::sync::{mpsc, oneshot};

use super::accept::{Accepted, NewEvent};
use super::{Store, StoreError};

type Reply = oneshot::Sender<Result<Accepted, String>>;

#[derive(Clone)]
pub struct GroupWriter {
    tx: mpsc::Sender<(NewEvent, Reply)>,
}

impl GroupWriter {
    /// Start the writer; batches hold at most `max_batch` events.
    pub fn start(store: Store, max_batch: usize) -> GroupWriter {
        let (tx, mut rx) = mpsc::channel::<(NewEvent, Reply)>(max_batch * 4);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(x) => batch.push(x),
                        Err(_) => break,
                    }
                }
                let (events, replies): (Vec<NewEvent>, Vec<Reply>) = batch.into_iter().unzip();
                match store.accept_batch(&events).await {
                    Ok(results) => {
                        for (reply, r) in replies.into_iter().zip(results) {
                            let _ = reply.send(Ok(r));
                        }
                    }
                    // One bad event must not fail its neighbours: store them one by one.
                    Err(_) if events.len() > 1 => {
                        for (e, reply) in events.iter().zip(replies) {
                            let _ = reply.send(store.accept(e).await.map_err(|e| e.to_string()));
                        }
                    }
                    Err(e) => {
                        for reply in replies {
                            let _ = reply.send(Err(e.to_string()));
                        }
                    }
                }
            }
        });
        GroupWriter { tx }
    }

    /// Store an event; returns once it is committed.
    pub async fn accept(&self, ev: NewEvent) -> Result<Accepted, StoreError> {
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
