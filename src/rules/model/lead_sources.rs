//! `rules/lead_sources.toml`: response times and follow-up sequences per lead source.
//!
//! A rule's `follow_up` action expands, through this file, into a first
//! response task (due after `first_response`) and one email per follow-up
//! day. Overrides (a hot event lead, a VIP referral) replace the timing when
//! their conditions hold; the first matching override wins.

use schemars::JsonSchema;
use serde::Deserialize;

use super::condition::ConditionSpec;
use super::time::Duration;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "hsflow lead sources",
    description = "First-response times and follow-up sequences per lead source."
)]
pub struct LeadSourcesFile {
    /// The normalised field naming the lead source, e.g. "lead_source".
    pub field: String,
    /// The lead source used when the field is missing or matches none.
    #[serde(default)]
    pub default: Option<String>,
    /// One [[lead_sources]] table per kind of lead: how fast it gets a first response and when its follow-ups go.
    pub lead_sources: Vec<LeadSource>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadSource {
    /// Stable identifier, e.g. "website".
    pub id: String,
    /// The field values that select this lead source, e.g. ["Website"].
    pub values: Vec<String>,
    /// How soon someone must respond: the response task is due this long after the event.
    pub first_response: Duration,
    /// Who the response task is assigned to.
    #[serde(default)]
    pub assignee: Option<String>,
    /// The follow-up emails, by day after the event.
    #[serde(default)]
    pub follow_ups: Vec<FollowUp>,
    /// Conditions that change the timing, tried in order.
    #[serde(default)]
    pub overrides: Vec<Override>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    /// Days after the event.
    pub day: u32,
    /// The email template to send.
    pub template: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Stable identifier, e.g. "hot_event_lead".
    pub id: String,
    /// All of these must hold.
    pub when: Vec<ConditionSpec>,
    /// The first response time for these leads.
    pub first_response: Duration,
    /// Replaces the follow-up sequence when given.
    #[serde(default)]
    pub follow_ups: Option<Vec<FollowUp>>,
}
