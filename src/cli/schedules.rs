//! `hsflow schedules`: each schedule of rules/schedules.toml, when it fires
//! in words, and the next five times it will, on its zone's wall clock and
//! in UTC; then each send window of rules/calendar.toml, whether it is open
//! now, its next closed days, and when its list of closed dates runs out.

use std::process::ExitCode;

use chrono::Utc;

use super::RuleDirs;

pub fn run(dirs: &RuleDirs) -> ExitCode {
    let Some(rs) = super::load_or_report(dirs) else {
        return ExitCode::from(1);
    };
    let now = Utc::now();
    if rs.schedules.is_empty() {
        println!("no schedules: rules/schedules.toml has none");
    }
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
    windows(&rs, now);
    ExitCode::SUCCESS
}

/// How far ahead a list of closed dates should reach before it is flagged.
const RUNS_OUT_WITHIN_DAYS: i64 = 90;

fn windows(rs: &crate::rules::RuleSet, now: chrono::DateTime<Utc>) {
    if rs.windows.is_empty() {
        return;
    }
    let network = crate::engine::send_window::zone_of(rs, None);
    println!("\nsend windows (rules/calendar.toml):");
    for w in rs.windows.values() {
        let zone = w.zone_or(network);
        let whose = if w.zone.is_some() {
            ""
        } else {
            ", or the entity's own zone"
        };
        println!("{} ({zone}{whose})", w.describe());
        println!("  {}", w.state_at(now, zone));
        let today = now.with_timezone(&zone).date_naive();
        for (day, name) in w.closed_days(today, 3) {
            println!("  closed {}: {name}", day.format("%a %-d %b %Y"));
        }
        if let Some(last) = w.last_closed() {
            let soon = last - today < chrono::Duration::days(RUNS_OUT_WITHIN_DAYS);
            println!(
                "  {}closed dates are listed up to {}{}",
                if soon { "warning: " } else { "" },
                last.format("%-d %B %Y"),
                if soon {
                    "; add the next year's to rules/calendar.toml"
                } else {
                    ""
                }
            );
        }
    }
}
