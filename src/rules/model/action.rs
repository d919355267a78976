//! Typed actions, as written in a rule's `[[rules.actions]]` tables.
//!
//! `kind` picks the variant; each variant has its own typed fields and the
//! schema lists exactly those, so a misspelt key is an error, not a silently
//! ignored string. Every action may be delayed (`delay = "2h"`) or scheduled
//! against a date the event carries (`at = "7d before retreat_start"`), and
//! may be kept to a send window (`window = "business_hours"`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::time::{Duration, RelativeTime};

/// One action of a rule.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ActionSpec {
    /// An id unique within the rule; defaults to "<kind>_<position>".
    #[serde(default)]
    pub id: Option<String>,
    /// Run this long after the event (default: at once).
    #[serde(default)]
    pub delay: Option<Duration>,
    /// Run at a time relative to a date field of the event, instead of `delay`.
    #[serde(default)]
    pub at: Option<RelativeTime>,
    /// The entity (id) this action acts for; defaults to the rule's, then the flow's, then the event's first.
    #[serde(default)]
    pub entity: Option<String>,
    /// The send window (rules/calendar.toml) it must run in: due outside it, it waits for the window's next opening. Emails keep their entity's `email_window` unless this says another, or "anytime".
    #[serde(default)]
    pub window: Option<String>,
    #[serde(flatten)]
    pub kind: ActionKindSpec,
}

/// What an action does.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionKindSpec {
    /// Create, upsert or update a page in a Notion database.
    Notion(NotionSpec),
    /// Send an email rendered from a template.
    Email(EmailSpec),
    /// Tell a team on a channel.
    Notify(NotifySpec),
    /// Create a task for a person or team.
    Task(TaskSpec),
    /// Call an outgoing webhook.
    Webhook(WebhookSpec),
    /// Move a workflow instance to a new state.
    Workflow(WorkflowSpec),
    /// Expand into the lead source's first-response task and follow-up emails (rules/lead_sources.toml).
    FollowUp(FollowUpSpec),
    /// Subscribe the contact to the Beehiiv newsletter.
    Beehiiv(BeehiivSpec),
    /// Create or update the contact in HubSpot, by email.
    Hubspot(HubspotSpec),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct BeehiivSpec {
    /// The subscriber's email; may use {{field}}. Default: "{{email}}".
    #[serde(default)]
    pub email: Option<String>,
    /// Where the subscriber came from (Beehiiv's utm_source); may use {{field}}.
    #[serde(default)]
    pub utm_source: Option<String>,
    /// The campaign (utm_campaign); may use {{field}}.
    #[serde(default)]
    pub utm_campaign: Option<String>,
    /// Beehiiv custom fields (they must exist in the publication): name -> value, values may use {{field}}.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, String>,
    /// Let Beehiiv send its welcome email.
    #[serde(default)]
    pub send_welcome_email: bool,
    /// Re-subscribe someone who unsubscribed before (only with their consent).
    #[serde(default)]
    pub reactivate_existing: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct HubspotSpec {
    /// HubSpot contact properties (internal names: email, firstname, lastname, phone, ...);
    /// values may use {{field}}. `email` is required: it is the key of the upsert.
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct NotionSpec {
    /// The database key from rules/databases.toml.
    pub database: String,
    /// "create" always adds a page; "upsert" finds the page by `match` and updates it, or creates it; "update" changes a page only if it exists.
    pub operation: NotionOperation,
    /// For upsert and update: the property that identifies the page (e.g. "Email"); its value comes from `properties`.
    #[serde(default, rename = "match")]
    pub match_on: Option<String>,
    /// Notion property name -> value. Text may use {{field}}; "{{field}}" alone passes lists and numbers through.
    pub properties: BTreeMap<String, serde_json::Value>,
    /// Number properties to add to (a score): name -> how. The page's current
    /// value is read when the action runs.
    #[serde(default)]
    pub add: BTreeMap<String, IncrementSpec>,
}

/// Add to a number property: `{ by = 10, start = 10, max = 100, events_at = [50] }`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IncrementSpec {
    /// How much to add (negative subtracts).
    pub by: f64,
    /// The value of a page that has none yet, before adding.
    #[serde(default)]
    pub start: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The value never goes below this.
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The value never goes above this.
    pub max: Option<f64>,
    /// Values whose crossing (going up) raises an `hsflow:score.crossed` event.
    #[serde(default)]
    pub events_at: Vec<f64>,
}

impl IncrementSpec {
    /// The new value from the current one (or `start`), clamped.
    pub fn apply(&self, current: Option<f64>) -> f64 {
        let mut v = current.unwrap_or(self.start) + self.by;
        if let Some(max) = self.max {
            v = v.min(max);
        }
        if let Some(min) = self.min {
            v = v.max(min);
        }
        v
    }

    /// The `events_at` values crossed going from `old` to `new`.
    pub fn crossed(&self, old: Option<f64>, new: f64) -> Vec<f64> {
        let old = old.unwrap_or(f64::NEG_INFINITY);
        self.events_at
            .iter()
            .copied()
            .filter(|t| old < *t && new >= *t)
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotionOperation {
    Create,
    Upsert,
    Update,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct EmailSpec {
    /// The email template name (templates/emails/<name>.*.hbs).
    pub template: String,
    /// Recipient; may use {{field}}. Default "{{email}}".
    #[serde(default)]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct NotifySpec {
    /// The team or channel to tell, e.g. "gallery-curator".
    pub channel: String,
    /// A notification template name (templates/notifications/<name>.hbs)...
    #[serde(default)]
    pub template: Option<String>,
    /// ...or the text itself; may use {{field}}.
    #[serde(default)]
    pub text: Option<String>,
    /// Mark the notification urgent.
    #[serde(default)]
    pub urgent: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct TaskSpec {
    /// The task title; may use {{field}}.
    pub title: String,
    /// Longer text; may use {{field}}.
    #[serde(default)]
    pub description: Option<String>,
    /// Who does it: a person or a team.
    pub assignee: String,
    #[serde(default)]
    /// How urgent the task is: urgent, high, medium (the default) or low.
    pub priority: Priority,
    /// The task is due this long after it is created (default: when created).
    #[serde(default)]
    pub due: Option<Duration>,
    /// Or due relative to a date field, e.g. "1d before retreat_start".
    #[serde(default)]
    pub due_at: Option<RelativeTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Urgent,
    High,
    #[default]
    Medium,
    Low,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct WebhookSpec {
    /// The URL to call; may use {{field}}.
    pub url: String,
    #[serde(default)]
    /// The HTTP method (default POST).
    pub method: HttpMethod,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The JSON body; strings in it may use {{field}}. Default: the event's fields.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Sign the body with HMAC-SHA256 using the secret in this environment variable.
    #[serde(default)]
    pub sign_secret_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Post,
    Put,
    Patch,
    Delete,
    Get,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct WorkflowSpec {
    /// The workflow id, declared in a flow's [workflows] table.
    pub workflow: String,
    /// The state to move to.
    pub to: String,
    /// Only move from these states (default: from any state).
    #[serde(default)]
    pub from: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct FollowUpSpec {
    /// Who the first-response task goes to, if the lead source doesn't say.
    #[serde(default)]
    pub assignee: Option<String>,
}

impl ActionKindSpec {
    /// The `kind` word as written in files and shown in plans.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKindSpec::Notion(_) => "notion",
            ActionKindSpec::Email(_) => "email",
            ActionKindSpec::Notify(_) => "notify",
            ActionKindSpec::Task(_) => "task",
            ActionKindSpec::Webhook(_) => "webhook",
            ActionKindSpec::Workflow(_) => "workflow",
            ActionKindSpec::FollowUp(_) => "follow_up",
            ActionKindSpec::Beehiiv(_) => "beehiiv",
            ActionKindSpec::Hubspot(_) => "hubspot",
        }
    }
}
