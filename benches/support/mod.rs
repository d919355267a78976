//! Starting the real `hsflow serve` for the runtime benches.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Start `hsflow serve` on a free port; the child, its base URL, and how long it took to listen.
pub fn serve(
    rules: &Path,
    templates: &Path,
    data: &Path,
    env: &[(&str, &str)],
    extra: &[&str],
) -> (Child, String, Duration) {
    let t = Instant::now();
    // HSFLOW_BENCH_BIN runs another build (an earlier commit's, say), so two
    // builds can be measured side by side in one sitting.
    let bin =
        std::env::var_os("HSFLOW_BENCH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_hsflow").into());
    let mut child = Command::new(bin)
        .arg("serve")
        .arg("--rules")
        .arg(rules)
        .arg("--templates")
        .arg(templates)
        .arg("--data")
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .envs(env.iter().copied())
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start hsflow: {e}"));
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let base = line
        .trim()
        .trim_start_matches("hsflow listening on ")
        .to_string();
    (child, base, t.elapsed())
}

/// The runtime test fixture's rules and templates.
pub fn fixture() -> (std::path::PathBuf, std::path::PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runtime");
    (root.join("rules"), root.join("templates"))
}
