//! The rule studio in a real browser (headless Chromium driven by
//! playwright-core, as the console's test): an office manager edits a delay,
//! sees what it would change, saves, sees the new version live, is stopped by
//! lint on an invalid edit, and rolls back. The steps are in
//! tests/browser/studio.cjs; screenshots go to target/screenshots/.

mod support;

use std::path::Path;

use support::*;

const SECRET: &str = "studio-test-secret";
const VIEWER: &str = "studio-viewer-token";

async fn lead(s: &Server, key: &str, email: &str, kind: &str) {
    assert_eq!(
        post_typeform(s, SECRET, typeform_lead(key, email, kind)).await,
        202
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_manager_edits_checks_saves_and_rolls_back_in_the_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A copy of the shipped rules: the studio writes to them.
    let project = tempfile::tempdir().expect("tmp");
    for sub in ["rules", "templates"] {
        copy_dir(&root.join(sub), &project.path().join(sub));
    }
    // The leads arrive now: without windows, their timing doesn't depend on the hour.
    support::without_send_windows(&project.path().join("rules"));
    let data = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        data.path(),
        &project.path().join("rules"),
        &[],
        &[
            ("TYPEFORM_SECRET", SECRET.to_string()),
            ("HSFLOW_VIEWER_TOKEN", VIEWER.to_string()),
        ],
    );
    lead(&s, "s-1", "ana.artist@example.org", "Artist").await;
    lead(&s, "s-2", "ben.artist@example.org", "Artist").await;
    lead(&s, "s-3", "cy@example.org", "Business Contact").await;
    let said = run_browser_script(&s, "studio.cjs", VIEWER, &[project.path(), data.path()]).await;
    assert!(said.contains("ok   a viewer can check but sees no Save button"));
    // The rollback left the files as they were shipped.
    let flow = "rules/flows/contact_workflows.toml";
    assert_eq!(
        std::fs::read_to_string(project.path().join(flow)).expect("flow"),
        std::fs::read_to_string(root.join(flow)).expect("flow")
    );
}
