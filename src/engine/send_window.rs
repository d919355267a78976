//! Keeping planned actions to their send windows.
//!
//! After a rule's actions are planned, each one that keeps a window
//! (`window = "business_hours"`, or an email of an entity with an
//! `email_window`) and falls due outside it is moved to the window's next
//! opening, on the wall clock of the window's zone (its own, else the
//! entity's, else the network's). The actions of one rule form a sequence,
//! and a move never reorders it: a windowed action never runs before one
//! that was due before it, and one that a move caught up with runs a minute
//! after it. Each moved action says when it was due, why it waited, and when
//! it runs, in local time and UTC, for the explain trace.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::payload::{Payload, PlannedAction};
use crate::rules::compile::window::{Window, WindowChoice};
use crate::rules::ruleset::{EntityInfo, RuleSet};

/// The gap a move leaves between two actions of a sequence it made meet.
const KEEP_APART: i64 = 60;

/// The zone an entity's times are read in: its own, else the network's, else UTC.
pub fn zone_of(rs: &RuleSet, entity: Option<&EntityInfo>) -> Tz {
    entity
        .and_then(|e| e.zone)
        .or(rs.entities.zone)
        .unwrap_or(Tz::UTC)
}

/// The window (and the zone it is read in) an action keeps, if any.
pub fn kept(
    rs: &RuleSet,
    choice: &WindowChoice,
    payload: &Payload,
    entity: Option<&EntityInfo>,
) -> Option<(Arc<Window>, Tz)> {
    let w = match choice {
        WindowChoice::Anytime => None,
        WindowChoice::Named(w) => Some(w.clone()),
        WindowChoice::Entity => match payload {
            Payload::Email { .. } => entity.and_then(|e| e.email_window.clone()),
            _ => None,
        },
    }?;
    let zone = w.zone_or(zone_of(rs, entity));
    Some((w, zone))
}

/// A time as people read it in `zone`, with UTC beside it:
/// "Mon 5 Jan 2026 09:00 America/New_York (14:00 UTC)".
pub fn both_clocks(t: DateTime<Utc>, zone: Tz) -> String {
    if zone == Tz::UTC {
        return format!("{} UTC", t.format("%a %-d %b %Y %H:%M"));
    }
    let local = t.with_timezone(&zone);
    let utc_fmt = if local.date_naive() == t.date_naive() {
        "%H:%M"
    } else {
        "%a %-d %b %H:%M"
    };
    format!(
        "{} {zone} ({} UTC)",
        local.format("%a %-d %b %Y %H:%M"),
        t.format(utc_fmt)
    )
}

/// Move `actions` (one rule's, for one event) into their windows; `kept[i]`
/// is the window `actions[i]` keeps. Times count from `received`.
pub fn apply(
    actions: &mut [PlannedAction],
    kept: &[Option<(Arc<Window>, Tz)>],
    received: DateTime<Utc>,
) {
    if kept.iter().all(Option::is_none) {
        return;
    }
    // Visit in the order they were due; ties keep the order written.
    let mut order: Vec<usize> = (0..actions.len().min(kept.len())).collect();
    order.sort_by_key(|&i| actions[i].run_at);
    // The latest time a windowed action due strictly earlier now runs at, and which.
    let mut floor: Option<(DateTime<Utc>, Arc<str>)> = None;
    let mut group: Vec<(DateTime<Utc>, Arc<str>)> = Vec::new();
    let mut group_due: Option<DateTime<Utc>> = None;
    for i in order {
        let Some((window, zone)) = &kept[i] else {
            continue;
        };
        let due = actions[i].run_at;
        if group_due != Some(due) {
            // A new due time: everything due before it now bounds it.
            for g in group.drain(..) {
                if floor.as_ref().is_none_or(|(f, _)| g.0 > *f) {
                    floor = Some(g);
                }
            }
            group_due = Some(due);
        }
        let mut t = due;
        let mut after = None;
        if let Some((f, who)) = &floor {
            if *f >= t {
                t = *f + Duration::seconds(KEEP_APART);
                after = Some(who.clone());
            }
        }
        let a = &mut actions[i];
        match window.next_open(t, *zone) {
            Some(open) => t = open,
            None => {
                a.error.get_or_insert_with(|| {
                    format!(
                        "the send window `{}` doesn't open in the next two years (are all its dates closed?), so this can't run",
                        window.id
                    )
                });
                continue;
            }
        }
        if t != due {
            let why = if window.is_open(due, *zone) {
                "an action due before it was moved past it".to_string()
            } else {
                window.why_shut(due, *zone)
            };
            let mut note = format!(
                "held for `{}`: due {}, when {why}; runs {}",
                window.id,
                both_clocks(due, *zone),
                both_clocks(t, *zone)
            );
            if let Some(before) = &after {
                note.push_str(&format!(
                    ", a minute after `{before}` (moved there too), to keep the sequence in order"
                ));
            }
            a.notes.push(note);
            // A task keeps the time it was given to be done in.
            if let Payload::Task { due_at, .. } = &mut a.payload {
                *due_at += t - due;
            }
            a.run_at = t;
            a.delay_s = (t - received).num_seconds();
        }
        group.push((t, a.id.clone()));
    }
}
