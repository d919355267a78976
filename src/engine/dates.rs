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

/// `date` moved by a relative time, on the wall clock of `zone`.
pub fn relative(
    date: DateTime<Utc>,
    at: &crate::rules::model::RelativeTime,
    zone: chrono_tz::Tz,
) -> DateTime<Utc> {
    let whole_days = at.offset_s % 86_400 == 0;
    if !whole_days && at.clock.is_none() {
        return date + chrono::Duration::seconds(at.offset_s);
    }
    let moved = if whole_days {
        date.with_timezone(&zone).naive_local() + chrono::Duration::seconds(at.offset_s)
    } else {
        (date + chrono::Duration::seconds(at.offset_s))
            .with_timezone(&zone)
            .naive_local()
    };
    match at
        .clock
        .and_then(|(h, m)| moved.date().and_hms_opt(h, m, 0))
    {
        Some(local) => wall(zone, local),
        None => wall(zone, moved),
    }
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
    fn whole_days_count_on_the_wall_clock_across_a_change() {
        use crate::rules::model::RelativeTime;
        let ny = chrono_tz::America::New_York;
        let start = parse_in("2026-03-12 15:00", ny).expect("start"); // after the spring change
        let at = |s: &str| {
            let r = RelativeTime::parse(s).expect("relative");
            relative(start, &r, ny).to_rfc3339()
        };
        // A week before Thursday 12 March 15:00 EDT is Thursday 5 March 15:00 EST.
        assert_eq!(at("7d before retreat_start"), "2026-03-05T20:00:00+00:00");
        assert_eq!(
            at("7d before retreat_start at 10:00"),
            "2026-03-05T15:00:00+00:00"
        );
        // Hours are real hours: 12 hours before 15:00 EDT on 9 March is 03:00 EDT.
        let monday = parse_in("2026-03-09 15:00", ny).expect("monday");
        let r = RelativeTime::parse("36h before retreat_start").expect("relative");
        // 36 real hours before Monday 15:00 EDT (19:00 UTC) is Sunday 07:00 UTC.
        assert_eq!(
            relative(monday, &r, ny).to_rfc3339(),
            "2026-03-08T07:00:00+00:00"
        );
        // "at 02:30" on the spring-forward day is the first instant after the gap.
        let sunday = parse_in("2026-03-09 12:00", ny).expect("sunday");
        let r = RelativeTime::parse("1d before retreat_start at 02:30").expect("relative");
        assert_eq!(
            relative(sunday, &r, ny).to_rfc3339(),
            "2026-03-08T07:00:00+00:00"
        );
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
