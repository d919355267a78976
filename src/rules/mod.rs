//! The rule language: file model, parsing with locations, schemas, loading and lint.
//!
//! Data flows through this module as: text -> [`document::Document`] (TOML with
//! spans) -> [`schema`] validation -> typed [`model`] -> [`compile`] -> an
//! immutable [`ruleset::RuleSet`] (conditions, JSONPaths, durations and
//! templates resolved once). [`loader::load`] runs the whole pipeline.

pub mod compile;
pub mod diagnostic;
pub mod document;
pub mod files;
pub mod kind;
pub mod loader;
pub mod model;
mod read_files;
pub mod ruleset;
pub mod schema;
pub mod schema_examples;
pub mod schema_hints;
pub mod schema_shape;
pub mod template_dates;
pub mod template_syntax;
pub mod template_vars;
pub mod templates;
pub mod toml_inline;
pub mod toml_slip;

pub use files::RuleFiles;
pub use loader::{load, load_files, load_to_serve, Loaded};
pub use ruleset::RuleSet;
