//! `hsflow lint` on broken rule sets: every kind of mistake a rule author
//! makes is reported at the right file:line:col, in words, with the right
//! exit code. The cases live in tests/fixtures/lint/cases.toml (made by
//! generate.py there); this file runs the real binary on each.

mod support;

use support::copy_dir;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    fixture: String,
    target: String,
    severity: String,
    code: String,
    message: String,
    report_file: String,
    line: Option<usize>,
    col: Option<usize>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint")
}

/// Run lint on `root` (holding rules/ and templates/); exit code and JSON findings.
fn lint(root: &Path) -> (i32, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["lint", "--format", "json", "--rules"])
        .arg(root.join("rules"))
        .arg("--templates")
        .arg(root.join("templates"))
        .output()
        .expect("run hsflow");
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lint printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), findings)
}

fn run_case(name: &str) {
    let manifest: Manifest = toml::from_str(
        &std::fs::read_to_string(fixtures().join("cases.toml")).expect("cases.toml"),
    )
    .expect("parse cases.toml");
    let case = manifest
        .case
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name} in cases.toml"));
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join("base"), dir.path());
    std::fs::copy(
        fixtures().join(&case.fixture),
        dir.path().join(&case.target),
    )
    .expect("install fixture");
    let (code, findings) = lint(dir.path());

    let expected_exit = if case.severity == "error" { 1 } else { 0 };
    assert_eq!(
        code, expected_exit,
        "{name}: exit code; findings: {findings:#?}"
    );
    let report = dir.path().join(&case.report_file);
    let hit = findings.iter().find(|f| {
        f["code"] == case.code.as_str()
            && f["severity"] == case.severity.as_str()
            && Path::new(f["file"].as_str().unwrap_or("")) == report
            && f["message"]
                .as_str()
                .unwrap_or("")
                .to_string()
                .contains(&case.message)
            || (f["code"] == case.code.as_str()
                && f["hint"].as_str().unwrap_or("").contains(&case.message)
                && Path::new(f["file"].as_str().unwrap_or("")) == report)
    });
    let Some(hit) = hit else {
        panic!(
            "{name}: expected {} `{}` mentioning {:?} in {}; got {findings:#?}",
            case.severity, case.code, case.message, case.report_file
        );
    };
    let (line, col) = (
        hit["line"].as_u64().unwrap_or(0) as usize,
        hit["col"].as_u64().unwrap_or(0) as usize,
    );
    assert_eq!(
        (line, col),
        (case.line.unwrap_or(0), case.col.unwrap_or(0)),
        "{name}: location of {hit:#}"
    );
    // One mistake, one finding: no cascade of noise after the real error,
    // and every finding says how to fix it.
    assert_eq!(
        findings.len(),
        1,
        "{name}: one mistake must give one finding; got {findings:#?}"
    );
    assert!(
        hit["hint"].as_str().is_some_and(|h| h.len() > 10),
        "{name}: a finding without a hint that names the fix: {hit:#}"
    );
}

#[test]
fn the_base_project_lints_clean() {
    let (code, findings) = lint(&fixtures().join("base"));
    assert_eq!((code, findings.len()), (0, 0), "{findings:#?}");
}

#[test]
fn every_case_in_the_manifest_has_a_test() {
    let manifest: Manifest = toml::from_str(
        &std::fs::read_to_string(fixtures().join("cases.toml")).expect("cases.toml"),
    )
    .expect("parse");
    let this = std::fs::read_to_string(file!()).unwrap_or_default();
    for c in manifest.case {
        assert!(
            this.contains(&format!("case!({});", c.name)),
            "add case!({}); to tests/lint.rs",
            c.name
        );
    }
}

#[test]
fn two_broken_files_are_both_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join("base"), dir.path());
    for (fixture, target) in [
        ("cases/bad_duration.toml", "rules/flows/main.toml"),
        ("cases/bad_jsonpath.toml", "rules/sources/form.toml"),
    ] {
        std::fs::copy(fixtures().join(fixture), dir.path().join(target)).expect("install");
    }
    let (code, findings) = lint(dir.path());
    assert_eq!(code, 1);
    let codes: Vec<&str> = findings.iter().filter_map(|f| f["code"].as_str()).collect();
    assert!(
        codes.contains(&"bad-duration") && codes.contains(&"bad-jsonpath"),
        "{codes:?}"
    );
}

#[test]
fn a_flow_file_that_does_not_parse_does_not_make_its_workflows_unknown_elsewhere() {
    // Another flow moves the `onboarding` workflow that main.toml defines;
    // main.toml then gets curly quotes. One mistake: one finding, in main.toml.
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join("base"), dir.path());
    std::fs::write(
        dir.path().join("rules/flows/more.toml"),
        "#:schema ../../schemas/flow.schema.json\nid = \"more\"\n\n[[rules]]\nid = \"finish\"\non = [\"form:contact.replied\"]\n\n[[rules.actions]]\nkind = \"workflow\"\nworkflow = \"onboarding\"\nto = \"done\"\n",
    )
    .expect("write");
    let (code, findings) = lint(dir.path());
    assert_eq!((code, findings.len()), (0, 0), "{findings:#?}");
    let main = dir.path().join("rules/flows/main.toml");
    let text = std::fs::read_to_string(&main).expect("read");
    std::fs::write(
        &main,
        text.replace(
            "template = \"welcome\"",
            "template = \u{201c}welcome\u{201d}",
        ),
    )
    .expect("write");
    let (code, findings) = lint(dir.path());
    assert_eq!(code, 1);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["code"], "toml-syntax");
}

#[test]
fn a_missing_rules_directory_is_an_io_error_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, findings) = lint(dir.path());
    assert_eq!(code, 2, "{findings:#?}");
}

#[test]
fn github_format_prints_workflow_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join("base"), dir.path());
    std::fs::copy(
        fixtures().join("cases/bad_duration.toml"),
        dir.path().join("rules/flows/main.toml"),
    )
    .expect("install");
    let out = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["lint", "--format", "github", "--rules"])
        .arg(dir.path().join("rules"))
        .arg("--templates")
        .arg(dir.path().join("templates"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("::error file=")
            && l.contains("main.toml,line=")
            && l.contains("is not a duration")),
        "{text}"
    );
}

#[test]
fn human_format_shows_the_line_and_a_caret() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join("base"), dir.path());
    std::fs::copy(
        fixtures().join("cases/unknown_key_typo.toml"),
        dir.path().join("rules/flows/main.toml"),
    )
    .expect("install");
    let out = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["lint", "--rules"])
        .arg(dir.path().join("rules"))
        .arg("--templates")
        .arg(dir.path().join("templates"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("| templat = \"welcome\"")
            && text.contains("| ^^^^^^^")
            && text.contains("hint: did you mean `template`?"),
        "{text}"
    );
}

macro_rules! case {
    ($name:ident) => {
        #[test]
        fn $name() {
            run_case(stringify!($name));
        }
    };
}

case!(toml_syntax_unclosed_string);
case!(wrong_type_number_for_duration);
case!(unknown_key_typo);
case!(misspelt_field_in_condition);
case!(bad_duration);
case!(bad_expression);
case!(unknown_template);
case!(unknown_action_kind);
case!(unknown_database);
case!(unknown_notion_property);
case!(select_value_not_an_option);
case!(unknown_entity);
case!(on_names_no_source);
case!(duplicate_rule_id);
case!(unknown_workflow_state);
case!(condition_with_two_tests);
case!(empty_condition);
case!(unknown_function_in_expression);
case!(assignment_in_expression);
case!(bad_schedule);
case!(on_is_not_a_list);
case!(missing_required_key);
case!(bad_jsonpath);
case!(jsonpath_without_dollar);
case!(source_without_auth_not_local);
case!(secret_instead_of_env_name);
case!(encoding_not_allowed);
case!(template_does_not_parse);
case!(template_variable_no_source_provides);
case!(test_names_unknown_rule);
case!(test_without_payload);
case!(lead_source_unknown_template);
case!(entities_unknown_fallback);
case!(database_with_two_titles);
case!(broken_databases_file_does_not_cascade);
case!(broken_entities_file_does_not_cascade);
case!(relation_found_by_unknown_property);
case!(missing_schema_directive);
case!(template_variable_a_source_may_lack);

#[test]
fn a_link_to_a_page_its_rule_writes_later_is_a_warning_at_the_linking_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join("base"), dir.path());
    // A Tasks database whose Contact relation finds contacts by Email.
    let dbs = dir.path().join("rules/databases.toml");
    let mut text = std::fs::read_to_string(&dbs).expect("read");
    text.push_str(
        "\n[[databases]]\nkey = \"tasks\"\nname = \"Tasks\"\nenv = \"NOTION_TASKS_DB\"\n[databases.properties]\n\"Task ID\" = \"title\"\n\"Contact\" = \"relation\"\n[databases.relations]\n\"Contact\" = { database = \"contacts\", by = \"Email\" }\n",
    );
    std::fs::write(&dbs, text).expect("write");
    // The contact is written an hour after the event; a task at once links to it.
    let flow = dir.path().join("rules/flows/main.toml");
    let text = std::fs::read_to_string(&flow)
        .expect("read")
        .replace(
            "kind = \"notion\"\ndatabase = \"contacts\"",
            "kind = \"notion\"\ndelay = \"1h\"\ndatabase = \"contacts\"",
        )
        .replace(
            "[[rules.actions]]\nkind = \"notify\"",
            "[[rules.actions]]\nid = \"call\"\nkind = \"task\"\ntitle = \"Call {{email}}\"\nassignee = \"Team\"\n\n[[rules.actions]]\nkind = \"notify\"",
        );
    std::fs::write(&flow, &text).expect("write");
    let (code, findings) = lint(dir.path());
    assert_eq!(code, 0, "a warning, not an error: {findings:#?}");
    let w = findings
        .iter()
        .find(|f| f["code"] == "link-waits")
        .unwrap_or_else(|| panic!("no link-waits warning in {findings:#?}"));
    assert_eq!(w["severity"], "warning");
    assert!(
        w["message"]
            .as_str()
            .unwrap_or("")
            .contains("`call` links to the `contacts` page that `notion_2` writes 1h later"),
        "{w:#}"
    );
    let line = text
        .lines()
        .position(|l| l == "id = \"call\"")
        .expect("the task") as u64;
    // Reported at the task's table (the line of its [[rules.actions]] header or its first key).
    let at = w["line"].as_u64().unwrap_or(0);
    assert!(
        at == line || at == line + 1,
        "at line {at}, the task starts at {line}: {w:#}"
    );
}
case!(toml_missing_closing_brace);
case!(toml_list_left_open);
case!(toml_curly_quotes);
case!(toml_colon_for_equals);
case!(toml_yes_for_true);
case!(toml_capital_true);
case!(toml_unquoted_text);
case!(toml_unquoted_duration);
case!(toml_header_missing_bracket);
case!(toml_duplicate_key);
case!(toml_duplicate_table);
case!(toml_missing_equals);
case!(toml_notion_name_unquoted);
case!(toml_slash_comment);
case!(toml_value_missing);
case!(toml_mismatched_quotes);
case!(toml_missing_comma_in_list);
case!(toml_curly_single_quotes_in_lead_sources);
case!(list_given_to_equals);
case!(list_given_to_contains);
case!(quoted_number);
case!(quoted_boolean);
case!(text_where_a_list_belongs);
case!(negative_delay);
case!(duration_in_words);
case!(first_response_in_words);
case!(idempotency_window_in_words);
case!(follow_up_day_quoted);
case!(enum_operation_one_letter_off);
case!(transform_misspelt);
case!(field_type_misspelt);
case!(auth_kind_misspelt);
case!(property_type_misspelt);
case!(misspelt_key_in_field);
case!(misspelt_key_in_auth);
case!(misspelt_top_level_table);
case!(misspelt_rule_key);
case!(misspelt_condition_key);
case!(misspelt_test_expectation);
case!(misspelt_source_field_key);
case!(key_of_another_action_kind);
case!(email_without_template);
case!(match_names_no_property);
case!(match_not_in_properties);
case!(on_names_no_schedule);
case!(cancel_on_names_no_source);
case!(notification_template_misspelt);
case!(route_to_unknown_entity);
case!(workflow_initial_misspelt);
case!(test_names_unknown_source);
case!(schedule_query_unknown_database);
case!(action_entity_misspelt);
case!(template_variable_misspelt);
case!(template_wrong_closing_tag);
case!(template_tag_missing_brace);
case!(template_closes_a_block_never_opened);
case!(entity_var_misspelt);
case!(entity_key_misspelt);
case!(empty_email_subject);
case!(unescaped_output_in_html);
case!(unescaped_output_in_subject);
case!(empty_flow_file);
case!(key_in_the_wrong_table);
case!(single_brackets_on_a_list_of_tables);
case!(list_of_tables_misspelt);
case!(one_condition_without_brackets);
case!(template_named_by_its_file);
case!(action_without_kind);
case!(expression_with_and);
case!(expression_with_single_quotes);
case!(event_type_misspelt);
case!(routing_restated_in_a_rule);
case!(for_entity_misspelt);
case!(for_entity_no_route_reaches);
case!(inline_table_left_open_before_the_list_ends);
case!(inline_table_left_open_before_the_next);
case!(yes_inside_an_inline_table);
case!(capital_true_inside_a_condition);
case!(unquoted_text_inside_a_condition);
case!(line_ends_with_a_comma);
case!(window_one_letter_from_anytime);

#[test]
fn an_email_template_without_a_category_is_an_error_at_the_template() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join("base"), dir.path());
    std::fs::remove_file(dir.path().join("rules/emails.toml")).expect("remove emails.toml");
    let (code, findings) = lint(dir.path());
    assert_eq!(code, 1, "{findings:#?}");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f["code"], "missing-category");
    assert_eq!(
        Path::new(f["file"].as_str().unwrap_or("")),
        dir.path().join("templates/emails/welcome.subject.hbs")
    );
    assert!(
        f["message"].as_str().is_some_and(
            |m| m.contains("`welcome` doesn't say whether it is transactional or marketing")
        ),
        "{f:#}"
    );
    assert!(
        f["hint"].as_str().is_some_and(
            |h| h.contains("[emails.welcome]") && h.contains("category = \"marketing\"")
        ),
        "{f:#}"
    );

    // A misspelt template name in emails.toml names the one meant, and the
    // template it should have named is still missing its category.
    std::fs::write(
        dir.path().join("rules/emails.toml"),
        "#:schema ../schemas/emails.schema.json\n[emails.welcom]\ncategory = \"marketing\"\n",
    )
    .expect("write emails.toml");
    let (code, findings) = lint(dir.path());
    assert_eq!(code, 1);
    let unknown = findings
        .iter()
        .find(|f| f["code"] == "unknown-template")
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!(unknown["hint"], "did you mean `welcome`?");
    assert_eq!(
        (unknown["line"].as_u64(), unknown["col"].as_u64()),
        (Some(2), Some(9))
    );
    assert!(findings.iter().any(|f| f["code"] == "missing-category"));
}
