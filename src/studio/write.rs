//! Writing rule files from the studio and the API: a save of one file, or a
//! rollback of the whole set to a stored version.
//!
//! Every write is lint-gated: the files as they would be after the write
//! are linted whole (the same lint as `hsflow lint` and every reload), and
//! nothing is written if that finds an error. Each file is written to a
//! hidden temporary file beside it and renamed over the old one, so a
//! reader never sees half a file. The write and the reload that follows run
//! under the reloader's lock: the file watcher can't swap in half of a
//! rollback, and the history says who did it.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::rules::diagnostic::Diagnostic;
use crate::rules::files::{split, Dir};
use crate::rules::RuleFiles;
use crate::server::reload::{How, Outcome, Reloader};

/// One lint finding, named by its path in the set (`rules/flows/x.toml`).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub path: String,
    pub line: usize,
    pub col: usize,
    /// Where the underline ends (exclusive), on the same line.
    pub end_col: usize,
    /// `error` or `warning`.
    pub severity: String,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl Finding {
    pub fn of(d: &Diagnostic, rules_dir: &Path, templates_dir: &Path) -> Finding {
        let path = if let Ok(rel) = d.file.strip_prefix(rules_dir) {
            format!("rules/{}", slashes(rel))
        } else if let Ok(rel) = d.file.strip_prefix(templates_dir) {
            format!("templates/{}", slashes(rel))
        } else {
            d.file.display().to_string()
        };
        Finding {
            path,
            line: d.line,
            col: d.col,
            end_col: d.col + d.width.max(1),
            severity: if d.is_error() { "error" } else { "warning" }.into(),
            code: d.code,
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

fn slashes(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Why a write did not happen.
#[derive(Debug)]
pub enum Refused {
    /// The files after the write would not lint clean; nothing was written.
    Lint(Vec<Finding>),
    /// The request was wrong (a path outside the set, a file to delete that isn't there).
    Bad(String),
    /// The disk refused (permissions, space): some files may be written; the reload says which set is live.
    Io(String),
}

/// Lint `files` whole; the findings (errors and warnings), and whether it may go live.
pub async fn lint(reloader: &Reloader, files: Arc<RuleFiles>) -> (bool, Vec<Finding>) {
    let (set, findings) = build(reloader, files).await;
    (set.is_some(), findings)
}

/// Build `files` into a rule set (none if lint finds an error), with every finding.
pub async fn build(
    reloader: &Reloader,
    files: Arc<RuleFiles>,
) -> (Option<crate::rules::RuleSet>, Vec<Finding>) {
    let (r, t) = (reloader.rules_dir.clone(), reloader.templates_dir.clone());
    let loaded = tokio::task::spawn_blocking(move || crate::rules::load_files(files, &r, &t)).await;
    match loaded {
        Ok(l) => {
            let findings = l
                .diagnostics
                .iter()
                .map(|d| Finding::of(d, &reloader.rules_dir, &reloader.templates_dir))
                .collect();
            (l.ruleset, findings)
        }
        Err(e) => (
            None,
            vec![Finding {
                path: String::new(),
                line: 1,
                col: 1,
                end_col: 2,
                severity: "error".into(),
                code: "internal",
                message: format!("lint crashed: {e}"),
                hint: None,
            }],
        ),
    }
}

/// Make the files on disk `change(current)`, if that lints clean, and reload.
pub async fn apply(
    reloader: &Reloader,
    how: How,
    who: &str,
    change: impl FnOnce(&RuleFiles) -> Result<RuleFiles, Refused>,
) -> Result<Outcome, Refused> {
    let _held = reloader.lock().await;
    let (current, unreadable) = RuleFiles::read(&reloader.rules_dir, &reloader.templates_dir);
    if let Some(d) = unreadable.first() {
        return Err(Refused::Io(format!("{}: {}", d.file.display(), d.message)));
    }
    let target = change(&current)?;
    let (ok, findings) = lint(reloader, Arc::new(target.clone())).await;
    if !ok {
        return Err(Refused::Lint(
            findings
                .into_iter()
                .filter(|f| f.severity == "error")
                .collect(),
        ));
    }
    write_all(
        &current,
        &target,
        &reloader.rules_dir,
        &reloader.templates_dir,
    )?;
    Ok(reloader.reload_locked(how, Some(who)).await)
}

/// Write what differs between `current` and `target`; remove what `target` lacks.
fn write_all(
    current: &RuleFiles,
    target: &RuleFiles,
    rules_dir: &Path,
    templates_dir: &Path,
) -> Result<(), Refused> {
    let io = |path: &Path, what: &str, e: std::io::Error| {
        Refused::Io(format!("could not {what} {}: {e}", path.display()))
    };
    for (path, text) in target.all() {
        if current.get(&path) == Some(text) {
            continue;
        }
        let Some(disk) = RuleFiles::disk_path(&path, rules_dir, templates_dir) else {
            return Err(Refused::Bad(format!(
                "`{path}` is not a rule or template path"
            )));
        };
        write_atomic(&disk, text).map_err(|e| io(&disk, "write", e))?;
    }
    for (path, _) in current.all() {
        if target.get(&path).is_none() {
            if let Some(disk) = RuleFiles::disk_path(&path, rules_dir, templates_dir) {
                std::fs::remove_file(&disk).map_err(|e| io(&disk, "remove", e))?;
            }
        }
    }
    Ok(())
}

/// Write `text` to a hidden file beside `path`, flush it to disk, rename it over `path`.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut f = std::fs::File::create(&tmp)?;
    let written = f.write_all(text.as_bytes()).and_then(|_| f.sync_all());
    if let Err(e) = written.and_then(|_| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// The set with `path` replaced by `text`: the change of a save.
pub fn with_file(current: &RuleFiles, path: &str, text: &str) -> Result<RuleFiles, Refused> {
    match split(path) {
        Some((Dir::Rules, _)) | Some((Dir::Templates, _)) => current
            .with(path, text)
            .ok_or_else(|| Refused::Bad(format!("`{path}` is not a rule or template path"))),
        None => Err(Refused::Bad(format!(
            "`{path}` is not a file the studio can write: give a path under rules/ ending in .toml or under templates/ ending in .hbs"
        ))),
    }
}
