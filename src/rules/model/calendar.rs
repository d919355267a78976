//! `rules/calendar.toml`: when the network may send, and the days it is closed.
//!
//! A send window is a named set of opening hours ("Mon-Fri 09:00-17:00") on
//! the wall clock of a zone, minus closed dates (public holidays, a closure
//! week). An action that requires a window and falls due outside it waits for
//! the window's next opening; an entity names the window its emails to
//! contacts keep (entities.toml `email_window`). Conditions can ask whether
//! an event arrived within a window. Closed dates are kept in named lists,
//! so one list of holidays serves every window that needs it.

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "hsflow calendar",
    description = "Send windows (opening hours in a time zone) and the dates the network is closed."
)]
pub struct CalendarFile {
    /// One [[windows]] table per send window.
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
    /// One [[closures]] table per list of closed dates (holidays, a closure week).
    #[serde(default)]
    pub closures: Vec<ClosureSpec>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// The name actions and entities use: `window = "business_hours"`.
    pub id: String,
    /// What it is for, for the people reading the file.
    #[serde(default)]
    pub description: Option<String>,
    /// When the window is open, on the wall clock of `zone`: days and a time range, e.g. "Mon-Fri 09:00-17:00", "Sat 10:00-14:00", "daily 08:00-20:00". A range that ends before it starts runs past midnight ("Fri 22:00-02:00").
    pub hours: Vec<String>,
    /// The IANA time zone the hours are read in (default: the zone of the entity the action acts for, else the network's zone in rules/entities.toml, else UTC).
    #[serde(default)]
    pub zone: Option<String>,
    /// Ids of [[closures]] whose dates the window stays shut on, e.g. ["us_federal_holidays"].
    #[serde(default)]
    pub closed: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureSpec {
    /// The name windows use in `closed`, e.g. "us_federal_holidays".
    pub id: String,
    /// What the list is, for the people reading the file.
    #[serde(default)]
    pub description: Option<String>,
    /// The closed dates: { on = "2026-12-25", name = "Christmas Day" }, or a range { from = "2026-12-24", to = "2026-12-31", name = "Winter closure" }.
    pub dates: Vec<ClosedDateSpec>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosedDateSpec {
    /// One closed day, "YYYY-MM-DD" (in quotes).
    #[serde(default)]
    pub on: Option<String>,
    /// The first day of a closed range, "YYYY-MM-DD" (with `to`).
    #[serde(default)]
    pub from: Option<String>,
    /// The last day of a closed range, "YYYY-MM-DD", included (with `from`).
    #[serde(default)]
    pub to: Option<String>,
    /// What the day is, shown when an action waits for it: "Thanksgiving Day".
    #[serde(default)]
    pub name: Option<String>,
}
