//! One request in, one event out: authenticate (when asked), then normalise.
//!
//! Shared by `hsflow simulate`, `hsflow test` and the server, so all three
//! accept and refuse exactly the same requests.

use chrono::{DateTime, Utc};

use super::auth::{self, AuthError};
use super::enrich::{from_fixture, StepTrace};
use super::normalise::{normalise_payload, parse_body, NormaliseError, Request};
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
    /// The source fetches from its API first, and no stand-in response was given.
    #[error("{0}")]
    Enrich(String),
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
    intake_enriched(rs, source, req, received_at, verify, secret, None).map(|(e, _)| e)
}

/// [`intake`] for a source with `[[enrich]]` steps too, offline: `enriched`
/// stands in for the API's responses (one key per step name, or with one
/// step the response itself). Simulate, rule tests and the console's "try
/// an event" never call a vendor, so such a source needs it.
pub fn intake_enriched(
    rs: &RuleSet,
    source: &str,
    req: &Request<'_>,
    received_at: DateTime<Utc>,
    verify: bool,
    secret: &dyn Fn(&str) -> Option<String>,
    enriched: Option<&serde_json::Value>,
) -> Result<(Event, Vec<StepTrace>), IntakeError> {
    let src = rs.sources.get(source).ok_or_else(|| {
        IntakeError::UnknownSource(
            source.to_string(),
            rs.sources.keys().cloned().collect::<Vec<_>>().join(", "),
        )
    })?;
    if verify {
        auth::verify(&src.auth, &|h| req.header(h), req.body, secret)?;
    }
    let mut payload = parse_body(src.format, req.body)?;
    let trace = match (src.enrich.is_empty(), enriched) {
        (true, _) => Vec::new(),
        (false, Some(fixture)) => {
            from_fixture(&src.enrich, &mut payload, fixture, secret).map_err(IntakeError::Enrich)?
        }
        (false, None) => {
            let names: Vec<&str> = src.enrich.iter().map(|s| &*s.name).collect();
            return Err(IntakeError::Enrich(format!(
                "source `{source}` fetches {} from its API before reading the webhook, and this runs offline: give the response as a file (simulate --enriched FILE; in a rule test, enriched = \"examples/FILE.json\")",
                names.join(", ")
            )));
        }
    };
    Ok((
        normalise_payload(rs, src, payload, req, received_at)?,
        trace,
    ))
}

/// Normalise a stored request again (a replay: the what-if, the studio's
/// previews), an `[[enrich]]` source with the answers its trace kept.
pub fn renormalise(
    rs: &RuleSet,
    src: &crate::rules::ruleset::Source,
    req: &Request<'_>,
    received_at: DateTime<Utc>,
    enriched: Option<&serde_json::Value>,
) -> Result<Event, String> {
    let mut payload = parse_body(src.format, req.body).map_err(|e| e.to_string())?;
    if !src.enrich.is_empty() {
        let answers = enriched.ok_or_else(|| {
            format!("source `{}` fetches from its API first, and this stored event kept no answer to replay", src.name)
        })?;
        from_fixture(&src.enrich, &mut payload, answers, &|_| None)?;
    }
    normalise_payload(rs, src, payload, req, received_at).map_err(|e| e.to_string())
}
