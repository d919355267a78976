//! `hsflow lint`: every problem in the rule set, each at its file:line:col.

use std::process::ExitCode;

use super::{LintFormat, RuleDirs};
use crate::rules::load;

pub fn run(dirs: &RuleDirs, format: LintFormat) -> ExitCode {
    let loaded = load(&dirs.rules, &dirs.templates);
    let io_failure = loaded.diagnostics.iter().any(|d| d.code == "io");
    match format {
        LintFormat::Human => {
            for d in &loaded.diagnostics {
                eprintln!("{}", d.render_human());
            }
            let files = loaded
                .ruleset
                .as_ref()
                .map(|r| r.files.len() + r.templates.files.len());
            let (e, w) = (loaded.error_count(), loaded.warning_count());
            match files {
                Some(n) => eprintln!("lint: {n} files checked, {e} errors, {w} warnings"),
                None => eprintln!("lint: {e} errors, {w} warnings; the rule set would be refused"),
            }
        }
        LintFormat::Json => match serde_json::to_string_pretty(&loaded.diagnostics) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("hsflow: could not write JSON: {e}");
                return ExitCode::from(2);
            }
        },
        LintFormat::Github => {
            for d in &loaded.diagnostics {
                println!("{}", d.render_github());
            }
        }
    }
    if io_failure {
        ExitCode::from(2)
    } else if loaded.error_count() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
