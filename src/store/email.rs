//! Email's own records in the store.
//!
//! - **Suppressions**: addresses that marketing email no longer goes to, and
//!   why (the person unsubscribed, the address bounced, they complained, or
//!   staff added it). One row per address; re-subscribing deletes it.
//! - **Activity**: what happened to each email after it was planned (sent,
//!   suppressed, bounced, opened, clicked, unsubscribed), with its template,
//!   variant, rule and flow copied in, so the stats that compare templates
//!   and A/B variants are one `GROUP BY` and survive the retention of the
//!   actions themselves.
//! - **Settings**: small values hsflow makes for itself and must keep across
//!   restarts and share between servers (the key that signs email links).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::jobs::Job;
use super::writer::Bind;
use super::{from_millis, millis, Store, StoreError};

/// Why an address is suppressed.
pub const REASONS: [&str; 4] = ["unsubscribed", "bounced", "complained", "manual"];

/// One suppressed address.
#[derive(Debug, Clone, Serialize)]
pub struct Suppression {
    pub address: String,
    /// unsubscribed, bounced, complained or manual.
    pub reason: String,
    /// In words: where it came from (the link, the SMTP server's answer...).
    pub detail: String,
    /// The email it came from, when it came from one.
    pub job_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// What one email is, for its activity rows.
#[derive(Debug, Clone, Default)]
pub struct EmailRef {
    pub job_id: String,
    pub template: String,
    /// The A/B variant (`a`, `b`), empty when the template has none.
    pub variant: String,
    pub rule: String,
    pub flow: String,
}

/// One thing that happened to an email after it was sent.
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    /// sent, suppressed, bounced, opened, clicked, unsubscribed, complained.
    pub what: String,
    /// The clicked URL, a bounce's words; empty when there is nothing to add.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// Distinct emails per (template, variant, rule, flow) and what happened.
#[derive(Debug, Clone, Serialize)]
pub struct ActivityCount {
    pub template: String,
    pub variant: String,
    pub rule: String,
    pub flow: String,
    pub what: String,
    pub emails: i64,
}

/// An address as the list keeps it: the bare address (`Ada <ada@x.org>` is
/// `ada@x.org`) in lower case, so a display name or a capital letter in a
/// form doesn't slip past the list.
pub fn normal(address: &str) -> String {
    let bare = match (address.find('<'), address.rfind('>')) {
        (Some(a), Some(b)) if a < b => &address[a + 1..b],
        _ => address,
    };
    bare.trim().to_lowercase()
}

fn suppression(r: &sqlx::any::AnyRow) -> Result<Suppression, sqlx::Error> {
    Ok(Suppression {
        address: r.try_get("address")?,
        reason: r.try_get("reason")?,
        detail: r.try_get("detail")?,
        job_id: r.try_get("job_id")?,
        at: from_millis(r.try_get("created_at")?),
    })
}

impl Store {
    /// Suppress `address`; true when it was not suppressed before (an
    /// address already on the list keeps its first reason).
    pub async fn suppress(
        &self,
        address: &str,
        reason: &str,
        detail: &str,
        job_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let rows = self
            .execute(
                "INSERT INTO suppressions (address, reason, detail, job_id, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (address) DO NOTHING",
                vec![
                    Bind::Text(normal(address)),
                    Bind::Text(reason.to_string()),
                    Bind::Text(detail.to_string()),
                    Bind::OptText(job_id.map(str::to_string)),
                    Bind::Int(millis(Utc::now())),
                ],
            )
            .await?;
        Ok(rows == 1)
    }

    /// Take `address` off the list (an explicit re-subscribe); true when it was on it.
    pub async fn unsuppress(&self, address: &str) -> Result<bool, StoreError> {
        Ok(self
            .execute(
                "DELETE FROM suppressions WHERE address = $1",
                vec![Bind::Text(normal(address))],
            )
            .await?
            == 1)
    }

    /// Whether (and why) `address` is suppressed.
    pub async fn suppression(&self, address: &str) -> Result<Option<Suppression>, StoreError> {
        let row = sqlx::query(
            "SELECT address, reason, detail, job_id, created_at FROM suppressions WHERE address = $1",
        )
        .bind(normal(address))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(suppression).transpose()?)
    }

    /// The newest `limit` suppressions, and how many there are in all.
    pub async fn suppressions(&self, limit: i64) -> Result<(Vec<Suppression>, i64), StoreError> {
        let rows = sqlx::query(
            "SELECT address, reason, detail, job_id, created_at FROM suppressions ORDER BY created_at DESC, address LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM suppressions")
            .fetch_one(&self.pool)
            .await?;
        let list = rows
            .iter()
            .map(suppression)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((list, total))
    }

    /// The email actions of `contact` still to run: (id, planned action JSON).
    pub async fn pending_emails(&self, contact: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            concat!(
                "SELECT id, event_id, action_key, rule, flow, entity, payload, ",
                super::packed::action_plan!("actions_named"),
                " FROM actions_named WHERE contact_id = (SELECT contact_id FROM contacts WHERE contact = $1) AND kind = 'email' AND status IN ('queued', 'failed')"
            ),
        )
        .bind(normal(contact))
        .fetch_all(&self.pool)
        .await?;
        let mut plans = super::packed::Plans::default();
        rows.iter()
            .map(|r| -> Result<(String, String), StoreError> {
                let payload = super::action_payload::from_row(r, &mut plans)?;
                Ok((r.try_get("id")?, payload))
            })
            .collect()
    }

    /// Cancel one waiting action, saying why; true when it was waiting.
    pub async fn cancel_because(&self, id: &str, why: &str) -> Result<bool, StoreError> {
        Ok(self.execute(
            "UPDATE actions SET status = 'cancelled', last_error = $1, updated_at = $2 WHERE id = $3 AND status IN ('queued', 'failed')",
            vec![Bind::Text(why.to_string()), Bind::Int(millis(Utc::now())), Bind::Text(id.to_string())],
        )
        .await?
            == 1)
    }

    /// Record that the running `job` was not sent because its address is
    /// suppressed (status `suppressed`, not `dead`: nothing is wrong, and
    /// nothing to retry). Refused when the job is no longer this worker's.
    pub async fn suppressed(&self, job: &Job, why: &str) -> Result<(), StoreError> {
        let rows = self.execute(
            "UPDATE actions SET status = 'suppressed', lease_until = NULL, last_error = $1, updated_at = $2 WHERE id = $3 AND status = 'running' AND claims = $4",
            vec![
                Bind::Text(why.to_string()),
                Bind::Int(millis(Utc::now())),
                Bind::Text(job.id.clone()),
                Bind::Int(job.claim),
            ],
        )
        .await?;
        if rows == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost(job.id.clone()))
        }
    }

    /// Record that `what` happened to an email (`detail`: a clicked URL, a
    /// bounce's words).
    pub async fn email_activity(
        &self,
        email: &EmailRef,
        what: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO email_activity (job_id, what, template, variant, rule, flow, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                Bind::Text(email.job_id.clone()),
                Bind::Text(what.to_string()),
                Bind::Text(email.template.clone()),
                Bind::Text(email.variant.clone()),
                Bind::Text(email.rule.clone()),
                Bind::Text(email.flow.clone()),
                Bind::Text(detail.to_string()),
                Bind::Int(millis(Utc::now())),
            ],
        )
        .await
        .map(|_| ())
    }

    /// What happened to the emails of `event_id` so far, by job, oldest first.
    pub async fn email_activity_of_event(
        &self,
        event_id: &str,
    ) -> Result<std::collections::HashMap<String, Vec<Activity>>, StoreError> {
        let rows = sqlx::query(
            concat!(
                "SELECT a.job_id, a.what, a.detail, a.at FROM email_activity a JOIN actions x ON x.id = a.job_id WHERE ",
                super::action_event::of_event!("x", "$1"),
                " ORDER BY a.at"
            ),
        )
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out: std::collections::HashMap<String, Vec<Activity>> = Default::default();
        for r in &rows {
            out.entry(r.try_get("job_id")?).or_default().push(Activity {
                what: r.try_get("what")?,
                detail: r.try_get("detail")?,
                at: from_millis(r.try_get("at")?),
            });
        }
        Ok(out)
    }

    /// Distinct emails by template, variant, rule, flow and what happened
    /// (an email opened five times counts once).
    pub async fn email_counts(&self) -> Result<Vec<ActivityCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT template, variant, rule, flow, what, COUNT(DISTINCT job_id) AS n FROM email_activity GROUP BY template, variant, rule, flow, what",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ActivityCount {
                    template: r.try_get("template")?,
                    variant: r.try_get("variant")?,
                    rule: r.try_get("rule")?,
                    flow: r.try_get("flow")?,
                    what: r.try_get("what")?,
                    emails: r.try_get("n")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The setting `name`, made from `make()` the first time anyone asks
    /// (two servers asking at once agree: the first write wins).
    pub async fn setting_or(
        &self,
        name: &str,
        make: impl FnOnce() -> String,
    ) -> Result<String, StoreError> {
        self.execute(
            "INSERT INTO settings (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            vec![
                Bind::Text(name.to_string()),
                Bind::Text(make()),
                Bind::Int(millis(Utc::now())),
            ],
        )
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// An action's row, less its scheduling: see [`Store::action_parts`].
pub struct ActionParts {
    pub rule: String,
    pub flow: String,
    pub contact: Option<String>,
    pub payload: String,
    pub event_id: String,
    pub ruleset_version: String,
}

impl Store {
    /// An action's rule, flow, contact, planned action (JSON), event and
    /// rule-set version, by id.
    pub async fn action_parts(&self, id: &str) -> Result<Option<ActionParts>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT action_key, rule, flow, entity, contact, payload, event_id, ",
            super::action_version::action_version!("actions_named"),
            ", ",
            super::packed::action_plan!("actions_named"),
            " FROM actions_named WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| -> Result<ActionParts, StoreError> {
            Ok(ActionParts {
                rule: r.try_get("rule")?,
                flow: r.try_get("flow")?,
                contact: r.try_get("contact")?,
                payload: super::action_payload::from_row(&r, &mut super::packed::Plans::default())?,
                event_id: r.try_get("event_id")?,
                ruleset_version: r.try_get("ruleset_version")?,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_address_is_kept_bare_and_in_lower_case() {
        assert_eq!(super::normal(" Ada@Example.com "), "ada@example.com");
        assert_eq!(super::normal("Ada L <Ada@Example.com>"), "ada@example.com");
    }
}
