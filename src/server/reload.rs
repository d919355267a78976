//! Hot reload: watch rules/ and templates/, and on any change load and lint
//! the whole set; a valid set is swapped in at once, an invalid one is
//! refused whole and the last good set keeps serving, with its errors at
//! /health and in the log. POST /api/reload and SIGHUP do the same on demand.
//!
//! The directories are watched, not the files: editors save by writing a
//! temporary file and renaming it over the old one, which a file watch misses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::metrics;
use super::rules::SharedRules;

/// The outcome of one reload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub ok: bool,
    pub version: String,
    /// file:line:col: message, for each error of a refused set.
    pub errors: Vec<String>,
}

/// Load and lint the whole set; swap it in, or refuse it.
pub async fn reload(rules: &SharedRules, rules_dir: &Path, templates_dir: &Path) -> Outcome {
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
                errors,
            }
        }
    }
}

/// Watch both directories until the process ends; changes are debounced.
pub fn watch(
    rules: SharedRules,
    rules_dir: PathBuf,
    templates_dir: PathBuf,
    debounce: Duration,
) -> Result<(), String> {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if !matches!(ev.kind, notify::EventKind::Access(_)) {
                let _ = tx.send(());
            }
        }
    })
    .map_err(|e| format!("can't watch the rules: {e}"))?;
    for dir in [&rules_dir, &templates_dir] {
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
            reload(&rules, &rules_dir, &templates_dir).await;
        }
    });
    Ok(())
}

/// SIGHUP reloads too (Unix).
pub fn on_sighup(rules: SharedRules, rules_dir: PathBuf, templates_dir: PathBuf) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the rules");
            reload(&rules, &rules_dir, &templates_dir).await;
        }
    });
    #[cfg(not(unix))]
    let _ = (rules, rules_dir, templates_dir);
}
