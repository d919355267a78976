//! Inbound sources: authenticate a webhook, then normalise it into an event.

pub mod auth;
pub mod handshake;
pub mod intake;
pub mod normalise;
pub mod transform;
