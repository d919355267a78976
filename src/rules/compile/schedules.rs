//! Compiling schedules.toml: ids usable as event types, sensible intervals,
//! known databases, and the `schedule` source their events go through.

use std::collections::{BTreeMap, BTreeSet};

use super::suggest;
use crate::rules::diagnostic::Finding;
use crate::rules::model::{Database, SchedulesFile};
use crate::rules::ruleset::Schedule;

/// The source every schedule's events are normalised by.
pub const SOURCE: &str = "schedule";

pub fn schedules(
    file: &SchedulesFile,
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
        if s.every.secs() < 60 {
            out.push(
                Finding::error(
                    "bad-duration",
                    format!("{ptr}/every"),
                    "a schedule runs at most once a minute",
                )
                .hint("write \"1m\" or longer"),
            );
        }
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
            every_s: s.every.secs(),
            query: s.query.clone(),
        });
    }
    out_list
}
