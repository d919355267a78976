//! `hsflow schedules`: each schedule of rules/schedules.toml, when it fires
//! in words, and the next five times it will, on its zone's wall clock and
//! in UTC.

use std::process::ExitCode;

use chrono::Utc;

use super::RuleDirs;

pub fn run(dirs: &RuleDirs) -> ExitCode {
    let Some(rs) = super::load_or_report(dirs) else {
        return ExitCode::from(1);
    };
    if rs.schedules.is_empty() {
        println!("no schedules: rules/schedules.toml has none");
        return ExitCode::SUCCESS;
    }
    let now = Utc::now();
    for s in &rs.schedules {
        let over = s
            .query
            .as_ref()
            .map(|q| format!(", once per page of {q}"))
            .unwrap_or_default();
        println!("{}: {}{over}", s.id, s.timing.describe());
        for (local, utc) in s.timing.upcoming(now, 5) {
            println!("  {local}  ({utc})");
        }
    }
    ExitCode::SUCCESS
}
