//! Conditions on when an event arrived: "within business hours", "on a
//! weekday". They read the event's arrival time on the wall clock of a zone
//! (the window's own, else the rule's entity's, else the network's), so
//! "Mon-Fri" means New York's Monday to Friday, not UTC's.
//!
//! Tests of a date field ("retreat_start within the next 14 days") are field
//! tests (`condition::Op::WithinNext`), since they read a field like any other.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use super::condition::Verdict;
use crate::rules::compile::window::{day_name, Window};

#[derive(Debug, Clone)]
pub enum Arrived {
    /// The window was open when the event arrived.
    Within(Arc<Window>),
    /// The event arrived on one of these days (bit 0 = Monday).
    On(u8),
}

#[derive(Debug, Clone)]
pub struct TimeTest {
    pub arrived: Arrived,
    /// The zone the arrival is read in.
    pub zone: Tz,
    /// How the test reads, for traces: `arrived within business_hours`.
    pub text: String,
}

impl TimeTest {
    pub fn holds(&self, arrived_at: DateTime<Utc>) -> bool {
        match &self.arrived {
            Arrived::Within(w) => w.is_open(arrived_at, self.zone),
            Arrived::On(days) => {
                let day = arrived_at
                    .with_timezone(&self.zone)
                    .weekday()
                    .num_days_from_monday();
                days & (1 << day) != 0
            }
        }
    }

    /// The verdict with the arrival time as people read it, and why not.
    pub fn verdict(&self, arrived_at: DateTime<Utc>) -> Verdict {
        let result = self.holds(arrived_at);
        let mut values = Map::new();
        let local = arrived_at.with_timezone(&self.zone);
        values.insert(
            "arrived".into(),
            Value::String(format!(
                "{} ({})",
                local.format("%a %-d %b %Y %H:%M %Z"),
                self.zone
            )),
        );
        let notes = match (&self.arrived, result) {
            (Arrived::Within(w), false) => vec![w.why_shut(arrived_at, self.zone)],
            _ => vec![],
        };
        Verdict {
            expr: self.text.clone(),
            result,
            values,
            notes,
        }
    }
}

/// Day names as a bit set (bit 0 = Monday), from entries such as "Mon-Fri",
/// "Sat", "weekends".
pub fn day_set(entries: &[String]) -> Result<u8, String> {
    let mut set = 0u8;
    for e in entries {
        // Reuse the window parser's day reading: "Mon-Fri 00:00-24:00".
        let spans = crate::rules::compile::window::parse_hours(&format!("{e} 00:00-24:00"))
            .map_err(|why| why.replace(" 00:00-24:00", ""))?;
        for d in spans.iter().map(|s| s.day()) {
            set |= 1 << d;
        }
    }
    Ok(set)
}

/// A day set in words: "Mon, Tue, Wed".
pub fn day_words(set: u8) -> String {
    (0..7u8)
        .filter(|d| set & (1 << d) != 0)
        .map(day_name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile::clock::utc;

    #[test]
    fn weekdays_are_read_on_the_zones_clock() {
        let t = TimeTest {
            arrived: Arrived::On(day_set(&["Mon-Fri".into()]).expect("days")),
            zone: chrono_tz::America::New_York,
            text: String::new(),
        };
        // Saturday 03:00 UTC is still Friday 22:00 in New York.
        assert!(t.holds(utc("2026-01-10T03:00:00Z")));
        // Saturday 06:00 UTC is Saturday 01:00 there.
        assert!(!t.holds(utc("2026-01-10T06:00:00Z")));
    }

    #[test]
    fn day_sets_read_plain_words_and_say_what_is_wrong() {
        assert_eq!(day_set(&["weekends".into()]), Ok(0b110_0000));
        assert_eq!(day_set(&["Mon".into(), "Wed-Thu".into()]), Ok(0b000_1101));
        assert_eq!(day_words(0b000_1101), "Mon, Wed, Thu");
        let err = day_set(&["Mondays".into()]).err().unwrap_or_default();
        assert!(err.contains("not a day of the week"), "{err}");
    }
}
