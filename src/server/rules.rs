//! The rule set in force, shared by request handlers and workers.
//!
//! A reload builds a whole new `RuleSet` and swaps the pointer: a request
//! holds the `Arc` it started with, so it sees one consistent set from start
//! to end and nothing waits on a reload.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::rules::RuleSet;

#[derive(Clone)]
pub struct SharedRules {
    inner: Arc<RwLock<Arc<RuleSet>>>,
    status: Arc<RwLock<ReloadStatus>>,
}

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
}
