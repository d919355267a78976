//! Conditions on time, as an author writes them: "arrived within business
//! hours", "arrived on a weekend", read on the wall clock of the network or
//! of the rule's entity, through `hsflow test`, `simulate` and `lint` on a
//! copy of the shipped pack with one more flow.

mod support;

use std::path::Path;
use std::process::Output;

fn hsflow(args: &[&str], dir: &Path) -> Output {
    support::hsflow_in(dir, args)
}

const FLOW: &str = r#"#:schema ../../schemas/flow.schema.json
id = "arrivals"
description = "Rules that care when a contact arrived."

[[rules]]
id = "in_office_hours"
on = ["manual:contact.created"]
when = [{ arrived_within = "business_hours" }]
[[rules.actions]]
kind = "notify"
channel = "lead-inbox"
text = "Arrived in office hours: call back today."

[[rules]]
id = "at_the_weekend"
on = ["manual:contact.created"]
when = [{ arrived_on = ["Sat", "Sun"] }]
[[rules.actions]]
kind = "notify"
channel = "lead-inbox"
text = "Arrived at the weekend."

# AM Consulting works from London in this copy: its rules read London's clock.
[[rules]]
id = "london_saturday"
on = ["manual:contact.created"]
entity = "am_consulting"
when = [{ arrived_on = ["Saturday"] }]
[[rules.actions]]
kind = "notify"
channel = "lead-inbox"
text = "Saturday in London."
"#;

const CONTACT: &str = r#"payload = { event = "new_contact", email = "t@b.example", first_name = "Tim", contact_types = ["General Contact"], lead_source = "Website" }"#;

fn case(name: &str, at: &str, matched: &[&str], not_matched: &[&str]) -> String {
    let list = |l: &[&str]| {
        l.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[[cases]]\nname = \"arrival: {name}\"\nsource = \"manual\"\n{CONTACT}\nat = \"{at}\"\n[cases.expect]\nmatched = [{}]\nnot_matched = [{}]\n\n",
        list(matched),
        list(not_matched)
    )
}

/// A copy of the shipped pack with the flow above and its tests.
fn project(dir: &Path) {
    support::copy_shipped_project(dir);
    std::fs::write(dir.join("rules/flows/arrivals.toml"), FLOW).expect("flow");
    let entities = dir.join("rules/entities.toml");
    let text = std::fs::read_to_string(&entities).expect("entities");
    let london = text.replacen(
        "from_email = \"hello@amconsulting.example\"\n",
        "from_email = \"hello@amconsulting.example\"\nzone = \"Europe/London\"\n",
        1,
    );
    assert_ne!(london, text);
    std::fs::write(&entities, london).expect("entities");
    let tests = String::from("#:schema ../../schemas/tests.schema.json\n")
        + &case(
            "Monday 10:00 in New York is office hours",
            "2026-01-05T15:00:00Z",
            &["in_office_hours"],
            &["at_the_weekend", "london_saturday"],
        )
        + &case(
            "Friday 23:30 in New York is neither office hours nor the weekend, but it is Saturday in London",
            "2026-01-10T04:30:00Z",
            &["london_saturday"],
            &["in_office_hours", "at_the_weekend"],
        )
        + &case(
            "Thanksgiving at 11:00 is not office hours",
            "2026-11-26T16:00:00Z",
            &[],
            &["in_office_hours", "at_the_weekend"],
        )
        + &case(
            "Sunday noon is the weekend",
            "2026-01-11T17:00:00Z",
            &["at_the_weekend"],
            &["in_office_hours", "london_saturday"],
        );
    std::fs::write(dir.join("rules/tests/arrivals.toml"), tests).expect("tests");
}

#[test]
fn arrival_conditions_read_the_network_and_the_entity_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path());
    let out = hsflow(&["test", "--filter", "arrival:"], dir.path());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "Monday 10:00 in New York is office hours",
        "but it is Saturday in London",
        "Thanksgiving at 11:00 is not office hours",
        "Sunday noon is the weekend",
    ] {
        assert!(
            said.lines()
                .any(|l| l.starts_with("ok") && l.contains(name)),
            "{name}: {said}"
        );
    }

    // A wrong expectation fails: the tests can tell the times apart.
    let tests = dir.path().join("rules/tests/arrivals.toml");
    let text = std::fs::read_to_string(&tests).expect("tests");
    std::fs::write(
        &tests,
        text.replacen(
            "at = \"2026-01-05T15:00:00Z\"",
            "at = \"2026-01-05T23:00:00Z\"",
            1,
        ),
    )
    .expect("tests");
    let out = hsflow(&["test", "--filter", "arrival:"], dir.path());
    assert!(!out.status.success());
}

#[test]
fn the_explain_trace_says_when_the_event_arrived_and_why_the_window_was_shut() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path());
    let body = r#"{"event": "new_contact", "email": "t@b.example", "contact_types": ["General Contact"], "lead_source": "Website"}"#;
    let file = dir.path().join("contact.json");
    std::fs::write(&file, body).expect("body");
    let out = hsflow(
        &[
            "simulate",
            "--source",
            "manual",
            "--at",
            "2026-11-26T16:00:00Z",
            file.to_str().expect("path"),
        ],
        dir.path(),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("NO  arrived within business_hours"), "{said}");
    assert!(
        said.contains("Thu 26 Nov 2026 11:00 EST (America/New_York)")
            && said.contains("Thursday 26 November 2026 is closed (Thanksgiving Day)"),
        "{said}"
    );
}

#[test]
fn a_misspelt_window_or_day_is_an_error_that_names_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    project(dir.path());
    let flow = dir.path().join("rules/flows/arrivals.toml");
    let text = std::fs::read_to_string(&flow).expect("flow");
    let broken = text
        .replace("\"business_hours\"", "\"busines_hours\"")
        .replace("[\"Sat\", \"Sun\"]", "[\"Sat\", \"Sundy\"]");
    std::fs::write(&flow, broken).expect("flow");
    let out = hsflow(&["lint"], dir.path());
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("there is no send window `busines_hours`")
            && said.contains("did you mean `business_hours`?"),
        "{said}"
    );
    assert!(
        said.contains("`Sundy` in `Sundy` is not a day of the week"),
        "{said}"
    );
}
