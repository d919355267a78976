//! Sending one email: the checks and links around the SMTP server or the
//! outbox.
//!
//! 1. A marketing email to a suppressed address is not sent: the job ends
//!    `suppressed` (not `dead`: nothing is wrong and nothing needs a retry),
//!    saying why. Checked here, just before sending, so an unsubscribe that
//!    arrives while a follow-up waits is honoured even if that follow-up was
//!    planned after it. Transactional email goes regardless.
//! 2. The links for this one email go in (see `email::prepare`).
//! 3. It goes to the SMTP server when one is set, else to the .eml outbox.
//! 4. A hard bounce (the server says the mailbox doesn't exist) suppresses
//!    the address, as an unsubscribe does, and ends the job `suppressed`.
//!
//! What happened is recorded for the stats (sent, suppressed, bounced).

use chrono::Utc;

use super::smtp::Sent;
use super::{eml, Done, SinkError, Sinks};
use crate::email::prepare::{prepare, Mail};
use crate::email::suppress::suppress;
use crate::engine::action::{Payload, PlannedAction};
use crate::rules::model::EmailCategory;
use crate::rules::RuleSet;
use crate::store::email::EmailRef;
use crate::store::jobs::Job;

/// Test sends from the rule studio have job ids starting with this; they
/// are not counted in the stats.
pub const TEST_SEND: &str = "test-";

impl Sinks {
    pub(super) async fn email(
        &self,
        job: &Job,
        action: &PlannedAction,
        rules: &RuleSet,
    ) -> Result<Done, SinkError> {
        let Payload::Email {
            to,
            template,
            variant,
            category,
            subject,
            text,
            html,
            from,
            reply_to,
        } = &action.payload
        else {
            return Err(SinkError::Permanent("not an email".into()));
        };
        let email = EmailRef {
            job_id: job.id.clone(),
            template: template.to_string(),
            variant: variant.as_deref().unwrap_or_default().to_string(),
            rule: action.rule.to_string(),
            flow: action.flow.to_string(),
        };
        let counted = !job.id.starts_with(TEST_SEND);
        let store = &self.local.store;
        if *category == EmailCategory::Marketing {
            let found = store
                .suppression(to)
                .await
                .map_err(|e| SinkError::retryable(e.to_string()))?;
            if let Some(s) = found {
                let why = format!(
                    "not sent: {to} is on the suppression list ({}, {}: {}), and `{template}` is a marketing email; re-subscribe the address in the console to send to it again",
                    s.reason,
                    s.at.format("%Y-%m-%d %H:%M UTC"),
                    s.detail
                );
                if counted {
                    self.count(&email, "suppressed", &s.reason).await;
                }
                return Err(SinkError::Suppressed(why));
            }
        }
        let track = action
            .entity_id
            .as_deref()
            .and_then(|id| rules.entities.entities.iter().find(|e| &*e.id == id))
            .is_some_and(|e| e.track_engagement);
        let mailto = self
            .unsubscribe_mailto
            .as_deref()
            .or(reply_to.as_deref())
            .or(from.as_deref());
        let out = prepare(
            &self.links,
            &Mail {
                job: &job.id,
                to,
                category: *category,
                text,
                html,
                mailto,
                track,
            },
        );
        let message = match &self.smtp {
            Some(smtp) => {
                let sent = smtp
                    .send(
                        &job.id,
                        from.as_deref(),
                        reply_to.as_deref(),
                        to,
                        subject,
                        &out,
                    )
                    .await?;
                match sent {
                    Sent::Accepted(words) => words,
                    Sent::HardBounce(words) => return Err(self.bounced(&email, to, &words).await),
                }
            }
            None => self.local.outbox(
                &job.id,
                &eml::Message {
                    message_id: format!("<{}@hsflow>", job.id),
                    from: from.as_deref().unwrap_or("hsflow@localhost"),
                    reply_to: reply_to.as_deref(),
                    to,
                    subject,
                    text: &out.text,
                    html: &out.html,
                    headers: &out.headers,
                    date: Utc::now(),
                },
            )?,
        };
        if counted {
            self.count(&email, "sent", "").await;
        }
        Ok(Done::from(message))
    }

    /// The server refused the address for good: suppress it and say so.
    async fn bounced(&self, email: &EmailRef, to: &str, words: &str) -> SinkError {
        let detail = format!("the SMTP server refused it: {words}");
        match suppress(
            &self.local.store,
            self.raise.as_ref(),
            to,
            "bounced",
            &detail,
            Some(email),
        )
        .await
        {
            Ok(_) => SinkError::Suppressed(format!(
                "not delivered: {detail}. {to} is now on the suppression list (a hard bounce), so marketing email no longer goes to it; check the address with the contact, then re-subscribe it in the console"
            )),
            // Not recorded: try again, and the bounce comes again.
            Err(e) => SinkError::retryable(format!(
                "{detail}; the bounce could not be recorded ({e}), so the email will be tried again"
            )),
        }
    }

    /// Count what happened to an email; the stats lose one if the store fails.
    async fn count(&self, email: &EmailRef, what: &str, detail: &str) {
        if let Err(e) = self.local.store.email_activity(email, what, detail).await {
            tracing::warn!(job = %email.job_id, "the email was {what}, but the stats could not count it: {e}");
        }
    }
}
