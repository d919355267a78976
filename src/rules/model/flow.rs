//! `rules/flows/<name>.toml`: a flow is a named group of rules and the
//! workflows (state machines) they drive.
//!
//! A rule fires when an event from a matching source and type (`on`, with
//! globs) satisfies all its `when` conditions; it then plans its actions.
//! `cancel_on` names the events that cancel the rule's pending actions for
//! the same contact (a reply, a booking, a purchase).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::action::ActionSpec;
use super::condition::ConditionSpec;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "hsflow flow",
    description = "A flow: rules that match events and plan typed actions, and the workflows they drive."
)]
pub struct FlowFile {
    /// Stable flow id, e.g. "contact_workflows".
    pub id: String,
    /// What the flow is for, in a sentence (shown on the console's Rules page).
    #[serde(default)]
    pub description: Option<String>,
    /// The entity (id) this flow's actions act for unless a rule says otherwise.
    #[serde(default)]
    pub entity: Option<String>,
    /// The field that identifies the contact, for cancellation (default "email").
    #[serde(default)]
    pub contact_field: Option<String>,
    /// Workflows (state machines) this flow's rules move through.
    #[serde(default)]
    pub workflows: BTreeMap<String, WorkflowDef>,
    /// One [[rules]] table per rule: which events it considers, when it fires, what it does.
    pub rules: Vec<RuleSpec>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDef {
    /// The state a new instance starts in.
    pub initial: String,
    /// Every state the workflow can be in.
    pub states: Vec<String>,
    /// States that end the instance.
    #[serde(default)]
    pub terminal: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable rule id, unique across all flows, e.g. "artist_discovery".
    pub id: String,
    /// What the rule does, in a sentence (shown on the console and in explain traces).
    #[serde(default)]
    pub description: Option<String>,
    /// Which events this rule considers: "source:event_type", globs allowed ("typeform:*", "*:booking.*").
    pub on: Vec<String>,
    /// All of these must hold (empty: always).
    #[serde(default)]
    pub when: Vec<ConditionSpec>,
    /// The entity (id) this rule's actions act for.
    #[serde(default)]
    pub entity: Option<String>,
    /// Fire only for events rules/entities.toml routes to this entity (a
    /// route's conditions held, or the sender named it), and act for it. The
    /// routing is then written once, in entities.toml.
    #[serde(default)]
    pub for_entity: Option<String>,
    /// What to do when the rule fires.
    pub actions: Vec<ActionSpec>,
    /// Events ("source:event_type", globs allowed) that cancel this rule's pending actions for the same contact.
    #[serde(default)]
    pub cancel_on: Vec<String>,
    /// Conditions the cancelling event must also meet.
    #[serde(default)]
    pub cancel_when: Vec<ConditionSpec>,
    /// Set to false to switch the rule off without deleting it.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}
