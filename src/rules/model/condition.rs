//! Conditions, as written in rule files.
//!
//! A condition is one table. Which kind it is follows from its keys:
//! `field` with one operator (`equals`, `contains_any`, `gte`, ...) is a
//! structured test the engine runs natively; `expr` is an evalexpr expression
//! for anything else; `all`, `any` and `not` combine conditions and nest
//! freely; `arrived_within` and `arrived_on` test when the event arrived. A list of conditions (a rule's `when`) means all of them.
//!
//! This is the file form, shaped for editors: every key is optional here so
//! an editor can offer them all. The loader turns it into the engine's
//! compiled `Condition` enum and reports a table with no kind, or two kinds
//! at once, as a lint error at its location.

use schemars::JsonSchema;
use serde::Deserialize;

use super::time::Duration;

/// A plain value to compare against: text, number or boolean.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

/// One condition. Give `field` and one test, or `expr`, or `all` / `any` / `not`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    /// The normalised field to test, e.g. "lead_source"; `payload.` reaches the raw body.
    #[serde(default)]
    pub field: Option<String>,
    /// The field equals this value (numbers compare by value: 5 equals 5.0).
    #[serde(default)]
    pub equals: Option<Scalar>,
    /// The field does not equal this value (a missing field is not "not equal": it is false).
    #[serde(default)]
    pub not_equals: Option<Scalar>,
    /// The field equals one of these values.
    #[serde(default, rename = "in")]
    pub in_: Option<Vec<Scalar>>,
    /// The field (a list) contains this value.
    #[serde(default)]
    pub contains: Option<Scalar>,
    /// The field (a list) contains at least one of these values.
    #[serde(default)]
    pub contains_any: Option<Vec<Scalar>>,
    /// The field (a list) contains every one of these values.
    #[serde(default)]
    pub contains_all: Option<Vec<Scalar>>,
    /// The field (a list) contains none of these values.
    #[serde(default)]
    pub contains_none: Option<Vec<Scalar>>,
    /// The field (a list) has at least one value that is not one of these
    /// (e.g. a contact type hsflow doesn't know).
    #[serde(default)]
    pub contains_other_than: Option<Vec<Scalar>>,
    /// The field (a number) is greater than this.
    #[serde(default)]
    pub gt: Option<f64>,
    /// The field (a number) is at least this.
    #[serde(default)]
    pub gte: Option<f64>,
    /// The field (a number) is less than this.
    #[serde(default)]
    pub lt: Option<f64>,
    /// The field (a number) is at most this.
    #[serde(default)]
    pub lte: Option<f64>,
    /// The field (text) starts with this.
    #[serde(default)]
    pub starts_with: Option<String>,
    /// The field (text) ends with this.
    #[serde(default)]
    pub ends_with: Option<String>,
    /// The field (text) contains this text.
    #[serde(default)]
    pub text_contains: Option<String>,
    /// Make equals / in / text tests ignore upper and lower case.
    #[serde(default)]
    pub ignore_case: Option<bool>,
    /// true: the field is present and not null; false: it is absent or null.
    #[serde(default)]
    pub exists: Option<bool>,
    /// true: the field is missing, null, "" or []; false: it has a value.
    #[serde(default)]
    pub is_empty: Option<bool>,
    /// The field (a date) falls between the event's arrival and this long after it: "14d".
    #[serde(default)]
    pub within_next: Option<Duration>,
    /// The field (a date) falls within this long before the event's arrival: "30d".
    #[serde(default)]
    pub within_last: Option<Duration>,
    /// The event arrived while this send window (rules/calendar.toml) was open: "business_hours".
    #[serde(default)]
    pub arrived_within: Option<String>,
    /// The event arrived on one of these days, on the wall clock of the rule's entity (else the network): ["Mon-Fri"], ["Sat", "Sun"].
    #[serde(default)]
    pub arrived_on: Option<Vec<String>>,
    /// Every one of these conditions holds.
    #[serde(default)]
    pub all: Option<Vec<ConditionSpec>>,
    /// At least one of these conditions holds.
    #[serde(default)]
    pub any: Option<Vec<ConditionSpec>>,
    /// This condition does not hold.
    #[serde(default)]
    pub not: Option<Box<ConditionSpec>>,
    /// An evalexpr expression over the fields, e.g. `has_any(tags, "hot", "vip") && score >= 80`.
    #[serde(default)]
    pub expr: Option<String>,
}
