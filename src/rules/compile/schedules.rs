//! Compiling schedules.toml: ids usable as event types, sensible intervals,
//! known databases, and the `schedule` source their events go through.

use std::collections::{BTreeMap, BTreeSet};

use super::suggest;
use crate::rules::diagnostic::Finding;
use chrono_tz::Tz;

use super::calendar::{self, Timing};
use crate::rules::model::{Database, ScheduleSpec, SchedulesFile};
use crate::rules::ruleset::Schedule;

/// The source every schedule's events are normalised by.
pub const SOURCE: &str = "schedule";

pub fn schedules(
    file: &SchedulesFile,
    network_zone: Option<Tz>,
    databases: &BTreeMap<String, Database>,
    databases_broken: bool,
    sources: &BTreeSet<String>,
    out: &mut Vec<Finding>,
) -> Vec<Schedule> {
    if !file.schedules.is_empty() && !sources.contains(SOURCE) {
        out.push(
            Finding::error(
                "no-schedule-source",
                "/schedules",
                "schedules fire events of the `schedule` source, and there is no rules/sources/schedule.toml",
            )
            .hint("add rules/sources/schedule.toml with [auth] kind = \"internal\" and the fields rules need"),
        );
    }
    let mut seen = BTreeSet::new();
    let mut out_list = Vec::new();
    for (i, s) in file.schedules.iter().enumerate() {
        let ptr = format!("/schedules/{i}");
        let id_ok = !s.id.is_empty()
            && s.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !id_ok {
            out.push(
                Finding::error(
                    "bad-id",
                    format!("{ptr}/id"),
                    format!("`{}` can't be an event type", s.id),
                )
                .hint("use letters, digits, `_`, `-` and `.`, e.g. \"overdue_tasks\""),
            );
        }
        if !seen.insert(s.id.clone()) {
            out.push(
                Finding::error(
                    "duplicate-id",
                    format!("{ptr}/id"),
                    format!("the schedule id `{}` is used twice", s.id),
                )
                .hint(
                    "give each schedule its own id: rules listen to it as on = [\"schedule:<id>\"]",
                ),
            );
        }
        let Some(timing) = timing(s, &ptr, network_zone, out) else {
            continue;
        };
        if let Some(q) = &s.query {
            if !databases.contains_key(q) && !databases_broken {
                out.push(
                    Finding::error(
                        "unknown-database",
                        format!("{ptr}/query"),
                        format!("there is no database `{q}` in rules/databases.toml"),
                    )
                    .hint(suggest(
                        q,
                        databases.keys().map(String::as_str),
                        "database",
                    )),
                );
            }
        }
        out_list.push(Schedule {
            id: s.id.clone(),
            timing,
            query: s.query.clone(),
        });
    }
    out_list
}

/// When a schedule fires: exactly one of `calendar`, `cron` and `every`,
/// read in its zone (its own, else the network's, else UTC).
fn timing(
    s: &ScheduleSpec,
    ptr: &str,
    network_zone: Option<Tz>,
    out: &mut Vec<Finding>,
) -> Option<Timing> {
    let zone = match s.zone.as_deref().map(calendar::zone) {
        None => network_zone.unwrap_or(Tz::UTC),
        Some(Ok(z)) => z,
        Some(Err(why)) => {
            out.push(Finding::error("bad-zone", format!("{ptr}/zone"), why).hint(
                "a schedule's zone is an IANA name; leave it out to use the network's zone (rules/entities.toml)",
            ));
            return None;
        }
    };
    let given = [
        s.calendar.as_ref().map(|c| ("calendar", c.as_str())),
        s.cron.as_ref().map(|c| ("cron", c.as_str())),
        s.every.as_ref().map(|_| ("every", "")),
    ];
    let given: Vec<(&str, &str)> = given.into_iter().flatten().collect();
    match given.as_slice() {
        [("every", _)] => {
            let every = s.every.as_ref().map_or(0, |e| e.secs());
            if every < 60 {
                out.push(
                    Finding::error(
                        "bad-duration",
                        format!("{ptr}/every"),
                        "a schedule runs at most once a minute",
                    )
                    .hint("write \"1m\" or longer, or say when with calendar = \"daily at 08:00\""),
                );
                return None;
            }
            if s.zone.is_some() {
                out.push(
                    Finding::warning("zone-unused", format!("{ptr}/zone"), "`every` counts from midnight UTC, so `zone` changes nothing here")
                        .hint("to fire at a time of day in this zone, write calendar = \"daily at 08:00\" instead of every"),
                );
            }
            Some(Timing::Every(every))
        }
        [(key, text)] => match calendar::timing(text, zone) {
            Ok(t) => Some(t),
            Err(why) => {
                out.push(
                    Finding::error("bad-schedule", format!("{ptr}/{key}"), why)
                        .hint("e.g. calendar = \"daily at 08:00\" or cron = \"0 8 * * 1-5\""),
                );
                None
            }
        },
        [] => {
            out.push(
                Finding::error("missing-time", ptr.to_string(), format!("the schedule `{}` doesn't say when it fires", s.id))
                    .hint("add calendar = \"daily at 08:00\" (or cron = \"0 8 * * *\", or every = \"1h\")"),
            );
            None
        }
        _ => {
            let keys: Vec<&str> = given.iter().map(|(k, _)| *k).collect();
            out.push(
                Finding::error(
                    "conflicting-time",
                    ptr.to_string(),
                    format!(
                        "the schedule `{}` says when twice ({})",
                        s.id,
                        keys.join(" and ")
                    ),
                )
                .hint("keep one of calendar, cron and every"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml: &str) -> ScheduleSpec {
        toml::from_str(&format!("id = \"s\"\n{toml}")).expect("spec")
    }

    fn findings(toml: &str) -> Vec<(String, String)> {
        let file = SchedulesFile {
            schedules: vec![spec(toml)],
        };
        let mut out = Vec::new();
        let sources = BTreeSet::from([SOURCE.to_string()]);
        schedules(&file, None, &BTreeMap::new(), false, &sources, &mut out);
        out.into_iter()
            .map(|f| (f.code.to_string(), f.message))
            .collect()
    }

    #[test]
    fn a_schedule_says_when_once_in_words_hsflow_reads() {
        assert!(findings("calendar = \"daily at 08:00\"").is_empty());
        assert!(findings("cron = \"0 8 * * 1-5\"\nzone = \"Europe/London\"").is_empty());
        assert!(findings("every = \"1h\"").is_empty());
        let codes = |t: &str| findings(t).into_iter().map(|(c, _)| c).collect::<Vec<_>>();
        assert_eq!(codes(""), ["missing-time"]);
        assert_eq!(
            codes("every = \"1h\"\ncalendar = \"daily at 08:00\""),
            ["conflicting-time"]
        );
        assert_eq!(codes("calendar = \"daily at 8\""), ["bad-schedule"]);
        assert_eq!(codes("cron = \"0 25 * * *\""), ["bad-schedule"]);
        assert_eq!(
            codes("calendar = \"daily at 08:00\"\nzone = \"Mars/Olympus\""),
            ["bad-zone"]
        );
        assert_eq!(codes("every = \"30s\""), ["bad-duration"]);
        assert_eq!(
            codes("every = \"1h\"\nzone = \"Europe/London\""),
            ["zone-unused"]
        );
    }
}
