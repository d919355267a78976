//! Email that respects its readers: what hsflow does around an email beyond
//! rendering it.
//!
//! - [`token`]: signed links (unsubscribe, open pixel, click-through);
//! - [`prepare`]: the links put into an email just before it is sent, and the
//!   `List-Unsubscribe` headers;
//! - [`suppress`]: the suppression list in action (an unsubscribe, a bounce,
//!   a complaint: record it, cancel what was waiting, raise an event);
//! - [`pages`]: where the links lead (the unsubscribe page, the pixel, the
//!   click-through);
//! - [`api`]: the suppression list for operators, and providers' bounces
//!   ([`bounces`] reads them);
//! - [`stats`]: sent, opened, clicked, unsubscribed per template, variant,
//!   rule and flow;
//! - [`variants`]: which A/B variant of a template a contact gets.
//!
//! Each email template is transactional or marketing (rules/emails.toml).
//! Only marketing email carries an unsubscribe link and stops for a
//! suppressed address; a booking confirmation still reaches someone who
//! unsubscribed from the newsletter.

pub mod api;
pub mod bounces;
pub mod pages;
pub mod prepare;
pub mod stats;
pub mod suppress;
pub mod token;
pub mod variants;

pub use crate::store::email::normal;

/// What `{{unsubscribe_url}}` renders to when the event is accepted; the
/// dispatcher puts the signed link for that one email in its place when it
/// sends it (see [`prepare`]). It reads plainly in `hsflow simulate`.
pub const UNSUBSCRIBE_MARKER: &str = "%unsubscribe_url%";

/// The link key and the public address for this server: the key from
/// `HSFLOW_LINK_SECRET`, else made once and kept in the store; the address
/// from `HSFLOW_PUBLIC_URL`, else this server's own (which only works for
/// people on the same machine, so it is said in the log).
pub async fn signer(
    store: &crate::store::Store,
    listening: std::net::SocketAddr,
) -> Result<token::Signer, String> {
    let key = match std::env::var("HSFLOW_LINK_SECRET") {
        Ok(k) if k.trim().len() >= 16 => k.trim().as_bytes().to_vec(),
        Ok(k) if !k.trim().is_empty() => {
            return Err("HSFLOW_LINK_SECRET is shorter than 16 characters; use a long random value (e.g. from `openssl rand -hex 32`), or leave it unset and hsflow keeps its own key in the store".into())
        }
        _ => store
            .setting_or("link_secret", || {
                let bytes: [u8; 32] = rand::random();
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            })
            .await
            .map_err(|e| format!("the key that signs email links could not be read from the store: {e}"))?
            .into_bytes(),
    };
    let base = match std::env::var("HSFLOW_PUBLIC_URL") {
        Ok(u) if !u.trim().is_empty() => {
            let u = u.trim();
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(format!("HSFLOW_PUBLIC_URL is {u:?}; write the address people reach hsflow at, starting with https://, e.g. https://hooks.the7space.example"));
            }
            u.to_string()
        }
        _ => {
            let host = if listening.ip().is_unspecified() {
                "localhost".to_string()
            } else {
                listening.ip().to_string()
            };
            let base = format!("http://{host}:{}", listening.port());
            tracing::warn!("links in emails (unsubscribe, opens, clicks) point at {base}, which only this machine can open; set HSFLOW_PUBLIC_URL to the address people reach hsflow at");
            base
        }
    };
    Ok(token::Signer::new(&key, &base))
}
