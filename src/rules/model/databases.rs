//! `rules/databases.toml`: the Notion databases hsflow writes to.
//!
//! One naming scheme: the Notion property names, exactly as they appear in
//! Notion. A notion action names a database by key and its properties by
//! these names; the property type decides the shape of the value sent.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "hsflow databases",
    description = "The Notion databases: key, the env var holding the id, and the properties."
)]
pub struct DatabasesFile {
    /// One [[databases]] table per Notion database hsflow writes to.
    pub databases: Vec<Database>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Stable key used by actions, e.g. "contacts".
    pub key: String,
    /// The database title in Notion.
    pub name: String,
    /// The environment variable holding the Notion database id.
    pub env: String,
    /// Whether hsflow can run without it configured.
    #[serde(default)]
    pub optional: bool,
    /// Notion property name -> Notion property type.
    pub properties: BTreeMap<String, PropertyType>,
    /// Allowed option names of select, multi_select and status properties.
    #[serde(default)]
    pub options: BTreeMap<String, Vec<String>>,
    /// What each relation property links to: actions give the linked pages'
    /// key values (e.g. an email), and hsflow looks the pages up.
    #[serde(default)]
    pub relations: BTreeMap<String, RelationTarget>,
}

/// The pages a relation property links to, found by a key property.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationTarget {
    /// The linked database's key.
    pub database: String,
    /// The property of the linked database that the given values match, e.g. "Email".
    pub by: String,
}

/// A Notion property type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PropertyType {
    Title,
    RichText,
    Email,
    PhoneNumber,
    Url,
    Number,
    Checkbox,
    Select,
    MultiSelect,
    Status,
    Date,
    Relation,
    People,
}

impl PropertyType {
    /// The type's name in the Notion API (`"rich_text"`), also the key of its value.
    pub fn api_name(self) -> &'static str {
        match self {
            PropertyType::Title => "title",
            PropertyType::RichText => "rich_text",
            PropertyType::Email => "email",
            PropertyType::PhoneNumber => "phone_number",
            PropertyType::Url => "url",
            PropertyType::Number => "number",
            PropertyType::Checkbox => "checkbox",
            PropertyType::Select => "select",
            PropertyType::MultiSelect => "multi_select",
            PropertyType::Status => "status",
            PropertyType::Date => "date",
            PropertyType::Relation => "relation",
            PropertyType::People => "people",
        }
    }

    pub fn has_options(self) -> bool {
        matches!(
            self,
            PropertyType::Select | PropertyType::MultiSelect | PropertyType::Status
        )
    }
}
