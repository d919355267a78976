//! A rule set's files as text: what a version is made of.
//!
//! Every rule set is built from one `RuleFiles`: the TOML under rules/ and
//! the Handlebars under templates/, read once. Keeping the text (not only
//! the compiled set) is what lets the server store each version it runs,
//! diff two of them, write an old one back (rollback), and build a
//! candidate set from the live files with one file changed (the studio's
//! lint as you type, the what-if), all without touching the disk.
//!
//! Paths are relative and prefixed by the directory they belong to:
//! `rules/flows/contact_workflows.toml`, `templates/emails/welcome.html.hbs`,
//! whatever the directories are called on this machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::diagnostic::{Diagnostic, Severity};

/// The text of every rule and template file of one rule set.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuleFiles {
    /// `flows/x.toml` (relative to rules/) -> its text.
    pub rules: BTreeMap<String, String>,
    /// `emails/welcome.html.hbs` (relative to templates/) -> its text.
    pub templates: BTreeMap<String, String>,
}

/// Which directory a path of a [`RuleFiles`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Rules,
    Templates,
}

/// Split `rules/flows/x.toml` into (Rules, `flows/x.toml`); anything that is
/// not a plain relative path under rules/ or templates/ is refused, so a
/// path can never climb out of the project.
pub fn split(path: &str) -> Option<(Dir, &str)> {
    let (dir, rest) = if let Some(r) = path.strip_prefix("rules/") {
        (Dir::Rules, r)
    } else if let Some(t) = path.strip_prefix("templates/") {
        (Dir::Templates, t)
    } else {
        return None;
    };
    let plain = !rest.is_empty()
        && !rest.starts_with('/')
        && !rest.contains('\\')
        && !rest.contains('\0')
        && rest
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && !part.starts_with('.'));
    let ext_ok = match dir {
        Dir::Rules => rest.ends_with(".toml"),
        Dir::Templates => rest.ends_with(".hbs"),
    };
    (plain && ext_ok).then_some((dir, rest))
}

/// [`split`] for a path a request names: also only letters, digits, `_`,
/// `-` and `.` (not first) in each part, as the API's OpenAPI document says.
pub fn split_request(path: &str) -> Option<(Dir, &str)> {
    let (dir, rest) = split(path)?;
    let tame = rest.split('/').all(|part| {
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        part.chars().next().is_some_and(ok) && part.chars().all(|c| ok(c) || c == '.')
    });
    tame.then_some((dir, rest))
}

impl RuleFiles {
    /// Read every `*.toml` under `rules_dir` (hidden files and folders
    /// skipped: editors keep their swap files there) and every `*.hbs` under
    /// `templates_dir`. A file that can't be read is a finding, not a panic.
    pub fn read(rules_dir: &Path, templates_dir: &Path) -> (RuleFiles, Vec<Diagnostic>) {
        let mut files = RuleFiles::default();
        let mut diags = Vec::new();
        for (dir, ext, map) in [
            (rules_dir, "toml", &mut files.rules),
            (templates_dir, "hbs", &mut files.templates),
        ] {
            let mut paths = Vec::new();
            collect(dir, ext, &mut paths);
            for path in paths {
                let Some(rel) = relative(dir, &path) else {
                    continue;
                };
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        map.insert(rel, text);
                    }
                    Err(e) => diags.push(Diagnostic::whole_file(
                        Severity::Error,
                        "io",
                        &path,
                        format!("hsflow could not read this file: {e}"),
                    )),
                }
            }
        }
        (files, diags)
    }

    /// The version: hex SHA-256 over every path and text, in order. Two
    /// servers with the same files run the same version.
    pub fn version(&self) -> String {
        let mut hasher = Sha256::new();
        for (path, text) in self.rules.iter().chain(self.templates.iter()) {
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update(text.as_bytes());
            hasher.update([0]);
        }
        hex::encode(hasher.finalize())
    }

    /// Every file as (`rules/...` or `templates/...`, text).
    pub fn all(&self) -> impl Iterator<Item = (String, &str)> {
        let rules = self
            .rules
            .iter()
            .map(|(p, t)| (format!("rules/{p}"), t.as_str()));
        let templates = self
            .templates
            .iter()
            .map(|(p, t)| (format!("templates/{p}"), t.as_str()));
        rules.chain(templates)
    }

    /// The text of `rules/...` or `templates/...`, if the set has it.
    pub fn get(&self, path: &str) -> Option<&str> {
        match split(path)? {
            (Dir::Rules, rel) => self.rules.get(rel).map(String::as_str),
            (Dir::Templates, rel) => self.templates.get(rel).map(String::as_str),
        }
    }

    /// This set with one file written (added or replaced). `None` when the
    /// path is not one a request may name (see [`split_request`]).
    pub fn with(&self, path: &str, text: &str) -> Option<RuleFiles> {
        let mut out = self.clone();
        match split_request(path)? {
            (Dir::Rules, rel) => out.rules.insert(rel.to_string(), text.to_string()),
            (Dir::Templates, rel) => out.templates.insert(rel.to_string(), text.to_string()),
        };
        Some(out)
    }

    /// Where a path of this set lives on disk.
    pub fn disk_path(path: &str, rules_dir: &Path, templates_dir: &Path) -> Option<PathBuf> {
        match split(path)? {
            (Dir::Rules, rel) => Some(rules_dir.join(rel)),
            (Dir::Templates, rel) => Some(templates_dir.join(rel)),
        }
    }
}

fn relative(dir: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(dir).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn collect(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            collect(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_under_the_two_folders_are_accepted() {
        assert_eq!(
            split("rules/flows/a.toml"),
            Some((Dir::Rules, "flows/a.toml"))
        );
        assert_eq!(
            split("templates/emails/w.html.hbs"),
            Some((Dir::Templates, "emails/w.html.hbs"))
        );
        for bad in [
            "rules/../etc/passwd.toml",
            "rules//a.toml",
            "rules/.hidden.toml",
            "/rules/a.toml",
            "rules/a.hbs",
            "templates/a.toml",
            "src/main.rs",
            "rules/",
            "rules/a\\b.toml",
        ] {
            assert_eq!(split(bad), None, "{bad}");
        }
        assert!(split("rules/flows/my flow.toml").is_some());
        assert!(split_request("rules/flows/my flow.toml").is_none());
        assert!(split_request("templates/emails/w.html.hbs").is_some());
    }

    #[test]
    fn the_version_changes_with_any_byte_and_only_then() {
        let mut a = RuleFiles::default();
        a.rules.insert("entities.toml".into(), "x = 1\n".into());
        let b = a.with("templates/notifications/n.hbs", "hi").unwrap();
        assert_ne!(a.version(), b.version());
        assert_eq!(b.version(), b.clone().version());
        let c = b.with("templates/notifications/n.hbs", "hi!").unwrap();
        assert_ne!(b.version(), c.version());
    }
}
