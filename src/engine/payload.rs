//! Planned actions as data: what a fired rule will do, fully resolved, in
//! the shape that is stored with the job and shown by `simulate`.
//!
//! Each planned action is an enum variant with typed fields. The planner
//! (engine::action) builds them; the sinks carry them out.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::rules::model::{EmailCategory, HttpMethod, NotionOperation, Priority};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlannedAction {
    /// Stable within the event: "<rule>/<action id>".
    pub id: Arc<str>,
    pub rule: Arc<str>,
    pub flow: Arc<str>,
    /// The entity's name, e.g. "The 7 Space".
    pub entity: Option<Arc<str>>,
    /// The entity's id (entities.toml), which the dispatcher reads its
    /// settings by (whether its emails track engagement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<Arc<str>>,
    pub delay_s: i64,
    pub run_at: DateTime<Utc>,
    #[serde(flatten)]
    pub payload: Payload,
    /// Set when the action can't be carried out (a render failure); it is never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The send window it keeps, checked again when it is about to run (so a
    /// holiday added after it was planned still holds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowRef>,
    /// An email stored without its text and HTML: they are rendered from its
    /// event, with the rule-set version it was planned with, when it is sent
    /// or shown (engine::deferred).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bodies_later: bool,
}

/// A send window by name, and the zone its hours were read in for this action.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WindowRef {
    pub id: Arc<str>,
    pub zone: Arc<str>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Payload {
    Email {
        to: String,
        template: Arc<str>,
        /// The A/B variant of the template that was rendered (`a`, `b`),
        /// chosen by the contact's address; none when it has no variants.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        variant: Option<Arc<str>>,
        /// Transactional or marketing, as rules/emails.toml says.
        #[serde(default)]
        category: EmailCategory,
        subject: String,
        text: String,
        html: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<Arc<str>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply_to: Option<Arc<str>>,
    },
    Task {
        title: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        assignee: String,
        priority: Priority,
        due_at: DateTime<Utc>,
    },
    Notify {
        channel: String,
        text: String,
        urgent: bool,
    },
    Notion {
        database: String,
        operation: NotionOperation,
        /// The property and value that find the page (upsert, update).
        #[serde(rename = "match")]
        match_on: Option<MatchOn>,
        /// The `properties` object of the Notion API request.
        properties: Map<String, Value>,
        /// Relation properties, as the key values of the pages they link to;
        /// the sink looks the pages up and adds the relation bodies.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        links: Vec<Link>,
        /// Number properties added to when it runs (from the page's current value).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        add: Vec<Increment>,
    },
    Webhook {
        url: String,
        method: HttpMethod,
        headers: BTreeMap<String, String>,
        body: Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        sign_secret_env: Option<String>,
    },
    /// A Beehiiv newsletter subscription (the body of Beehiiv's create-subscription call).
    Beehiiv {
        email: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        utm_source: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        utm_campaign: Option<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        custom_fields: BTreeMap<String, String>,
        send_welcome_email: bool,
        reactivate_existing: bool,
    },
    /// A HubSpot contact upsert by email.
    Hubspot {
        email: String,
        properties: BTreeMap<String, String>,
    },
    Workflow {
        workflow: String,
        /// The state it must be in to move (null: any).
        from_state: Option<String>,
        from_states: Vec<String>,
        to_state: String,
    },
}

/// A relation to fill at run time: link `property` to the pages of
/// `database` whose `by` property equals one of `values`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Link {
    pub property: String,
    pub database: String,
    pub by: String,
    pub values: Vec<String>,
}

/// An `events_at` value an increment crossed, with the new score.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Crossing {
    pub property: String,
    pub threshold: f64,
    pub score: f64,
}

/// Add to a number property when the action runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Increment {
    pub property: String,
    #[serde(flatten)]
    pub how: crate::rules::model::IncrementSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MatchOn {
    pub property: String,
    pub value: Value,
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Email { .. } => "email",
            Payload::Task { .. } => "task",
            Payload::Notify { .. } => "notify",
            Payload::Notion { .. } => "notion",
            Payload::Webhook { .. } => "webhook",
            Payload::Workflow { .. } => "workflow",
            Payload::Beehiiv { .. } => "beehiiv",
            Payload::Hubspot { .. } => "hubspot",
        }
    }
}
