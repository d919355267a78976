//! Where actions go. Each planned action kind has a sink; a sink says whether
//! a failure is worth retrying.
//!
//! The local sinks (this module's default) need no accounts: email is written
//! as .eml files, notifications go to the log and a JSON-lines file, Notion
//! pages and tasks to a local store with Notion's property model, workflow
//! moves to the store. The real Notion, SMTP and Slack sinks come next and
//! plug in here.

pub mod eml;
pub mod local;

use std::time::Duration;

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
}

impl SinkError {
    pub fn retryable(reason: impl Into<String>) -> SinkError {
        SinkError::Retryable {
            reason: reason.into(),
            retry_after: None,
        }
    }
}
