//! Keeping planned actions to their send windows.
//!
//! After a rule's actions are planned, each one that keeps a window
//! (`window = "business_hours"`, or an email of an entity with an
//! `email_window`) and falls due outside it is moved to the window's next
//! opening, on the wall clock of the window's zone (its own, else the
//! entity's, else the network's). The actions of one rule form a sequence,
//! and a move never squeezes it (see [`apply`]). Each moved action says when
//! it fell due, why it waited, and when it runs, in local time and UTC, for
//! the explain trace.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use crate::rules::compile::clock::both_clocks;

use super::payload::{Payload, PlannedAction, WindowRef};
use crate::rules::compile::window::{Window, WindowChoice};
use crate::rules::ruleset::{EntityInfo, RuleSet};

/// The zone an entity's times are read in: its own, else the network's, else UTC.
pub fn zone_of(rs: &RuleSet, entity: Option<&EntityInfo>) -> Tz {
    entity
        .and_then(|e| e.zone)
        .or(rs.entities.zone)
        .unwrap_or(Tz::UTC)
}

/// The window an action keeps, the zone it is read in, and whether the
/// action is a step of its rule's sequence (timed by a delay from the event)
/// rather than anchored to a date the event carries (`at`).
pub struct Keep {
    pub window: Arc<Window>,
    pub zone: Tz,
    pub in_sequence: bool,
}

/// The window (and the zone it is read in) an action keeps, if any.
pub fn kept(
    rs: &RuleSet,
    choice: &WindowChoice,
    payload: &Payload,
    entity: Option<&EntityInfo>,
    in_sequence: bool,
) -> Option<Keep> {
    let w = match choice {
        WindowChoice::Anytime => None,
        WindowChoice::Named(w) => Some(w.clone()),
        WindowChoice::Entity => match payload {
            Payload::Email { .. } => entity.and_then(|e| e.email_window.clone()),
            _ => None,
        },
    }?;
    let zone = w.zone_or(zone_of(rs, entity));
    Some(Keep {
        window: w,
        zone,
        in_sequence,
    })
}

/// Move `actions` (one rule's, for one event) into their windows; `kept[i]`
/// is the window `actions[i]` keeps. Times count from `received`.
///
/// The windowed actions form a sequence in the order they fell due. A move
/// never squeezes it: each one keeps at least the gap it had after the one
/// before, counted from when that one now runs (as automation tools count a
/// step's delay from the step before). So days 1, 2 and 5 of a follow-up
/// sequence that starts on a Friday night run Monday, Tuesday and Friday,
/// never two on the same morning. Actions due at the same time stay together.
/// An action anchored to a date (`at = "1d after retreat_end"`) is not a
/// step: it only waits for its window.
pub fn apply(actions: &mut [PlannedAction], kept: &[Option<Keep>], received: DateTime<Utc>) {
    if kept.iter().all(Option::is_none) {
        return;
    }
    let mut order: Vec<usize> = (0..actions.len().min(kept.len())).collect();
    order.sort_by_key(|&i| actions[i].run_at);
    // The step before (due, runs, id) and the one being placed.
    let mut before: Option<Step> = None;
    let mut current: Option<Step> = None;
    for i in order {
        let Some(Keep {
            window,
            zone,
            in_sequence,
        }) = &kept[i]
        else {
            continue;
        };
        let due = actions[i].run_at;
        actions[i].window = Some(WindowRef {
            id: window.id.clone(),
            zone: zone.name().into(),
        });
        if *in_sequence && current.as_ref().is_some_and(|c| c.due != due) {
            before = current.take();
        }
        let mut t = due;
        // The gap it had after the step before, kept from when that step now runs.
        let mut kept_gap = None;
        if let Some(b) = before.as_ref().filter(|_| *in_sequence) {
            let gap = due - b.due;
            if b.runs + gap > t {
                t = b.runs + gap;
                kept_gap = Some((b.id.clone(), b.runs, gap));
            }
        }
        let a = &mut actions[i];
        match window.next_open(t, *zone) {
            Some(open) => t = open,
            None => {
                a.error.get_or_insert_with(|| {
                    format!(
                        "the send window {} doesn't open in the next two years (are all its dates closed?), so this can't run",
                        window.id
                    )
                });
                continue;
            }
        }
        if t != due {
            let why = match &kept_gap {
                Some((id, runs, gap)) => format!(
                    "{id} before it was held until {}, and it keeps the {} it had after it",
                    both_clocks(*runs, *zone),
                    crate::rules::model::time::in_words(gap.num_seconds().unsigned_abs())
                ),
                None => format!(
                    "it fell due {}, when {}",
                    both_clocks(due, *zone),
                    window.why_shut(due, *zone)
                ),
            };
            a.notes.push(format!(
                "held for {}: {why}; it runs {}",
                window.id,
                both_clocks(t, *zone)
            ));
            // A task keeps the time it was given to be done in.
            if let Payload::Task { due_at, .. } = &mut a.payload {
                *due_at += t - due;
            }
            a.run_at = t;
            a.delay_s = (t - received).num_seconds();
        }
        if !*in_sequence {
            continue;
        }
        match &mut current {
            Some(c) => c.runs = c.runs.max(t),
            None => {
                current = Some(Step {
                    due,
                    runs: t,
                    id: a.id.clone(),
                })
            }
        }
    }
}

/// One step of a sequence: when it fell due, when it runs, which action.
struct Step {
    due: DateTime<Utc>,
    runs: DateTime<Utc>,
    id: Arc<str>,
}
