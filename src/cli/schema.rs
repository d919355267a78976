//! `hsflow schema`: write (or check) the JSON Schemas under schemas/.

use std::path::Path;
use std::process::ExitCode;

use crate::rules::kind::FileKind;

/// The schema file contents, exactly as written to disk.
pub fn rendered() -> Vec<(String, String)> {
    FileKind::ALL
        .iter()
        .map(|k| {
            let text = serde_json::to_string_pretty(&k.schema()).unwrap_or_default();
            (k.schema_file(), format!("{text}\n"))
        })
        .collect()
}

pub fn run(out: &Path, check: bool) -> ExitCode {
    let mut stale = Vec::new();
    if !check {
        if let Err(e) = std::fs::create_dir_all(out) {
            eprintln!("hsflow: could not create {}: {e}", out.display());
            return ExitCode::from(2);
        }
    }
    for (name, text) in rendered() {
        let path = out.join(&name);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(text.as_str()) {
            continue;
        }
        if check {
            stale.push(path.display().to_string());
        } else if let Err(e) = std::fs::write(&path, text) {
            eprintln!("hsflow: could not write {}: {e}", path.display());
            return ExitCode::from(2);
        } else {
            eprintln!("wrote {}", path.display());
        }
    }
    if stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("these schemas are out of date: {}", stale.join(", "));
        eprintln!("run `hsflow schema` and commit the result");
        ExitCode::from(1)
    }
}
