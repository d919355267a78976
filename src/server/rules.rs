//! The rule set in force, shared by request handlers and workers.
//!
//! A reload builds a whole new `RuleSet` and swaps the pointer: a request
//! holds the `Arc` it started with, so it sees one consistent set from start
//! to end and nothing waits on a reload.
//!
//! It also keeps the last few earlier versions that work still waiting was
//! planned with: an email's bodies are rendered when it is sent, with the
//! templates of its own version (engine::deferred), read back from the
//! store's version history when that is not the set in force.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};

use crate::engine::payload::PlannedAction;
use crate::rules::RuleSet;
use crate::store::Store;

#[derive(Clone)]
pub struct SharedRules {
    inner: Arc<RwLock<Arc<RuleSet>>>,
    status: Arc<RwLock<ReloadStatus>>,
    earlier: Arc<RuleVersions>,
}

/// Earlier rule-set versions built from the store's version history, the
/// most recently used first (also used without a server, by `hsflow export`).
#[derive(Default)]
pub struct RuleVersions {
    kept: Mutex<VecDeque<Arc<RuleSet>>>,
}

/// How many earlier versions stay built (each is the whole pack, compiled).
const EARLIER_KEPT: usize = 4;

/// What /health reports about the rules.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadStatus {
    pub version: String,
    pub loaded_at: DateTime<Utc>,
    /// The last refused reload's errors (file:line:col: message), until a reload succeeds.
    pub last_error: Option<Vec<String>>,
    pub reloads: u64,
    pub failed_reloads: u64,
}

impl SharedRules {
    pub fn new(rs: RuleSet) -> SharedRules {
        let status = ReloadStatus {
            version: rs.version.clone(),
            loaded_at: Utc::now(),
            last_error: None,
            reloads: 0,
            failed_reloads: 0,
        };
        SharedRules {
            inner: Arc::new(RwLock::new(Arc::new(rs))),
            status: Arc::new(RwLock::new(status)),
            earlier: Arc::new(RuleVersions::default()),
        }
    }

    /// The rule set in force now.
    pub fn current(&self) -> Arc<RuleSet> {
        match self.inner.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Put a new rule set in force.
    pub fn swap(&self, rs: RuleSet) {
        let version = rs.version.clone();
        match self.inner.write() {
            Ok(mut g) => *g = Arc::new(rs),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(rs),
        }
        let mut s = self.status.write().unwrap_or_else(|p| p.into_inner());
        s.version = version;
        s.loaded_at = Utc::now();
        s.last_error = None;
        s.reloads += 1;
    }

    /// The files are valid again and are exactly the set in force (an
    /// invalid edit was undone): forget the refused reload's errors.
    pub fn clear_error(&self) -> bool {
        let mut s = self.status.write().unwrap_or_else(|p| p.into_inner());
        s.last_error.take().is_some()
    }

    /// Record a refused reload: the current set keeps serving.
    pub fn refuse(&self, errors: Vec<String>) {
        let mut s = self.status.write().unwrap_or_else(|p| p.into_inner());
        s.last_error = Some(errors);
        s.failed_reloads += 1;
    }

    pub fn status(&self) -> ReloadStatus {
        self.status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The rule set of `version`: the one in force, or an earlier one built
    /// from the store's version history (and kept for the next time).
    pub async fn at_version(&self, store: &Store, version: &str) -> Result<Arc<RuleSet>, String> {
        self.earlier.get(store, version, Some(self.current())).await
    }

    /// An event as GET /api/events/{id} shows it, with its explain trace
    /// whole again (see `server::trace_later`).
    pub async fn explained(&self, store: &Store, event: &mut serde_json::Value) {
        if let Some(version) = super::trace_later::version_needed(event) {
            let rs = self.at_version(store, &version).await;
            super::trace_later::fill(store, event, rs).await;
        }
    }

    /// Render the bodies of a stored email (`bodies_later`) of event
    /// `event_id`, planned by `version`; anything else is left as it is.
    pub async fn render_later(
        &self,
        store: &Store,
        event_id: &str,
        version: &str,
        action: &mut PlannedAction,
    ) -> Result<(), String> {
        if !action.bodies_later {
            return Ok(());
        }
        let rs = self.at_version(store, version).await?;
        let event = store
            .event_to_render(event_id)
            .await
            .map_err(|e| format!("its event can't be read: {e}"))?;
        crate::engine::deferred::fill(&rs, action, &event)
            .map_err(|e| format!("its text can't be rendered: {e}"))
    }
}

impl RuleVersions {
    /// The rule set of `version`: `live` if it is that version, else one
    /// kept from before, else built from the store's version history.
    pub async fn get(
        &self,
        store: &Store,
        version: &str,
        live: Option<Arc<RuleSet>>,
    ) -> Result<Arc<RuleSet>, String> {
        if let Some(live) = live.filter(|rs| rs.version == version) {
            return Ok(live);
        }
        {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = kept.iter().position(|rs| rs.version == version) {
                if let Some(rs) = kept.remove(i) {
                    kept.push_front(rs.clone());
                    return Ok(rs);
                }
            }
        }
        let files = store.version_files(version).await.map_err(|e| {
            format!("the rule-set version it was planned with can't be read back: {e}")
        })?;
        // Compiling a whole pack is CPU work: off the async threads.
        let loaded = tokio::task::spawn_blocking(move || {
            crate::rules::load_files(Arc::new(files), Path::new("rules"), Path::new("templates"))
        })
        .await
        .map_err(|e| format!("building rule-set version {version} stopped: {e}"))?;
        let rs = Arc::new(loaded.ruleset.ok_or_else(|| {
            format!("rule-set version {version} from the store no longer builds")
        })?);
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.push_front(rs.clone());
        kept.truncate(EARLIER_KEPT);
        Ok(rs)
    }
}
