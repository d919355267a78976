//! Ordering inside an event: a link waits for the page it links to.
//!
//! One event often writes a page and, beside it, something that links to
//! that page: a Typeform lead upserts the contact and makes a task whose
//! `Contact` relation points at it. The dispatcher runs due jobs side by
//! side, so the task may run before the contact exists. Dropping the link
//! then (with a warning nobody reads) lost it for good in 14 of 300 events
//! locally and 15 of 16 against Notion.
//!
//! So the order is derived from the relations themselves; rule authors write
//! nothing. When a link's page is not found, the job looks at the other
//! actions of its own event: if one of them creates or upserts exactly that
//! page (same database, its key property and value), the job waits for it:
//! - that action is running right now (the usual case: the two were claimed
//!   side by side): the job keeps its worker and looks at that action again
//!   every few milliseconds, for up to a second; once it is done, the job
//!   looks for the page again and goes on. Giving the worker back and being
//!   claimed again a second later cost two more writes and a second claim
//!   for one lead in every six on the shipped pack (and against Notion, a
//!   second search);
//! - that action has not run yet (queued, or retrying), or runs for longer
//!   than that second: the job is tried again just after that action's next
//!   try, without using up one of its own attempts;
//! - that action succeeded, but the page is not found yet: within a minute
//!   of that write, a race (this job looked just before it committed, or
//!   Notion's search lags behind its writes), so it waits a second more;
//!   later, a failure (the page was deleted since), retried and in the end
//!   parked with the reason;
//! - that action is parked (`dead`): the job is parked too, saying which
//!   action to fix first; retrying both (that one first) finishes the work;
//! - that action was cancelled: the link is left out, with a warning.
//!
//! A link whose page no action of the event writes (a page that staff keep,
//! say) is left out with a warning when the page is missing, as before: the
//! page is still written.

use std::time::Duration;

use chrono::Utc;

use super::SinkError;
use crate::engine::action::{Link, Payload, PlannedAction};
use crate::rules::model::NotionOperation;
use crate::store::jobs::Job;
use crate::store::Store;

/// The shortest wait for a sibling action: long enough not to spin.
const MIN_WAIT: Duration = Duration::from_secs(1);
/// How long a job keeps its worker while the action it waits for runs,
/// before it gives the worker back and waits as a stored job instead.
const PATIENCE: Duration = MIN_WAIT;
/// The first and the longest pause between two looks at that action.
const FIRST_LOOK: Duration = Duration::from_millis(5);
const LONGEST_LOOK: Duration = Duration::from_millis(100);

/// How long after a page was written its absence still counts as a race.
const RACE_WINDOW_S: i64 = 60;

/// What to do about a page that was not found.
#[derive(Debug, PartialEq)]
enum Missing {
    /// Write without the link (a warning says why).
    LeaveOut,
    /// The action that writes the page has just finished: look again.
    LookAgain,
}

/// Where a sink asks what to do about a link whose page is missing.
pub struct Waiter<'a> {
    pub store: &'a Store,
    pub job: &'a Job,
}

/// Whether `action` writes the page `link` looks for by `value`.
pub(crate) fn writes_target(action: &PlannedAction, link: &Link, value: &str) -> bool {
    let Payload::Notion {
        database,
        operation,
        match_on: Some(m),
        ..
    } = &action.payload
    else {
        return false;
    };
    let key = m
        .value
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| m.value.to_string());
    *database == link.database
        && *operation != NotionOperation::Update
        && m.property == link.by
        && key == value
}

impl Waiter<'_> {
    /// The page `link` points at for `value`, looked up with `find`: its id,
    /// `None` to write without the link (after a warning), or the error that
    /// makes the job wait or park. A page that another action of the event
    /// is writing at this moment is waited for here (see the module comment).
    pub async fn find<F, Fut>(
        &self,
        link: &Link,
        value: &str,
        find: F,
    ) -> Result<Option<String>, SinkError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, SinkError>>,
    {
        if let Some(id) = find().await? {
            return Ok(Some(id));
        }
        if self.missing(link, value, true).await? == Missing::LeaveOut {
            return Ok(None);
        }
        if let Some(id) = find().await? {
            return Ok(Some(id));
        }
        // Still missing once that action is done: no more waiting in place.
        self.missing(link, value, false).await?;
        Ok(None)
    }

    /// Look at the action `action_key` of this event until it is no longer
    /// queued, running or retrying, for at most [`PATIENCE`]: its status
    /// then, or `None` when it was still at it.
    async fn settled(&self, action_key: &str) -> Result<Option<String>, SinkError> {
        let started = std::time::Instant::now();
        let mut pause = FIRST_LOOK;
        while started.elapsed() < PATIENCE {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_LOOK);
            let status = self
                .store
                .action_status(&self.job.event_id, action_key)
                .await
                .map_err(|e| SinkError::retryable(e.to_string()))?;
            match status.as_deref() {
                Some("queued" | "running" | "failed") => continue,
                other => return Ok(other.map(str::to_string)),
            }
        }
        Ok(None)
    }

    /// `link`'s page for `value` was not found: what to do about it, or the
    /// error that makes the job wait or park. `patient`: an action writing
    /// that page right now may be waited for here, and a page written a
    /// moment ago looked for again.
    async fn missing(&self, link: &Link, value: &str, patient: bool) -> Result<Missing, SinkError> {
        let siblings = self
            .store
            .siblings(&self.job.event_id, &self.job.id)
            .await
            .map_err(|e| SinkError::retryable(e.to_string()))?;
        let writer = siblings.iter().find(|s| {
            serde_json::from_str::<PlannedAction>(&s.payload)
                .is_ok_and(|a| writes_target(&a, link, value))
        });
        let Some(w) = writer else {
            tracing::warn!(
                job = %self.job.id,
                "`{}` can't link to {value}: no page in `{}` has {} = {value}, and no action of this event writes one; the page is written without the link",
                link.property,
                link.database,
                link.by
            );
            return Ok(Missing::LeaveOut);
        };
        let just_written = || Utc::now() - w.updated_at < chrono::Duration::seconds(RACE_WINDOW_S);
        match w.status.as_str() {
            "running" if patient && self.settled(&w.action_key).await?.is_some() => {
                return Ok(Missing::LookAgain)
            }
            // This job looked just before that write committed.
            "succeeded" if patient && just_written() => return Ok(Missing::LookAgain),
            _ => {}
        }
        match w.status.as_str() {
            "queued" | "running" | "failed" => {
                let until_its_turn = (w.due_at - Utc::now()).to_std().unwrap_or_default();
                Err(SinkError::Waiting {
                    reason: format!(
                        "waits for `{}` of this event, which writes the `{}` page it links to ({} = {value})",
                        w.action_key, link.database, link.by
                    ),
                    wait: until_its_turn.max(MIN_WAIT),
                })
            }
            "dead" => Err(SinkError::Permanent(format!(
                "`{}` links to the `{}` page with {} = {value}, which `{}` of this event should have written, but that action is parked ({}); retry it first, then this one",
                link.property,
                link.database,
                link.by,
                w.action_key,
                w.last_error.as_deref().unwrap_or("no reason recorded")
            ))),
            // Just succeeded: a race (this job looked before that write
            // committed, or Notion's search lags): look again in a second,
            // as a wait. Long succeeded and still missing (deleted since):
            // a failure, retried and in the end parked with this reason.
            "succeeded" => {
                let reason = format!(
                    "`{}` of this event wrote the `{}` page with {} = {value}, but it can't be found yet",
                    w.action_key, link.database, link.by
                );
                if just_written() {
                    Err(SinkError::Waiting { reason, wait: MIN_WAIT })
                } else {
                    Err(SinkError::Retryable {
                        reason,
                        retry_after: Some(MIN_WAIT),
                    })
                }
            }
            _ => {
                tracing::warn!(
                    job = %self.job.id,
                    "`{}` can't link to {value}: `{}`, which would have written that page, was cancelled; the page is written without the link",
                    link.property,
                    w.action_key
                );
                Ok(Missing::LeaveOut)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::action::MatchOn;

    fn upsert(database: &str, by: &str, value: &str, op: NotionOperation) -> PlannedAction {
        serde_json::from_value(serde_json::json!({
            "id": "r/a", "rule": "r", "flow": "f", "entity": null, "delay_s": 0,
            "run_at": "2026-11-30T00:00:00Z", "kind": "notion", "database": database,
            "operation": op, "match": MatchOn { property: by.into(), value: value.into() },
            "properties": {}
        }))
        .expect("a planned action")
    }

    #[test]
    fn only_a_create_or_upsert_of_the_same_key_is_waited_for() {
        let link = Link {
            property: "Contact".into(),
            database: "contacts".into(),
            by: "Email".into(),
            values: vec!["ada@example.org".into()],
        };
        let v = "ada@example.org";
        assert!(writes_target(
            &upsert("contacts", "Email", v, NotionOperation::Upsert),
            &link,
            v
        ));
        assert!(writes_target(
            &upsert("contacts", "Email", v, NotionOperation::Create),
            &link,
            v
        ));
        // An update never makes the page; another key or database is another page.
        assert!(!writes_target(
            &upsert("contacts", "Email", v, NotionOperation::Update),
            &link,
            v
        ));
        assert!(!writes_target(
            &upsert(
                "contacts",
                "Email",
                "kai@example.org",
                NotionOperation::Upsert
            ),
            &link,
            v
        ));
        assert!(!writes_target(
            &upsert("leads", "Email", v, NotionOperation::Upsert),
            &link,
            v
        ));
    }
}
