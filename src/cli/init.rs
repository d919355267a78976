//! `hsflow init DIR`: a small rules project that works from the first
//! command: one source, one flow, one email and one notification, two test
//! cases and the JSON Schemas editors use. It lints and tests clean (a test
//! checks), so a newcomer starts from something right and changes it.
//!
//! The files are kept as files under `src/cli/init/`, where they read as a
//! project does, and embedded in the binary.

use std::path::Path;
use std::process::ExitCode;

/// (path in the project, contents)
const FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("init/README.md")),
    (
        "rules/sources/contact_form.toml",
        include_str!("init/rules/sources/contact_form.toml"),
    ),
    (
        "rules/entities.toml",
        include_str!("init/rules/entities.toml"),
    ),
    ("rules/emails.toml", include_str!("init/rules/emails.toml")),
    (
        "rules/flows/welcome.toml",
        include_str!("init/rules/flows/welcome.toml"),
    ),
    (
        "rules/tests/welcome.toml",
        include_str!("init/rules/tests/welcome.toml"),
    ),
    (
        "templates/emails/welcome.subject.hbs",
        include_str!("init/templates/emails/welcome.subject.hbs"),
    ),
    (
        "templates/emails/welcome.html.hbs",
        include_str!("init/templates/emails/welcome.html.hbs"),
    ),
    (
        "templates/emails/welcome.txt.hbs",
        include_str!("init/templates/emails/welcome.txt.hbs"),
    ),
    (
        "templates/notifications/new_contact.hbs",
        include_str!("init/templates/notifications/new_contact.hbs"),
    ),
];

pub fn run(dir: &Path) -> ExitCode {
    match write(dir) {
        Ok(()) => {
            println!(
                "a rules project is in {}: cd there and run `hsflow lint` and `hsflow test`",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hsflow: {e}");
            ExitCode::from(2)
        }
    }
}

fn write(dir: &Path) -> Result<(), String> {
    // Never over someone's work: refuse a directory that has files.
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!(
            "{} is not empty; give a new or empty directory",
            dir.display()
        ));
    }
    let schemas = super::schema::rendered()
        .into_iter()
        .map(|(name, text)| (format!("schemas/{name}"), text));
    let files = FILES
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .chain(schemas);
    for (rel, text) in files {
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("can't create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("can't write {}: {e}", path.display()))?;
    }
    Ok(())
}
