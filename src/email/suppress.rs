//! Suppressing an address: what an unsubscribe, a hard bounce or a
//! complaint does, wherever it comes from (the link in an email, a mail
//! program's one-click button, the SMTP server's 550, a provider's bounce
//! notification, the contact-workflow API, staff in the console).
//!
//! 1. The address goes on the suppression list (once: a second unsubscribe
//!    keeps the first one's reason).
//! 2. Its marketing emails still waiting are cancelled, each with the reason
//!    where the console shows it. (Should one slip past, planned a moment
//!    later, the dispatcher checks the list again just before sending.)
//! 3. The email it came from, if any, records the unsubscribe (for the
//!    stats that compare templates and variants).
//! 4. `hsflow:contact.unsubscribed` is raised, so rules can act on it (the
//!    shipped pack ticks "Email Opt-Out" on the contact's Notion page), with
//!    an id made from the suppression: raised again, it is a duplicate.

use serde::Serialize;
use serde_json::json;

use crate::engine::action::{Payload, PlannedAction};
use crate::rules::model::EmailCategory;
use crate::server::rules::SharedRules;
use crate::sinks::Raise;
use crate::store::email::EmailRef;
use crate::store::Store;

/// What suppressing did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    pub address: String,
    /// False when the address was already suppressed.
    pub newly_suppressed: bool,
    /// Marketing emails to it that were waiting and are now cancelled.
    pub cancelled: usize,
}

/// One email action as stored, read back for what it was.
pub struct StoredEmail {
    pub email: EmailRef,
    pub to: String,
    pub category: EmailCategory,
    pub html: String,
    pub contact: Option<String>,
    /// The name of the entity it was sent for (The 7 Space).
    pub entity: Option<String>,
}

/// The email action `job_id`, if there is one. With `rules`, its HTML is
/// rendered if it was stored without it (engine::deferred); without, `html`
/// may be empty.
pub async fn stored_email(
    store: &Store,
    rules: Option<&SharedRules>,
    job_id: &str,
) -> Option<StoredEmail> {
    let parts = store.action_parts(job_id).await.ok()??;
    let mut action: PlannedAction = serde_json::from_str(&parts.payload).ok()?;
    if let Some(rules) = rules {
        let (event, version) = (&parts.event_id, &parts.ruleset_version);
        if let Err(e) = rules.render_later(store, event, version, &mut action).await {
            tracing::warn!(job = %job_id, "the email's text could not be rendered: {e}");
        }
    }
    let (rule, flow, contact) = (parts.rule, parts.flow, parts.contact);
    let entity = action.entity.as_deref().map(str::to_string);
    let Payload::Email {
        to,
        template,
        variant,
        category,
        html,
        ..
    } = action.payload
    else {
        return None;
    };
    Some(StoredEmail {
        email: EmailRef {
            job_id: job_id.to_string(),
            template: template.to_string(),
            variant: variant.map(|v| v.to_string()).unwrap_or_default(),
            rule,
            flow,
        },
        to,
        category,
        html,
        contact,
        entity,
    })
}

/// Suppress `address` for `reason` (unsubscribed, bounced, complained,
/// manual), saying `detail` in words; `from` is the email it came from.
pub async fn suppress(
    store: &Store,
    raise: Option<&Raise>,
    address: &str,
    reason: &str,
    detail: &str,
    from: Option<&EmailRef>,
) -> Result<Outcome, String> {
    let address = super::normal(address);
    let newly = store
        .suppress(&address, reason, detail, from.map(|e| e.job_id.as_str()))
        .await
        .map_err(|e| format!("the suppression could not be stored: {e}"))?;
    let cancelled = cancel_marketing(store, &address, reason).await?;
    if let (true, Some(email)) = (newly, from) {
        if let Err(e) = store.email_activity(email, reason, detail).await {
            tracing::warn!("the {reason} of {address} is kept, but not counted in the stats: {e}");
        }
    }
    // Raised every time, with an id made from the suppression itself: a
    // second unsubscribe (or a retry after a raise that failed) is a
    // duplicate the store drops, and a raise that failed is made good.
    let row = store
        .suppression(&address)
        .await
        .map_err(|e| format!("the suppression could not be read back: {e}"))?;
    let (since, first_reason, first_detail) = row
        .map_or((0, reason.to_string(), detail.to_string()), |s| {
            (s.at.timestamp_millis(), s.reason, s.detail)
        });
    let from = from.filter(|_| newly);
    let event = json!({
        "type": "contact.unsubscribed",
        "id": format!("{address}:unsubscribed:{since}"),
        "email": address,
        "reason": first_reason,
        "detail": first_detail,
        "template": from.map(|e| e.template.clone()),
        "variant": from.map(|e| e.variant.clone()).filter(|v| !v.is_empty()),
        "rule": from.map(|e| e.rule.clone()),
        "flow": from.map(|e| e.flow.clone()),
    });
    match raise {
        Some(tx) => crate::sinks::raise(tx, event).await?,
        None => tracing::warn!("{address} is suppressed, but raised events have nowhere to go"),
    }
    tracing::info!(
        "{address} suppressed ({reason}: {detail}); {cancelled} waiting marketing email(s) cancelled"
    );
    Ok(Outcome {
        address,
        newly_suppressed: newly,
        cancelled,
    })
}

/// Cancel the marketing emails to `address` still waiting.
async fn cancel_marketing(store: &Store, address: &str, reason: &str) -> Result<usize, String> {
    let pending = store
        .pending_emails(address)
        .await
        .map_err(|e| format!("the waiting emails could not be read: {e}"))?;
    let why =
        format!("cancelled: {address} is suppressed ({reason}), and this is a marketing email");
    let mut cancelled = 0;
    for (id, payload) in pending {
        let Ok(action) = serde_json::from_str::<PlannedAction>(&payload) else {
            continue;
        };
        let Payload::Email {
            to,
            category,
            template,
            variant,
            ..
        } = &action.payload
        else {
            continue;
        };
        if *category != EmailCategory::Marketing || super::normal(to) != address {
            continue;
        }
        if store
            .cancel_because(&id, &why)
            .await
            .map_err(|e| format!("a waiting email could not be cancelled: {e}"))?
        {
            cancelled += 1;
            // Counted with the emails not sent because their reader left.
            let email = EmailRef {
                job_id: id,
                template: template.to_string(),
                variant: variant.as_deref().unwrap_or_default().to_string(),
                rule: action.rule.to_string(),
                flow: action.flow.to_string(),
            };
            if let Err(e) = store.email_activity(&email, "suppressed", reason).await {
                tracing::warn!("a cancelled email is not counted in the stats: {e}");
            }
        }
    }
    Ok(cancelled)
}
