//! Loading compiles everything once and versions the result by content.

mod support;

use support::copy_dir;

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::json;

fn base() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint/base")
}

#[test]
fn version_is_stable_and_changes_with_any_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&base(), dir.path());
    let load = || {
        hsflow::rules::load(&dir.path().join("rules"), &dir.path().join("templates"))
            .ruleset
            .expect("loads")
            .version
    };
    let v1 = load();
    assert_eq!(v1, load(), "same files, same version");
    assert_eq!(v1.len(), 64);
    std::fs::write(
        dir.path().join("templates/emails/welcome.txt.hbs"),
        "Hi {{first_name}}!\n",
    )
    .expect("write");
    let v2 = load();
    assert_ne!(v1, v2, "a template edit changes the version");
    let flow = dir.path().join("rules/flows/main.toml");
    let text = std::fs::read_to_string(&flow)
        .expect("read")
        .replace("delay = \"2h\"", "delay = \"3h\"");
    std::fs::write(&flow, text).expect("write");
    assert_ne!(v2, load(), "a rule edit changes the version");
}

#[test]
fn durations_are_compiled_to_seconds_at_load() {
    let set = hsflow::rules::load(&base().join("rules"), &base().join("templates"))
        .ruleset
        .expect("loads");
    let rule = set.rule("welcome_artist").expect("rule");
    assert_eq!(rule.actions[0].delay_s, 7200);
    assert_eq!(rule.actions[0].id, "email_1");
}

#[test]
fn compiled_conditions_handle_missing_fields_and_nesting() {
    use hsflow::engine::condition::Verdict;
    use hsflow::engine::condition_compile::{compile, CompileEnv};
    use hsflow::engine::fields::FieldTable;
    use hsflow::rules::model::ConditionSpec;

    let spec: ConditionSpec = serde_json::from_value(json!({
        "all": [
            {"any": [
                {"field": "contact_types", "contains_any": ["Artist", "Gallery Contact"]},
                {"field": "tags", "contains": "vip"}
            ]},
            {"not": {"field": "lead_source", "equals": "Website"}},
            {"field": "score", "gte": 80}
        ]
    }))
    .expect("spec");
    let mut table = FieldTable::default();
    let produced = |_: &str| true;
    let windows = Default::default();
    let mut env = CompileEnv {
        fields: &mut table,
        produced: &produced,
        produced_names: &[],
        windows: &windows,
        windows_broken: false,
        zone: chrono_tz::Tz::UTC,
    };
    let mut findings = Vec::new();
    let cond = compile(&spec, "", &mut env, &mut findings).expect("compiles");
    assert!(findings.is_empty(), "{findings:?}");
    let now: DateTime<Utc> = Utc::now();
    let fields = |v: serde_json::Value| table.from_object(v.as_object().expect("object"));

    let hit = fields(json!({"contact_types": ["Artist"], "lead_source": "Event", "score": 80.0}));
    assert!(cond.eval(&hit, &json!({}), now));
    // 80 (int) >= 80 and "80.0": numbers compare by value, even as text from a form.
    assert!(cond.eval(
        &fields(json!({"tags": ["vip"], "lead_source": "Event", "score": "80"})),
        &json!({}),
        now
    ));
    assert!(!cond.eval(
        &fields(json!({"contact_types": ["Artist"], "lead_source": "Website", "score": 90})),
        &json!({}),
        now
    ));

    // A missing score: false, and the trace says why.
    let miss = fields(json!({"contact_types": ["Artist"], "lead_source": "Event"}));
    let mut trace: Vec<Verdict> = Vec::new();
    assert!(!cond.explain(&miss, &json!({}), now, &mut trace));
    let score = trace
        .iter()
        .find(|v| v.expr.starts_with("score"))
        .expect("score verdict");
    assert!(!score.result);
    assert_eq!(score.values.get("score"), Some(&serde_json::Value::Null));
    assert!(score.notes[0].contains("missing"), "{score:?}");
    let any = trace
        .iter()
        .find(|v| v.expr.starts_with("any: contact_types"))
        .expect("any verdict");
    assert!(any.result);
    let not = trace
        .iter()
        .find(|v| v.expr.starts_with("not: lead_source"))
        .expect("not verdict");
    assert!(not.result, "not(Event == Website) holds: {not:?}");
}
