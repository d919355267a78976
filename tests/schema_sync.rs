//! The JSON Schemas under schemas/ are generated from the Rust types and must
//! match them byte for byte; every shipped rule file points editors at its schema.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_schemas_match_the_rust_types() {
    let out = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["schema", "--check", "--out"])
        .arg(root().join("schemas"))
        .output()
        .expect("run hsflow schema");
    assert!(
        out.status.success(),
        "schemas are stale: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn schema_check_notices_a_drifted_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["schema", "--out"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(write.status.success());
    let flow = dir.path().join("flow.schema.json");
    let text = std::fs::read_to_string(&flow)
        .expect("read")
        .replace("\"delay\"", "\"delai\"");
    std::fs::write(&flow, text).expect("write");
    let check = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["schema", "--check", "--out"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stderr).contains("flow.schema.json"));
}

#[test]
fn the_shipped_rules_lint_clean_with_no_warnings() {
    let out = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["lint", "--format", "json", "--rules"])
        .arg(root().join("rules"))
        .arg("--templates")
        .arg(root().join("templates"))
        .output()
        .expect("run hsflow lint");
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(out.status.code(), Some(0), "{findings:#}");
    assert_eq!(findings.as_array().map(Vec::len), Some(0), "{findings:#}");
}

#[test]
fn every_shipped_rule_file_has_its_schema_directive() {
    let loaded = hsflow::rules::load(&root().join("rules"), &root().join("templates"));
    let set = loaded.ruleset.expect("shipped rules load");
    for rel in &set.files {
        let kind = hsflow::rules::kind::FileKind::of(rel).expect("known kind");
        let text = std::fs::read_to_string(root().join("rules").join(rel)).expect("read");
        let first = text.lines().next().unwrap_or("");
        assert_eq!(
            first,
            format!("#:schema {}", kind.directive_for(rel)),
            "{}",
            rel.display()
        );
        assert!(
            root()
                .join("rules")
                .join(rel)
                .parent()
                .map(|p| p.join(kind.directive_for(rel)).exists())
                .unwrap_or(false),
            "directive of {} points nowhere",
            rel.display()
        );
    }
}
