//! Send windows, compiled: opening hours on a zone's wall clock, minus
//! closed dates, and the arithmetic the planner needs from them ("is it open
//! at this instant?", "when does it next open?", "why is it shut?").
//!
//! Everything is reckoned on the wall clock, so a 09:00 opening stays 09:00
//! across daylight-saving changes. Two documented rules settle the clock's
//! odd hours: a wall time that doesn't exist (02:30 on the spring-forward
//! night) means the first instant after the gap (03:00), and a wall time that
//! happens twice (01:30 on the autumn night) means its first occurrence.
//! Opening hours belong to the day they start on: "Fri 22:00-02:00" is open
//! from Friday 22:00 to Saturday 02:00, and a closed Friday shuts all of it.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

pub use super::clock::wall;

/// How far ahead a window is searched for its next opening. A window shut
/// for longer than this (every date closed) is reported instead of waited on.
const HORIZON_DAYS: i64 = 2 * 366;

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Which send window an action keeps.
#[derive(Debug, Clone, Default)]
pub enum WindowChoice {
    /// None written: an email keeps its entity's `email_window`; anything else runs when due.
    #[default]
    Entity,
    /// "anytime": runs when due.
    Anytime,
    /// The window it names.
    Named(Arc<Window>),
}

/// One opening: a weekday (0 = Monday), and minutes from that day's midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    day: u8,
    start: u32,
    /// After `start`; past 1440 when the opening runs past midnight.
    end: u32,
}

impl Span {
    /// The weekday it opens on (0 = Monday).
    pub fn day(&self) -> u8 {
        self.day
    }
}

/// A closed day or range of days (both ends included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub name: Arc<str>,
}

#[derive(Debug, Clone)]
pub struct Window {
    pub id: Arc<str>,
    /// The hours as written, for people: ["Mon-Fri 09:00-17:00"].
    pub hours: Vec<String>,
    spans: Vec<Span>,
    /// The window's own zone; without one it follows the action's entity.
    pub zone: Option<Tz>,
    pub closed: Vec<Closed>,
    /// The closure lists it names, for people.
    pub closure_ids: Vec<String>,
    /// What it is for, as calendar.toml says.
    pub description: Option<String>,
}

impl Window {
    pub fn new(
        id: &str,
        hours: Vec<String>,
        spans: Vec<Span>,
        zone: Option<Tz>,
        closed: Vec<Closed>,
        closure_ids: Vec<String>,
    ) -> Window {
        let mut spans = spans;
        spans.sort();
        Window {
            id: id.into(),
            hours,
            spans,
            zone,
            closed,
            closure_ids,
            description: None,
        }
    }

    /// The zone its hours are read in: its own, else `fallback`.
    pub fn zone_or(&self, fallback: Tz) -> Tz {
        self.zone.unwrap_or(fallback)
    }

    /// The closed entry covering `day`, if any.
    pub fn closed_on(&self, day: NaiveDate) -> Option<&Closed> {
        self.closed.iter().find(|c| c.from <= day && day <= c.to)
    }

    /// The first instant at or after `t` when the window is open, reading
    /// its hours in `zone`; `None` when it doesn't open within two years.
    pub fn next_open(&self, t: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let today = t.with_timezone(&zone).date_naive();
        // Start a day early: yesterday's opening may run past midnight into today.
        let mut day = today.pred_opt()?;
        let last = today.checked_add_signed(Duration::days(HORIZON_DAYS))?;
        while day <= last {
            if self.closed_on(day).is_none() {
                let weekday = day.weekday().num_days_from_monday() as u8;
                for s in self.spans.iter().filter(|s| s.day == weekday) {
                    let midnight = day.and_hms_opt(0, 0, 0)?;
                    let open = wall(zone, midnight + Duration::minutes(i64::from(s.start)));
                    let close = wall(zone, midnight + Duration::minutes(i64::from(s.end)));
                    if close > t {
                        return Some(open.max(t));
                    }
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// Is the window open at `t`?
    pub fn is_open(&self, t: DateTime<Utc>, zone: Tz) -> bool {
        self.next_open(t, zone) == Some(t)
    }

    /// Why the window is shut at `t`, in words: "Thursday 1 January 2026 is
    /// closed (New Year's Day)" or "it is outside Mon-Fri 09:00-17:00".
    pub fn why_shut(&self, t: DateTime<Utc>, zone: Tz) -> String {
        let local = t.with_timezone(&zone);
        match self.closed_on(local.date_naive()) {
            Some(c) => format!("{} is closed ({})", local.format("%A %-d %B %Y"), c.name),
            None => format!("it is outside {}", self.hours.join(", ")),
        }
    }

    /// The next `n` closed days from `from` on (a range counts day by day).
    pub fn closed_days(&self, from: NaiveDate, n: usize) -> Vec<(NaiveDate, Arc<str>)> {
        let mut days: Vec<(NaiveDate, Arc<str>)> = self
            .closed
            .iter()
            .filter(|c| c.to >= from)
            .map(|c| (c.from.max(from), c.name.clone()))
            .collect();
        days.sort();
        days.truncate(n);
        days
    }

    /// The last closed date listed: past it, holidays are no longer kept.
    pub fn last_closed(&self) -> Option<NaiveDate> {
        self.closed.iter().map(|c| c.to).max()
    }

    /// Open or shut at `now`, in words, with the next opening on both clocks.
    pub fn state_at(&self, now: DateTime<Utc>, zone: Tz) -> String {
        match self.next_open(now, zone) {
            Some(t) if t == now => "Open now".to_string(),
            Some(t) => format!(
                "Shut now ({}); it opens {}",
                self.why_shut(now, zone),
                super::clock::both_clocks(t, zone)
            ),
            None => "It never opens in the next two years: every date is closed".to_string(),
        }
    }

    /// The window in a line: "business_hours: Mon-Fri 09:00-17:00, closed on us_federal_holidays".
    pub fn describe(&self) -> String {
        let mut s = format!("{}: {}", self.id, self.hours.join(", "));
        if !self.closure_ids.is_empty() {
            s.push_str(&format!(", closed on {}", self.closure_ids.join(", ")));
        }
        s
    }
}

/// Parse opening hours: days, then a time range ("Mon-Fri 09:00-17:00").
pub fn parse_hours(text: &str) -> Result<Vec<Span>, String> {
    let form = "write days and a time range, e.g. \"Mon-Fri 09:00-17:00\", \"Sat 10:00-14:00\" or \"daily 08:00-20:00\"";
    let t = text.trim();
    let (days, range) = t
        .rsplit_once(char::is_whitespace)
        .ok_or_else(|| format!("`{text}` is not opening hours: {form}"))?;
    let (from, to) = range
        .split_once('-')
        .ok_or_else(|| format!("`{range}` is not a time range: {form}"))?;
    let clock = |s: &str| {
        minutes(s).ok_or_else(|| {
            format!("`{s}` is not a time of day: write it as 24-hour HH:MM, e.g. 09:00 or 17:30")
        })
    };
    let (start, mut end) = (clock(from)?, clock(to)?);
    if start >= 24 * 60 {
        return Err(format!("`{from}`: an opening starts before 24:00"));
    }
    if start == end {
        return Err(format!(
            "`{range}` opens and closes at the same time; for a whole day write 00:00-24:00"
        ));
    }
    if end < start {
        end += 24 * 60; // runs past midnight into the next day
    }
    Ok(day_list(days)?
        .into_iter()
        .map(|day| Span { day, start, end })
        .collect())
}

/// "HH:MM" as minutes; 24:00 is allowed (the end of a day).
fn minutes(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// "Mon-Fri", "Mon,Wed,Fri", "Saturday", "daily", "weekdays", "weekends".
fn day_list(text: &str) -> Result<Vec<u8>, String> {
    let t = text.trim().to_ascii_lowercase();
    match t.as_str() {
        "daily" | "every day" => return Ok((0..7).collect()),
        "weekdays" => return Ok((0..5).collect()),
        "weekends" => return Ok(vec![5, 6]),
        _ => {}
    }
    let mut days = Vec::new();
    // Split what was written (not the lower-cased copy), so errors quote it.
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a, text)?, day(b, text)?);
                // A range may wrap the week: "Fri-Mon".
                let mut d = a;
                loop {
                    days.push(d);
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days.push(day(part, text)?),
        }
    }
    if days.is_empty() {
        return Err(format!("`{text}` names no days: write e.g. \"Mon-Fri\""));
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

/// A weekday name, long or short, as 0 (Monday) to 6 (Sunday).
pub fn day(word: &str, whole: &str) -> Result<u8, String> {
    let w = word.trim().to_ascii_lowercase();
    const LONG: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    LONG.iter()
        .position(|l| w == *l || (w.len() >= 3 && l.starts_with(&w)))
        .map(|i| i as u8)
        .ok_or_else(|| {
            format!(
                "`{word}` in `{whole}` is not a day of the week: write Mon, Tue, Wed, Thu, Fri, Sat or Sun"
            )
        })
}

/// A weekday's short name (0 = Monday).
pub fn day_name(day: u8) -> &'static str {
    DAY_NAMES.get(usize::from(day)).copied().unwrap_or("?")
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
