//! Time zones and calendar schedules, compiled once at load.
//!
//! A zone is an IANA name ("America/New_York"), checked against chrono-tz's
//! database. A schedule's time is a cron expression or a plain form people
//! write ("daily at 08:00", "every Monday at 09:00", "weekdays at 07:30",
//! "on the 1st of the month at 07:00"), turned into cron and evaluated by
//! croner in the schedule's zone, so 09:00 stays 09:00 on the wall clock
//! across daylight-saving changes. A time that doesn't exist on the
//! spring-forward night (02:30 in New York) runs at the first instant after
//! the gap (03:00); a time that exists twice on the autumn night runs once,
//! at its first occurrence (croner's rule, the one cron implementations
//! share under the Open Cron Pattern Specification).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// When a schedule fires.
#[derive(Debug, Clone)]
pub enum Timing {
    /// Every so many seconds, in slots counted from the epoch (UTC).
    Every(u64),
    /// At the times a cron pattern names, on the wall clock of `zone`.
    Calendar {
        cron: Box<Cron>,
        zone: Tz,
        /// As written in the file ("daily at 08:00" or the cron pattern).
        text: String,
    },
}

impl Timing {
    /// The start of the slot `now` falls in: the latest firing time at or
    /// before `now` (`None` if the pattern never fired before `now`).
    pub fn slot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Timing::Every(every_s) => {
                let every = i64::try_from((*every_s).max(1)).unwrap_or(i64::MAX);
                let t = now.timestamp();
                DateTime::from_timestamp(t - t.rem_euclid(every), 0)
            }
            Timing::Calendar { cron, zone, .. } => cron
                .find_previous_occurrence(&now.with_timezone(zone), true)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    /// The next `n` firing times after `now`.
    pub fn next(&self, now: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        match self {
            Timing::Every(every_s) => {
                let every = i64::try_from((*every_s).max(1)).unwrap_or(i64::MAX);
                let Some(start) = self.slot(now) else {
                    return vec![];
                };
                (1..=n as i64)
                    .filter_map(|k| start.checked_add_signed(chrono::Duration::seconds(every * k)))
                    .collect()
            }
            Timing::Calendar { cron, zone, .. } => cron
                .iter_after(now.with_timezone(zone))
                .take(n)
                .map(|t| t.with_timezone(&Utc))
                .collect(),
        }
    }

    /// The next `n` firing times after `now`, each as (its zone's wall clock, UTC), in words.
    pub fn upcoming(&self, now: DateTime<Utc>, n: usize) -> Vec<(String, String)> {
        let zone = self.zone();
        self.next(now, n)
            .into_iter()
            .map(|t| {
                (
                    t.with_timezone(&zone)
                        .format("%a %-d %b %Y %H:%M %Z")
                        .to_string(),
                    t.format("%H:%M UTC").to_string(),
                )
            })
            .collect()
    }

    /// The zone its times are read in (UTC for `every`).
    pub fn zone(&self) -> Tz {
        match self {
            Timing::Every(_) => Tz::UTC,
            Timing::Calendar { zone, .. } => *zone,
        }
    }

    /// How it was written, for people.
    pub fn describe(&self) -> String {
        match self {
            Timing::Every(s) => format!("every {}", crate::rules::model::time::in_words(*s)),
            Timing::Calendar { text, zone, .. } => format!("{text} ({zone})"),
        }
    }
}

/// An IANA zone name, or why it is not one.
pub fn zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name.trim()).map_err(|_| {
        let near = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|z| z.name())
            .find(|z| z.eq_ignore_ascii_case(name.trim()) || z.ends_with(&format!("/{}", name.trim().replace(' ', "_"))));
        match near {
            Some(z) => format!("`{name}` is not a time zone; did you mean \"{z}\"?"),
            None => format!(
                "`{name}` is not a time zone: write an IANA name such as \"America/New_York\" or \"Europe/London\""
            ),
        }
    })
}

const FORMS: &str = "write cron (\"0 8 * * *\") or a plain form: \"daily at 08:00\", \"weekdays at 07:30\", \"every Monday at 09:00\", \"on the 1st of the month at 07:00\"";

/// A plain form or a cron pattern, as cron (5 fields), or why not.
pub fn to_cron(text: &str) -> Result<String, String> {
    let t = text.trim().to_ascii_lowercase();
    let words: Vec<&str> = t.split_whitespace().collect();
    // A cron pattern: 5 or 6 fields of digits, *, /, -, ,, ?, L, W, # or names.
    let cronish = (5..=6).contains(&words.len())
        && words.iter().all(|w| {
            w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "*/-,?#".contains(c))
        })
        && !t.contains(" at ");
    if cronish {
        return Ok(text.trim().to_string());
    }
    let (when, clock) = t.rsplit_once(" at ").ok_or_else(|| {
        format!("`{text}`: say the time of day after \"at\" (\"daily at 08:00\"); {FORMS}")
    })?;
    let (h, m) = clock_time(clock).ok_or_else(|| {
        format!("`{clock}` is not a time of day: write it as 24-hour HH:MM, e.g. 08:00 or 17:30")
    })?;
    let day = match when.trim() {
        "daily" | "every day" => "* * *".to_string(),
        "weekdays" | "every weekday" | "on weekdays" => "* * 1-5".to_string(),
        "weekends" | "every weekend" | "on weekends" => "* * 0,6".to_string(),
        w => {
            if let Some(d) = w
                .strip_prefix("every ")
                .or_else(|| w.strip_prefix("on "))
                .and_then(weekday)
            {
                format!("* * {d}")
            } else if let Some(n) = month_day(w) {
                format!("{n} * *")
            } else {
                return Err(format!("`{text}`: hsflow doesn't know \"{w}\"; {FORMS}"));
            }
        }
    };
    Ok(format!("{m} {h} {day}"))
}

fn clock_time(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn weekday(s: &str) -> Option<&'static str> {
    let s = s.trim().trim_end_matches('s');
    const DAYS: [(&str, &str); 7] = [
        ("monday", "MON"),
        ("tuesday", "TUE"),
        ("wednesday", "WED"),
        ("thursday", "THU"),
        ("friday", "FRI"),
        ("saturday", "SAT"),
        ("sunday", "SUN"),
    ];
    DAYS.iter()
        .find(|(long, short)| s == *long || s.eq_ignore_ascii_case(short))
        .map(|(_, short)| *short)
}

/// "on the 1st of the month", "monthly on the 15th" -> the day number.
fn month_day(s: &str) -> Option<u32> {
    let rest = s
        .strip_prefix("on the ")
        .and_then(|r| r.strip_suffix(" of the month"))
        .or_else(|| s.strip_prefix("monthly on the "))
        .or_else(|| s.strip_prefix("every month on the "))?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u32 = digits.parse().ok()?;
    let suffix = &rest[digits.len()..];
    (["st", "nd", "rd", "th", ""].contains(&suffix) && (1..=31).contains(&n)).then_some(n)
}

/// Compile a schedule's time (`cron` or plain `calendar`) in `zone`.
pub fn timing(text: &str, zone: Tz) -> Result<Timing, String> {
    let pattern = to_cron(text)?;
    let cron = Cron::from_str(&pattern)
        .map_err(|e| format!("`{text}` is not a schedule hsflow can read ({e}); {FORMS}"))?;
    Ok(Timing::Calendar {
        cron: Box::new(cron),
        zone,
        text: text.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile::clock::utc;

    #[test]
    fn plain_forms_read_as_cron() {
        assert_eq!(to_cron("daily at 08:00").unwrap(), "0 8 * * *");
        assert_eq!(to_cron("Every Monday at 09:15").unwrap(), "15 9 * * MON");
        assert_eq!(to_cron("weekdays at 07:30").unwrap(), "30 7 * * 1-5");
        assert_eq!(
            to_cron("on the 1st of the month at 07:00").unwrap(),
            "0 7 1 * *"
        );
        assert_eq!(to_cron("0 6 * * *").unwrap(), "0 6 * * *");
        assert!(to_cron("daily")
            .unwrap_err()
            .contains("say the time of day after \"at\""));
        assert!(to_cron("daily 08:00")
            .unwrap_err()
            .contains("say the time of day after \"at\""));
        assert!(to_cron("daily at 25:00")
            .unwrap_err()
            .contains("24-hour HH:MM"));
        assert!(to_cron("every blue moon at 09:00")
            .unwrap_err()
            .contains("doesn't know"));
        assert!(zone("America/New_Yrok").unwrap_err().contains("IANA"));
        assert!(zone("america/new_york")
            .unwrap_err()
            .contains("did you mean \"America/New_York\""));
    }

    /// Firing times of "daily at HH:MM" in `tz` on the given UTC days.
    fn daily(at: &str, tz: Tz, from: &str, days: usize) -> Vec<String> {
        let t = timing(&format!("daily at {at}"), tz).expect("timing");
        t.next(utc(from), days)
            .iter()
            .map(|d| d.with_timezone(&tz).format("%m-%d %H:%M %Z").to_string())
            .collect()
    }

    #[test]
    fn nine_o_clock_stays_nine_across_both_changes_in_new_york_and_london() {
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            daily("09:00", ny, "2026-03-07T00:00:00Z", 3),
            ["03-07 09:00 EST", "03-08 09:00 EDT", "03-09 09:00 EDT"]
        );
        assert_eq!(
            daily("09:00", ny, "2026-10-31T00:00:00Z", 3),
            ["10-31 09:00 EDT", "11-01 09:00 EST", "11-02 09:00 EST"]
        );
        let london = chrono_tz::Europe::London;
        assert_eq!(
            daily("09:00", london, "2026-03-28T00:00:00Z", 3),
            ["03-28 09:00 GMT", "03-29 09:00 BST", "03-30 09:00 BST"]
        );
        assert_eq!(
            daily("09:00", london, "2026-10-24T00:00:00Z", 3),
            ["10-24 09:00 BST", "10-25 09:00 GMT", "10-26 09:00 GMT"]
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_runs_after_it_and_one_in_the_autumn_overlap_runs_once() {
        let ny = chrono_tz::America::New_York;
        // 02:30 doesn't exist on 8 March 2026 in New York: it runs at 03:00.
        assert_eq!(
            daily("02:30", ny, "2026-03-07T12:00:00Z", 3),
            ["03-08 03:00 EDT", "03-09 02:30 EDT", "03-10 02:30 EDT"]
        );
        // 01:30 happens twice on 1 November 2026: it runs once, the first time.
        assert_eq!(
            daily("01:30", ny, "2026-10-31T12:00:00Z", 3),
            ["11-01 01:30 EDT", "11-02 01:30 EST", "11-03 01:30 EST"]
        );
        let london = chrono_tz::Europe::London;
        assert_eq!(
            daily("01:30", london, "2026-03-28T12:00:00Z", 2),
            ["03-29 02:00 BST", "03-30 01:30 BST"]
        );
    }

    #[test]
    fn the_slot_is_the_latest_firing_at_or_before_now() {
        let ny = chrono_tz::America::New_York;
        let t = timing("daily at 08:00", ny).expect("timing");
        // 13:00 UTC on 1 Dec is 08:00 in New York: that slot, exactly.
        assert_eq!(
            t.slot(utc("2026-12-01T13:00:00Z")),
            Some(utc("2026-12-01T13:00:00Z"))
        );
        assert_eq!(
            t.slot(utc("2026-12-01T12:59:00Z")),
            Some(utc("2026-11-30T13:00:00Z"))
        );
        // `every` slots are aligned to the epoch.
        let t = utc("2026-11-22T08:47:13Z");
        assert_eq!(
            Timing::Every(3600).slot(t),
            Some(utc("2026-11-22T08:00:00Z"))
        );
        assert_eq!(
            Timing::Every(900).slot(t),
            Some(utc("2026-11-22T08:45:00Z"))
        );
        let every = Timing::Every(86_400);
        assert_eq!(
            every.slot(utc("2026-12-01T12:00:00Z")),
            Some(utc("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            every.next(utc("2026-12-01T12:00:00Z"), 2),
            [utc("2026-12-02T00:00:00Z"), utc("2026-12-03T00:00:00Z")]
        );
    }
}
