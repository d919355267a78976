//! Lint on copies of the shipped rule pack with one mistake each: the pack
//! uses what the small lint fixture doesn't (A/B email variants, follow_up
//! actions, senders that name entities), so a mistake in one file must still
//! be one finding there, and the routing checks must still speak.

mod support;

use std::path::Path;

use serde_json::Value;

/// A copy of the shipped project with `edit` applied to `file`.
fn pack_with(file: &str, edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    support::copy_shipped_project(dir.path());
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit to {file} changed nothing");
    std::fs::write(&path, edited).expect("write");
    dir
}

/// Lint's findings, as JSON, for the project in `dir`.
fn lint(dir: &Path) -> Vec<Value> {
    let out = support::hsflow_in(dir, &["lint", "--format", "json"]);
    serde_json::from_slice(&out.stdout).expect("lint's JSON")
}

#[test]
fn a_syntax_error_in_emails_toml_is_one_finding_not_an_unknown_ab_template_too() {
    // artist_welcome exists only as its A/B pair, which emails.toml declares.
    let dir = pack_with("rules/emails.toml", |t| {
        t.replacen(
            "category = \"transactional\"",
            "category = \"transactional",
            1,
        )
    });
    let findings = lint(dir.path());
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["code"], "toml-syntax");
    assert!(findings[0]["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("emails.toml")));
}

#[test]
fn a_syntax_error_in_lead_sources_toml_does_not_tell_follow_ups_to_add_the_file() {
    let dir = pack_with("rules/lead_sources.toml", |t| {
        t.replacen("first_response = ", "first_response: ", 1)
    });
    let findings = lint(dir.path());
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["code"], "toml-syntax");
    assert!(findings[0]["hint"]
        .as_str()
        .is_some_and(|h| h.contains("first_response = ")));
}

#[test]
fn a_rule_scoped_to_an_entity_no_route_or_sender_of_its_reaches_is_a_warning() {
    // The pack lets senders name entities (explicit_field), but only manual
    // events carry that field: a Typeform rule scoped to a business without a
    // route can never fire, and lint says so.
    let dir = pack_with("rules/entities.toml", |t| {
        t + "\n[[entities]]\nid = \"retreats\"\nname = \"Retreats\"\nfrom_email = \"retreats@example.org\"\n"
    });
    let flow = dir.path().join("rules/flows/contact_workflows.toml");
    let text = std::fs::read_to_string(&flow).expect("read");
    let rule = "\n[[rules]]\nid = \"retreat_leads\"\non = [\"typeform:form_response\"]\nfor_entity = \"retreats\"\n\n[[rules.actions]]\nkind = \"notify\"\nchannel = \"retreats\"\ntext = \"A new lead\"\n";
    std::fs::write(&flow, text.clone() + rule).expect("write");
    let findings = lint(dir.path());
    let codes: Vec<&str> = findings.iter().filter_map(|f| f["code"].as_str()).collect();
    assert_eq!(codes, ["never-routed"], "{findings:#?}");
    // The same rule listening to manual events, whose sender can name it, is fine.
    let manual = rule.replace("typeform:form_response", "manual:contact.created");
    std::fs::write(&flow, text + &manual).expect("write");
    let findings = lint(dir.path());
    assert!(findings.is_empty(), "{findings:#?}");
}
