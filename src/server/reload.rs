//! Hot reload: watch rules/ and templates/, and on any change load and lint
//! the whole set; a valid set is swapped in at once, an invalid one is
//! refused whole and the last good set keeps serving, with its errors at
//! /health and in the log. POST /api/reload and SIGHUP do the same on demand.
//!
//! The directories are watched, not the files: editors save by writing a
//! temporary file and renaming it over the old one, which a file watch misses.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::metrics;
use super::rules::SharedRules;
use crate::rules::RuleSet;

/// The outcome of one reload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub ok: bool,
    pub version: String,
    /// A new version went live (not the same files again, not refused).
    #[serde(skip)]
    pub swapped: bool,
    /// file:line:col: message, for each error of a refused set.
    pub errors: Vec<String>,
}

/// How a rule set went live, as the version history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Start,
    FileChange,
    Api,
    Sighup,
    Studio,
    Rollback,
}

impl How {
    pub fn name(self) -> &'static str {
        match self {
            How::Start => "start",
            How::FileChange => "file change",
            How::Api => "api",
            How::Sighup => "sighup",
            How::Studio => "studio",
            How::Rollback => "rollback",
        }
    }
}

/// Reloads the rules, one at a time, and records each version that goes live.
///
/// One lock serialises every reload and every write to the rule files (a
/// save from the studio, a rollback): a write and its reload are one step,
/// so the file watcher never swaps in half of a rollback, and the version
/// history says "studio" rather than "file change" for a studio save.
#[derive(Clone)]
pub struct Reloader {
    pub rules: SharedRules,
    pub store: crate::store::Store,
    pub rules_dir: PathBuf,
    pub templates_dir: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Reloader {
    pub fn new(
        rules: SharedRules,
        store: crate::store::Store,
        rules_dir: PathBuf,
        templates_dir: PathBuf,
    ) -> Reloader {
        Reloader {
            rules,
            store,
            rules_dir,
            templates_dir,
            lock: Default::default(),
        }
    }

    /// Load and lint the whole set from disk; swap it in, or refuse it.
    pub async fn reload(&self, how: How, who: Option<&str>) -> Outcome {
        let _one_at_a_time = self.lock.lock().await;
        self.reload_locked(how, who).await
    }

    /// Hold the lock for a write to the rule files, then reload with
    /// [`Reloader::reload_locked`] before letting go.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// Record the version in force as having gone live (at start).
    pub async fn record_current(&self, how: How, who: Option<&str>) {
        let rs = self.rules.current();
        record(&self.store, &rs, how, who).await;
    }

    /// [`Reloader::reload`] for a caller that holds the lock.
    pub async fn reload_locked(&self, how: How, who: Option<&str>) -> Outcome {
        let outcome = reload(&self.rules, &self.rules_dir, &self.templates_dir).await;
        if outcome.swapped {
            record(&self.store, &self.rules.current(), how, who).await;
        }
        outcome
    }
}

async fn record(store: &crate::store::Store, rs: &RuleSet, how: How, who: Option<&str>) {
    if let Err(e) = store
        .record_live(&rs.version, &rs.text, how.name(), who)
        .await
    {
        tracing::warn!(
            "version {} is live but could not be kept in the version history: {e}",
            &rs.version[..12]
        );
    }
}

/// Load and lint the whole set; swap it in, or refuse it.
async fn reload(rules: &SharedRules, rules_dir: &Path, templates_dir: &Path) -> Outcome {
    let (r, t) = (rules_dir.to_path_buf(), templates_dir.to_path_buf());
    let loaded =
        match tokio::task::spawn_blocking(move || crate::rules::load_to_serve(&r, &t)).await {
            Ok(l) => l,
            Err(e) => {
                let errors = vec![format!("the reload crashed: {e}")];
                rules.refuse(errors.clone());
                return Outcome {
                    ok: false,
                    version: rules.current().version.clone(),
                    swapped: false,
                    errors,
                };
            }
        };
    match loaded.ruleset {
        Some(rs) if rs.version == rules.current().version => {
            if rules.clear_error() {
                tracing::info!(
                    "the rules on disk are valid again and unchanged (version {}): the reload error is cleared",
                    &rs.version[..12]
                );
            }
            Outcome {
                ok: true,
                version: rs.version,
                swapped: false,
                errors: vec![],
            }
        }
        Some(rs) => {
            let version = rs.version.clone();
            metrics::register_sources(&rs);
            rules.swap(rs);
            metrics::record_reload(true);
            tracing::info!("rules reloaded: version {}", &version[..12]);
            Outcome {
                ok: true,
                version,
                swapped: true,
                errors: vec![],
            }
        }
        None => {
            let errors: Vec<String> = loaded
                .errors()
                .map(|d| {
                    format!(
                        "{}:{}:{}: {}{}",
                        d.file.display(),
                        d.line,
                        d.col,
                        d.message,
                        d.hint
                            .as_ref()
                            .map(|h| format!(" (hint: {h})"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            for e in &errors {
                tracing::error!("reload refused: {e}");
            }
            tracing::warn!(
                "the previous rules (version {}) keep serving",
                &rules.current().version[..12]
            );
            rules.refuse(errors.clone());
            metrics::record_reload(false);
            Outcome {
                ok: false,
                version: rules.current().version.clone(),
                swapped: false,
                errors,
            }
        }
    }
}

/// Watch both directories until the process ends; changes are debounced.
pub fn watch(reloader: Reloader, debounce: Duration) -> Result<(), String> {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if !matches!(ev.kind, notify::EventKind::Access(_)) {
                let _ = tx.send(());
            }
        }
    })
    .map_err(|e| format!("can't watch the rules: {e}"))?;
    for dir in [&reloader.rules_dir, &reloader.templates_dir] {
        if dir.is_dir() {
            watcher
                .watch(dir, RecursiveMode::Recursive)
                .map_err(|e| format!("can't watch {}: {e}", dir.display()))?;
        }
    }
    tokio::spawn(async move {
        let _keep = watcher;
        while rx.recv().await.is_some() {
            // Debounce: a save is often several events (write, rename, chmod).
            loop {
                match tokio::time::timeout(debounce, rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            reloader.reload(How::FileChange, None).await;
        }
    });
    Ok(())
}

/// SIGHUP reloads too (Unix).
pub fn on_sighup(reloader: Reloader) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the rules");
            reloader.reload(How::Sighup, None).await;
        }
    });
    #[cfg(not(unix))]
    let _ = reloader;
}
