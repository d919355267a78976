//! The interpreter: normalise an event, match it against the rules, plan actions.
//!
//! Everything here is a pure function of (rule set, event, time): no I/O, no
//! clock reads, so `hsflow simulate` and the server plan identically.

pub mod action;
pub mod condition;
pub mod condition_compile;
pub mod dates;
pub mod deferred;
pub mod event;
pub mod expr;
pub mod expr_helpers;
pub mod fields;
pub mod index;
pub mod notion;
pub mod path;
pub mod payload;
pub mod plan;
pub mod routing;
pub mod rule_tests;
pub mod send_window;
pub mod time_condition;
