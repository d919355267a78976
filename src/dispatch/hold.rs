//! Send windows, checked again when an action is about to run.
//!
//! The planner times an action into its window when the event arrives, but
//! the calendar may change while the action waits: the office manager adds a
//! staff training day, or a retry's backoff carries a 16:59 email past
//! 17:00. So just before the dispatcher carries an action out, it asks the
//! live rules whether the action's window is open now; if not, the action
//! goes back to the queue for the window's next opening, without using an
//! attempt, with the reason where the console shows it. A window that no
//! longer exists holds nothing (the action runs), and neither does one that
//! never opens again (the planner reports that case when it plans).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::engine::action::PlannedAction;
use crate::engine::payload::WindowRef;
use crate::engine::send_window::both_clocks;
use crate::rules::RuleSet;

/// When `action` may run instead of `now`, and why, if its window is shut.
pub fn held_until(
    action: &PlannedAction,
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, String)> {
    held_by(action.window.as_ref()?, rules, now)
}

/// When an action keeping `kept` may run instead of `now` under `rules`, and
/// why, if that window is shut then (the what-if asks this of waiting work).
pub fn held_by(
    kept: &WindowRef,
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, String)> {
    let window = rules.windows.get(&*kept.id)?;
    let zone = window.zone_or(kept.zone.parse::<Tz>().unwrap_or(Tz::UTC));
    let opens = window.next_open(now, zone)?;
    (opens > now).then(|| {
        (
            opens,
            format!(
                "held for {}: {}, so it runs {}",
                window.id,
                window.why_shut(now, zone),
                both_clocks(opens, zone)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile::clock::utc;

    #[test]
    fn a_closed_day_added_after_planning_holds_the_action() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let rs = crate::rules::load(&root.join("rules"), &root.join("templates"))
            .ruleset
            .expect("the shipped pack loads");
        let mut action: PlannedAction = serde_json::from_value(serde_json::json!({
            "id": "r/a", "rule": "r", "flow": "f", "entity": null, "delay_s": 0,
            "run_at": "2026-11-26T15:00:00Z", "kind": "notify", "channel": "c",
            "text": "t", "urgent": false,
            "window": {"id": "business_hours", "zone": "America/New_York"}
        }))
        .expect("a planned action");
        // Thanksgiving 10:00 in New York: held until Friday 09:00.
        let (at, why) = held_until(&action, &rs, utc("2026-11-26T15:00:00Z")).expect("held");
        assert_eq!(at, utc("2026-11-27T14:00:00Z"));
        assert!(
            why.starts_with("held for business_hours: Thursday 26 November 2026 is closed (Thanksgiving Day), so it runs Fri 27 Nov 2026 09:00 EST"),
            "{why}"
        );
        // Friday 10:00: open, so it runs.
        assert_eq!(held_until(&action, &rs, utc("2026-11-27T15:00:00Z")), None);
        // A window the rules no longer have holds nothing.
        action.window = action.window.map(|mut w| {
            w.id = "gone".into();
            w
        });
        assert_eq!(held_until(&action, &rs, utc("2026-11-26T15:00:00Z")), None);
    }
}
