//! The JSON Schemas read the same in every mainstream TOML editor.
//!
//! Rule authors edit in VS Code with Even Better TOML (Taplo, which reads
//! schemas by draft-07 rules) or with Tombi (draft 2020-12). Both follow the
//! `#:schema` line at the top of each file. These tests run both linters, as
//! the editors do, over the shipped rules (no error and no warning may appear:
//! a false error teaches people to ignore the underlines) and over planted
//! mistakes (each must be underlined by both). They also hold the schemas to
//! what an editor shows on hover: a description and an example for every key.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn taplo() -> PathBuf {
    support::npm_package("@taplo/cli", "@taplo/cli@0.7.0").join(".bin/taplo")
}

fn tombi() -> PathBuf {
    support::python_package("tombi", "tombi==1.9.6").join("bin/tombi")
}

fn run_taplo(dir: &Path, files: &[&str]) -> Output {
    Command::new(taplo())
        .current_dir(dir)
        .args(["lint", "--colors", "never"])
        .args(files)
        .output()
        .expect("run taplo")
}

fn run_tombi(dir: &Path, files: &[&str]) -> Output {
    // --offline: never fetch SchemaStore's catalogue; our schemas are local files.
    Command::new(tombi())
        .current_dir(dir)
        .args(["lint", "--offline", "--error-on-warnings"])
        .args(files)
        .env("NO_COLOR", "1")
        .output()
        .expect("run tombi")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn shipped_rule_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["rules", "rules/sources", "rules/flows", "rules/tests"] {
        for entry in std::fs::read_dir(root().join(dir)).expect("read rules") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let rel = path.strip_prefix(root()).expect("under root");
                files.push(rel.display().to_string());
            }
        }
    }
    files.sort();
    assert!(files.len() > 20, "{files:?}");
    files
}

#[test]
fn taplo_reads_the_shipped_rules_without_a_single_false_error() {
    let files = shipped_rule_files();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let out = run_taplo(root(), &args);
    assert!(out.status.success(), "taplo:\n{}", text(&out));
    assert!(!text(&out).contains("error:"), "{}", text(&out));
}

#[test]
fn tombi_reads_the_shipped_rules_without_an_error_or_a_warning() {
    let files = shipped_rule_files();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let out = run_tombi(root(), &args);
    assert!(out.status.success(), "tombi:\n{}", text(&out));
}

/// One mistake per file, of the kinds an editor must underline.
const PLANTED: &[(&str, &str)] = &[
    (
        "misspelt_key_in_an_action",
        "kind = \"email\"\ntemplat = \"welcome\"",
    ),
    (
        "enum_value_one_letter_off",
        "kind = \"task\"\ntitle = \"Call\"\nassignee = \"Curator\"\npriority = \"hihg\"",
    ),
    (
        "unknown_action_kind",
        "kind = \"emial\"\ntemplate = \"welcome\"",
    ),
    ("missing_required_key", "kind = \"email\""),
    (
        "number_where_text_belongs",
        "kind = \"email\"\ntemplate = \"welcome\"\ndelay = 2",
    ),
    (
        "key_of_another_kind",
        "kind = \"notify\"\nchannel = \"team\"\ntext = \"hi\"\ntemplate_id = \"x\"",
    ),
];

fn planted_project(dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir.join("rules/flows")).expect("mkdir");
    std::fs::create_dir_all(dir.join("schemas")).expect("mkdir");
    for entry in std::fs::read_dir(root().join("schemas")).expect("schemas") {
        let path = entry.expect("entry").path();
        std::fs::copy(
            &path,
            dir.join("schemas").join(path.file_name().expect("name")),
        )
        .expect("copy schema");
    }
    PLANTED
        .iter()
        .map(|(name, action)| {
            let rel = format!("rules/flows/{name}.toml");
            let body = format!(
                "#:schema ../../schemas/flow.schema.json\nid = \"{name}\"\n\n[[rules]]\nid = \"r\"\non = [\"form:*\"]\n\n[[rules.actions]]\n{action}\n"
            );
            std::fs::write(dir.join(&rel), body).expect("write planted file");
            rel
        })
        .collect()
}

#[test]
fn both_editors_underline_every_planted_mistake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = planted_project(dir.path());
    for file in &files {
        let out = run_taplo(dir.path(), &[file]);
        assert!(
            !out.status.success(),
            "taplo missed {file}:\n{}",
            text(&out)
        );
        let out = run_tombi(dir.path(), &[file]);
        assert!(
            !out.status.success(),
            "tombi missed {file}:\n{}",
            text(&out)
        );
    }
    // And the same file without its mistake is clean in both.
    let clean = "rules/flows/clean.toml";
    std::fs::write(
        dir.path().join(clean),
        "#:schema ../../schemas/flow.schema.json\nid = \"clean\"\n\n[[rules]]\nid = \"r\"\non = [\"form:*\"]\n\n[[rules.actions]]\nkind = \"task\"\ntitle = \"Call\"\nassignee = \"Curator\"\npriority = \"high\"\ndelay = \"2h\"\n",
    )
    .expect("write");
    assert!(run_taplo(dir.path(), &[clean]).status.success());
    let out = run_tombi(dir.path(), &[clean]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Every key, in every schema, with what an editor shows on hover.
fn each_key(schema: &Value, path: &str, f: &mut impl FnMut(&str, &Value)) {
    let Value::Object(map) = schema else { return };
    for (k, v) in map {
        if k == "properties" {
            for (name, prop) in v.as_object().into_iter().flatten() {
                let here = format!("{path}.{name}");
                f(&here, prop);
                each_key(prop, &here, f);
            }
        } else if matches!(k.as_str(), "enum" | "const" | "examples" | "default") {
            continue;
        } else if let Value::Array(items) = v {
            for (i, item) in items.iter().enumerate() {
                each_key(item, &format!("{path}/{k}/{i}"), f);
            }
        } else {
            each_key(v, &format!("{path}/{k}"), f);
        }
    }
}

#[test]
fn every_key_has_a_description_and_an_example_and_nothing_an_editor_misreads() {
    let mut problems = Vec::new();
    let mut keys = 0;
    for entry in std::fs::read_dir(root().join("schemas")).expect("schemas") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        if schema["$schema"] != "http://json-schema.org/draft-07/schema#" {
            problems.push(format!("{name}: not declared draft-07"));
        }
        let text = schema.to_string();
        for word in ["unevaluatedProperties", "\"null\"", "\"default\":null"] {
            if text.contains(word) {
                problems.push(format!(
                    "{name}: uses {word}, which TOML or draft-07 can't honour"
                ));
            }
        }
        each_key(&schema, "", &mut |key, prop| {
            keys += 1;
            if prop
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push(format!("{name}{key}: no description"));
            }
            let fixed = prop.get("const").is_some() || prop.get("enum").is_some();
            if !fixed && prop.get("examples").is_none() {
                problems.push(format!("{name}{key}: no example"));
            }
            if let Value::Object(p) = prop {
                if p.contains_key("$ref") && p.len() > 1 {
                    problems.push(format!(
                        "{name}{key}: keywords beside $ref (draft-07 ignores them)"
                    ));
                }
            }
        });
    }
    assert!(keys > 200, "only {keys} keys found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
