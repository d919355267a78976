//! The kinds of rule file, and which kind a path is.
//!
//! The kind decides the schema a file is validated against and the type it is
//! deserialised into. It follows from where the file lives under `rules/`.

use std::path::Path;

use super::model;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Source,
    Entities,
    LeadSources,
    Databases,
    Schedules,
    Calendar,
    Emails,
    Flow,
    Tests,
}

impl FileKind {
    pub const ALL: [FileKind; 9] = [
        FileKind::Source,
        FileKind::Entities,
        FileKind::LeadSources,
        FileKind::Databases,
        FileKind::Schedules,
        FileKind::Calendar,
        FileKind::Emails,
        FileKind::Flow,
        FileKind::Tests,
    ];

    /// The schema's file stem under schemas/.
    pub fn schema_name(self) -> &'static str {
        match self {
            FileKind::Source => "source",
            FileKind::Entities => "entities",
            FileKind::LeadSources => "lead_sources",
            FileKind::Databases => "databases",
            FileKind::Schedules => "schedules",
            FileKind::Calendar => "calendar",
            FileKind::Emails => "emails",
            FileKind::Flow => "flow",
            FileKind::Tests => "tests",
        }
    }

    pub fn schema_file(self) -> String {
        format!("{}.schema.json", self.schema_name())
    }

    /// The kind of a file, from its path relative to the rules directory.
    pub fn of(relative: &Path) -> Option<FileKind> {
        let parts: Vec<&str> = relative.iter().filter_map(|p| p.to_str()).collect();
        let is_toml = relative.extension().is_some_and(|e| e == "toml");
        if !is_toml {
            return None;
        }
        match parts.as_slice() {
            ["entities.toml"] => Some(FileKind::Entities),
            ["lead_sources.toml"] => Some(FileKind::LeadSources),
            ["databases.toml"] => Some(FileKind::Databases),
            ["schedules.toml"] => Some(FileKind::Schedules),
            ["calendar.toml"] => Some(FileKind::Calendar),
            ["emails.toml"] => Some(FileKind::Emails),
            ["sources", _] => Some(FileKind::Source),
            ["flows", _] => Some(FileKind::Flow),
            ["tests", _] => Some(FileKind::Tests),
            _ => None,
        }
    }

    /// The JSON Schema, generated from the Rust type so it cannot drift, in
    /// the shape every TOML editor reads alike (see `schema_shape`).
    pub fn schema(self) -> serde_json::Value {
        let mut schema = match self {
            FileKind::Source => schemars::schema_for!(model::SourceFile),
            FileKind::Entities => schemars::schema_for!(model::EntitiesFile),
            FileKind::LeadSources => schemars::schema_for!(model::LeadSourcesFile),
            FileKind::Databases => schemars::schema_for!(model::DatabasesFile),
            FileKind::Schedules => schemars::schema_for!(model::SchedulesFile),
            FileKind::Calendar => schemars::schema_for!(model::CalendarFile),
            FileKind::Emails => schemars::schema_for!(model::EmailsFile),
            FileKind::Flow => schemars::schema_for!(model::FlowFile),
            FileKind::Tests => schemars::schema_for!(model::TestsFile),
        };
        schema.insert(
            "$id".into(),
            format!("https://hsflow.dev/schemas/{}", self.schema_file()).into(),
        );
        let mut value = schema.to_value();
        super::schema_shape::for_every_editor(&mut value, self.schema_name());
        value
    }

    /// The `#:schema` directive a shipped file of this kind begins with,
    /// relative to the file.
    pub fn directive_for(self, relative: &Path) -> String {
        let depth = relative.components().count();
        format!("{}schemas/{}", "../".repeat(depth), self.schema_file())
    }
}
