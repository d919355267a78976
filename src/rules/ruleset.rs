//! The compiled, immutable rule set the engine runs.
//!
//! Built by [`super::loader`] from rules/ and templates/: every expression,
//! JSONPath, duration, glob and template is compiled and every reference
//! (template, database, property, entity, workflow) resolved. A `RuleSet` is
//! never modified: a reload builds a new one and swaps it in whole. Its
//! `version` is a hash of every file's content, recorded with each event so
//! one can always tell which rules planned what.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use globset::GlobMatcher;
use serde_json::Value;

use super::model::{
    Auth, BodyFormat, Database, FieldType, HttpMethod, NotionOperation, Priority, PropertyType,
    RelativeTime, TestCase, Transform, WorkflowDef,
};
use super::templates::{Templates, Text};
use crate::engine::condition::Condition;
use crate::engine::fields::FieldTable;
use crate::engine::index::RuleIndex;
use crate::engine::path::JsonPath;

#[derive(Debug)]
pub struct RuleSet {
    /// Hex SHA-256 over every rule and template file (path and content).
    pub version: String,
    pub rules_dir: PathBuf,
    pub templates_dir: PathBuf,
    pub fields: FieldTable,
    pub sources: BTreeMap<String, Source>,
    pub entities: Routing,
    pub lead_sources: Option<LeadTiming>,
    pub databases: BTreeMap<String, Database>,
    /// Events from the clock (rules/schedules.toml).
    pub schedules: Vec<Schedule>,
    /// Send windows (rules/calendar.toml), by id.
    pub windows: crate::rules::compile::send_windows::Windows,
    /// Each email template's category (rules/emails.toml).
    pub email_categories: BTreeMap<String, crate::rules::model::EmailCategory>,
    /// Email templates with A/B variants, by the name rules use.
    pub email_variants: crate::rules::compile::emails::Variants,
    pub workflows: BTreeMap<String, WorkflowDef>,
    pub flows: Vec<FlowInfo>,
    pub rules: Vec<Rule>,
    /// Rules by (source, event type) of their `on`.
    pub index: RuleIndex,
    /// Whether any condition reads `payload.*`: if none does, events need not keep the parsed body.
    pub reads_payload: bool,
    /// Rules by (source, event type) of their `cancel_on`.
    pub cancel_index: RuleIndex,
    pub templates: Templates,
    pub tests: Vec<TestFile>,
    /// Every file the set was built from, relative to its directory.
    pub files: Vec<PathBuf>,
    /// The text of every file: what the version is the hash of (stored with
    /// the version, diffed, written back by a rollback).
    pub text: Arc<super::files::RuleFiles>,
}

#[derive(Debug, Clone)]
pub struct FlowInfo {
    pub id: String,
    pub description: Option<String>,
    pub file: PathBuf,
}

/// A compiled source.
#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub auth: Auth,
    pub format: BodyFormat,
    pub event_type: Locator,
    /// Renames of event types: what the sender says -> what rules see.
    pub event_type_map: BTreeMap<String, String>,
    pub idempotency: Locator,
    pub idempotency_window_s: u64,
    pub fields: Vec<FieldRule>,
    /// The form field of the sender's creation ping, if it sends one.
    pub ping_field: Option<String>,
    /// The JSON field of the sender's subscription handshake, if it sends one.
    pub verification_field: Option<String>,
    /// Requests to the sender's API made before the fields are read (see `sources::enrich`).
    pub enrich: Vec<crate::rules::compile::enrich::Step>,
}

/// Where a value comes from, compiled.
#[derive(Debug)]
pub enum Locator {
    Path(JsonPath),
    Header(String),
    Value(String),
    /// No key configured: the idempotency key is a hash of the body.
    BodyHash,
}

/// One normalised field of a source.
#[derive(Debug)]
pub struct FieldRule {
    pub name: String,
    pub slot: usize,
    pub path: JsonPath,
    pub transforms: Vec<Transform>,
    pub kind: FieldType,
    pub required: bool,
    /// The value may be moved out of the body: a plain path no other field of
    /// the source overlaps with.
    pub take: bool,
}

/// Entity routing, compiled.
#[derive(Debug, Default)]
pub struct Routing {
    /// The network's time zone (entities.toml `zone`), if it names one.
    pub zone: Option<chrono_tz::Tz>,
    pub entities: Vec<EntityInfo>,
    pub fallback: Option<Arc<str>>,
    pub explicit_slot: Option<usize>,
    pub routes: Vec<(Arc<str>, Condition)>,
}

#[derive(Debug, Clone)]
pub struct EntityInfo {
    pub id: Arc<str>,
    pub name: Arc<str>,
    pub from_email: Option<Arc<str>>,
    pub reply_to: Option<Arc<str>>,
    pub vars: BTreeMap<String, String>,
    /// The entity's own time zone (entities.toml), if it names one.
    pub zone: Option<chrono_tz::Tz>,
    /// The send window its emails keep unless an action says otherwise.
    pub email_window: Option<Arc<crate::rules::compile::window::Window>>,
    /// Opens and clicks of its emails are recorded (entities.toml `track_engagement`).
    pub track_engagement: bool,
}

/// Lead-source timing, compiled.
#[derive(Debug)]
pub struct LeadTiming {
    pub slot: usize,
    pub field: String,
    pub default: Option<String>,
    pub sources: Vec<LeadSourceRule>,
}

#[derive(Debug)]
pub struct LeadSourceRule {
    pub id: String,
    pub values: Vec<String>,
    pub first_response_s: u64,
    pub assignee: Option<String>,
    pub follow_ups: Vec<(u32, Arc<str>)>,
    pub overrides: Vec<LeadOverride>,
}

#[derive(Debug)]
pub struct LeadOverride {
    pub id: String,
    pub when: Condition,
    pub first_response_s: u64,
    pub follow_ups: Option<Vec<(u32, Arc<str>)>>,
}

/// `source:event` with globs.
#[derive(Debug, Clone)]
pub struct OnPattern {
    pub text: String,
    pub source: GlobMatcher,
    pub event: GlobMatcher,
}

impl OnPattern {
    pub fn matches(&self, source: &str, event: &str) -> bool {
        self.source.is_match(source) && self.event.is_match(event)
    }
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Shared: every planned action carries it.
    pub id: Arc<str>,
    pub flow: Arc<str>,
    pub description: Option<String>,
    /// The entity its actions act for: its own `entity`, else its
    /// `for_entity`, else its flow's.
    pub entity: Option<String>,
    /// Fires only for events routed to this entity (see `engine::routing`).
    pub for_entity: Option<Arc<str>>,
    pub on: Vec<OnPattern>,
    pub when: Condition,
    pub actions: Vec<Action>,
    pub cancel_on: Vec<OnPattern>,
    pub cancel_when: Condition,
    pub contact_slot: usize,
    pub enabled: bool,
    /// Where it is written: the flow file (relative to rules/) and the line
    /// of its `[[rules]]` table, for people reading the rules elsewhere.
    pub written_at: (PathBuf, usize),
    /// Ids of the actions a `follow_up` expands to, made once at load:
    /// (None, "<rule>/first_response") and (Some(day), "<rule>/follow_up_day_<day>").
    pub follow_up_ids: Vec<(Option<u32>, Arc<str>)>,
}

impl Rule {
    /// The id of a follow-up action (first response when `day` is None).
    pub fn follow_up_id(&self, day: Option<u32>) -> Arc<str> {
        match self.follow_up_ids.iter().find(|(d, _)| *d == day) {
            Some((_, id)) => id.clone(),
            None => match day {
                None => format!("{}/first_response", self.id).into(),
                Some(d) => format!("{}/follow_up_day_{d}", self.id).into(),
            },
        }
    }
}

/// A compiled action of a rule.
#[derive(Debug)]
pub struct Action {
    pub id: String,
    /// "<rule>/<id>": the planned action's id, made once at load.
    pub key: Arc<str>,
    pub delay_s: u64,
    pub at: Option<RelativeTime>,
    pub entity: Option<String>,
    /// The send window it keeps.
    pub window: crate::rules::compile::window::WindowChoice,
    pub kind: ActionKind,
}

#[derive(Debug)]
pub enum ActionKind {
    Notion {
        database: String,
        operation: NotionOperation,
        match_on: Option<String>,
        properties: Vec<NotionProperty>,
        add: Vec<(String, crate::rules::model::IncrementSpec)>,
    },
    Email {
        template: Arc<str>,
        to: Text,
    },
    Notify {
        channel: String,
        body: NotifyBody,
        urgent: bool,
    },
    Task {
        title: Text,
        description: Option<Text>,
        assignee: Text,
        priority: Priority,
        due_s: Option<u64>,
        due_at: Option<RelativeTime>,
    },
    Webhook {
        url: Text,
        method: HttpMethod,
        headers: Vec<(String, Text)>,
        body: Option<JsonTemplate>,
        sign_secret_env: Option<String>,
    },
    Workflow {
        workflow: String,
        to: String,
        from: Vec<String>,
    },
    FollowUp {
        assignee: Option<String>,
    },
    Beehiiv {
        email: Text,
        utm_source: Option<Text>,
        utm_campaign: Option<Text>,
        custom_fields: Vec<(String, Text)>,
        send_welcome_email: bool,
        reactivate_existing: bool,
    },
    Hubspot {
        properties: Vec<(String, Text)>,
    },
}

/// A compiled schedule: fires `schedule:<id>` at the times of `timing` (per page of `query`).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub id: String,
    pub timing: super::compile::calendar::Timing,
    pub query: Option<String>,
}

#[derive(Debug)]
pub struct NotionProperty {
    pub name: String,
    pub kind: PropertyType,
    pub value: JsonTemplate,
}

#[derive(Debug)]
pub enum NotifyBody {
    Template(String),
    Text(Text),
}

/// A JSON value whose strings are templates.
#[derive(Debug)]
pub enum JsonTemplate {
    Text(Text),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
    Literal(Value),
}

impl JsonTemplate {
    pub fn vars(&self) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars(&self, out: &mut std::collections::BTreeSet<String>) {
        match self {
            JsonTemplate::Text(t) => out.extend(t.vars()),
            JsonTemplate::Array(a) => a.iter().for_each(|x| x.collect_vars(out)),
            JsonTemplate::Object(o) => o.iter().for_each(|(_, x)| x.collect_vars(out)),
            JsonTemplate::Literal(_) => {}
        }
    }
}

#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: PathBuf,
    pub cases: Vec<TestCase>,
}

impl RuleSet {
    pub fn entity(&self, id: &str) -> Option<&EntityInfo> {
        self.entities.entities.iter().find(|e| &*e.id == id)
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| &*r.id == id)
    }
}
