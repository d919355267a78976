//! The fetch job: what an `[[enrich]]` webhook points to, fetched after the
//! webhook was accepted, then the event planned.
//!
//! A source whose steps say `on_failure = "retry"` (the default) doesn't make
//! its sender wait on a slow vendor: the webhook is stored at once with this
//! one job (see `NewEvent::awaiting_fetch`). Here the dispatcher runs the
//! steps, one try per attempt; a 429, a 5xx or no answer is retried like any
//! action (after the job's backoff or the API's Retry-After), a refusal or a
//! 404 parks the job with the reason. When the answer is in, the event is
//! normalised and planned with the rules as they are now, and its fields,
//! trace and actions are written together with the job's success: a crash
//! between the two can't plan an event twice or lose its plan.

use super::Dispatcher;
use crate::engine::plan::{plan, Options};
use crate::sinks::{Done, SinkError};
use crate::sources::enrich::{self, EnrichError};
use crate::sources::normalise::{normalise_payload, parse_body, Request};
use crate::store::accept::{Envelope, FetchJob, NewEvent};
use crate::store::jobs::Job;
use crate::store::StoreError;

impl Dispatcher {
    /// Fetch for the event of `job` and plan it. `Ok` means the plan and the
    /// job's success are both written.
    pub(super) async fn fetch_and_plan(&self, job: &Job) -> Result<Done, SinkError> {
        let what: FetchJob = serde_json::from_str(&job.payload)
            .map_err(|e| SinkError::Permanent(format!("the stored fetch can't be read: {e}")))?;
        let rules = self.rules.current();
        let Some(src) = rules.sources.get(&what.source) else {
            return Err(SinkError::Permanent(format!(
                "source `{}` is no longer in rules/sources, so its webhook can't be read; put it back and retry this job",
                what.source
            )));
        };
        let stored = self
            .store
            .stored_requests_by_id(std::slice::from_ref(&job.event_id))
            .await
            .map_err(|e| SinkError::retryable(format!("the stored webhook can't be read: {e}")))?
            .pop()
            .ok_or_else(|| {
                SinkError::Permanent(format!(
                    "event {} is no longer stored (removed after its retention)",
                    job.event_id
                ))
            })?;
        let req = Request {
            headers: &stored.headers,
            body: &stored.body,
        };
        let mut payload = parse_body(src.format, &stored.body)
            .map_err(|e| SinkError::Permanent(format!("the stored webhook can't be read: {e}")))?;
        let secret = |name: &str| std::env::var(name).ok();
        // One try per attempt: the job's own backoff spaces the next ones,
        // and no worker sleeps on a vendor's Retry-After.
        let trace = enrich::fetch(&self.http, &src.enrich, &mut payload, &secret, false)
            .await
            .map_err(|(e, _)| SinkError::from(e))?;
        let event =
            normalise_payload(&rules, src, payload, &req, stored.received_at).map_err(|e| {
                SinkError::Permanent(format!(
                    "what {}'s API answered doesn't fit rules/sources/{}.toml: {e}",
                    src.name, src.name
                ))
            })?;
        let mut p = plan(&rules, &event, Options::TO_STORE);
        p.enrich = trace;
        if job.attempts > 1 {
            // The trace keeps the try that answered; the job counted the others.
            p.notes.push(format!(
                "fetched on attempt {} of the fetch (the earlier ones failed; their reasons were the job's last error)",
                job.attempts
            ));
        }
        let contacts = p.contacts(&rules, &event);
        let env = Envelope {
            source: src.name.clone(),
            event_type: event.event_type.clone(),
            idem_key: event.id.clone(),
            window_s: src.idempotency_window_s,
            received_at: stored.received_at,
            // The request is stored again with its plan, in one frame
            // (store::event_pack).
            headers: serde_json::Value::Object(
                stored
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            ),
            body: stored.body.clone(),
        };
        let planned = NewEvent::new(env, &p, &contacts)
            .map_err(|e| SinkError::Permanent(format!("the plan can't be stored: {e}")))?;
        let kinds = p.kinds();
        match self
            .store
            .plan_fetched(job.fence(), &job.event_id, planned)
            .await
        {
            Ok(a) => {
                for kind in kinds {
                    crate::server::metrics::record_actions_planned(kind, 1);
                }
                // Its actions that are due now are waiting for a worker.
                self.wake.notify_one();
                Ok(Done {
                    message: format!(
                        "fetched {} from {}'s API and planned the event: {} actions, {} cancelled",
                        what.steps.join(", "),
                        src.name,
                        a.actions,
                        a.cancelled
                    ),
                    crossings: Vec::new(),
                    recorded: true,
                })
            }
            Err(StoreError::LeaseLost(why)) => Err(SinkError::LeaseLost(why)),
            Err(StoreError::NotFound(why)) => Err(SinkError::Permanent(why)),
            Err(e) => Err(SinkError::retryable(format!(
                "the plan could not be stored: {e}"
            ))),
        }
    }
}

/// A failed fetch as the dispatcher treats any failed action: tried again
/// later (a 429, a 5xx, no answer) or parked with the reason.
impl From<EnrichError> for SinkError {
    fn from(e: EnrichError) -> SinkError {
        match e {
            EnrichError::Retryable {
                reason,
                retry_after,
            } => SinkError::Retryable {
                reason,
                retry_after,
            },
            EnrichError::Permanent(why) => SinkError::Permanent(why),
        }
    }
}
