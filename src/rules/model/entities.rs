//! `rules/entities.toml`: the business entities and how events are routed to them.
//!
//! Each routing rule adds an entity when its conditions hold; an event can
//! belong to several entities. Explicit entities named in a field (e.g. the
//! manual API's `business_entities`) add to the routing, and an event that
//! reaches none goes to the fallback.

use schemars::JsonSchema;
use serde::Deserialize;

use super::condition::ConditionSpec;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "hsflow entities",
    description = "Business entities and the routing rules that assign events to them."
)]
pub struct EntitiesFile {
    /// The network's IANA time zone, used wherever rules speak of a time of day or a date (schedules, send windows, time conditions, dates in templates) unless an entity names its own: "America/New_York".
    #[serde(default)]
    pub zone: Option<String>,
    /// The entities, each with a stable id used in flows.
    pub entities: Vec<Entity>,
    /// The entity (id) an event goes to when no route matches.
    pub fallback: String,
    /// A normalised field listing entity names or ids the sender chose explicitly; they add to the routing.
    #[serde(default)]
    pub explicit_field: Option<String>,
    /// Routing rules, tried in order; every matching route adds its entity.
    #[serde(default)]
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    /// Stable identifier, e.g. "the_7_space".
    pub id: String,
    /// Display name, e.g. "The 7 Space".
    pub name: String,
    /// Sender address for this entity's emails.
    #[serde(default)]
    pub from_email: Option<String>,
    /// Reply-To address for this entity's emails.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Extra values templates can use as `entity.<key>`.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
    /// The entity's IANA time zone, if it isn't the network's: its emails' send window and its dates in templates are read in it.
    #[serde(default)]
    pub zone: Option<String>,
    /// The send window (rules/calendar.toml) this entity's emails keep unless an action says otherwise, e.g. "business_hours"; "anytime" for none.
    #[serde(default)]
    pub email_window: Option<String>,
    /// Record opens and clicks of this entity's emails (an invisible image and links that pass through hsflow on their way). Off unless set: say so in the entity's privacy notice when you turn it on.
    #[serde(default)]
    pub track_engagement: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The entity id this route assigns.
    pub entity: String,
    /// All of these must hold.
    pub when: Vec<ConditionSpec>,
}
