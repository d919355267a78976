//! Reading the dates that payloads carry, in the forms senders use.
//!
//! A date with an offset ("2026-03-01T10:00:00Z", Acuity's "-0700") is an
//! instant. One without ("2026-03-01 10:00:00" from Amelia, a plain
//! "2026-03-01" from a form) is a wall-clock time: the sender's booking
//! calendar speaks in the business's local time, so it is read in the zone
//! of the entity the rule acts for (`parse_in`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::rules::compile::window::wall;

/// RFC 3339, "YYYY-MM-DD HH:MM[:SS]", "YYYY-MM-DDTHH:MM:SS" (UTC), Acuity's
/// "2013-07-02T10:15:00-0700", or a plain date (midnight UTC).
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    parse_in(s, Tz::UTC)
}

/// [`parse`], reading a date without an offset on the wall clock of `zone`
/// (a plain date is that day's midnight there).
pub fn parse_in(s: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z") {
        return Some(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(wall(zone, d));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| wall(zone, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sender_form_parses() {
        for s in [
            "2026-03-01T10:00:00Z",
            "2026-03-01 10:00",
            "2026-03-01 10:00:00",
            "2013-07-02T10:15:00-0700",
            "2026-03-01",
        ] {
            assert!(parse(s).is_some(), "{s}");
        }
        assert!(parse("next tuesday").is_none());
    }

    #[test]
    fn dates_without_an_offset_are_read_on_the_local_clock() {
        let ny = chrono_tz::America::New_York;
        let at = |s: &str| parse_in(s, ny).map(|d| d.to_rfc3339());
        assert_eq!(
            at("2026-03-01 10:00").as_deref(),
            Some("2026-03-01T15:00:00+00:00")
        );
        assert_eq!(
            at("2026-07-01").as_deref(),
            Some("2026-07-01T04:00:00+00:00")
        );
        // An offset wins over the zone.
        assert_eq!(
            at("2026-03-01T10:00:00Z").as_deref(),
            Some("2026-03-01T10:00:00+00:00")
        );
    }
}
