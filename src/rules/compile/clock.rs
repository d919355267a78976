//! Wall clocks: a local time as an instant (`wall`, with the documented
//! rules for the hours daylight saving skips or repeats), and an instant as
//! people read it, local with UTC beside it (`both_clocks`). Schedules, send
//! windows, dates in rules and every page that shows a time use these two.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::{OffsetName, Tz};

/// A wall-clock time in `zone` as an instant, by the two documented rules:
/// inside the spring-forward gap, the first instant after it; twice on the
/// autumn night, the first occurrence.
pub fn wall(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    // Gaps are at most a few hours (usually one); look forward minute by minute.
    for _ in 0..=24 * 60 {
        match zone.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => probe += Duration::minutes(1),
        }
    }
    // No zone has a day-long gap; read the time as UTC rather than fail.
    local.and_utc()
}

/// A time as people read it in `zone`, with UTC beside it:
/// "Mon 5 Jan 2026 09:00 EST (14:00 UTC)".
///
/// Written field by field rather than through a strftime pattern: planning
/// writes one of these for every action a window moves, and parsing a
/// pattern each time was most of what a send window cost.
pub fn both_clocks(t: DateTime<Utc>, zone: Tz) -> String {
    if zone == Tz::UTC {
        return format!("{} UTC", Clock(&t, true));
    }
    let local = t.with_timezone(&zone);
    let abbreviation = local.offset().abbreviation().unwrap_or(zone.name());
    if local.date_naive() == t.date_naive() {
        format!(
            "{} {abbreviation} ({:02}:{:02} UTC)",
            Clock(&local, true),
            t.hour(),
            t.minute()
        )
    } else {
        format!(
            "{} {abbreviation} ({} UTC)",
            Clock(&local, true),
            Clock(&t, false)
        )
    }
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// "Mon 5 Jan 2026 09:00" (with the year) or "Mon 5 Jan 09:00".
struct Clock<'a, T: chrono::TimeZone>(&'a DateTime<T>, bool);

impl<T: chrono::TimeZone> std::fmt::Display for Clock<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.0;
        let day = DAYS[t.weekday().num_days_from_monday() as usize];
        let month = MONTHS[t.month0() as usize % 12];
        write!(f, "{day} {} {month}", t.day())?;
        if self.1 {
            write!(f, " {}", t.year())?;
        }
        write!(f, " {:02}:{:02}", t.hour(), t.minute())
    }
}

/// An RFC 3339 instant written in a test.
#[cfg(test)]
pub(crate) fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("`{s}` is not a test instant: {e}"))
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_on_both_clocks_as_strftime_would_write_them() {
        let ny = chrono_tz::America::New_York;
        for s in [
            "2026-01-12T14:00:00Z",
            "2026-01-11T04:30:00Z",
            "2026-07-04T13:05:00Z",
            "2026-03-08T07:00:00Z",
        ] {
            let t = DateTime::parse_from_rfc3339(s)
                .expect("a test instant")
                .with_timezone(&Utc);
            let local = t.with_timezone(&ny);
            let utc = if local.date_naive() == t.date_naive() {
                t.format("%H:%M").to_string()
            } else {
                t.format("%a %-d %b %H:%M").to_string()
            };
            let want = format!("{} ({utc} UTC)", local.format("%a %-d %b %Y %H:%M %Z"));
            assert_eq!(both_clocks(t, ny), want);
            assert_eq!(
                both_clocks(t, Tz::UTC),
                format!("{} UTC", t.format("%a %-d %b %Y %H:%M"))
            );
        }
        let t = DateTime::parse_from_rfc3339("2026-01-11T04:30:00Z")
            .expect("a test instant")
            .with_timezone(&Utc);
        assert_eq!(
            both_clocks(t, ny),
            "Sat 10 Jan 2026 23:30 EST (Sun 11 Jan 04:30 UTC)"
        );
    }
}
