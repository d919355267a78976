//! Waiting work a candidate calendar would hold.
//!
//! The dispatcher checks an action's send window again just before it runs,
//! against the rules live then (dispatch/hold.rs). So a change to
//! calendar.toml (a staff training day closed) reaches actions already
//! queued: the what-if lists each waiting action that the candidate rules
//! would hold past the time it is due, and until when, while the live rules
//! would let it run.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::dispatch::hold::held_by;
use crate::rules::RuleSet;
use crate::store::replay::Waiting;

/// A waiting action the candidate rules would hold when it falls due.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    #[serde(flatten)]
    pub waiting: Waiting,
    /// When it would run instead.
    pub until: DateTime<Utc>,
    pub why: String,
}

/// The waiting actions `candidate` would hold at their due time and `live` would not.
pub fn held(waiting: &[Waiting], live: &RuleSet, candidate: &RuleSet) -> Vec<Held> {
    waiting
        .iter()
        .filter_map(|w| {
            let kept = w.window.as_ref()?;
            let (until, why) = held_by(kept, candidate, w.due_at)?;
            if held_by(kept, live, w.due_at).map(|(t, _)| t) == Some(until) {
                return None;
            }
            Some(Held {
                waiting: w.clone(),
                until,
                why,
            })
        })
        .collect()
}
