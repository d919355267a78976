//! The examples in the docs work: every TOML block parses, every JSON block
//! parses, and every example of a whole rule file (a block that starts with
//! its `#:schema` line) lints without an error when it takes the place of
//! that file in a copy of the shipped rule pack. Fragments (a block starting
//! with `# part of ...`) must at least be TOML.

mod support;

use std::path::{Path, PathBuf};

use support::copy_dir;

/// (file, line, language, text) of every fenced block in README.md and docs/.
fn blocks() -> Vec<(PathBuf, usize, String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "md") {
            files.push(e.path());
        }
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let mut open: Option<(usize, String, String)> = None;
        for (i, line) in text.lines().enumerate() {
            match (&mut open, line.strip_prefix("```")) {
                (None, Some(lang)) => open = Some((i + 2, lang.trim().to_string(), String::new())),
                (Some(_), Some(_)) => {
                    if let Some((at, lang, body)) = open.take() {
                        out.push((f.clone(), at, lang, body));
                    }
                }
                (Some((_, _, body)), None) => {
                    body.push_str(line);
                    body.push('\n');
                }
                (None, None) => {}
            }
        }
    }
    out
}

/// Where a whole-file example goes in a rules project, by its schema.
fn target(body: &str) -> Option<String> {
    let first = body.lines().next()?;
    let kind = first
        .strip_prefix("#:schema ")?
        .rsplit('/')
        .next()?
        .strip_suffix(".schema.json")?;
    let id = || -> Option<String> {
        let v: toml::Value = toml::from_str(body).ok()?;
        v.get("id")?.as_str().map(str::to_string)
    };
    Some(match kind {
        "source" => "sources/doc_example.toml".to_string(),
        "flow" => format!("flows/{}.toml", id()?),
        "tests" => "tests/doc_example.toml".to_string(),
        other => format!("{other}.toml"),
    })
}

#[test]
fn every_example_in_the_docs_parses_and_whole_rule_files_lint_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let all = blocks();
    let toml_blocks = all.iter().filter(|b| b.2 == "toml").count();
    assert!(toml_blocks >= 8, "found only {toml_blocks} TOML examples");
    let mut linted = 0;
    for (file, line, lang, body) in &all {
        let at = format!("{}:{line}", file.display());
        match lang.as_str() {
            "json" => {
                serde_json::from_str::<serde_json::Value>(body)
                    .unwrap_or_else(|e| panic!("{at}: the JSON example doesn't parse: {e}"));
            }
            "toml" => {
                toml::from_str::<toml::Value>(body)
                    .unwrap_or_else(|e| panic!("{at}: the TOML example doesn't parse: {e}"));
                let Some(rel) = target(body) else {
                    assert!(
                        body.starts_with("# part of"),
                        "{at}: a TOML example is either a whole file (starting with its #:schema line) or says `# part of ...`"
                    );
                    continue;
                };
                let tmp = tempfile::tempdir().expect("tmp");
                copy_dir(&root.join("rules"), &tmp.path().join("rules"));
                copy_dir(&root.join("templates"), &tmp.path().join("templates"));
                copy_dir(&root.join("examples"), &tmp.path().join("examples"));
                let dest = tmp.path().join("rules").join(&rel);
                std::fs::write(&dest, body).expect("write the example");
                let loaded =
                    hsflow::rules::load(&tmp.path().join("rules"), &tmp.path().join("templates"));
                let errors: Vec<String> = loaded
                    .errors()
                    .filter(|d| d.file == dest)
                    .map(|d| d.render_human())
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{at}: the example, as rules/{rel}, has lint errors:\n{}",
                    errors.join("\n")
                );
                linted += 1;
            }
            _ => {}
        }
    }
    assert!(linted >= 6, "only {linted} whole-file examples were linted");
}
