//! The console in a real browser: headless Chromium (Debian's) driven by
//! playwright-core, against a real `hsflow serve` on the shipped rules. The
//! steps and what they check are in tests/browser/console.cjs; screenshots
//! of every page at desktop and phone width go to target/screenshots/.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

const SECRET: &str = "console-test-secret";
const VIEWER: &str = "console-viewer-token";

async fn lead(s: &Server, key: &str, email: &str, first_name: &str, kind: &str) {
    let mut body: serde_json::Value =
        serde_json::from_slice(&typeform_lead(key, email, kind)).expect("json");
    body["form_response"]["answers"][1]["text"] = first_name.into();
    let body = serde_json::to_vec(&body).expect("json");
    assert_eq!(post_typeform(s, SECRET, body).await, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_browser_for_an_admin_and_a_viewer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        tmp.path(),
        &root.join("rules"),
        // One attempt: the notification to a closed port is parked at once.
        &["--max-attempts", "1"],
        &[
            ("TYPEFORM_SECRET", SECRET.to_string()),
            ("HSFLOW_VIEWER_TOKEN", VIEWER.to_string()),
            (
                "HSFLOW_NOTIFY_WEBHOOK_URL",
                "http://127.0.0.1:9/hook".to_string(),
            ),
        ],
    );
    lead(
        &s,
        "c-1",
        "script@example.org",
        "<script>alert(1)</script>",
        "Business Contact",
    )
    .await;
    lead(&s, "c-2", "nameless@example.org", "", "Artist").await;
    eventually(Duration::from_secs(30), "a parked notification", || async {
        let dead = admin_get(&s, "/api/actions?status=dead").await;
        dead["actions"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            .then_some(())
    })
    .await;
    let said = run_browser_script(&s, "console.cjs", VIEWER, &[]).await;
    assert!(said.contains("ok   a viewer who posts a retry anyway is refused"));
}
