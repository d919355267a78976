//! The rule files' shapes, exactly as authors write them.
//!
//! These types are the single source of truth for the file formats: the JSON
//! Schemas under `schemas/` are generated from them (`hsflow schema`), and
//! the loader deserialises into them before compiling. What the engine runs is
//! the compiled form built from these by `rules::loader`.

pub mod action;
pub mod calendar;
pub mod condition;
pub mod databases;
pub mod emails;
pub mod enrich;
pub mod entities;
pub mod flow;
pub mod lead_sources;
pub mod schedules;
pub mod source;
pub mod test_case;
pub mod time;

pub use action::*;
pub use calendar::*;
pub use condition::*;
pub use databases::*;
pub use emails::*;
pub use enrich::*;
pub use entities::*;
pub use flow::*;
pub use lead_sources::*;
pub use schedules::*;
pub use source::*;
pub use test_case::*;
pub use time::*;
