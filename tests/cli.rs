//! The command line as people and tools use it: completions and a manual
//! page, lint of one file or of an editor's unsaved buffer, `test --filter`
//! that catches a typo, `init` that starts a project which lints and tests
//! clean, and `serve --help` that names every variable hsflow reads.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn hsflow(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run hsflow")
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn completions_and_the_manual_page_are_generated_from_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = hsflow(&["completions", shell], root());
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("hsflow") && text.contains("serve") && text.contains("lint"),
            "{shell}"
        );
    }
    // Cut short by a reader that stops (`| head`): a quiet end, not a panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    drop(child.stdout.take());
    let cut = child.wait_with_output().expect("wait");
    assert!(
        cut.status.success(),
        "{}",
        String::from_utf8_lossy(&cut.stderr)
    );
    // Every page, the commands' own too.
    let tmp = tempfile::tempdir().expect("tmp");
    let out = hsflow(
        &["man", "--out", tmp.path().to_str().expect("utf8")],
        root(),
    );
    assert!(out.status.success());
    let serve = std::fs::read_to_string(tmp.path().join("hsflow-serve.1")).expect("hsflow-serve.1");
    assert!(
        serve.contains("HSFLOW_RETAIN") && serve.contains("HSFLOW_VIEWER_TOKEN"),
        "{serve}"
    );
    let out = hsflow(&["man"], root());
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH hsflow"),
        "{page}"
    );
    assert!(page.contains("serve"));
}

#[test]
fn lint_of_one_file_reports_that_file_only_and_reads_a_buffer_from_stdin() {
    let out = hsflow(&["lint", "rules/flows/art_sale.toml"], root());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("lint: 1 file checked, 0 errors"));

    // An editor's unsaved buffer with a mistake: reported at its place, nothing written.
    let text = std::fs::read_to_string(root().join("rules/flows/art_sale.toml")).expect("read");
    let broken = text.replacen("delay = \"", "delay = \"in ", 1);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args([
            "lint",
            "--format",
            "json",
            "-",
            "--stdin-path",
            "rules/flows/art_sale.toml",
        ])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(broken.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let first = &found[0];
    assert_eq!(first["code"], "bad-duration", "{found:#}");
    assert_eq!(first["file"], "rules/flows/art_sale.toml");
    let line = broken
        .lines()
        .position(|l| l.contains("delay = \"in "))
        .expect("line")
        + 1;
    assert_eq!(first["line"], line as u64);
    assert_eq!(
        std::fs::read_to_string(root().join("rules/flows/art_sale.toml")).expect("read"),
        text,
        "the file on disk is untouched"
    );

    let out = hsflow(&["lint", "-"], root());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stdin-path"));
}

#[test]
fn a_test_filter_that_matches_nothing_fails() {
    let out = hsflow(&["test", "--filter", "no such case at all"], root());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no case's name contains"));
}

#[test]
fn init_writes_a_project_that_lints_and_tests_clean_and_never_overwrites() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("studio");
    let out = hsflow(&["init", dir.to_str().expect("utf8")], tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lint = hsflow(&["lint"], &dir);
    let said = String::from_utf8_lossy(&lint.stderr);
    assert!(
        lint.status.success() && said.contains("0 errors, 0 warnings"),
        "{said}"
    );
    let test = hsflow(&["test"], &dir);
    let said = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success() && said.contains("2 passed, 0 failed"),
        "{said}"
    );
    assert!(dir.join("schemas/flow.schema.json").is_file());
    // A second init into the same directory refuses.
    let again = hsflow(&["init", dir.to_str().expect("utf8")], tmp.path());
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

#[test]
fn serve_help_names_every_variable_hsflow_reads() {
    let out = hsflow(&["serve", "--help"], root());
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    // The sinks' variables, as src/sinks/config.rs reads them.
    let config = std::fs::read_to_string(root().join("src/sinks/config.rs")).expect("read");
    let mut names: Vec<String> = config
        .split('"')
        .filter(|w| {
            w.len() > 4 && w.chars().all(|c| c.is_ascii_uppercase() || c == '_') && w.contains('_')
        })
        .map(str::to_string)
        .collect();
    // Every source's secret in the shipped pack.
    for f in std::fs::read_dir(root().join("rules/sources"))
        .expect("sources")
        .flatten()
    {
        let text = std::fs::read_to_string(f.path()).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.starts_with("secret_env")) {
            names.push(l.split('"').nth(1).unwrap_or("").to_string());
        }
    }
    names.extend(
        [
            "HSFLOW_ADMIN_TOKEN",
            "HSFLOW_VIEWER_TOKEN",
            "HSFLOW_LOG_FORMAT",
            "RUST_LOG",
            "HSFLOW_RETAIN",
            "HSFLOW_LEASE",
        ]
        .map(String::from),
    );
    assert!(names.len() > 20, "{names:?}");
    for n in names {
        assert!(help.contains(&n), "serve --help doesn't mention {n}");
    }
}
