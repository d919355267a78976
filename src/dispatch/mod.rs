//! The dispatcher: workers that claim due jobs from the store and carry them
//! out through the sinks.
//!
//! Jobs are claimed in small batches (never the whole queue), each under a
//! lease, so a crash leaves nothing stuck: an expired lease puts the job back.
//! A retryable failure is tried again after an exponential backoff with
//! jitter (or the target's Retry-After); a permanent one, or too many
//! attempts, parks the job as `dead` until someone retries it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::{watch, Notify, Semaphore};

mod fetch;
pub mod hold;
mod order;

use crate::engine::action::PlannedAction;
use crate::server::rules::SharedRules;
use crate::sinks::{SinkError, Sinks};
use crate::store::jobs::Job;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct Config {
    /// Jobs carried out at once.
    pub concurrency: usize,
    /// Attempts before a job is parked.
    pub max_attempts: i64,
    /// First retry delay; doubles each attempt.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a claimed job may run before it counts as interrupted. A
    /// job is given at most four fifths of it (see [`Config::run_limit`]).
    pub lease: Duration,
    /// The longest Retry-After honoured; a longer one is read as this.
    pub retry_after_max: Duration,
    /// How long after it was first due an action may still be tried; a
    /// retry that would come later parks it instead, with the reason.
    pub give_up_after: Duration,
    /// How often to look for due jobs when nothing wakes the dispatcher.
    pub poll: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            concurrency: 64,
            max_attempts: 8,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
            lease: Duration::from_secs(300),
            retry_after_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(48 * 3600),
            poll: Duration::from_millis(500),
        }
    }
}

impl Config {
    /// How long one attempt may take: four fifths of the lease, so the
    /// attempt is over (and its outcome written) before anyone else may
    /// claim the job. An attempt that takes longer is stopped and retried.
    pub fn run_limit(&self) -> Duration {
        self.lease.mul_f64(0.8)
    }
}

/// Delay before attempt `attempts + 1`: base * 2^(attempts-1), capped, +-25% jitter.
pub fn backoff(cfg: &Config, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let raw = cfg
        .backoff_base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(cfg.backoff_max);
    let jitter = rand::rng().random_range(0.75..1.25);
    raw.mul_f64(jitter)
}

pub struct Dispatcher {
    pub store: Store,
    pub sinks: Arc<Sinks>,
    pub rules: SharedRules,
    pub cfg: Config,
    pub wake: Arc<Notify>,
    /// For the fetch jobs of `[[enrich]]` sources.
    pub http: reqwest::Client,
}

impl Dispatcher {
    /// Run until `shutdown` turns true; running jobs are finished first.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.cfg.concurrency));
        // Expired leases are looked for now and then, not on every wake: it is
        // a write, and under load the dispatcher wakes once per event.
        let recover_every =
            (self.cfg.lease / 10).clamp(Duration::from_millis(100), Duration::from_secs(10));
        let mut last_recovery: Option<std::time::Instant> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = Utc::now();
            if last_recovery.is_none_or(|t| t.elapsed() >= recover_every) {
                last_recovery = Some(std::time::Instant::now());
                if let Err(e) = self.store.recover_expired(now).await {
                    tracing::warn!("could not recover interrupted jobs: {e}");
                }
            }
            let free = slots.available_permits() as i64;
            let jobs = if free > 0 {
                match self
                    .store
                    .claim(free, self.cfg.lease.as_millis() as i64)
                    .await
                {
                    Ok(j) => j,
                    Err(e) => {
                        tracing::warn!("could not claim jobs: {e}");
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            let claimed = jobs.len();
            let rules = self.rules.current();
            for mut ordered in order::arrange(jobs, &rules) {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let me = self.clone();
                tokio::spawn(async move {
                    ordered.wait_for_writers().await;
                    me.execute(ordered.job, ordered.action).await;
                    // The jobs linking to what this one wrote may start.
                    drop(ordered.done);
                    drop(permit);
                    // A slot is free: there may be due work waiting for it.
                    me.wake.notify_one();
                });
            }
            if claimed == 0 {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.cfg.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        // Let running jobs finish before returning.
        let _ = slots.acquire_many(self.cfg.concurrency as u32).await;
    }

    /// Carry out `job`; `action` is its payload when the claim's ordering
    /// already read it (dispatch::order).
    async fn execute(&self, job: Job, action: Option<Result<PlannedAction, String>>) {
        let started = std::time::Instant::now();
        if job.kind == crate::store::accept::FETCH_KIND {
            let limit = self.cfg.run_limit();
            let outcome = tokio::time::timeout(limit, self.fetch_and_plan(&job))
                .await
                .unwrap_or_else(|_| {
                    Err(SinkError::retryable(format!(
                        "the fetch was stopped after {}s without an answer",
                        limit.as_secs()
                    )))
                });
            return self.record(&job, started, outcome).await;
        }
        if let Some(why) = &job.unreadable {
            let outcome = Err(SinkError::Permanent(format!(
                "the stored action can't be read: {why}"
            )));
            return self.record(&job, started, outcome).await;
        }
        let mut parsed = action.unwrap_or_else(|| {
            serde_json::from_str::<PlannedAction>(&job.payload).map_err(|e| e.to_string())
        });
        let rules = self.rules.current();
        // Its send window may have shut since it was planned (a holiday added).
        if let Some((at, why)) = parsed
            .as_ref()
            .ok()
            .and_then(|a| hold::held_until(a, &rules, Utc::now()))
        {
            tracing::info!(job = %job.id, action = %job.action_key, "{why}");
            match self.store.wait(&job, &why, at).await {
                Ok(()) | Err(StoreError::LeaseLost(_)) => {}
                Err(e) => tracing::error!(job = %job.id, "could not hold the action: {e}"),
            }
            return;
        }
        // An email's bodies, rendered now (it is going out) with the version
        // that planned it; not before the window check, which may hold it.
        if let Ok(action) = parsed.as_mut() {
            if let Err(e) = self
                .rules
                .render_later(&self.store, &job.event_id, &job.ruleset_version, action)
                .await
            {
                let outcome = Err(SinkError::retryable(e));
                return self.record(&job, started, outcome).await;
            }
        }
        let outcome = match parsed {
            Err(e) => Err(SinkError::Permanent(format!(
                "the stored action can't be read: {e}"
            ))),
            Ok(action) => {
                let limit = self.cfg.run_limit();
                match tokio::time::timeout(limit, self.sinks.execute(&job, &action, &rules)).await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Err(SinkError::retryable(format!(
                        "stopped after {}s without an answer (the limit is four fifths of the {}s lease)",
                        limit.as_secs(),
                        self.cfg.lease.as_secs()
                    ))),
                }
            }
        };
        self.record(&job, started, outcome).await
    }

    /// Record what became of an attempt: done, retried later, or parked.
    async fn record(
        &self,
        job: &Job,
        started: std::time::Instant,
        outcome: Result<crate::sinks::Done, SinkError>,
    ) {
        // A suppressed email is the list doing its job, not a failing sink;
        // a wait for a sibling action is no failure either.
        let [ok, error, waiting] = crate::server::metrics::SINK_RESULTS;
        let counted = match &outcome {
            Ok(_) | Err(SinkError::Suppressed(_)) => ok,
            Err(SinkError::Waiting { .. }) => waiting,
            Err(_) => error,
        };
        crate::server::metrics::record_sink(&job.kind, started.elapsed(), counted);
        let result = match outcome {
            Ok(done) if done.recorded => {
                tracing::info!(job = %job.id, action = %job.action_key, "{}", done.message);
                Ok(())
            }
            Ok(done) => {
                tracing::info!(job = %job.id, action = %job.action_key, "{}", done.message);
                self.store.succeed(job).await
            }
            Err(SinkError::Suppressed(why)) => {
                tracing::info!(job = %job.id, action = %job.action_key, "{why}");
                self.store.suppressed(job, &why).await
            }
            Err(SinkError::LeaseLost(why)) => {
                tracing::warn!(job = %job.id, action = %job.action_key, "{why}; this attempt did nothing");
                return;
            }
            Err(SinkError::Waiting { reason, wait }) => {
                // A wait uses no attempt, so only the deadline ends one that
                // never comes to an end (two actions waiting for each other).
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                if at > deadline(&self.cfg, job) {
                    let why = format!(
                        "{reason}, longer than the action may wait ({}h after it was due)",
                        self.cfg.give_up_after.as_secs() / 3600
                    );
                    tracing::warn!(job = %job.id, action = %job.action_key, "parked: {why}");
                    self.store.fail(job, &why, None).await
                } else {
                    tracing::info!(job = %job.id, action = %job.action_key, "{reason}; tried again at {at}");
                    self.store.wait(job, &reason, at).await
                }
            }
            Err(SinkError::Permanent(reason)) => {
                tracing::warn!(job = %job.id, action = %job.action_key, "parked: {reason}");
                self.store.fail(job, &reason, None).await
            }
            Err(SinkError::Retryable {
                reason,
                retry_after,
            }) => match next_try(&self.cfg, job, retry_after, Utc::now()) {
                Retry::At(at) => {
                    tracing::info!(job = %job.id, action = %job.action_key, "attempt {} failed ({reason}); retrying at {at}", job.attempts);
                    self.store.fail(job, &reason, Some(at)).await
                }
                Retry::GiveUp(why) => {
                    tracing::warn!(job = %job.id, action = %job.action_key, "parked: {reason}; {why}");
                    self.store
                        .fail(job, &format!("{reason}; {why}"), None)
                        .await
                }
            },
        };
        match result {
            Ok(()) => {}
            Err(StoreError::LeaseLost(_)) => {
                tracing::warn!(job = %job.id, "the job's lease ran out while it ran and another worker has it; this attempt's outcome is not recorded")
            }
            // The outcome is lost; the lease will expire and the job run again.
            Err(e) => tracing::error!(job = %job.id, "could not record the outcome: {e}"),
        }
    }
}

/// The last moment `job` may still be tried: `give_up_after` past the time
/// it was first due (planned, plus its delay).
pub fn deadline(cfg: &Config, job: &Job) -> DateTime<Utc> {
    let first_due = crate::store::from_millis(job.created_at)
        + serde_json::from_str::<PlannedAction>(&job.payload)
            .map(|a| chrono::Duration::seconds(a.delay_s.max(0)))
            .unwrap_or_default();
    first_due + chrono::Duration::from_std(cfg.give_up_after).unwrap_or_default()
}

/// When a failed job is tried next, or why it is not.
#[derive(Debug, PartialEq)]
pub enum Retry {
    At(DateTime<Utc>),
    GiveUp(String),
}

/// The next try of `job` after a retryable failure at `now`: after the
/// target's Retry-After (capped at `retry_after_max`) or the backoff, unless
/// the job has had its attempts or the try would come after its deadline.
pub fn next_try(
    cfg: &Config,
    job: &Job,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
) -> Retry {
    if job.attempts >= cfg.max_attempts {
        return Retry::GiveUp(format!("gave up after {} attempts", job.attempts));
    }
    let wait = match retry_after {
        Some(d) => d.min(cfg.retry_after_max),
        None => backoff(cfg, job.attempts),
    };
    // Both are bounded (an hour by default), so this can't overflow.
    let at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(365));
    let deadline = deadline(cfg, job);
    if at > deadline {
        return Retry::GiveUp(format!(
            "gave up: the next try would be at {}, after the action's deadline {} ({}h after it was due)",
            at.format("%Y-%m-%d %H:%M UTC"),
            deadline.format("%Y-%m-%d %H:%M UTC"),
            cfg.give_up_after.as_secs() / 3600
        ));
    }
    Retry::At(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(attempts: i64, created_at: i64) -> Job {
        Job {
            id: "j".into(),
            event_id: "e".into(),
            action_key: "r/a".into(),
            kind: "notify".into(),
            contact: None,
            payload: "{}".into(),
            attempts,
            claim: attempts,
            created_at,
            ruleset_version: "v".into(),
            unreadable: None,
        }
    }

    #[test]
    fn a_retry_after_is_capped_and_a_retry_past_the_deadline_gives_up() {
        let cfg = Config::default();
        let now = Utc::now();
        let fresh = job(1, crate::store::millis(now));
        // Ten thousand years asked for, one hour (the cap) given.
        let huge = Duration::from_secs(315_360_000_000);
        assert_eq!(
            next_try(&cfg, &fresh, Some(huge), now),
            Retry::At(now + chrono::Duration::hours(1))
        );
        // Planned 47.5 hours ago: an hour's wait ends past the 48 h deadline.
        let old = job(
            1,
            crate::store::millis(now - chrono::Duration::minutes(47 * 60 + 30)),
        );
        match next_try(&cfg, &old, Some(huge), now) {
            Retry::GiveUp(why) => assert!(why.contains("deadline"), "{why}"),
            other => panic!("expected to give up, got {other:?}"),
        }
        // Out of attempts, whatever the wait.
        let spent = job(cfg.max_attempts, crate::store::millis(now));
        assert!(matches!(
            next_try(&cfg, &spent, None, now),
            Retry::GiveUp(_)
        ));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let cfg = Config {
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(60),
            ..Config::default()
        };
        for _ in 0..50 {
            let b1 = backoff(&cfg, 1).as_secs_f64();
            let b2 = backoff(&cfg, 2).as_secs_f64();
            let b9 = backoff(&cfg, 9).as_secs_f64();
            assert!((7.5..=12.5).contains(&b1), "{b1}");
            assert!((15.0..=25.0).contains(&b2), "{b2}");
            assert!(b9 <= 75.0, "{b9}");
        }
    }
}
