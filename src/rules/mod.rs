//! The rule language: file model, parsing with locations, schemas, loading and lint.
//!
//! Data flows through this module as: text -> [`document::Document`] (TOML with
//! spans) -> schema validation -> typed [`model`] -> compiled [`RuleSet`]
//! (conditions, JSONPaths, durations and templates resolved once).

pub mod diagnostic;
pub mod document;
pub mod kind;
pub mod model;
pub mod schema;
