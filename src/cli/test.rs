//! `hsflow test`: run the rule test cases in rules/tests/.

use std::process::ExitCode;

use super::{load_or_report, RuleDirs};
use crate::engine::rule_tests::run_case;

pub fn run(dirs: &RuleDirs, filter: Option<&str>) -> ExitCode {
    let Some(rs) = load_or_report(dirs) else {
        return ExitCode::from(1);
    };
    let root = dirs
        .rules
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(std::path::Path::new("."));
    let (mut passed, mut failed) = (0, 0);
    for file in &rs.tests {
        for case in file
            .cases
            .iter()
            .filter(|c| filter.is_none_or(|f| c.name.contains(f)))
        {
            let r = run_case(&rs, case, root);
            if r.failures.is_empty() {
                passed += 1;
                println!("ok   {}", r.name);
            } else {
                failed += 1;
                println!("FAIL {}  ({})", r.name, file.path.display());
                for f in &r.failures {
                    println!("  - {f}");
                }
            }
        }
    }
    if let (Some(f), 0) = (filter, passed + failed) {
        println!("no case's name contains `{f}`; `hsflow test` alone runs (and names) them all");
        return ExitCode::from(1);
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
