//! Compiling calendar.toml: each send window's hours, zone and closed dates,
//! checked once at load so the planner only ever asks "when does it open?".

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;

use super::suggest;
use super::window::{parse_hours, Closed, Window};
use crate::rules::diagnostic::Finding;
use crate::rules::model::{CalendarFile, ClosedDateSpec};

/// The word an action or entity uses for "no window: run when due".
pub const ANYTIME: &str = "anytime";

/// The windows of calendar.toml, by id.
pub type Windows = BTreeMap<String, Arc<Window>>;

pub fn windows(file: &CalendarFile, out: &mut Vec<Finding>) -> Windows {
    let closures = closures(file, out);
    let mut used = BTreeSet::new();
    let mut windows = Windows::new();
    for (i, w) in file.windows.iter().enumerate() {
        let ptr = format!("/windows/{i}");
        if w.id == ANYTIME {
            out.push(
                Finding::error(
                    "bad-id",
                    format!("{ptr}/id"),
                    "`anytime` means \"no window\" and can't name one",
                )
                .hint("choose another name, e.g. \"business_hours\""),
            );
        }
        if w.hours.is_empty() {
            out.push(
                Finding::error(
                    "bad-hours",
                    format!("{ptr}/hours"),
                    format!("the window `{}` never opens: `hours` is empty", w.id),
                )
                .hint("list when it is open, e.g. hours = [\"Mon-Fri 09:00-17:00\"]"),
            );
        }
        let mut spans = Vec::new();
        for (j, h) in w.hours.iter().enumerate() {
            match parse_hours(h) {
                Ok(mut s) => spans.append(&mut s),
                Err(why) => out.push(
                    Finding::error("bad-hours", format!("{ptr}/hours/{j}"), why)
                        .hint("days, a space, then HH:MM-HH:MM on the 24-hour clock"),
                ),
            }
        }
        let zone = w.zone.as_deref().and_then(|z| match super::calendar::zone(z) {
            Ok(tz) => Some(tz),
            Err(why) => {
                out.push(Finding::error("bad-zone", format!("{ptr}/zone"), why).hint(
                    "leave `zone` out to read the hours in the zone of the entity the action acts for",
                ));
                None
            }
        });
        let mut closed = Vec::new();
        for (j, id) in w.closed.iter().enumerate() {
            used.insert(id.clone());
            match closures.get(id) {
                Some(dates) => closed.extend(dates.iter().cloned()),
                None => out.push(
                    Finding::error(
                        "unknown-closure",
                        format!("{ptr}/closed/{j}"),
                        format!("there is no list of closed dates `{id}`"),
                    )
                    .hint(suggest(
                        id,
                        closures.keys().map(String::as_str),
                        "closure",
                    )),
                ),
            }
        }
        let mut window = Window::new(
            &w.id,
            w.hours.clone(),
            spans,
            zone,
            closed,
            w.closed.clone(),
        );
        window.description = w.description.clone();
        if windows.insert(w.id.clone(), Arc::new(window)).is_some() {
            out.push(
                Finding::error(
                    "duplicate-id",
                    format!("{ptr}/id"),
                    format!("the window id `{}` is used twice", w.id),
                )
                .hint("window ids must be unique"),
            );
        }
    }
    for (i, c) in file.closures.iter().enumerate() {
        if !used.contains(&c.id) {
            out.push(
                Finding::warning(
                    "unused-closure",
                    format!("/closures/{i}/id"),
                    format!(
                        "no window is closed on `{}`, so its dates change nothing",
                        c.id
                    ),
                )
                .hint(format!(
                    "add \"{}\" to a window's `closed` list, or remove it",
                    c.id
                )),
            );
        }
    }
    windows
}

/// Each closure list's dates, by id.
fn closures(file: &CalendarFile, out: &mut Vec<Finding>) -> BTreeMap<String, Vec<Closed>> {
    let mut lists = BTreeMap::new();
    for (i, c) in file.closures.iter().enumerate() {
        let ptr = format!("/closures/{i}");
        let dates = c
            .dates
            .iter()
            .enumerate()
            .filter_map(|(j, d)| closed_date(d, &format!("{ptr}/dates/{j}"), out))
            .collect();
        if lists.insert(c.id.clone(), dates).is_some() {
            out.push(
                Finding::error(
                    "duplicate-id",
                    format!("{ptr}/id"),
                    format!("the closure id `{}` is used twice", c.id),
                )
                .hint("give each list of closed dates its own id, or merge them"),
            );
        }
    }
    lists
}

fn closed_date(d: &ClosedDateSpec, ptr: &str, out: &mut Vec<Finding>) -> Option<Closed> {
    let name: Arc<str> = d.name.as_deref().unwrap_or("closed").into();
    let read = |key: &str, s: &str, out: &mut Vec<Finding>| {
        let parsed = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        if parsed.is_none() {
            // Written in the right shape, but no such day ("2026-12-32", "2027-02-29").
            let shaped = s.trim().len() == 10
                && s.trim().char_indices().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            let (message, hint) = if shaped {
                (
                    format!("`{s}` is not a day of the calendar"),
                    "check the month (01 to 12) and the day (that month has no such day)",
                )
            } else {
                (
                    format!("`{s}` is not a date"),
                    "write it as year-month-day, e.g. \"2026-12-25\"",
                )
            };
            out.push(Finding::error("bad-date", format!("{ptr}/{key}"), message).hint(hint));
        }
        parsed
    };
    match (&d.on, &d.from, &d.to) {
        (Some(on), None, None) => read("on", on, out).map(|day| Closed {
            from: day,
            to: day,
            name,
        }),
        (None, Some(from), Some(to)) => {
            let (from_d, to_d) = (read("from", from, out)?, read("to", to, out)?);
            if from_d > to_d {
                out.push(
                    Finding::error(
                        "bad-date",
                        format!("{ptr}/to"),
                        format!("this range ends ({to}) before it starts ({from})"),
                    )
                    .hint("`from` is the first closed day and `to` the last"),
                );
                return None;
            }
            Some(Closed {
                from: from_d,
                to: to_d,
                name,
            })
        }
        _ => {
            out.push(
                Finding::error(
                    "bad-date",
                    ptr,
                    "a closed date is either one day (`on`) or a range (`from` and `to`)",
                )
                .hint("e.g. { on = \"2026-12-25\", name = \"Christmas Day\" } or { from = \"2026-12-24\", to = \"2026-12-31\", name = \"Winter closure\" }"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(text: &str) -> Vec<Finding> {
        let file: CalendarFile = toml::from_str(text).expect("test calendar");
        let mut out = Vec::new();
        windows(&file, &mut out);
        out
    }

    fn codes(text: &str) -> Vec<&'static str> {
        findings(text).iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_sound_calendar_has_no_findings() {
        let ok = r#"
            [[windows]]
            id = "business_hours"
            hours = ["Mon-Fri 09:00-17:00"]
            zone = "America/New_York"
            closed = ["holidays"]
            [[closures]]
            id = "holidays"
            dates = [{ on = "2026-12-25", name = "Christmas Day" }, { from = "2026-12-28", to = "2026-12-31" }]
        "#;
        assert!(findings(ok).is_empty(), "{:?}", findings(ok));
    }

    #[test]
    fn each_mistake_is_named() {
        let bad = r#"
            [[windows]]
            id = "office"
            hours = ["Mon-Fri 9-5"]
            zone = "New York"
            closed = ["holiday"]
            [[closures]]
            id = "holidays"
            dates = [{ on = "2026-12-32" }, { from = "2026-12-31", to = "2026-12-24" }, { name = "nothing" }]
        "#;
        let c = codes(bad);
        for code in [
            "bad-hours",
            "bad-zone",
            "unknown-closure",
            "bad-date",
            "unused-closure",
        ] {
            assert!(c.contains(&code), "{code} missing from {c:?}");
        }
        assert_eq!(c.iter().filter(|c| **c == "bad-date").count(), 3, "{c:?}");
        assert!(findings(bad)
            .iter()
            .any(|f| f.message == "`2026-12-32` is not a day of the calendar"));
        let unknown = findings(bad)
            .into_iter()
            .find(|f| f.code == "unknown-closure")
            .and_then(|f| f.hint)
            .unwrap_or_default();
        assert!(unknown.contains("did you mean `holidays`"), "{unknown}");
    }

    #[test]
    fn anytime_is_reserved_and_ids_are_unique() {
        let c = codes(
            r#"
            [[windows]]
            id = "anytime"
            hours = ["daily 00:00-24:00"]
            [[windows]]
            id = "anytime"
            hours = []
        "#,
        );
        assert_eq!(c, ["bad-id", "bad-id", "bad-hours", "duplicate-id"]);
    }
}
