//! The what-if report in words, for a terminal (`hsflow whatif`).

use std::fmt::Write;

use serde_json::Value;

use crate::studio::said::count;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn action(a: &Value) -> String {
    format!(
        "{} to {} ({}; {})",
        s(&a["label"]),
        s(&a["target"]),
        crate::console::words::delay(a["delay_s"].as_i64().unwrap_or(0)),
        s(&a["id"])
    )
}

/// The whole report.
pub fn report(r: &Value) -> String {
    let mut o = String::new();
    let sum = &r["summary"];
    let short = |v: &Value| s(v).chars().take(12).collect::<String>();
    let _ = writeln!(
        o,
        "What-if: your rules ({}) against the rules in force ({}): {}.",
        short(&r["candidate_version"]),
        short(&r["live_version"]),
        s(&r["said"])
    );
    if r["differences"] != true {
        let _ = writeln!(
            o,
            "No differences: these rules would do exactly what the live ones did."
        );
        return o;
    }
    if let Some(flows) = sum["flows"].as_object().filter(|f| !f.is_empty()) {
        let _ = writeln!(o, "\nBy flow:");
        for (name, f) in flows {
            let _ = writeln!(
                o,
                "  {name}: {}; {} added, {} removed, {} changed",
                count(n(&f["events"]) as usize, "event"),
                n(&f["actions_added"]),
                n(&f["actions_removed"]),
                n(&f["actions_changed"])
            );
            for (key, label) in [
                ("rules_newly_firing", "newly firing"),
                ("rules_stopping", "no longer firing"),
            ] {
                let rules: Vec<&str> = f[key].as_array().into_iter().flatten().map(s).collect();
                if !rules.is_empty() {
                    let _ = writeln!(o, "    {label}: {}", rules.join(", "));
                }
            }
        }
    }
    let events = r["events"].as_array().cloned().unwrap_or_default();
    if !events.is_empty() {
        let _ = writeln!(o, "\nEvents:");
    }
    for e in &events {
        let _ = writeln!(
            o,
            "  {} {} {} {} (event {})",
            s(&e["received_at"]),
            s(&e["source"]),
            s(&e["type"]),
            s(&e["contact"]),
            s(&e["event_id"])
        );
        if !e["refused"].is_null() {
            let _ = writeln!(o, "    refused by the new rules: {}", s(&e["refused"]));
        }
        if !e["live_refused"].is_null() {
            let _ = writeln!(
                o,
                "    accepted now (the live rules refuse it: {})",
                s(&e["live_refused"])
            );
        }
        for a in e["added"].as_array().into_iter().flatten() {
            let _ = writeln!(o, "    new: {}", action(a));
        }
        for a in e["removed"].as_array().into_iter().flatten() {
            let _ = writeln!(o, "    no longer: {}", action(a));
        }
        for a in e["changed"].as_array().into_iter().flatten() {
            let _ = writeln!(o, "    changed: {} ({})", s(&a["label"]), s(&a["id"]));
            for c in a["changes"].as_array().into_iter().flatten() {
                let _ = writeln!(o, "        {}: {}", s(&c["field"]), s(&c["said"]));
            }
        }
    }
    if n(&r["events_not_listed"]) > 0 {
        let _ = writeln!(
            o,
            "  ... and {} more events (see --json)",
            n(&r["events_not_listed"])
        );
    }
    let held = r["held"].as_array().cloned().unwrap_or_default();
    if !held.is_empty() {
        let _ = writeln!(
            o,
            "\nWaiting actions the new send windows would hold past their time ({}):",
            held.len()
        );
        for h in &held {
            let _ = writeln!(
                o,
                "  {} {} for {} due {}: {}",
                s(&h["kind"]),
                s(&h["action"]),
                h["contact"].as_str().unwrap_or("nobody"),
                s(&h["due_at"]),
                s(&h["why"])
            );
        }
    }
    let pending = r["pending"].as_array().cloned().unwrap_or_default();
    if !pending.is_empty() {
        let _ = writeln!(
            o,
            "\nWaiting actions the new rules would not plan ({}); they still run, pinned to their version, unless cancelled:",
            pending.len()
        );
        for p in &pending {
            let _ = writeln!(
                o,
                "  {} {} for {} due {}: {}",
                s(&p["kind"]),
                s(&p["action"]),
                p["contact"].as_str().unwrap_or("nobody"),
                s(&p["due_at"]),
                s(&p["why"])
            );
        }
    }
    o
}
