//! `rules/schedules.toml`: events that come from the clock, not from a sender.
//!
//! Each schedule fires every `every` (aligned to the epoch, so "1d" fires at
//! midnight UTC and "1h" on the hour) as an event of the `schedule` source
//! with the schedule's id as its type. With `query`, it fires one event per
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
    /// How often: "15m", "1h", "1d", "1w" (at least one minute).
    pub every: Duration,
    /// A database key from rules/databases.toml: fire once per page, with its values.
    #[serde(default)]
    pub query: Option<String>,
}
