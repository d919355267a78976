//! `hsflow lint`: every problem in the rule set, each at its file:line:col.
//!
//! With file names, only those files' problems are reported (the whole
//! project is still loaded: a flow is checked against its sources and
//! templates). `-` lints what comes on standard input as the file named by
//! `--stdin-path`, as an editor or a pre-commit hook does with an unsaved
//! buffer: the project is copied aside with that file replaced, so nothing
//! on disk changes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{LintFormat, RuleDirs};
use crate::rules::diagnostic::Diagnostic;
use crate::rules::load;

/// What to lint: everything, or some files.
pub struct Only<'a> {
    pub files: &'a [PathBuf],
    pub stdin_path: Option<&'a Path>,
}

pub fn run(dirs: &RuleDirs, format: LintFormat, only: Only<'_>) -> ExitCode {
    if only.files.is_empty() {
        let loaded = load(&dirs.rules, &dirs.templates);
        let files = loaded
            .ruleset
            .as_ref()
            .map(|r| r.files.len() + r.templates.files.len());
        let summary = match files {
            Some(n) => format!(
                "lint: {n} files checked, {}, {}",
                count(loaded.error_count(), "error"),
                count(loaded.warning_count(), "warning")
            ),
            None => format!(
                "lint: {}, {}; the rule set would be refused",
                count(loaded.error_count(), "error"),
                count(loaded.warning_count(), "warning")
            ),
        };
        return report(&loaded.diagnostics, format, &summary);
    }
    match some_files(dirs, &only) {
        Ok(diags) => {
            let e = diags.iter().filter(|d| d.is_error()).count();
            let summary = format!(
                "lint: {} checked, {}, {}",
                count(only.files.len(), "file"),
                count(e, "error"),
                count(diags.len() - e, "warning")
            );
            report(&diags, format, &summary)
        }
        Err(e) => {
            eprintln!("hsflow: {e}");
            ExitCode::from(2)
        }
    }
}

fn report(diags: &[Diagnostic], format: LintFormat, summary: &str) -> ExitCode {
    match format {
        LintFormat::Human => {
            for d in diags {
                eprintln!("{}", d.render_human());
            }
            eprintln!("{summary}");
        }
        LintFormat::Json => match serde_json::to_string_pretty(diags) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("hsflow: could not write JSON: {e}");
                return ExitCode::from(2);
            }
        },
        LintFormat::Github => {
            for d in diags {
                println!("{}", d.render_github());
            }
        }
    }
    if diags.iter().any(|d| d.code == "io") {
        ExitCode::from(2)
    } else if diags.iter().any(Diagnostic::is_error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The diagnostics of the named files only.
fn some_files(dirs: &RuleDirs, only: &Only<'_>) -> Result<Vec<Diagnostic>, String> {
    let rules = canonical(&dirs.rules);
    let templates = canonical(&dirs.templates);
    let inside = |p: &Path| p.starts_with(&rules) || p.starts_with(&templates);
    let mut wanted = Vec::new();
    let mut stdin = None;
    for f in only.files {
        if f.as_os_str() == "-" {
            let Some(path) = only.stdin_path else {
                return Err("`-` reads a file from standard input: say which file it is with --stdin-path rules/flows/<name>.toml".into());
            };
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("can't read standard input: {e}"))?;
            // The file may not exist yet (a new buffer): place it by its parent.
            let parent = canonical(path.parent().unwrap_or(Path::new(".")));
            let full = parent.join(path.file_name().unwrap_or_default());
            stdin = Some((full.clone(), text));
            wanted.push(full);
        } else {
            if !f.exists() {
                return Err(format!("there is no file {}", f.display()));
            }
            wanted.push(canonical(f));
        }
    }
    if let Some(outside) = wanted.iter().find(|p| !inside(p)) {
        return Err(format!(
            "{} is neither under the rules directory ({}) nor under the templates directory ({}); pass --rules and --templates for its project",
            outside.display(),
            dirs.rules.display(),
            dirs.templates.display()
        ));
    }
    let diags = match stdin {
        None => load(&dirs.rules, &dirs.templates).diagnostics,
        Some((path, text)) => {
            let mut diags = with_replaced(&rules, &templates, &path, &text)?;
            // Name the files as the user named the directories.
            for d in &mut diags {
                if let Ok(rest) = d.file.strip_prefix(&rules) {
                    d.file = dirs.rules.join(rest);
                } else if let Ok(rest) = d.file.strip_prefix(&templates) {
                    d.file = dirs.templates.join(rest);
                }
            }
            diags
        }
    };
    Ok(diags
        .into_iter()
        .filter(|d| wanted.contains(&canonical(&d.file)))
        .collect())
}

/// Lint a copy of the project in which `path` holds `text`; the findings
/// name the real paths.
fn with_replaced(
    rules: &Path,
    templates: &Path,
    path: &Path,
    text: &str,
) -> Result<Vec<Diagnostic>, String> {
    let aside = std::env::temp_dir().join(format!("hsflow-lint-{}", uuid::Uuid::new_v4()));
    let copy = |from: &Path, name: &str| -> Result<PathBuf, String> {
        let to = aside.join(name);
        copy_tree(from, &to).map_err(|e| format!("can't copy {} aside: {e}", from.display()))?;
        Ok(to)
    };
    let result = (|| {
        let r = copy(rules, "rules")?;
        let t = copy(templates, "templates")?;
        let (real_root, copy_root) = if path.starts_with(rules) {
            (rules, &r)
        } else {
            (templates, &t)
        };
        let target = copy_root.join(path.strip_prefix(real_root).unwrap_or(path));
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(&target, text).map_err(|e| format!("can't write the copy: {e}"))?;
        let mut diags = load(&r, &t).diagnostics;
        for d in &mut diags {
            if let Ok(rest) = d.file.strip_prefix(&r) {
                d.file = rules.join(rest);
            } else if let Ok(rest) = d.file.strip_prefix(&t) {
                d.file = templates.join(rest);
            }
        }
        Ok(diags)
    })();
    let _ = std::fs::remove_dir_all(&aside);
    result
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), dest)?;
        }
    }
    Ok(())
}

/// "1 error", "2 errors".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
