//! `rules/schedules.toml`: events that come from the clock, not from a sender.
//!
//! Each schedule fires at the times its `calendar` names ("daily at 08:00",
//! "every Monday at 09:00", or a `cron` pattern) on the wall clock of its
//! zone, or every `every` (aligned to the epoch, so "1d" fires at midnight
//! UTC and "1h" on the hour), as an event of the `schedule` source with the
//! schedule's id as its type. With `query`, it fires one event per
//! page of that database instead, carrying the page's values: the overdue
//! check walks the Tasks database, the segment run walks the contacts, and
//! rules decide per page what to do.

use schemars::JsonSchema;
use serde::Deserialize;

use super::time::Duration;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "hsflow schedules",
    description = "Events from the clock: an id, how often, and optionally a database to walk."
)]
pub struct SchedulesFile {
    /// One [[schedules]] table per clock event.
    pub schedules: Vec<ScheduleSpec>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// The event type rules listen for: `on = ["schedule:<id>"]`.
    pub id: String,
    /// What it is for, for the people reading the file.
    #[serde(default)]
    pub description: Option<String>,
    /// When, in words, on the wall clock of `zone`: "daily at 08:00", "weekdays at 07:30", "every Monday at 09:00", "on the 1st of the month at 07:00".
    #[serde(default)]
    pub calendar: Option<String>,
    /// When, as a cron pattern (minute hour day-of-month month day-of-week), in `zone`: "0 8 * * 1-5".
    #[serde(default)]
    pub cron: Option<String>,
    /// How often, counted from midnight UTC, instead of `calendar` or `cron`: "15m", "1h", "1d" (at least one minute).
    #[serde(default)]
    pub every: Option<Duration>,
    /// The IANA time zone `calendar` and `cron` are read in (default: `zone` in rules/entities.toml, else UTC).
    #[serde(default)]
    pub zone: Option<String>,
    /// A database key from rules/databases.toml: fire once per page, with its values.
    #[serde(default)]
    pub query: Option<String>,
}
