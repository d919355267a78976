//! The local sinks: everything an action does, done on this machine.

use std::io::Write as _;
use std::path::PathBuf;

use chrono::Utc;
use serde_json::{json, Map, Value};

use super::eml;

/// Serialises appends to the .jsonl files (see `append_jsonl`). An async
/// lock: a job waiting for it yields its thread to the others (webhooks
/// included) instead of blocking it, as a std mutex would.
static APPEND_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
use super::{Done, SinkError};
use crate::engine::action::{Link, Payload, PlannedAction};
use crate::rules::model::NotionOperation;
use crate::rules::RuleSet;
use crate::store::jobs::Job;
use crate::store::notion_local::PageRequest;
use crate::store::workflows::{Transition, TransitionRequest};
use crate::store::{Store, StoreError};

pub struct LocalSinks {
    pub data_dir: PathBuf,
    pub store: Store,
}

fn io(what: &str, e: std::io::Error) -> SinkError {
    SinkError::retryable(format!("{what}: {e}"))
}

fn store_err(e: StoreError) -> SinkError {
    match e {
        StoreError::NotFound(m) => SinkError::Permanent(m),
        e @ StoreError::LeaseLost(_) => SinkError::LeaseLost(e.to_string()),
        other => SinkError::retryable(other.to_string()),
    }
}

impl LocalSinks {
    /// Append one JSON line (carrying the job's id as `id`) to a file in the
    /// data directory, once per job.
    ///
    /// The line is written before the job's success can be recorded, so a
    /// crash between the two runs the job again. A job on its second claim
    /// or later first looks for its own line and, if it is there, writes
    /// nothing: a notification is never appended twice. Only re-runs pay
    /// for the look (one read of the file).
    async fn append_jsonl(
        &self,
        job: &Job,
        name: &str,
        line: &serde_json::Value,
    ) -> Result<(), SinkError> {
        // The whole line is made first and written with one call, under a
        // lock: `writeln!` on a Value writes it in pieces, and two jobs
        // appending at once would interleave them into broken lines.
        let mut text = line.to_string();
        text.push('\n');
        let _one_at_a_time = APPEND_LOCK.lock().await;
        if job.claim > 1 && self.has_line(name, &job.id)? {
            tracing::info!(job = %job.id, "{name} already has this job's line (written before a restart); not written again");
            return Ok(());
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join(name))
            .map_err(|e| io(&format!("can't open {name}"), e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| io(&format!("can't write {name}"), e))
    }

    /// Whether `name` has a line whose `id` is `job_id`.
    fn has_line(&self, name: &str, job_id: &str) -> Result<bool, SinkError> {
        use std::io::BufRead as _;
        let file = match std::fs::File::open(self.data_dir.join(name)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(&format!("can't read {name}"), e)),
        };
        // Job ids are lowercase letters and digits (store/ids.rs; UUIDs,
        // hex and dashes, before), and a quote inside a JSON string is
        // escaped, so this text appears only as a line's own `id`.
        let needle = format!("\"id\":\"{job_id}\"");
        for line in std::io::BufReader::new(file).lines() {
            if line
                .map_err(|e| io(&format!("can't read {name}"), e))?
                .contains(&needle)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Relation bodies for `links`, from the local pages (found by their key).
    async fn resolve(&self, job: &Job, links: &[Link]) -> Result<Map<String, Value>, SinkError> {
        let waiter = super::links::Waiter {
            store: &self.store,
            job,
        };
        let mut out = Map::new();
        for link in links {
            let mut ids = Vec::new();
            for v in link.values.iter().take(crate::engine::notion::ARRAY_LIMIT) {
                let find = || async {
                    self.store
                        .find_page(&link.database, &link.by, v)
                        .await
                        .map_err(store_err)
                };
                if let Some(id) = waiter.find(link, v, find).await? {
                    ids.push(json!({"id": id}));
                }
            }
            if !ids.is_empty() {
                out.insert(link.property.clone(), json!({"relation": ids}));
            }
        }
        Ok(out)
    }

    /// Write an email to the outbox as an .eml file named after its job.
    pub fn outbox(&self, job_id: &str, msg: &eml::Message<'_>) -> Result<String, SinkError> {
        let dir = self.data_dir.join("outbox");
        std::fs::create_dir_all(&dir).map_err(|e| io("can't create the outbox", e))?;
        // Write then rename: a reader never sees half a message, and a retry overwrites the same file.
        let path = dir.join(format!("{job_id}.eml"));
        let tmp = dir.join(format!(".{job_id}.eml.tmp"));
        std::fs::write(&tmp, eml::render(msg)).map_err(|e| io("can't write the message", e))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| io("can't move the message into the outbox", e))?;
        Ok(format!("email to {} written to {}", msg.to, path.display()))
    }

    /// Carry out one action; the returned text says what was done (for the log).
    pub async fn execute(
        &self,
        job: &Job,
        action: &PlannedAction,
        rules: &RuleSet,
    ) -> Result<Done, SinkError> {
        let mut crossings = Vec::new();
        // Store writes carry the job's fence and commit its success with them.
        let mut recorded = false;
        let message = match &action.payload {
            // Emails go through `Sinks::email` (its links, its checks), which
            // writes them with `outbox` when no SMTP server is set.
            Payload::Email { .. } => Err(SinkError::Permanent(
                "an email can't be written without its links; send it through the email sink"
                    .into(),
            )),
            Payload::Notify {
                channel,
                text,
                urgent,
            } => {
                tracing::info!(target: "hsflow::notify", channel = %channel, urgent = *urgent, "{text}");
                let line = json!({"id": job.id, "at": Utc::now(), "channel": channel, "urgent": urgent, "text": text, "entity": action.entity});
                self.append_jsonl(job, "notifications.jsonl", &line).await?;
                Ok(format!("notified {channel}"))
            }
            Payload::Task {
                title, assignee, ..
            } => {
                // Tasks land in the Tasks database, keyed by the job so a retry updates the same page.
                let mut props =
                    super::task::properties(rules, &job.id, job.contact.as_deref(), action);
                let links = super::task::links(rules, job.contact.as_deref());
                props.extend(self.resolve(job, &links).await?);
                let (_, _, done) = self
                    .store
                    .page(PageRequest {
                        database: super::task::DATABASE.to_string(),
                        key: Some((super::task::KEY.to_string(), job.id.clone())),
                        properties: props,
                        must_exist: false,
                        increments: Vec::new(),
                        job_id: job.id.clone(),
                        fence: Some(job.fence()),
                    })
                    .await
                    .map_err(store_err)?;
                recorded = done;
                Ok(format!("task for {assignee}: {title}"))
            }
            Payload::Notion {
                database,
                operation,
                match_on,
                properties,
                links,
                add,
            } => {
                let mut properties = properties.clone();
                properties.extend(self.resolve(job, links).await?);
                let key = match_on.as_ref().map(|m| {
                    (
                        m.property.clone(),
                        m.value
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| m.value.to_string()),
                    )
                });
                let (w, crossed, done) = self
                    .store
                    .page(PageRequest {
                        database: database.clone(),
                        key,
                        properties,
                        must_exist: *operation == NotionOperation::Update,
                        increments: add.clone(),
                        job_id: job.id.clone(),
                        fence: Some(job.fence()),
                    })
                    .await
                    .map_err(store_err)?;
                crossings = crossed;
                recorded = done;
                Ok(match w {
                    crate::store::notion_local::PageWrite::Created(id) => {
                        format!("{database}: page {id} added")
                    }
                    crate::store::notion_local::PageWrite::Updated(id) => {
                        format!("{database}: page {id} updated")
                    }
                })
            }
            Payload::Webhook {
                url, method, body, ..
            } => {
                // Without an HTTP sink configured, outgoing webhooks are recorded, not sent.
                let line = json!({"id": job.id, "at": Utc::now(), "method": method, "url": url, "body": body});
                self.append_jsonl(job, "webhooks.jsonl", &line).await?;
                Ok(format!("webhook {url} recorded"))
            }
            Payload::Beehiiv { email, .. } | Payload::Hubspot { email, .. } => {
                // Without their API keys, syncs are recorded: the request hsflow would make.
                let service = action.payload.kind();
                let line = json!({"id": job.id, "at": Utc::now(), "service": service, "request": &action.payload});
                self.append_jsonl(job, &format!("{service}.jsonl"), &line)
                    .await?;
                Ok(format!("{service}: {email} recorded"))
            }
            Payload::Workflow {
                workflow,
                from_states,
                to_state,
                ..
            } => {
                let contact = job.contact.clone().ok_or_else(|| {
                    SinkError::Permanent(format!(
                        "the event has no contact, so there is no `{workflow}` instance to move"
                    ))
                })?;
                let terminal = rules
                    .workflows
                    .get(workflow)
                    .is_some_and(|w| w.terminal.contains(to_state));
                let cause = format!("{} (event {})", action.id, job.event_id);
                let (t, done) = self
                    .store
                    .transition(TransitionRequest {
                        workflow: workflow.clone(),
                        contact,
                        to: to_state.clone(),
                        from: from_states.clone(),
                        terminal,
                        cause,
                        fence: Some(job.fence()),
                    })
                    .await
                    .map_err(store_err)?;
                recorded = done;
                Ok(match t {
                    Transition::Created { instance, state } => {
                        format!("{workflow} {instance} started in {state}")
                    }
                    Transition::Moved { instance, from, to } => {
                        format!("{workflow} {instance}: {from} -> {to}")
                    }
                    Transition::Skipped { instance, state } => format!(
                        "{workflow} {instance} stays in {state} (not one of {from_states:?})"
                    ),
                })
            }
        }?;
        Ok(Done {
            message,
            crossings,
            recorded,
        })
    }
}
