//! Ordering inside a claim: a job that links to a page starts after the
//! jobs claimed with it that write that page.
//!
//! A Typeform lead upserts its contact's page and, due at the same moment,
//! makes a task and a workflow page that link to it. The claim hands all
//! of them out together, and run side by side the linking jobs nearly
//! always looked before the contact's page was there: each then read its
//! event's other actions, found the one writing the page, and looked at it
//! again and again until it was done (sinks/links.rs). At 1,000 leads a
//! second that searching took a fifth of the async threads' CPU.
//!
//! Here the dispatcher, holding the claim, sees which of its jobs write the
//! pages the others link to, and starts each linking job once those writers
//! have finished (whatever their outcome): its page is then found at the
//! first look. sinks/links.rs still decides everything else (a writer that
//! failed, one claimed at another moment or by another server).
//!
//! Only jobs that link to nothing are waited for, so no two jobs can wait
//! for each other.

use tokio::sync::watch;

use crate::engine::action::{Link, Payload, PlannedAction};
use crate::rules::RuleSet;
use crate::sinks::links::writes_target;
use crate::store::jobs::Job;

/// A claimed job, ready to start.
pub(super) struct Ordered {
    pub job: Job,
    /// Its action, when it was read here (a page job beside others of its
    /// event); else the worker reads it.
    pub action: Option<Result<PlannedAction, String>>,
    /// Writers to wait for: each channel closes when its writer is done.
    pub after: Vec<watch::Receiver<()>>,
    /// Held while this job runs, when others wait for it; dropping it
    /// (however the job ends) lets them start.
    pub done: Option<watch::Sender<()>>,
}

/// The longest a job waits for its writers. Its lease runs meanwhile, and
/// a Notion write takes a second or two; past this the job goes ahead, and
/// sinks/links.rs deals with a page still being written.
const WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Ordered {
    /// Wait until every writer this job links after has finished, or
    /// [`WAIT_LIMIT`] has passed.
    pub async fn wait_for_writers(&mut self) {
        let all = async {
            for rx in &mut self.after {
                // Nothing is ever sent: this returns when the sender is dropped.
                let _ = rx.changed().await;
            }
        };
        let _ = tokio::time::timeout(WAIT_LIMIT, all).await;
    }
}

/// Kinds whose jobs write pages (and may link to others).
fn page_kind(kind: &str) -> bool {
    kind == "notion" || kind == "task"
}

/// The links `action` (of `job`) makes when it runs.
fn links_of(action: &PlannedAction, job: &Job, rules: &RuleSet) -> Vec<Link> {
    match &action.payload {
        Payload::Notion { links, .. } => links.clone(),
        Payload::Task { .. } => crate::sinks::task::links(rules, job.contact.as_deref()),
        _ => Vec::new(),
    }
}

/// The claimed `jobs` in the order to start them, each with what it waits for.
pub(super) fn arrange(jobs: Vec<Job>, rules: &RuleSet) -> Vec<Ordered> {
    let mut out: Vec<Ordered> = jobs
        .into_iter()
        .map(|job| Ordered {
            job,
            action: None,
            after: Vec::new(),
            done: None,
        })
        .collect();
    // Only events with two page jobs or more in this claim need looking at.
    let mut per_event: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, o) in out.iter().enumerate() {
        if page_kind(&o.job.kind) && o.job.unreadable.is_none() {
            per_event
                .entry(o.job.event_id.as_str())
                .or_default()
                .push(i);
        }
    }
    let groups: Vec<Vec<usize>> = per_event.into_values().filter(|g| g.len() > 1).collect();
    for group in groups {
        for &i in &group {
            let parsed = serde_json::from_str::<PlannedAction>(&out[i].job.payload)
                .map_err(|e| e.to_string());
            out[i].action = Some(parsed);
        }
        let links: Vec<Vec<Link>> = group
            .iter()
            .map(|&i| match &out[i].action {
                Some(Ok(a)) => links_of(a, &out[i].job, rules),
                _ => Vec::new(),
            })
            .collect();
        for (l, &linker) in group.iter().enumerate() {
            for (w, &writer) in group.iter().enumerate() {
                if l == w || !links[w].is_empty() {
                    continue;
                }
                let Some(Ok(written)) = &out[writer].action else {
                    continue;
                };
                let needed = links[l]
                    .iter()
                    .any(|link| link.values.iter().any(|v| writes_target(written, link, v)));
                if needed {
                    let rx = match &out[writer].done {
                        Some(tx) => tx.subscribe(),
                        None => {
                            let (tx, rx) = watch::channel(());
                            out[writer].done = Some(tx);
                            rx
                        }
                    };
                    out[linker].after.push(rx);
                }
            }
        }
    }
    // Writers start first: a claim is never bigger than the free slots, but
    // a linker must never hold the last slot its writer needs.
    out.sort_by_key(|o| !o.after.is_empty());
    out
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
