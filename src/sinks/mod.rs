//! Where actions go. Each planned action kind has a sink; a sink says whether
//! a failure is worth retrying.
//!
//! The local sinks are the default and need no accounts: email is written as
//! .eml files, notifications to a JSON-lines file, Notion pages and tasks to
//! a local store with Notion's property model, workflow moves to the store.
//! The real ones (the Notion API, SMTP, Slack or a JSON endpoint, outgoing
//! webhooks, Beehiiv, HubSpot) take over a kind when [`config::SinkSettings`] says so. Workflow
//! state always lives in the store: it is hsflow's own.

pub mod beehiiv;
pub mod config;
pub mod email;
pub mod eml;
pub mod http;
pub mod hubspot;
pub mod links;
pub mod local;
pub mod notion;
pub mod outgoing;
pub mod smtp;
pub mod task;

use std::time::Duration;

use crate::engine::action::{Crossing, MatchOn, Payload, PlannedAction};
use crate::rules::model::NotionOperation;
use crate::rules::RuleSet;
use crate::store::jobs::Job;
use config::SinkSettings;
use local::LocalSinks;
use notion::{NotionClient, NotionSink};
use outgoing::Outgoing;
use smtp::SmtpSink;

/// Why a sink could not do its job.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SinkError {
    /// Worth trying again later (I/O, network, 429, 5xx). `retry_after` is the
    /// target's own request (e.g. a Retry-After header).
    #[error("{reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Will fail the same way every time (a validation error): parked at once.
    #[error("{0}")]
    Permanent(String),
    /// The job waits for another action of its event (see [`links`]): tried
    /// again after `wait`, without using up an attempt.
    #[error("{reason}")]
    Waiting { reason: String, wait: Duration },
    /// An email that is not sent because its address is suppressed (or just
    /// bounced for good): recorded as `suppressed`, with this reason.
    #[error("{0}")]
    Suppressed(String),
    /// The job is no longer this worker's (its lease ran out and another
    /// claim took it): the store refused the side effect, and nothing about
    /// this attempt is recorded.
    #[error("{0}")]
    LeaseLost(String),
}

impl SinkError {
    pub fn retryable(reason: impl Into<String>) -> SinkError {
        SinkError::Retryable {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

/// What a sink did: a sentence for the log, any `events_at` values its
/// additions crossed (raised as `hsflow:score.crossed` events), and whether
/// the job's success was already recorded with the side effect (a store
/// write commits both in one transaction).
#[derive(Debug, Default)]
pub struct Done {
    pub message: String,
    pub crossings: Vec<Crossing>,
    pub recorded: bool,
}

impl From<String> for Done {
    fn from(message: String) -> Done {
        Done {
            message,
            ..Done::default()
        }
    }
}

/// Where raised events go: the server accepts each through the `hsflow`
/// source and answers once it is stored (or why it could not be).
pub type Raise = tokio::sync::mpsc::UnboundedSender<(
    serde_json::Value,
    tokio::sync::oneshot::Sender<Result<(), String>>,
)>;

/// Raise `event` and wait until it is stored (or why it could not be).
pub async fn raise(tx: &Raise, event: serde_json::Value) -> Result<(), String> {
    let (answer, stored) = tokio::sync::oneshot::channel();
    tx.send((event, answer))
        .map_err(|_| "the server is stopping; the event was not raised".to_string())?;
    match stored.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("the raised event was not stored: {e}")),
        Err(_) => Err("the raised event was not stored".to_string()),
    }
}

/// The event a crossing raises; its id makes a re-raise after a retry a duplicate.
pub fn crossing_event(job: &Job, database: &str, c: &Crossing) -> serde_json::Value {
    serde_json::json!({
        "type": "score.crossed",
        "id": format!("{}:{}:{}", job.id, c.property, c.threshold),
        "email": job.contact, "database": database, "property": c.property,
        "threshold": c.threshold, "score": c.score,
    })
}

/// Every sink, and which one carries out each kind.
pub struct Sinks {
    pub local: LocalSinks,
    pub notion: Option<NotionSink>,
    pub smtp: Option<SmtpSink>,
    pub outgoing: Outgoing,
    pub send_webhooks: bool,
    pub beehiiv: Option<beehiiv::BeehiivSink>,
    pub hubspot: Option<hubspot::HubspotSink>,
    /// Raised events go here; `None` drops them (with a warning).
    pub raise: Option<Raise>,
    /// Signs the links in emails (unsubscribe, open, click).
    pub links: crate::email::token::Signer,
    /// `HSFLOW_UNSUBSCRIBE_MAILTO`: where a mail program's unsubscribe may
    /// also write (else the email's reply-to or sender).
    pub unsubscribe_mailto: Option<String>,
}

impl Sinks {
    pub fn new(local: LocalSinks, settings: &SinkSettings) -> Result<Sinks, String> {
        Ok(Sinks {
            local,
            notion: match &settings.notion {
                Some(cfg) => Some(NotionSink::new(NotionClient::new(cfg.clone())?)),
                None => None,
            },
            smtp: settings.smtp.as_ref().map(SmtpSink::new).transpose()?,
            outgoing: Outgoing::new(settings.notify.clone(), settings.http_timeout)?,
            send_webhooks: settings.send_webhooks,
            beehiiv: match &settings.beehiiv {
                Some(cfg) => Some(beehiiv::BeehiivSink::new(
                    cfg.clone(),
                    settings.http_timeout,
                )?),
                None => None,
            },
            hubspot: match &settings.hubspot {
                Some(cfg) => Some(hubspot::HubspotSink::new(
                    cfg.clone(),
                    settings.http_timeout,
                )?),
                None => None,
            },
            raise: None,
            // The server puts its lasting key and public address here.
            links: crate::email::token::Signer::ephemeral("http://localhost:8080"),
            unsubscribe_mailto: std::env::var("HSFLOW_UNSUBSCRIBE_MAILTO")
                .ok()
                .filter(|v| !v.trim().is_empty()),
        })
    }

    /// Carry out one action; the answer says what was done (for the log)
    /// and whether the job's success is already recorded. Crossings are
    /// raised as events before it returns.
    pub async fn execute(
        &self,
        job: &Job,
        action: &PlannedAction,
        rules: &RuleSet,
    ) -> Result<Done, SinkError> {
        let done = self.run(job, action, rules).await?;
        if !done.crossings.is_empty() {
            let database = match &action.payload {
                Payload::Notion { database, .. } => database.as_str(),
                _ => "",
            };
            // Stored before the job counts as done: if not, the job is retried,
            // and the retry raises the same events again (same ids: duplicates).
            for c in &done.crossings {
                let event = crossing_event(job, database, c);
                let Some(tx) = &self.raise else {
                    tracing::warn!(job = %job.id, "`{}` crossed {} but raised events have nowhere to go", c.property, c.threshold);
                    continue;
                };
                raise(tx, event).await.map_err(SinkError::retryable)?;
            }
        }
        Ok(done)
    }

    fn waiter<'a>(&'a self, job: &'a Job) -> links::Waiter<'a> {
        links::Waiter {
            store: &self.local.store,
            job,
        }
    }

    async fn run(
        &self,
        job: &Job,
        action: &PlannedAction,
        rules: &RuleSet,
    ) -> Result<Done, SinkError> {
        match (&action.payload, &self.beehiiv, &self.hubspot) {
            (Payload::Beehiiv { .. }, Some(b), _) => {
                return b.subscribe(&action.payload).await.map(Done::from)
            }
            (Payload::Hubspot { .. }, _, Some(h)) => {
                return h.upsert(&action.payload).await.map(Done::from)
            }
            _ => {}
        }
        match (&action.payload, &self.notion) {
            (Payload::Email { .. }, _) => self.email(job, action, rules).await,
            (
                Payload::Notion {
                    database,
                    operation,
                    match_on,
                    properties,
                    links,
                    add,
                },
                Some(notion),
            ) => {
                let w = notion::Write {
                    database,
                    operation: *operation,
                    match_on: match_on.as_ref(),
                    properties,
                    links,
                    add,
                };
                notion.write(rules, w, &self.waiter(job)).await
            }
            (Payload::Task { .. }, Some(notion)) => {
                let key = MatchOn {
                    property: task::KEY.into(),
                    value: job.id.clone().into(),
                };
                let props = task::properties(rules, &job.id, job.contact.as_deref(), action);
                let links = task::links(rules, job.contact.as_deref());
                let w = notion::Write {
                    database: task::DATABASE,
                    operation: NotionOperation::Upsert,
                    match_on: Some(&key),
                    properties: &props,
                    links: &links,
                    add: &[],
                };
                notion.write(rules, w, &self.waiter(job)).await
            }
            (
                Payload::Notify {
                    channel,
                    text,
                    urgent,
                },
                _,
            ) if self.outgoing.notify.is_some() => self
                .outgoing
                .notify(&job.id, channel, text, *urgent, action.entity.as_deref())
                .await
                .map(Done::from),
            (
                Payload::Webhook {
                    url,
                    method,
                    headers,
                    body,
                    sign_secret_env,
                },
                _,
            ) if self.send_webhooks => self
                .outgoing
                .webhook(
                    &job.id,
                    url,
                    *method,
                    headers,
                    body,
                    sign_secret_env.as_deref(),
                )
                .await
                .map(Done::from),
            _ => self.local.execute(job, action, rules).await,
        }
    }
}
