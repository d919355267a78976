//! `rules/tests/<name>.toml`: rule test cases, run by `hsflow test`.
//!
//! A case feeds one event (inline, or a payload file under examples/) through
//! a source and states what the plan must contain. Expectations are partial:
//! name only what matters, and a case still fails on anything it contradicts.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::time::Duration;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "hsflow rule tests",
    description = "Rule test cases: an input event and what its plan must contain."
)]
pub struct TestsFile {
    /// One [[cases]] table per test: an event and what the rules must do with it.
    pub cases: Vec<TestCase>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// A name that says what the case proves.
    pub name: String,
    /// The source (rules/sources/<name>.toml) the event arrives through.
    pub source: String,
    /// The request body, inline (a table; for form sources, a table of strings).
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    /// Or a file holding the body, relative to the project root (e.g. "examples/typeform.json").
    #[serde(default)]
    pub payload_file: Option<String>,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// For a source with [[enrich]] steps: a file holding what its API answers (one key per step name, or with one step the response itself), relative to the project root; tests never call the API.
    #[serde(default)]
    pub enriched: Option<String>,
    /// When the event arrives (RFC 3339); default 2026-01-05T15:00:00Z, a Monday at 10:00 in New York.
    #[serde(default)]
    pub at: Option<String>,
    /// What the rules must do with the event.
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// These rules must match.
    #[serde(default)]
    pub matched: Vec<String>,
    /// These rules must not match.
    #[serde(default)]
    pub not_matched: Vec<String>,
    /// Exactly these entities (names), in any order.
    #[serde(default)]
    pub entities: Option<Vec<String>>,
    /// Each of these must be in the plan.
    #[serde(default)]
    pub actions: Vec<ExpectedAction>,
    /// The event must cancel the pending actions of these rules (for its contact).
    #[serde(default)]
    pub cancels: Vec<String>,
    /// No action of these kinds may be planned.
    #[serde(default)]
    pub no_actions: Vec<String>,
    /// The event must be refused with an error containing this text.
    #[serde(default)]
    pub error: Option<String>,
}

/// An action the plan must contain. Any other key is compared with the action's field of that name.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ExpectedAction {
    /// notion, email, notify, task, webhook or workflow.
    pub kind: String,
    /// The rule that planned it.
    #[serde(default)]
    pub rule: Option<String>,
    /// Its delay after the event.
    #[serde(default)]
    pub delay: Option<Duration>,
    /// Text the rendered action (subject, bodies, title, text) must contain.
    #[serde(default)]
    pub contains: Option<String>,
    /// Any other field of the action, compared as a subset.
    #[serde(flatten)]
    pub fields: BTreeMap<String, serde_json::Value>,
}
