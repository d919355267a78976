//! The rule studio: change rules with confidence.
//!
//! Every rule set that goes live is kept as a version (in the store, see
//! `store::versions`); two versions can be diffed ([`diff`]) and the files
//! of one written back (a rollback, [`write`]). The what-if ([`whatif`])
//! replays the stored events through the live and a candidate rule set and
//! says what would change, before anything is saved. The console's editor
//! pages and the admin API's routes for all of this live here too, apart
//! from the read-only console.

pub mod api;
pub mod diff;
pub mod held;
pub mod pages;
pub mod preview;
pub mod said;
pub mod whatif;
pub mod write;
