//! Deploying exactly as the README says: the binary, `rules/` and
//! `templates/` copied to a host directory and nothing else (no examples/,
//! no source tree), `hsflow serve` run there. It must start and serve the
//! shipped rules, whatever the rule tests' payload files are.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use support::{copy_dir, drained};

#[tokio::test]
async fn the_binary_rules_and_templates_alone_serve_the_shipped_pack() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let host = tempfile::tempdir().expect("tmp");
    let bin = host.path().join("hsflow");
    std::fs::copy(env!("CARGO_BIN_EXE_hsflow"), &bin).expect("copy the binary");
    copy_dir(&root.join("rules"), &host.path().join("rules"));
    copy_dir(&root.join("templates"), &host.path().join("templates"));
    assert!(!host.path().join("examples").exists());

    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(host.path())
        .env("TYPEFORM_SECRET", "deploy-secret")
        .env("HSFLOW_ADMIN_TOKEN", support::ADMIN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the deployed binary");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let Some(base) = line.trim().strip_prefix("hsflow listening on ") else {
        let _ = child.kill();
        let mut err = String::new();
        if let Some(e) = child.stderr.take() {
            for l in BufReader::new(e).lines().map_while(Result::ok).take(30) {
                err.push_str(&l);
                err.push('\n');
            }
        }
        panic!("the deployed server did not start:\n{err}");
    };
    let s = support::Server {
        child,
        base: base.to_string(),
        data: host.path().join("data"),
        rules: host.path().join("rules"),
    };

    // A signed Typeform lead is accepted and its immediate actions run.
    let body = std::fs::read(root.join("examples/typeform_artist.json")).expect("example");
    let sig = support::typeform_signature("deploy-secret", &body);
    let r = support::client()
        .post(s.url("/webhooks/typeform"))
        .header("content-type", "application/json")
        .header("typeform-signature", sig)
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 202);
    drained(&s, std::time::Duration::from_secs(60)).await;
    let lines =
        std::fs::read_to_string(host.path().join("data/notifications.jsonl")).unwrap_or_default();
    assert!(
        lines.contains("New artist contact"),
        "the curator was not told: {lines}"
    );
    s.kill();
}
