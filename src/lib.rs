//! hsflow: a declarative rules engine for webhook-driven business workflows.
//!
//! The modules follow the data path: `sources` (webhook auth and
//! normalisation) -> `engine` (match, evaluate, plan) -> `store` -> `dispatch`
//! -> `sinks`, with `rules` (model, loader, schema, lint) beside, and `cli`,
//! `server` (the HTTP API) and `console` (the web pages for people) at the
//! edge. `email` holds what happens around an email beyond its template:
//! signed links, unsubscribes and suppression, bounces, engagement, A/B
//! variants.

pub mod cli;
pub mod console;
pub mod dispatch;
pub mod email;
pub mod engine;
pub mod rules;
pub mod server;
pub mod sinks;
pub mod sources;
pub mod store;
pub mod studio;
