//! Routing is written once: the contact workflows follow rules/entities.toml.
//!
//! An office manager moves Media Contact from HigherSelf Core to AM
//! Consulting by editing entities.toml only. The shipped contact workflows
//! are scoped with `for_entity`, so AM Consulting's lead qualification now
//! fires for a media contact and HigherSelf Core's onboarding no longer does,
//! with nothing else changed; the plan and its explain trace say why.

mod support;

use std::path::Path;
use std::process::Output;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn hsflow(args: &[&str], dir: &Path) -> Output {
    support::hsflow_in(dir, args)
}

/// A copy of the shipped pack with one more test file.
fn pack_with_tests(dir: &Path, tests: &str) {
    support::copy_shipped_project(dir);
    std::fs::write(dir.join("rules/tests/media_contact.toml"), tests).expect("write tests");
}

const MEDIA_CONTACT: &str = r#"payload = { event = "new_contact", email = "ed@press.example", first_name = "Ed", contact_types = ["Media Contact"], lead_source = "Website" }"#;

fn case(name: &str, matched: &str, not_matched: &str, entity: &str) -> String {
    format!(
        "#:schema ../../schemas/tests.schema.json\n[[cases]]\nname = \"{name}\"\nsource = \"manual\"\n{MEDIA_CONTACT}\n[cases.expect]\nmatched = [\"{matched}\"]\nnot_matched = [\"{not_matched}\"]\nentities = [\"{entity}\"]\n"
    )
}

fn run_case(dir: &Path, name: &str) -> Output {
    hsflow(&["test", "--filter", name], dir)
}

#[test]
fn moving_a_contact_type_in_entities_toml_moves_the_workflows_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = "media contact before the move";
    let after = "media contact after the move";
    let tests = case(
        before,
        "community_onboarding",
        "lead_qualification",
        "HigherSelf Core",
    ) + &case(
        after,
        "lead_qualification",
        "community_onboarding",
        "AM Consulting",
    )
    .replace("#:schema ../../schemas/tests.schema.json\n", "");
    pack_with_tests(dir.path(), &tests);

    // As shipped: a media contact is HigherSelf Core's.
    assert!(
        run_case(dir.path(), before).status.success(),
        "{:?}",
        run_case(dir.path(), before)
    );
    assert!(!run_case(dir.path(), after).status.success());

    // The office manager's edit: entities.toml only.
    let path = dir.path().join("rules/entities.toml");
    let text = std::fs::read_to_string(&path).expect("read entities.toml");
    let moved = text
        .replace(
            r#"contains_any = ["Business Contact", "Potential Client"]"#,
            r#"contains_any = ["Business Contact", "Potential Client", "Media Contact"]"#,
        )
        .replace(
            r#"contains_other_than = ["Artist", "Gallery Contact", "Business Contact", "Potential Client"]"#,
            r#"contains_other_than = ["Artist", "Gallery Contact", "Business Contact", "Potential Client", "Media Contact"]"#,
        );
    assert_ne!(
        moved, text,
        "the shipped routes changed; update this test's edit"
    );
    std::fs::write(&path, moved).expect("write entities.toml");

    let lint = hsflow(&["lint"], dir.path());
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    let out = run_case(dir.path(), after);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!run_case(dir.path(), before).status.success());
}

#[test]
fn the_plan_names_every_entity_that_acts_and_the_trace_shows_the_routing() {
    let body = r#"{"event": "new_contact", "email": "lee@example.com", "first_name": "Lee", "contact_types": ["General Contact"], "interests": ["Wellness"], "lead_source": "Website"}"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("lee.json");
    std::fs::write(&file, body).expect("write body");
    let out = hsflow(
        &[
            "simulate",
            "--source",
            "manual",
            "--format",
            "json",
            file.to_str().unwrap_or(""),
        ],
        root(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json plan");
    // Routed to HigherSelf Core; The 7 Space acts through its wellness inquiry.
    assert_eq!(
        plan["entities"],
        serde_json::json!(["HigherSelf Core", "The 7 Space"])
    );
    let why: Vec<(&str, &str)> = plan["entities_why"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or(""),
                e["why"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        why,
        vec![("higherself_core", "route"), ("the_7_space", "rule")]
    );
    // The routing step, route by route, with values.
    let routes = plan["routing"].as_array().cloned().unwrap_or_default();
    assert_eq!(routes.len(), 3, "{routes:#?}");
    let core = routes
        .iter()
        .find(|r| r["entity"] == "higherself_core")
        .expect("the core route");
    assert_eq!(core["matched"], true);
    assert_eq!(
        core["conditions"][0]["values"]["contact_types"],
        serde_json::json!(["General Contact"])
    );
    // A scoped rule shows the routing as its first verdict.
    let lead = plan["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == "lead_qualification")
        .expect("lead_qualification is considered");
    assert_eq!(lead["matched"], false);
    assert!(
        lead["conditions"][0]["expr"]
            .as_str()
            .unwrap_or("")
            .starts_with("for_entity = \"am_consulting\""),
        "{lead:#}"
    );
    assert_eq!(
        lead["conditions"][0]["values"]["routed_to"],
        serde_json::json!(["HigherSelf Core"])
    );
    assert_eq!(lead["conditions"][0]["values"]["for"], "AM Consulting");
}
