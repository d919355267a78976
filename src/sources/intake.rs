//! One request in, one event out: authenticate (when asked), then normalise.
//!
//! Shared by `hsflow simulate`, `hsflow test` and the server, so all three
//! accept and refuse exactly the same requests.

use chrono::{DateTime, Utc};

use super::auth::{self, AuthError};
use super::normalise::{normalise, NormaliseError, Request};
use crate::engine::event::Event;
use crate::rules::RuleSet;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("there is no source `{0}`; the sources are: {1}")]
    UnknownSource(String, String),
    #[error("the request is not authenticated: {0}")]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Normalise(#[from] NormaliseError),
}

/// Authenticate (if `verify`) and normalise a request for `source`.
pub fn intake(
    rs: &RuleSet,
    source: &str,
    req: &Request<'_>,
    received_at: DateTime<Utc>,
    verify: bool,
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<Event, IntakeError> {
    let src = rs.sources.get(source).ok_or_else(|| {
        IntakeError::UnknownSource(
            source.to_string(),
            rs.sources.keys().cloned().collect::<Vec<_>>().join(", "),
        )
    })?;
    if verify {
        auth::verify(&src.auth, &|h| req.header(h), req.body, secret)?;
    }
    Ok(normalise(rs, src, req, received_at)?)
}
