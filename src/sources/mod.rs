//! Inbound sources: authenticate a webhook, fetch what it only points to
//! (enrich), then normalise it into an event.

pub mod auth;
pub mod enrich;
pub mod handshake;
pub mod intake;
pub mod normalise;
pub mod transform;
