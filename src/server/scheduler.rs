//! The scheduler: turns rules/schedules.toml into events.
//!
//! Every tick it looks at each schedule's current slot: its latest firing
//! time at or before now (a calendar or cron time on its zone's wall clock,
//! or now rounded down to a multiple of `every`, counted from the epoch). A slot not yet fired is
//! fired: one event, or one per page of the schedule's database, through the
//! `schedule` source and the same accept path as a webhook. The last fired
//! slot is a cursor in the store, so a restart neither repeats a slot nor
//! skips the current one (a slot missed while stopped is fired once, late);
//! event ids `<schedule>@<slot>[@<page>]` make a repeat a duplicate anyway.
//! A schedule seen for the first time fires at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::notion_poll::plain_properties;
use super::webhooks::{accept_internal, Internal};
use super::App;
use crate::rules::compile::schedules::SOURCE;
use crate::rules::ruleset::Schedule;
use crate::rules::RuleSet;
use crate::sinks::notion::{database, NotionClient};

pub struct Scheduler {
    pub app: Arc<App>,
    /// Queries go to Notion when its API is configured, else to the local pages.
    pub notion: Option<Arc<NotionClient>>,
    pub tick: Duration,
}

impl Scheduler {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let rs = self.app.rules.current();
            for s in &rs.schedules {
                match self.fire_due(&rs, s, Utc::now()).await {
                    Ok(None) => {}
                    Ok(Some(n)) => tracing::info!("schedule {}: {n} events", s.id),
                    Err(e) => tracing::warn!("schedule {}: {e}; the next tick tries again", s.id),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.tick) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Fire `s` if its current slot hasn't been; returns how many events were accepted.
    pub async fn fire_due(
        &self,
        rs: &RuleSet,
        s: &Schedule,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, String> {
        let Some(at) = s.timing.slot(now) else {
            return Ok(None);
        };
        let name = format!("schedule:{}", s.id);
        let last = self
            .app
            .store
            .cursor(&name)
            .await
            .map_err(|e| e.to_string())?;
        if last
            .and_then(|l| l.parse::<i64>().ok())
            .is_some_and(|l| l >= at.timestamp())
        {
            return Ok(None);
        }
        let n = self.fire(rs, s, at).await?;
        self.app
            .store
            .set_cursor(&name, &at.timestamp().to_string())
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some(n))
    }

    async fn fire(&self, rs: &RuleSet, s: &Schedule, at: DateTime<Utc>) -> Result<usize, String> {
        let src = rs
            .sources
            .get(SOURCE)
            .ok_or("there is no rules/sources/schedule.toml")?;
        let at_text = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let base = json!({"type": s.id, "schedule": s.id, "at": at_text});
        let bodies: Vec<Value> = match &s.query {
            None => vec![with(&base, json!({"id": format!("{}@{at_text}", s.id)}))],
            Some(key) => self
                .pages(rs, key)
                .await?
                .into_iter()
                .map(|(page_id, props)| {
                    with(
                        &base,
                        json!({"id": format!("{}@{at_text}@{page_id}", s.id), "database": key,
                                       "page_id": page_id, "properties": props}),
                    )
                })
                .collect(),
        };
        let mut accepted = 0;
        for body in bodies {
            match accept_internal(&self.app, rs, src, &body).await {
                Internal::Accepted => accepted += 1,
                Internal::Duplicate => {}
                Internal::Refused(why) => {
                    tracing::warn!("schedule {}: an event was not accepted: {why}", s.id)
                }
                Internal::Failed(why) => {
                    return Err(format!("an event could not be stored ({why})"))
                }
            }
        }
        Ok(accepted)
    }

    /// Every page of database `key`: (id, plain property values).
    async fn pages(
        &self,
        rs: &RuleSet,
        key: &str,
    ) -> Result<Vec<(String, Map<String, Value>)>, String> {
        let raw = match &self.notion {
            Some(client) => {
                let (_, id) = database(rs, key).map_err(|e| e.to_string())?;
                client.query(&id, None).await.map_err(|e| e.to_string())?
            }
            None => self.app.store.pages(key).await.map_err(|e| e.to_string())?,
        };
        Ok(raw
            .iter()
            .map(|p| {
                let id = p["id"].as_str().unwrap_or_default().to_string();
                (id, plain_properties(p))
            })
            .collect())
    }
}

fn with(base: &Value, extra: Value) -> Value {
    let mut v = base.clone();
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}
